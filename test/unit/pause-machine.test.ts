// Unit and property tests of the pause/resume reducer in workflows/pause-machine.ts (no Temporal server).
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { GateSpec } from '../../workflows/dag';
import {
  canStart,
  currentPause,
  gateStatuses,
  initialPauseState,
  liveRunState,
  reduce,
  type AuditEntry,
  type Decision,
  type PauseEvent,
  type PauseInput,
  type PauseMachineState,
  type ResumeInput,
  type Step,
} from '../../workflows/pause-machine';

type EventInput = PauseEvent extends infer E ? (E extends PauseEvent ? Omit<E, 'at'> : never) : never;

const T0 = Date.UTC(2025, 0, 1);
const iso = (i: number) => new Date(T0 + i * 1000).toISOString();

/** Drives the reducer like the workflow shell does, with a clock that ticks a second per event. */
class Run {
  state: PauseMachineState = initialPauseState();
  tick = 0;
  lastAt = '';
  feed(event: EventInput): Step {
    this.lastAt = iso(this.tick++);
    const step = reduce(this.state, { ...event, at: this.lastAt });
    this.state = step.state;
    return step;
  }
  pause(over: Partial<PauseInput> = {}): Step {
    return this.feed({ type: 'pause', request: pauseReq(over) });
  }
  resume(over: Partial<ResumeInput> = {}, afterBegin?: boolean): Step {
    return this.feed({ type: 'resume', request: resumeReq(over), ...(afterBegin ? { afterBegin } : {}) });
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

function refusalCode(step: Step): string | undefined {
  return step.outcome.accepted ? undefined : step.outcome.refusal.code;
}

function refusalMessage(step: Step): string {
  assert.equal(step.outcome.accepted, false, 'expected a refusal');
  return step.outcome.accepted ? '' : step.outcome.refusal.message;
}

describe('pause machine: initial state and helpers', () => {
  it('starts running with nothing held', () => {
    const s = initialPauseState();
    assert.equal(canStart(s), true);
    assert.equal(currentPause(s), null);
    assert.deepEqual(gateStatuses(s), []);
    assert.equal(liveRunState(s, false), 'running');
    assert.equal(liveRunState(s, true), 'running');
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
    assert.deepEqual(run.state, { ...initialPauseState() });
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
    });
    // A second immediate pause has nothing left to upgrade.
    const again = run.pause({ mode: 'immediate' });
    assert.deepEqual(again.decisions, []);
    assert.equal(run.state.audit.length, 2);
    assert.deepEqual(run.settle('b').decisions, [{ type: 'drained' }]);
  });

  it('does not upgrade a pause that has already drained', () => {
    const run = new Run();
    run.pause();
    const step = run.pause({ mode: 'immediate' });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.hold!.mode, 'graceful');
    assert.equal(run.state.audit.length, 1);
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

    const audit = run.state.audit.length;
    step = run.approve('deploy', 'a');
    assert.deepEqual(step.outcome, DUPLICATE, 'the same identity does not count twice');
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.gates.deploy!.approvals.length, 1);
    assert.equal(run.state.audit.length, audit);

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

  it('a gate times out: approve releases it, fail and reject reject it', () => {
    const run = new Run();
    run.gate('yes', { timeoutMs: 1000, onTimeout: 'approve' });
    run.gate('no', { timeoutMs: 1000 });
    let step = run.feed({ type: 'gateTimedOut', taskId: 'yes' });
    assert.deepEqual(step.decisions, [{ type: 'releaseGate', taskId: 'yes' }]);
    assert.deepEqual(
      run.state.audit.slice(-2).map((e) => e.action),
      ['expired', 'resume'],
    );
    step = run.feed({ type: 'gateTimedOut', taskId: 'no' });
    assert.deepEqual(step.decisions, [
      { type: 'rejectGate', taskId: 'no', by: 'system:timeout', comment: 'gate timed out (fail)' },
    ]);
    assert.deepEqual(run.feed({ type: 'gateTimedOut', taskId: 'no' }).decisions, [], 'already gone');
    assert.deepEqual(run.state.gates, {});
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
  it('resumeBegin → resuming → resume afterBegin', () => {
    const run = new Run();
    run.pause();
    const begin = run.feed({ type: 'resumeBegin', request: resumeReq() });
    assert.deepEqual(begin.outcome, ACCEPTED);
    assert.equal(run.state.phase, 'resuming');
    assert.equal(liveRunState(run.state, false), 'resuming');
    assert.equal(canStart(run.state), false);
    assert.equal(currentPause(run.state)!.phase, 'resuming');
    assert.equal(refusalCode(run.feed({ type: 'resumeBegin', request: resumeReq() })), 'AlreadyResuming');
    assert.equal(refusalCode(run.resume()), 'AlreadyResuming');
    const step = run.resume({ validation: 'health ok' }, true);
    assert.deepEqual(step.decisions, [{ type: 'resumed' }]);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
    assert.equal(canStart(run.state), true);
    assert.deepEqual(run.last, {
      seq: run.state.audit.length,
      at: run.lastAt,
      action: 'resume',
      kind: 'manual',
      pauseId: 1,
      by: 'bob',
      reason: 'done',
      message: 'health ok',
    });
  });

  it('a pause during resuming supersedes the resume', () => {
    const run = new Run();
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    const p = run.pause({ by: 'carol' });
    assert.deepEqual(p.outcome, ACCEPTED);
    assert.equal(run.state.phase, 'paused');
    assert.equal(run.state.hold!.pauseId, 1);
    assert.equal(run.last!.action, 'rejected');
    assert.match(run.last!.message!, /superseded by a pause from carol/);
    const audit = run.state.audit.length;
    const late = run.resume({}, true);
    assert.equal(refusalCode(late), 'Superseded');
    assert.equal(run.state.audit.length, audit + 1);
    assert.equal(run.last!.action, 'rejected');
    assert.notEqual(run.state.hold, null, 'still paused');
    assert.equal(run.state.phase, 'paused');
  });

  it('a pause during resuming with tasks in flight goes back to pausing', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    run.pause({ by: 'carol' });
    assert.equal(run.state.phase, 'pausing');
  });

  it('resumeRejected goes back to paused and audits the reason', () => {
    const run = new Run();
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq({ requestId: 'r9' }) });
    const audit = run.state.audit.length;
    const step = run.feed({
      type: 'resumeRejected',
      request: resumeReq({ requestId: 'r9' }),
      message: 'lock lost',
    });
    assert.deepEqual(step.outcome, {
      accepted: false,
      refusal: { code: 'ValidationRejected', message: 'lock lost' },
    });
    assert.deepEqual(step.decisions, []);
    assert.equal(run.state.phase, 'paused');
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
    assert.deepEqual(
      run.feed({ type: 'resumeBegin', request: resumeReq({ requestId: 'r9' }) }).outcome,
      ACCEPTED,
    );
  });

  it('resumeRejected with tasks still in flight goes back to pausing', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    run.feed({ type: 'resumeRejected', request: resumeReq(), message: 'no' });
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
    assert.deepEqual(run.feed({ type: 'resumeBegin', request: resumeReq() }).outcome, ACCEPTED);
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
  it('records expiresAt with onExpiry defaulting to resume', () => {
    const run = new Run();
    run.pause({ expiresAt: iso(100) });
    assert.equal(run.state.hold!.expiresAt, iso(100));
    assert.equal(run.state.hold!.onExpiry, 'resume');
    run.resume();
    run.pause({ resumeAt: iso(50) });
    assert.equal(run.state.hold!.resumeAt, iso(50));
    assert.equal(run.state.hold!.onExpiry, undefined);
  });

  it('action resume resumes the run, forced', () => {
    const run = new Run();
    run.pause({ expiresAt: iso(100) });
    const step = run.feed({ type: 'expired', action: 'resume' });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.deepEqual(step.decisions, [{ type: 'resumed' }]);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
    const [expired, resumed] = run.state.audit.slice(-2);
    assert.deepEqual(
      { action: expired!.action, by: expired!.by, message: expired!.message, pauseId: expired!.pauseId },
      { action: 'expired', by: 'system:expiry', message: 'pause expired: resume', pauseId: 1 },
    );
    assert.deepEqual(
      { action: resumed!.action, by: resumed!.by, forced: resumed!.forced, pauseId: resumed!.pauseId },
      { action: 'resume', by: 'system:expiry', forced: true, pauseId: 1 },
    );
  });

  it('action resume reruns tasks held by a failure pause', () => {
    const run = new Run();
    run.feed({ type: 'taskFailed', taskId: 'load', message: 'x' });
    assert.deepEqual(run.feed({ type: 'expired', action: 'resume' }).decisions, [
      { type: 'rerunTasks', taskIds: ['load'] },
      { type: 'resumed' },
    ]);
  });

  for (const action of ['fail', 'cancel'] as const) {
    it(`action ${action} ends the run`, () => {
      const run = new Run();
      run.pause({ expiresAt: iso(100), onExpiry: action });
      const step = run.feed({ type: 'expired', action });
      assert.deepEqual(step.decisions, [{ type: 'endRun', action, reason: 'pause 1 (maintenance) expired' }]);
      assert.equal(run.state.hold, null);
      assert.equal(run.state.phase, 'running');
      assert.deepEqual(
        run.state.audit.slice(-2).map((e) => [e.action, e.pauseId, e.by]),
        [
          ['expired', 1, 'system:expiry'],
          ['resume', 1, 'system:expiry'],
        ],
      );
    });
  }

  it('without a hold changes nothing', () => {
    const run = new Run();
    const step = run.feed({ type: 'expired', action: 'fail' });
    assert.deepEqual(step.decisions, []);
    assert.deepEqual(run.state, initialPauseState());
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
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    assert.throws(() => run.start('b'), /task `b` started while the run is resuming/);
    run.resume({}, true);
    run.start('b');
    assert.deepEqual(run.state.inFlight, ['b']);
  });

  it('allows starts while only gates wait', () => {
    const run = new Run();
    run.gate('g');
    run.start('x');
    assert.deepEqual(run.state.inFlight, ['x']);
  });
});

// ---- property tests over random interleavings ---------------------------------------------------------

const TASKS = ['t1', 't2', 't3', 't4', 't5'];
const IDENTITIES = ['a', 'b', 'c', 'mallory'];

/** One step of the model scheduler; indexes pick among what exists at that moment. */
type Cmd =
  | {
      t: 'pause';
      mode: 'graceful' | 'immediate';
      requestId?: string;
      by: string;
      kind: 'manual' | 'task' | 'bulk';
    }
  | { t: 'resume'; requestId?: string; by: string; skip: 'none' | 'held' | 'some' | 'bogus'; pick: number }
  | { t: 'resumeBegin'; requestId?: string; by: string }
  | { t: 'resumeEnd'; ok: boolean; pick: number }
  | { t: 'approve' | 'reject'; task: string; by: string; requestId?: string }
  | { t: 'gateOpened'; task: string; approvers: 'none' | 'ab' | 'abc'; required: number }
  | { t: 'start'; task: string }
  | { t: 'settle'; pick: number; fail: boolean }
  | { t: 'expired'; action: 'resume' | 'fail' | 'cancel' }
  | { t: 'gateTimedOut'; task: string }
  | { t: 'invalid' };

const optId = (prefix: string) =>
  fc.option(fc.constantFrom(`${prefix}1`, `${prefix}2`, `${prefix}3`), { nil: undefined });
const taskArb = fc.constantFrom(...TASKS);
const whoArb = fc.constantFrom(...IDENTITIES);

function pauseCmd(modes: ('graceful' | 'immediate')[]): fc.Arbitrary<Cmd> {
  return fc.record({
    t: fc.constant('pause' as const),
    mode: fc.constantFrom(...modes),
    requestId: optId('p'),
    by: whoArb,
    kind: fc.constantFrom('manual' as const, 'task' as const, 'bulk' as const),
  });
}

const coreCmds = (modes: ('graceful' | 'immediate')[]): fc.Arbitrary<Cmd>[] => [
  pauseCmd(modes),
  fc.record({
    t: fc.constant('resume' as const),
    requestId: optId('r'),
    by: whoArb,
    skip: fc.constant('none' as const),
    pick: fc.nat(),
  }),
  fc.record({
    t: fc.constantFrom('approve' as const, 'reject' as const),
    task: taskArb,
    by: whoArb,
    requestId: optId('g'),
  }),
  fc.record({
    t: fc.constant('gateOpened' as const),
    task: taskArb,
    approvers: fc.constantFrom('none' as const, 'ab' as const, 'abc' as const),
    required: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ t: fc.constant('start' as const), task: taskArb }),
  fc.record({ t: fc.constant('start' as const), task: taskArb }),
  fc.record({ t: fc.constant('settle' as const), pick: fc.nat(), fail: fc.constant(false) }),
  fc.record({ t: fc.constant('settle' as const), pick: fc.nat(), fail: fc.constant(false) }),
];

const extendedCmds = (modes: ('graceful' | 'immediate')[]): fc.Arbitrary<Cmd>[] => [
  ...coreCmds(modes),
  fc.record({
    t: fc.constant('resume' as const),
    requestId: optId('r'),
    by: whoArb,
    skip: fc.constantFrom('none' as const, 'held' as const, 'some' as const, 'bogus' as const),
    pick: fc.nat(),
  }),
  fc.record({ t: fc.constant('resumeBegin' as const), requestId: optId('r'), by: whoArb }),
  fc.record({ t: fc.constant('resumeEnd' as const), ok: fc.boolean(), pick: fc.nat() }),
  fc.record({ t: fc.constant('settle' as const), pick: fc.nat(), fail: fc.boolean() }),
  fc.record({
    t: fc.constant('expired' as const),
    action: fc.constantFrom('resume' as const, 'fail' as const, 'cancel' as const),
  }),
  fc.record({ t: fc.constant('gateTimedOut' as const), task: taskArb }),
  fc.constant({ t: 'invalid' as const }),
];

const REQUEST_EVENTS = new Set<PauseEvent['type']>([
  'pause',
  'resumeBegin',
  'resume',
  'resumeRejected',
  'approve',
  'reject',
  'invalidRequest',
]);

/** Checks the invariants that hold after every step. */
function checkInvariants(before: PauseMachineState, event: PauseEvent, step: Step): void {
  const s = step.state;
  // (b) a hold blocks every start.
  if (s.hold !== null) assert.equal(canStart(s), false, 'a hold must block task starts');
  // (c) phases agree with the hold and the in-flight tasks.
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
  assert.equal(new Set(s.inFlight).size, s.inFlight.length, 'a task is in flight twice');
  // (An expiry that ends the run leaves its failed tasks behind: the run is over then.)
  if (!step.decisions.some((d) => d.type === 'endRun'))
    assert.ok(s.failedTasks.length === 0 || s.hold !== null, 'failed tasks held without a hold');
  // (d) pause ids and resume records.
  const opened = new Set<number>();
  const resumed = new Set<number>();
  for (const e of s.audit) {
    if (e.action === 'pause' || e.action === 'gate') {
      assert.ok(e.pauseId !== undefined && !opened.has(e.pauseId), `pause id ${e.pauseId} reused`);
      opened.add(e.pauseId);
    }
    if (e.action === 'resume') {
      assert.ok(e.pauseId !== undefined && opened.has(e.pauseId), `resume of unknown pause ${e.pauseId}`);
      assert.ok(!resumed.has(e.pauseId), `pause ${e.pauseId} resumed twice`);
      resumed.add(e.pauseId);
    }
  }
  if (s.hold)
    assert.ok(
      opened.has(s.hold.pauseId) && !resumed.has(s.hold.pauseId),
      'the hold has no open pause record',
    );
  for (const g of Object.values(s.gates)) assert.ok(opened.has(g.pauseId) && !resumed.has(g.pauseId));
  // (f) audit sequence numbers are 1..n, and the trail only grows.
  s.audit.forEach((e, i) => assert.equal(e.seq, i + 1, 'audit seq out of order'));
  assert.ok(s.audit.length >= before.audit.length);
  for (let i = 0; i < before.audit.length; i++) assert.equal(s.audit[i], before.audit[i], 'audit rewritten');
  // (g) every refused request adds exactly one `rejected` audit entry.
  const added = s.audit.slice(before.audit.length);
  if (REQUEST_EVENTS.has(event.type) && !step.outcome.accepted) {
    assert.equal(added.length, 1, `refused ${event.type} added ${added.length} audit entries`);
    assert.equal(added[0]!.action, 'rejected');
  }
  // Duplicates change nothing that is audited.
  if (step.outcome.accepted && step.outcome.duplicate) {
    assert.equal(added.length, 0, 'a duplicate added audit entries');
    assert.deepEqual(step.decisions, []);
  }
  // A cancelled task must be in flight.
  for (const d of step.decisions) {
    if (d.type === 'cancelInFlight') for (const id of d.taskIds) assert.ok(before.inFlight.includes(id));
  }
}

interface ModelResult {
  decisions: Decision[];
  events: PauseEvent[];
}

/** Plays the commands like the workflow shell would and checks the invariants after every reduce. */
function play(cmds: Cmd[]): ModelResult {
  let state = initialPauseState();
  let clock = 0;
  const decisions: Decision[] = [];
  const events: PauseEvent[] = [];
  /** Resume requests between resumeBegin and their outcome. */
  const pending: ResumeInput[] = [];
  const feed = (e: EventInput): Step => {
    const event = { ...e, at: iso(clock++) };
    events.push(event);
    const before = state;
    let step: Step;
    try {
      step = reduce(before, event); // (a) never throws for these events
    } catch (err) {
      throw new Error(`reduce threw on ${JSON.stringify(event)}: ${String(err)}`);
    }
    checkInvariants(before, event, step);
    state = step.state;
    decisions.push(...step.decisions);
    return step;
  };
  for (const c of cmds) {
    // An endRun decision ends the run: the shell feeds nothing more.
    if (decisions.some((d) => d.type === 'endRun')) break;
    switch (c.t) {
      case 'pause':
        feed({
          type: 'pause',
          request: {
            by: c.by,
            reason: 'r',
            mode: c.mode,
            kind: c.kind,
            ...(c.requestId ? { requestId: c.requestId } : {}),
          },
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
            reason: 'r',
            ...(c.requestId ? { requestId: c.requestId } : {}),
            ...(skip ? { skip } : {}),
          },
        });
        break;
      }
      case 'resumeBegin': {
        const request: ResumeInput = {
          by: c.by,
          reason: 'r',
          ...(c.requestId ? { requestId: c.requestId } : {}),
        };
        const step = feed({ type: 'resumeBegin', request });
        if (step.outcome.accepted && !step.outcome.duplicate && state.phase === 'resuming')
          pending.push(request);
        break;
      }
      case 'resumeEnd': {
        if (!pending.length) break;
        const [request] = pending.splice(c.pick % pending.length, 1);
        if (c.ok) feed({ type: 'resume', request: { ...request!, validation: 'ok' }, afterBegin: true });
        else feed({ type: 'resumeRejected', request: request!, message: 'validation failed' });
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
          gate: { reason: 'gate', requiredApprovals: required, ...(approvers ? { approvers } : {}) },
        });
        break;
      }
      case 'start':
        // The shell starts a ready task only when the machine allows it.
        if (canStart(state) && !state.inFlight.includes(c.task) && !state.gates[c.task])
          feed({ type: 'taskStarted', taskId: c.task });
        break;
      case 'settle': {
        if (!state.inFlight.length) break;
        const id = state.inFlight[c.pick % state.inFlight.length]!;
        feed({ type: 'taskSettled', taskId: id });
        if (c.fail) feed({ type: 'taskFailed', taskId: id, message: 'retries exhausted' });
        break;
      }
      case 'expired':
        feed({ type: 'expired', action: c.action });
        break;
      case 'gateTimedOut':
        feed({ type: 'gateTimedOut', taskId: c.task });
        break;
      case 'invalid':
        feed({ type: 'invalidRequest', request: 'pause', message: 'mode: invalid option', by: 'eve' });
        break;
    }
  }
  return { decisions, events };
}

describe('pause machine: properties over random interleavings', () => {
  const RUNS = { numRuns: 300 };

  it('property: invariants hold for pause / resume / gates / task starts and settles', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(...coreCmds(['graceful', 'immediate'])), { maxLength: 60 }), (cmds) => {
        play(cmds);
      }),
      RUNS,
    );
  });

  it('property: invariants hold with resume validation, failures, expiry, gate timeouts and bad input', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(...extendedCmds(['graceful', 'immediate'])), { maxLength: 80 }),
        (cmds) => {
          play(cmds);
        },
      ),
      RUNS,
    );
  });

  it('property: graceful-only sequences never cancel in-flight tasks', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(...extendedCmds(['graceful'])), { maxLength: 80 }), (cmds) => {
        const { decisions } = play(cmds);
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
      fc.property(
        fc.array(fc.oneof(...extendedCmds(['graceful', 'immediate'])), { maxLength: 60 }),
        (cmds) => {
          const { events } = play(cmds);
          const replay = (evs: PauseEvent[]) => evs.reduce((s, e) => reduce(s, e).state, initialPauseState());
          assert.deepStrictEqual(replay(events), replay(structuredClone(events)));
          // The state survives a JSON round trip (continue-as-new carries it as a payload).
          const s = replay(events);
          assert.deepStrictEqual(JSON.parse(JSON.stringify(s)), s);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('property: every pause that is accepted while running is audited', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(...coreCmds(['graceful', 'immediate'])), { maxLength: 60 }), (cmds) => {
        const { events } = play(cmds);
        let s = initialPauseState();
        for (const e of events) {
          const wasFree = s.hold === null;
          const step = reduce(s, e);
          if (e.type === 'pause' && wasFree && !(step.outcome.accepted && step.outcome.duplicate)) {
            const added = step.state.audit.slice(s.audit.length);
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
});

describe('pause machine: paths into paused always drain', () => {
  it('a rejected resume after the last task settled during validation drains', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    const settled = run.settle('a');
    assert.deepEqual(settled.decisions, [], 'no drain while the resume is being validated');
    const rejected = run.feed({ type: 'resumeRejected', request: resumeReq(), message: 'unhealthy' });
    assert.equal(run.state.phase, 'paused');
    assert.ok(run.state.hold!.drainedAt);
    assert.deepEqual(rejected.decisions, [{ type: 'drained' }]);
    assert.equal(run.last!.action, 'drained');
  });

  it('a second pause after the last task settled during validation drains', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    run.settle('a');
    const again = run.pause({ by: 'carol' });
    assert.equal(run.state.phase, 'paused');
    assert.deepEqual(again.decisions, [{ type: 'drained' }]);
  });

  it('an immediate pause during resuming cancels the resume and the in-flight tasks', () => {
    const run = new Run();
    run.start('a');
    run.pause();
    run.feed({ type: 'resumeBegin', request: resumeReq() });
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
    run.pause({ expiresAt: iso(100), onExpiry: 'resume' });
    run.feed({ type: 'resumeBegin', request: resumeReq() });
    const step = run.feed({ type: 'expired', action: 'resume' });
    assert.deepEqual(step.outcome, ACCEPTED);
    assert.equal(run.state.hold, null);
    assert.equal(run.state.phase, 'running');
    assert.ok(step.decisions.some((d) => d.type === 'resumed'));
    const late = run.resume({}, true);
    assert.equal(refusalCode(late), 'Superseded');
  });

  it('request ids are scoped by request type', () => {
    const run = new Run();
    run.pause({ requestId: 'r1' });
    const resumed = run.resume({ requestId: 'r1' });
    assert.deepEqual(resumed.outcome, ACCEPTED);
    assert.equal(run.state.hold, null);
  });
});
