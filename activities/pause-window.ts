// The activity a pause window's workflow calls: the library's bulk pause (`pauseAll`) over the window's
// visibility query, through the worker's own client, with `resumeAt` at the window's end.
import { Context as ActivityContext } from '@temporalio/activity';
import { UnifiedExecutor } from '../src/executor';
import {
  MAX_KEPT_OUTCOMES,
  PAUSE_WINDOW_ACTIVITY,
  type PauseWindowSweepInput,
  type PauseWindowSweepResult,
} from '../workflows/pause-window';

/** How often the sweep heartbeats while it lists and pauses (the SDK throttles what reaches the server). */
const HEARTBEAT_EVERY_MS = 1000;

/** Runs one window's bulk pause. */
export async function pauseWindowSweep(input: PauseWindowSweepInput): Promise<PauseWindowSweepResult> {
  // A sweep that starts once the window has ended (it was retried, or waited for a worker) pauses
  // nothing: the runs would resume at once.
  if (Date.parse(input.resumeAt) <= Date.now())
    return {
      bulkId: input.bulkId,
      query: input.query,
      total: 0,
      succeeded: 0,
      failed: 0,
      fresh: 0,
      outcomes: [],
      outcomesOmitted: 0,
      skipped: `the window ended at ${input.resumeAt}, before this sweep ran`,
    };
  const activity = ActivityContext.current();
  const executor = new UnifiedExecutor(activity.client, {
    taskQueue: activity.info.taskQueue,
    identity: input.by,
  });
  const beat = setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
  try {
    const result = await executor.pauseAll(input.query, {
      reason: input.reason,
      by: input.by,
      mode: input.mode,
      resumeAt: input.resumeAt,
      // Every run gets the request id `bulk:<bulkId>:<workflowId>`: a retried sweep changes nothing twice.
      bulkId: input.bulkId,
      onProgress: (done, total) => activity.heartbeat({ done, total }),
    });
    const ordered = [...result.outcomes.filter((o) => !o.ok), ...result.outcomes.filter((o) => o.ok)];
    return {
      bulkId: result.bulkId,
      query: result.query,
      total: result.total,
      succeeded: result.succeeded,
      failed: result.failed,
      fresh: result.outcomes.filter((o) => o.ok && !o.duplicate).length,
      outcomes: ordered.slice(0, MAX_KEPT_OUTCOMES).map((o) => ({ ...o })),
      outcomesOmitted: Math.max(0, ordered.length - MAX_KEPT_OUTCOMES),
    };
  } finally {
    clearInterval(beat);
  }
}

/** The pause-window activities, registered by createWorker beside the task runner's. */
export function createPauseWindowActivities(): Record<
  string,
  (input: PauseWindowSweepInput) => Promise<unknown>
> {
  return { [PAUSE_WINDOW_ACTIVITY]: pauseWindowSweep };
}
