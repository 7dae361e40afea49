// FROZEN: the workflow code of release 0.1.0, kept byte-for-byte in behaviour so that histories begun
// under that release replay (see workflows/dag-workflow.ts, which enters it when `patched()` says the
// history predates the current code). Never change the commands it issues; its continue-as-new hands the
// run over to the current code, which upgrades the carried state.
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  workflowInfo,
  upsertSearchAttributes,
  allHandlersFinished,
  ActivityFailure,
  TimeoutFailure,
} from '@temporalio/workflow';
import type { CloacinaActivities, RunTaskResult } from '../activity-contract';
import {
  evaluateTrigger,
  describeTrigger,
  nearest,
  isTerminal,
  mergeContexts,
  retryDelay,
  shouldRetry,
  type DagSpec,
  type FailureInfo,
  type JsonObject,
  type JsonValue,
  type ResourceRecord,
  type TaskRecord,
  type TaskSpec,
} from '../dag';
import {
  approveSignal,
  approveUpdate,
  contextQuery,
  describeIssues,
  requestSchemas,
  pauseSignal,
  pauseUpdate,
  rejectSignal,
  rejectUpdate,
  resumeSignal,
  resumeUpdate,
  statusQuery,
  type ControlResult,
  type WorkflowRunStatus as RunStatus,
} from '../messages';
import {
  canStart,
  currentPause,
  gateStatuses,
  initialPauseState,
  liveRunState,
  reduce,
  type Decision,
  type PauseEvent,
  type PauseMachineState,
  type ResumeInput,
  type RunState,
  type Step,
} from './pause-machine';
import {
  CloacinaGate,
  CloacinaPaused,
  CloacinaPausedAt,
  CloacinaPausedBy,
  CloacinaPauseKind,
  CloacinaPauseReason,
  CloacinaResumeAt,
  CloacinaState,
  CloacinaWorkflow,
} from '../search-attributes';
import type { z } from 'zod';

/** State carried across continue-as-new. */
export interface CarriedStateV1 {
  tasks: Record<string, TaskRecord>;
  outputs: Record<string, JsonObject>;
  completionOrder: string[];
  pause: PauseMachineState;
  resources: Record<string, ResourceRecord>;
  /** Remaining back-off of tasks waiting to retry, ms. */
  retryRemainingMs: Record<string, number>;
  /** Gates already approved (their tasks may run). */
  passedGates: string[];
  activeMs: number;
  startedAt: string;
  continuedAsNew: number;
}

/** Input of {@link cloacinaDag}. */
export interface DagWorkflowInputV1 {
  spec: DagSpec;
  context: JsonObject;
  carried?: CarriedStateV1;
}

interface AttemptControl {
  scope: CancellationScope;
  interruptedByPause: boolean;
  settled: boolean;
  abandon: () => void;
  abandoned: Promise<void>;
}

type AttemptOutcome =
  | { kind: 'ok'; result: RunTaskResult }
  | { kind: 'interrupted' }
  | { kind: 'failed'; failure: FailureInfo }
  | { kind: 'cancelled'; error: unknown };

/** Signals and updates arriving without `by` are recorded under this identity. */
const ANONYMOUS = 'anonymous';

/** The generic Cloacina DAG workflow. Users never write workflow code: they define tasks. */
export async function cloacinaDagV1(
  input: DagWorkflowInputV1,
): Promise<{ context: JsonObject; status: RunStatus }> {
  const { spec } = input;
  const specs = new Map(spec.tasks.map((t) => [t.id, t]));
  const carried = input.carried;
  const now = () => new Date(Date.now()).toISOString();

  // ---- state -------------------------------------------------------------------------------------
  const tasks: Record<string, TaskRecord> =
    carried?.tasks ??
    Object.fromEntries(spec.tasks.map((t) => [t.id, { state: 'pending', attempts: 0, interrupted: 0 }]));
  const outputs: Record<string, JsonObject> = carried?.outputs ?? {};
  const completionOrder: string[] = carried?.completionOrder ?? [];
  let pm: PauseMachineState = carried?.pause ?? initialPauseState();
  const resources: Record<string, ResourceRecord> =
    carried?.resources ??
    Object.fromEntries(spec.resources.map((r) => [r.id, { state: 'absent', setups: 0, teardowns: 0 }]));
  const retryRemainingMs: Record<string, number> = carried?.retryRemainingMs ?? {};
  const passedGates = new Set(carried?.passedGates ?? []);
  const startedAt = carried?.startedAt ?? now();
  const continuedAsNew = carried?.continuedAsNew ?? 0;
  let initialContext: JsonObject = input.context;
  let activeMs = carried?.activeMs ?? 0;
  let activeSince: number | undefined = canStart(pm) ? Date.now() : undefined;
  let runState: RunState = 'running';
  let closedAt: string | undefined;
  let runError: { type: string; message: string } | undefined;
  let endRequest: { action: 'fail' | 'cancel'; reason: string } | undefined;
  let fatal: unknown;
  let changed = true;

  const driving = new Set<string>();
  const attempts = new Map<string, AttemptControl>();
  const gateOutcome = new Map<
    string,
    { approved: true } | { approved: false; by: string; comment?: string }
  >();
  const rerun = new Set<string>();
  const skipAfterFailure = new Set<string>();
  const resourceLocks = new Map<string, Promise<void>>();

  // ---- helpers -------------------------------------------------------------------------------------
  const idle = () =>
    spec.tasks.every((t) => {
      const s = tasks[t.id]!.state;
      return isTerminal(s) || s === 'waiting' || (s === 'pending' && !depsTerminal(t));
    }) && pm.inFlight.length === 0;

  const currentState = (): RunState => (closedAt ? runState : liveRunState(pm, idle()));

  const currentContext = (): JsonObject => {
    if (closedAt) return finalContext();
    return mergeContexts([initialContext, ...completionOrder.map((id) => outputs[id]!)]);
  };

  const finalContext = (): JsonObject => {
    const last = completionOrder[completionOrder.length - 1];
    return last ? outputs[last]! : initialContext;
  };

  const status = (): RunStatus => ({
    workflow: spec.name,
    state: currentState(),
    tasks: structuredCloneJson(tasks),
    pause: currentPause(pm),
    gates: gateStatuses(pm),
    audit: pm.audit,
    auditCount: pm.audit.length,
    resources: structuredCloneJson(resources),
    startedAt,
    ...(closedAt ? { closedAt } : {}),
    activeMs: activeMs + (activeSince !== undefined ? Date.now() - activeSince : 0),
    ...(runError ? { error: runError } : {}),
    continuedAsNew,
  });

  const tickClock = () => {
    const active = canStart(pm) && !closedAt;
    if (active && activeSince === undefined) activeSince = Date.now();
    if (!active && activeSince !== undefined) {
      activeMs += Date.now() - activeSince;
      activeSince = undefined;
    }
  };

  let lastAttrs = '';
  let flushQueued = false;
  /**
   * Records a transition: the active clock now, the search attributes and current details once the
   * present step is over, so several transitions in one step cost one upsert (one history event).
   */
  const publish = () => {
    tickClock();
    if (flushQueued) return;
    flushQueued = true;
    void Promise.resolve().then(() => {
      flushQueued = false;
      flushVisibility();
    });
  };
  const flushVisibility = () => {
    const pause = currentPause(pm);
    const state = currentState();
    const gates = Object.keys(pm.gates);
    const attrs = {
      state,
      paused: pause !== null && !closedAt,
      by: pause?.by ?? null,
      at: pause?.at ?? null,
      reason: pause?.reason ?? null,
      kind: pause?.kind ?? null,
      gates,
      resumeAt: earliest(pm.hold?.resumeAt, pm.hold?.expiresAt) ?? null,
    };
    const key = JSON.stringify(attrs);
    if (key !== lastAttrs) {
      lastAttrs = key;
      upsertSearchAttributes([
        { key: CloacinaState, value: state },
        { key: CloacinaWorkflow, value: spec.name },
        { key: CloacinaPaused, value: attrs.paused },
        { key: CloacinaPausedBy, value: attrs.paused ? attrs.by : null },
        { key: CloacinaPausedAt, value: attrs.paused && attrs.at ? new Date(attrs.at) : null },
        { key: CloacinaPauseReason, value: attrs.paused && attrs.reason ? attrs.reason : null },
        { key: CloacinaPauseKind, value: attrs.paused ? attrs.kind : null },
        { key: CloacinaGate, value: gates.length ? gates : null },
        { key: CloacinaResumeAt, value: attrs.paused && attrs.resumeAt ? new Date(attrs.resumeAt) : null },
      ]);
    }
    setCurrentDetails(describeForUi(spec.name, state, pause, gates));
  };

  const feed = (event: PauseEvent): Step => {
    const step = reduce(pm, event);
    pm = step.state;
    for (const d of step.decisions) carryOut(d);
    changed = true;
    publish();
    return step;
  };

  const carryOut = (d: Decision) => {
    switch (d.type) {
      case 'cancelInFlight':
        for (const id of d.taskIds) interruptAttempt(id);
        break;
      case 'drained':
        releaseResourcesOnPause();
        break;
      case 'releaseGate':
        gateOutcome.set(d.taskId, { approved: true });
        break;
      case 'rejectGate':
        gateOutcome.set(d.taskId, { approved: false, by: d.by, comment: d.comment });
        break;
      case 'rerunTasks':
        for (const id of d.taskIds) rerun.add(id);
        break;
      case 'skipTasks':
        for (const id of d.taskIds) skipAfterFailure.add(id);
        break;
      case 'resumed':
        break;
      case 'endRun':
        endRequest = { action: d.action, reason: d.reason };
        break;
    }
  };

  const interruptAttempt = (id: string) => {
    const ctl = attempts.get(id);
    if (!ctl || ctl.interruptedByPause) return;
    ctl.interruptedByPause = true;
    ctl.scope.cancel();
    // Bound the wait for tasks that never observe cancellation (at-least-once: the abandoned attempt
    // may still finish on its worker; its result is ignored and the task runs again after resume).
    void condition(() => ctl.settled, spec.pausePolicy.drainTimeoutMs)
      .then((settled) => {
        if (!settled) {
          log.warn('Task did not stop within the drain timeout; abandoning the attempt', { taskId: id });
          ctl.abandon();
        }
      })
      .catch(() => undefined);
  };

  // ---- frozen clock ---------------------------------------------------------------------------------
  /** Sleeps `ms` of active (unpaused) time; returns early, true, when `abort()` becomes true. */
  const activeSleep = async (ms: number, abort: () => boolean = () => false): Promise<boolean> => {
    let remaining = ms;
    for (;;) {
      await condition(() => canStart(pm) || abort());
      if (abort()) return true;
      const t0 = Date.now();
      const interrupted = await condition(() => !canStart(pm) || abort(), Math.max(1, remaining));
      remaining -= Date.now() - t0;
      if (!interrupted || remaining <= 0) return abort();
    }
  };

  // ---- resources ---------------------------------------------------------------------------------------
  // Resume validation (the hook and the task registry check) while the resume caller waits.
  const validationActs = proxyActivities<CloacinaActivities>({
    startToCloseTimeout: '1 minute',
    retry: { maximumAttempts: 3, initialInterval: '500ms', maximumInterval: '5s' },
  });
  const resourceSpecs = new Map(spec.resources.map((r) => [r.id, r]));
  const resourceProxy = (rid: string) => {
    // Specs from older starts have no retry: use the former fixed policy.
    const retry = resourceSpecs.get(rid)?.retry ?? { attempts: 5, delayMs: 1000 };
    return proxyActivities<CloacinaActivities>({
      startToCloseTimeout: '5 minutes',
      summary: rid,
      retry: {
        maximumAttempts: retry.attempts,
        initialInterval: Math.max(1, retry.delayMs),
        maximumInterval: '30s',
      },
    });
  };

  let resourceOps = 0;
  const withResourceLock = async (id: string, fn: () => Promise<void>) => {
    resourceOps++;
    const prev = resourceLocks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    resourceLocks.set(
      id,
      next.catch(() => undefined),
    );
    try {
      return await next;
    } finally {
      resourceOps--;
    }
  };

  const ensureResources = async (task: TaskSpec) => {
    for (const rid of task.uses) {
      await withResourceLock(rid, async () => {
        const r = resources[rid]!;
        if (r.state === 'ready') return;
        try {
          r.handle = await resourceProxy(rid)['cloacina.setupResource']({
            workflowName: spec.name,
            resourceId: rid,
            context: currentContext(),
            reason: r.setups === 0 ? 'start' : 'resume',
          });
          r.state = 'ready';
          r.setups++;
          delete r.error;
        } catch (err) {
          r.state = 'failed';
          r.error = `setup failed: ${failureMessage(err)}`;
          throw err;
        } finally {
          publish();
        }
      });
    }
  };

  const teardown = async (rid: string, reason: string) =>
    withResourceLock(rid, async () => {
      const r = resources[rid]!;
      if (r.state !== 'ready') return;
      try {
        await resourceProxy(rid)['cloacina.teardownResource']({
          workflowName: spec.name,
          resourceId: rid,
          context: currentContext(),
          handle: r.handle,
          reason,
        });
        r.teardowns++;
        r.state = reason === 'pause' ? 'released' : 'tornDown';
        delete r.handle;
        delete r.error;
      } catch (err) {
        // Recorded and reported; never loses the run's result.
        r.error = `teardown (${reason}) failed: ${failureMessage(err)}`;
        if (reason !== 'pause') r.state = 'failed';
        log.error('Resource teardown failed', { resourceId: rid, error: r.error });
      }
    });

  const releaseResourcesOnPause = () => {
    for (const r of spec.resources) {
      if (r.releaseOnPause && resources[r.id]!.state === 'ready') {
        void teardown(r.id, 'pause').then(publish);
      }
    }
  };

  const teardownAll = async () => {
    await Promise.all(spec.resources.map((r) => teardown(r.id, 'end')));
  };

  // ---- tasks -------------------------------------------------------------------------------------------
  function depsTerminal(t: TaskSpec): boolean {
    return t.dependencies.every((d) => isTerminal(tasks[d]!.state));
  }

  const inputContext = (t: TaskSpec): JsonObject =>
    t.dependencies.length === 0 ? initialContext : mergeContexts(t.dependencies.map((d) => outputs[d] ?? {}));

  const finish = (
    id: string,
    state: 'completed' | 'failed' | 'skipped',
    output: JsonObject,
    extra: Partial<TaskRecord> = {},
  ) => {
    const rec = tasks[id]!;
    Object.assign(rec, { state, finishedAt: now() }, extra);
    outputs[id] = output;
    if (state === 'completed') completionOrder.push(id);
    changed = true;
    publish();
  };

  const startReadyTasks = () => {
    let again = true;
    while (again) {
      again = false;
      for (const t of spec.tasks) {
        const rec = tasks[t.id]!;
        if (driving.has(t.id) || isTerminal(rec.state) || !depsTerminal(t)) continue;
        const ctx = inputContext(t);
        const states = Object.fromEntries(t.dependencies.map((d) => [d, tasks[d]!.state]));
        const fresh =
          rec.state === 'pending' && rec.attempts === 0 && rec.interrupted === 0 && !passedGates.has(t.id);
        if (fresh && !evaluateTrigger(t.triggerRule, states, ctx)) {
          finish(t.id, 'skipped', ctx, {
            skipReason: `trigger rule ${describeTrigger(t.triggerRule)} not met`,
          });
          again = true;
          continue;
        }
        driving.add(t.id);
        driveTask(t).then(
          () => driving.delete(t.id),
          (err: unknown) => {
            driving.delete(t.id);
            fatal ??= err;
            changed = true;
          },
        );
      }
    }
  };

  const runAttempt = async (t: TaskSpec, rec: TaskRecord): Promise<AttemptOutcome> => {
    const acts = proxyActivities<CloacinaActivities>({
      startToCloseTimeout: t.timeoutMs,
      heartbeatTimeout: t.heartbeatTimeoutMs,
      retry: { maximumAttempts: 1 },
      cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      activityId: `${t.id}#${rec.attempts + rec.interrupted}`,
      summary: t.id,
    });
    let abandon!: () => void;
    const abandoned = new Promise<void>((r) => (abandon = r));
    const ctl: AttemptControl = {
      scope: new CancellationScope(),
      interruptedByPause: false,
      settled: false,
      abandon,
      abandoned,
    };
    attempts.set(t.id, ctl);
    const resourceHandles = Object.fromEntries(
      t.uses.map((u) => [u, resources[u]!.handle ?? null]),
    ) as Record<string, JsonValue>;
    const attempt = ctl.scope
      .run(() =>
        acts['cloacina.runTask']({
          workflowName: spec.name,
          taskId: t.id,
          attempt: rec.attempts,
          context: inputContext(t),
          resources: resourceHandles,
        }),
      )
      .then(
        (result): AttemptOutcome => ({ kind: 'ok', result }),
        (err: unknown): AttemptOutcome => {
          if (ctl.interruptedByPause && isCancellation(err)) return { kind: 'interrupted' };
          if (isCancellation(err) && !isActivityTimeout(err)) return { kind: 'cancelled', error: err };
          return { kind: 'failed', failure: toFailureInfo(err) };
        },
      );
    const outcome = await Promise.race([
      attempt,
      abandoned.then((): AttemptOutcome => ({ kind: 'interrupted' })),
    ]);
    ctl.settled = true;
    attempts.delete(t.id);
    return outcome;
  };

  async function driveTask(t: TaskSpec): Promise<void> {
    const rec = tasks[t.id]!;
    // A `pauseBefore` gate holds the task until it is approved (other branches keep running).
    if (t.pauseBefore && !passedGates.has(t.id)) {
      if (rec.state !== 'waiting') {
        rec.state = 'waiting';
        feed({ type: 'gateOpened', at: now(), taskId: t.id, gate: t.pauseBefore });
      }
      const gate = t.pauseBefore;
      if (gate.timeoutMs) {
        void activeSleep(gate.timeoutMs, () => gateOutcome.has(t.id)).then((resolved) => {
          if (!resolved && pm.gates[t.id]) feed({ type: 'gateTimedOut', at: now(), taskId: t.id });
        });
      }
      await condition(() => gateOutcome.has(t.id));
      const outcome = gateOutcome.get(t.id)!;
      gateOutcome.delete(t.id);
      if (!outcome.approved) {
        const message = `Gate before \`${t.id}\` rejected by ${outcome.by}${outcome.comment ? `: ${outcome.comment}` : ''}`;
        finish(t.id, 'failed', inputContext(t), { error: { type: 'GateRejected', message } });
        return;
      }
      passedGates.add(t.id);
      rec.state = 'pending';
      publish();
    }

    for (;;) {
      if (rec.state === 'held') {
        // Exhausted retries under onTaskFailure 'pause': wait for resume (re-run) or skip.
        await condition(() => rerun.has(t.id) || skipAfterFailure.has(t.id));
        if (skipAfterFailure.delete(t.id)) {
          finish(t.id, 'skipped', inputContext(t), { skipReason: 'skipped on resume after failure' });
          return;
        }
        rerun.delete(t.id);
        rec.attempts = 0;
        rec.state = 'pending';
        publish();
      }
      if (rec.state === 'retrying') {
        await activeSleep(retryRemainingMs[t.id] ?? 0);
        delete retryRemainingMs[t.id];
      }
      await condition(() => canStart(pm));
      try {
        await ensureResources(t);
      } catch (err) {
        if (isCancellation(err) && !isActivityTimeout(err)) throw err;
        finish(t.id, 'failed', inputContext(t), {
          error: { type: 'ResourceSetupFailed', message: `resource setup failed: ${failureMessage(err)}` },
        });
        return;
      }
      if (!canStart(pm)) continue; // a pause arrived during resource setup
      // Start: the check above and this event run in one synchronous step, so no pause can slip between.
      feed({ type: 'taskStarted', at: now(), taskId: t.id });
      rec.state = 'running';
      rec.startedAt ??= now();
      rec.attempts++;
      publish();
      const outcome = await runAttempt(t, rec);
      feed({ type: 'taskSettled', at: now(), taskId: t.id });
      switch (outcome.kind) {
        case 'ok':
          finish(t.id, 'completed', outcome.result.context);
          delete rec.error;
          return;
        case 'interrupted':
          rec.attempts--;
          rec.interrupted++;
          rec.state = 'pending';
          publish();
          continue;
        case 'cancelled':
          throw outcome.error;
        case 'failed': {
          rec.error = { type: outcome.failure.type, message: outcome.failure.message };
          if (shouldRetry(t.retry, rec.attempts, outcome.failure)) {
            rec.state = 'retrying';
            retryRemainingMs[t.id] = retryDelay(t.retry, rec.attempts, Math.random);
            publish();
            continue;
          }
          if ((t.onTaskFailure ?? spec.pausePolicy.onTaskFailure) === 'pause') {
            rec.state = 'held';
            feed({
              type: 'taskFailed',
              at: now(),
              taskId: t.id,
              message: `${t.id}: ${outcome.failure.message}`,
            });
            continue;
          }
          finish(t.id, 'failed', inputContext(t));
          return;
        }
      }
    }
  }

  const activeTotal = () => activeMs + (activeSince !== undefined ? Date.now() - activeSince : 0);

  // ---- requests --------------------------------------------------------------------------------------
  const control = (duplicate: boolean): ControlResult => ({
    state: currentState(),
    pause: currentPause(pm),
    duplicate,
  });

  const refusalToFailure = (step: Step): ApplicationFailure | undefined =>
    step.outcome.accepted
      ? undefined
      : ApplicationFailure.create({
          type: step.outcome.refusal.code,
          message: step.outcome.refusal.message,
          nonRetryable: true,
        });

  const assertOpen = () => {
    if (closedAt) {
      throw ApplicationFailure.create({
        type: 'WorkflowClosed',
        message: `The run has already ${runState}: it cannot be paused, resumed or approved`,
        nonRetryable: true,
      });
    }
  };

  const doPause = (raw: unknown): ControlResult => {
    assertOpen();
    const r = requestSchemas().PauseRequest.parse(raw);
    const at = now();
    let expiresAt: string | undefined;
    if (r.expiresAfterMs) expiresAt = new Date(Date.now() + r.expiresAfterMs).toISOString();
    let onExpiry = r.onExpiry;
    const max = spec.pausePolicy.maxPauseMs;
    if (max && (!expiresAt || Date.parse(expiresAt) > Date.now() + max)) {
      expiresAt = new Date(Date.now() + max).toISOString();
      onExpiry = spec.pausePolicy.onMaxPause ?? 'fail';
    }
    const step = feed({
      type: 'pause',
      at,
      request: {
        requestId: r.requestId,
        by: r.by ?? ANONYMOUS,
        reason: r.reason ?? '',
        mode: r.mode ?? 'graceful',
        kind: r.kind ?? 'manual',
        resumeAt: r.resumeAt ? new Date(r.resumeAt).toISOString() : undefined,
        expiresAt,
        onExpiry,
      },
    });
    if (!step.outcome.accepted || step.outcome.duplicate)
      return control(step.outcome.accepted && step.outcome.duplicate);
    if (pm.hold && (pm.hold.resumeAt || pm.hold.expiresAt)) void watchDeadlines(pm.hold.pauseId);
    return control(false);
  };

  const doResume = async (raw: unknown, source: 'update' | 'signal' | 'system'): Promise<ControlResult> => {
    assertOpen();
    const r = requestSchemas().ResumeRequest.parse(raw);
    const req: ResumeInput = {
      requestId: r.requestId,
      by: r.by ?? (source === 'system' ? 'system' : ANONYMOUS),
      reason: r.reason ?? '',
      force: r.force,
      skip: r.skip,
    };
    const begin = feed({ type: 'resumeBegin', at: now(), request: req });
    const refused = refusalToFailure(begin);
    if (refused) throw refused;
    if (begin.outcome.accepted && begin.outcome.duplicate) return control(true);
    if (!pm.hold) {
      // Only gates were waiting: release the unconstrained ones.
      const step = feed({ type: 'resume', at: now(), request: req });
      const f = refusalToFailure(step);
      if (f) throw f;
      return control(false);
    }
    const hold = pm.hold;
    let validation = 'no checks';
    const max = spec.pausePolicy.maxPauseMs;
    const failValidation = (message: string) => {
      feed({ type: 'resumeRejected', at: now(), request: req, message });
      return ApplicationFailure.create({ type: 'ValidationRejected', message, nonRetryable: true });
    };
    if (max && !r.force && Date.now() - Date.parse(hold.at) > max) {
      throw failValidation(
        `The pause is older than maxPause (${max} ms): resume with force to continue anyway`,
      );
    }
    if (
      r.contextPatch !== undefined ||
      r.input !== undefined ||
      spec.hasResumeValidator ||
      (spec.pausePolicy.verifyTasksOnResume !== false && hasRemainingTasks())
    ) {
      let result;
      try {
        result = await validationActs['cloacina.validateResume']({
          workflowName: spec.name,
          remainingTasks: spec.tasks.filter((t) => !isTerminal(tasks[t.id]!.state)).map((t) => t.id),
          context: currentContext(),
          pause: currentPause(pm)!,
          ...(r.input !== undefined ? { input: r.input } : {}),
          ...(r.contextPatch !== undefined ? { contextPatch: r.contextPatch } : {}),
          force: r.force ?? false,
        });
      } catch (err) {
        throw failValidation(`Resume validation could not run: ${failureMessage(err)}`);
      }
      if (!result.ok) throw failValidation(result.reason);
      validation = result.checks.join('; ') + (r.force ? '; forced' : '');
    }
    if (pm.phase !== 'resuming' || pm.hold?.pauseId !== hold.pauseId) {
      throw ApplicationFailure.create({
        type: 'Superseded',
        message: 'A new pause arrived while this resume was being validated: send it again',
        nonRetryable: true,
      });
    }
    const patch: JsonObject = { ...r.contextPatch };
    if (r.input !== undefined) patch.resumeInput = r.input;
    if (Object.keys(patch).length) applyContextPatch(patch);
    const step = feed({ type: 'resume', at: now(), request: { ...req, validation }, afterBegin: true });
    const f = refusalToFailure(step);
    if (f) throw f;
    return control(false);
  };

  const hasRemainingTasks = () => spec.tasks.some((t) => !isTerminal(tasks[t.id]!.state));

  const applyContextPatch = (patch: JsonObject) => {
    initialContext = { ...initialContext, ...patch };
    for (const id of Object.keys(outputs)) outputs[id] = { ...outputs[id]!, ...patch };
  };

  const doGate = (kind: 'approve' | 'reject', raw: unknown): ControlResult => {
    assertOpen();
    const r = (kind === 'approve' ? requestSchemas().ApproveRequest : requestSchemas().RejectRequest).parse(
      raw,
    );
    if (!specs.has(r.taskId)) {
      const hint = nearest(r.taskId, specs.keys());
      const message =
        `Workflow \`${spec.name}\` has no task \`${r.taskId}\`` +
        (hint ? ` — did you mean \`${hint}\`?` : '');
      feed({ type: 'invalidRequest', at: now(), request: kind, message, by: r.by, requestId: r.requestId });
      throw ApplicationFailure.create({ type: 'UnknownTask', message, nonRetryable: true });
    }
    const step = feed({
      type: kind,
      at: now(),
      request: { requestId: r.requestId, taskId: r.taskId, by: r.by, comment: r.comment },
    });
    const f = refusalToFailure(step);
    if (f) throw f;
    return control(step.outcome.accepted && step.outcome.duplicate);
  };

  const watchDeadlines = async (pauseId: number) => {
    for (;;) {
      const hold = pm.hold;
      if (!hold || hold.pauseId !== pauseId) return;
      const resumeAt = hold.resumeAt ? Date.parse(hold.resumeAt) : Infinity;
      const expiresAt = hold.expiresAt ? Date.parse(hold.expiresAt) : Infinity;
      const due = Math.min(resumeAt, expiresAt);
      if (due === Infinity) return;
      const changedHold = await condition(
        () => pm.hold?.pauseId !== pauseId || !!closedAt,
        Math.max(1, due - Date.now()),
      );
      if (changedHold) return;
      if (due === expiresAt) {
        feed({ type: 'expired', at: now(), action: hold.onExpiry ?? 'resume' });
        return;
      }
      try {
        await doResume({ by: 'system:schedule', reason: `scheduled resume at ${hold.resumeAt}` }, 'system');
        return;
      } catch (err) {
        log.warn('Scheduled resume was refused; the run stays paused', { error: failureMessage(err) });
        if (pm.hold?.pauseId === pauseId) pm = { ...pm, hold: { ...pm.hold, resumeAt: undefined } };
        if (!pm.hold?.expiresAt) return;
      }
    }
  };

  const invalidSignal = (name: string, raw: unknown, err: unknown) => {
    const message =
      err instanceof Error && 'issues' in err ? describeIssues(err as z.ZodError) : failureMessage(err);
    const by =
      typeof raw === 'object' && raw && typeof (raw as { by?: unknown }).by === 'string'
        ? (raw as { by: string }).by
        : undefined;
    log.warn('Rejected signal', { signal: name, message });
    if (!closedAt) feed({ type: 'invalidRequest', at: now(), request: name, message, by: by?.slice(0, 200) });
  };

  const validator = (schema: z.ZodType) => (raw: unknown) => {
    assertOpen();
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw new Error(`Invalid request: ${describeIssues(parsed.error)}`);
  };

  setHandler(pauseUpdate, (raw) => doPause(raw), { validator: validator(requestSchemas().PauseRequest) });
  setHandler(resumeUpdate, (raw) => doResume(raw, 'update'), {
    validator: validator(requestSchemas().ResumeRequest),
  });
  setHandler(approveUpdate, (raw) => doGate('approve', raw), {
    validator: validator(requestSchemas().ApproveRequest),
  });
  setHandler(rejectUpdate, (raw) => doGate('reject', raw), {
    validator: validator(requestSchemas().RejectRequest),
  });

  setHandler(pauseSignal, (raw) => {
    try {
      doPause(raw);
    } catch (err) {
      invalidSignal('pause', raw, err);
    }
  });
  setHandler(resumeSignal, (raw) => {
    doResume(raw, 'signal').catch((err: unknown) => {
      if (!(err instanceof ApplicationFailure)) invalidSignal('resume', raw, err);
      else log.warn('Resume signal refused', { message: err.message });
    });
  });
  for (const [sig, kind] of [
    [approveSignal, 'approve'],
    [rejectSignal, 'reject'],
  ] as const) {
    setHandler(sig, (raw) => {
      try {
        doGate(kind, raw);
      } catch (err) {
        if (!(err instanceof ApplicationFailure)) invalidSignal(kind, raw, err);
        else log.warn(`${kind} signal refused`, { message: err.message });
      }
    });
  }
  setHandler(statusQuery, status);
  setHandler(contextQuery, currentContext);

  // ---- main loop -------------------------------------------------------------------------------------
  if (pm.hold && (pm.hold.resumeAt || pm.hold.expiresAt)) void watchDeadlines(pm.hold.pauseId);
  if (spec.deadlineMs) {
    const remaining = spec.deadlineMs - activeMs;
    void activeSleep(remaining, () => !!closedAt).then((aborted) => {
      if (!aborted)
        endRequest ??= {
          action: 'fail',
          reason: `The run exceeded its deadline of ${spec.deadlineMs} ms of active time`,
        };
      changed = true;
    });
  }
  publish();

  try {
    for (;;) {
      startReadyTasks();
      if (fatal) throw fatal;
      if (endRequest) break;
      if (spec.tasks.every((t) => isTerminal(tasks[t.id]!.state))) break;
      if (workflowInfo().continueAsNewSuggested && pm.inFlight.length === 0 && resourceOps === 0) {
        await condition(allHandlersFinished);
        tickClock();
        const next: CarriedStateV1 = {
          tasks,
          outputs,
          completionOrder,
          pause: pm,
          resources,
          retryRemainingMs,
          passedGates: [...passedGates],
          activeMs: activeTotal(),
          startedAt,
          continuedAsNew: continuedAsNew + 1,
        };
        return await continueAsNew<typeof cloacinaDagV1>({ spec, context: initialContext, carried: next });
      }
      changed = false;
      await condition(() => changed || fatal !== undefined);
    }
  } catch (err) {
    if (isCancellation(err)) {
      runState = 'cancelled';
      closedAt = now();
      await CancellationScope.nonCancellable(async () => {
        await teardownAll();
        publish();
      });
    }
    throw err;
  }

  // ---- the end -------------------------------------------------------------------------------------
  const failedTasks = spec.tasks.filter((t) => tasks[t.id]!.state === 'failed');
  if (endRequest) {
    runState = endRequest.action === 'cancel' ? 'cancelled' : 'failed';
    runError = { type: endRequest.action === 'cancel' ? 'Cancelled' : 'Expired', message: endRequest.reason };
    for (const id of pm.inFlight) interruptAttempt(id);
  } else if (failedTasks.length) {
    runState = 'failed';
    runError = {
      type: 'TaskFailed',
      message: failedTasks
        .map((t) => `\`${t.id}\` failed: ${tasks[t.id]!.error?.message ?? 'unknown error'}`)
        .join('; '),
    };
  } else {
    runState = 'completed';
  }
  closedAt = now();
  await teardownAll();
  publish();
  await condition(allHandlersFinished);
  const final = status();
  if (runState === 'completed') return { context: finalContext(), status: final };
  if (runState === 'cancelled') {
    throw ApplicationFailure.create({
      type: 'Cancelled',
      message: runError!.message,
      nonRetryable: true,
      details: [final],
    });
  }
  throw ApplicationFailure.create({
    type: runError!.type,
    message: runError!.message,
    nonRetryable: true,
    details: [final],
  });
}

function earliest(...instants: (string | undefined)[]): string | undefined {
  const defined = instants.filter((i): i is string => i !== undefined);
  return defined.sort((a, b) => Date.parse(a) - Date.parse(b))[0];
}

function structuredCloneJson<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function isActivityTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;
}

function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  // Unwrap ActivityFailure → ApplicationFailure/TimeoutFailure for the user's message.
  while (e && e.cause && (e as { name?: string }).name === 'ActivityFailure') e = e.cause;
  return e?.message ?? String(err);
}

function toFailureInfo(err: unknown): FailureInfo {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
  if (cause instanceof TimeoutFailure) {
    const heartbeat = cause.timeoutType === 'HEARTBEAT';
    return {
      type: 'Timeout',
      message: heartbeat
        ? 'the task stopped heartbeating (its worker may have died)'
        : 'the task exceeded its timeout',
      nonRetryable: false,
    };
  }
  if (cause instanceof ApplicationFailure) {
    return {
      type: cause.type ?? 'ExecutionFailed',
      message: cause.message,
      nonRetryable: cause.nonRetryable ?? false,
    };
  }
  return { type: 'ExecutionFailed', message: failureMessage(err), nonRetryable: false };
}

function describeForUi(
  name: string,
  state: RunState,
  pause: ReturnType<typeof currentPause>,
  gates: string[],
): string {
  const lines = [`**${name}** — ${state}`];
  if (pause) {
    lines.push(
      `Paused (${pause.kind}, ${pause.mode}) by ${pause.by} at ${pause.at}${pause.reason ? `: ${pause.reason}` : ''}`,
    );
    if (pause.resumeAt) lines.push(`Resumes at ${pause.resumeAt}`);
    if (pause.expiresAt) lines.push(`Expires at ${pause.expiresAt} (${pause.onExpiry})`);
  }
  if (gates.length) lines.push(`Waiting for approval: ${gates.join(', ')}`);
  return lines.join('\n\n');
}
