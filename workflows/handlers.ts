// Request handlers: pause, resume, approve and reject as updates (validated at the door) and as signals
// (refusals audited), the status and context queries, and the scheduled resume. Every request becomes a
// reducer event; no request can fail a workflow task: an unexpected error fails the request alone.
import {
  ApplicationFailure,
  log,
  proxyActivities,
  setDefaultSignalHandler,
  setHandler,
  TimeoutFailure,
  workflowInfo,
} from '@temporalio/workflow';
import type { z } from 'zod';
import type { CloacinaActivities } from './activity-contract';
import { isTerminal, nearest, type JsonObject } from './dag';
import { failureMessage } from './failures';
import {
  approveSignal,
  approveUpdate,
  breakpointsUpdate,
  type BreakpointsResult,
  contextQuery,
  describeIssues,
  requestSchemas,
  MAX_IDENTITY_LENGTH,
  pauseSignal,
  pauseUpdate,
  type PauseRequest,
  rejectSignal,
  rejectUpdate,
  resumeSignal,
  resumeUpdate,
  statusQuery,
  type ControlResult,
} from './messages';
import { currentPause, requestSeen, type RefusalCode, type ResumeInput, type Step } from './pause-machine';
import { RESOURCE_HEARTBEAT_TIMEOUT } from './resources';
import type { Run } from './run';
import type { Rejections } from './visibility';

/** Signals and updates arriving without `by` are recorded under this identity. */
export const ANONYMOUS = 'anonymous';

const refusal = (code: RefusalCode, message: string) =>
  ApplicationFailure.create({ type: code, message, nonRetryable: true });

/** Refusals made before the reducer saw the request: a refused signal must audit them itself. */
const UNAUDITED = new WeakSet<ApplicationFailure>();
const unaudited = (code: RefusalCode, message: string) => {
  const f = refusal(code, message);
  UNAUDITED.add(f);
  return f;
};

/** What a signal sent to this workflow may be called, and what the other names of ours are. */
const SIGNAL_NAMES = [pauseSignal.name, resumeSignal.name, approveSignal.name, rejectSignal.name];
const OTHER_NAMES: Record<string, string> = {
  [breakpointsUpdate.name]: 'an update',
  [statusQuery.name]: 'a query',
  [contextQuery.name]: 'a query',
};
/** Longest unknown signal name kept in an audit line. */
const MAX_SIGNAL_NAME_LENGTH = 100;

/** Why a signal with an unknown name was ignored, naming the nearest real one. */
export function unknownSignalMessage(name: string): string {
  const shown = name.length > MAX_SIGNAL_NAME_LENGTH ? `${name.slice(0, MAX_SIGNAL_NAME_LENGTH)}…` : name;
  const other = Object.hasOwn(OTHER_NAMES, name) ? OTHER_NAMES[name] : undefined;
  if (other)
    return `\`${shown}\` is ${other}, not a signal: it was ignored (signals: ${SIGNAL_NAMES.join(', ')})`;
  const hint =
    name.length <= MAX_SIGNAL_NAME_LENGTH * 2
      ? nearest(name, [...SIGNAL_NAMES, ...Object.keys(OTHER_NAMES)])
      : undefined;
  if (hint && SIGNAL_NAMES.includes(hint))
    return `Unknown signal \`${shown}\` — did you mean \`${hint}\`? It was ignored`;
  if (hint)
    return `Unknown signal \`${shown}\` — \`${hint}\` is ${OTHER_NAMES[hint]}, not a signal. It was ignored`;
  return `Unknown signal \`${shown}\`: it was ignored (this workflow takes ${SIGNAL_NAMES.join(', ')})`;
}

/** How long a resume's validation activity may wait for a worker to start it. */
export const VALIDATION_START_TIMEOUT_MS = 30_000;

/** The activity timed out waiting in the task queue: no worker took it. */
function notStarted(err: unknown): boolean {
  const cause = (err as { cause?: unknown } | undefined)?.cause;
  return cause instanceof TimeoutFailure && cause.timeoutType === 'SCHEDULE_TO_START';
}

export class Handlers {
  /** System operations under way (a scheduled resume): continue-as-new waits for none. */
  ops = 0;

  readonly #validation = proxyActivities<CloacinaActivities>({
    // Queued behind tasks that fill every activity slot of the task queue's workers (or with no worker
    // polling), a resume would wait with no end: it is refused instead, and can be sent again.
    scheduleToStartTimeout: VALIDATION_START_TIMEOUT_MS,
    startToCloseTimeout: '1 minute',
    heartbeatTimeout: RESOURCE_HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: 3, initialInterval: '500ms', maximumInterval: '5s' },
  });

  constructor(
    private readonly run: Run,
    private readonly rejections?: Rejections,
  ) {}

  #control(duplicate: boolean): ControlResult {
    return { state: this.run.state(), pause: currentPause(this.run.pm), duplicate };
  }

  #assertOpen(): void {
    if (this.run.closedAt) {
      throw refusal(
        'WorkflowClosed',
        `The run has already ${this.run.endState ?? 'ended'}: it cannot be paused, resumed or approved`,
      );
    }
  }

  #failure(step: Step): ApplicationFailure | undefined {
    return step.outcome.accepted
      ? undefined
      : refusal(step.outcome.refusal.code, step.outcome.refusal.message);
  }

  pause(raw: unknown): ControlResult {
    this.#assertOpen();
    const r = requestSchemas().PauseRequest.parse(raw);
    this.#checkKind(r);
    const step = this.run.feed({
      type: 'pause',
      at: this.run.now(),
      ...(this.run.amendJoinedPauses ? { amend: true } : {}),
      request: {
        requestId: r.requestId,
        by: r.by ?? ANONYMOUS,
        reason: r.reason ?? '',
        mode: r.mode ?? 'graceful',
        kind: r.kind ?? 'manual',
        resumeAt: r.resumeAt ? new Date(r.resumeAt).toISOString() : undefined,
        expiresAfterMs: r.expiresAfterMs,
        onExpiry: r.onExpiry,
      },
    });
    const f = this.#failure(step);
    if (f) throw f;
    return this.#control(step.outcome.accepted && step.outcome.duplicate);
  }

  /**
   * The kinds only the library sends: `task` must carry the proof the workflow gave the running attempt
   * of the task it names (so no outside caller can pose as a task); `bulk` must carry the request id that
   * `pauseAll` gives this workflow.
   */
  #checkKind(r: PauseRequest): void {
    const run = this.run;
    if (r.kind === 'task' && run.requireKindProof) {
      const taskId = r.by?.startsWith('task:') ? r.by.slice('task:'.length) : undefined;
      const expected = taskId === undefined ? undefined : run.attemptProofs.get(taskId);
      if (expected === undefined || r.proof !== expected) {
        throw unaudited(
          'InvalidRequest',
          taskId === undefined || !run.attemptProofs.has(taskId)
            ? `Kind \`task\` is sent only by ctx.pauseWorkflow from a running task (by \`${r.by ?? ''}\` names no running task): send kind \`manual\``
            : `Kind \`task\` needs the proof given to the running attempt of \`${taskId}\`, and this request's proof does not match: only ctx.pauseWorkflow sends it; send kind \`manual\``,
        );
      }
    }
    if (r.kind === 'bulk' && run.requireKindProof) {
      const id = r.requestId ?? '';
      const suffix = `:${workflowInfo().workflowId}`;
      if (!id.startsWith('bulk:') || !id.endsWith(suffix) || id.length <= 'bulk:'.length + suffix.length) {
        throw unaudited(
          'InvalidRequest',
          `Kind \`bulk\` is sent only by pauseAll, with the request id \`bulk:<bulkId>${suffix}\` (got \`${id}\`): use pauseAll, or send kind \`manual\``,
        );
      }
    }
  }

  async resume(raw: unknown, source: 'request' | 'system'): Promise<ControlResult> {
    this.#assertOpen();
    const run = this.run;
    const spec = run.spec;
    const r = requestSchemas().ResumeRequest.parse(raw);
    const req: ResumeInput = {
      requestId: r.requestId,
      by: r.by ?? (source === 'system' ? 'system' : ANONYMOUS),
      reason: r.reason ?? '',
      force: r.force,
      skip: r.skip,
    };
    const begin = run.feed({ type: 'resumeBegin', at: run.now(), request: req });
    const refused = this.#failure(begin);
    if (refused) throw refused;
    if (begin.outcome.accepted && begin.outcome.duplicate) return this.#control(true);
    if (begin.token === undefined) {
      // Only gates were waiting: release the unconstrained ones.
      const step = run.feed({ type: 'resume', at: run.now(), request: req });
      const f = this.#failure(step);
      if (f) throw f;
      return this.#control(false);
    }
    // From here on, this request's outcome applies only while its token is the one being validated.
    const token = begin.token;
    const hold = run.pm.hold!;
    const failValidation = (message: string) => {
      run.feed({ type: 'resumeRejected', at: run.now(), request: req, token, message });
      return refusal('ValidationRejected', message);
    };
    const max = spec.pausePolicy.maxPauseMs;
    if (max && !r.force && Date.now() - Date.parse(hold.at) > max) {
      throw failValidation(
        `The pause is older than maxPause (${max} ms): resume with force to continue anyway`,
      );
    }
    let validation = 'no checks';
    const remaining = spec.tasks.filter((t) => !isTerminal(run.tasks[t.id]!.state)).map((t) => t.id);
    if (
      r.contextPatch !== undefined ||
      r.input !== undefined ||
      spec.hasResumeValidator ||
      (spec.pausePolicy.verifyTasksOnResume !== false && remaining.length > 0)
    ) {
      let result;
      try {
        result = await this.#validation['cloacina.validateResume']({
          workflowName: spec.name,
          remainingTasks: remaining,
          context: run.currentContext(),
          pause: currentPause(run.pm)!,
          ...(r.input !== undefined ? { input: r.input } : {}),
          ...(r.contextPatch !== undefined ? { contextPatch: r.contextPatch } : {}),
          force: r.force ?? false,
        });
      } catch (err) {
        throw failValidation(
          notStarted(err)
            ? `Resume validation was not started by a worker of task queue \`${workflowInfo().taskQueue}\` within ${VALIDATION_START_TIMEOUT_MS / 1000} s: ` +
                'its workers have no free activity slot (running tasks fill them) or none polls; resume again once they have room'
            : `Resume validation could not run: ${failureMessage(err)}`,
        );
      }
      if (!result.ok) throw failValidation(result.reason);
      validation = result.checks.join('; ') + (r.force ? '; forced' : '');
    }
    if (run.pm.resuming?.token !== token) {
      throw refusal('Superseded', 'A new pause arrived while this resume was being validated: send it again');
    }
    // The caller's object, validated above: zod rebuilds records and would drop a `__proto__` key.
    const patch: JsonObject = {};
    const given = (raw as { contextPatch?: JsonObject }).contextPatch ?? {};
    for (const [k, v] of Object.entries(given))
      Object.defineProperty(patch, k, { value: v, enumerable: true, writable: true, configurable: true });
    if (r.input !== undefined) patch.resumeInput = r.input;
    if (Object.keys(patch).length) run.applyContextPatch(patch);
    const step = run.feed({ type: 'resume', at: run.now(), request: { ...req, validation }, token });
    const f = this.#failure(step);
    if (f) throw f;
    return this.#control(false);
  }

  #unknownTask(taskId: string): string {
    const run = this.run;
    const hint = nearest(taskId, run.specs.keys());
    return (
      `Workflow \`${run.spec.name}\` has no task \`${taskId.slice(0, 200)}\`` +
      (hint
        ? ` — did you mean \`${hint}\`?`
        : `: its tasks are ${[...run.specs.keys()]
            .slice(0, 20)
            .map((t) => `\`${t}\``)
            .join(', ')}${run.specs.size > 20 ? ` and ${run.specs.size - 20} more` : ''}`)
    );
  }

  /**
   * Sets or clears run-time breakpoints: gates before tasks that have not started yet. All or nothing:
   * an unknown task, or one that has started or has its own gate, refuses the whole request (audited).
   * Clearing the breakpoint a task waits at releases it.
   */
  breakpoints(raw: unknown): BreakpointsResult {
    this.#assertOpen();
    const run = this.run;
    const r = requestSchemas().BreakpointsRequest.parse(raw);
    const by = r.by ?? ANONYMOUS;
    const answer = (duplicate: boolean, released: string[]): BreakpointsResult => ({
      ...this.#control(duplicate),
      breakpoints: [...run.breakpoints],
      released,
    });
    if (requestSeen(run.pm, 'breakpoints', r.requestId)) return answer(true, []);
    const refuse = (code: RefusalCode, message: string) => {
      run.feed({
        type: 'invalidRequest',
        at: run.now(),
        request: 'breakpoints',
        message,
        by,
        requestId: r.requestId,
      });
      return refusal(code, message);
    };
    const set = [...new Set(r.set ?? [])];
    const clear = r.clear === true ? [...run.breakpoints] : [...new Set(r.clear ?? [])];
    for (const id of [...set, ...clear])
      if (!run.specs.has(id)) throw refuse('UnknownTask', this.#unknownTask(id));
    const both = set.filter((id) => r.clear !== true && clear.includes(id));
    if (both.length)
      throw refuse('InvalidRequest', `Task \`${both[0]}\` is both set and cleared: give each task once`);
    for (const id of set) {
      if (run.breakpoints.has(id)) continue;
      const rec = run.tasks[id]!;
      if (run.specs.get(id)!.pauseBefore && !run.passedGates.has(id))
        throw refuse(
          'InvalidRequest',
          `Task \`${id}\` already stops at its own pauseBefore gate: approve it to step past, or set a breakpoint elsewhere`,
        );
      if (rec.state !== 'pending' || rec.attempts > 0 || rec.interrupted > 0 || run.passedGates.has(id))
        throw refuse(
          'InvalidRequest',
          `Task \`${id}\` has already started (state \`${rec.state}\`): a breakpoint stops a task before its first attempt`,
        );
    }
    const added = set.filter((id) => !run.breakpoints.has(id));
    const cleared = clear.filter((id) => run.breakpoints.has(id) && !set.includes(id));
    for (const id of added) run.breakpoints.add(id);
    for (const id of cleared) run.breakpoints.delete(id);
    const step = run.feed({
      type: 'breakpoints',
      at: run.now(),
      by,
      requestId: r.requestId,
      set: added,
      cleared,
    });
    const f = this.#failure(step);
    if (f) throw f;
    const released: string[] = [];
    for (const id of cleared) {
      if (!run.pm.gates[id] || run.specs.get(id)!.pauseBefore) continue;
      run.feed({
        type: 'approve',
        at: run.now(),
        request: { taskId: id, by, comment: 'breakpoint cleared' },
      });
      released.push(id);
    }
    run.touch();
    return answer(false, released);
  }

  gate(kind: 'approve' | 'reject', raw: unknown): ControlResult {
    this.#assertOpen();
    const run = this.run;
    const r = (kind === 'approve' ? requestSchemas().ApproveRequest : requestSchemas().RejectRequest).parse(
      raw,
    );
    if (!run.specs.has(r.taskId)) {
      const message = this.#unknownTask(r.taskId);
      run.feed({
        type: 'invalidRequest',
        at: run.now(),
        request: kind,
        message,
        by: r.by,
        requestId: r.requestId,
      });
      throw refusal('UnknownTask', message);
    }
    const step = run.feed({
      type: kind,
      at: run.now(),
      request: { requestId: r.requestId, taskId: r.taskId, by: r.by, comment: r.comment },
    });
    const f = this.#failure(step);
    if (f) throw f;
    return this.#control(step.outcome.accepted && step.outcome.duplicate);
  }

  /** A `resumeAt` came: resume through validation; a refusal leaves the run paused (and audited). */
  scheduledResume(resumeAt: string): void {
    this.ops++;
    this.resume({ by: 'system:schedule', reason: `scheduled resume at ${resumeAt}` }, 'system')
      .catch((err: unknown) => {
        log.warn('Scheduled resume was refused; the run stays paused', { error: failureMessage(err) });
      })
      .finally(() => {
        this.ops--;
        this.run.touch();
      });
  }

  /** A refused or malformed signal: audited (signals have no caller to answer) and noted for operators. */
  #signalRefused(name: string, raw: unknown, err: unknown): void {
    if (err instanceof ApplicationFailure && UNAUDITED.has(err)) {
      // Refused before the reducer saw it (a kind only the library may send, without proof).
      log.warn(`${name} signal refused`, { message: err.message });
      this.#auditInvalid(name, raw, err.message);
      this.#noteRejection(name, raw, err.type ?? 'InvalidRequest', err.message);
      return;
    }
    if (err instanceof ApplicationFailure) {
      // Refusals the reducer made are audited already.
      log.warn(`${name} signal refused`, { message: err.message });
      this.#noteRejection(name, raw, err.type ?? 'InvalidRequest', err.message);
      return;
    }
    if (err instanceof Error && err.name === 'CancelledFailure') throw err;
    const message =
      err instanceof Error && 'issues' in err
        ? describeIssues(err as z.ZodError, raw)
        : `the request failed inside the workflow: ${failureMessage(err)}`;
    log.warn('Rejected signal', { signal: name, message });
    this.#auditInvalid(name, raw, message);
    this.#noteRejection(name, raw, 'InvalidRequest', message);
  }

  /** Publishes a refused signal in `CloacinaLastRejection` (runs with the rejections patch). */
  #noteRejection(name: string, raw: unknown, code: string, message: string): void {
    if (!this.rejections?.report || this.run.closedAt) return;
    const signal = name.startsWith('cloacina.') ? name : `cloacina.${name}`;
    this.rejections.note(this.run.now(), signal, byOf(raw), code, message);
    this.run.touch();
  }

  /**
   * A signal no handler is registered for (a misspelt `cloacina.paus`, a query or update name sent as a
   * signal, anything else): audited as a rejected request naming the nearest real signal, and noted. The
   * payload is not kept. Never fails the workflow task.
   */
  unknownSignal(name: string, args: unknown[]): void {
    try {
      if (this.run.closedAt) return;
      const raw = args[0];
      const message = unknownSignalMessage(name);
      const request =
        name.length > MAX_SIGNAL_NAME_LENGTH ? `${name.slice(0, MAX_SIGNAL_NAME_LENGTH)}…` : name;
      log.warn('Signal with an unknown name ignored', { signal: request, message });
      this.#auditInvalid(request, raw, message);
      this.rejections?.note(this.run.now(), request, byOf(raw), 'UnknownSignal', message);
      this.run.touch();
    } catch (err) {
      if (err instanceof Error && err.name === 'CancelledFailure') throw err;
      log.error('Could not record a signal with an unknown name', { error: failureMessage(err) });
    }
  }

  #auditInvalid(name: string, raw: unknown, message: string): void {
    if (this.run.closedAt) return;
    const by = byOf(raw);
    this.run.feed({ type: 'invalidRequest', at: this.run.now(), request: name, message, by });
  }

  /** Registers every handler. */
  install(): void {
    const validate = <S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> => {
      this.#assertOpen();
      const parsed = schema.safeParse(raw);
      if (!parsed.success) throw new Error(`Invalid request: ${describeIssues(parsed.error, raw)}`);
      return parsed.data;
    };
    const validator = (schema: z.ZodType) => (raw: unknown) => void validate(schema, raw);
    setHandler(pauseUpdate, (raw) => guarded(() => this.pause(raw)), {
      // Refused before it is written to the history: a kind only the library may send, without proof.
      validator: (raw: unknown) => this.#checkKind(validate(requestSchemas().PauseRequest, raw)),
    });
    setHandler(resumeUpdate, (raw) => guardedAsync(() => this.resume(raw, 'request')), {
      validator: validator(requestSchemas().ResumeRequest),
    });
    setHandler(approveUpdate, (raw) => guarded(() => this.gate('approve', raw)), {
      validator: validator(requestSchemas().ApproveRequest),
    });
    setHandler(rejectUpdate, (raw) => guarded(() => this.gate('reject', raw)), {
      validator: validator(requestSchemas().RejectRequest),
    });
    setHandler(breakpointsUpdate, (raw) => guarded(() => this.breakpoints(raw)), {
      validator: validator(requestSchemas().BreakpointsRequest),
    });

    setHandler(pauseSignal, (raw) => {
      try {
        this.pause(raw);
      } catch (err) {
        this.#signalRefused('pause', raw, err);
      }
    });
    // Async, so that continue-as-new (which waits for every handler) waits for its validation too.
    setHandler(resumeSignal, async (raw) => {
      try {
        await this.resume(raw, 'request');
      } catch (err) {
        this.#signalRefused('resume', raw, err);
      }
    });
    for (const [sig, kind] of [
      [approveSignal, 'approve'],
      [rejectSignal, 'reject'],
    ] as const) {
      setHandler(sig, (raw) => {
        try {
          this.gate(kind, raw);
        } catch (err) {
          this.#signalRefused(kind, raw, err);
        }
      });
    }
    if (this.rejections?.report) setDefaultSignalHandler((name, ...args) => this.unknownSignal(name, args));
    setHandler(statusQuery, () => this.run.status());
    setHandler(contextQuery, () => this.run.currentContext());
  }
}

/** The `by` of a raw payload, when it has a string one (bounded). */
function byOf(raw: unknown): string | undefined {
  return typeof raw === 'object' && raw && typeof (raw as { by?: unknown }).by === 'string'
    ? (raw as { by: string }).by.slice(0, MAX_IDENTITY_LENGTH)
    : undefined;
}

/** Turns an unexpected error into a refusal of the request, so that it can never fail the workflow task. */
function guarded<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw asRefusal(err);
  }
}

async function guardedAsync<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw asRefusal(err);
  }
}

function asRefusal(err: unknown): unknown {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof Error && 'issues' in err)
    return refusal('InvalidRequest', `Invalid request: ${describeIssues(err as z.ZodError)}`);
  // Cancellation of the workflow must still propagate.
  if (err instanceof Error && err.name === 'CancelledFailure') return err;
  log.error('Unexpected error in a request handler; the request is refused', { error: failureMessage(err) });
  return refusal('InternalError', `The request failed inside the workflow: ${failureMessage(err)}`);
}
