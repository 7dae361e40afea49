// Unit and property tests of the pause/resume reducer in workflows/pause-machine.ts (no Temporal server).
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { GateSpec } from '../../workflows/dag';
import {
  AUDIT_TAIL,
  EXPIRY_ACTIONS,
  GATE_TIMEOUT_ACTIONS,
  MAX_AUDIT_TEXT,
  REFUSAL_CODES,
  REMEMBERED_REQUESTS,
  activeAt,
  canStart,
  currentPause,
  gateStatuses,
  initialPauseState,
  isActive,
  liveRunState,
  nextDue,
  reduce,
  upgradePauseState,
  type AuditEntry,
  type Decision,
  type ExpiryAction,
  type GateTimeoutAction,
  type InitialOptions,
  type PauseEvent,
  type PauseInput,
  type PauseMachineState,
  type PauseMachineStateV1,
  type PauseMode,
  type RefusalCode,
  type ResumeInput,
  type Step,
} from '../../workflows/pause-machine';
import * as v1 from '../../workflows/v1/pause-machine';

type EventInput = PauseEvent extends infer E ? (E extends PauseEvent ? Omit<E, 'at'> : never) : never;

const T0 = Date.UTC(2025, 0, 1);
/** ISO time `i` seconds after T0. */
const iso = (i: number) => new Date(T0 + i * 1000).toISOString();
/** ISO time `ms` milliseconds after T0. */
const isoMs = (ms: number) => new Date(T0 + ms).toISOString();

/**
 * Drives the reducer like the workflow shell does, with a fake clock: every event ticks it a second
 * (timers excepted: they fire at their instant), `advance` and `at` move it explicitly.
 */
class Run {
  state: PauseMachineState;
  /** Epoch ms of the next event. */
  now = T0;
  lastAt = '';
  constructor(options: Partial<InitialOptions> = {}) {
    this.state = initialPauseState({ startMs: T0, ...options });
  }
  feed(event: EventInput, tickMs = 1000): Step {
    this.lastAt = new Date(this.now).toISOString();
    this.now += tickMs;
    const step = reduce(this.state, { ...event, at: this.lastAt });
    this.state = step.state;
    return step;
  }
  /** Moves the clock `ms` forward. */
  advance(ms: number): this {
    this.now += ms;
    return this;
  }
  /** Moves the clock to `ms` after T0 (never backwards). */
  at(ms: number): this {
    assert.ok(T0 + ms >= this.now, `the clock is at ${this.now - T0} ms, past ${ms}`);
    this.now = T0 + ms;
    return this;
  }
  /** Active ms at `ms` after T0. */
  activeAt(ms: number): number {
    return activeAt(this.state, T0 + ms);
  }
  /** The next due instant, as ms after T0. */
  get due(): number | undefined {
    const due = nextDue(this.state);
    return due === undefined ? undefined : due - T0;
  }
  /** The shell's timer fires now (the clock does not tick). */
  fire(): Step {
    return this.feed({ type: 'timerFired' }, 0);
  }
  /** Moves the clock to the next due instant and fires the timer there. */
  fireDue(): Step {
    const due = nextDue(this.state);
    assert.notEqual(due, undefined, 'nothing is due');
    this.now = Math.max(this.now, due!);
    return this.fire();
  }
  pause(over: Partial<PauseInput> = {}): Step {
    return this.feed({ type: 'pause', request: pauseReq(over) });
  }
  begin(over: Partial<ResumeInput> = {}): Step {
    return this.feed({ type: 'resumeBegin', request: resumeReq(over) });
  }
  /** A resume; `token` when it ends a validation `begin` started. */
  resume(over: Partial<ResumeInput> = {}, token?: number): Step {
    return this.feed({ type: 'resume', request: resumeReq(over), ...(token !== undefined ? { token } : {}) });
  }
  rejectResume(token: number, message: string, over: Partial<ResumeInput> = {}): Step {
    return this.feed({ type: 'resumeRejected', request: resumeReq(over), token, message });
  }
  start(...ids: string[]): void {
    for (const id of ids) this.feed({ type: 'taskStarted', taskId: id });
  }
  settle(id: string): Step {
    return this.feed({ type: 'taskSettled', taskId: id });
  }
  gate(taskId: string, gate: Partial<GateSpec> = {}): Step {
    return this.feed({
      type: 'gateOpened',
      taskId,
      gate: { reason: `gate ${taskId}`, requiredApprovals: 1, ...gate },
    });
  }
  approve(taskId: string, by: string, requestId?: string): Step {
    return this.feed({ type: 'approve', request: { taskId, by, ...(requestId ? { requestId } : {}) } });
  }
  get last(): AuditEntry | undefined {
    return this.state.audit[this.state.audit.length - 1];
  }
}

const pauseReq = (over: Partial<PauseInput> = {}): PauseInput => ({
  by: 'alice',
  reason: 'maintenance',
  mode: 'graceful',
  kind: 'manual',
  ...over,
});
const resumeReq = (over: Partial<ResumeInput> = {}): ResumeInput => ({ by: 'bob', reason: 'done', ...over });

const ACCEPTED = { accepted: true, duplicate: false } as const;
const DUPLICATE = { accepted: true, duplicate: true } as const;

function refusalCode(step: Step): RefusalCode | undefined {
  return step.outcome.accepted ? undefined : step.outcome.refusal.code;
}

function refusalMessage(step: Step): string {
  assert.equal(step.outcome.accepted, false, 'expected a refusal');
  return step.outcome.accepted ? '' : step.outcome.refusal.message;
}

/** The token an accepted `resumeBegin` answered with. */
function tokenOf(step: Step): number {
  assert.equal(typeof step.token, 'number', 'resumeBegin gave no token');
  return step.token!;
}

describe('pause machine: initial state and helpers', () => {
  it('starts running with nothing held', () => {
    const s = initialPauseState({ startMs: T0 });
    assert.equal(canStart(s), true);
    assert.equal(isActive(s), true);
    assert.equal(currentPause(s), null);
    assert.deepEqual(gateStatuses(s), []);
    assert.equal(liveRunState(s, false), 'running');
    assert.equal(liveRunState(s, true), 'running');
    assert.equal(nextDue(s), undefined, 'nothing is due');
    assert.deepEqual(s, {
      hold: null,
      phase: 'running',
      gates: {},
      inFlight: [],
      failedTasks: [],
      audit: [],
      auditCount: 0,
      requests: [],
      nextPauseId: 1,
      clock: { activeMs: 0, activeSince: T0 },
      retries: {},
      policy: { onMaxPause: 'fail' },
      nextToken: 1,
      closed: false,
    });
  });

  it('takes the policy and the deadline from its options', () => {
    const s = initialPauseState({
      startMs: T0,
      maxPauseMs: 60_000,
      onMaxPause: 'cancel',
      deadlineMs: 3_600_000,
    });
    assert.deepEqual(s.policy, { maxPauseMs: 60_000, onMaxPause: 'cancel' });
    assert.equal(s.deadlineActiveMs, 3_600_000);
    assert.equal(nextDue(s), T0 + 3_600_000, 'the deadline is due after that much active time');
    assert.equal(activeAt(s, T0 + 1234), 1234);
    assert.equal(activeAt(s, T0 - 1000), 0, 'never negative');
  });
});

describe('pause machine: graceful pause', () => {
  it('with nothing in flight goes straight to paused', () => {
    const run = new Run();
    const step = run.pause();
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, [{ type: 'drained' }]);
    const s = run.state;
    assert.equal(s.phase, 'paused');
    assert.deepEqual(s.hold, {
      pauseId: 1,
      kind: 'manual',
      by: 'alice',
      at: iso(0),
      reason: 'maintenance',
      mode: 'graceful',
      drainedAt: iso(0),
    });
    assert.equal(canStart(s), false);
    assert.equal(liveRunState(s, false), 'paused');
    assert.deepEqual(s.audit, [
      {
        seq: 1,
        at: iso(0),
        action: 'pause',
        kind: 'manual',
        pauseId: 1,
        by: 'alice',
        reason: 'maintenance',
        mode: 'graceful',
      },
    ]);
    assert.deepEqual(currentPause(s), { ...s.hold, phase: 'paused' });
  });

  it('with tasks in flight goes to pausing, then paused when the last one settles', () => {
    const run = new Run();
    run.start('a', 'b');
    const step = run.pause();
    assert.deepEqual(step.decisions, [], 'graceful: running tasks finish');
    assert.equal(run.state.phase, 'pausing');
    assert.equal(run.state.hold!.drainedAt, undefined);
    assert.equal(liveRunState(run.state, false), 'pausing');
    assert.equal(canStart(run.state), false);

    assert.deepEqual(run.settle('a').decisions, []);
    assert.equal(run.state.phase, 'pausing');
    assert.deepEqual(run.settle('not-in-flight').decisions, [], 'an unknown settle changes nothing');
    assert.deepEqual(run.state.inFlight, ['b']);

    const last = run.settle('b');
    assert.deepEqual(last.decisions, [{ type: 'drained' }]);
    assert.equal(run.state.phase, 'paused');
    assert.deepEqual(run.state.inFlight, []);
    assert.equal(run.state.hold!.drainedAt, run.lastAt);
    assert.deepEqual(run.last, { seq: 2, at: run.lastAt, action: 'drained', kind: 'manual', pauseId: 1 });
  });

  it('never emits cancelInFlight', () => {
    const run = new Run();
    run.start('a', 'b', 'c');
    const decisions: Decision[] = [...run.pause().decisions, ...run.pause({ requestId: 'again' }).decisions];
    for (const id of ['a', 'b', 'c']) decisions.push(...run.settle(id).decisions);
    assert.ok(!decisions.some((d) => d.type === 'cancelInFlight'));
  });

  it('a task settling while running changes nothing else', () => {
    const run = new Run();
    run.start('a');
    const step = run.settle('a');
    assert.deepEqual(step.decisions, []);
    assert.deepEqual(run.state, initialPauseState({ startMs: T0 }));
  });
});

describe('pause machine: immediate pause', () => {
  it('cancels the in-flight tasks', () => {
    const run = new Run();
    run.start('a', 'b');
    const step = run.pause({ mode: 'immediate' });
    assert.deepEqual(step.decisions, [{ type: 'cancelInFlight', taskIds: ['a', 'b'] }]);
    assert.equal(run.state.phase, 'pausing');
    assert.equal(run.state.hold!.mode, 'immediate');
    run.settle('b');
    assert.deepEqual(run.settle('a').decisions, [{ type: 'drained' }]);
    assert.equal(run.state.phase, 'paused');
  });

  it('with nothing in flight only reports drained', () => {
    const run = new Run();
    assert.deepEqual(run.pause({ mode: 'immediate' }).decisions, [{ type: 'drained' }]);
    assert.equal(run.state.phase, 'paused');
  });

  it('upgrades a graceful pause that is still draining', () => {
    const run = new Run();
    run.start('a', 'b');
    run.pause({ requestId: 'p1' });
    run.settle('a');
    const step = run.pause({ mode: 'immediate', by: 'carol', reason: 'hurry', requestId: 'p2' });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, [{ type: 'cancelInFlight', taskIds: ['b'] }]);
    assert.equal(run.state.phase, 'pausing');
    assert.equal(run.state.hold!.mode, 'immediate');
    assert.equal(run.state.hold!.pauseId, 1, 'the same pause, upgraded');
    assert.equal(run.state.hold!.by, 'alice');
    assert.deepEqual(run.last, {
      seq: 2,
      at: run.lastAt,
      action: 'upgrade',
      kind: 'manual',
      pauseId: 1,
      by: 'carol',
      reason: 'hurry',
      mode: 'immediate',
      requestId: 'p2',
      message: 'graceful pause 1 made immediate',
    });
    // A second immediate pause has nothing left to upgrade: it joins, and says so.
    const again = run.pause({ mode: 'immediate' });
    assert.deepEqual(again.decisions, []);
    assert.equal(run.state.audit.length, 3);
    assert.deepEqual(run.last, {
      seq: 3,
      at: run.lastAt,
      action: 'pause',
      kind: 'manual',
      pauseId: 1,
      by: 'alice',
      reason: 'maintenance',
      mode: 'immediate',
      message: 'already paused (pause 1 by alice): joined it',
    });
    assert.deepEqual(run.settle('b').decisions, [{ type: 'drained' }]);
  });

  it('does not upgrade a pause that has already drained', () => {
    const run = new Run();
    run.pause();
    const step = run.pause({ mode: 'immediate' });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.hold!.mode, 'graceful');
    assert.deepEqual(
      run.state.audit.map((e) => [e.action, e.pauseId, e.mode, e.message]),
      [
        ['pause', 1, 'graceful', undefined],
        ['pause', 1, 'immediate', 'already paused (pause 1 by alice): joined it'],
      ],
    );
  });
});

describe('pause machine: idempotency by request id', () => {
  it('a repeated pause request id is a duplicate with no second audit record', () => {
    const run = new Run();
    run.start('a');
    run.pause({ requestId: 'req-1' });
    const before = run.state;
    const step = run.pause({ requestId: 'req-1', mode: 'immediate', by: 'someone-else' });
    assert.deepEqual(step.outcome, DUPLICATE);
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state, before, 'state is untouched');
    assert.equal(run.state.audit.filter((e) => e.action === 'pause').length, 1);
    assert.equal(run.state.hold!.mode, 'graceful');
  });

  it('a repeated resume request id is a duplicate, even after the run paused again', () => {
    const run = new Run();
    run.pause();
    assert.deepEqual(run.resume({ requestId: 'res-1' }).decisions, [{ type: 'resumed' }]);
    run.pause();
    const audit = run.state.audit.length;
    const step = run.resume({ requestId: 'res-1' });
    assert.deepEqual(step.outcome, DUPLICATE);
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.audit.length, audit);
    assert.notEqual(run.state.hold, null, 'still paused');
  });

  it('a refused request id is not remembered, so it can be sent again', () => {
    const run = new Run();
    assert.equal(refusalCode(run.resume({ requestId: 'early' })), 'NotPaused');
    run.pause();
    assert.deepEqual(run.resume({ requestId: 'early' }).outcome, ACCEPTED);
    assert.equal(run.state.hold, null);
  });

  it('a repeated approve request id is a duplicate', () => {
    const run = new Run();
    run.gate('deploy', { requiredApprovals: 2 });
    run.approve('deploy', 'a', 'ap-1');
    const audit = run.state.audit.length;
    assert.deepEqual(run.approve('deploy', 'b', 'ap-1').outcome, DUPLICATE);
    assert.equal(run.state.audit.length, audit);
    assert.equal(run.state.gates.deploy!.approvals.length, 1);
  });
});

describe('pause machine: refusals', () => {
  it('resume when not paused is refused with NotPaused and audited', () => {
    const run = new Run();
    const step = run.resume({ requestId: 'r1' });
    assert.equal(refusalCode(step), 'NotPaused');
    assert.match(refusalMessage(step), /The run is not paused \(state running\): nothing to resume/);
    assert.deepEqual(step.decisions, []);
    assert.deepEqual(run.state.audit, [
      {
        seq: 1,
        at: run.lastAt,
        action: 'rejected',
        request: 'resume',
        by: 'bob',
        requestId: 'r1',
        message: refusalMessage(step),
      },
    ]);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
  });

  it('resumeBegin when not paused is refused the same way', () => {
    const run = new Run();
    const step = run.feed({ type: 'resumeBegin', request: resumeReq() });
    assert.equal(refusalCode(step), 'NotPaused');
    assert.equal(run.last!.action, 'rejected');
    assert.equal(run.last!.request, 'resume');
  });

  it('an invalid request is refused and audited', () => {
    const run = new Run();
    const step = run.feed({
      type: 'invalidRequest',
      request: 'pause',
      message: 'mode: invalid option',
      by: 'eve',
      requestId: 'x',
    });
    assert.deepEqual(step.outcome, {
      accepted: false,
      refusal: { code: 'InvalidRequest', message: 'mode: invalid option' },
    });
    assert.deepEqual(run.state.audit, [
      {
        seq: 1,
        at: run.lastAt,
        action: 'rejected',
        request: 'pause',
        by: 'eve',
        requestId: 'x',
        message: 'mode: invalid option',
      },
    ]);
  });

  it('approve of a task that is not waiting is refused with GateNotWaiting', () => {
    const run = new Run();
    let step = run.approve('deploy', 'a');
    assert.equal(refusalCode(step), 'GateNotWaiting');
    assert.match(refusalMessage(step), /Task `deploy` is not waiting at a gate; no gate is waiting/);
    run.gate('other');
    step = run.approve('deploy', 'a');
    assert.match(refusalMessage(step), /waiting: `other`/);
    assert.equal(run.last!.action, 'rejected');
    assert.equal(run.last!.taskId, 'deploy');
  });
});

describe('pause machine: pauseBefore gates', () => {
  const gateSpec: Partial<GateSpec> = {
    reason: 'prod deploy',
    approvers: ['a', 'b', 'c'],
    requiredApprovals: 2,
  };

  it('opens a gate that holds only its task', () => {
    const run = new Run();
    const step = run.gate('deploy', gateSpec);
    assert.deepEqual(step.decisions, []);
    assert.equal(canStart(run.state), true, 'other branches keep running');
    assert.equal(liveRunState(run.state, true), 'paused');
    assert.equal(liveRunState(run.state, false), 'running');
    assert.deepEqual(run.last, {
      seq: 1,
      at: run.lastAt,
      action: 'gate',
      kind: 'gate',
      pauseId: 1,
      by: 'gate',
      reason: 'prod deploy',
      taskId: 'deploy',
    });
    assert.deepEqual(currentPause(run.state), {
      pauseId: 1,
      kind: 'gate',
      by: 'gate',
      at: run.lastAt,
      reason: 'prod deploy',
      mode: 'graceful',
      phase: 'paused',
      taskId: 'deploy',
    });
    assert.deepEqual(gateStatuses(run.state), [
      {
        taskId: 'deploy',
        pauseId: 1,
        openedAt: run.lastAt,
        reason: 'prod deploy',
        approvers: ['a', 'b', 'c'],
        requiredApprovals: 2,
        approvals: [],
      },
    ]);
    // Opening the same gate again changes nothing.
    const again = run.gate('deploy', gateSpec);
    assert.equal(again.state.audit.length, 1);
    assert.equal(again.state.nextPauseId, 2);
  });

  it('needs two distinct approvals from the approvers', () => {
    const run = new Run();
    run.gate('deploy', gateSpec);

    let step = run.approve('deploy', 'a');
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, []);
    assert.deepEqual(
      run.state.gates.deploy!.approvals.map((x) => x.by),
      ['a'],
    );
    assert.equal(run.last!.action, 'approve');

    step = run.approve('deploy', 'mallory');
    assert.equal(refusalCode(step), 'NotAnApprover');
    assert.match(refusalMessage(step), /`mallory` may not approve `deploy`: approvers are `a`, `b`, `c`/);
    assert.deepEqual(run.last, {
      seq: 3,
      at: run.lastAt,
      action: 'rejected',
      request: 'approve',
      by: 'mallory',
      taskId: 'deploy',
      message: refusalMessage(step),
    });

    const audit = run.state.auditCount;
    step = run.approve('deploy', 'a');
    assert.deepEqual(step.outcome, DUPLICATE, 'the same identity does not count twice');
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.gates.deploy!.approvals.length, 1);
    assert.equal(run.state.auditCount, audit + 1, 'the second approval is recorded, counted once');
    assert.deepEqual(run.last, {
      seq: audit + 1,
      at: run.lastAt,
      action: 'approve',
      kind: 'gate',
      pauseId: 1,
      by: 'a',
      taskId: 'deploy',
      message: '`a` had already approved: counted once',
    });

    step = run.approve('deploy', 'b');
    assert.deepEqual(step.decisions, [{ type: 'releaseGate', taskId: 'deploy' }]);
    assert.deepEqual(run.state.gates, {});
    assert.deepEqual(
      run.state.audit.slice(-2).map((e) => [e.action, e.by, e.pauseId]),
      [
        ['approve', 'b', 1],
        ['resume', 'a, b', 1],
      ],
    );
    assert.equal(run.last.reason, '2 of 2 approvals');
    assert.equal(currentPause(run.state), null);
  });

  it('anyone may approve a gate without approvers', () => {
    const run = new Run();
    run.gate('deploy');
    assert.deepEqual(run.approve('deploy', 'anyone').decisions, [{ type: 'releaseGate', taskId: 'deploy' }]);
  });

  it('reject emits rejectGate', () => {
    const run = new Run();
    run.gate('deploy', gateSpec);
    assert.equal(
      refusalCode(run.feed({ type: 'reject', request: { taskId: 'deploy', by: 'mallory' } })),
      'NotAnApprover',
    );
    const step = run.feed({ type: 'reject', request: { taskId: 'deploy', by: 'c', comment: 'not today' } });
    assert.deepEqual(step.decisions, [
      { type: 'rejectGate', taskId: 'deploy', by: 'c', comment: 'not today' },
    ]);
    assert.deepEqual(run.state.gates, {});
    assert.deepEqual(
      { action: run.last!.action, by: run.last!.by, reason: run.last!.reason, pauseId: run.last!.pauseId },
      { action: 'reject', by: 'c', reason: 'not today', pauseId: 1 },
    );
  });

  it('resume with no hold releases unconstrained gates only', () => {
    const run = new Run();
    run.gate('free');
    run.gate('guarded', { approvers: ['a'] });
    run.gate('two', { requiredApprovals: 2 });
    const step = run.resume({ by: 'ops' });
    assert.deepEqual(step.decisions, [{ type: 'releaseGate', taskId: 'free' }]);
    assert.deepEqual(Object.keys(run.state.gates).sort(), ['guarded', 'two']);
    assert.deepEqual(
      {
        action: run.last!.action,
        kind: run.last!.kind,
        taskId: run.last!.taskId,
        pauseId: run.last!.pauseId,
      },
      { action: 'resume', kind: 'gate', taskId: 'free', pauseId: 1 },
    );
    const again = run.resume();
    assert.equal(refusalCode(again), 'NotPaused');
    assert.match(refusalMessage(again), /gates `guarded`, `two` need approvals: use approve/);
  });

  it('a gate times out on the clock: approve releases it, fail and reject reject it', () => {
    const run = new Run();
    run.gate('yes', { timeoutMs: 5000, onTimeout: 'approve' }); // at 0 s: due at 5 s of active time
    run.gate('no', { timeoutMs: 10_000 }); // at 1 s: due at 11 s
    run.gate('maybe', { timeoutMs: 20_000, onTimeout: 'reject' }); // at 2 s: due at 22 s
    assert.deepEqual(
      Object.values(run.state.gates).map((g) => [g.taskId, g.dueActiveMs, g.onTimeout]),
      [
        ['yes', 5000, 'approve'],
        ['no', 11_000, 'fail'],
        ['maybe', 22_000, 'reject'],
      ],
    );
    assert.equal(run.due, 5000);
    assert.deepEqual(run.at(4999).fire().decisions, [], 'not yet');
    assert.equal(Object.keys(run.state.gates).length, 3);
    let step = run.at(5000).fire();
    assert.deepEqual(step.decisions, [{ type: 'releaseGate', taskId: 'yes' }]);
    assert.deepEqual(run.state.audit.slice(-2), [
      {
        seq: 4,
        at: isoMs(5000),
        action: 'expired',
        kind: 'gate',
        pauseId: 1,
        by: 'system:timeout',
        taskId: 'yes',
        message: 'gate timed out: approve',
      },
      {
        seq: 5,
        at: isoMs(5000),
        action: 'resume',
        kind: 'gate',
        pauseId: 1,
        by: 'system:timeout',
        reason: 'gate timeout: approved',
        taskId: 'yes',
      },
    ]);
    assert.equal(run.due, 11_000);
    step = run.fireDue();
    assert.equal(run.lastAt, isoMs(11_000));
    assert.deepEqual(step.decisions, [
      { type: 'rejectGate', taskId: 'no', by: 'system:timeout', comment: 'gate timed out (fail)' },
    ]);
    assert.equal(run.last!.reason, 'gate timeout: fail');
    assert.deepEqual(run.fire().decisions, [], 'already gone');
    step = run.fireDue();
    assert.equal(run.lastAt, isoMs(22_000));
    assert.deepEqual(step.decisions, [
      { type: 'rejectGate', taskId: 'maybe', by: 'system:timeout', comment: 'gate timed out (reject)' },
    ]);
    assert.deepEqual(run.state.gates, {});
    assert.equal(run.due, undefined);
  });

  it('a late timer times out every gate that is due at once', () => {
    const run = new Run();
    run.gate('a', { timeoutMs: 5000 });
    run.gate('b', { timeoutMs: 5000, onTimeout: 'approve' });
    run.gate('c', { timeoutMs: 60_000 });
    assert.deepEqual(run.at(30_000).fire().decisions, [
      { type: 'rejectGate', taskId: 'a', by: 'system:timeout', comment: 'gate timed out (fail)' },
      { type: 'releaseGate', taskId: 'b' },
    ]);
    assert.deepEqual(Object.keys(run.state.gates), ['c']);
    assert.equal(run.due, 62_000);
  });

  it('a workflow pause is reported before waiting gates', () => {
    const run = new Run();
    run.gate('deploy');
    run.pause();
    assert.equal(currentPause(run.state)!.kind, 'manual');
    assert.equal(currentPause(run.state)!.pauseId, 2);
  });
});

describe('pause machine: resume with validation', () => {
  it('resumeBegin → resuming → resume with its token', () => {
    const run = new Run();
    run.pause();
    const begin = run.begin({ requestId: 'r1' });
    assert.deepEqual(begin.outcome, ACCEPTED);
    assert.equal(begin.token, 1);
    assert.deepEqual(run.state.resuming, { token: 1, by: 'bob', requestId: 'r1' });
    assert.equal(run.state.nextToken, 2);
    assert.equal(run.state.phase, 'resuming');
    assert.equal(liveRunState(run.state, false), 'resuming');
    assert.equal(canStart(run.state), false);
    assert.equal(currentPause(run.state)!.phase, 'resuming');
    assert.equal(refusalCode(run.feed({ type: 'resumeBegin', request: resumeReq() })), 'AlreadyResuming');
    assert.equal(refusalCode(run.resume()), 'AlreadyResuming');
    assert.equal(refusalCode(run.resume({}, 7)), 'Superseded', 'a token that was never handed out');
    const step = run.resume({ validation: 'health ok', requestId: 'r1' }, 1);
    assert.deepEqual(step.decisions, [{ type: 'resumed' }]);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
    assert.equal(run.state.resuming, undefined);
    assert.equal(canStart(run.state), true);
    assert.deepEqual(run.last, {
      seq: run.state.auditCount,
      at: run.lastAt,
      action: 'resume',
      kind: 'manual',
      pauseId: 1,
      by: 'bob',
      reason: 'done',
      requestId: 'r1',
      message: 'health ok',
    });
    assert.equal(refusalCode(run.resume({}, 1)), 'Superseded', 'the token is spent');
  });

  it('a pause during resuming supersedes the resume', () => {
    const run = new Run();
    run.pause();
    const token = tokenOf(run.begin());
    const p = run.pause({ by: 'carol' });
    assert.deepEqual(p.outcome, ACCEPTED);
    assert.equal(run.state.phase, 'paused');
    assert.equal(run.state.resuming, undefined);
    assert.equal(run.state.hold!.pauseId, 1);
    assert.deepEqual(
      run.state.audit.slice(-2).map((e) => [e.action, e.by, e.message]),
      [
        ['rejected', 'bob', 'superseded by a pause from carol'],
        ['pause', 'carol', 'already paused (pause 1 by alice): joined it'],
      ],
    );
    const audit = run.state.auditCount;
    const late = run.resume({}, token);
    assert.equal(refusalCode(late), 'Superseded');
    assert.equal(run.state.auditCount, audit + 1);
    assert.equal(run.last!.action, 'rejected');
    assert.notEqual(run.state.hold, null, 'still paused');
    assert.equal(run.state.phase, 'paused');
  });

  it('a pause during resuming with tasks in flight goes back to pausing', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.begin();
    run.pause({ by: 'carol' });
    assert.equal(run.state.phase, 'pausing');
  });

  it('resumeRejected goes back to paused and audits the reason', () => {
    const run = new Run();
    run.pause();
    const token = tokenOf(run.begin({ requestId: 'r9' }));
    const audit = run.state.audit.length;
    const step = run.rejectResume(token, 'lock lost', { requestId: 'r9' });
    assert.deepEqual(step.outcome, {
      accepted: false,
      refusal: { code: 'ValidationRejected', message: 'lock lost' },
    });
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.phase, 'paused');
    assert.equal(run.state.resuming, undefined);
    assert.equal(run.state.audit.length, audit + 1);
    assert.deepEqual(run.last, {
      seq: audit + 1,
      at: run.lastAt,
      action: 'rejected',
      request: 'resume',
      kind: 'manual',
      pauseId: 1,
      by: 'bob',
      reason: 'done',
      requestId: 'r9',
      message: 'lock lost',
    });
    // The same request id may be tried again after a rejection.
    const again = run.begin({ requestId: 'r9' });
    assert.deepEqual(again.outcome, ACCEPTED);
    assert.equal(again.token, 2, 'a new token');
  });

  it('resumeRejected with tasks still in flight goes back to pausing', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.rejectResume(tokenOf(run.begin()), 'no');
    assert.equal(run.state.phase, 'pausing');
  });

  it('a forced resume is recorded as forced', () => {
    const run = new Run();
    run.pause();
    run.resume({ force: true });
    assert.equal(run.last!.forced, true);
  });

  it('resumeBegin with only gates waiting does not enter resuming', () => {
    const run = new Run();
    run.gate('g');
    const begin = run.begin();
    assert.deepEqual(begin.outcome, ACCEPTED);
    assert.equal(begin.token, undefined, 'nothing to validate');
    assert.equal(run.state.phase, 'running');
    assert.deepEqual(run.resume().decisions, [{ type: 'releaseGate', taskId: 'g' }]);
  });
});

describe('pause machine: pause on failure', () => {
  it('taskFailed opens a failure hold', () => {
    const run = new Run();
    const step = run.feed({ type: 'taskFailed', taskId: 'load', message: 'db down' });
    assert.deepEqual(step.decisions, [{ type: 'drained' }]);
    assert.equal(run.state.phase, 'paused');
    assert.deepEqual(run.state.failedTasks, ['load']);
    assert.deepEqual(
      { kind: run.state.hold!.kind, by: run.state.hold!.by, reason: run.state.hold!.reason },
      { kind: 'failure', by: 'task:load', reason: 'db down' },
    );
    assert.deepEqual(currentPause(run.state)!.failedTasks, ['load']);
    assert.deepEqual(
      { action: run.last!.action, kind: run.last!.kind, taskId: run.last!.taskId },
      { action: 'pause', kind: 'failure', taskId: 'load' },
    );
    // A second failure joins the same hold; the same task failing again changes nothing.
    run.feed({ type: 'taskFailed', taskId: 'other', message: 'x' });
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'again' });
    assert.deepEqual(run.state.failedTasks, ['load', 'other']);
    assert.equal(run.state.audit.length, 1);
  });

  it('taskFailed with tasks in flight goes to pausing', () => {
    const run = new Run();
    run.start('a');
    assert.deepEqual(run.feed({ type: 'taskFailed', taskId: 'b', message: 'x' }).decisions, []);
    assert.equal(run.state.phase, 'pausing');
    assert.deepEqual(run.settle('a').decisions, [{ type: 'drained' }]);
  });

  it('resume with skip emits skipTasks', () => {
    const run = new Run();
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'x' });
    const step = run.resume({ skip: ['load'] });
    assert.deepEqual(step.decisions, [{ type: 'skipTasks', taskIds: ['load'] }, { type: 'resumed' }]);
    assert.deepEqual(run.state.failedTasks, []);
    assert.equal(run.state.hold, null);
  });

  it('resume without skip emits rerunTasks', () => {
    const run = new Run();
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'x' });
    run.feed({ type: 'taskFailed', taskId: 'index', message: 'y' });
    const step = run.resume();
    assert.deepEqual(step.decisions, [
      { type: 'rerunTasks', taskIds: ['load', 'index'] },
      { type: 'resumed' },
    ]);
  });

  it('resume with a partial skip reruns the rest', () => {
    const run = new Run();
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'x' });
    run.feed({ type: 'taskFailed', taskId: 'index', message: 'y' });
    assert.deepEqual(run.resume({ skip: ['index'] }).decisions, [
      { type: 'skipTasks', taskIds: ['index'] },
      { type: 'rerunTasks', taskIds: ['load'] },
      { type: 'resumed' },
    ]);
  });

  it('skip naming a task that is not held is refused', () => {
    const run = new Run();
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'x' });
    const step = run.resume({ skip: ['load', 'ghost'] });
    assert.equal(refusalCode(step), 'UnknownTask');
    assert.match(refusalMessage(step), /`skip` names `ghost`, which no failure pause holds; held: `load`/);
    assert.equal(run.last!.action, 'rejected');
    assert.deepEqual(run.state.failedTasks, ['load']);
    assert.notEqual(run.state.hold, null);
  });
});

describe('pause machine: expiry', () => {
  it('records expiresAt (now + expiresAfterMs) with onExpiry defaulting to resume', () => {
    const run = new Run();
    run.pause({ expiresAfterMs: 100_000 });
    assert.equal(run.state.hold!.expiresAt, iso(100));
    assert.equal(run.state.hold!.onExpiry, 'resume');
    assert.equal(run.due, 100_000);
    assert.deepEqual(currentPause(run.state)!.expiresAt, iso(100));
    run.resume();
    assert.equal(run.due, undefined, 'the expiry went with the pause');
    run.pause({ resumeAt: iso(50) });
    assert.equal(run.state.hold!.resumeAt, iso(50));
    assert.equal(run.state.hold!.expiresAt, undefined);
    assert.equal(run.state.hold!.onExpiry, undefined);
    assert.equal(run.due, 50_000);
  });

  it('action resume resumes the run, forced, exactly when it expires', () => {
    const run = new Run();
    run.pause({ expiresAfterMs: 100_000 });
    assert.deepEqual(run.at(99_999).fire().decisions, [], 'not yet');
    assert.notEqual(run.state.hold, null);
    const step = run.at(100_000).fire();
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, [{ type: 'resumed' }]);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
    assert.deepEqual(run.state.clock, { activeMs: 0, activeSince: T0 + 100_000 }, 'the clock runs again');
    assert.deepEqual(run.state.audit.slice(-2), [
      {
        seq: 2,
        at: iso(100),
        action: 'expired',
        kind: 'manual',
        pauseId: 1,
        by: 'system:expiry',
        message: 'pause expired: resume',
      },
      {
        seq: 3,
        at: iso(100),
        action: 'resume',
        kind: 'manual',
        pauseId: 1,
        by: 'system:expiry',
        reason: 'pause expired',
        forced: true,
      },
    ]);
    assert.equal(run.due, undefined);
  });

  it('action resume reruns tasks held by a failure pause (maxPause with onMaxPause resume)', () => {
    const run = new Run({ maxPauseMs: 60_000, onMaxPause: 'resume' });
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'x' });
    assert.equal(run.state.hold!.expiresAt, iso(60));
    assert.equal(run.state.hold!.onExpiry, 'resume');
    assert.deepEqual(run.fireDue().decisions, [
      { type: 'rerunTasks', taskIds: ['load'] },
      { type: 'resumed' },
    ]);
    assert.deepEqual(run.state.failedTasks, []);
  });

  for (const action of ['fail', 'cancel'] as const) {
    it(`action ${action} ends the run`, () => {
      const run = new Run();
      run.pause({ expiresAfterMs: 100_000, onExpiry: action });
      const step = run.fireDue();
      assert.equal(run.lastAt, iso(100));
      assert.deepEqual(step.decisions, [{ type: 'endRun', action, reason: 'pause 1 (maintenance) expired' }]);
      assert.equal(run.state.hold, null);
      assert.equal(run.state.phase, 'running');
      assert.deepEqual(
        run.state.audit.slice(-2).map((e) => [e.action, e.pauseId, e.by, e.message ?? e.reason]),
        [
          ['expired', 1, 'system:expiry', `pause expired: ${action}`],
          ['resume', 1, 'system:expiry', `pause expired: ${action}`],
        ],
      );
    });
  }

  it('a timer with nothing due changes nothing', () => {
    const run = new Run();
    const step = run.fire();
    assert.deepEqual(step.decisions, []);
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(run.state, initialPauseState({ startMs: T0 }));
    run.pause();
    const held = run.state;
    run.advance(3_600_000).fire();
    assert.deepEqual(run.state, held, 'a pause without expiry never expires');
  });

  it('expiresAfterMs is bounded by maxPause, which then applies onMaxPause', () => {
    const run = new Run({ maxPauseMs: 60_000 });
    run.pause({ expiresAfterMs: 30_000 }); // at 0 s
    assert.deepEqual(
      { expiresAt: run.state.hold!.expiresAt, onExpiry: run.state.hold!.onExpiry },
      { expiresAt: iso(30), onExpiry: 'resume' },
      'shorter than maxPause: its own expiry',
    );
    run.resume();
    run.pause({ expiresAfterMs: 120_000, onExpiry: 'resume' }); // at 2 s
    assert.deepEqual(
      { expiresAt: run.state.hold!.expiresAt, onExpiry: run.state.hold!.onExpiry },
      { expiresAt: iso(62), onExpiry: 'fail' },
      'longer than maxPause: maxPause wins, with onMaxPause (default fail)',
    );
    run.resume();
    run.pause(); // at 4 s
    assert.deepEqual(
      { expiresAt: run.state.hold!.expiresAt, onExpiry: run.state.hold!.onExpiry },
      { expiresAt: iso(64), onExpiry: 'fail' },
      'no expiry asked: maxPause',
    );
    assert.equal(run.due, 64_000);
    assert.deepEqual(run.fireDue().decisions, [
      { type: 'endRun', action: 'fail', reason: 'pause 3 (maintenance) expired' },
    ]);

    const cancel = new Run({ maxPauseMs: 60_000, onMaxPause: 'cancel' });
    cancel.pause();
    assert.equal(cancel.state.hold!.onExpiry, 'cancel');
  });
});

describe('pause machine: the run clock', () => {
  it('active time runs while running and while gates wait, and a hold freezes it', () => {
    const run = new Run();
    run.at(2000).gate('g');
    assert.deepEqual(run.state.clock, { activeMs: 0, activeSince: T0 }, 'a gate does not stop the clock');
    assert.equal(run.activeAt(5000), 5000);
    run.at(5000).pause();
    assert.deepEqual(run.state.clock, { activeMs: 5000, activeSince: null });
    assert.equal(run.activeAt(60_000), 5000, 'frozen while paused');
    const token = tokenOf(run.at(35_000).begin());
    assert.equal(isActive(run.state), false, 'still frozen while resuming');
    assert.equal(run.activeAt(36_000), 5000);
    run.resume({}, token); // at 36 s
    assert.deepEqual(run.state.clock, { activeMs: 5000, activeSince: T0 + 36_000 });
    assert.equal(run.activeAt(40_000), 9000);
  });

  it('a graceful pause stops the clock at once, while tasks are still draining', () => {
    const run = new Run();
    run.start('a'); // at 0 s
    run.at(3000).pause();
    assert.equal(run.state.phase, 'pausing');
    assert.deepEqual(run.state.clock, { activeMs: 3000, activeSince: null });
    run.at(10_000).settle('a');
    assert.equal(run.activeAt(20_000), 3000);
  });

  it('a gate timeout counts active time only: a pause pushes it out by the paused time', () => {
    const run = new Run();
    run.at(2000).gate('deploy', { timeoutMs: 10_000 });
    assert.equal(run.state.gates.deploy!.dueActiveMs, 12_000);
    assert.equal(run.due, 12_000, 'unpaused, due 10 s after it opened');
    assert.equal(gateStatuses(run.state, T0 + 4000)[0]!.timeoutRemainingMs, 8000);
    run.at(5000).pause(); // 7 s of the timeout left
    assert.equal(run.due, undefined, 'nothing is due while paused');
    const held = run.state;
    assert.deepEqual(run.at(20_000).fire().decisions, []);
    assert.deepEqual(run.state, held, 'a timer while paused times nothing out');
    assert.equal(gateStatuses(run.state, T0 + 30_000)[0]!.timeoutRemainingMs, 7000);
    run.at(35_000).resume(); // paused 30 s
    assert.equal(run.due, 42_000, 'pushed out by the 30 s the run was paused');
    assert.deepEqual(run.at(41_999).fire().decisions, []);
    assert.ok(run.state.gates.deploy, 'still waiting 1 ms before');
    assert.equal(gateStatuses(run.state, T0 + 41_999)[0]!.timeoutRemainingMs, 1);
    const step = run.at(42_000).fire();
    assert.deepEqual(step.decisions, [
      { type: 'rejectGate', taskId: 'deploy', by: 'system:timeout', comment: 'gate timed out (fail)' },
    ]);
    assert.deepEqual(
      run.state.audit.slice(-2).map((e) => [e.action, e.pauseId, e.by, e.at, e.message ?? e.reason]),
      [
        ['expired', 1, 'system:timeout', isoMs(42_000), 'gate timed out: fail'],
        ['resume', 1, 'system:timeout', isoMs(42_000), 'gate timeout: fail'],
      ],
    );
    assert.equal(run.due, undefined);
  });

  it('a retry back-off is due on active time: frozen while paused, removed once due', () => {
    const run = new Run();
    run.at(1000).feed({ type: 'retryScheduled', taskId: 'load', delayMs: 10_000 });
    assert.deepEqual(run.state.retries, { load: 11_000 });
    assert.equal(run.due, 11_000);
    run.at(4000).pause();
    assert.equal(run.due, undefined, 'a back-off is not due while paused');
    assert.deepEqual(run.at(20_000).fire().decisions, []);
    assert.deepEqual(run.state.retries, { load: 11_000 }, 'frozen, not fired');
    run.at(24_000).resume(); // paused 20 s
    assert.equal(run.due, 31_000);
    run.at(30_999).fire();
    assert.deepEqual(run.state.retries, { load: 11_000 });
    const step = run.at(31_000).fire();
    assert.deepEqual(step.decisions, [], 'a back-off has no decision: the task may start again');
    assert.deepEqual(run.state.retries, {});
    assert.equal(run.due, undefined);
  });

  it('an overdue back-off and deadline wait out a pause, and apply once the clock runs again', () => {
    const run = new Run({ deadlineMs: 5000, maxPauseMs: 60_000, onMaxPause: 'resume' });
    run.feed({ type: 'retryScheduled', taskId: 'load', delayMs: 2000 }); // due at 2 s of active time
    run.at(10_000).pause(); // the timer was late: both are overdue when the pause lands
    assert.equal(run.due, 70_000, "only the pause's maxPause is due while paused");
    assert.deepEqual(run.at(20_000).fire().decisions, []);
    assert.deepEqual(run.state.retries, { load: 2000 }, 'nothing on active time applies while paused');
    assert.equal(run.state.deadlineActiveMs, 5000);
    // The expiry ends the pause; the clock runs again from that instant, so the rest is due at once.
    assert.deepEqual(run.at(70_000).fire().decisions, [{ type: 'resumed' }]);
    assert.deepEqual(run.state.retries, { load: 2000 });
    assert.equal(run.due, 70_000);
    assert.deepEqual(run.fire().decisions, [
      { type: 'endRun', action: 'fail', reason: 'The run exceeded its deadline of 5000 ms of active time' },
    ]);
    assert.deepEqual(run.state.retries, {});
  });

  it('a retry scheduled while paused starts counting when the run resumes', () => {
    const run = new Run();
    run.at(3000).pause();
    run.at(5000).feed({ type: 'retryScheduled', taskId: 'load', delayMs: 4000 });
    assert.deepEqual(run.state.retries, { load: 7000 });
    assert.equal(run.due, undefined);
    run.at(60_000).resume();
    assert.equal(run.due, 64_000);
  });

  it('a scheduled resume fires at resumeAt, once, and waits while a resume is being validated', () => {
    const run = new Run();
    run.pause({ resumeAt: iso(60) });
    assert.equal(run.due, 60_000);
    const token = tokenOf(run.begin());
    assert.equal(run.due, undefined, 'no scheduled resume while one is validated');
    run.rejectResume(token, 'not yet');
    assert.equal(run.due, 60_000, 'back once the validation failed');
    const count = run.state.auditCount;
    const step = run.at(60_000).fire();
    assert.deepEqual(step.decisions, [{ type: 'scheduledResume', pauseId: 1, resumeAt: iso(60) }]);
    assert.equal(run.state.hold!.resumeAt, undefined, 'fires once');
    assert.equal(run.state.phase, 'paused', 'the shell resumes through validation');
    assert.equal(run.state.auditCount, count);
    assert.equal(run.due, undefined);
    assert.deepEqual(run.fire().decisions, []);
    const begin = run.begin({ by: 'system:schedule', reason: 'scheduled resume' });
    assert.equal(begin.token, 2);
    assert.deepEqual(run.resume({ by: 'system:schedule', reason: 'scheduled resume' }, 2).decisions, [
      { type: 'resumed' },
    ]);
  });

  it('a pause joining one in effect postpones its scheduled resume, and never ends it sooner', () => {
    const run = new Run();
    run.pause({ resumeAt: iso(60) });
    const amend = (over: Partial<PauseInput>) =>
      run.feed({ type: 'pause', request: pauseReq({ by: 'carol', ...over }), amend: true });

    let step = amend({ resumeAt: iso(120) });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.equal(run.state.hold!.resumeAt, iso(120));
    assert.equal(run.due, 120_000, 'the timer moves to the later instant');
    assert.equal(
      run.last!.message,
      `already paused (pause 1 by alice): joined it; scheduled resume postponed from ${iso(60)} to ${iso(120)}`,
    );

    step = amend({ resumeAt: iso(90), expiresAfterMs: 5000 });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.equal(run.state.hold!.resumeAt, iso(120), 'an earlier resumeAt is not applied');
    assert.equal(run.state.hold!.expiresAt, undefined, "the joiner's expiry is not applied");
    assert.equal(
      run.last!.message,
      `already paused (pause 1 by alice): joined it; resumeAt ${iso(90)} not applied: the pause resumes at ${iso(120)}, and a joined pause never ends it sooner; expiresAfterMs not applied: only the first pause of a hold sets its expiry`,
    );
    assert.equal(run.due, 120_000);

    // Runs begun before amendments: the join changes nothing but the audit, as before.
    const old = new Run();
    old.pause({ resumeAt: iso(60) });
    old.pause({ by: 'carol', resumeAt: iso(120) });
    assert.equal(old.state.hold!.resumeAt, iso(60));
    assert.equal(old.last!.message, 'already paused (pause 1 by alice): joined it');
  });

  it('records breakpoints set and cleared, once per request id', () => {
    const run = new Run();
    const step = run.feed({ type: 'breakpoints', by: 'dev', requestId: 'b-1', set: ['x', 'y'], cleared: [] });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(
      [run.last!.action, run.last!.by, run.last!.requestId, run.last!.message],
      ['breakpoint', 'dev', 'b-1', 'set before `x`, `y`'],
    );
    const count = run.state.auditCount;
    assert.deepEqual(
      run.feed({ type: 'breakpoints', by: 'dev', requestId: 'b-1', set: ['x'], cleared: [] }).outcome,
      DUPLICATE,
    );
    assert.equal(run.state.auditCount, count, 'a repeated request id writes nothing');
    run.feed({ type: 'breakpoints', by: 'dev', set: [], cleared: ['y'] });
    assert.equal(run.last!.message, 'cleared before `y`');
    assert.equal(run.state.phase, 'running', 'breakpoints alone do not pause the run');
    run.feed({ type: 'closed' });
    assert.equal(
      refusalCode(run.feed({ type: 'breakpoints', by: 'dev', set: ['x'], cleared: [] })),
      'WorkflowClosed',
    );
  });

  it('a joined pause gives an open-ended pause no scheduled resume', () => {
    const run = new Run();
    run.pause();
    run.feed({ type: 'pause', request: pauseReq({ by: 'carol', resumeAt: iso(30) }), amend: true });
    assert.equal(run.state.hold!.resumeAt, undefined);
    assert.equal(run.due, undefined);
    assert.match(
      run.last!.message!,
      /the pause has no scheduled resume, and a joined pause never ends it sooner/,
    );
  });

  it('an expiry due together with resumeAt wins', () => {
    const run = new Run();
    run.pause({ resumeAt: iso(30), expiresAfterMs: 30_000, onExpiry: 'cancel' });
    assert.deepEqual(run.fireDue().decisions, [
      { type: 'endRun', action: 'cancel', reason: 'pause 1 (maintenance) expired' },
    ]);
  });

  it('the deadline counts active time and ends the run', () => {
    const run = new Run({ deadlineMs: 10_000 });
    assert.equal(run.due, 10_000);
    run.at(3000).pause();
    assert.equal(run.due, undefined);
    run.at(23_000).resume(); // paused 20 s
    assert.equal(run.due, 30_000);
    assert.deepEqual(run.at(29_999).fire().decisions, []);
    const step = run.at(30_000).fire();
    assert.deepEqual(step.decisions, [
      { type: 'endRun', action: 'fail', reason: 'The run exceeded its deadline of 10000 ms of active time' },
    ]);
    assert.equal(run.state.deadlineActiveMs, undefined, 'fires once');
    assert.equal(run.due, undefined);
  });

  for (const action of EXPIRY_ACTIONS) {
    it(`maxPause bounds a gate (wall time, even while paused): onMaxPause ${action}`, () => {
      const run = new Run({ maxPauseMs: 60_000, onMaxPause: action });
      run.gate('deploy', { approvers: ['a'], timeoutMs: 600_000, reason: 'prod' });
      assert.equal(run.state.gates.deploy!.expiresAt, iso(60));
      assert.deepEqual(
        gateStatuses(run.state).map((g) => g.expiresAt),
        [iso(60)],
      );
      assert.deepEqual(
        { expiresAt: currentPause(run.state)!.expiresAt, onExpiry: currentPause(run.state)!.onExpiry },
        { expiresAt: iso(60), onExpiry: action },
      );
      run.pause(); // at 1 s: its own maxPause is due at 61 s
      assert.equal(run.due, 60_000, 'the gate is due on wall time, paused or not');
      const step = run.at(60_000).fire();
      assert.deepEqual(
        step.decisions,
        action === 'resume'
          ? [{ type: 'releaseGate', taskId: 'deploy' }]
          : [
              {
                type: 'endRun',
                action,
                reason: 'the gate before `deploy` waited longer than maxPause (60000 ms)',
              },
            ],
      );
      assert.deepEqual(run.state.gates, {});
      assert.deepEqual(
        run.state.audit.slice(-2).map((e) => [e.action, e.pauseId, e.by, e.taskId, e.message ?? e.reason]),
        [
          ['expired', 1, 'system:maxPause', 'deploy', `gate reached maxPause: ${action}`],
          [
            'resume',
            1,
            'system:maxPause',
            'deploy',
            action === 'resume' ? 'maxPause: approved' : `maxPause: ${action}`,
          ],
        ],
      );
      assert.equal(run.state.hold!.pauseId, 2, 'the manual pause is untouched');
      assert.equal(run.due, 61_000);
    });
  }

  it('maxPause bounds a failure pause', () => {
    const run = new Run({ maxPauseMs: 60_000 });
    run.at(5000).feed({ type: 'taskFailed', taskId: 'load', message: 'db down' });
    assert.deepEqual(
      { expiresAt: run.state.hold!.expiresAt, onExpiry: run.state.hold!.onExpiry },
      { expiresAt: iso(65), onExpiry: 'fail' },
    );
    assert.equal(run.due, 65_000);
    assert.deepEqual(run.at(64_999).fire().decisions, []);
    assert.deepEqual(run.at(65_000).fire().decisions, [
      { type: 'endRun', action: 'fail', reason: 'pause 1 (db down) expired' },
    ]);
  });

  it('continue-as-new mid-way changes no due time and no outcome', () => {
    const build = () => {
      const run = new Run({ maxPauseMs: 120_000, deadlineMs: 500_000 });
      run.gate('deploy', { timeoutMs: 30_000 });
      run.feed({ type: 'retryScheduled', taskId: 'load', delayMs: 20_000 });
      run.at(10_000).pause({ resumeAt: iso(50) });
      return run;
    };
    const straight = build();
    const carried = build();
    carried.state = JSON.parse(JSON.stringify(carried.state)) as PauseMachineState;
    assert.deepStrictEqual(carried.state, straight.state);
    const fire = (run: Run, carry: boolean) => {
      const out: [number | undefined, Decision[]][] = [];
      for (let i = 0; i < 6 && run.due !== undefined; i++) {
        const due = run.due;
        const step = run.fireDue();
        out.push([due, step.decisions]);
        if (step.decisions.some((d) => d.type === 'scheduledResume')) run.resume({ by: 'system:schedule' });
        if (carry) {
          const before = nextDue(run.state);
          run.state = JSON.parse(JSON.stringify(run.state)) as PauseMachineState;
          assert.equal(nextDue(run.state), before);
        }
      }
      return out;
    };
    const expected: [number | undefined, Decision[]][] = [
      [50_000, [{ type: 'scheduledResume', pauseId: 2, resumeAt: iso(50) }]],
      // Resumed at 50 s after 10 s of active time: the back-off (due at 21 s) and the gate timeout (due
      // at 30 s) count on from there; the gate's maxPause (120 s, wall time) has no chance to apply.
      [61_000, []],
      [
        70_000,
        [{ type: 'rejectGate', taskId: 'deploy', by: 'system:timeout', comment: 'gate timed out (fail)' }],
      ],
      // 500 s of active time: 10 s before the pause, 490 s from 50 s on.
      [
        540_000,
        [
          {
            type: 'endRun',
            action: 'fail',
            reason: 'The run exceeded its deadline of 500000 ms of active time',
          },
        ],
      ],
    ];
    assert.deepEqual(fire(straight, false), expected);
    assert.deepEqual(fire(carried, true), expected);
    assert.deepStrictEqual(carried.state, straight.state);
  });
});

describe('pause machine: bounded state', () => {
  it(`the audit keeps the newest ${AUDIT_TAIL} lines; auditCount counts all and seqs stay contiguous`, () => {
    assert.equal(AUDIT_TAIL, 200);
    const run = new Run();
    for (let i = 0; i < 130; i++) {
      run.pause();
      run.resume();
    }
    assert.equal(run.state.auditCount, 260);
    assert.equal(run.state.audit.length, 200);
    assert.deepEqual(
      run.state.audit.map((e) => e.seq),
      Array.from({ length: 200 }, (_, i) => 61 + i),
    );
    assert.deepEqual(
      [run.state.audit[0]!.action, run.state.audit[0]!.pauseId, run.last!.action, run.last!.pauseId],
      ['pause', 31, 'resume', 130],
    );
    run.pause();
    assert.equal(run.state.audit.length, 200);
    assert.deepEqual([run.state.audit[0]!.seq, run.last!.seq, run.state.auditCount], [62, 261, 261]);
  });

  it(`the request window forgets the oldest id after ${REMEMBERED_REQUESTS}`, () => {
    assert.equal(REMEMBERED_REQUESTS, 1000);
    const run = new Run();
    run.pause({ requestId: 'p0' });
    assert.deepEqual(run.state.requests, ['pause:p0']);
    for (let i = 1; i <= 1000; i++) run.pause({ requestId: `p${i}` }); // joins, each remembered
    assert.equal(run.state.requests.length, 1000);
    assert.deepEqual([run.state.requests[0], run.state.requests[999]], ['pause:p1', 'pause:p1000']);
    assert.deepEqual(run.pause({ requestId: 'p1000' }).outcome, DUPLICATE);
    assert.deepEqual(run.pause({ requestId: 'p1' }).outcome, DUPLICATE, 'the oldest id still remembered');
    const count = run.state.auditCount;
    const again = run.pause({ requestId: 'p0' });
    assert.deepEqual(again.outcome, ACCEPTED, 'forgotten: served again');
    assert.equal(run.state.auditCount, count + 1);
    assert.equal(run.last!.requestId, 'p0');
    assert.deepEqual([run.state.requests[0], run.state.requests[999]], ['pause:p2', 'pause:p0']);
    assert.equal(run.state.requests.length, 1000);
  });

  it(`audit text is clipped to ${MAX_AUDIT_TEXT} characters`, () => {
    const run = new Run();
    run.pause({ reason: 'x'.repeat(5000) });
    assert.equal(run.last!.reason, 'x'.repeat(MAX_AUDIT_TEXT - 1) + '…');
    run.rejectResume(tokenOf(run.begin()), 'y'.repeat(3000));
    assert.equal(run.last!.message, 'y'.repeat(MAX_AUDIT_TEXT - 1) + '…');
    run.pause({ reason: 'z'.repeat(MAX_AUDIT_TEXT) });
    assert.equal(run.last!.reason, 'z'.repeat(MAX_AUDIT_TEXT), 'exactly the limit is kept whole');
  });

  it('stays under 512 KiB of JSON over 3,000 pause/resume cycles with 1000-character reasons', () => {
    const run = new Run({ maxPauseMs: 3_600_000 });
    const long = (c: string) => c.repeat(1000);
    let largest = 0;
    for (let i = 0; i < 3000; i++) {
      run.gate(`g${i}`, { reason: long('g'), timeoutMs: 60_000 });
      run.start(`t${i}`);
      run.pause({ reason: long('p'), requestId: `p${i}`, mode: i % 2 ? 'graceful' : 'immediate' });
      run.pause({ reason: long('j'), requestId: `j${i}`, by: 'carol' });
      run.settle(`t${i}`);
      let token = tokenOf(run.begin({ reason: long('r'), requestId: `r${i}` }));
      if (i % 3 === 0) {
        run.rejectResume(token, long('v'), { requestId: `r${i}` });
        token = tokenOf(run.begin({ reason: long('r'), requestId: `r${i}` }));
      }
      assert.deepEqual(run.resume({ reason: long('r'), requestId: `r${i}` }, token).decisions, [
        { type: 'resumed' },
      ]);
      run.feed({
        type: 'approve',
        request: { taskId: `g${i}`, by: 'ops', comment: long('c'), requestId: `a${i}` },
      });
      run.feed({ type: 'retryScheduled', taskId: `t${i}`, delayMs: 1000 });
      run.advance(5000).fire();
      if (i % 100 === 99) {
        const json = JSON.stringify(run.state);
        largest = Math.max(largest, json.length);
        assert.ok(
          json.length < 512 * 1024,
          `state is ${json.length} characters of JSON after ${i + 1} cycles`,
        );
        assert.deepStrictEqual(JSON.parse(json), run.state);
      }
    }
    assert.equal(run.state.audit.length, AUDIT_TAIL);
    assert.ok(run.state.auditCount > 20_000, `auditCount ${run.state.auditCount}`);
    assert.equal(run.state.requests.length, REMEMBERED_REQUESTS);
    assert.deepEqual(run.state.gates, {});
    assert.deepEqual(run.state.retries, {});
    assert.ok(largest > 100 * 1024, 'the tail holds the long reasons (the bound is not trivially met)');
  });
});

describe('pause machine: audit of repeated requests', () => {
  it('a pause on a paused run writes a line joining the existing pause', () => {
    const run = new Run();
    run.pause({ requestId: 'p1' });
    const hold = run.state.hold;
    const step = run.pause({ by: 'carol', reason: 'me too', requestId: 'p2', kind: 'bulk' });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.hold, hold, 'the pause is unchanged');
    assert.deepEqual(run.last, {
      seq: 2,
      at: run.lastAt,
      action: 'pause',
      kind: 'bulk',
      pauseId: 1,
      by: 'carol',
      reason: 'me too',
      mode: 'graceful',
      requestId: 'p2',
      message: 'already paused (pause 1 by alice): joined it',
    });
    assert.deepEqual(run.state.requests, ['pause:p1', 'pause:p2']);
    assert.equal(run.state.nextPauseId, 2, 'no new pause id');
  });

  it('an immediate pause on a draining graceful pause writes an upgrade line instead', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.pause({ mode: 'immediate', by: 'carol' });
    assert.deepEqual(
      [run.last!.action, run.last!.pauseId, run.last!.message],
      ['upgrade', 1, 'graceful pause 1 made immediate'],
    );
  });
});

describe('pause machine: resume tokens', () => {
  it('R1 validating, pause P, R2 begins: R1 is refused Superseded, R2 resumes', () => {
    const run = new Run();
    run.pause({ by: 'alice' });
    const r1 = run.begin({ by: 'r1', requestId: 'one' });
    assert.equal(r1.token, 1);
    run.pause({ by: 'p' });
    assert.equal(run.state.phase, 'paused');
    assert.equal(run.state.resuming, undefined);
    const r2 = run.begin({ by: 'r2', requestId: 'two' });
    assert.equal(r2.token, 2);
    assert.deepEqual(run.state.resuming, { token: 2, by: 'r2', requestId: 'two' });

    // R1's validation passes late: its outcome must not apply.
    const late = run.resume({ by: 'r1', requestId: 'one', validation: 'ok' }, 1);
    assert.equal(refusalCode(late), 'Superseded');
    assert.deepEqual(late.decisions, []);
    assert.equal(run.state.phase, 'resuming', "R2's validation goes on");
    assert.deepEqual(run.state.resuming, { token: 2, by: 'r2', requestId: 'two' });
    assert.deepEqual([run.last!.action, run.last!.by, run.last!.requestId], ['rejected', 'r1', 'one']);
    assert.ok(!run.state.requests.includes('resume:one'), 'a refused resume is not remembered');
    // R1's validation fails late: it must not end R2's either.
    const failed = run.rejectResume(1, 'stale check failed', { by: 'r1', requestId: 'one' });
    assert.equal(refusalCode(failed), 'ValidationRejected');
    assert.equal(run.state.phase, 'resuming');
    assert.deepEqual(run.state.resuming, { token: 2, by: 'r2', requestId: 'two' });
    assert.deepEqual([run.last!.action, run.last!.message], ['rejected', 'stale check failed']);

    const done = run.resume({ by: 'r2', requestId: 'two', validation: 'ok' }, 2);
    assert.deepEqual(done.outcome, ACCEPTED);
    assert.deepEqual(done.decisions, [{ type: 'resumed' }]);
    assert.equal(run.state.hold, null);
    assert.deepEqual([run.last!.action, run.last!.by, run.last!.pauseId], ['resume', 'r2', 1]);
    assert.deepEqual(run.state.requests, ['resume:two']);
  });

  it('R2 rejected after R1 was superseded goes back to paused', () => {
    const run = new Run();
    run.pause();
    run.begin({ by: 'r1' });
    run.pause({ by: 'p' });
    const token = tokenOf(run.begin({ by: 'r2' }));
    run.rejectResume(token, 'unhealthy', { by: 'r2' });
    assert.equal(run.state.phase, 'paused');
    assert.equal(run.state.resuming, undefined);
    assert.equal(refusalCode(run.resume({ by: 'r2' }, token)), 'Superseded', 'a rejected token is spent');
    assert.notEqual(run.state.hold, null);
  });

  it('a resume with a token when nothing is held is Superseded', () => {
    const run = new Run();
    const step = run.resume({}, 1);
    assert.equal(refusalCode(step), 'Superseded');
    assert.match(refusalMessage(step), /send it again/);
  });

  it('a stale resumeRejected with nothing being validated changes no phase', () => {
    const run = new Run();
    run.pause();
    const step = run.rejectResume(5, 'old news');
    assert.equal(refusalCode(step), 'ValidationRejected');
    assert.equal(run.state.phase, 'paused');
    assert.notEqual(run.state.hold, null);
  });
});

describe('pause machine: closed runs and refusal codes', () => {
  it('closing ends the pause (even mid-validation) with a line, and a refused pause is audited', () => {
    const run = new Run();
    run.pause();
    tokenOf(run.begin());
    assert.equal(run.state.phase, 'resuming');
    run.feed({ type: 'closed' });
    assert.deepEqual([run.state.hold, run.state.phase, run.state.resuming], [null, 'running', undefined]);
    assert.deepEqual(
      [run.last!.action, run.last!.pauseId, run.last!.by, run.last!.reason],
      ['resume', 1, 'system:end', 'the run ended while paused'],
    );
    const before = run.state.auditCount;
    assert.equal(refusalCode(run.pause({ by: 'late', requestId: 'late-1' })), 'WorkflowClosed');
    assert.equal(run.state.auditCount, before + 1);
    assert.deepEqual(
      [run.last!.action, run.last!.request, run.last!.by, run.last!.requestId],
      ['rejected', 'pause', 'late', 'late-1'],
    );
  });

  it('closed freezes the clock, turns every timer off and refuses requests with WorkflowClosed', () => {
    const run = new Run({ maxPauseMs: 60_000, deadlineMs: 100_000 });
    run.gate('deploy', { timeoutMs: 10_000 });
    run.feed({ type: 'retryScheduled', taskId: 'load', delayMs: 5000 });
    assert.equal(run.due, 6000);
    run.at(4000).feed({ type: 'closed' });
    assert.equal(run.state.closed, true);
    assert.deepEqual(run.state.clock, { activeMs: 4000, activeSince: null });
    assert.deepEqual(run.state.retries, {});
    assert.equal(run.due, undefined, 'no timer after the run closed');
    assert.equal(run.activeAt(1_000_000), 4000);
    const closed = run.state;
    assert.deepEqual(run.at(200_000).fire().decisions, []);
    assert.deepEqual(run.state, closed);

    assert.equal(refusalCode(run.pause()), 'WorkflowClosed');
    assert.equal(refusalCode(run.begin()), 'WorkflowClosed');
    assert.equal(refusalCode(run.resume()), 'WorkflowClosed');
    assert.equal(refusalCode(run.approve('deploy', 'a')), 'WorkflowClosed');
    const reject = run.feed({ type: 'reject', request: { taskId: 'deploy', by: 'a' } });
    assert.equal(refusalCode(reject), 'WorkflowClosed');
    assert.equal(refusalMessage(reject), 'The run has ended');
    assert.deepEqual(
      [run.last!.action, run.last!.request, run.last!.taskId, run.last!.message],
      ['rejected', 'reject', 'deploy', 'The run has ended'],
    );
  });

  it('closing during a validation drops it: its resume is refused', () => {
    const run = new Run();
    run.pause();
    const token = tokenOf(run.begin());
    run.feed({ type: 'closed' });
    assert.equal(run.state.resuming, undefined);
    assert.equal(refusalCode(run.resume({}, token)), 'WorkflowClosed');
    assert.equal(run.due, undefined);
  });

  it('REFUSAL_CODES lists every code', () => {
    assert.deepEqual(
      [...REFUSAL_CODES],
      [
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
      ],
    );
  });
});

type V1Input = v1.PauseEvent extends infer E ? (E extends v1.PauseEvent ? Omit<E, 'at'> : never) : never;

/** A state as release 0.1.0 carried it through continue-as-new (driven by its frozen reducer). */
function v1State(events: V1Input[]): PauseMachineStateV1 {
  let s = v1.initialPauseState();
  events.forEach((e, i) => {
    s = v1.reduce(s, { ...e, at: iso(i) }).state;
  });
  return JSON.parse(JSON.stringify(s)) as PauseMachineStateV1;
}

describe('pause machine: upgrading a state carried by release 0.1.0', () => {
  it('drains a hold that 0.1.0 carried mid-validation, and bounds a carried hold by maxPause', () => {
    const old = v1State([
      { type: 'taskStarted', taskId: 'a' },
      { type: 'pause', request: pauseReq() },
      { type: 'resumeBegin', request: resumeReq() },
      { type: 'taskSettled', taskId: 'a' },
    ]);
    assert.equal(old.phase, 'resuming');
    assert.equal(old.hold!.drainedAt, undefined);
    const startMs = T0 + 60_000;
    const s = upgradePauseState(old, { startMs, activeMs: 0, maxPauseMs: 3_600_000, onMaxPause: 'cancel' });
    assert.equal(s.phase, 'paused');
    assert.equal(s.hold!.drainedAt, new Date(startMs).toISOString());
    assert.deepEqual(
      [s.audit[s.audit.length - 1]!.action, s.audit[s.audit.length - 1]!.pauseId],
      ['drained', old.hold!.pauseId],
    );
    assert.equal(s.auditCount, old.audit.length + 1);
    assert.deepEqual(
      [s.hold!.expiresAt, s.hold!.onExpiry],
      [new Date(Date.parse(old.hold!.at) + 3_600_000).toISOString(), 'cancel'],
    );
    assert.equal(nextDue(s), Date.parse(old.hold!.at) + 3_600_000);
  });

  const pauseV1 = (requestId: string): V1Input => ({ type: 'pause', request: pauseReq({ requestId }) });
  const resumeV1 = (requestId: string): V1Input => ({ type: 'resume', request: resumeReq({ requestId }) });

  it('bounds the audit and the request window, keeping seqs, counts and order', () => {
    const events: V1Input[] = [];
    for (let i = 0; i < 600; i++) events.push(pauseV1(`p${i}`), resumeV1(`r${i}`));
    const old = v1State(events);
    assert.equal(old.audit.length, 1200);
    const s = upgradePauseState(old, { startMs: T0 + 1_000_000, activeMs: 42_000 });
    assert.equal(s.audit.length, AUDIT_TAIL);
    assert.equal(s.auditCount, 1200);
    assert.deepEqual(s.audit, old.audit.slice(-AUDIT_TAIL));
    assert.deepEqual([s.audit[0]!.seq, s.audit[199]!.seq], [1001, 1200]);
    assert.equal(s.requests.length, REMEMBERED_REQUESTS);
    assert.deepEqual(s.requests, Object.keys(old.requests).slice(-REMEMBERED_REQUESTS));
    assert.deepEqual([s.requests[0], s.requests[999]], ['pause:p100', 'resume:r599']);
    assert.deepEqual(s.clock, { activeMs: 42_000, activeSince: T0 + 1_000_000 }, 'running: the clock runs');
    assert.deepEqual(s.policy, { onMaxPause: 'fail' });
    assert.deepEqual([s.nextPauseId, s.nextToken, s.closed], [601, 1, false]);
    assert.deepStrictEqual(JSON.parse(JSON.stringify(s)), s);
    // It goes on from there: the next line is seq 1201.
    const next = reduce(s, { type: 'pause', at: isoMs(1_000_000), request: pauseReq() }).state;
    assert.deepEqual(
      [next.auditCount, next.audit[199]!.seq, next.audit[0]!.seq, next.hold!.pauseId],
      [1201, 1201, 1002, 601],
    );
  });

  it('a paused run: frozen clock, gate timeouts restart at the upgrade, retries from what remained', () => {
    const old = v1State([
      {
        type: 'gateOpened',
        taskId: 'deploy',
        gate: { reason: 'prod', requiredApprovals: 1, timeoutMs: 30_000 },
      },
      { type: 'pause', request: pauseReq() },
    ]);
    const start = T0 + 1_000_000;
    const s = upgradePauseState(old, {
      startMs: start,
      activeMs: 5000,
      maxPauseMs: 3_600_000,
      retryRemainingMs: { load: 2500 },
    });
    assert.deepEqual(s.clock, { activeMs: 5000, activeSince: null });
    assert.deepEqual(s.gates.deploy, {
      ...old.gates.deploy!,
      dueActiveMs: 35_000,
      expiresAt: new Date(T0 + 3_600_000).toISOString(),
    });
    assert.deepEqual(s.retries, { load: 7500 });
    assert.deepEqual(s.policy, { maxPauseMs: 3_600_000, onMaxPause: 'fail' });
    assert.equal(nextDue(s), T0 + 3_600_000, 'only the gate maxPause is due while paused');
    const resumed = reduce(s, {
      type: 'resume',
      at: new Date(start + 10_000).toISOString(),
      request: resumeReq(),
    });
    assert.deepEqual(resumed.decisions, [{ type: 'resumed' }]);
    assert.equal(nextDue(resumed.state), start + 10_000 + 2500, 'the back-off resumes counting');
  });

  it('stale inFlight is cleared, and a run carried while resuming comes back paused', () => {
    const running = v1State([{ type: 'taskStarted', taskId: 'x' }]);
    assert.deepEqual(running.inFlight, ['x']);
    assert.deepEqual(upgradePauseState(running, { startMs: T0, activeMs: 0 }).inFlight, []);

    const old = v1State([
      { type: 'pause', request: pauseReq() },
      { type: 'resumeBegin', request: resumeReq() },
    ]);
    assert.equal(old.phase, 'resuming');
    const s = upgradePauseState(old, { startMs: T0, activeMs: 0 });
    assert.equal(s.phase, 'paused');
    assert.equal(s.resuming, undefined);
    assert.ok(s.hold!.drainedAt);
    const begin = reduce(s, { type: 'resumeBegin', at: iso(10), request: resumeReq() });
    assert.equal(begin.token, 1, 'its resume can be sent again');
    const done = reduce(begin.state, { type: 'resume', at: iso(11), request: resumeReq(), token: 1 });
    assert.deepEqual(done.decisions, [{ type: 'resumed' }]);
  });
});

describe('pause machine: task starts', () => {
  it('throws when a task starts while paused, pausing or resuming', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    assert.throws(() => run.start('b'), /task `b` started while the run is pausing/);
    run.settle('a');
    assert.throws(() => run.start('b'), /task `b` started while the run is paused/);
    const token = tokenOf(run.begin());
    assert.throws(() => run.start('b'), /task `b` started while the run is resuming/);
    run.resume({}, token);
    run.start('b');
    assert.deepEqual(run.state.inFlight, ['b']);
  });

  it('allows starts while only gates wait', () => {
    const run = new Run();
    run.gate('g');
    run.start('x');
    assert.deepEqual(run.state.inFlight, ['x']);
  });

  it('throws when a task starts after the run closed', () => {
    const run = new Run();
    run.feed({ type: 'closed' });
    assert.throws(() => run.start('x'), /task `x` started/);
  });
});

// ---- property tests over random interleavings, with a fake clock and continue-as-new -------------------

const TASKS = ['t1', 't2', 't3', 't4', 't5'];
const IDENTITIES = ['a', 'b', 'c', 'mallory'];

/** One step of the model scheduler; indexes pick among what exists at that moment. */
type Cmd =
  | {
      t: 'pause';
      mode: PauseMode;
      requestId?: string;
      by: string;
      kind: 'manual' | 'task' | 'bulk';
      expiresAfterMs?: number;
      onExpiry?: ExpiryAction;
      /** resumeAt, as ms from now. */
      resumeIn?: number;
    }
  | { t: 'resume'; requestId?: string; by: string; skip: 'none' | 'held' | 'some' | 'bogus'; pick: number }
  | { t: 'resumeBegin'; requestId?: string; by: string }
  /** A validation started by `resumeBegin` ends (maybe long after its token was superseded). */
  | { t: 'resumeEnd'; ok: boolean; pick: number }
  | { t: 'approve' | 'reject'; task: string; by: string; requestId?: string }
  | {
      t: 'gateOpened';
      task: string;
      approvers: 'none' | 'ab' | 'abc';
      required: number;
      timeoutMs?: number;
      onTimeout?: GateTimeoutAction;
    }
  | { t: 'start'; task: string }
  | { t: 'settle'; pick: number; then: 'none' | 'fail' | 'retry'; delayMs: number }
  /** Time passes; the shell's timer fires at each due instant (`late`: once, at the end). */
  | { t: 'advance'; ms: number; timer: 'exact' | 'early' | 'late' }
  | { t: 'continueAsNew' }
  | { t: 'invalid' };

interface CmdOptions {
  modes: PauseMode[];
  /** Expiries, scheduled resumes, gate timeouts, retries, time passing and continue-as-new. */
  clock?: boolean;
  /** Request ids that are mostly new (to fill the request window), not three shared ones. */
  uniqueIds?: boolean;
  /** What expiries may do (only `resume` keeps long runs alive). */
  expiryActions?: readonly ExpiryAction[];
  /** Mostly pauses and resumes (to write long trails and fill the request window). */
  requestHeavy?: boolean;
}

const optId = (prefix: string, unique = false) => {
  const shared = fc.constantFrom(`${prefix}1`, `${prefix}2`, `${prefix}3`);
  return fc.option(
    unique
      ? fc.oneof(
          { arbitrary: shared, weight: 1 },
          { arbitrary: fc.nat(1_000_000_000).map((n) => `${prefix}-${n}`), weight: 4 },
        )
      : shared,
    { nil: undefined, freq: unique ? 10 : 5 },
  );
};
const taskArb = fc.constantFrom(...TASKS);
const whoArb = fc.constantFrom(...IDENTITIES);
const maybe = <T>(arb: fc.Arbitrary<T>, on: boolean | undefined) =>
  on ? fc.option(arb, { nil: undefined }) : fc.constant(undefined);

function pauseCmd(o: CmdOptions): fc.Arbitrary<Cmd> {
  return fc.record({
    t: fc.constant('pause' as const),
    mode: fc.constantFrom(...o.modes),
    requestId: optId('p', o.uniqueIds),
    by: whoArb,
    kind: fc.constantFrom('manual' as const, 'task' as const, 'bulk' as const),
    expiresAfterMs: maybe(fc.integer({ min: 1000, max: 120_000 }), o.clock),
    onExpiry: maybe(fc.constantFrom(...(o.expiryActions ?? EXPIRY_ACTIONS)), o.clock),
    resumeIn: maybe(fc.integer({ min: 0, max: 120_000 }), o.clock),
  });
}

function gateCmd(o: CmdOptions): fc.Arbitrary<Cmd> {
  return fc.record({
    t: fc.constant('gateOpened' as const),
    task: taskArb,
    approvers: fc.constantFrom('none' as const, 'ab' as const, 'abc' as const),
    required: fc.integer({ min: 1, max: 3 }),
    timeoutMs: maybe(fc.integer({ min: 1000, max: 120_000 }), o.clock),
    onTimeout: maybe(fc.constantFrom(...GATE_TIMEOUT_ACTIONS), o.clock),
  });
}

const coreCmds = (o: CmdOptions): fc.Arbitrary<Cmd>[] => [
  pauseCmd({ ...o, clock: false }),
  fc.record({
    t: fc.constant('resume' as const),
    requestId: optId('r', o.uniqueIds),
    by: whoArb,
    skip: fc.constant('none' as const),
    pick: fc.nat(),
  }),
  fc.record({
    t: fc.constantFrom('approve' as const, 'reject' as const),
    task: taskArb,
    by: whoArb,
    requestId: optId('g', o.uniqueIds),
  }),
  gateCmd({ ...o, clock: false }),
  fc.record({ t: fc.constant('start' as const), task: taskArb }),
  fc.record({ t: fc.constant('start' as const), task: taskArb }),
  fc.record({
    t: fc.constant('settle' as const),
    pick: fc.nat(),
    then: fc.constant('none' as const),
    delayMs: fc.constant(0),
  }),
  fc.record({
    t: fc.constant('settle' as const),
    pick: fc.nat(),
    then: fc.constant('none' as const),
    delayMs: fc.constant(0),
  }),
];

/** Everything: resume validation with tokens, failures, the clock and its timers, continue-as-new. */
const clockCmds = (o: CmdOptions): fc.Arbitrary<Cmd>[] => [
  ...coreCmds(o),
  pauseCmd({ ...o, clock: true }),
  gateCmd({ ...o, clock: true }),
  fc.record({
    t: fc.constant('resume' as const),
    requestId: optId('r', o.uniqueIds),
    by: whoArb,
    skip: fc.constantFrom('none' as const, 'held' as const, 'some' as const, 'bogus' as const),
    pick: fc.nat(),
  }),
  fc.record({ t: fc.constant('resumeBegin' as const), requestId: optId('r', o.uniqueIds), by: whoArb }),
  fc.record({ t: fc.constant('resumeBegin' as const), requestId: optId('r', o.uniqueIds), by: whoArb }),
  fc.record({ t: fc.constant('resumeEnd' as const), ok: fc.boolean(), pick: fc.nat() }),
  fc.record({ t: fc.constant('resumeEnd' as const), ok: fc.boolean(), pick: fc.nat() }),
  fc.record({
    t: fc.constant('settle' as const),
    pick: fc.nat(),
    then: fc.constantFrom('none' as const, 'fail' as const, 'retry' as const),
    delayMs: fc.integer({ min: 0, max: 60_000 }),
  }),
  fc.record({
    t: fc.constant('advance' as const),
    ms: fc.integer({ min: 0, max: 90_000 }),
    timer: fc.constantFrom('exact' as const, 'early' as const, 'late' as const),
  }),
  fc.record({
    t: fc.constant('advance' as const),
    ms: fc.integer({ min: 0, max: 10_000 }),
    timer: fc.constantFrom('exact' as const, 'early' as const, 'late' as const),
  }),
  fc.constant({ t: 'continueAsNew' as const }),
  fc.constant({ t: 'invalid' as const }),
  ...(o.requestHeavy
    ? [
        ...Array.from({ length: 30 }, () => pauseCmd({ ...o, clock: true })),
        ...Array.from({ length: 4 }, () =>
          fc.record({
            t: fc.constant('resumeBegin' as const),
            requestId: optId('r', o.uniqueIds),
            by: whoArb,
          }),
        ),
        ...Array.from({ length: 4 }, () =>
          fc.record({ t: fc.constant('resumeEnd' as const), ok: fc.boolean(), pick: fc.nat() }),
        ),
      ]
    : []),
];

/** Random run policies: maxPause (and what it does), a deadline. */
const policyArb: fc.Arbitrary<Partial<InitialOptions>> = fc.record({
  maxPauseMs: fc.option(fc.integer({ min: 5000, max: 300_000 }), { nil: undefined }),
  onMaxPause: fc.option(fc.constantFrom(...EXPIRY_ACTIONS), { nil: undefined }),
  deadlineMs: fc.option(fc.integer({ min: 30_000, max: 3_000_000 }), { nil: undefined, freq: 4 }),
});

const REQUEST_EVENTS = new Set<PauseEvent['type']>([
  'pause',
  'resumeBegin',
  'resume',
  'resumeRejected',
  'approve',
  'reject',
  'invalidRequest',
]);
/** Requests whose id is remembered once accepted (`resumeBegin`'s is, by the `resume` that ends it). */
const REMEMBERED_EVENTS = new Set<PauseEvent['type']>(['pause', 'resume', 'approve', 'reject']);
const CODES = new Set<string>(REFUSAL_CODES);
const JOINED = /^already paused \(pause (\d+) by .+\): joined it(; .*)?$/;

/** The request-window key of an event, when it carries a request id. */
function requestKey(event: PauseEvent): string | undefined {
  if (!('request' in event) || typeof event.request !== 'object' || event.request.requestId === undefined)
    return undefined;
  return `${event.type === 'resumeBegin' ? 'resume' : event.type}:${event.request.requestId}`;
}

/** The full audit trail as the model saw it written, and the pause ids it opened and closed. */
class History {
  readonly audit: AuditEntry[] = [];
  readonly opened = new Set<number>();
  readonly resumed = new Set<number>();
  add(entries: AuditEntry[]): void {
    for (const e of entries) {
      this.audit.push(e);
      const joined = e.action === 'pause' && e.message !== undefined ? JOINED.exec(e.message) : null;
      if ((e.action === 'pause' && !joined) || e.action === 'gate') {
        assert.ok(e.pauseId !== undefined && !this.opened.has(e.pauseId), `pause id ${e.pauseId} reused`);
        this.opened.add(e.pauseId);
      } else if (e.action === 'pause' || e.action === 'upgrade' || e.action === 'expired') {
        // A second pause joins the open one; upgrades and expiries are about an open pause too.
        assert.ok(
          e.pauseId !== undefined && this.isOpen(e.pauseId),
          `${e.action} of pause ${e.pauseId}, not open`,
        );
        if (joined) assert.equal(Number(joined[1]), e.pauseId);
      } else if (e.action === 'resume') {
        assert.ok(
          e.pauseId !== undefined && this.isOpen(e.pauseId),
          `resume of pause ${e.pauseId}, not open`,
        );
        this.resumed.add(e.pauseId);
      }
    }
  }
  isOpen(id: number): boolean {
    return this.opened.has(id) && !this.resumed.has(id);
  }
}

/** Checks the invariants that hold after every step. */
function checkInvariants(before: PauseMachineState, event: PauseEvent, step: Step, history: History): void {
  const s = step.state;
  // (a) a refusal carries a known code.
  if (!step.outcome.accepted) assert.ok(CODES.has(step.outcome.refusal.code), step.outcome.refusal.code);
  // (b) a hold blocks every start, and stops the clock: it runs exactly while the run is active.
  if (s.hold !== null) assert.equal(canStart(s), false, 'a hold must block task starts');
  assert.equal(s.clock.activeSince !== null, isActive(s), 'the clock runs exactly while the run is active');
  // (c) phases agree with the hold, the in-flight tasks and the resume being validated.
  if (s.phase === 'pausing') {
    assert.notEqual(s.hold, null, 'pausing without a hold');
    assert.ok(s.inFlight.length > 0, 'pausing with nothing in flight');
  }
  if (s.phase === 'paused' && s.hold !== null) {
    assert.equal(s.inFlight.length, 0, 'paused with tasks in flight');
    // (h) every way into `paused` drains: resources are released and the drain is recorded.
    assert.ok(s.hold.drainedAt, 'paused without drainedAt');
  }
  assert.equal(s.hold === null, s.phase === 'running', `hold ${s.hold ? 'set' : 'null'} in phase ${s.phase}`);
  if (!s.closed) assert.equal(s.resuming !== undefined, s.phase === 'resuming', 'resuming without its token');
  if (s.resuming) assert.ok(s.resuming.token < s.nextToken);
  assert.ok(s.nextToken >= before.nextToken);
  assert.equal(new Set(s.inFlight).size, s.inFlight.length, 'a task is in flight twice');
  // (A run that ends may leave its failed tasks behind: it is over then.)
  if (!s.closed && !step.decisions.some((d) => d.type === 'endRun'))
    assert.ok(s.failedTasks.length === 0 || s.hold !== null, 'failed tasks held without a hold');
  // (f) the audit is the newest AUDIT_TAIL lines of the trail, seqs contiguous up to auditCount, and
  // lines already written are never rewritten.
  assert.equal(s.audit.length, Math.min(s.auditCount, AUDIT_TAIL));
  const first = s.auditCount - s.audit.length + 1;
  s.audit.forEach((e, i) => {
    assert.equal(e.seq, first + i, 'audit seq out of order');
    assert.ok((e.reason ?? '').length <= MAX_AUDIT_TEXT && (e.message ?? '').length <= MAX_AUDIT_TEXT);
  });
  assert.ok(s.auditCount >= before.auditCount, 'auditCount went down');
  const beforeFirst = before.auditCount - before.audit.length + 1;
  for (const e of s.audit)
    if (e.seq <= before.auditCount) assert.equal(e, before.audit[e.seq - beforeFirst], 'audit rewritten');
  const added = s.audit.filter((e) => e.seq > before.auditCount);
  assert.equal(added.length, s.auditCount - before.auditCount, 'more lines in one step than the tail holds');
  history.add(added);
  // (d) pause ids and resume records, over the whole trail.
  if (s.hold) assert.ok(history.isOpen(s.hold.pauseId), 'the hold has no open pause record');
  for (const g of Object.values(s.gates)) assert.ok(history.isOpen(g.pauseId), `gate ${g.taskId} not open`);
  // (g) every refused request adds exactly one `rejected` audit line (and maybe the drain it led to).
  if (REQUEST_EVENTS.has(event.type) && !step.outcome.accepted) {
    assert.equal(added[0]?.action, 'rejected', `refused ${event.type} not audited`);
    assert.deepEqual(
      added.slice(1).map((e) => e.action),
      added.length > 1 ? ['drained'] : [],
      `refused ${event.type} added ${added.length} audit lines`,
    );
  }
  // (i) the request window: a served id is a duplicate that changes nothing; an accepted new one is
  // remembered, the oldest forgotten beyond REMEMBERED_REQUESTS; nothing else touches the window.
  const key = requestKey(event);
  const seen = key !== undefined && before.requests.includes(key);
  if (seen) {
    assert.deepEqual(step.outcome, DUPLICATE);
    assert.deepEqual(s, before, 'a duplicate changed the state');
  }
  if (step.outcome.accepted && step.outcome.duplicate) {
    assert.deepEqual(step.decisions, []);
    if (!seen) {
      // The same identity approving twice: recorded, counted once.
      assert.equal(event.type, 'approve');
      assert.deepEqual(
        added.map((e) => [e.action, e.message]),
        [
          [
            'approve',
            `\`${event.type === 'approve' ? event.request.by : ''}\` had already approved: counted once`,
          ],
        ],
      );
    }
  }
  assert.ok(s.requests.length <= REMEMBERED_REQUESTS);
  assert.equal(new Set(s.requests).size, s.requests.length, 'a request key remembered twice');
  if (key !== undefined && !seen && step.outcome.accepted && REMEMBERED_EVENTS.has(event.type))
    assert.deepEqual(s.requests, [...before.requests, key].slice(-REMEMBERED_REQUESTS));
  else assert.deepEqual(s.requests, before.requests);
  // A cancelled task must be in flight.
  for (const d of step.decisions) {
    if (d.type === 'cancelInFlight') for (const id of d.taskIds) assert.ok(before.inFlight.includes(id));
  }
}

const isoAt = (ms: number) => new Date(ms).toISOString();

/**
 * The clock against the model's own (`active`: wall time spent active, summed between events): active
 * time never decreases and never advances while held; due times are set from it; tokens are honoured.
 */
function checkClock(before: PauseMachineState, event: PauseEvent, step: Step, active: number): void {
  const s = step.state;
  const at = Date.parse(event.at);
  assert.equal(activeAt(before, at), active, 'active time before the event disagrees with the model');
  assert.equal(activeAt(s, at), active, 'the event changed the active time');
  if (s.hold !== null) assert.equal(activeAt(s, at + 3_600_000), active, 'active time advances while held');
  switch (event.type) {
    case 'gateOpened': {
      if (before.gates[event.taskId]) break;
      const g = s.gates[event.taskId]!;
      assert.equal(g.dueActiveMs, event.gate.timeoutMs ? active + event.gate.timeoutMs : undefined);
      const max = before.policy.maxPauseMs;
      assert.equal(g.expiresAt, max !== undefined ? isoAt(at + max) : undefined);
      break;
    }
    case 'retryScheduled':
      assert.equal(s.retries[event.taskId], active + Math.max(0, event.delayMs));
      break;
    case 'pause':
    case 'taskFailed': {
      if (event.type === 'pause' && before.hold !== null && s.hold !== null && !before.closed) {
        // A joined pause never ends the hold sooner: no scheduled resume appears, none moves earlier,
        // and the expiry stays the first pause's.
        const was = before.hold.resumeAt;
        const now = s.hold.resumeAt;
        if (was === undefined) assert.equal(now, undefined, 'a join gave an open-ended pause a resumeAt');
        else
          assert.ok(
            now !== undefined && Date.parse(now) >= Date.parse(was),
            `resumeAt moved from ${was} to ${now}`,
          );
        assert.equal(s.hold.expiresAt, before.hold.expiresAt);
      }
      if (before.hold !== null || s.hold === null || before.closed) break;
      const r = event.type === 'pause' ? event.request : undefined;
      const max = before.policy.maxPauseMs;
      const expected =
        max !== undefined && (r?.expiresAfterMs === undefined || r.expiresAfterMs > max)
          ? { expiresAt: isoAt(at + max), onExpiry: before.policy.onMaxPause }
          : r?.expiresAfterMs !== undefined
            ? { expiresAt: isoAt(at + r.expiresAfterMs), onExpiry: r.onExpiry ?? 'resume' }
            : { expiresAt: undefined, onExpiry: undefined };
      assert.deepEqual({ expiresAt: s.hold.expiresAt, onExpiry: s.hold.onExpiry }, expected);
      assert.equal(s.hold.resumeAt, r?.resumeAt);
      break;
    }
    case 'resumeBegin':
      if (step.token !== undefined) {
        assert.equal(step.token, before.nextToken);
        assert.equal(s.nextToken, step.token + 1);
        assert.equal(s.phase, 'resuming');
        assert.deepEqual(s.resuming, {
          token: step.token,
          by: event.request.by,
          ...(event.request.requestId ? { requestId: event.request.requestId } : {}),
        });
      } else if (step.outcome.accepted && !step.outcome.duplicate) {
        assert.equal(before.hold, null, 'a held run must be validated');
      }
      break;
    case 'resume': {
      if (event.token === undefined || (step.outcome.accepted && step.outcome.duplicate) || before.closed)
        break;
      if (before.hold !== null && before.resuming?.token === event.token) {
        assert.deepEqual(step.outcome, ACCEPTED, 'the current token was refused');
        assert.equal(s.hold, null);
      } else {
        // R1's outcome after a pause (or an expiry) superseded it, maybe with R2 validating since.
        assert.equal(refusalCode(step), 'Superseded');
        assert.equal(s.hold, before.hold);
        assert.equal(s.phase, before.phase);
        assert.equal(s.resuming, before.resuming);
      }
      break;
    }
    case 'resumeRejected':
      assert.equal(refusalCode(step), 'ValidationRejected');
      if (before.resuming?.token === event.token) {
        assert.equal(s.resuming, undefined);
        assert.ok(s.phase === 'paused' || s.phase === 'pausing');
      } else {
        assert.equal(s.phase, before.phase, 'a stale rejection changed the phase');
        assert.equal(s.resuming, before.resuming);
      }
      break;
    default:
      break;
  }
}

/** A `timerFired` applies exactly what is due at its instant, and nothing else. */
function checkTimer(before: PauseMachineState, at: number, step: Step): void {
  const s = step.state;
  if (before.closed) {
    assert.deepEqual(step.decisions, []);
    assert.deepEqual(s, before);
    return;
  }
  const expected: Decision[] = [];
  const running = before.clock.activeSince !== null;
  const activeNow = activeAt(before, at);
  const hold = before.hold;
  if (hold?.expiresAt !== undefined && Date.parse(hold.expiresAt) <= at) {
    assert.equal(s.hold, null, 'an expired pause is still held');
    assert.equal(s.resuming, undefined);
    const action = hold.onExpiry ?? 'resume';
    if (action === 'resume') {
      if (before.failedTasks.length) expected.push({ type: 'rerunTasks', taskIds: before.failedTasks });
      expected.push({ type: 'resumed' });
    } else
      expected.push({
        type: 'endRun',
        action,
        reason: `pause ${hold.pauseId} (${hold.reason || hold.kind}) expired`,
      });
  } else if (hold) {
    assert.equal(s.phase, before.phase);
    if (hold.resumeAt !== undefined && before.phase !== 'resuming' && Date.parse(hold.resumeAt) <= at) {
      expected.push({ type: 'scheduledResume', pauseId: hold.pauseId, resumeAt: hold.resumeAt });
      const { resumeAt: _r, ...rest } = hold;
      void _r;
      assert.deepEqual(s.hold, rest);
    } else assert.equal(s.hold, hold);
  }
  for (const g of Object.values(before.gates).sort((a, b) => a.pauseId - b.pauseId)) {
    const maxed = g.expiresAt !== undefined && Date.parse(g.expiresAt) <= at;
    const timedOut = running && g.dueActiveMs !== undefined && g.dueActiveMs <= activeNow;
    if (!maxed && !timedOut) {
      assert.equal(s.gates[g.taskId], g, `gate ${g.taskId} changed before it was due`);
      continue;
    }
    assert.equal(s.gates[g.taskId], undefined, `gate ${g.taskId} is due but still waiting`);
    const policy = before.policy;
    if (maxed && policy.onMaxPause !== 'resume')
      expected.push({
        type: 'endRun',
        action: policy.onMaxPause,
        reason: `the gate before \`${g.taskId}\` waited longer than maxPause (${policy.maxPauseMs} ms)`,
      });
    else if (maxed || g.onTimeout === 'approve') expected.push({ type: 'releaseGate', taskId: g.taskId });
    else
      expected.push({
        type: 'rejectGate',
        taskId: g.taskId,
        by: 'system:timeout',
        comment: `gate timed out (${g.onTimeout ?? 'fail'})`,
      });
  }
  for (const [id, due] of Object.entries(before.retries)) {
    if (running && due <= activeNow) assert.equal(s.retries[id], undefined, `back-off of ${id} is due`);
    else assert.equal(s.retries[id], due, `back-off of ${id} fired early (or while paused)`);
  }
  if (running && before.deadlineActiveMs !== undefined && before.deadlineActiveMs <= activeNow) {
    expected.push({
      type: 'endRun',
      action: 'fail',
      reason: `The run exceeded its deadline of ${before.deadlineActiveMs} ms of active time`,
    });
    assert.equal(s.deadlineActiveMs, undefined);
  } else assert.equal(s.deadlineActiveMs, before.deadlineActiveMs);
  assert.deepEqual(step.decisions, expected);
}

interface PlayOptions {
  policy?: Partial<InitialOptions>;
  /** Length of every reason and validation message. */
  reasonLength?: number;
  /** Checks the state's JSON size at every continue-as-new and at the end. */
  maxJsonChars?: number;
}

interface Played {
  initial: PauseMachineState;
  state: PauseMachineState;
  events: PauseEvent[];
  decisions: Decision[];
  history: History;
  continuedAsNew: number;
}

/**
 * Plays the commands like the workflow shell would, on a fake clock (a second per command, timers at
 * their instant), and checks the invariants after every reduce. Continue-as-new carries the state
 * through JSON, only when nothing is in flight (the workflow waits for attempts to settle first).
 */
function play(cmds: Cmd[], o: PlayOptions = {}): Played {
  const initial = initialPauseState({ startMs: T0, ...o.policy });
  const reason = 'r'.repeat(o.reasonLength ?? 1);
  let state = initial;
  let now = T0;
  let lastAt = T0;
  /** The model's active time at `lastAt`. */
  let active = 0;
  let ended = false;
  let continuedAsNew = 0;
  const decisions: Decision[] = [];
  const events: PauseEvent[] = [];
  const history = new History();
  /** Validations under way: the request and the token its outcome must carry. */
  const pending: { request: ResumeInput; token: number }[] = [];

  const feed = (e: EventInput, tickMs = 1000): Step => {
    const atMs = now;
    now += tickMs;
    const event = { ...e, at: isoAt(atMs) };
    events.push(event);
    const before = state;
    let step: Step;
    try {
      step = reduce(before, event); // never throws for these events
    } catch (err) {
      throw new Error(`reduce threw on ${JSON.stringify(event)}: ${String(err)}`);
    }
    assert.ok(atMs >= lastAt);
    if (isActive(before)) active += atMs - lastAt;
    lastAt = atMs;
    checkInvariants(before, event, step, history);
    checkClock(before, event, step, active);
    if (event.type === 'timerFired') checkTimer(before, atMs, step);
    state = step.state;
    decisions.push(...step.decisions);
    if (step.decisions.some((d) => d.type === 'endRun')) ended = true;
    for (const d of step.decisions)
      if (d.type === 'scheduledResume' && !ended)
        begin({ by: 'system:schedule', reason: `scheduled resume at ${d.resumeAt}` });
    return step;
  };
  /** A resume as the shell sends it: begin, and validate when something is held. */
  const begin = (request: ResumeInput): void => {
    const step = feed({ type: 'resumeBegin', request });
    if (step.token !== undefined) pending.push({ request, token: step.token });
    else if (step.outcome.accepted && !step.outcome.duplicate) feed({ type: 'resume', request });
  };
  const advance = (ms: number, timer: 'exact' | 'early' | 'late') => {
    const end = now + ms;
    for (let i = 0; !ended; i++) {
      const due = nextDue(state);
      if (due === undefined || due > end) break;
      assert.ok(i < 10, `timers do not settle (due ${due - T0})`);
      if (timer === 'late') now = end;
      else {
        if (timer === 'early' && due - 1 >= now) {
          now = due - 1;
          const before = state;
          const early = feed({ type: 'timerFired' }, 0);
          assert.deepEqual(early.decisions, [], 'a timer 1 ms before nextDue applied something');
          assert.deepEqual(early.state, before, 'a timer 1 ms before nextDue changed the state');
        }
        now = Math.max(now, due);
      }
      const before = state;
      const step = feed({ type: 'timerFired' }, 0);
      assert.ok(
        step.decisions.length > 0 || !isDeepStrictEqual(step.state, before),
        `nothing was applied at nextDue (${due - T0})`,
      );
    }
    now = Math.max(now, end);
  };
  const continueAsNew = () => {
    const carried = JSON.parse(JSON.stringify(state)) as PauseMachineState;
    carried.inFlight = [];
    assert.deepStrictEqual(carried, state, 'the state does not survive continue-as-new unchanged');
    assert.equal(nextDue(carried), nextDue(state), 'continue-as-new moved a due time');
    assert.equal(activeAt(carried, now), activeAt(state, now));
    assert.deepStrictEqual(
      carried.audit,
      history.audit.slice(-AUDIT_TAIL),
      'the tail is not the newest lines',
    );
    if (o.maxJsonChars !== undefined)
      assert.ok(JSON.stringify(carried).length < o.maxJsonChars, 'state too large');
    state = carried;
    continuedAsNew++;
  };

  for (const c of cmds) {
    // An endRun decision ends the run: the shell closes it and feeds nothing more.
    if (ended) break;
    switch (c.t) {
      case 'pause':
        feed({
          type: 'pause',
          request: {
            by: c.by,
            reason,
            mode: c.mode,
            kind: c.kind,
            ...(c.requestId ? { requestId: c.requestId } : {}),
            ...(c.expiresAfterMs !== undefined ? { expiresAfterMs: c.expiresAfterMs } : {}),
            ...(c.onExpiry ? { onExpiry: c.onExpiry } : {}),
            ...(c.resumeIn !== undefined ? { resumeAt: isoAt(now + c.resumeIn) } : {}),
          },
          amend: true,
        });
        break;
      case 'resume': {
        const held = state.failedTasks;
        const skip =
          c.skip === 'held'
            ? [...held]
            : c.skip === 'some'
              ? held.filter((_, i) => (c.pick >> i) & 1)
              : c.skip === 'bogus'
                ? [TASKS[c.pick % TASKS.length]!]
                : undefined;
        feed({
          type: 'resume',
          request: {
            by: c.by,
            reason,
            ...(c.requestId ? { requestId: c.requestId } : {}),
            ...(skip ? { skip } : {}),
          },
        });
        break;
      }
      case 'resumeBegin':
        begin({ by: c.by, reason, ...(c.requestId ? { requestId: c.requestId } : {}) });
        break;
      case 'resumeEnd': {
        if (!pending.length) break;
        const { request, token } = pending.splice(c.pick % pending.length, 1)[0]!;
        if (c.ok) feed({ type: 'resume', request: { ...request, validation: 'ok' }, token });
        else feed({ type: 'resumeRejected', request, token, message: reason });
        break;
      }
      case 'approve':
      case 'reject':
        feed({
          type: c.t,
          request: { taskId: c.task, by: c.by, ...(c.requestId ? { requestId: c.requestId } : {}) },
        });
        break;
      case 'gateOpened': {
        if (state.inFlight.includes(c.task)) break; // a running task is past its gate
        const approvers =
          c.approvers === 'ab' ? ['a', 'b'] : c.approvers === 'abc' ? ['a', 'b', 'c'] : undefined;
        const required = Math.min(c.required, approvers ? approvers.length : 3);
        feed({
          type: 'gateOpened',
          taskId: c.task,
          gate: {
            reason: 'gate',
            requiredApprovals: required,
            ...(approvers ? { approvers } : {}),
            ...(c.timeoutMs !== undefined ? { timeoutMs: c.timeoutMs } : {}),
            ...(c.onTimeout ? { onTimeout: c.onTimeout } : {}),
          },
        });
        break;
      }
      case 'start':
        // The shell starts a ready task only when the machine allows it and no back-off is pending.
        if (
          canStart(state) &&
          !state.inFlight.includes(c.task) &&
          !state.gates[c.task] &&
          state.retries[c.task] === undefined
        )
          feed({ type: 'taskStarted', taskId: c.task });
        break;
      case 'settle': {
        if (!state.inFlight.length) break;
        const id = state.inFlight[c.pick % state.inFlight.length]!;
        feed({ type: 'taskSettled', taskId: id });
        if (c.then === 'fail') feed({ type: 'taskFailed', taskId: id, message: 'retries exhausted' });
        if (c.then === 'retry') feed({ type: 'retryScheduled', taskId: id, delayMs: c.delayMs });
        break;
      }
      case 'advance':
        advance(c.ms, c.timer);
        break;
      case 'continueAsNew':
        if (state.inFlight.length === 0) continueAsNew();
        break;
      case 'invalid':
        feed({ type: 'invalidRequest', request: 'pause', message: 'mode: invalid option', by: 'eve' });
        break;
    }
  }
  if (ended) {
    // The run ends: closed freezes the clock and turns the timers off.
    const step = feed({ type: 'closed' });
    assert.equal(nextDue(step.state), undefined);
    assert.equal(step.state.resuming, undefined);
    assert.deepEqual(step.state.retries, {});
    assert.equal(activeAt(step.state, now + 3_600_000), active);
  }
  assert.deepStrictEqual(state.audit, history.audit.slice(-AUDIT_TAIL));
  if (o.maxJsonChars !== undefined)
    assert.ok(JSON.stringify(state).length < o.maxJsonChars, 'state too large');
  return { initial, state, events, decisions, history, continuedAsNew };
}

/** Command sequences (`size: 'max'`: lengths spread up to maxLength, not fast-check's short default). */
const cmdsArb = (o: CmdOptions, maxLength: number, minLength = 0) =>
  fc.array(fc.oneof(...(o.clock ? clockCmds(o) : coreCmds(o))), { minLength, maxLength, size: 'max' });
const BOTH: PauseMode[] = ['graceful', 'immediate'];

describe('pause machine: properties over random interleavings', () => {
  const RUNS = { numRuns: 300 };

  it('property: invariants hold for pause / resume / gates / task starts and settles', () => {
    fc.assert(
      fc.property(cmdsArb({ modes: BOTH }, 60), (cmds) => {
        play(cmds);
      }),
      RUNS,
    );
  });

  it('property: invariants hold with validation tokens, failures, expiries, gate timeouts, retries, the clock and bad input', () => {
    fc.assert(
      fc.property(cmdsArb({ modes: BOTH, clock: true }, 80), policyArb, (cmds, policy) => {
        play(cmds, { policy });
      }),
      RUNS,
    );
  });

  it('property: graceful-only sequences never cancel in-flight tasks', () => {
    fc.assert(
      fc.property(cmdsArb({ modes: ['graceful'], clock: true }, 80), policyArb, (cmds, policy) => {
        const { decisions } = play(cmds, { policy });
        assert.ok(
          !decisions.some((d) => d.type === 'cancelInFlight'),
          'cancelInFlight in a graceful-only run',
        );
      }),
      RUNS,
    );
  });

  it('property: replaying the same events gives the same state (the reducer is deterministic)', () => {
    fc.assert(
      fc.property(cmdsArb({ modes: BOTH, clock: true }, 60), policyArb, (cmds, policy) => {
        const { initial, events, state } = play(cmds, { policy });
        const replay = (evs: PauseEvent[]) => evs.reduce((s, e) => reduce(s, e).state, initial);
        assert.deepStrictEqual(replay(events), replay(structuredClone(events)));
        // Continue-as-new (a JSON round trip at random points) made no difference either.
        const s = replay(events);
        assert.deepStrictEqual(s, state);
        // The state survives a JSON round trip (continue-as-new carries it as a payload).
        assert.deepStrictEqual(JSON.parse(JSON.stringify(s)), s);
      }),
      { numRuns: 200 },
    );
  });

  it('property: every pause that is accepted while running is audited', () => {
    fc.assert(
      fc.property(cmdsArb({ modes: BOTH }, 60), (cmds) => {
        const { initial, events } = play(cmds);
        let s = initial;
        for (const e of events) {
          const wasFree = s.hold === null;
          const step = reduce(s, e);
          if (e.type === 'pause' && wasFree && !(step.outcome.accepted && step.outcome.duplicate)) {
            const added = step.state.audit.filter((x) => x.seq > s.auditCount);
            assert.deepEqual(
              added.map((x) => x.action),
              ['pause'],
            );
            assert.equal(added[0]!.by, e.request.by);
            assert.equal(added[0]!.mode, e.request.mode);
          }
          s = step.state;
        }
      }),
      { numRuns: 200 },
    );
  });

  it('property: continue-as-new at random points changes nothing (same events, decisions and state)', () => {
    fc.assert(
      fc.property(cmdsArb({ modes: BOTH, clock: true }, 100), policyArb, (cmds, policy) => {
        const carried = play(cmds, { policy });
        const straight = play(
          cmds.filter((c) => c.t !== 'continueAsNew'),
          { policy },
        );
        assert.deepStrictEqual(carried.events, straight.events);
        assert.deepStrictEqual(carried.decisions, straight.decisions);
        assert.deepStrictEqual(carried.state, straight.state);
      }),
      { numRuns: 200 },
    );
  });

  it('property: long runs with 1000-character reasons stay bounded (audit tail, request window, JSON size)', () => {
    let fullWindow = 0;
    let longTrail = 0;
    fc.assert(
      fc.property(
        cmdsArb(
          { modes: BOTH, clock: true, uniqueIds: true, expiryActions: ['resume'], requestHeavy: true },
          3500,
          3000,
        ),
        (cmds) => {
          const played = play(cmds, { reasonLength: 1000, maxJsonChars: 512 * 1024 });
          const s = played.state;
          assert.equal(s.auditCount, played.history.audit.length);
          if (s.requests.length === REMEMBERED_REQUESTS) fullWindow++;
          if (s.auditCount > AUDIT_TAIL) longTrail++;
        },
      ),
      { numRuns: 12 },
    );
    // The generator really exercises the bounds (not only the unit tests).
    assert.ok(longTrail >= 10, `only ${longTrail} runs wrote more than ${AUDIT_TAIL} audit lines`);
    assert.ok(fullWindow >= 1, 'no run filled the request window');
  });
});

describe('pause machine: paths into paused always drain', () => {
  it('a rejected resume after the last task settled during validation drains', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    const token = tokenOf(run.begin());
    const settled = run.settle('a');
    assert.deepEqual(settled.decisions, [], 'no drain while the resume is being validated');
    const rejected = run.rejectResume(token, 'unhealthy');
    assert.equal(run.state.phase, 'paused');
    assert.ok(run.state.hold!.drainedAt);
    assert.deepEqual(rejected.decisions, [{ type: 'drained' }]);
    assert.equal(run.last!.action, 'drained');
  });

  it('a second pause after the last task settled during validation drains', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.begin();
    run.settle('a');
    const again = run.pause({ by: 'carol' });
    assert.equal(run.state.phase, 'paused');
    assert.deepEqual(again.decisions, [{ type: 'drained' }]);
  });

  it('an immediate pause during resuming cancels the resume and the in-flight tasks', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.begin();
    const step = run.pause({ mode: 'immediate', by: 'carol' });
    assert.equal(run.state.phase, 'pausing');
    assert.equal(run.state.hold!.mode, 'immediate');
    assert.deepEqual(step.decisions, [{ type: 'cancelInFlight', taskIds: ['a'] }]);
    assert.deepEqual(
      run.state.audit.slice(-2).map((e) => e.action),
      ['rejected', 'upgrade'],
    );
  });

  it('an expiry during resuming pre-empts the resume and takes effect', () => {
    const run = new Run();
    run.pause({ expiresAfterMs: 100_000, onExpiry: 'resume' });
    const token = tokenOf(run.begin({ requestId: 'r1' }));
    assert.equal(run.due, 100_000, 'an expiry stays due while a resume is validated');
    const step = run.fireDue();
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
    assert.equal(run.state.resuming, undefined);
    assert.deepEqual(step.decisions, [{ type: 'resumed' }]);
    assert.deepEqual(
      run.state.audit.slice(-3).map((e) => [e.action, e.by, e.message]),
      [
        ['rejected', 'bob', 'superseded by the pause expiring'],
        ['expired', 'system:expiry', 'pause expired: resume'],
        ['resume', 'system:expiry', undefined],
      ],
    );
    const late = run.resume({ requestId: 'r1' }, token);
    assert.equal(refusalCode(late), 'Superseded');
  });

  it('a drained pause stays drained across a superseded resume', () => {
    const run = new Run();
    run.pause();
    run.begin();
    const p = run.pause({ by: 'carol' });
    assert.deepEqual(p.decisions, [], 'already drained: not again');
    assert.equal(run.state.audit.filter((e) => e.action === 'drained').length, 0);
  });

  it('request ids are scoped by request type', () => {
    const run = new Run();
    run.pause({ requestId: 'r1' });
    const resumed = run.resume({ requestId: 'r1' });
    assert.deepEqual(resumed.outcome, ACCEPTED);
    assert.equal(run.state.hold, null);
  });
});
