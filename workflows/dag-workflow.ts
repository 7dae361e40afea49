// The one generic workflow, as a short shell: it builds the run state, installs the request handlers,
// arms the one timer the pause reducer asks for, drives ready tasks, continues as new when Temporal
// suggests it (after letting in-flight attempts settle) and ends the run. The parts live beside it:
// run.ts (state), task-driver.ts, resources.ts, visibility.ts, handlers.ts, pause-machine.ts (reducer).
import {
  allHandlersFinished,
  ApplicationFailure,
  CancellationScope,
  condition,
  continueAsNew,
  isCancellation,
  patched,
  workflowInfo,
} from '@temporalio/workflow';
import { jsonBytes, type DagSpec, type JsonObject } from './dag';
import { Handlers } from './handlers';
import type { WorkflowRunStatus as RunStatus } from './messages';
import { nextDue, type Decision } from './pause-machine';
import { Resources } from './resources';
import { fitStatus, MAX_CARRIED_BYTES, Run, type CarriedState, type CarriedStateV1 } from './run';
import { TaskDriver } from './task-driver';
import { cloacinaDagV1 } from './v1/dag-workflow';
import { Rejections, Visibility } from './visibility';
import { DueTimer } from './due-timer';

export type { CarriedState } from './run';

/** Input of {@link cloacinaDag}. */
export interface DagWorkflowInput {
  spec: DagSpec;
  context: JsonObject;
  carried?: CarriedState | CarriedStateV1;
  /**
   * The namespace has `CloacinaLastRejection` registered (the executor checks before it starts a run;
   * carried across continue-as-new). Without it the run never upserts that attribute: an upsert of an
   * unregistered attribute would fail every workflow task.
   */
  lastRejectionAttribute?: boolean;
  /**
   * The namespace has `CloacinaAudit` registered (checked and carried as `lastRejectionAttribute` is):
   * audit lines are written in it, with the other attributes, instead of as memo upserts.
   */
  auditAttribute?: boolean;
}

/** Result of a completed run. */
export interface DagWorkflowResult {
  context: JsonObject;
  status: RunStatus;
}

/** What a failed or cancelled run leaves in its failure's details: its final status and context. */
export type DagFailureDetails = [RunStatus, JsonObject];

/**
 * Marks histories begun by this code. A history without it began under release 0.1.0 and replays with
 * that release's frozen code (workflows/v1); its continue-as-new hands over to this code.
 */
export const PATCH_V2 = 'cloacina-v2-shell';

/** Marks runs whose `task` pauses must carry the proof given to the running attempt. */
export const PATCH_TASK_PROOF = 'cloacina-task-proof';

/** Marks runs in which a pause joining one in effect may postpone its scheduled resume. */
export const PATCH_AMEND_PAUSES = 'cloacina-amend-pauses';

/** Marks runs that keep at most MAX_IN_FLIGHT task attempts in flight. */
export const PATCH_IN_FLIGHT_CAP = 'cloacina-in-flight-cap';

/**
 * Marks runs that audit signals with unknown names (a default signal handler) and publish refused
 * signals in `CloacinaLastRejection`: both write commands older histories do not have.
 */
export const PATCH_SIGNAL_REJECTIONS = 'cloacina-signal-rejections';

/**
 * Marks runs whose activity attempts take the short path local attempts take: no wait that would end at
 * once, and one deferred instead of a race against abandonment. Fewer promises per attempt (the SDK
 * captures a stack for each), but a different order of commands than older histories recorded.
 */
export const PATCH_LEAN_ATTEMPTS = 'cloacina-lean-attempts';

/**
 * Marks runs begun by release 0.6.0 or later, for which every patch above holds: one marker instead of
 * six. The SDK writes each patch's marker and an upsert of the `TemporalChangeVersion` search attribute
 * (two events, and a visibility write on the server) at the start of every run and of every
 * continue-as-new. Histories without it replay as before, patch by patch. A later change of commands
 * adds its own patch, checked only where this one does not hold, or the next release's umbrella that
 * implies this one.
 */
export const PATCH_RELEASE_0_6 = 'cloacina-0.6';

/**
 * Marks runs begun by release 0.7.0 or later: everything `cloacina-0.6` implies, and quiet waits (the
 * main loop keeps the reducer's timer, the ready scan holds gated tasks), which order commands
 * differently from older histories. Checked first; a history without it asks `cloacina-0.6` next.
 */
export const PATCH_RELEASE_0_7 = 'cloacina-0.7';

/**
 * Marks runs begun by release 0.8.0 or later: everything `cloacina-0.7` implies, and local waves (the
 * outcomes of local attempts are held until every local attempt started with them has resolved, and
 * workflow-task yields count started local attempts), which change where a run with local tasks yields
 * its workflow task. Checked first; a history without it asks `cloacina-0.7` next.
 */
export const PATCH_RELEASE_0_8 = 'cloacina-0.8';

/**
 * Marks runs begun by release 0.10.0 or later: everything `cloacina-0.8` implies, and audit lines in the
 * `CloacinaAudit` search attribute upsert (where the run's input says it is registered) instead of memo
 * upserts. A run begun by an earlier worker, even with that input, keeps writing memos when a worker of
 * this release replays it. Checked first; a history without it asks `cloacina-0.8` next.
 */
export const PATCH_RELEASE_0_10 = 'cloacina-0.10';

/** The behaviours a run has, from its patch markers (evaluated once, at the start of the run). */
function patchFlags() {
  const release010 = patched(PATCH_RELEASE_0_10);
  const release08 = release010 || patched(PATCH_RELEASE_0_8);
  const release07 = release08 || patched(PATCH_RELEASE_0_7);
  if (release07 || patched(PATCH_RELEASE_0_6)) {
    return {
      taskProof: true,
      amendPauses: true,
      inFlightCap: true,
      leanAttempts: true,
      rejections: true,
      quietWaits: release07,
      localWaves: release08,
      auditAttribute: release010,
    };
  }
  if (!patched(PATCH_V2)) return undefined;
  return {
    taskProof: patched(PATCH_TASK_PROOF),
    amendPauses: patched(PATCH_AMEND_PAUSES),
    inFlightCap: patched(PATCH_IN_FLIGHT_CAP),
    leanAttempts: patched(PATCH_LEAN_ATTEMPTS),
    rejections: patched(PATCH_SIGNAL_REJECTIONS),
    quietWaits: false,
    localWaves: false,
    auditAttribute: false,
  };
}

/** The generic Cloacina DAG workflow. Users never write workflow code: they define tasks. */
export async function cloacinaDag(input: DagWorkflowInput): Promise<DagWorkflowResult> {
  const flags = patchFlags();
  if (!flags) {
    return cloacinaDagV1({ ...input, carried: input.carried as CarriedStateV1 | undefined });
  }
  const run = new Run(input.spec, input.context, input.carried);
  run.requireKindProof = flags.taskProof;
  run.amendJoinedPauses = flags.amendPauses;
  run.capInFlight = flags.inFlightCap;
  run.leanAttempts = flags.leanAttempts;
  run.quietWaits = flags.quietWaits;
  run.localWaves = flags.localWaves;
  const rejections = new Rejections(flags.rejections, input.lastRejectionAttribute === true);
  const visibility = new Visibility(run, rejections, flags.auditAttribute && input.auditAttribute === true);
  const resources = new Resources(run);
  const driver = new TaskDriver(run, resources);
  const handlers = new Handlers(run, rejections);

  run.onChange = () => visibility.publish();
  run.onDecision = (d: Decision) => {
    switch (d.type) {
      case 'cancelInFlight':
        for (const id of d.taskIds) driver.interrupt(id);
        break;
      case 'drained':
        resources.releaseOnPause();
        break;
      case 'releaseGate':
        driver.releaseGate(d.taskId);
        break;
      case 'rejectGate':
        driver.rejectGate(d.taskId, d.by, d.comment);
        break;
      case 'rerunTasks':
        driver.rerun(d.taskIds);
        break;
      case 'skipTasks':
        driver.skip(d.taskIds);
        break;
      case 'scheduledResume':
        handlers.scheduledResume(d.resumeAt);
        break;
      case 'resumed':
        break;
      case 'endRun':
        run.endRequest ??= { action: d.action, reason: d.reason };
        break;
    }
  };
  handlers.install();
  // The main loop's own wait (runs begun with `leanAttempts`) is no `condition()`, which the SDK would
  // reject on the run's cancellation: it learns of the cancellation here.
  if (run.leanAttempts)
    CancellationScope.current().cancelRequested.catch((err: unknown) => run.cancelled(err));
  // A run that starts paused (after continue-as-new or an upgrade) keeps its resources released.
  if (run.pm.hold?.drainedAt) resources.releaseOnPause();
  const timer = run.quietWaits ? new DueTimer(run) : undefined;
  if (!timer) {
    armTimers(run).catch((err: unknown) => {
      if (!isCancellation(err)) run.fatal ??= err;
      run.touch();
    });
  }
  run.touch();

  // ---- main loop -------------------------------------------------------------------------------------
  const settledForContinue = () =>
    run.pm.inFlight.length === 0 && resources.ops === 0 && handlers.ops === 0 && allHandlersFinished();
  try {
    for (;;) {
      driver.startReadyTasks();
      // A due time that passed was fed: what it decided (a resume, a gate's timeout) may start tasks.
      if (timer?.sync()) continue;
      if (run.fatal) throw run.fatal;
      if (run.endRequest || run.allTerminal()) break;
      if (workflowInfo().continueAsNewSuggested && run.drainingSince === undefined) {
        // Stop starting tasks and let the attempts in flight settle, so that a DAG of any width
        // continues as new near the suggestion instead of reaching the history limit.
        run.drainingSince = run.now();
        run.touch();
      }
      if (run.drainingSince !== undefined && settledForContinue()) {
        driver.settleGateOutcomes();
        visibility.flush();
        const next: DagWorkflowInput = {
          spec: run.spec,
          context: run.initialContextToCarry(),
          carried: run.carried(),
          ...(input.lastRejectionAttribute ? { lastRejectionAttribute: true } : {}),
          ...(input.auditAttribute ? { auditAttribute: true } : {}),
        };
        const tooLarge = carriedTooLarge(next);
        if (tooLarge) {
          // The server would refuse the command (and the workflow task, at every retry): the run ends
          // failed instead, saying what it carried.
          run.endRequest = { action: 'fail', reason: tooLarge, type: 'CarriedStateTooLarge' };
          break;
        }
        return await continueAsNew<typeof cloacinaDag>(next);
      }
      const seen = run.version;
      if (run.leanAttempts && run.drainingSince === undefined) await run.changed(seen);
      else {
        await condition(
          () => run.version !== seen || (run.drainingSince !== undefined && settledForContinue()),
        );
      }
    }
  } catch (err) {
    if (isCancellation(err)) {
      run.endState = 'cancelled';
      run.error = { type: 'Cancelled', message: 'The run was cancelled' };
      run.closedAt = run.now();
      run.feed({ type: 'closed', at: run.closedAt });
      await CancellationScope.nonCancellable(() => resources.teardownAll());
      visibility.writeFinal();
    }
    throw err;
  }

  // ---- the end -------------------------------------------------------------------------------------
  const failed = run.spec.tasks.filter((t) => run.tasks[t.id]!.state === 'failed');
  if (run.endRequest) {
    run.endState = run.endRequest.action === 'cancel' ? 'cancelled' : 'failed';
    run.error = {
      type: run.endRequest.type ?? (run.endRequest.action === 'cancel' ? 'Cancelled' : 'Expired'),
      message: run.endRequest.reason,
    };
    for (const id of run.pm.inFlight) driver.interrupt(id);
  } else if (failed.length) {
    run.endState = 'failed';
    run.error = {
      type: 'TaskFailed',
      message: failed
        .map((t) => `\`${t.id}\` failed: ${run.tasks[t.id]!.error?.message ?? 'unknown error'}`)
        .join('; '),
    };
  } else {
    run.endState = 'completed';
  }
  run.closedAt = run.now();
  run.feed({ type: 'closed', at: run.closedAt });
  timer?.stop();
  await resources.teardownAll();
  await condition(allHandlersFinished);
  visibility.flush();
  const final = fitStatus(run.status(), run.finalContext());
  if (run.endState === 'completed') return { context: run.finalContext(), status: final };
  const details: DagFailureDetails = [final, run.finalContext()];
  throw ApplicationFailure.create({
    type: run.endState === 'cancelled' ? 'Cancelled' : run.error!.type,
    message: run.error!.message,
    nonRetryable: true,
    details,
  });
}

/** Why the next run's input is too large to carry (naming its largest parts), or undefined if it fits. */
function carriedTooLarge(next: DagWorkflowInput): string | undefined {
  const bytes = jsonBytes(next);
  if (bytes <= MAX_CARRIED_BYTES) return undefined;
  const carried = next.carried as CarriedState;
  const parts: Array<[string, number]> = [
    [`the spec of ${next.spec.tasks.length} tasks`, jsonBytes(next.spec)],
    [
      `the outputs unfinished tasks still need (${Object.keys(carried.outputs).length})`,
      jsonBytes(carried.outputs),
    ],
    ['the merged context', jsonBytes(carried.context ?? {})],
    ['the initial context', jsonBytes(next.context)],
    [`the records of ${Object.keys(carried.tasks).length} tasks`, jsonBytes(carried.tasks)],
  ];
  const largest = parts
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([what, n]) => `${what}: ${n}`)
    .join(', ');
  return (
    `The state this run would carry into continue-as-new is ${bytes} bytes of JSON, over the limit of ` +
    `${MAX_CARRIED_BYTES} (largest parts, in bytes: ${largest}): keep large data in external storage and put ` +
    'references in the context, or split the DAG into smaller workflows'
  );
}

/**
 * Arms one timer for the reducer's next due time and feeds `timerFired` when it fires; re-arms only
 * when that due time changes. Due times live in the reducer state, so continue-as-new restarts nothing.
 */
async function armTimers(run: Run): Promise<void> {
  for (;;) {
    if (run.closedAt) return;
    const due = nextDue(run.pm);
    if (due === undefined) {
      await condition(() => run.closedAt !== undefined || nextDue(run.pm) !== undefined);
      continue;
    }
    if (due <= Date.now()) {
      // Already due (it came during a continue-as-new or a long workflow task): apply it now rather than
      // arm a timer the server may fire up to a second late.
      run.feed({ type: 'timerFired', at: run.now() });
      if (nextDue(run.pm) !== due) continue;
    }
    const moved = await condition(
      () => run.closedAt !== undefined || nextDue(run.pm) !== due,
      Math.max(1, due - Date.now()),
    );
    if (!moved) run.feed({ type: 'timerFired', at: run.now() });
  }
}
