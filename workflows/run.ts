// The run-state holder of the generic workflow: task records, outputs and the merged context, the pause
// reducer's state, resources, and how the run ends. Every other part of the shell reads it; the pause
// state changes only through `feed`, which hands the reducer's decisions to whoever carries them out.
import {
  isTerminal,
  jsonBytes,
  mergeContexts,
  PAYLOAD_LIMIT_BYTES,
  type DagSpec,
  type JsonObject,
  type ResourceRecord,
  type TaskRecord,
  type TaskSpec,
  type TaskState,
} from './dag';
import type { WorkflowRunStatus as RunStatus } from './messages';
import {
  activeAt,
  canStart,
  currentPause,
  gateStatuses,
  initialPauseState,
  liveRunState,
  reduce,
  upgradePauseState,
  type AuditEntry,
  type Decision,
  type PauseEvent,
  type PauseMachineState,
  type RunState,
  type Step,
} from './pause-machine';
import type { CarriedStateV1 } from './v1/dag-workflow';

/** What release 0.1.0 carried across continue-as-new (declared with its frozen code). */
export type { CarriedStateV1 };

/** State carried across continue-as-new (bounded: one record per task and resource, bounded audit). */
export interface CarriedState {
  version: 2;
  tasks: Record<string, TaskRecord>;
  /** Outputs still needed: by a dependent that has not finished, or as the final context. */
  outputs: Record<string, JsonObject>;
  /**
   * The merge of the initial context and every completed task's output, in completion order. Absent when
   * it equals the last completed task's output (`contextIsLastOutput`), which is carried once.
   */
  context?: JsonObject;
  /** The merged context is the output of `lastCompleted` (release 0.9 on). */
  contextIsLastOutput?: true;
  lastCompleted?: string;
  pause: PauseMachineState;
  resources: Record<string, ResourceRecord>;
  /** Gates already approved (their tasks may run). */
  passedGates: string[];
  /** Run-time breakpoints still ahead (absent when none, and in states carried by older releases). */
  breakpoints?: string[];
  startedAt: string;
  continuedAsNew: number;
}

/** How the run ended (or is asked to end). */
export interface EndRequest {
  action: 'fail' | 'cancel';
  reason: string;
  /** The error's type (default: `Cancelled` or `Expired`, after the action). */
  type?: string;
}

/** The state of one run of `cloacinaDag`, shared by every part of the shell. */
export class Run {
  readonly spec: DagSpec;
  readonly specs: Map<string, TaskSpec>;
  /** Tasks that depend on each task. */
  readonly dependents: Map<string, string[]>;
  readonly tasks: Record<string, TaskRecord>;
  readonly outputs: Record<string, JsonObject>;
  readonly resources: Record<string, ResourceRecord>;
  readonly passedGates: Set<string>;
  /** Run-time breakpoints still ahead: gates before tasks that have not started. */
  readonly breakpoints: Set<string>;
  readonly startedAt: string;
  readonly continuedAsNew: number;
  initialContext: JsonObject;
  context: JsonObject;
  lastCompleted: string | undefined;
  pm: PauseMachineState;

  /** Set once the run has ended. */
  closedAt: string | undefined;
  endState: RunState | undefined;
  error: { type: string; message: string } | undefined;
  endRequest: EndRequest | undefined;
  /** An unexpected error from a task driver: the run fails with it. */
  fatal: unknown;
  /** Continue-as-new was suggested: no task starts until the run has continued. */
  drainingSince: string | undefined;

  /**
   * Whether the kinds only the library sends must prove it: a `task` pause the proof of the task's running
   * attempt, a `bulk` pause pauseAll's request id (runs begun before this check accept both kinds as
   * before, so that their histories replay).
   */
  requireKindProof = false;
  /** Whether a pause joining one in effect may postpone its scheduled resume (same reason as above). */
  amendJoinedPauses = false;
  /**
   * Whether at most MAX_IN_FLIGHT attempts run at once (runs begun before the cap start every ready task
   * at once, as their histories recorded).
   */
  capInFlight = false;
  /**
   * Whether activity attempts skip the waits that would end at once and race nothing, as local attempts
   * do (runs begun before keep the commands their histories recorded).
   */
  leanAttempts = false;
  /**
   * Whether the main loop keeps the reducer's timer and the ready scan holds tasks at their gates, with
   * no coroutine parked on a `condition()` for either (runs begun with release 0.7; older runs keep the
   * order of commands their histories recorded).
   */
  quietWaits = false;
  /**
   * Whether the outcomes of local attempts are held until every local attempt started with them has
   * resolved, and the run's workflow-task yields count started local attempts (runs begun with release
   * 0.8): nothing the run decides depends on how a replay batches local results. Older runs keep the
   * commands their histories recorded.
   */
  localWaves = false;
  /** The proof each running attempt was given, by task id. */
  readonly attemptProofs = new Map<string, string>();

  /** Bumped on every change the main loop must look at. */
  version = 0;
  /** The main loop's wait for the next change ({@link changed}), if it is waiting. */
  #wake: { resolve: () => void; reject: (err: unknown) => void } | undefined;
  /** Why the run was cancelled, once it was: every later wait for a change rejects with it. */
  #cancelled: { err: unknown } | undefined;
  /** Audit lines not yet written to the event history. */
  readonly pendingAudit: AuditEntry[] = [];
  /** Carries out the reducer's decisions (set by the shell). */
  onDecision: (d: Decision) => void = () => undefined;
  /** Called after every change, to refresh search attributes and details (set by the shell). */
  onChange: () => void = () => undefined;

  constructor(spec: DagSpec, context: JsonObject, carried: CarriedState | CarriedStateV1 | undefined) {
    this.spec = spec;
    this.specs = new Map(spec.tasks.map((t) => [t.id, t]));
    this.dependents = new Map(spec.tasks.map((t) => [t.id, [] as string[]]));
    for (const t of spec.tasks) for (const d of t.dependencies) this.dependents.get(d)?.push(t.id);
    const nowMs = Date.now();
    this.initialContext = context;
    if (carried && 'version' in carried) {
      this.tasks = carried.tasks;
      this.outputs = carried.outputs;
      this.context = carried.context ?? carried.outputs[carried.lastCompleted!] ?? context;
      this.lastCompleted = carried.lastCompleted;
      // Nothing is in flight in a new run: attempts settle before continue-as-new.
      this.pm = { ...carried.pause, inFlight: [] };
      this.resources = carried.resources;
      this.passedGates = new Set(carried.passedGates);
      this.breakpoints = new Set(carried.breakpoints ?? []);
      this.startedAt = carried.startedAt;
      this.continuedAsNew = carried.continuedAsNew;
    } else if (carried) {
      this.tasks = carried.tasks;
      this.outputs = carried.outputs;
      this.context = mergeContexts([
        context,
        ...carried.completionOrder.map((id) => carried.outputs[id] ?? {}),
      ]);
      this.lastCompleted = carried.completionOrder[carried.completionOrder.length - 1];
      this.pm = upgradePauseState(carried.pause, {
        startMs: nowMs,
        activeMs: carried.activeMs,
        retryRemainingMs: carried.retryRemainingMs,
        ...this.policy(),
      });
      for (const rec of Object.values(this.tasks)) if (rec.state === 'running') rec.state = 'pending';
      this.resources = carried.resources;
      this.passedGates = new Set(carried.passedGates);
      this.breakpoints = new Set();
      this.startedAt = carried.startedAt;
      this.continuedAsNew = carried.continuedAsNew;
    } else {
      this.tasks = Object.fromEntries(
        spec.tasks.map((t) => [t.id, { state: 'pending', attempts: 0, interrupted: 0 } satisfies TaskRecord]),
      );
      this.outputs = {};
      this.context = context;
      this.lastCompleted = undefined;
      this.pm = initialPauseState({ startMs: nowMs, ...this.policy() });
      this.resources = Object.fromEntries(
        spec.resources.map((r) => [
          r.id,
          { state: 'absent', setups: 0, teardowns: 0 } satisfies ResourceRecord,
        ]),
      );
      this.passedGates = new Set();
      this.breakpoints = new Set();
      this.startedAt = new Date(nowMs).toISOString();
      this.continuedAsNew = 0;
    }
  }

  private policy() {
    const p = this.spec.pausePolicy;
    return {
      ...(p.maxPauseMs !== undefined ? { maxPauseMs: p.maxPauseMs } : {}),
      ...(p.onMaxPause ? { onMaxPause: p.onMaxPause } : {}),
      ...(this.spec.deadlineMs !== undefined ? { deadlineMs: this.spec.deadlineMs } : {}),
    };
  }

  /** Workflow time as an ISO instant. */
  now(): string {
    return new Date(Date.now()).toISOString();
  }

  /** Feeds one event to the pause reducer and carries out its decisions. */
  feed(event: PauseEvent): Step {
    const before = this.pm.auditCount;
    const step = reduce(this.pm, event);
    this.pm = step.state;
    for (const e of step.state.audit) if (e.seq > before) this.pendingAudit.push(e);
    for (const d of step.decisions) this.onDecision(d);
    this.touch();
    return step;
  }

  /** Records that something changed. */
  touch(): void {
    this.version++;
    this.onChange();
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake.resolve();
    }
  }

  /**
   * Resolves at the first change after `seen` (a {@link version}); rejects once the run is cancelled.
   * The main loop's wait in runs begun with `leanAttempts`: one promise, where a `condition()` costs
   * several and one more pass of the SDK over its blocked conditions.
   */
  changed(seen: number): Promise<void> {
    if (this.#cancelled) return Promise.reject(this.#cancelled.err);
    if (this.version !== seen) return Promise.resolve();
    return new Promise((resolve, reject) => (this.#wake = { resolve, reject }));
  }

  /** The run was cancelled: the main loop's wait ends with the cancellation. */
  cancelled(err: unknown): void {
    this.#cancelled ??= { err };
    const wake = this.#wake;
    if (wake) {
      this.#wake = undefined;
      wake.reject(err);
    }
  }

  /** Whether a task attempt may start now: no pause, no continue-as-new drain, not ended. */
  mayStart(): boolean {
    return canStart(this.pm) && this.drainingSince === undefined && this.closedAt === undefined;
  }

  depsTerminal(t: TaskSpec): boolean {
    return t.dependencies.every((d) => isTerminal(this.tasks[d]!.state));
  }

  allTerminal(): boolean {
    // In a DAG, a task not terminal has a first ancestor not terminal, whose dependencies all are.
    return this.#frontier().open.length === 0;
  }

  /** Nothing to do but wait on gates: no task ready or running outside a gate. */
  idle(): boolean {
    // A task whose dependencies are not all terminal is pending: only the frontier can be doing anything.
    return (
      this.pm.inFlight.length === 0 && this.#frontier().open.every((i) => this.#stateAt(i) === 'waiting')
    );
  }

  /**
   * The smallest index in `spec.tasks`, above `after`, of a task that is not terminal while all its
   * dependencies are (the ready scan's candidates: ready, running, or held); -1 when there is none.
   * Kept up to date by {@link finish}, so the scan and the checks above cost the frontier's size rather
   * than the DAG's at every step.
   */
  nextOpen(after: number): number {
    const open = this.#frontier().open;
    const at = lowerBound(open, after + 1);
    return at < open.length ? open[at]! : -1;
  }

  #stateAt(index: number): TaskState {
    return this.tasks[this.spec.tasks[index]!.id]!.state;
  }

  /** Built at first use (after the constructor settled the task records, carried ones included). */
  #front: { open: number[]; blockers: number[]; index: Map<string, number> } | undefined;

  #frontier() {
    if (this.#front) return this.#front;
    const index = new Map(this.spec.tasks.map((t, i) => [t.id, i]));
    const blockers = this.spec.tasks.map(
      (t) => t.dependencies.filter((d) => !isTerminal(this.tasks[d]!.state)).length,
    );
    const open: number[] = [];
    this.spec.tasks.forEach((t, i) => {
      if (blockers[i] === 0 && !isTerminal(this.tasks[t.id]!.state)) open.push(i);
    });
    this.#front = { open, blockers, index };
    return this.#front;
  }

  /** Keeps the frontier when a task becomes terminal: it leaves it, and dependents it unblocks join it. */
  #becameTerminal(id: string): void {
    const front = this.#frontier();
    const open = front.open;
    const i = front.index.get(id)!;
    const at = lowerBound(open, i);
    if (open[at] === i) open.splice(at, 1);
    for (const d of this.dependents.get(id) ?? []) {
      const j = front.index.get(d)!;
      if (--front.blockers[j]! === 0 && !isTerminal(this.tasks[d]!.state)) {
        const to = lowerBound(open, j);
        if (open[to] !== j) open.splice(to, 0, j);
      }
    }
  }

  state(): RunState {
    return this.closedAt && this.endState ? this.endState : liveRunState(this.pm, this.idle());
  }

  /** A task's input: the initial context for roots, else the merge of its dependencies' outputs. */
  inputContext(t: TaskSpec): JsonObject {
    return t.dependencies.length === 0
      ? this.initialContext
      : mergeContexts(t.dependencies.map((d) => this.outputs[d] ?? {}));
  }

  /** The current context: the final one once ended, else the merge of every completed output. */
  currentContext(): JsonObject {
    return this.closedAt ? this.finalContext() : this.context;
  }

  /**
   * The initial context while anything may still read it: a root task not yet ended, or no task
   * completed (the final context would be it). Otherwise nothing reads it again, and the next run of the
   * chain starts from an empty one rather than carry another copy of a context.
   */
  initialContextToCarry(): JsonObject {
    if (this.lastCompleted === undefined) return this.initialContext;
    for (const t of this.spec.tasks)
      if (t.dependencies.length === 0 && !isTerminal(this.tasks[t.id]!.state)) return this.initialContext;
    return {};
  }

  /** The output of the last task to complete (the initial context when none did). */
  finalContext(): JsonObject {
    return this.lastCompleted !== undefined
      ? (this.outputs[this.lastCompleted] ?? this.context)
      : this.initialContext;
  }

  /** Records a task's end and forgets outputs no unfinished task needs any more. */
  finish(
    id: string,
    state: 'completed' | 'failed' | 'skipped',
    output: JsonObject,
    extra: Partial<TaskRecord> = {},
  ): void {
    const rec = this.tasks[id]!;
    const wasTerminal = isTerminal(rec.state);
    // Built (if it is not yet) from the states before this change, which #becameTerminal then applies.
    if (!wasTerminal) this.#frontier();
    Object.assign(rec, { state, finishedAt: this.now() }, extra);
    if (!wasTerminal) this.#becameTerminal(id);
    this.outputs[id] = output;
    const previous = this.lastCompleted;
    if (state === 'completed') {
      this.context = mergeContexts([this.context, output]);
      this.lastCompleted = id;
    }
    for (const d of [...this.specs.get(id)!.dependencies, ...(previous ? [previous] : []), id])
      this.forgetIfUnneeded(d);
    this.touch();
  }

  private forgetIfUnneeded(id: string): void {
    if (id === this.lastCompleted || !isTerminal(this.tasks[id]!.state)) return;
    if ((this.dependents.get(id) ?? []).every((d) => isTerminal(this.tasks[d]!.state)))
      delete this.outputs[id];
  }

  /** Sets keys in the context of every task not yet started (resume's `contextPatch`). */
  applyContextPatch(patch: JsonObject): void {
    const over = (o: JsonObject) => {
      const out = { ...o };
      for (const [k, v] of Object.entries(patch))
        Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
      return out;
    };
    this.initialContext = over(this.initialContext);
    this.context = over(this.context);
    for (const id of Object.keys(this.outputs)) this.outputs[id] = over(this.outputs[id]!);
  }

  activeMs(): number {
    return activeAt(this.pm, Date.now());
  }

  status(): RunStatus {
    return {
      workflow: this.spec.name,
      state: this.state(),
      tasks: cloneJson(this.tasks),
      pause: currentPause(this.pm),
      gates: gateStatuses(this.pm, Date.now()),
      audit: [...this.pm.audit],
      auditCount: this.pm.auditCount,
      resources: cloneJson(this.resources),
      startedAt: this.startedAt,
      ...(this.closedAt ? { closedAt: this.closedAt } : {}),
      activeMs: this.activeMs(),
      ...(this.error ? { error: this.error } : {}),
      continuedAsNew: this.continuedAsNew,
      ...(this.drainingSince && !this.closedAt
        ? { draining: { reason: 'continueAsNew' as const, since: this.drainingSince } }
        : {}),
      ...(this.breakpoints.size ? { breakpoints: [...this.breakpoints] } : {}),
    };
  }

  /** What the next run of the chain starts from. */
  carried(): CarriedState {
    // Each copy of a large context counts against the payload limit of the next run's input: in a chain
    // the merged context is the last output, so it is carried once.
    const last = this.lastCompleted !== undefined ? this.outputs[this.lastCompleted] : undefined;
    const contextIsLastOutput =
      last !== undefined && (last === this.context || JSON.stringify(last) === JSON.stringify(this.context));
    return {
      version: 2,
      tasks: this.tasks,
      outputs: this.outputs,
      ...(contextIsLastOutput ? { contextIsLastOutput: true as const } : { context: this.context }),
      ...(this.lastCompleted !== undefined ? { lastCompleted: this.lastCompleted } : {}),
      pause: this.pm,
      resources: this.resources,
      passedGates: [...this.passedGates],
      ...(this.breakpoints.size ? { breakpoints: [...this.breakpoints] } : {}),
      startedAt: this.startedAt,
      continuedAsNew: this.continuedAsNew + 1,
    };
  }
}

export function cloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

/** The first position in the ascending array `a` whose value is at least `value` (`a.length` if none). */
function lowerBound(a: number[], value: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < value) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** What a continue-as-new input may weigh: the server's payload limit, less room for the encoding. */
export const MAX_CARRIED_BYTES = PAYLOAD_LIMIT_BYTES - 64 * 1024;

/**
 * A closed run's status as its result carries it beside the final context: whole when both fit in one
 * payload, else without the records of completed tasks (counted in `omittedTasks`), which a DAG of
 * thousands of tasks with a large context would otherwise push over the server's limit.
 */
export function fitStatus(status: RunStatus, context: JsonObject): RunStatus {
  if (jsonBytes(status) + jsonBytes(context) <= MAX_CARRIED_BYTES) return status;
  const tasks: RunStatus['tasks'] = {};
  let omittedTasks = 0;
  for (const [id, rec] of Object.entries(status.tasks)) {
    if (rec.state === 'completed') omittedTasks++;
    else tasks[id] = rec;
  }
  return { ...status, tasks, omittedTasks };
}
