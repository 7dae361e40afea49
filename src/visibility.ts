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
import type { ReportedState } from './native-pause';

/** Filters of {@link UnifiedExecutor.listWorkflows}. */
export interface ListOptions {
  /**
   * A run state, or `frozen`: runs the Temporal server holds (ExecutionStatus Paused).
   * @default any state
   */
  state?: ReportedState;
  /**
   * Only runs under a pause (`true`) or not under one (`false`).
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
    throw missingSearchAttributes(err, client.options.namespace) ?? err;
  }
  return out;
}

async function list(client: Client, query: string, limit: number, out: WorkflowSummary[]): Promise<void> {
  for await (const w of client.workflow.list({ query })) {
    const sa = w.typedSearchAttributes;
    const frozen = w.status.name === 'PAUSED';
    out.push({
      workflowId: w.workflowId,
      runId: w.runId,
      workflow: sa.get(CloacinaWorkflow),
      state: sa.get(CloacinaState) as RunState | undefined,
      paused: (sa.get(CloacinaPaused) ?? false) || frozen,
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

const quote = (s: string) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

/** The visibility query for {@link ListOptions}. */
export function buildListQuery(options: ListOptions): string {
  const parts = [`WorkflowType = ${quote(WORKFLOW_TYPE)}`];
  // `frozen` is the server's own pause: Temporal's execution status, not a Cloacina state.
  if (options.state === 'frozen') parts.push("ExecutionStatus = 'Paused'");
  else if (options.state) parts.push(`CloacinaState = ${quote(options.state)}`);
  // Paused: by this library (any kind), or by the server (native pause: Web UI, CLI, mode freeze).
  if (options.paused === true) parts.push("(CloacinaPaused = true OR ExecutionStatus = 'Paused')");
  if (options.paused === false) parts.push("CloacinaPaused = false AND ExecutionStatus != 'Paused'");
  if (options.workflow) parts.push(`CloacinaWorkflow = ${quote(options.workflow)}`);
  if (options.query) parts.push(`(${options.query})`);
  return parts.join(' AND ');
}

/**
 * An error for a server refusal caused by this library's search attributes not being registered in the
 * namespace, naming the fix; undefined for any other error.
 */
export function missingSearchAttributes(err: unknown, namespace: string): CloacinaError | undefined {
  // The server's words may sit on a cause (the SDK wraps a start failure in its own error).
  const messages: string[] = [];
  for (let e: unknown = err; e instanceof Error && messages.length < 5; e = e.cause) messages.push(e.message);
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
