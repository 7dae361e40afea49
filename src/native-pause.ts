// Coexistence with Temporal's own pause (PauseWorkflowExecution, server 1.30+): reading it from
// DescribeWorkflowExecution, the last known status of a run that cannot answer a query while paused on the
// server, putting it on and taking it off, and whether any worker polls a task queue.
import type { Client, WorkflowExecutionDescription } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import type { WorkflowRunStatus } from '../workflows/messages';
import type { AuditEntry, CurrentPause, RunState } from '../workflows/pause-machine';
import { CloacinaState } from '../workflows/search-attributes';
import { readOpen } from './history';

/** The reason of a native pause put on by `pauseWorkflow(id, { mode: 'freeze' })` starts with this. */
export const FREEZE_REASON_PREFIX = 'cloacina freeze';

/** A pause by the Temporal server itself, as DescribeWorkflowExecution reports it. */
export interface NativePause {
  /** Who paused (the pause request's identity; the Web UI sends the signed-in user, if any). */
  by: string;
  /** Why (the freeze prefix removed). */
  reason: string;
  /** When the server paused the run (ISO instant). */
  at?: string;
  /** Put on by `pauseWorkflow(id, { mode: 'freeze' })` (on top of this library's graceful pause). */
  freeze: boolean;
  /**
   * The server keeps the pause info but reports the run RUNNING: the race of temporalio/temporal#10239
   * (a workflow task in flight at the pause completed and the server scheduled another). The run is not
   * held; UnpauseWorkflowExecution refuses it as not paused.
   */
  inconsistent?: boolean;
}

/** The run state of a run paused on the server. */
export type ReportedState = RunState | 'frozen';

/**
 * What `getStatus` returns: the workflow's own status, or — while the Temporal server holds the run
 * (state `frozen`) — the last known one read from its history and search attributes.
 */
export interface RunStatus extends Omit<WorkflowRunStatus, 'state'> {
  state: ReportedState;
  /** Present while the server holds the run (state `frozen`), or while its pause info lingers (#10239). */
  frozen?: NativePause;
  /**
   * While frozen: this library's own state as last published (`CloacinaState`), e.g. `paused` under a
   * freeze, `running` under a pause from the Web UI alone.
   */
  lastState?: RunState;
}

const PAUSED = temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_PAUSED;

function isoOf(t: { seconds?: unknown; nanos?: number | null } | null | undefined): string | undefined {
  if (!t) return undefined;
  const ms = Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
  return ms > 0 ? new Date(ms).toISOString() : undefined;
}

/** The server's pause of a described run, if any (PAUSED, or RUNNING with pause info left by #10239). */
export function nativePauseOf(d: WorkflowExecutionDescription): NativePause | undefined {
  const info = d.raw.workflowExtendedInfo?.pauseInfo;
  const paused = d.raw.workflowExecutionInfo?.status === PAUSED;
  const open = d.status.name === 'RUNNING' || d.status.name === 'PAUSED';
  if (!open || (!paused && !info)) return undefined;
  const raw = info?.reason ?? '';
  const freeze = raw === FREEZE_REASON_PREFIX || raw.startsWith(`${FREEZE_REASON_PREFIX}: `);
  return {
    by: info?.identity ?? '',
    reason: freeze ? raw.slice(FREEZE_REASON_PREFIX.length + 2) : raw,
    ...(isoOf(info?.pausedTime) ? { at: isoOf(info?.pausedTime)! } : {}),
    freeze,
    ...(paused ? {} : { inconsistent: true }),
  };
}

/** Whether the server holds the run now (status PAUSED). */
export const isNativelyPaused = (d: WorkflowExecutionDescription): boolean =>
  d.raw.workflowExecutionInfo?.status === PAUSED;

/**
 * This library's pause in effect according to the audit trail: the newest workflow-level `pause` line
 * whose pause has no `resume` line yet (gates excluded), with its mode raised by any `upgrade` line.
 */
export function pauseFromAudit(audit: AuditEntry[], state: RunState | undefined): CurrentPause | null {
  const ended = new Set(audit.filter((a) => a.action === 'resume').map((a) => a.pauseId));
  for (let i = audit.length - 1; i >= 0; i--) {
    const a = audit[i]!;
    if (a.action !== 'pause' || a.kind === 'gate' || a.pauseId === undefined || ended.has(a.pauseId))
      continue;
    // A joiner's line carries the pause id of the pause in effect: the first line of that id began it.
    const first = audit.find((b) => b.action === 'pause' && b.pauseId === a.pauseId) ?? a;
    const upgraded = audit.some((b) => b.action === 'upgrade' && b.pauseId === a.pauseId);
    return {
      pauseId: a.pauseId,
      kind: first.kind ?? 'manual',
      by: first.by ?? '',
      at: first.at,
      reason: first.reason ?? '',
      mode: upgraded ? 'immediate' : (first.mode ?? 'graceful'),
      phase: state === 'pausing' || state === 'resuming' ? state : 'paused',
      ...(first.requestId ? { requestId: first.requestId } : {}),
    };
  }
  return null;
}

/**
 * The last known status of a run the server holds: tasks and audit lines rebuilt from its history (no
 * query, no worker), this library's state from its search attributes, the server's pause from describe.
 */
export async function frozenStatus(
  client: Client,
  workflowId: string,
  d: WorkflowExecutionDescription,
  native: NativePause,
): Promise<RunStatus> {
  const lastState = d.typedSearchAttributes.get(CloacinaState) as RunState | undefined;
  const { status } = await readOpen(client, workflowId, d.runId, lastState ?? 'running');
  return {
    ...status,
    state: 'frozen',
    ...(lastState ? { lastState } : {}),
    pause: status.pause ?? pauseFromAudit(status.audit, lastState),
    frozen: native,
  };
}

/** How recently a poller must have polled to count as a live worker. */
const LIVE_POLLER_MS = 2 * 60_000;

/**
 * Whether a worker polls `taskQueue` for workflow tasks (DescribeTaskQueue's pollers, seen in the last two
 * minutes: a live worker's long poll renews it at least every minute).
 */
export async function workerPolls(client: Client, taskQueue: string): Promise<boolean> {
  const r = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: taskQueue, kind: temporal.api.enums.v1.TaskQueueKind.TASK_QUEUE_KIND_NORMAL },
    taskQueueType: temporal.api.enums.v1.TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
  });
  const now = Date.now();
  return (r.pollers ?? []).some((p) => {
    const at = isoOf(p.lastAccessTime);
    return at === undefined || now - Date.parse(at) < LIVE_POLLER_MS;
  });
}
