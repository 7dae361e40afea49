// The documented examples and the demo, run against the shared test server: each returns facts about its
// scenario, checked here, so the docs stay true.
import assert from 'node:assert/strict';
import { freshTaskQueue, testServer } from '../helpers';
import { main as maintenanceWindow } from '../../examples/maintenance-window';
import { main as approvalGate } from '../../examples/approval-gate';
import { main as debugging } from '../../examples/debugging';
import { main as overloadPause } from '../../examples/overload-pause';
import { runDemo } from '../../examples/demo';

function env(prefix: string) {
  const lines: string[] = [];
  const { address, namespace } = testServer();
  return {
    address,
    namespace,
    taskQueue: freshTaskQueue(prefix),
    log: (l: string) => void lines.push(l),
    lines,
  };
}

describe('examples', () => {
  it('maintenance window: pauses every running run with resumeAt; they resume by themselves and complete', async () => {
    const e = env('ex-maintenance');
    const s = await maintenanceWindow(e);
    assert.equal(s.started, 5);
    const acks = s.pauseAcks as string[];
    assert.equal(acks.length, 5);
    assert.ok(
      acks.every((a) => a === 'pausing' || a === 'paused'),
      `acks: ${acks.join(', ')}`,
    );
    assert.equal(s.paused, 5);
    assert.equal(s.listedPaused, 5, 'listWorkflows({ paused: true }) lists every paused run');
    assert.deepEqual(s.pauseReasons, ['DB maintenance']);
    assert.deepEqual(s.pausedBy, ['ops']);
    assert.equal(s.poolsReleasedWhilePaused, 5, 'releaseOnPause tore every pool down during the window');
    assert.deepEqual(s.resumedBy, ['system:schedule'], 'nobody resumed them by hand');
    assert.equal(s.resumedNotBeforeResumeAt, true);
    assert.equal(s.completed, 5);
    assert.equal(s.loaded, 5);
    assert.equal(s.poolsOpened, 10, 'one setup at start and one after the window, per run');
    assert.equal(s.poolsClosed, 10, 'one teardown for the window and one at the end, per run');
    assert.ok(e.lines.some((l) => /lists 5 runs/.test(l)));
    assert.equal(s.windowListed, true, 'the nightly pause window is listed with its settings');
    assert.equal(s.windowNextOpeningUtcHour, 22);
  });

  it('approval gate: one approval is not enough, a non-approver is refused, the second approval releases', async () => {
    const s = await approvalGate(env('ex-approval'));
    assert.deepEqual(s.approvers, ['alice', 'bob', 'carol']);
    assert.equal(s.requiredApprovals, 2);
    assert.deepEqual(s.afterFirstApproval, { state: 'paused', publish: 'waiting', approvals: ['alice'] });
    const refusal = s.nonApprover as { name: string; code: string; message: string };
    assert.equal(refusal.name, 'RequestRejectedError', 'a typed error');
    assert.equal(refusal.code, 'NotAnApprover');
    assert.match(refusal.message, /mallory/);
    assert.deepEqual(s.afterRefusal, { state: 'paused', approvals: ['alice'] });
    assert.equal(s.afterSecondApproval, 'running');
    assert.equal(s.finalState, 'completed');
    assert.deepEqual(s.context, { version: '2.4.0', published: true, announced: 'Released 2.4.0' });
    const audit = s.audit as { action: string; by?: string; at: string; reason?: string }[];
    assert.deepEqual(
      audit.map((a) => `${a.action}:${a.by ?? ''}`),
      ['gate:gate', 'approve:alice', 'rejected:mallory', 'approve:bob', 'resume:alice, bob'],
    );
    assert.equal(audit[1]?.reason, 'Changelog reviewed');
    assert.equal(audit[3]?.reason, 'Ship it');
    assert.ok(
      audit.every((a) => !Number.isNaN(Date.parse(a.at))),
      'every entry says when',
    );
  });

  it('debugging: a breakpoint holds the run, the context is inspected and patched, the next task sees the patch', async () => {
    const s = await debugging(env('ex-debugging'));
    assert.deepEqual(s.breakpointsSet, ['filter']);
    assert.equal(s.breakpointTask, 'filter');
    assert.equal(s.breakpointReason, 'breakpoint');
    assert.equal(s.breakpointKind, 'gate');
    assert.deepEqual(s.manualPause, { state: 'paused', kind: 'manual' });
    assert.equal(s.thresholdAtBreakpoint, 100);
    assert.deepEqual(s.inspectedContext, { threshold: 100, readings: [3, 8, 12, 15, 21] });
    assert.deepEqual(s.afterResume, { state: 'paused', filter: 'waiting' }, 'the breakpoint still holds');
    assert.equal((s.patchedContext as { threshold: number }).threshold, 10);
    assert.equal(s.afterStep, 'running');
    assert.equal(s.usedThreshold, 10, 'the patched value reached the next task');
    assert.deepEqual(s.selected, [12, 15, 21]);
    assert.equal(s.report, '3 readings over 10');
    assert.equal(s.finalState, 'completed');
    assert.deepEqual(s.audit, [
      'breakpoint::developer',
      'gate:gate:gate',
      'pause:manual:developer',
      'resume:manual:developer',
      'approve:gate:developer',
      'resume:gate:developer',
    ]);
  });

  it('overload pause: a task pauses its own run (kind task); the operator resumes; it completes', async () => {
    const s = await overloadPause(env('ex-overload'));
    assert.equal(s.pauseKind, 'task');
    assert.equal(s.pausedBy, 'task:check_load');
    assert.equal(s.pauseReason, 'High system load detected');
    assert.equal(s.checkLoadState, 'completed', 'the calling task completes normally');
    assert.equal(s.stateAfterOneSecond, 'paused');
    assert.equal(s.importBatchWhilePaused, 'pending');
    assert.equal(s.importStartedWhilePaused, false);
    assert.equal(s.importStartedAfterResume, true);
    assert.equal(s.resumeState, 'running');
    assert.equal(s.finalState, 'completed');
    assert.deepEqual(s.context, { systemLoad: 0.4, loadAtCheck: 0.95, imported: 500, notified: true });
    assert.deepEqual(s.audit, ['pause:task:task:check_load', 'drained:task:', 'resume:task:sre']);
    assert.deepEqual(s.calmRun, {
      finalState: 'completed',
      paused: false,
      context: { systemLoad: 0.3, loadAtCheck: 0.3, imported: 500, notified: true },
    });
  });

  it('demo: a manual pause during the builds, a resume, two approvals at the gate, then completed', async () => {
    const e = env('ex-demo');
    const r = await runDemo(e);
    assert.equal(r.state, 'completed');
    assert.deepEqual(r.approvedBy, ['alice', 'bob']);
    const states = r.runStates.join(' ');
    // `resuming` shows while the resume is validated, if a poll falls in that moment.
    assert.match(states, /running pausing paused (resuming )?running paused (resuming )?running completed/);
    assert.deepEqual(r.context.artifacts, [
      'api-image:checkout-service@3f9c2e1',
      'web-bundle:checkout-service@3f9c2e1',
    ]);
    assert.equal(r.context.healthy, true);
    assert.deepEqual(
      r.audit.map((a) => `${a.action}:${a.by ?? ''}`),
      [
        'pause:release-manager',
        'drained:',
        'resume:release-manager',
        'gate:gate',
        'approve:alice',
        'approve:bob',
        'resume:alice, bob',
      ],
    );
    const out = e.lines.join('\n');
    assert.match(out, /alice approved: state is still paused \(1 of 2 approvals\)/);
    assert.match(out, /bob approved: state is running/);
    assert.match(out, /run\s+running → pausing/);
    assert.match(out, /run\s+pausing → paused/);
    assert.match(out, /approve\s+by alice/);
    assert.match(out, /approve\s+by bob/);
  });
});
