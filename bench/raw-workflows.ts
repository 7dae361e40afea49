// Hand-written raw Temporal workflows: the baselines the benchmark compares the library against.
import {
  condition,
  defineSignal,
  defineUpdate,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';

/** Raw activities: a no-op and a timestamp. */
export interface RawActivities {
  noop(): Promise<void>;
  stamp(label: string): Promise<number>;
}

const acts = proxyActivities<RawActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

/** A trivial update (the baseline of a pause round trip). */
export const pingUpdate = defineUpdate<number, [number]>('ping');
/** Ends {@link rawWaiter}. */
export const doneSignal = defineSignal('done');

/** Waits on a condition and answers a trivial update: the raw form of a paused run. */
export async function rawWaiter(): Promise<void> {
  let done = false;
  setHandler(pingUpdate, (n) => n + 1);
  setHandler(doneSignal, () => void (done = true));
  await condition(() => done);
}

/** Two sequential activities: the gap between them is the baseline of resume → next task started. */
export async function rawTwoSteps(): Promise<void> {
  await acts.stamp('first');
  await acts.stamp('second');
}

/** A chain of `n` no-op activities. */
export async function rawChain(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await acts.noop();
}

/** `n` no-op activities in parallel. */
export async function rawFanOut(n: number): Promise<void> {
  await Promise.all(Array.from({ length: n }, () => acts.noop()));
}

const localActs = proxyLocalActivities<RawActivities>({
  startToCloseTimeout: '1 minute',
  retry: { maximumAttempts: 1 },
});

/** A chain of `n` no-op local activities (no matching round trip per step). */
export async function rawLocalChain(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await localActs.noop();
}

/** `n` no-op activities, at most `inFlight` at once (a sliding window, as the library keeps). */
export async function rawFanOutCapped(n: number, inFlight: number): Promise<void> {
  let next = 0;
  const lane = async () => {
    while (next < n) {
      next++;
      await acts.noop();
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, n) }, lane));
}
