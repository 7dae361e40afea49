// Bulk pause and resume: the open runs a visibility query or list filter selects, one request each with
// bounded concurrency and the request id `bulk:<bulkId>:<workflowId>`, and each run's outcome.
import { randomUUID } from 'node:crypto';
import type { RefusalCode } from '../workflows/pause-machine';
import { isUnavailable, RequestRejectedError, withCauses, WorkflowFrozenError } from './errors';
import {
  buildPauseRequest,
  buildResumeRequest,
  checkNumber,
  type PauseOptions,
  type ResumeOptions,
  type UnifiedExecutor,
} from './executor';
import type { ReportedState } from './native-pause';
import { buildListQuery, type ListOptions } from './visibility';

/** Options of the bulk operations {@link UnifiedExecutor.pauseAll} and {@link UnifiedExecutor.resumeAll}. */
export interface BulkOptions {
  /**
   * Requests in flight at once.
   * @default 20
   */
  concurrency?: number;
  /**
   * Names the operation: every workflow gets the request id `bulk:<bulkId>:<workflowId>`, so re-running
   * the same operation changes nothing twice.
   * @default a new random UUID
   */
  bulkId?: string;
  /**
   * Called after each workflow, for progress display.
   * @default none
   */
  onProgress?: (done: number, total: number, outcome: BulkOutcome) => void;
}

/** One workflow's outcome in a bulk operation. */
export interface BulkOutcome {
  workflowId: string;
  ok: boolean;
  /** The state after the request (when ok); `frozen` for a run the server holds, which pauseAll leaves as is. */
  state?: ReportedState;
  /** The request id had been served before (a re-run). */
  duplicate?: boolean;
  /** Why it failed (when not ok). */
  error?: string;
  code?: RefusalCode;
}

/** Result of a bulk operation. */
export interface BulkResult {
  bulkId: string;
  /** The visibility query that selected the workflows. */
  query: string;
  total: number;
  succeeded: number;
  failed: number;
  outcomes: BulkOutcome[];
  /**
   * Set when the server stopped answering during the operation (what the failed request said): the runs
   * after it were sent nothing, and their outcomes say `not sent`. Re-run with the same `bulkId` once the
   * server answers; the runs already done are repeats then, and change nothing.
   */
  unreachable?: string;
}

/**
 * Pauses every open run selected by a visibility query or list filter (kind `bulk`), with bounded
 * concurrency; reports each workflow's outcome. Idempotent when re-run with the same `bulkId`.
 */
export async function pauseAll(
  executor: UnifiedExecutor,
  selection: string | ListOptions,
  options: PauseOptions & BulkOptions = {},
): Promise<BulkResult> {
  const { concurrency, bulkId, onProgress, ...pause } = options;
  // Bad options fail here once, before any workflow is listed, rather than once per workflow.
  buildPauseRequest({ ...pause, kind: 'bulk' }, executor.identity);
  return bulk(executor, selection, { concurrency, bulkId, onProgress }, async (id, requestId) => {
    try {
      return await executor.pauseWorkflow(id, { ...pause, kind: 'bulk', requestId });
    } catch (err) {
      // Held by the server already (native pause): nothing runs, which is what the bulk pause wants.
      if (err instanceof WorkflowFrozenError) return { state: 'frozen', duplicate: false };
      throw err;
    }
  });
}

/** Resumes every open run selected by a visibility query or list filter; reports each outcome. */
export async function resumeAll(
  executor: UnifiedExecutor,
  selection: string | ListOptions,
  options: ResumeOptions & BulkOptions = {},
): Promise<BulkResult> {
  const { concurrency, bulkId, onProgress, ...resume } = options;
  // Bad options fail here once, before any workflow is listed, rather than once per workflow.
  buildResumeRequest(resume, executor.identity);
  return bulk(executor, selection, { concurrency, bulkId, onProgress }, (id, requestId) =>
    executor.resumeWorkflow(id, { ...resume, requestId }),
  );
}

async function bulk(
  executor: UnifiedExecutor,
  selection: string | ListOptions,
  options: BulkOptions,
  request: (workflowId: string, requestId: string) => Promise<{ state: ReportedState; duplicate: boolean }>,
): Promise<BulkResult> {
  const concurrency = options.concurrency ?? 20;
  checkNumber('concurrency', concurrency, 'an integer from 1 and up', 1, true);
  const bulkId = options.bulkId ?? randomUUID();
  const filter = typeof selection === 'string' ? { query: selection } : selection;
  const open: ListOptions = {
    ...filter,
    // Open runs: running, or paused on the server (native pause), which the bulk resume unpauses.
    query: [filter.query, "(ExecutionStatus = 'Running' OR ExecutionStatus = 'Paused')"]
      .filter(Boolean)
      .join(' AND '),
    limit: filter.limit ?? 100_000,
  };
  const query = buildListQuery(open);
  const targets = await executor.listWorkflows(open);
  let done = 0;
  // Once a request finds no server, the others would each wait out the client's retries (tens of
  // seconds) to fail the same way: they are not sent, and the result says so.
  let stopped: string | undefined;
  const outcomes = await pool(targets, concurrency, async (t): Promise<BulkOutcome> => {
    let outcome: BulkOutcome;
    if (stopped !== undefined) {
      outcome = {
        workflowId: t.workflowId,
        ok: false,
        error: `not sent: the server stopped answering (${stopped})`,
      };
    } else {
      try {
        const r = await request(t.workflowId, `bulk:${bulkId}:${t.workflowId}`);
        outcome = { workflowId: t.workflowId, ok: true, state: r.state, duplicate: r.duplicate };
      } catch (err) {
        const gone = isUnavailable(err);
        const error = gone ? withCauses(err) : err instanceof Error ? err.message : String(err);
        if (gone) stopped ??= error;
        outcome = {
          workflowId: t.workflowId,
          ok: false,
          error,
          ...(err instanceof RequestRejectedError ? { code: err.code } : {}),
        };
      }
    }
    options.onProgress?.(++done, targets.length, outcome);
    return outcome;
  });
  const succeeded = outcomes.filter((o) => o.ok).length;
  return {
    bulkId,
    query,
    total: outcomes.length,
    succeeded,
    failed: outcomes.length - succeeded,
    outcomes,
    ...(stopped !== undefined ? { unreachable: stopped } : {}),
  };
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
async function pool<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
