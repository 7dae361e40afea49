// The task driver: finds ready tasks, holds them at their gates, runs one activity attempt at a time,
// and decides retries (their back-offs are due times in the pause reducer, so a pause freezes them and
// continue-as-new carries them).
import {
  ActivityCancellationType,
  ApplicationFailure,
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyActivities,
  proxyLocalActivities,
  sleep,
  uuid4,
} from '@temporalio/workflow';
import {
  CARRIED_PAUSES_KEY,
  MAX_CARRIED_PAUSES,
  type CarriedPause,
  type CloacinaActivities,
  type RunTaskResult,
} from './activity-contract';
import {
  describeTrigger,
  evaluateTrigger,
  isTerminal,
  jsonBytes,
  MAX_CONTEXT_BYTES,
  retryDelay,
  shouldRetry,
  type FailureInfo,
  type GateSpec,
  type JsonValue,
  type TaskRecord,
  type TaskSpec,
} from './dag';
import { carriedDetails, failureMessage, isActivityTimeout, toFailureInfo } from './failures';
import { LocalWave, type WaveMember } from './local-wave';
import type { Resources } from './resources';
import type { Run } from './run';

interface AttemptControl {
  scope: CancellationScope;
  interruptedByPause: boolean;
  settled: boolean;
  abandon: () => void;
  /** A local attempt's place in its wave (runs begun with local waves). */
  wave?: WaveMember;
}

type AttemptOutcome =
  | { kind: 'ok'; result: RunTaskResult }
  | { kind: 'interrupted' }
  | { kind: 'failed'; failure: FailureInfo; pauses: unknown }
  | { kind: 'cancelled'; error: unknown };

type GateOutcome = { approved: true } | { approved: false; by: string; comment?: string };

/**
 * Local attempts run inside the workflow task, and a run sees updates and signals only between workflow
 * tasks: this long after its first local attempt began, in workflow time, the run ends its workflow task
 * before starting another local attempt. Within a workflow task, workflow time advances only as local
 * results come, each to the time its activity was scheduled plus its runtime: so this bounds the local
 * tasks' own running time, and {@link LOCAL_YIELD_ATTEMPTS} bounds how many run (a chain of short ones
 * advances it by little). (Changing it changes the commands of runs with local tasks: gate it with
 * patched().)
 */
export const LOCAL_YIELD_MS = 500;

/**
 * Local attempts settled (runs begun with local waves: started) in one workflow task before the run
 * yields it: bounds the local-activity markers one workflow task writes, so a wide DAG of local tasks
 * reaches continue-as-new in steps.
 */
export const LOCAL_YIELD_ATTEMPTS = 200;

/**
 * Task attempts in flight at once, of any execution: a wide DAG starts its ready tasks in waves, well
 * under the server's limit of pending activities per run (`limit.numPendingActivities.error`, 2,000 by
 * default), and each workflow task schedules a bounded number.
 */
export const MAX_IN_FLIGHT = 500;

/** Local attempts in flight at once (the worker's default local-activity slots). */
export const LOCAL_MAX_IN_FLIGHT = 100;

/**
 * The scope direct attempts share, whose `run` calls its function synchronously. The base class runs it
 * in an async method (a promise for the call and one for its `await`, besides the caller's), and the SDK
 * captures a stack for every promise a workflow creates; a ready scan runs once per workflow step, so a
 * chain of tasks paid them at every step. Nothing here needs the async form: the scope has no timeout,
 * and activities read their scope when they are scheduled, inside the call.
 */
class DirectScope extends CancellationScope {
  protected override runInContext<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  /** Calls `fn` (which must not throw) with this scope current, before returning. */
  runNow(fn: () => void): void {
    // With an SDK whose `run` no longer goes through `runInContext`, `fn` still runs before `run` returns
    // (up to its first await, and it has none); only the promises come back.
    void this.run(fn as () => Promise<void>);
  }
}

/** The gate a run-time breakpoint opens: anyone may approve it (stepping past), or reject it. */
export const BREAKPOINT_GATE: GateSpec = { reason: 'breakpoint', requiredApprovals: 1 };

export class TaskDriver {
  readonly #driving = new Set<string>();
  readonly #attempts = new Map<string, AttemptControl>();
  readonly #gateOutcome = new Map<string, GateOutcome>();
  readonly #rerun = new Set<string>();
  readonly #skip = new Set<string>();
  /** When (workflow time, ms) the first local attempt since the run last yielded its workflow task began. */
  #localSince: number | undefined;
  /** Local attempts settled since the run last yielded its workflow task. */
  #localSettled = 0;
  /** Local attempts started since the run last yielded its workflow task. */
  #localStarted = 0;
  /** The local attempts running together (runs begun with local waves). */
  readonly #wave = new LocalWave();
  /** The workflow time when the open wave began (read while no local activity was unresolved). */
  #waveClock = 0;
  #localInFlight = 0;
  #inFlight = 0;
  /** The attempt window filled up and has not yet drained to half. */
  #full = false;
  /** Driven tasks waiting at a gate (they hold no attempt slot). */
  #atGate = 0;
  /** The yield under way, shared by every task that waits on it. */
  #yielding: Promise<void> | undefined;
  /**
   * The scope direct attempts run in, shared until an interruption cancels it (an immediate pause cuts
   * off every attempt in flight at once, so one scope serves them all).
   */
  #directScope: DirectScope | undefined;
  /** The scope the driver was built in (the run's root): parent of every direct scope. */
  readonly #rootScope = CancellationScope.current();

  constructor(
    private readonly run: Run,
    private readonly resources: Resources,
  ) {}

  /** A gate was approved (or timed out as approved). */
  releaseGate(taskId: string): void {
    this.#gateOutcome.set(taskId, { approved: true });
  }

  /** A gate was rejected: the gated task fails. */
  rejectGate(taskId: string, by: string, comment?: string): void {
    this.#gateOutcome.set(taskId, { approved: false, by, ...(comment !== undefined ? { comment } : {}) });
  }

  /**
   * Applies the gate outcomes the ready scan has not met yet: a scan that found the attempt window full
   * stopped before their tasks. A continue-as-new does not carry them (the reducer has closed those gates
   * already), so the run applies them just before it continues as new: an approved task goes on as passed,
   * a rejected one fails.
   */
  settleGateOutcomes(): void {
    const run = this.run;
    if (!run.quietWaits) return;
    for (const [id, outcome] of [...this.#gateOutcome]) {
      const t = run.specs.get(id);
      const rec = run.tasks[id];
      // A coroutine at a late breakpoint applies its own.
      if (!t || !rec || this.#driving.has(id) || rec.state !== 'waiting') continue;
      this.#gateOutcome.delete(id);
      this.#passGate(t, rec, outcome);
    }
  }

  /** Tasks held by a failure pause: run them again with fresh attempts. */
  rerun(taskIds: string[]): void {
    for (const id of taskIds) this.#rerun.add(id);
  }

  /** Tasks held by a failure pause: mark them skipped. */
  skip(taskIds: string[]): void {
    for (const id of taskIds) this.#skip.add(id);
  }

  /** Starts a coroutine for every task that is ready (or skips it when its trigger rule says so). */
  startReadyTasks(): void {
    const run = this.run;
    let direct: TaskSpec[] | undefined;
    let again = true;
    scan: while (again) {
      again = false;
      // In `spec.tasks` order, the tasks not terminal whose dependencies all are (the others would fail
      // the check below anyway); a task a skip below unblocks is met later in this pass or in the next.
      for (let i = run.nextOpen(-1); i >= 0; i = run.nextOpen(i)) {
        const t = run.spec.tasks[i]!;
        const rec = run.tasks[t.id]!;
        if (this.#driving.has(t.id) || isTerminal(rec.state) || !run.depsTerminal(t)) continue;
        // The rest waits for slots: thousands of coroutines parked at once would cost every workflow
        // step (each checks its condition), and the SDK's promise tracking does not survive them.
        if (run.capInFlight) {
          const active = this.#driving.size - this.#atGate;
          if (run.leanAttempts) {
            // A slot is refilled as soon as it frees: a workflow task then schedules about as many
            // attempts as it saw settle, and stays short. (A batch refill of half the window made
            // workflow tasks long enough for the server to buffer more than its limit of events
            // (`history.maximumBufferedEventsBatch`, 100) and force them closed: each force-close
            // evicts the run and replays its whole history.)
            if (active >= MAX_IN_FLIGHT) break scan;
          } else {
            // Runs begun before `leanAttempts`: once full, refill when half the slots are free.
            if (active >= MAX_IN_FLIGHT) this.#full = true;
            else if (active <= MAX_IN_FLIGHT / 2) this.#full = false;
            if (this.#full) break scan;
          }
        }
        const fresh =
          rec.state === 'pending' &&
          rec.attempts === 0 &&
          rec.interrupted === 0 &&
          !run.passedGates.has(t.id);
        if (fresh) {
          const ctx = run.inputContext(t);
          const states = Object.fromEntries(t.dependencies.map((d) => [d, run.tasks[d]!.state]));
          if (!evaluateTrigger(t.triggerRule, states, ctx)) {
            run.finish(t.id, 'skipped', ctx, {
              skipReason: `trigger rule ${describeTrigger(t.triggerRule)} not met`,
            });
            again = true;
            continue;
          }
        }
        if (run.quietWaits) {
          // A gate holds the task here, with no coroutine parked at it: the scan meets it again after
          // every change and lets it go on once the gate's outcome has come (approved, or rejected: the
          // task fails). A cleared breakpoint leaves no gate but a waiting task and its outcome.
          const gate = this.#gateSpec(t);
          if (gate || rec.state === 'waiting') {
            const outcome = this.#gateOutcome.get(t.id);
            if (!outcome) {
              if (gate) this.#openGate(t, rec, gate);
              continue;
            }
            this.#gateOutcome.delete(t.id);
            if (!this.#passGate(t, rec, outcome)) {
              again = true;
              continue;
            }
          }
        }
        this.#driving.add(t.id);
        if (this.#canStartDirectly(t, rec)) {
          this.#markStarted(t, rec);
          (direct ??= []).push(t);
          continue;
        }
        this.#follow(t.id, this.#drive(t));
      }
    }
    if (direct) this.#startDirect(direct);
  }

  /** Keeps a task's coroutine in `#driving` until it ends; what it throws ends the run. */
  #follow(id: string, driving: Promise<void>): void {
    const run = this.run;
    driving.then(
      () => {
        this.#driving.delete(id);
        // The main loop of a lean run may have passed already in this activation (it wakes at the task's
        // last change, before this): its slot is free now, so it looks again.
        if (run.leanAttempts) run.touch();
      },
      (err: unknown) => {
        this.#driving.delete(id);
        run.fatal ??= err;
        run.touch();
      },
    );
  }

  /**
   * A ready task that would pass every wait of {@link #drive} at once (no gate, no resource, nothing
   * holding the run, no yield due) starts without a coroutine: its attempt is a callback on the activity's
   * promise. Each promise in a workflow costs a stack capture in the SDK, and a coroutine with its own
   * cancellation scope costs about a dozen of them; this path about three, as a raw activity does
   * (counted from the SDK's source).
   * (Runs begun before `leanAttempts` keep the coroutine: it orders their commands differently.)
   */
  #canStartDirectly(t: TaskSpec, rec: TaskRecord): boolean {
    const run = this.run;
    if (t.execution === 'local' && !this.#localMayStart()) return false;
    return (
      run.leanAttempts &&
      t.uses.length === 0 &&
      rec.state === 'pending' &&
      this.#gateSpec(t) === undefined &&
      run.mayStart() &&
      !(run.capInFlight && this.#inFlight >= MAX_IN_FLIGHT)
    );
  }

  /** A local attempt would have to wait for the run to end its workflow task first. */
  #mustYield(): boolean {
    if (this.#yielding !== undefined) return true;
    if (this.run.localWaves) {
      return (
        this.#localStarted >= LOCAL_YIELD_ATTEMPTS ||
        (this.#localSince !== undefined && this.#now() - this.#localSince >= LOCAL_YIELD_MS)
      );
    }
    return (
      this.#localSettled >= LOCAL_YIELD_ATTEMPTS ||
      (this.#localSince !== undefined && Date.parse(this.run.now()) - this.#localSince >= LOCAL_YIELD_MS)
    );
  }

  /**
   * The workflow time the driver decides by (ms). While a wave is open (only in runs begun with local
   * waves) it is the time the wave began:
   * local results advance workflow time, and a replay delivers them in other batches than the first
   * execution did, so a reading between two of them could differ on replay.
   */
  #now(): number {
    return this.#wave.isOpen ? this.#waveClock : Date.parse(this.run.now());
  }

  /**
   * Local waves (runs begun with release 0.8, see `local-wave.ts`): a local attempt joins the open wave,
   * and its outcome is held until the wave drains. Between two drains the run's state, its slots and its
   * clock change only on events its history orders (a timer, a signal, an update, an activity's result).
   */
  #joinWave(ctl: AttemptControl): void {
    if (!this.run.localWaves) return;
    if (!this.#wave.isOpen) this.#waveClock = Date.parse(this.run.now());
    ctl.wave = this.#wave.join();
  }

  /** A local attempt's activity resolved: its outcome waits for the rest of its wave. */
  #resolvedInWave(ctl: AttemptControl, deliver: () => void): void {
    if (ctl.wave) this.#wave.resolved(ctl.wave, deliver);
    else deliver();
  }

  /** A local attempt was abandoned (its outcome was delivered): it no longer holds its wave open. */
  #leftWave(ctl: AttemptControl): void {
    if (ctl.wave) this.#wave.left(ctl.wave);
  }

  /** A local attempt may start now: no yield is due and a local slot is free. */
  #localMayStart(): boolean {
    return !this.#mustYield() && this.#localInFlight < LOCAL_MAX_IN_FLIGHT;
  }

  /** Records an attempt's start: the check before it and this run in one synchronous step. */
  #markStarted(t: TaskSpec, rec: TaskRecord): void {
    const run = this.run;
    run.feed({ type: 'taskStarted', at: run.now(), taskId: t.id });
    rec.state = 'running';
    rec.startedAt ??= run.now();
    rec.attempts++;
    run.touch();
    this.#inFlight++;
    if (t.execution === 'local') {
      this.#localSince ??= this.#now();
      this.#localStarted++;
      this.#localInFlight++;
    }
  }

  /** Schedules the attempts of tasks {@link #markStarted} marked, in one pass of the shared scope. */
  #startDirect(tasks: TaskSpec[]): void {
    const run = this.run;
    this.#directScope ??= new DirectScope({ parent: this.#rootScope, cancellable: true });
    const scope = this.#directScope;
    const started: Array<Promise<RunTaskResult>> = [];
    scope.runNow(() => {
      for (const t of tasks) {
        try {
          started.push(this.#schedule(t, run.tasks[t.id]!));
        } catch (err) {
          started.push(Promise.reject(err));
        }
      }
    });
    tasks.forEach((t, i) => {
      const rec = run.tasks[t.id]!;
      const ctl: AttemptControl = {
        scope,
        interruptedByPause: false,
        settled: false,
        abandon: () => {
          end({ kind: 'interrupted' });
          this.#leftWave(ctl);
        },
      };
      if (t.execution === 'local') this.#joinWave(ctl);
      // The first of the attempt's result and its abandonment (an immediate pause that outwaited the
      // drain timeout) decides; the other is ignored.
      const end = (outcome: AttemptOutcome): void => {
        if (ctl.settled) return;
        this.#endAttempt(t, ctl);
        this.#releaseSlot(t);
        let done: boolean;
        try {
          done = this.#settle(t, rec, outcome);
        } catch (err) {
          this.#driving.delete(t.id);
          run.fatal ??= err;
          run.touch();
          return;
        }
        if (done) this.#driving.delete(t.id);
        else this.#follow(t.id, this.#loop(t, rec));
      };
      this.#attempts.set(t.id, ctl);
      started[i]!.then(
        (result) => this.#resolvedInWave(ctl, () => end({ kind: 'ok', result })),
        // Read when delivered: an immediate pause before the wave drains cuts the attempt off.
        (err: unknown) => this.#resolvedInWave(ctl, () => end(this.#failedOutcome(ctl, err))),
      );
    });
  }

  /**
   * Cuts off a task's attempt for an immediate pause (or the end of the run). The wait for tasks that
   * never observe cancellation is bounded by the drain timeout (at-least-once: the abandoned attempt may
   * still finish on its worker; its result is ignored and the task runs again after resume).
   */
  interrupt(id: string): void {
    const ctl = this.#attempts.get(id);
    if (!ctl || ctl.interruptedByPause) return;
    if (ctl.scope === this.#directScope) {
      // The direct attempts share one scope: cancelling it cuts off all of them (as an immediate pause
      // asks), so each is marked interrupted, and attempts started later get a fresh scope.
      this.#directScope = undefined;
      for (const [other, c] of this.#attempts) {
        if (c.scope === ctl.scope && other !== id) this.#interrupted(other, c);
      }
    }
    this.#interrupted(id, ctl);
  }

  /** Marks an attempt as cut off by a pause, cancels its scope, and abandons it after the drain timeout. */
  #interrupted(id: string, ctl: AttemptControl): void {
    if (ctl.interruptedByPause) return;
    ctl.interruptedByPause = true;
    if (!ctl.scope.consideredCancelled) ctl.scope.cancel();
    void condition(() => ctl.settled, this.run.spec.pausePolicy.drainTimeoutMs)
      .then((settled) => {
        if (!settled) {
          log.warn('Task did not stop within the drain timeout; abandoning the attempt', { taskId: id });
          ctl.abandon();
        }
      })
      .catch(() => undefined);
  }

  /** Schedules one attempt of a task (in the current cancellation scope) and returns its result. */
  #schedule(t: TaskSpec, rec: TaskRecord): Promise<RunTaskResult> {
    const run = this.run;
    const local = t.execution === 'local';
    // Retries are the workflow's (a pause freezes their back-offs), so each attempt is a single try.
    const acts = local
      ? proxyLocalActivities<CloacinaActivities>({
          startToCloseTimeout: t.timeoutMs,
          retry: { maximumAttempts: 1 },
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
          summary: t.id,
        })
      : proxyActivities<CloacinaActivities>({
          startToCloseTimeout: t.timeoutMs,
          heartbeatTimeout: t.heartbeatTimeoutMs,
          retry: { maximumAttempts: 1 },
          cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
          activityId: `${t.id}#${rec.attempts + rec.interrupted}`,
          summary: t.id,
        });
    const context = run.inputContext(t);
    // A merge of outputs (or a failed or skipped task's input passed on) may outgrow what one payload
    // carries: the attempt fails here, as the task's failure, rather than as a command the server refuses
    // (which would fail the workflow task again at every retry).
    const bytes = jsonBytes(context);
    if (bytes > MAX_CONTEXT_BYTES) {
      const from =
        t.dependencies.length === 0
          ? "the run's initial context"
          : `the merge of the outputs of ${t.dependencies.map((d) => `\`${d}\``).join(', ')}`;
      throw ApplicationFailure.create({
        type: 'ContextTooLarge',
        nonRetryable: true,
        message:
          `the input of \`${t.id}\` (${from}) is ${bytes} bytes of JSON, over the limit of ${MAX_CONTEXT_BYTES}: ` +
          'keep large data in external storage and put a reference in the context (a run paused on the failure ' +
          'can be resumed with a contextPatch that replaces the large keys)',
      });
    }
    // A local task's ctx.pauseWorkflow comes back with its outcome: it sends no update, so needs no proof.
    const proof = run.requireKindProof && !local ? uuid4() : undefined;
    if (proof) run.attemptProofs.set(t.id, proof);
    const resourceHandles = Object.fromEntries(
      t.uses.map((u) => [u, run.resources[u]!.handle ?? null]),
    ) as Record<string, JsonValue>;
    return acts['cloacina.runTask']({
      workflowName: run.spec.name,
      taskId: t.id,
      attempt: rec.attempts,
      context,
      resources: resourceHandles,
      ...(proof ? { proof } : {}),
    });
  }

  /** What an attempt's error means: cut off by a pause, the run's cancellation, or a failure. */
  #failedOutcome(ctl: AttemptControl, err: unknown): AttemptOutcome {
    // Cut off by an immediate pause: whatever ended it (cancellation, or a heartbeat timeout when
    // its worker died during the drain), the attempt does not count.
    if (ctl.interruptedByPause) return { kind: 'interrupted' };
    if (isCancellation(err) && !isActivityTimeout(err)) return { kind: 'cancelled', error: err };
    return {
      kind: 'failed',
      failure: toFailureInfo(err),
      pauses: carriedDetails(err, CARRIED_PAUSES_KEY),
    };
  }

  /** An attempt settled (or was abandoned): it no longer counts as in flight. */
  #endAttempt(t: TaskSpec, ctl: AttemptControl): void {
    ctl.settled = true;
    this.#attempts.delete(t.id);
    this.run.attemptProofs.delete(t.id);
  }

  /** An attempt's slot is free again. */
  #releaseSlot(t: TaskSpec): void {
    this.#inFlight--;
    if (t.execution === 'local') {
      this.#localInFlight--;
      this.#localSettled++;
    }
  }

  /** Runs one attempt of a task that {@link #markStarted} marked, in a cancellation scope of its own. */
  async #runAttempt(t: TaskSpec, rec: TaskRecord): Promise<AttemptOutcome> {
    const run = this.run;
    // The attempt's outcome, or `interrupted` when an immediate pause abandons it: one deferred, or in runs
    // begun before `leanAttempts` the race activity attempts were recorded with.
    let abandon!: () => void;
    let settle: ((o: AttemptOutcome) => void) | undefined;
    const deferred = t.execution === 'local' || run.leanAttempts;
    const settledOrAbandoned = deferred
      ? new Promise<AttemptOutcome>((r) => {
          settle = r;
          abandon = () => r({ kind: 'interrupted' });
        })
      : undefined;
    const abandoned = deferred ? undefined : new Promise<void>((r) => (abandon = r));
    const ctl: AttemptControl = {
      scope: new CancellationScope(),
      interruptedByPause: false,
      settled: false,
      abandon,
    };
    if (t.execution === 'local') {
      this.#joinWave(ctl);
      const abandonNow = abandon;
      ctl.abandon = () => {
        abandonNow();
        this.#leftWave(ctl);
      };
    }
    this.#attempts.set(t.id, ctl);
    const scheduled = ctl.scope.run(() => this.#schedule(t, rec));
    let outcome: AttemptOutcome;
    if (ctl.wave) {
      // Held until the wave drains; the outcome of a failure is read then (a pause may cut it off).
      void scheduled.then(
        (result) => this.#resolvedInWave(ctl, () => settle!({ kind: 'ok', result })),
        (err: unknown) => this.#resolvedInWave(ctl, () => settle!(this.#failedOutcome(ctl, err))),
      );
      outcome = await settledOrAbandoned!;
      this.#endAttempt(t, ctl);
      return outcome;
    }
    const attempt = scheduled.then(
      (result): AttemptOutcome => ({ kind: 'ok', result }),
      (err: unknown): AttemptOutcome => this.#failedOutcome(ctl, err),
    );
    if (settledOrAbandoned) {
      void attempt.then(settle);
      outcome = await settledOrAbandoned;
    } else {
      outcome = await Promise.race([
        attempt,
        abandoned!.then((): AttemptOutcome => ({ kind: 'interrupted' })),
      ]);
    }
    this.#endAttempt(t, ctl);
    return outcome;
  }

  /**
   * Ends the current workflow task (a 1 ms timer), so that requests that arrived while local attempts ran
   * are delivered before the next one starts.
   */
  #yieldWorkflowTask(): Promise<void> {
    if (!this.#yielding) {
      this.#localSince = undefined;
      this.#localSettled = 0;
      this.#localStarted = 0;
      this.#yielding = CancellationScope.nonCancellable(() => sleep(1)).finally(() => {
        this.#yielding = undefined;
      });
    }
    return this.#yielding;
  }

  /**
   * Applies the pauses a local task asked for (`ctx.pauseWorkflow`), as the pause update would have: kind
   * `task`, graceful, by `task:<id>`. They come from this attempt's own outcome, so they need no proof;
   * what is not a well-formed request is ignored (the runner builds them, bounded).
   */
  #applyCarriedPauses(t: TaskSpec, pauses: unknown): void {
    if (t.execution !== 'local' || !Array.isArray(pauses)) return;
    const run = this.run;
    for (const p of pauses.slice(0, MAX_CARRIED_PAUSES) as Partial<CarriedPause>[]) {
      if (typeof p !== 'object' || p === null) continue;
      if (typeof p.requestId !== 'string' || p.requestId.length === 0) continue;
      run.feed({
        type: 'pause',
        at: run.now(),
        ...(run.amendJoinedPauses ? { amend: true } : {}),
        request: {
          requestId: p.requestId.slice(0, 200),
          by: `task:${t.id}`,
          reason: typeof p.reason === 'string' ? p.reason.slice(0, 1000) : '',
          mode: 'graceful',
          kind: 'task',
          resumeAt: undefined,
          expiresAfterMs: undefined,
          onExpiry: undefined,
        },
      });
    }
  }

  /** The gate the task must pass before it starts: its `pauseBefore`, or a run-time breakpoint. */
  #gateSpec(t: TaskSpec): GateSpec | undefined {
    if (this.run.passedGates.has(t.id)) return undefined;
    return t.pauseBefore ?? (this.run.breakpoints.has(t.id) ? BREAKPOINT_GATE : undefined);
  }

  /** Holds a task at its gate (once: a task already waiting there opened it before). */
  #openGate(t: TaskSpec, rec: TaskRecord, gate: GateSpec): void {
    if (rec.state === 'waiting') return;
    rec.state = 'waiting';
    this.run.feed({ type: 'gateOpened', at: this.run.now(), taskId: t.id, gate });
  }

  /** Waits at the task's gate in a coroutine (runs begun before `quietWaits`, and late breakpoints). */
  async #gate(t: TaskSpec, rec: TaskRecord, gate: GateSpec): Promise<boolean> {
    this.#openGate(t, rec, gate);
    this.#atGate++;
    try {
      await condition(() => this.#gateOutcome.has(t.id));
    } finally {
      this.#atGate--;
    }
    const outcome = this.#gateOutcome.get(t.id)!;
    this.#gateOutcome.delete(t.id);
    return this.#passGate(t, rec, outcome);
  }

  /** Applies a gate's outcome: true when the task may go on, false when the rejection failed it. */
  #passGate(t: TaskSpec, rec: TaskRecord, outcome: GateOutcome): boolean {
    const run = this.run;
    if (!outcome.approved) {
      const message = `Gate before \`${t.id}\` rejected by ${outcome.by}${outcome.comment ? `: ${outcome.comment}` : ''}`;
      run.breakpoints.delete(t.id);
      run.finish(t.id, 'failed', run.inputContext(t), { error: { type: 'GateRejected', message } });
      return false;
    }
    run.passedGates.add(t.id);
    run.breakpoints.delete(t.id);
    rec.state = 'pending';
    run.touch();
    return true;
  }

  async #drive(t: TaskSpec): Promise<void> {
    const rec = this.run.tasks[t.id]!;
    // A `pauseBefore` gate (or a breakpoint) holds the task until it is approved (other branches keep
    // running).
    const gate = this.#gateSpec(t);
    if (gate && !(await this.#gate(t, rec, gate))) return;
    await this.#loop(t, rec);
  }

  /** Attempts a task until it ends: waits for the run, resources and slots, retries, holds. */
  async #loop(t: TaskSpec, rec: TaskRecord): Promise<void> {
    const run = this.run;
    for (;;) {
      if (rec.state === 'held') {
        // Exhausted retries under onTaskFailure 'pause': wait for resume (re-run) or skip.
        await condition(() => this.#rerun.has(t.id) || this.#skip.has(t.id));
        if (this.#skip.delete(t.id)) {
          run.finish(t.id, 'skipped', run.inputContext(t), { skipReason: 'skipped on resume after failure' });
          return;
        }
        this.#rerun.delete(t.id);
        rec.attempts = 0;
        rec.state = 'pending';
        run.touch();
      }
      // A retry back-off is a due time in the reducer; it ends when the reducer's timer fires.
      if (rec.state === 'retrying') await condition(() => !(t.id in run.pm.retries));
      // Skip the waits that would end at once: each promise (and the stack the SDK captures for it) is a
      // visible share of a short task's cost. Local tasks always do; activity tasks in runs begun with
      // `leanAttempts`, since it changes the order of their commands against recorded histories.
      const lean = t.execution === 'local' || run.leanAttempts;
      if (!lean || !run.mayStart()) await condition(() => run.mayStart());
      try {
        if (!lean || t.uses.length > 0) await this.resources.ensure(t);
      } catch (err) {
        if (isCancellation(err) && !isActivityTimeout(err)) throw err;
        run.finish(t.id, 'failed', run.inputContext(t), {
          error: { type: 'ResourceSetupFailed', message: `resource setup failed: ${failureMessage(err)}` },
        });
        return;
      }
      if (!run.mayStart()) continue; // a pause (or a continue-as-new drain) arrived during resource setup
      // A breakpoint set while the task waited to start.
      const late = rec.attempts === 0 && rec.interrupted === 0 ? this.#gateSpec(t) : undefined;
      if (late) {
        if (!(await this.#gate(t, rec, late))) return;
        continue;
      }
      if (run.capInFlight && this.#inFlight >= MAX_IN_FLIGHT) {
        await condition(() => this.#inFlight < MAX_IN_FLIGHT);
        continue;
      }
      if (t.execution === 'local') {
        if (this.#mustYield()) {
          await this.#yieldWorkflowTask();
          continue;
        }
        if (this.#localInFlight >= LOCAL_MAX_IN_FLIGHT) {
          await condition(() => this.#localInFlight < LOCAL_MAX_IN_FLIGHT);
          continue;
        }
      }
      // Start: the check above and this event run in one synchronous step, so no pause can slip between.
      this.#markStarted(t, rec);
      let outcome: AttemptOutcome;
      try {
        outcome = await this.#runAttempt(t, rec);
      } finally {
        this.#releaseSlot(t);
      }
      if (this.#settle(t, rec, outcome)) return;
    }
  }

  /**
   * Applies an attempt's outcome to its task. True when the task is done (completed, or failed for
   * good); false when it must be attempted again (interrupted, retrying, held). Throws the run's
   * cancellation.
   */
  #settle(t: TaskSpec, rec: TaskRecord, outcome: AttemptOutcome): boolean {
    const run = this.run;
    // Pauses a local task asked for land while it still counts as running, as an update would have.
    if (outcome.kind === 'ok') this.#applyCarriedPauses(t, outcome.result.pauses);
    else if (outcome.kind === 'failed') this.#applyCarriedPauses(t, outcome.pauses);
    run.feed({ type: 'taskSettled', at: run.now(), taskId: t.id });
    switch (outcome.kind) {
      case 'ok':
        delete rec.error;
        run.finish(t.id, 'completed', outcome.result.context);
        return true;
      case 'interrupted':
        rec.attempts--;
        rec.interrupted++;
        rec.state = 'pending';
        run.touch();
        return false;
      case 'cancelled':
        throw outcome.error;
      case 'failed': {
        rec.error = { type: outcome.failure.type, message: outcome.failure.message };
        if (shouldRetry(t.retry, rec.attempts, outcome.failure)) {
          rec.state = 'retrying';
          run.feed({
            type: 'retryScheduled',
            at: run.now(),
            taskId: t.id,
            delayMs: retryDelay(t.retry, rec.attempts, Math.random),
          });
          return false;
        }
        if ((t.onTaskFailure ?? run.spec.pausePolicy.onTaskFailure) === 'pause') {
          rec.state = 'held';
          run.feed({
            type: 'taskFailed',
            at: run.now(),
            taskId: t.id,
            message: `${t.id}: ${outcome.failure.message}`,
          });
          return false;
        }
        run.finish(t.id, 'failed', run.inputContext(t));
        return true;
      }
    }
  }
}
