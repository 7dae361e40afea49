// The pause/resume state machine as a pure reducer: (state, event) → { state, decisions, outcome }.
// The workflow shell feeds it every inbound request, every task start/settle and every timer that fires,
// and carries out its decisions; tests drive it directly with random interleavings and a fake clock.
// It never reads a clock: events carry `at`. It owns every clock of the run: the active (unpaused) time,
// gate timeouts, retry back-offs, scheduled resumes, expiries, `maxPause` and the run deadline are due
// times in its state, so continue-as-new carries them and nothing restarts.
import type { GateSpec } from './dag';
import type { PauseMachineState as PauseMachineStateV1 } from './v1/pause-machine';

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
  terminated: 'terminated',
  timedOut: 'timedOut',
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

/** Kinds a pause request may carry (gates and failures are opened by the run itself). */
export const REQUEST_PAUSE_KINDS = ['manual', 'task', 'bulk'] as const;
export type RequestPauseKind = (typeof REQUEST_PAUSE_KINDS)[number];

/** How in-flight tasks are treated by a pause. */
export const PAUSE_MODES = ['graceful', 'immediate'] as const;
export type PauseMode = (typeof PAUSE_MODES)[number];

/** What happens when a pause's expiry (or `maxPause`) is reached. */
export const EXPIRY_ACTIONS = ['resume', 'fail', 'cancel'] as const;
export type ExpiryAction = (typeof EXPIRY_ACTIONS)[number];

/** What happens when a gate's timeout is reached. */
export const GATE_TIMEOUT_ACTIONS = ['approve', 'reject', 'fail'] as const;
export type GateTimeoutAction = (typeof GATE_TIMEOUT_ACTIONS)[number];

/** Phase of the workflow-level hold. */
export type HoldPhase = 'running' | 'pausing' | 'paused' | 'resuming';

/** Entries kept in workflow state (the full trail is in the event history: see `getAudit`). */
export const AUDIT_TAIL = 200;
/** Request ids remembered for idempotency, per run (older ids may be served again). */
export const REMEMBERED_REQUESTS = 1000;
/** Longest text kept in an audit line's `reason` or `message`. */
export const MAX_AUDIT_TEXT = 2000;

/** A workflow-level pause (every kind but `gate`). */
export interface Hold {
  pauseId: number;
  kind: Exclude<PauseKind, 'gate'>;
  by: string;
  at: string;
  reason: string;
  mode: PauseMode;
  requestId?: string;
  resumeAt?: string;
  expiresAt?: string;
  onExpiry?: ExpiryAction;
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
  onTimeout?: GateTimeoutAction;
  /** Active time (ms on the run's clock) at which the gate times out. */
  dueActiveMs?: number;
  /** When `maxPause` ends the wait (wall time). */
  expiresAt?: string;
}

/** The current pause as reported by status. */
export interface CurrentPause {
  pauseId: number;
  kind: PauseKind;
  by: string;
  at: string;
  reason: string;
  mode: PauseMode;
  phase: HoldPhase;
  requestId?: string;
  resumeAt?: string;
  expiresAt?: string;
  onExpiry?: ExpiryAction;
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
  /** Active time left before the gate's timeout applies. */
  timeoutRemainingMs?: number;
  expiresAt?: string;
}

/** Audit actions. */
export type AuditAction =
  | 'pause'
  | 'resume'
  | 'gate'
  | 'approve'
  | 'reject'
  | 'drained'
  | 'upgrade'
  | 'expired'
  | 'rejected'
  | 'breakpoint';

/** One line of the audit trail. */
export interface AuditEntry {
  /** 1-based, over the whole life of the run (across continue-as-new). */
  seq: number;
  at: string;
  action: AuditAction;
  kind?: PauseKind;
  pauseId?: number;
  by?: string;
  reason?: string;
  mode?: PauseMode;
  requestId?: string;
  taskId?: string;
  forced?: boolean;
  /** Outcome of resume validation, or why a request was rejected. */
  message?: string;
  /** Which request a `rejected` line is about. */
  request?: string;
}

/** The run's clock: active (unpaused) time, frozen while a workflow-level pause holds or once closed. */
export interface RunClock {
  /** Active ms accumulated up to `activeSince` (or in all, when frozen). */
  activeMs: number;
  /** Epoch ms since which the clock runs; null while frozen. */
  activeSince: number | null;
}

/** The reducer's state: part of workflow state, carried across continue-as-new. Bounded in size. */
export interface PauseMachineState {
  hold: Hold | null;
  phase: HoldPhase;
  gates: Record<string, Gate>;
  /** Tasks with an attempt in flight. */
  inFlight: string[];
  /** Tasks that exhausted their retries under `onTaskFailure: 'pause'`, waiting for resume. */
  failedTasks: string[];
  /** The newest {@link AUDIT_TAIL} audit lines. */
  audit: AuditEntry[];
  /** Audit lines written over the run's life (the `seq` of the newest). */
  auditCount: number;
  /** The newest {@link REMEMBERED_REQUESTS} served request keys (`type:requestId`), oldest first. */
  requests: string[];
  nextPauseId: number;
  clock: RunClock;
  /** Tasks waiting out a retry back-off: the active time at which each may start again. */
  retries: Record<string, number>;
  /** Active time at which the run fails for exceeding its deadline. */
  deadlineActiveMs?: number;
  /** Policy applied to every pause. */
  policy: { maxPauseMs?: number; onMaxPause: ExpiryAction };
  /** The resume being validated: only the request that began it may end it. */
  resuming?: { token: number; by: string; requestId?: string };
  nextToken: number;
  /** The run has ended: the clock is frozen, timers are off. */
  closed: boolean;
}

/** A pause request after defaults are applied (identity resolved). */
export interface PauseInput {
  requestId?: string;
  by: string;
  reason: string;
  mode: PauseMode;
  kind: Exclude<PauseKind, 'gate'>;
  resumeAt?: string;
  /** The pause ends after this many ms (wall time), with `onExpiry`. */
  expiresAfterMs?: number;
  onExpiry?: ExpiryAction;
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
  /**
   * `amend`: a pause joining one already in effect may postpone its scheduled resume (runs begun before
   * amendments leave it unset, so that their histories replay).
   */
  | { type: 'pause'; at: string; request: PauseInput; amend?: boolean }
  | { type: 'resumeBegin'; at: string; request: ResumeInput }
  /** `token`: the one `resumeBegin` answered with (absent when nothing needed validating). */
  | { type: 'resume'; at: string; request: ResumeInput; token?: number }
  | { type: 'resumeRejected'; at: string; request: ResumeInput; token: number; message: string }
  | { type: 'taskStarted'; at: string; taskId: string }
  | { type: 'taskSettled'; at: string; taskId: string }
  | { type: 'retryScheduled'; at: string; taskId: string; delayMs: number }
  | { type: 'gateOpened'; at: string; taskId: string; gate: GateSpec }
  | { type: 'approve'; at: string; request: GateDecisionInput }
  | { type: 'reject'; at: string; request: GateDecisionInput }
  | { type: 'taskFailed'; at: string; taskId: string; message: string }
  /** The shell's timer for {@link nextDue} fired (or any later instant): everything due applies. */
  | { type: 'timerFired'; at: string }
  | { type: 'closed'; at: string }
  /** Run-time breakpoints set or cleared (checked by the shell): recorded, idempotent by request id. */
  | {
      type: 'breakpoints';
      at: string;
      by: string;
      requestId?: string;
      set: string[];
      cleared: string[];
    }
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
  /** A `resumeAt` came: resume through validation, as `system:schedule`. */
  | { type: 'scheduledResume'; pauseId: number; resumeAt: string }
  | { type: 'endRun'; action: 'fail' | 'cancel'; reason: string };

/** Every code a refused request carries (`RequestRejectedError.code` on the client). */
export const REFUSAL_CODES = [
  'NotPaused',
  'AlreadyResuming',
  'GateNotWaiting',
  'NotAnApprover',
  'UnknownTask',
  'ValidationRejected',
  'Superseded',
  'InvalidRequest',
  'WorkflowClosed',
  'InternalError',
] as const;
export type RefusalCode = (typeof REFUSAL_CODES)[number];

/** Why a request was refused: a stable code for callers and a message that says what to do. */
export interface Refusal {
  code: RefusalCode;
  message: string;
}

/** Result of one reducer step. */
export interface Step {
  state: PauseMachineState;
  decisions: Decision[];
  /** For requests: accepted (maybe as a duplicate of an earlier id) or refused. */
  outcome: { accepted: true; duplicate: boolean } | { accepted: false; refusal: Refusal };
  /** For an accepted `resumeBegin` that needs validation: the token its `resume` must carry. */
  token?: number;
}

/** Options of a new run's reducer state. */
export interface InitialOptions {
  /** When the run starts (epoch ms): its clock runs from then. */
  startMs: number;
  maxPauseMs?: number;
  onMaxPause?: ExpiryAction;
  /** Active-time deadline of the run, ms. */
  deadlineMs?: number;
}

/** The state a new run starts with. */
export function initialPauseState(o: InitialOptions = { startMs: 0 }): PauseMachineState {
  return {
    hold: null,
    phase: 'running',
    gates: {},
    inFlight: [],
    failedTasks: [],
    audit: [],
    auditCount: 0,
    requests: [],
    nextPauseId: 1,
    clock: { activeMs: 0, activeSince: o.startMs },
    retries: {},
    ...(o.deadlineMs !== undefined ? { deadlineActiveMs: o.deadlineMs } : {}),
    policy: {
      ...(o.maxPauseMs !== undefined ? { maxPauseMs: o.maxPauseMs } : {}),
      onMaxPause: o.onMaxPause ?? 'fail',
    },
    nextToken: 1,
    closed: false,
  };
}

/** Whether a new task attempt (or retry) may start now, as far as pauses go. */
export function canStart(s: PauseMachineState): boolean {
  return s.hold === null && s.phase === 'running' && !s.closed;
}

/** Whether the run's clock runs (no workflow-level pause, not closed). Gates do not stop it. */
export function isActive(s: PauseMachineState): boolean {
  return canStart(s);
}

/** Active (unpaused) ms of the run at epoch ms `nowMs`. */
export function activeAt(s: PauseMachineState, nowMs: number): number {
  const c = s.clock;
  return c.activeMs + (c.activeSince !== null ? Math.max(0, nowMs - c.activeSince) : 0);
}

/**
 * The next instant (epoch ms) at which something is due — a scheduled resume, an expiry, a gate's
 * `maxPause`, and while the clock runs a gate timeout, a retry back-off or the deadline — or undefined.
 * The shell arms one timer for it and feeds `timerFired` when it fires.
 */
export function nextDue(s: PauseMachineState): number | undefined {
  if (s.closed) return undefined;
  let due = Infinity;
  const wall = (iso: string | undefined) => {
    if (iso !== undefined) due = Math.min(due, Date.parse(iso));
  };
  if (s.hold) {
    wall(s.hold.expiresAt);
    if (s.phase !== 'resuming') wall(s.hold.resumeAt);
  }
  for (const g of Object.values(s.gates)) wall(g.expiresAt);
  if (s.clock.activeSince !== null) {
    let active = Infinity;
    for (const g of Object.values(s.gates))
      if (g.dueActiveMs !== undefined) active = Math.min(active, g.dueActiveMs);
    for (const d of Object.values(s.retries)) active = Math.min(active, d);
    if (s.deadlineActiveMs !== undefined) active = Math.min(active, s.deadlineActiveMs);
    if (active !== Infinity)
      due = Math.min(due, s.clock.activeSince + Math.max(0, active - s.clock.activeMs));
  }
  return due === Infinity ? undefined : due;
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
  const gate = oldestGate(s);
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
    ...(gate.expiresAt ? { expiresAt: gate.expiresAt, onExpiry: s.policy.onMaxPause } : {}),
  };
}

function oldestGate(s: PauseMachineState): Gate | undefined {
  let oldest: Gate | undefined;
  for (const g of Object.values(s.gates)) if (!oldest || g.pauseId < oldest.pauseId) oldest = g;
  return oldest;
}

/** Waiting gates, oldest first. `nowMs` gives the time left before each gate's timeout. */
export function gateStatuses(s: PauseMachineState, nowMs?: number): GateStatus[] {
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
      ...(g.dueActiveMs !== undefined && nowMs !== undefined
        ? { timeoutRemainingMs: Math.max(0, g.dueActiveMs - activeAt(s, nowMs)) }
        : {}),
      ...(g.expiresAt ? { expiresAt: g.expiresAt } : {}),
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

function refuse(state: PauseMachineState, code: RefusalCode, message: string): Step {
  return { state, decisions: [], outcome: { accepted: false, refusal: { code, message } } };
}

function accept(state: PauseMachineState, decisions: Decision[] = [], duplicate = false): Step {
  return { state, decisions, outcome: { accepted: true, duplicate } };
}

const clip = (text: string | undefined) =>
  text !== undefined && text.length > MAX_AUDIT_TEXT ? `${text.slice(0, MAX_AUDIT_TEXT - 1)}…` : text;

function withAudit(
  s: PauseMachineState,
  at: string,
  entry: Omit<AuditEntry, 'seq' | 'at'>,
): PauseMachineState {
  const clean = Object.fromEntries(
    Object.entries({ ...entry, reason: clip(entry.reason), message: clip(entry.message) }).filter(
      ([, v]) => v !== undefined,
    ),
  ) as Omit<AuditEntry, 'seq' | 'at'>;
  const seq = s.auditCount + 1;
  const audit = [...s.audit, { seq, at, ...clean }];
  if (audit.length > AUDIT_TAIL) audit.splice(0, audit.length - AUDIT_TAIL);
  return { ...s, audit, auditCount: seq };
}

/** Request ids are scoped by request type: a resume may reuse the id of a pause. */
function requestKey(type: string, requestId: string): string {
  return `${type === 'resumeBegin' ? 'resume' : type}:${requestId}`;
}

/** Whether a request of `type` with this id was accepted before (within the remembered window). */
export function requestSeen(
  s: PauseMachineState,
  type: PauseEvent['type'],
  requestId: string | undefined,
): boolean {
  return seen(s, type, requestId);
}

function seen(s: PauseMachineState, type: string, requestId: string | undefined): boolean {
  return requestId !== undefined && s.requests.includes(requestKey(type, requestId));
}

function remember(s: PauseMachineState, requestId: string | undefined, type: string): PauseMachineState {
  if (!requestId) return s;
  const requests = [...s.requests, requestKey(type, requestId)];
  if (requests.length > REMEMBERED_REQUESTS) requests.splice(0, requests.length - REMEMBERED_REQUESTS);
  return { ...s, requests };
}

function stateName(s: PauseMachineState): string {
  return s.hold ? (s.phase === 'running' ? 'paused' : s.phase) : s.phase;
}

const plus = (at: string, ms: number) => new Date(Date.parse(at) + ms).toISOString();

/**
 * Applies one event. Never throws for a request: bad requests come back as refusals, and every refused
 * request is recorded in the audit trail.
 */
export function reduce(state: PauseMachineState, event: PauseEvent): Step {
  let step = settleDrain(apply(state, event), event.at);
  step = { ...step, state: settleClock(step.state, Date.parse(event.at)) };
  if (step.outcome.accepted || event.type === 'resumeRejected' || event.type === 'invalidRequest')
    return step;
  if (
    event.type === 'pause' ||
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

/** Starts or stops the clock when the event changed whether the run is active. */
function settleClock(after: PauseMachineState, atMs: number): PauseMachineState {
  const running = after.clock.activeSince !== null;
  const active = isActive(after);
  if (running === active) return after;
  const c = after.clock;
  if (running) {
    return {
      ...after,
      clock: { activeMs: c.activeMs + Math.max(0, atMs - c.activeSince!), activeSince: null },
    };
  }
  return { ...after, clock: { activeMs: c.activeMs, activeSince: atMs } };
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
function preemptResume(state: PauseMachineState, at: string, message: string): PauseMachineState {
  if (state.phase !== 'resuming' || !state.resuming) return state;
  const r = state.resuming;
  const { resuming: _dropped, ...rest } = state;
  void _dropped;
  return withAudit({ ...rest, phase: state.inFlight.length ? 'pausing' : 'paused' }, at, {
    action: 'rejected',
    request: 'resume',
    message,
    by: r.by,
    requestId: r.requestId,
  });
}

/** The expiry of a new hold: the requested one, bounded by `maxPause`. */
function holdExpiry(
  s: PauseMachineState,
  at: string,
  expiresAfterMs: number | undefined,
  onExpiry: ExpiryAction | undefined,
): Pick<Hold, 'expiresAt' | 'onExpiry'> {
  const max = s.policy.maxPauseMs;
  if (max !== undefined && (expiresAfterMs === undefined || expiresAfterMs > max))
    return { expiresAt: plus(at, max), onExpiry: s.policy.onMaxPause };
  if (expiresAfterMs !== undefined)
    return { expiresAt: plus(at, expiresAfterMs), onExpiry: onExpiry ?? 'resume' };
  return {};
}

function apply(state: PauseMachineState, event: PauseEvent): Step {
  switch (event.type) {
    case 'pause': {
      const r = event.request;
      if (seen(state, event.type, r.requestId)) return accept(state, [], true);
      if (state.closed) return refuse(state, 'WorkflowClosed', 'The run has ended');
      if (state.hold) {
        // Already paused: the goal holds, and the request is recorded. A pause wins over a resume still
        // being validated, and an immediate pause upgrades a graceful one whose tasks are still draining.
        let s = preemptResume(state, event.at, `superseded by a pause from ${r.by}`);
        const decisions: Decision[] = [];
        const upgrade = r.mode === 'immediate' && s.hold!.mode === 'graceful' && s.inFlight.length > 0;
        if (upgrade) {
          s = { ...s, hold: { ...s.hold!, mode: 'immediate' } };
          decisions.push({ type: 'cancelInFlight', taskIds: [...s.inFlight] });
        }
        const notes = [
          upgrade
            ? `graceful pause ${s.hold!.pauseId} made immediate`
            : `already paused (pause ${s.hold!.pauseId} by ${s.hold!.by}): joined it`,
        ];
        if (event.amend) {
          // A joined pause can only make the hold last longer, never end it sooner: a later resumeAt
          // postpones the scheduled resume; an earlier one, or one for a pause without a scheduled
          // resume, is not applied; the joiner's own expiry is not applied.
          const current = s.hold!.resumeAt;
          if (
            r.resumeAt &&
            current &&
            s.phase !== 'resuming' &&
            Date.parse(r.resumeAt) > Date.parse(current)
          ) {
            s = { ...s, hold: { ...s.hold!, resumeAt: r.resumeAt } };
            notes.push(`scheduled resume postponed from ${current} to ${r.resumeAt}`);
          } else if (r.resumeAt) {
            notes.push(
              current
                ? `resumeAt ${r.resumeAt} not applied: the pause resumes at ${current}, and a joined pause never ends it sooner`
                : `resumeAt ${r.resumeAt} not applied: the pause has no scheduled resume, and a joined pause never ends it sooner`,
            );
          }
          if (r.expiresAfterMs !== undefined)
            notes.push('expiresAfterMs not applied: only the first pause of a hold sets its expiry');
        }
        s = withAudit(s, event.at, {
          action: upgrade ? 'upgrade' : 'pause',
          kind: r.kind,
          pauseId: s.hold!.pauseId,
          by: r.by,
          reason: r.reason,
          mode: r.mode,
          requestId: r.requestId,
          message: notes.join('; '),
        });
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
        ...holdExpiry(state, event.at, r.expiresAfterMs, r.onExpiry),
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
      if (state.closed) return refuse(state, 'WorkflowClosed', 'The run has ended');
      const refusal = resumeRefusal(state, r);
      if (refusal) return refuse(state, refusal.code, refusal.message);
      if (!state.hold) return accept(state); // gate release: nothing to validate
      const token = state.nextToken;
      const s: PauseMachineState = {
        ...state,
        phase: 'resuming',
        resuming: { token, by: r.by, ...(r.requestId ? { requestId: r.requestId } : {}) },
        nextToken: token + 1,
      };
      return { ...accept(s), token };
    }

    case 'resume': {
      const r = event.request;
      if (seen(state, event.type, r.requestId)) return accept(state, [], true);
      if (state.closed) return refuse(state, 'WorkflowClosed', 'The run has ended');
      if (event.token !== undefined && (!state.hold || state.resuming?.token !== event.token)) {
        return refuse(
          state,
          'Superseded',
          'A new pause arrived while this resume was being validated: send it again',
        );
      }
      const refusal = resumeRefusal(event.token !== undefined ? { ...state, phase: 'paused' } : state, r);
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
      return accept(...endHold(state, event.at, r));
    }

    case 'resumeRejected': {
      const r = event.request;
      const mine = state.resuming?.token === event.token;
      let s: PauseMachineState = state;
      if (mine && state.phase === 'resuming') {
        const { resuming: _r, ...rest } = state;
        void _r;
        s = { ...rest, phase: state.inFlight.length ? 'pausing' : 'paused' };
      }
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

    case 'retryScheduled': {
      const due = activeAt(state, Date.parse(event.at)) + Math.max(0, event.delayMs);
      return accept({ ...state, retries: { ...state.retries, [event.taskId]: due } });
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
        ...(g.timeoutMs
          ? {
              timeoutMs: g.timeoutMs,
              onTimeout: g.onTimeout ?? 'fail',
              dueActiveMs: activeAt(state, Date.parse(event.at)) + g.timeoutMs,
            }
          : {}),
        ...(state.policy.maxPauseMs !== undefined
          ? { expiresAt: plus(event.at, state.policy.maxPauseMs) }
          : {}),
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
      if (state.closed) return refuse(state, 'WorkflowClosed', 'The run has ended');
      const gate = state.gates[r.taskId];
      if (!gate) {
        const waiting = Object.keys(state.gates);
        return refuse(
          state,
          'GateNotWaiting',
          `Task \`${r.taskId}\` is not waiting at a gate` +
            (waiting.length
              ? `; waiting: ${waiting
                  .slice(0, 20)
                  .map((w) => `\`${w}\``)
                  .join(', ')}${waiting.length > 20 ? ` and ${waiting.length - 20} more` : ''}`
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
      if (gate.approvals.some((a) => a.by === r.by)) {
        const s = withAudit(state, event.at, {
          action: 'approve',
          kind: 'gate',
          pauseId: gate.pauseId,
          by: r.by,
          reason: r.comment,
          requestId: r.requestId,
          taskId: r.taskId,
          message: `\`${r.by}\` had already approved: counted once`,
        });
        return accept(remember(s, r.requestId, event.type), [], true);
      }
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
            ...holdExpiry(s, event.at, undefined, undefined),
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

    case 'timerFired':
      return fireTimers(state, event.at);

    case 'closed': {
      const { resuming: _r, ...rest } = state;
      void _r;
      // Pauses and gates end with the run (their ending lines below say so).
      let s: PauseMachineState = {
        ...rest,
        hold: null,
        phase: 'running',
        closed: true,
        retries: {},
        gates: {},
      };
      // Every pause and gate line gets its ending line, also when the run ends while they hold.
      if (state.hold) {
        s = withAudit(s, event.at, {
          action: 'resume',
          kind: state.hold.kind,
          pauseId: state.hold.pauseId,
          by: 'system:end',
          reason: 'the run ended while paused',
        });
      }
      for (const g of Object.values(state.gates).sort((a, b) => a.pauseId - b.pauseId)) {
        s = withAudit(s, event.at, {
          action: 'resume',
          kind: 'gate',
          pauseId: g.pauseId,
          by: 'system:end',
          reason: 'the run ended while the gate waited',
          taskId: g.taskId,
        });
      }
      return accept(s);
    }

    case 'breakpoints': {
      if (seen(state, event.type, event.requestId)) return accept(state, [], true);
      if (state.closed) return refuse(state, 'WorkflowClosed', 'The run has ended');
      const list = (ids: string[]) => ids.map((id) => `\`${id}\``).join(', ');
      const parts = [
        ...(event.set.length ? [`set before ${list(event.set)}`] : []),
        ...(event.cleared.length ? [`cleared before ${list(event.cleared)}`] : []),
      ];
      const s = withAudit(state, event.at, {
        action: 'breakpoint',
        by: event.by,
        requestId: event.requestId,
        message: parts.length ? parts.join('; ') : 'no change',
      });
      return accept(remember(s, event.requestId, event.type));
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

/** Ends the workflow-level hold: failed tasks re-run (or are skipped), the clock starts again. */
function endHold(state: PauseMachineState, at: string, r: ResumeInput): [PauseMachineState, Decision[]] {
  const hold = state.hold!;
  const skip = r.skip ?? [];
  const rerun = state.failedTasks.filter((t) => !skip.includes(t));
  const { resuming: _r, ...rest } = state;
  void _r;
  let s: PauseMachineState = { ...rest, hold: null, phase: 'running', failedTasks: [] };
  s = withAudit(s, at, {
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
  return [remember(s, r.requestId, 'resume'), decisions];
}

/** Applies everything due at `at`: expiries, scheduled resumes, gate timeouts, back-offs, the deadline. */
function fireTimers(state: PauseMachineState, at: string): Step {
  const t = Date.parse(at);
  let s = state;
  const decisions: Decision[] = [];
  if (s.closed) return accept(s);
  // A pause's expiry (or maxPause) first: it ends the hold whatever else is pending.
  if (s.hold?.expiresAt && Date.parse(s.hold.expiresAt) <= t) {
    const hold = s.hold;
    const action = hold.onExpiry ?? 'resume';
    s = preemptResume(s, at, 'superseded by the pause expiring');
    s = withAudit(s, at, {
      action: 'expired',
      kind: hold.kind,
      pauseId: hold.pauseId,
      by: 'system:expiry',
      message: `pause expired: ${action}`,
    });
    if (action === 'resume') {
      const [next, d] = endHold(s, at, { by: 'system:expiry', reason: 'pause expired', force: true });
      s = next;
      decisions.push(...d);
    } else {
      s = { ...s, hold: null, phase: 'running', failedTasks: [] };
      s = withAudit(s, at, {
        action: 'resume',
        kind: hold.kind,
        pauseId: hold.pauseId,
        by: 'system:expiry',
        reason: `pause expired: ${action}`,
      });
      decisions.push({
        type: 'endRun',
        action,
        reason: `pause ${hold.pauseId} (${hold.reason || hold.kind}) expired`,
      });
    }
  } else if (s.hold?.resumeAt && s.phase !== 'resuming' && Date.parse(s.hold.resumeAt) <= t) {
    const { resumeAt, ...hold } = s.hold;
    s = { ...s, hold };
    decisions.push({ type: 'scheduledResume', pauseId: hold.pauseId, resumeAt });
  }
  // Gates: maxPause (wall time), then timeouts (active time).
  const activeNow = activeAt(s, t);
  for (const g of Object.values(s.gates).sort((a, b) => a.pauseId - b.pauseId)) {
    const maxed = g.expiresAt !== undefined && Date.parse(g.expiresAt) <= t;
    const timedOut =
      s.clock.activeSince !== null && g.dueActiveMs !== undefined && g.dueActiveMs <= activeNow;
    if (!maxed && !timedOut) continue;
    const action: GateTimeoutAction = maxed
      ? s.policy.onMaxPause === 'resume'
        ? 'approve'
        : 'fail'
      : (g.onTimeout ?? 'fail');
    const by = maxed ? 'system:maxPause' : 'system:timeout';
    const what = maxed ? 'maxPause' : 'gate timeout';
    s = { ...s, gates: { ...s.gates } };
    delete s.gates[g.taskId];
    s = withAudit(s, at, {
      action: 'expired',
      kind: 'gate',
      pauseId: g.pauseId,
      by,
      taskId: g.taskId,
      message: `${maxed ? 'gate reached maxPause' : 'gate timed out'}: ${maxed ? s.policy.onMaxPause : action}`,
    });
    s = withAudit(s, at, {
      action: 'resume',
      kind: 'gate',
      pauseId: g.pauseId,
      by,
      reason: action === 'approve' ? `${what}: approved` : `${what}: ${maxed ? s.policy.onMaxPause : action}`,
      taskId: g.taskId,
    });
    if (action === 'approve') decisions.push({ type: 'releaseGate', taskId: g.taskId });
    else if (maxed && s.policy.onMaxPause !== 'resume')
      decisions.push({
        type: 'endRun',
        action: s.policy.onMaxPause === 'cancel' ? 'cancel' : 'fail',
        reason: `the gate before \`${g.taskId}\` waited longer than maxPause (${s.policy.maxPauseMs} ms)`,
      });
    else decisions.push({ type: 'rejectGate', taskId: g.taskId, by, comment: `gate timed out (${action})` });
  }
  if (s.clock.activeSince !== null) {
    const due = Object.entries(s.retries).filter(([, d]) => d <= activeNow);
    if (due.length) {
      const retries = { ...s.retries };
      for (const [id] of due) delete retries[id];
      s = { ...s, retries };
    }
    if (s.deadlineActiveMs !== undefined && s.deadlineActiveMs <= activeNow) {
      const limit = s.deadlineActiveMs;
      const { deadlineActiveMs: _d, ...rest } = s;
      void _d;
      s = rest;
      decisions.push({
        type: 'endRun',
        action: 'fail',
        reason: `The run exceeded its deadline of ${limit} ms of active time`,
      });
    }
  }
  return accept(s, decisions);
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
        `The run is not paused; gates ${gates
          .slice(0, 20)
          .map((g) => `\`${g.taskId}\``)
          .join(', ')} need approvals: ` + 'use approve (with an approver identity) instead of resume',
    };
  }
  return {
    code: 'NotPaused',
    message: `The run is not paused (state ${stateName(state)}): nothing to resume`,
  };
}

/** The reducer state of release 0.1.0, as carried by its continue-as-new (declared with its frozen code). */
export type { PauseMachineStateV1 };

/**
 * Upgrades a state carried by release 0.1.0 (or any earlier shape of this one): bounded audit and
 * request window, the clock and due times. `activeMs` is the run's active time at `atMs`; gate timeouts
 * restart at the upgrade (0.1.0 kept no due time), retry back-offs start from `retryRemainingMs`.
 */
export function upgradePauseState(
  old: PauseMachineStateV1,
  o: InitialOptions & { activeMs: number; retryRemainingMs?: Record<string, number> },
): PauseMachineState {
  const fresh = initialPauseState(o);
  const active = old.hold === null && old.phase === 'running';
  const gates: Record<string, Gate> = {};
  for (const [id, g] of Object.entries(old.gates)) {
    gates[id] = {
      ...g,
      ...(g.timeoutMs ? { dueActiveMs: o.activeMs + g.timeoutMs } : {}),
      ...(o.maxPauseMs !== undefined ? { expiresAt: plus(g.openedAt, o.maxPauseMs) } : {}),
    };
  }
  const retries: Record<string, number> = {};
  for (const [id, ms] of Object.entries(o.retryRemainingMs ?? {})) retries[id] = o.activeMs + ms;
  const audit = old.audit.slice(-AUDIT_TAIL);
  let hold = old.hold;
  if (hold && !hold.expiresAt && o.maxPauseMs !== undefined)
    hold = { ...hold, expiresAt: plus(hold.at, o.maxPauseMs), onExpiry: fresh.policy.onMaxPause };
  const upgraded: PauseMachineState = {
    ...fresh,
    hold,
    // Nothing is in flight in a new run: a held run is paused.
    phase: hold ? 'paused' : 'running',
    gates,
    inFlight: [],
    failedTasks: [...old.failedTasks],
    audit,
    auditCount: old.audit.length,
    requests: Object.keys(old.requests).slice(-REMEMBERED_REQUESTS),
    nextPauseId: old.nextPauseId,
    clock: { activeMs: o.activeMs, activeSince: active ? o.startMs : null },
    retries,
  };
  // A hold whose drain was never recorded (0.1.0 continued as new while a resume was validating) drains now.
  if (hold && !hold.drainedAt) {
    const at = new Date(o.startMs).toISOString();
    return withAudit({ ...upgraded, hold: { ...hold, drainedAt: at } }, at, {
      action: 'drained',
      kind: hold.kind,
      pauseId: hold.pauseId,
    });
  }
  return upgraded;
}
