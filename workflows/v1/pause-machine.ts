// FROZEN: the pause reducer of release 0.1.0, used only by v1/dag-workflow.ts. Never edit.
// The pause/resume state machine as a pure reducer: (state, event) → { state, decisions, outcome }.
// The workflow shell feeds it every inbound request and every task start/settle, and carries out its
// decisions; tests drive it directly with random interleavings. It never reads a clock: events carry `at`.
import type { GateSpec } from '../dag';

/** Run states. `paused` is not terminal. */
export const RunState = {
  pending: 'pending',
  running: 'running',
  pausing: 'pausing',
  paused: 'paused',
  resuming: 'resuming',
  completed: 'completed',
  failed: 'failed',
  cancelled: 'cancelled',
} as const;
export type RunState = (typeof RunState)[keyof typeof RunState];

/** What caused a pause. */
export const PauseKind = {
  manual: 'manual',
  gate: 'gate',
  task: 'task',
  failure: 'failure',
  bulk: 'bulk',
} as const;
export type PauseKind = (typeof PauseKind)[keyof typeof PauseKind];

/** Phase of the workflow-level hold. */
export type HoldPhase = 'running' | 'pausing' | 'paused' | 'resuming';

/** A workflow-level pause (every kind but `gate`). */
export interface Hold {
  pauseId: number;
  kind: Exclude<PauseKind, 'gate'>;
  by: string;
  at: string;
  reason: string;
  mode: 'graceful' | 'immediate';
  requestId?: string;
  resumeAt?: string;
  expiresAt?: string;
  onExpiry?: 'resume' | 'fail' | 'cancel';
  /** When the last in-flight task settled and the pause took full effect. */
  drainedAt?: string;
}

/** A `pauseBefore` gate waiting for approval. */
export interface Gate {
  pauseId: number;
  taskId: string;
  openedAt: string;
  reason: string;
  approvers?: string[];
  requiredApprovals: number;
  approvals: { by: string; at: string; comment?: string }[];
  timeoutMs?: number;
  onTimeout?: 'approve' | 'reject' | 'fail';
}

/** The current pause as reported by status. */
export interface CurrentPause {
  pauseId: number;
  kind: PauseKind;
  by: string;
  at: string;
  reason: string;
  mode: 'graceful' | 'immediate';
  phase: HoldPhase;
  requestId?: string;
  resumeAt?: string;
  expiresAt?: string;
  onExpiry?: 'resume' | 'fail' | 'cancel';
  drainedAt?: string;
  /** Tasks held by a failure pause. */
  failedTasks?: string[];
  /** For gates: the gated task. */
  taskId?: string;
}

/** A waiting gate as reported by status. */
export interface GateStatus {
  taskId: string;
  pauseId: number;
  openedAt: string;
  reason: string;
  approvers?: string[];
  requiredApprovals: number;
  approvals: { by: string; at: string; comment?: string }[];
}

/** One line of the audit trail. */
export interface AuditEntry {
  seq: number;
  at: string;
  action: 'pause' | 'resume' | 'gate' | 'approve' | 'reject' | 'drained' | 'upgrade' | 'expired' | 'rejected';
  kind?: PauseKind;
  pauseId?: number;
  by?: string;
  reason?: string;
  mode?: 'graceful' | 'immediate';
  requestId?: string;
  taskId?: string;
  forced?: boolean;
  /** Outcome of resume validation, or why a request was rejected. */
  message?: string;
  /** Which request a `rejected` line is about. */
  request?: string;
}

/** The reducer's state: part of workflow state, carried across continue-as-new. */
export interface PauseMachineState {
  hold: Hold | null;
  phase: HoldPhase;
  gates: Record<string, Gate>;
  /** Tasks with an attempt in flight. */
  inFlight: string[];
  /** Tasks that exhausted their retries under `onTaskFailure: 'pause'`, waiting for resume. */
  failedTasks: string[];
  audit: AuditEntry[];
  /** Accepted request ids (idempotency). */
  requests: Record<string, true>;
  nextPauseId: number;
}

/** A pause request after defaults are applied (identity resolved, deadlines made absolute). */
export interface PauseInput {
  requestId?: string;
  by: string;
  reason: string;
  mode: 'graceful' | 'immediate';
  kind: Exclude<PauseKind, 'gate'>;
  resumeAt?: string;
  expiresAt?: string;
  onExpiry?: 'resume' | 'fail' | 'cancel';
}

/** A resume request after defaults are applied. */
export interface ResumeInput {
  requestId?: string;
  by: string;
  reason: string;
  force?: boolean;
  skip?: string[];
  /** Validation outcome to record (e.g. `validateResume passed`). */
  validation?: string;
}

/** An approve or reject request. */
export interface GateDecisionInput {
  requestId?: string;
  taskId: string;
  by: string;
  comment?: string;
}

/** Inputs of the reducer. */
export type PauseEvent =
  | { type: 'pause'; at: string; request: PauseInput }
  | { type: 'resumeBegin'; at: string; request: ResumeInput }
  | { type: 'resume'; at: string; request: ResumeInput; afterBegin?: boolean }
  | { type: 'resumeRejected'; at: string; request: ResumeInput; message: string }
  | { type: 'taskStarted'; at: string; taskId: string }
  | { type: 'taskSettled'; at: string; taskId: string }
  | { type: 'gateOpened'; at: string; taskId: string; gate: GateSpec }
  | { type: 'approve'; at: string; request: GateDecisionInput }
  | { type: 'reject'; at: string; request: GateDecisionInput }
  | { type: 'gateTimedOut'; at: string; taskId: string }
  | { type: 'taskFailed'; at: string; taskId: string; message: string }
  | { type: 'expired'; at: string; action: 'resume' | 'fail' | 'cancel' }
  | { type: 'invalidRequest'; at: string; request: string; message: string; by?: string; requestId?: string };

/** What the shell must do after an event. */
export type Decision =
  | { type: 'cancelInFlight'; taskIds: string[] }
  | { type: 'drained' }
  | { type: 'releaseGate'; taskId: string }
  | { type: 'rejectGate'; taskId: string; by: string; comment?: string }
  | { type: 'rerunTasks'; taskIds: string[] }
  | { type: 'skipTasks'; taskIds: string[] }
  | { type: 'resumed' }
  | { type: 'endRun'; action: 'fail' | 'cancel'; reason: string };

/** Why a request was refused: a stable code for callers and a message that says what to do. */
export interface Refusal {
  code:
    | 'NotPaused'
    | 'AlreadyResuming'
    | 'GateNotWaiting'
    | 'NotAnApprover'
    | 'UnknownTask'
    | 'ValidationRejected'
    | 'Superseded'
    | 'InvalidRequest';
  message: string;
}

/** Result of one reducer step. */
export interface Step {
  state: PauseMachineState;
  decisions: Decision[];
  /** For requests: accepted (maybe as a duplicate of an earlier id) or refused. */
  outcome: { accepted: true; duplicate: boolean } | { accepted: false; refusal: Refusal };
}

/** The state a new run starts with. */
export function initialPauseState(): PauseMachineState {
  return {
    hold: null,
    phase: 'running',
    gates: {},
    inFlight: [],
    failedTasks: [],
    audit: [],
    requests: {},
    nextPauseId: 1,
  };
}

/** Whether a new task attempt (or retry) may start now. */
export function canStart(s: PauseMachineState): boolean {
  return s.hold === null && s.phase === 'running';
}

/** The current pause (workflow-level hold first, else the oldest waiting gate). */
export function currentPause(s: PauseMachineState): CurrentPause | null {
  if (s.hold) {
    return {
      ...s.hold,
      phase: s.phase,
      ...(s.failedTasks.length ? { failedTasks: [...s.failedTasks] } : {}),
    };
  }
  const gate = Object.values(s.gates).sort((a, b) => a.pauseId - b.pauseId)[0];
  if (!gate) return null;
  return {
    pauseId: gate.pauseId,
    kind: 'gate',
    by: 'gate',
    at: gate.openedAt,
    reason: gate.reason,
    mode: 'graceful',
    phase: 'paused',
    taskId: gate.taskId,
  };
}

/** Waiting gates, oldest first. */
export function gateStatuses(s: PauseMachineState): GateStatus[] {
  return Object.values(s.gates)
    .sort((a, b) => a.pauseId - b.pauseId)
    .map((g) => ({
      taskId: g.taskId,
      pauseId: g.pauseId,
      openedAt: g.openedAt,
      reason: g.reason,
      ...(g.approvers ? { approvers: [...g.approvers] } : {}),
      requiredApprovals: g.requiredApprovals,
      approvals: g.approvals.map((a) => ({ ...a })),
    }));
}

/**
 * The run state while the run is live. `idle` says whether the DAG has nothing to do but wait on
 * gates (no task ready or running outside a gate).
 */
export function liveRunState(s: PauseMachineState, idle: boolean): RunState {
  if (s.hold) return s.phase === 'running' ? 'paused' : s.phase;
  if (s.phase === 'resuming') return 'resuming';
  if (Object.keys(s.gates).length > 0 && idle) return 'paused';
  return 'running';
}

function refuse(state: PauseMachineState, code: Refusal['code'], message: string): Step {
  return { state, decisions: [], outcome: { accepted: false, refusal: { code, message } } };
}

function accept(state: PauseMachineState, decisions: Decision[] = [], duplicate = false): Step {
  return { state, decisions, outcome: { accepted: true, duplicate } };
}

function withAudit(
  s: PauseMachineState,
  at: string,
  entry: Omit<AuditEntry, 'seq' | 'at'>,
): PauseMachineState {
  const clean = Object.fromEntries(Object.entries(entry).filter(([, v]) => v !== undefined)) as Omit<
    AuditEntry,
    'seq' | 'at'
  >;
  return { ...s, audit: [...s.audit, { seq: s.audit.length + 1, at, ...clean }] };
}

/** Request ids are scoped by request type: a resume may reuse the id of a pause. */
function requestKey(type: string, requestId: string): string {
  return `${type === 'resumeBegin' ? 'resume' : type}:${requestId}`;
}

function seen(s: PauseMachineState, type: string, requestId: string | undefined): boolean {
  return requestId !== undefined && s.requests[requestKey(type, requestId)] === true;
}

function remember(s: PauseMachineState, requestId: string | undefined, type: string): PauseMachineState {
  return requestId ? { ...s, requests: { ...s.requests, [requestKey(type, requestId)]: true } } : s;
}

function stateName(s: PauseMachineState): string {
  return s.hold ? (s.phase === 'running' ? 'paused' : s.phase) : s.phase;
}

/**
 * Applies one event. Never throws for a request: bad requests come back as refusals, and every refused
 * request is recorded in the audit trail.
 */
export function reduce(state: PauseMachineState, event: PauseEvent): Step {
  const step = settleDrain(apply(state, event), event.at);
  if (step.outcome.accepted || event.type === 'resumeRejected' || event.type === 'invalidRequest')
    return step;
  if (
    event.type === 'resumeBegin' ||
    event.type === 'resume' ||
    event.type === 'approve' ||
    event.type === 'reject'
  ) {
    const r = event.request;
    const s = withAudit(step.state, event.at, {
      action: 'rejected',
      request: event.type === 'resumeBegin' ? 'resume' : event.type,
      by: r.by,
      requestId: r.requestId,
      taskId: 'taskId' in r ? r.taskId : undefined,
      message: step.outcome.refusal.message,
    });
    return { ...step, state: s };
  }
  return step;
}

/**
 * A held run with nothing in flight is paused, and a pause that has just reached that point is drained:
 * `drainedAt` is set, the audit records it and the shell is told (it releases resources). Done after
 * every event, so no path into `paused` can skip it.
 */
function settleDrain(step: Step, at: string): Step {
  let s = step.state;
  if (!s.hold || s.inFlight.length > 0 || s.phase === 'resuming') return step;
  if (s.phase === 'pausing') s = { ...s, phase: 'paused' };
  if (s.hold!.drainedAt) return s === step.state ? step : { ...step, state: s };
  s = { ...s, hold: { ...s.hold!, drainedAt: at } };
  s = withAudit(s, at, { action: 'drained', kind: s.hold!.kind, pauseId: s.hold!.pauseId });
  return { ...step, state: s, decisions: [...step.decisions, { type: 'drained' }] };
}

/** Ends a resume still being validated: back to pausing/paused, with the reason audited. */
function preemptResume(state: PauseMachineState, at: string, by: string, message: string): PauseMachineState {
  if (state.phase !== 'resuming') return state;
  return withAudit({ ...state, phase: state.inFlight.length ? 'pausing' : 'paused' }, at, {
    action: 'rejected',
    request: 'resume',
    message,
    by,
  });
}

function apply(state: PauseMachineState, event: PauseEvent): Step {
  switch (event.type) {
    case 'pause': {
      const r = event.request;
      if (seen(state, event.type, r.requestId)) return accept(state, [], true);
      if (state.hold) {
        // Already paused: the goal holds. A pause wins over a resume still being validated, and an
        // immediate pause upgrades a graceful one whose tasks are still draining.
        let s = preemptResume(state, event.at, r.by, `superseded by a pause from ${r.by}`);
        const decisions: Decision[] = [];
        if (r.mode === 'immediate' && s.hold!.mode === 'graceful' && s.inFlight.length > 0) {
          s = { ...s, hold: { ...s.hold!, mode: 'immediate' } };
          s = withAudit(s, event.at, {
            action: 'upgrade',
            kind: s.hold!.kind,
            pauseId: s.hold!.pauseId,
            by: r.by,
            reason: r.reason,
            mode: 'immediate',
            requestId: r.requestId,
          });
          decisions.push({ type: 'cancelInFlight', taskIds: [...s.inFlight] });
        }
        return accept(remember(s, r.requestId, event.type), decisions);
      }
      const pauseId = state.nextPauseId;
      const hold: Hold = {
        pauseId,
        kind: r.kind,
        by: r.by,
        at: event.at,
        reason: r.reason,
        mode: r.mode,
        ...(r.requestId ? { requestId: r.requestId } : {}),
        ...(r.resumeAt ? { resumeAt: r.resumeAt } : {}),
        ...(r.expiresAt ? { expiresAt: r.expiresAt, onExpiry: r.onExpiry ?? 'resume' } : {}),
      };
      const drained = state.inFlight.length === 0;
      if (drained) hold.drainedAt = event.at;
      let s: PauseMachineState = {
        ...state,
        hold,
        phase: drained ? 'paused' : 'pausing',
        nextPauseId: pauseId + 1,
      };
      s = withAudit(s, event.at, {
        action: 'pause',
        kind: r.kind,
        pauseId,
        by: r.by,
        reason: r.reason,
        mode: r.mode,
        requestId: r.requestId,
      });
      const decisions: Decision[] = [];
      if (!drained && r.mode === 'immediate')
        decisions.push({ type: 'cancelInFlight', taskIds: [...state.inFlight] });
      if (drained) decisions.push({ type: 'drained' });
      return accept(remember(s, r.requestId, event.type), decisions);
    }

    case 'resumeBegin': {
      const r = event.request;
      if (seen(state, event.type, r.requestId)) return accept(state, [], true);
      const refusal = resumeRefusal(state, r);
      if (refusal) return refuse(state, refusal.code, refusal.message);
      if (!state.hold) return accept(state); // gate release: nothing to validate
      return accept({ ...state, phase: 'resuming' });
    }

    case 'resume': {
      const r = event.request;
      if (seen(state, event.type, r.requestId)) return accept(state, [], true);
      if (event.afterBegin && (!state.hold || state.phase !== 'resuming')) {
        return refuse(
          state,
          'Superseded',
          'A new pause arrived while this resume was being validated: send it again',
        );
      }
      const refusal = resumeRefusal(event.afterBegin ? { ...state, phase: 'paused' } : state, r);
      if (refusal) return refuse(state, refusal.code, refusal.message);
      if (!state.hold) {
        // No workflow-level pause: release every gate that has no approver constraints.
        const open = Object.values(state.gates).filter((g) => !g.approvers && g.requiredApprovals <= 1);
        let s: PauseMachineState = { ...state, gates: { ...state.gates } };
        const decisions: Decision[] = [];
        for (const g of open) {
          delete s.gates[g.taskId];
          s = withAudit(s, event.at, {
            action: 'resume',
            kind: 'gate',
            pauseId: g.pauseId,
            by: r.by,
            reason: r.reason,
            requestId: r.requestId,
            taskId: g.taskId,
          });
          decisions.push({ type: 'releaseGate', taskId: g.taskId });
        }
        return accept(remember(s, r.requestId, event.type), decisions);
      }
      const hold = state.hold;
      const skip = r.skip ?? [];
      const rerun = state.failedTasks.filter((t) => !skip.includes(t));
      let s: PauseMachineState = { ...state, hold: null, phase: 'running', failedTasks: [] };
      s = withAudit(s, event.at, {
        action: 'resume',
        kind: hold.kind,
        pauseId: hold.pauseId,
        by: r.by,
        reason: r.reason,
        requestId: r.requestId,
        forced: r.force || undefined,
        message: r.validation,
      });
      const decisions: Decision[] = [];
      if (skip.length) decisions.push({ type: 'skipTasks', taskIds: skip });
      if (rerun.length) decisions.push({ type: 'rerunTasks', taskIds: rerun });
      decisions.push({ type: 'resumed' });
      return accept(remember(s, r.requestId, event.type), decisions);
    }

    case 'resumeRejected': {
      const r = event.request;
      let s: PauseMachineState =
        state.phase === 'resuming'
          ? { ...state, phase: state.inFlight.length ? 'pausing' : 'paused' }
          : state;
      s = withAudit(s, event.at, {
        action: 'rejected',
        request: 'resume',
        kind: state.hold?.kind,
        pauseId: state.hold?.pauseId,
        by: r.by,
        reason: r.reason,
        requestId: r.requestId,
        message: event.message,
      });
      return refuse(s, 'ValidationRejected', event.message);
    }

    case 'taskStarted': {
      if (!canStart(state)) {
        throw new Error(
          `pause machine: task \`${event.taskId}\` started while the run is ${stateName(state)}`,
        );
      }
      return accept({ ...state, inFlight: [...state.inFlight, event.taskId] });
    }

    case 'taskSettled': {
      const idx = state.inFlight.indexOf(event.taskId);
      if (idx < 0) return accept(state);
      const inFlight = state.inFlight.filter((_, i) => i !== idx);
      return accept({ ...state, inFlight });
    }

    case 'gateOpened': {
      if (state.gates[event.taskId]) return accept(state);
      const g = event.gate;
      const pauseId = state.nextPauseId;
      const gate: Gate = {
        pauseId,
        taskId: event.taskId,
        openedAt: event.at,
        reason: g.reason,
        ...(g.approvers ? { approvers: [...g.approvers] } : {}),
        requiredApprovals: g.requiredApprovals,
        approvals: [],
        ...(g.timeoutMs ? { timeoutMs: g.timeoutMs, onTimeout: g.onTimeout ?? 'fail' } : {}),
      };
      let s: PauseMachineState = {
        ...state,
        gates: { ...state.gates, [event.taskId]: gate },
        nextPauseId: pauseId + 1,
      };
      s = withAudit(s, event.at, {
        action: 'gate',
        kind: 'gate',
        pauseId,
        by: 'gate',
        reason: g.reason,
        taskId: event.taskId,
      });
      return accept(s);
    }

    case 'approve':
    case 'reject': {
      const r = event.request;
      if (seen(state, event.type, r.requestId)) return accept(state, [], true);
      const gate = state.gates[r.taskId];
      if (!gate) {
        const waiting = Object.keys(state.gates);
        return refuse(
          state,
          'GateNotWaiting',
          `Task \`${r.taskId}\` is not waiting at a gate` +
            (waiting.length
              ? `; waiting: ${waiting.map((w) => `\`${w}\``).join(', ')}`
              : '; no gate is waiting'),
        );
      }
      if (gate.approvers && !gate.approvers.includes(r.by)) {
        return refuse(
          state,
          'NotAnApprover',
          `\`${r.by}\` may not ${event.type} \`${r.taskId}\`: approvers are ${gate.approvers.map((a) => `\`${a}\``).join(', ')}`,
        );
      }
      if (event.type === 'reject') {
        let s: PauseMachineState = { ...state, gates: { ...state.gates } };
        delete s.gates[r.taskId];
        s = withAudit(s, event.at, {
          action: 'reject',
          kind: 'gate',
          pauseId: gate.pauseId,
          by: r.by,
          reason: r.comment,
          requestId: r.requestId,
          taskId: r.taskId,
        });
        return accept(remember(s, r.requestId, event.type), [
          { type: 'rejectGate', taskId: r.taskId, by: r.by, comment: r.comment },
        ]);
      }
      if (gate.approvals.some((a) => a.by === r.by))
        return accept(remember(state, r.requestId, event.type), [], true);
      const approvals = [
        ...gate.approvals,
        { by: r.by, at: event.at, ...(r.comment ? { comment: r.comment } : {}) },
      ];
      let s: PauseMachineState = { ...state, gates: { ...state.gates, [r.taskId]: { ...gate, approvals } } };
      s = withAudit(s, event.at, {
        action: 'approve',
        kind: 'gate',
        pauseId: gate.pauseId,
        by: r.by,
        reason: r.comment,
        requestId: r.requestId,
        taskId: r.taskId,
      });
      if (approvals.length < gate.requiredApprovals) return accept(remember(s, r.requestId, event.type));
      delete s.gates[r.taskId];
      s = withAudit(s, event.at, {
        action: 'resume',
        kind: 'gate',
        pauseId: gate.pauseId,
        by: approvals.map((a) => a.by).join(', '),
        reason: `${approvals.length} of ${gate.requiredApprovals} approvals`,
        taskId: r.taskId,
      });
      return accept(remember(s, r.requestId, event.type), [{ type: 'releaseGate', taskId: r.taskId }]);
    }

    case 'gateTimedOut': {
      const gate = state.gates[event.taskId];
      if (!gate) return accept(state);
      const action = gate.onTimeout ?? 'fail';
      let s: PauseMachineState = { ...state, gates: { ...state.gates } };
      delete s.gates[event.taskId];
      s = withAudit(s, event.at, {
        action: 'expired',
        kind: 'gate',
        pauseId: gate.pauseId,
        by: 'system:timeout',
        taskId: event.taskId,
        message: `gate timed out: ${action}`,
      });
      if (action === 'approve') {
        s = withAudit(s, event.at, {
          action: 'resume',
          kind: 'gate',
          pauseId: gate.pauseId,
          by: 'system:timeout',
          reason: 'gate timeout approved',
          taskId: event.taskId,
        });
        return accept(s, [{ type: 'releaseGate', taskId: event.taskId }]);
      }
      s = withAudit(s, event.at, {
        action: 'resume',
        kind: 'gate',
        pauseId: gate.pauseId,
        by: 'system:timeout',
        reason: `gate timeout: ${action}`,
        taskId: event.taskId,
      });
      return accept(s, [
        {
          type: 'rejectGate',
          taskId: event.taskId,
          by: 'system:timeout',
          comment: `gate timed out (${action})`,
        },
      ]);
    }

    case 'taskFailed': {
      if (state.failedTasks.includes(event.taskId)) return accept(state);
      let s: PauseMachineState = { ...state, failedTasks: [...state.failedTasks, event.taskId] };
      if (!s.hold) {
        const pauseId = s.nextPauseId;
        const drained = s.inFlight.length === 0;
        s = {
          ...s,
          nextPauseId: pauseId + 1,
          phase: drained ? 'paused' : 'pausing',
          hold: {
            pauseId,
            kind: 'failure',
            by: `task:${event.taskId}`,
            at: event.at,
            reason: event.message,
            mode: 'graceful',
            ...(drained ? { drainedAt: event.at } : {}),
          },
        };
        s = withAudit(s, event.at, {
          action: 'pause',
          kind: 'failure',
          pauseId,
          by: `task:${event.taskId}`,
          reason: event.message,
          mode: 'graceful',
          taskId: event.taskId,
        });
        return accept(s, drained ? [{ type: 'drained' }] : []);
      }
      return accept(s);
    }

    case 'expired': {
      if (!state.hold) return accept(state);
      const hold = state.hold;
      let s = preemptResume(state, event.at, 'system:expiry', 'superseded by the pause expiring');
      s = withAudit(s, event.at, {
        action: 'expired',
        kind: hold.kind,
        pauseId: hold.pauseId,
        by: 'system:expiry',
        message: `pause expired: ${event.action}`,
      });
      if (event.action === 'resume') {
        return apply(s, {
          type: 'resume',
          at: event.at,
          request: { by: 'system:expiry', reason: 'pause expired', force: true },
        });
      }
      s = { ...s, hold: null, phase: 'running' };
      s = withAudit(s, event.at, {
        action: 'resume',
        kind: hold.kind,
        pauseId: hold.pauseId,
        by: 'system:expiry',
        reason: `pause expired: ${event.action}`,
      });
      return accept(s, [
        {
          type: 'endRun',
          action: event.action,
          reason: `pause ${hold.pauseId} (${hold.reason || hold.kind}) expired`,
        },
      ]);
    }

    case 'invalidRequest': {
      const s = withAudit(state, event.at, {
        action: 'rejected',
        request: event.request,
        by: event.by,
        requestId: event.requestId,
        message: event.message,
      });
      return refuse(s, 'InvalidRequest', event.message);
    }
  }
}

function resumeRefusal(state: PauseMachineState, r: ResumeInput): Refusal | undefined {
  if (state.hold) {
    if (state.phase === 'resuming')
      return {
        code: 'AlreadyResuming',
        message: 'A resume is already being validated; wait for its outcome',
      };
    const unknown = (r.skip ?? []).filter((t) => !state.failedTasks.includes(t));
    if (unknown.length) {
      return {
        code: 'UnknownTask',
        message:
          `\`skip\` names ${unknown.map((t) => `\`${t}\``).join(', ')}, which no failure pause holds` +
          (state.failedTasks.length ? `; held: ${state.failedTasks.map((t) => `\`${t}\``).join(', ')}` : ''),
      };
    }
    return undefined;
  }
  const gates = Object.values(state.gates);
  if (gates.some((g) => !g.approvers && g.requiredApprovals <= 1)) return undefined;
  if (gates.length) {
    return {
      code: 'NotPaused',
      message:
        `The run is not paused; gates ${gates.map((g) => `\`${g.taskId}\``).join(', ')} need approvals: ` +
        'use approve (with an approver identity) instead of resume',
    };
  }
  return {
    code: 'NotPaused',
    message: `The run is not paused (state ${stateName(state)}): nothing to resume`,
  };
}
