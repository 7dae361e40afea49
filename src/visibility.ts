// Listing runs through Temporal visibility: the query a list filter makes, the rows read back, and the
// error that names the fix when the namespace lacks this library's search attributes.
import type { Client } from '@temporalio/client';
import type { RunState } from '../workflows/pause-machine';
import {
  CloacinaPaused,
  CloacinaPausedBy,
  CloacinaPauseKind,
  CloacinaPauseReason,
  CloacinaState,
  CloacinaWorkflow,
} from '../workflows/search-attributes';
import { CloacinaError } from './errors';
import { checkNumber, checkRunState, WORKFLOW_TYPE, type UnifiedExecutor } from './executor';
import { CLOSED_STATES } from './history';
import type { ReportedState } from './native-pause';

/** Filters of {@link UnifiedExecutor.listWorkflows}. */
export interface ListOptions {
  /**
   * A run state, or `frozen`: runs the Temporal server holds (ExecutionStatus Paused). The states of a live
   * run (`pending` … `resuming`) select open runs only; `terminated` and `timedOut` select by Temporal's
   * status (the workflow cannot write them).
   * @default any state
   */
  state?: ReportedState;
  /**
   * Only open runs under a pause (`true`), or runs not under one (`false`, closed runs included).
   * @default either
   */
  paused?: boolean;
  /**
   * Workflow definition name.
   * @default any workflow
   */
  workflow?: string;
  /**
   * Extra visibility query, ANDed with the rest.
   * @default none
   */
  query?: string;
  /**
   * Stop after this many.
   * @default 1000 for listWorkflows; 100000 when a filter selects the runs of pauseAll/resumeAll
   */
  limit?: number;
}

/** One row of {@link UnifiedExecutor.listWorkflows}. */
export interface WorkflowSummary {
  workflowId: string;
  runId: string;
  workflow?: string;
  /** The run's state; for a run the server closed from outside, the state that gave it (`terminated` …). */
  state?: RunState;
  /** Under any pause: this library's (`CloacinaPaused`) or the server's own (`frozen`). */
  paused: boolean;
  /** The Temporal server holds the run (native pause: Web UI, `temporal workflow pause`, mode `freeze`). */
  frozen: boolean;
  pausedBy?: string;
  pauseReason?: string;
  pauseKind?: string;
  /** Temporal's own execution status (RUNNING, COMPLETED, ...). */
  temporalStatus: string;
  startTime: Date;
  closeTime?: Date;
}

/** Lists runs through Temporal visibility, filtered by the Cloacina search attributes. */
export async function listWorkflows(
  executor: UnifiedExecutor,
  options: ListOptions = {},
): Promise<WorkflowSummary[]> {
  const limit = options.limit ?? 1000;
  checkNumber('limit', limit, 'an integer from 1 and up', 1, true);
  if (options.state !== undefined) checkRunState('state', options.state);
  const client = await executor.client();
  const query = buildListQuery(options);
  const out: WorkflowSummary[] = [];
  try {
    await list(client, query, limit, out);
  } catch (err) {
    throw missingSearchAttributes(err, client.options.namespace) ?? refusedQuery(err, query) ?? err;
  }
  return out;
}

async function list(client: Client, query: string, limit: number, out: WorkflowSummary[]): Promise<void> {
  for await (const w of client.workflow.list({ query })) {
    const sa = w.typedSearchAttributes;
    const frozen = w.status.name === 'PAUSED';
    const open = frozen || w.status.name === 'RUNNING';
    out.push({
      workflowId: w.workflowId,
      runId: w.runId,
      workflow: sa.get(CloacinaWorkflow),
      state: listedState(sa.get(CloacinaState) as RunState | undefined, w.status.name),
      paused: (open && (sa.get(CloacinaPaused) ?? false)) || frozen,
      frozen,
      pausedBy: sa.get(CloacinaPausedBy),
      pauseReason: sa.get(CloacinaPauseReason),
      pauseKind: sa.get(CloacinaPauseKind),
      temporalStatus: w.status.name,
      startTime: w.startTime,
      closeTime: w.closeTime,
    });
    if (out.length >= limit) break;
  }
}

/** Open runs: running, or held by the server (native pause). */
const OPEN = "(ExecutionStatus = 'Running' OR ExecutionStatus = 'Paused')";
/** States of an open run: a closed run may still carry one in its search attributes. */
const LIVE_STATES: ReadonlySet<string> = new Set(['pending', 'running', 'pausing', 'paused', 'resuming']);
/** States only the server gives a run (the workflow cannot write them): Temporal's execution status. */
const CLOSED_BY_SERVER: Partial<Record<string, string>> = { terminated: 'Terminated', timedOut: 'TimedOut' };

/** The state of a listed run: what it wrote, unless the server closed it without its knowing. */
export function listedState(written: RunState | undefined, temporalStatus: string): RunState | undefined {
  const closed = temporalStatus === 'CONTINUED_AS_NEW' ? undefined : CLOSED_STATES[temporalStatus];
  if (!closed) return written;
  // Terminated and timed out are the server's; a run closed (by a reset, or cancelled or failed before
  // its last upsert) with a live state left behind reads as its close.
  if (closed === 'terminated' || closed === 'timedOut' || !written || LIVE_STATES.has(written)) return closed;
  return written;
}

/** The messages of an error and its causes, outermost first, and the first gRPC status code among them. */
function causes(err: unknown): { messages: string[]; code: unknown } {
  const messages: string[] = [];
  let code: unknown;
  for (let e: unknown = err; e instanceof Error && messages.length < 5; e = e.cause) {
    messages.push(e.message);
    code ??= (e as { code?: unknown }).code;
  }
  return { messages, code };
}

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The visibility query for {@link ListOptions}. */
export function buildListQuery(options: ListOptions): string {
  const parts = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`];
  // A run the server ended from outside (terminated, timed out, reset, continued as new) keeps the search
  // attributes of its last workflow task: its CloacinaState and CloacinaPaused say nothing once it has
  // closed. The states of a live run select open runs only; those the run cannot write select by
  // Temporal's status; `frozen` is the server's own pause.
  const state = options.state;
  if (state === 'frozen') parts.push("ExecutionStatus = 'Paused'");
  else if (state && state in CLOSED_BY_SERVER)
    parts.push(`ExecutionStatus = ${quote(CLOSED_BY_SERVER[state]!)}`);
  else if (state && LIVE_STATES.has(state)) parts.push(`CloacinaState = ${quote(state)} AND ${OPEN}`);
  else if (state) parts.push(`CloacinaState = ${quote(state)}`);
  // Paused: by this library (any kind) while the run is open, or by the server (native pause: Web UI,
  // CLI, mode freeze).
  if (options.paused === true)
    parts.push("((CloacinaPaused = true AND ExecutionStatus = 'Running') OR ExecutionStatus = 'Paused')");
  if (options.paused === false)
    parts.push("(CloacinaPaused = false OR ExecutionStatus != 'Running') AND ExecutionStatus != 'Paused'");
  if (options.workflow) parts.push(`CloacinaWorkflow = ${quote(options.workflow)}`);
  if (options.query) parts.push(`(${options.query})`);
  return parts.join(' AND ');
}

/** An error naming the query and the server's reason when the server refuses a list query as malformed. */
export function refusedQuery(err: unknown, query: string): CloacinaError | undefined {
  const { messages, code } = causes(err);
  // 3 INVALID_ARGUMENT: the server could not parse or run the query.
  if (code !== 3) return undefined;
  const reason = messages.at(-1) ?? '';
  return new CloacinaError(
    `The server refused the list query \`${query.length > 300 ? `${query.slice(0, 300)}…` : query}\` ` +
      `(${reason.replace(/^3 INVALID_ARGUMENT: /, '')}): fix the query (Temporal's list filter syntax, e.g. ` +
      "`CloacinaPausedBy = 'ops' AND StartTime > '2026-01-01T00:00:00Z'`)",
    { cause: err },
  );
}

/**
 * An error for a server refusal caused by this library's search attributes not being registered in the
 * namespace, naming the fix; undefined for any other error.
 */
export function missingSearchAttributes(err: unknown, namespace: string): CloacinaError | undefined {
  // The server's words may sit on a cause (the SDK wraps a start failure in its own error).
  const { messages } = causes(err);
  const message = messages.find((m) => /search attribute/i.test(m)) ?? messages[0] ?? '';
  const m =
    /no mapping defined for search attribute (\w+)/i.exec(message) ??
    /(Cloacina\w+)\W+is not a valid search attribute/i.exec(message) ??
    /invalid search attribute:? (Cloacina\w+)/i.exec(message);
  if (!m) return undefined;
  return new CloacinaError(
    `The namespace \`${namespace}\` has no search attribute ${m[1]} registered (${message}): register this ` +
      "library's search attributes once with `ensureSearchAttributes(address, namespace)` (exported by " +
      'cloacina-temporal) or `temporal operator search-attribute create` (docs/operations.md); ' +
      '`npx cloacina-temporal dev-server` registers them itself',
    { cause: err },
  );
}
