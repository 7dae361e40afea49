// What every example shares: where it runs, waiting on a run's status, and running as a script.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { ExecutionHandle, RunStatus } from '../src';
import { startDevServer } from '../temporal-dev';

/** Where an example runs. */
export interface ExampleEnv {
  address: string;
  namespace: string;
  taskQueue: string;
  log?: (line: string) => void;
}

/** Sleeps `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Waits until `pred(status)` holds; the error names what was awaited. */
export async function waitForStatus(
  h: ExecutionHandle,
  pred: (s: RunStatus) => boolean,
  what: string,
  timeoutMs = 15_000,
): Promise<RunStatus> {
  try {
    return await h.waitUntil(pred, { timeout: timeoutMs });
  } catch (err) {
    throw new Error(`Waiting for ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** Polls `fn` until it returns a value. */
export async function waitFor<T>(
  fn: () => Promise<T | undefined>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(100);
  }
}

/** Runs an example as a script: its own dev server, its summary printed, the server stopped. */
export function runAsScript(name: string, main: (env: ExampleEnv) => Promise<Record<string, unknown>>): void {
  void (async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    const server = await startDevServer({ port: 0, uiPort: 0 });
    try {
      const summary = await main({
        address: server.address,
        namespace: server.namespace,
        taskQueue: `${name}-${process.pid}`,
        log: (line) => console.log(line),
      });
      console.log(JSON.stringify(summary, null, 2));
    } catch (err) {
      console.error(err);
      process.exitCode = 1;
    } finally {
      await server.stop();
    }
  })();
}
