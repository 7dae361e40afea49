// Plain Temporal workflows, with no code of this library, that reproduce a replay defect of the SDK
// (see docs/reliability.md, "Known: a history that does not replay after a worker crash").
import {
  condition,
  defineQuery,
  defineSignal,
  defineUpdate,
  proxyActivities,
  setHandler,
  sleep,
} from '@temporalio/workflow';

export const logQuery = defineQuery<string[]>('log');
export const goUpdate = defineUpdate<void>('go');
export const goSignal = defineSignal('go');

const { hang } = proxyActivities<{ hang(): Promise<void> }>({
  startToCloseTimeout: '1m',
  heartbeatTimeout: '2s',
  retry: { maximumAttempts: 1 },
});
const { after } = proxyActivities<{ after(): Promise<void> }>({ startToCloseTimeout: '1m' });

/** Runs `hang` (whose worker is killed), then `after`; ends once `go` arrived (as an update or a signal). */
export async function rawCrashThenGo(): Promise<string[]> {
  const log: string[] = [];
  let go = false;
  setHandler(logQuery, () => log);
  setHandler(goUpdate, () => {
    go = true;
    log.push('go');
  });
  // A signal handler that writes a command (a timer), as a resume that does something would.
  setHandler(goSignal, () => {
    go = true;
    log.push('go');
    void sleep(1);
  });
  try {
    await hang();
    log.push('hang completed');
  } catch {
    log.push('hang failed');
  }
  await after();
  log.push('after completed');
  await condition(() => go);
  return log;
}
