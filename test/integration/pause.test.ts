import assert from 'node:assert/strict';
import {
  defineWorkflow,
  InvalidInputError,
  RequestRejectedError,
  task,
  WorkflowClosedError,
  WorkflowNotFoundError,
  type RunStatus,
  type ExecutionHandle,
  type BulkOutcome,
  type BulkResult,
} from '../../src';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { pauseUpdate } from '../../workflows/messages';
import {
  auditTime,
  chainHistory,
  describeStarts,
  eventually,
  latch,
  signalCli,
  sleep,
  startsBetween,
  taskStartedAtOrAfter,
  taskStartedAtOrBefore,
  taskStarts,
  temporalCli,
  timerDues,
  type TaskStart,
  withWorker,
} from '../helpers';

async function waitForState(h: ExecutionHandle, state: RunStatus['state']) {
  return h.waitUntil(state, { timeout: 20_000 });
}

function isRejected(code: string) {
  return (err: unknown) => err instanceof RequestRejectedError && err.code === code;
}

/** The one audit line that matches. */
function auditLine(st: RunStatus, what: string, pred: (a: RunStatus['audit'][number]) => boolean) {
  const lines = st.audit.filter(pred);
  assert.equal(lines.length, 1, `expected one ${what} line, got ${JSON.stringify(lines)}`);
  return lines[0]!;
}

/**
 * Runs a bulk operation while recording its progress reports, and checks them against its result: one
 * report per selected run as each finishes, whatever the concurrency, so `done` counts 1..N in the order
 * of the reports, `total` never changes, and each run's outcome is reported exactly once, as returned.
 */
async function withProgress(
  expectedIds: string[],
  op: (onProgress: (done: number, total: number, outcome: BulkOutcome) => void) => Promise<BulkResult>,
): Promise<BulkResult> {
  const reports: { done: number; total: number; outcome: BulkOutcome }[] = [];
  const result = await op(
    (done, total, outcome) => void reports.push({ done, total, outcome: { ...outcome } }),
  );
  const ids = [...expectedIds].sort();
  assert.equal(result.total, ids.length);
  assert.deepEqual(result.outcomes.map((o) => o.workflowId).sort(), ids, 'one outcome per selected run');
  assert.deepEqual(
    reports.map((r) => r.done),
    Array.from({ length: ids.length }, (_, i) => i + 1),
    'progress counts 1..N, one report per run',
  );
  assert.ok(
    reports.every((r) => r.total === ids.length),
    `total is constant: ${reports.map((r) => r.total).join(',')}`,
  );
  assert.deepEqual(reports.map((r) => r.outcome.workflowId).sort(), ids, 'each run reported exactly once');
  for (const r of reports) {
    assert.deepEqual(
      r.outcome,
      result.outcomes.find((o) => o.workflowId === r.outcome.workflowId),
      'the reported outcome is the one returned',
    );
  }
  return result;
}

/**
 * Asserts from the event history that no attempt was scheduled between the pause line and the resume
 * line, and that `later` (tasks held by the pause) were first scheduled at or after the resume line.
 */
function assertNothingStartedWhilePaused(
  starts: TaskStart[],
  pause: { at: string },
  resume: { at: string },
  later: string[],
) {
  const [from, to] = [auditTime(pause), auditTime(resume)];
  assert.deepEqual(
    describeStarts(startsBetween(starts, from, to)),
    [],
    `attempts scheduled while paused (${pause.at} .. ${resume.at})`,
  );
  for (const id of later) {
    const first = starts.find((s) => s.taskId === id);
    assert.ok(first, `\`${id}\` ran after resume`);
    assert.ok(
      first.at >= to,
      `\`${id}\` was scheduled at ${new Date(first.at).toISOString()}, before the resume line (${resume.at})`,
    );
  }
}

describe('pause and resume on a real server', () => {
  it('graceful pause lets the running task finish, starts nothing new, and resume completes the run', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'graceful',
      tasks: [
        task({ id: 'migrate' }, async (ctx) => {
          await hold.opened;
          ctx.set('migrated', true);
        }),
        task({ id: 'restart', dependencies: ['migrate'] }, (ctx) => void ctx.set('restarted', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).tasks.migrate?.state === 'running');
      const ack = await h.pause({ reason: 'maintenance window', by: 'ops@example.com' });
      assert.equal(ack.state, 'pausing');
      assert.equal(ack.pause?.kind, 'manual');
      assert.equal(ack.pause?.by, 'ops@example.com');
      assert.equal(ack.pause?.mode, 'graceful');
      hold.open();
      const paused = await waitForState(h, 'paused');
      assert.equal(paused.tasks.migrate?.state, 'completed');
      assert.equal(paused.tasks.restart?.state, 'pending');
      assert.ok(paused.pause?.drainedAt, 'the pause records when it took full effect');
      // Give a wrongly started task time to be scheduled; the history says what was.
      await sleep(1000);
      assert.deepEqual(
        describeStarts(await taskStarts(h.workflowId)),
        ['migrate#1'],
        'no task starts while paused',
      );
      const res = await h.resume({ by: 'ops@example.com', reason: 'window over' });
      assert.equal(res.state, 'running');
      assert.deepEqual(await h.result(), { migrated: true, restarted: true });
      const st = await h.status();
      const actions = st.audit.map((a) => a.action);
      assert.deepEqual(actions, ['pause', 'drained', 'resume']);
      assert.equal(st.audit[0]?.reason, 'maintenance window');
      assert.equal(st.audit[2]?.by, 'ops@example.com');
      assert.equal(st.audit[2]?.pauseId, st.audit[0]?.pauseId);
      const pause = auditLine(st, 'pause', (a) => a.action === 'pause');
      const resume = auditLine(st, 'resume', (a) => a.action === 'resume');
      const starts = await taskStarts(h.workflowId);
      assert.deepEqual(describeStarts(starts), ['migrate#1', 'restart#1']);
      assert.ok(starts[0]!.at < auditTime(pause), 'migrate was running when the pause came');
      assertNothingStartedWhilePaused(starts, pause, resume, ['restart']);
    });
  });

  it('immediate pause cancels the in-flight task, which runs again after resume without using an attempt', async () => {
    let runs = 0;
    let cancelled = 0;
    const wf = defineWorkflow({
      name: 'immediate',
      tasks: [
        task({ id: 'long', retry: { attempts: 1 } }, async (ctx) => {
          runs++;
          if (runs === 1) {
            await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
            cancelled++;
            throw new Error('aborted');
          }
          ctx.set('run', runs);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).tasks.long?.state === 'running');
      await h.pause({ mode: 'immediate', reason: 'incident' });
      const paused = await waitForState(h, 'paused');
      assert.equal(cancelled, 1);
      assert.equal(paused.tasks.long?.state, 'pending');
      assert.equal(paused.tasks.long?.attempts, 0);
      assert.equal(paused.tasks.long?.interrupted, 1);
      await h.resume();
      assert.deepEqual(await h.result(), { run: 2 });
      const st = await h.status();
      assert.equal(st.tasks.long?.attempts, 1, 'the cut-off attempt did not use up the only attempt');
    });
  });

  it('immediate pause cuts off every task in flight at once; they and the tasks after them run after resume', async () => {
    const runs: Record<string, number> = {};
    let cancelled = 0;
    const parallel = ['a', 'b', 'c'].map((id) =>
      task({ id, retry: { attempts: 1 } }, async (ctx) => {
        runs[id] = (runs[id] ?? 0) + 1;
        if (runs[id] === 1) {
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          cancelled++;
          throw new Error('aborted');
        }
        ctx.set(id, runs[id]);
      }),
    );
    const wf = defineWorkflow({
      name: 'immediate_wide',
      tasks: [
        ...parallel,
        task({ id: 'after', dependencies: ['a', 'b', 'c'] }, (ctx) => void ctx.set('after', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => {
        const st = await h.status();
        return ['a', 'b', 'c'].every((id) => st.tasks[id]?.state === 'running');
      });
      await h.pause({ mode: 'immediate', reason: 'incident' });
      const paused = await waitForState(h, 'paused');
      assert.equal(cancelled, 3);
      for (const id of ['a', 'b', 'c']) {
        assert.equal(paused.tasks[id]?.state, 'pending', id);
        assert.equal(paused.tasks[id]?.attempts, 0, id);
        assert.equal(paused.tasks[id]?.interrupted, 1, id);
      }
      await h.resume();
      assert.deepEqual(await h.result(), { a: 2, b: 2, c: 2, after: true });
      const st = await h.status();
      assert.deepEqual(
        ['a', 'b', 'c', 'after'].map((id) => [id, st.tasks[id]?.state, st.tasks[id]?.attempts]),
        [
          ['a', 'completed', 1],
          ['b', 'completed', 1],
          ['c', 'completed', 1],
          ['after', 'completed', 1],
        ],
      );
    });
  });

  it('immediate pause of a task that ignores cancellation is bounded by the drain timeout (at-least-once)', async () => {
    let runs = 0;
    const wf = defineWorkflow({
      name: 'drain_timeout',
      pausePolicy: { drainTimeout: 1500 },
      tasks: [
        task({ id: 'stubborn', retry: { attempts: 1 } }, async (ctx) => {
          runs++;
          if (runs === 1) await sleep(5000); // ignores ctx.signal
          ctx.set('runs', runs);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).tasks.stubborn?.state === 'running');
      await h.pause({ mode: 'immediate' });
      const paused = await waitForState(h, 'paused');
      assert.equal(paused.tasks.stubborn?.interrupted, 1);
      await h.resume();
      const out = await h.result();
      assert.equal(out.runs, 2, 'the abandoned attempt is run again');
    });
  });

  it('pauses before a gated task until two distinct approvers approve; other branches keep running', async () => {
    const ran: string[] = [];
    const wf = defineWorkflow({
      name: 'two_approvers',
      tasks: [
        task({ id: 'build' }, () => void ran.push('build')),
        task({ id: 'docs', dependencies: ['build'] }, () => void ran.push('docs')),
        task(
          {
            id: 'critical_operation',
            dependencies: ['build'],
            pauseBefore: {
              reason: 'production deploy',
              approvers: ['alice', 'bob', 'carol'],
              requiredApprovals: 2,
            },
          },
          (ctx) => {
            ran.push('critical_operation');
            ctx.set('deployed', true);
          },
        ),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const waiting = await waitForState(h, 'paused');
      assert.equal(waiting.tasks.docs?.state, 'completed', 'the other branch ran');
      assert.equal(waiting.tasks.critical_operation?.state, 'waiting');
      assert.equal(waiting.pause?.kind, 'gate');
      assert.equal(waiting.pause?.reason, 'production deploy');
      assert.deepEqual(
        waiting.gates.map((g) => g.taskId),
        ['critical_operation'],
      );

      const first = await h.approve('critical_operation', { by: 'alice', comment: 'looks good' });
      assert.equal(first.state, 'paused');
      await assert.rejects(h.approve('critical_operation', { by: 'mallory' }), isRejected('NotAnApprover'));
      const again = await h.approve('critical_operation', { by: 'alice' });
      assert.equal(again.duplicate, true, 'a second approval by the same identity does not count');
      let st = await h.status();
      assert.equal(st.tasks.critical_operation?.state, 'waiting');
      assert.deepEqual(
        st.gates[0]?.approvals.map((a) => a.by),
        ['alice'],
      );
      assert.ok(!ran.includes('critical_operation'));

      await h.approve('critical_operation', { by: 'bob' });
      assert.deepEqual(await h.result(), { deployed: true });
      st = await h.status();
      const gateAudit = st.audit.filter((a) => a.kind === 'gate' || a.request === 'approve');
      assert.deepEqual(
        gateAudit.map((a) => `${a.action}:${a.by ?? ''}`),
        // Every request leaves a line: alice's second approval is recorded, and counted once.
        [
          'gate:gate',
          'approve:alice',
          'rejected:mallory',
          'approve:alice',
          'approve:bob',
          'resume:alice, bob',
        ],
      );
      assert.match(gateAudit[3]?.message ?? '', /already approved: counted once/);
    });
  });

  it('a rejected gate fails its task and the run', async () => {
    const wf = defineWorkflow({
      name: 'gate_reject',
      tasks: [task({ id: 'drop_table', pauseBefore: true }, () => undefined)],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitForState(h, 'paused');
      await h.reject('drop_table', { by: 'dba', comment: 'not during business hours' });
      await assert.rejects(h.result(), /Gate before `drop_table` rejected by dba: not during business hours/);
      const st = await h.status();
      assert.equal(st.tasks.drop_table?.error?.type, 'GateRejected');
    });
  });

  it('ctx.pauseWorkflow pauses at once; the calling task completes and nothing new starts', async () => {
    const wf = defineWorkflow({
      name: 'programmatic',
      tasks: [
        task({ id: 'resource_check' }, async (ctx) => {
          await ctx.pauseWorkflow('High system load detected');
          ctx.set('checked', true);
        }),
        task({ id: 'heavy', dependencies: ['resource_check'] }, (ctx) => void ctx.set('heavy', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const paused = await waitForState(h, 'paused');
      assert.equal(paused.pause?.kind, 'task');
      assert.equal(paused.pause?.by, 'task:resource_check');
      assert.equal(paused.pause?.reason, 'High system load detected');
      assert.equal(paused.tasks.resource_check?.state, 'completed');
      // Give a wrongly started task time to be scheduled; the history says what was.
      await sleep(1000);
      assert.deepEqual(describeStarts(await taskStarts(h.workflowId)), ['resource_check#1']);
      await h.resume({ by: 'sre' });
      assert.deepEqual(await h.result(), { checked: true, heavy: true });
      const st = await h.status();
      const pause = auditLine(st, 'pause', (a) => a.action === 'pause' && a.kind === 'task');
      const resume = auditLine(st, 'resume', (a) => a.action === 'resume' && a.kind === 'task');
      const starts = await taskStarts(h.workflowId);
      assert.deepEqual(describeStarts(starts), ['resource_check#1', 'heavy#1']);
      assertNothingStartedWhilePaused(starts, pause, resume, ['heavy']);
    });
  });

  it('a retry back-off pending at pause time waits for resume (frozen clock)', async () => {
    const backoff = 3000;
    let calls = 0;
    const wf = defineWorkflow({
      name: 'retry_frozen',
      tasks: [
        task(
          { id: 'flaky', retry: { attempts: 3, backoff: 'fixed', delay: backoff, jitter: false } },
          (ctx) => {
            calls++;
            if (calls === 1) throw new Error('temporarily unavailable');
            ctx.set('calls', calls);
          },
        ),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).tasks.flaky?.state === 'retrying');
      await h.pause({ reason: 'hold retries' });
      const paused = await waitForState(h, 'paused');
      // Stay paused longer than the whole back-off: a back-off counted in wall time would run out.
      await sleep(backoff + 500);
      const still = await h.status();
      assert.equal(still.tasks.flaky?.state, 'retrying');
      assert.equal(still.activeMs, paused.activeMs, 'the run clock stands still while paused');
      assert.deepEqual(describeStarts(await taskStarts(h.workflowId)), ['flaky#1'], 'no retry while paused');
      await h.resume();
      assert.deepEqual(await h.result(), { calls: 2 });

      const st = await h.status();
      const pause = auditLine(st, 'pause', (a) => a.action === 'pause');
      const resume = auditLine(st, 'resume', (a) => a.action === 'resume');
      const starts = await taskStarts(h.workflowId);
      assert.deepEqual(
        starts.map((s) => `${s.taskId}#${s.attempt}:${s.outcome}`),
        ['flaky#1:failed', 'flaky#2:completed'],
      );
      assertNothingStartedWhilePaused(starts, pause, resume, []);
      const [first, retry] = starts as [TaskStart, TaskStart];
      const pausedMs = auditTime(resume) - auditTime(pause);
      assert.ok(auditTime(pause) - first.endedAt! < backoff - 1000, 'the pause came early in the back-off');
      // The back-off ran from the failure, stood still from the pause line to the resume line, then ran
      // out: the retry is due `backoff` of active time after the failure.
      const due = first.endedAt! + backoff + pausedMs;
      assert.ok(
        retry.at >= due - 250,
        `the retry was scheduled ${due - retry.at} ms before its back-off ran out in active time ` +
          `(failed at ${new Date(first.endedAt!).toISOString()}, back-off ${backoff} ms, paused ${pausedMs} ms, ` +
          `retry at ${new Date(retry.at).toISOString()})`,
      );
      // In workflow time, read from the history: the back-off is decided by the workflow task that learnt
      // of the failure; the timer armed at the resume is due the pause's length later; the retry is
      // scheduled by the first workflow task at or after that.
      const runs = await chainHistory(h.workflowId);
      const dueAt = taskStartedAtOrAfter(runs, first.endedAt!) + backoff + pausedMs;
      const dues = timerDues(runs).map((d) => d.due);
      assert.ok(
        Math.abs(dues[dues.length - 1]! - dueAt) <= 2,
        `the last timer is due at ${dues[dues.length - 1]}; expected ${dueAt}; all: ${dues.join(', ')}`,
      );
      const decidedAt = taskStartedAtOrAfter(runs, dueAt - 2);
      assert.equal(
        taskStartedAtOrBefore(runs, retry.at),
        decidedAt,
        `the retry (scheduled at ${retry.at}) came from the first workflow task at or after ${dueAt}`,
      );
    });
  });

  it('execute() keeps waiting across a pause and returns after resume', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'execute_waits',
      tasks: [
        task({ id: 'a' }, async () => {
          await hold.opened;
        }),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('done', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      let settled = false;
      const result = executor
        .execute(wf, {}, { workflowId: `execute-waits-${Date.now()}` })
        .finally(() => (settled = true));
      const [row] = await eventually(async () => {
        const r = await executor.listWorkflows({ workflow: 'execute_waits', state: 'running' });
        return r.length ? r : undefined;
      });
      await executor.pauseWorkflow(row!.workflowId, { reason: 'hold' });
      hold.open();
      await eventually(async () => (await executor.getStatus(row!.workflowId)).state === 'paused');
      // Give a wrongly started task (and so a wrongly returning execute) time; the history says what ran.
      await sleep(1000);
      assert.equal(settled, false);
      assert.deepEqual(describeStarts(await taskStarts(row!.workflowId)), ['a#1']);
      await executor.resumeWorkflow(row!.workflowId);
      assert.deepEqual(await result, { done: true });
      const st = await executor.getStatus(row!.workflowId);
      const starts = await taskStarts(row!.workflowId);
      assert.deepEqual(describeStarts(starts), ['a#1', 'b#1']);
      assertNothingStartedWhilePaused(
        starts,
        auditLine(st, 'pause', (a) => a.action === 'pause'),
        auditLine(st, 'resume', (a) => a.action === 'resume'),
        ['b'],
      );
    });
  });

  it('pauses and resumes through the real temporal CLI, found by temporal workflow list', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'cli_control',
      tasks: [
        task({ id: 'a' }, async () => {
          await hold.opened;
        }),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).tasks.a?.state === 'running');
      await signalCli(h.workflowId, 'cloacina.pause', '{"reason":"db failover","by":"oncall"}');
      hold.open();
      await waitForState(h, 'paused');
      const listed = await eventually(async () => {
        const out = await temporalCli([
          'workflow',
          'list',
          '--query',
          `CloacinaPaused=true AND CloacinaPausedBy="oncall" AND WorkflowId="${h.workflowId}"`,
          '-o',
          'json',
        ]);
        return out.includes(h.workflowId) ? out : undefined;
      });
      assert.ok(listed);
      const query = JSON.parse(
        await temporalCli([
          'workflow',
          'query',
          '--workflow-id',
          h.workflowId,
          '--name',
          'cloacina.status',
          '-o',
          'json',
        ]),
      );
      const status = (query.queryResult?.[0] ?? query.result?.[0] ?? query) as RunStatus;
      assert.equal(status.pause?.reason, 'db failover');
      const upd = await temporalCli([
        'workflow',
        'update',
        'execute',
        '--workflow-id',
        h.workflowId,
        '--name',
        'cloacina.resume',
        '--input',
        '{"by":"oncall","reason":"failover done"}',
        '-o',
        'json',
      ]);
      assert.match(upd, /running/);
      assert.deepEqual(await h.result(), { b: true });
      const st = await h.status();
      assert.deepEqual(
        st.audit
          .filter((a) => a.action === 'pause' || a.action === 'resume')
          .map((a) => `${a.action}:${a.by}`),
        ['pause:oncall', 'resume:oncall'],
      );
    });
  });

  it('a paused run survives a worker restart', async () => {
    const wf = defineWorkflow({
      name: 'restart_worker',
      tasks: [
        task({ id: 'a' }, (ctx) => void ctx.set('a', true)),
        task({ id: 'gate', dependencies: ['a'], pauseBefore: true }, (ctx) => void ctx.set('gate', true)),
      ],
    });
    const taskQueue = `restart-${Date.now()}`;
    const workflowId = await withWorker(
      [wf],
      async ({ executor }) => {
        const h = await executor.executeAsync(wf, {});
        await waitForState(h, 'paused');
        await h.pause({ reason: 'also paused manually', by: 'ops' });
        return h.workflowId;
      },
      { taskQueue },
    );
    await withWorker(
      [wf],
      async ({ executor }) => {
        const st = await executor.getStatus(workflowId);
        assert.equal(st.state, 'paused');
        assert.equal(st.pause?.kind, 'manual');
        assert.equal(st.pause?.by, 'ops');
        assert.deepEqual(
          st.gates.map((g) => g.taskId),
          ['gate'],
        );
        await executor.resumeWorkflow(workflowId, { by: 'ops' });
        await executor.approve(workflowId, 'gate', { by: 'ops' });
        assert.deepEqual(await executor.result(workflowId), { a: true, gate: true });
      },
      { taskQueue },
    );
  });

  it('is idempotent by request id and lists paused runs by search attribute', async () => {
    const wf = defineWorkflow({
      name: 'idempotent',
      tasks: [
        task({ id: 'g', pauseBefore: true }, () => undefined),
        task({ id: 'h' }, async () => {
          await sleep(200);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitForState(h, 'paused');
      const a = await h.pause({ requestId: 'req-1', reason: 'first', by: 'ops' });
      const b = await h.pause({ requestId: 'req-1', reason: 'first', by: 'ops' });
      assert.equal(a.duplicate, false);
      assert.equal(b.duplicate, true);
      const st = await h.status();
      assert.equal(st.audit.filter((e) => e.action === 'pause').length, 1);
      const rows = await eventually(async () => {
        const r = await executor.listWorkflows({ paused: true, workflow: 'idempotent' });
        return r.find((x) => x.workflowId === h.workflowId && x.pauseKind === 'manual');
      });
      assert.equal(rows.pausedBy, 'ops');
      assert.equal(rows.pauseReason, 'first');
      await h.cancel();
    });
  });

  it('pauses and resumes many runs by visibility query, idempotently, reporting each outcome', async () => {
    const wf = defineWorkflow({
      name: 'bulk',
      // The gate needs an approver: a resume of a run held only by it is refused.
      tasks: [task({ id: 'g', pauseBefore: { approvers: ['ops'] } }, () => undefined)],
    });
    await withWorker([wf], async ({ executor, taskQueue }) => {
      const n = 12;
      const runs = await Promise.all(Array.from({ length: n }, () => executor.executeAsync(wf, {})));
      const ids = runs.map((r) => r.workflowId);
      const selection = { workflow: 'bulk', query: `TaskQueue = '${taskQueue}'` };
      await eventually(async () => (await executor.listWorkflows(selection)).length === n);
      const first = await withProgress(ids, (onProgress) =>
        executor.pauseAll(selection, {
          reason: 'maintenance',
          by: 'ops',
          bulkId: 'mw-1',
          concurrency: 4,
          onProgress,
        }),
      );
      assert.equal(first.succeeded, n);
      assert.ok(first.outcomes.every((o) => o.ok && o.state === 'paused' && !o.duplicate));
      const again = await withProgress(ids, (onProgress) =>
        executor.pauseAll(selection, {
          reason: 'maintenance',
          by: 'ops',
          bulkId: 'mw-1',
          concurrency: 1,
          onProgress,
        }),
      );
      assert.ok(
        again.outcomes.every((o) => o.ok && o.duplicate),
        're-running the same bulk operation changes nothing',
      );
      const st = await runs[0]!.status();
      assert.equal(st.pause?.kind, 'bulk');
      assert.equal(st.audit.filter((a) => a.action === 'pause').length, 1);
      const paused = await eventually(async () => {
        const r = await executor.listWorkflows({
          ...selection,
          paused: true,
          query: `${selection.query} AND CloacinaPauseKind = 'bulk'`,
        });
        return r.length === n ? r : undefined;
      });
      assert.equal(paused.length, n);
      // A third of the runs are resumed one by one first, so the bulk resume mixes refusals (answered at
      // once) with resumes (validated by an activity), all in flight together.
      const early = runs.filter((_, i) => i % 3 === 0);
      await Promise.all(early.map((r) => r.resume({ by: 'ops' })));
      const resumed = await withProgress(ids, (onProgress) =>
        executor.resumeAll(selection, { by: 'ops', bulkId: 'mw-1-end', concurrency: n, onProgress }),
      );
      assert.equal(resumed.succeeded, n - early.length);
      assert.deepEqual(
        resumed.outcomes
          .filter((o) => !o.ok)
          .map((o) => `${o.workflowId}:${o.code}`)
          .sort(),
        early.map((r) => `${r.workflowId}:NotPaused`).sort(),
        'runs held only by their gate refuse the resume',
      );
      await Promise.all(runs.map((r) => r.approve('g', { by: 'ops' })));
      await Promise.all(runs.map((r) => r.result()));
      await eventually(
        async () => (await executor.listWorkflows({ ...selection, state: 'completed' })).length === n,
      );
      const after = await withProgress([], (onProgress) =>
        executor.resumeAll(selection, { by: 'ops', onProgress }),
      );
      assert.equal(after.total, 0, 'closed runs are not selected');
    });
  });

  describe('bad input', () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'bad_input',
      tasks: [
        task({ id: 'a' }, async () => {
          await hold.opened;
        }),
        task({ id: 'gated', dependencies: ['a'], pauseBefore: { approvers: ['alice'] } }, () => undefined),
      ],
    });
    after(() => hold.open());

    it('gets a clear error or a recorded rejection, and no run fails or wedges', async () => {
      await withWorker([wf], async ({ executor, client }) => {
        const h = await executor.executeAsync(wf, {});
        await eventually(async () => (await h.status()).tasks.a?.state === 'running');

        // Client-side checks name the field.
        await assert.rejects(
          h.pause({ mode: 'sideways' as never }),
          (e: unknown) => e instanceof InvalidInputError && /`mode`/.test(e.message),
        );
        await assert.rejects(
          h.pause({ reason: 'x'.repeat(5000) }),
          (e: unknown) =>
            e instanceof InvalidInputError && /`reason`: must be at most 1000 characters/.test(e.message),
        );
        // The workflow's validator refuses the same without the client checks.
        await assert.rejects(
          client.workflow
            .getHandle(h.workflowId)
            .executeUpdate(pauseUpdate, { args: [{ mode: 'sideways' } as never] }),
          (e: unknown) =>
            e instanceof WorkflowUpdateFailedError && /Invalid request: `mode`/.test(e.cause?.message ?? ''),
        );
        // Semantic refusals.
        await assert.rejects(h.resume(), isRejected('NotPaused'));
        await assert.rejects(h.approve('a', { by: 'alice' }), isRejected('GateNotWaiting'));
        await assert.rejects(h.approve('nope', { by: 'alice' }), isRejected('UnknownTask'));
        // A malformed signal through the real CLI is recorded, never fails the run.
        await signalCli(h.workflowId, 'cloacina.pause', '{"mode":"sideways","by":"cli"}');
        await signalCli(h.workflowId, 'cloacina.approve', '"not an object"');
        const st = await eventually(async () => {
          const s = await h.status();
          return s.audit.filter((e) => e.action === 'rejected').length >= 5 ? s : undefined;
        });
        assert.equal(st.state, 'running');
        const rejected = st.audit.filter((e) => e.action === 'rejected');
        assert.ok(
          rejected.some((e) => e.request === 'pause' && /`mode`/.test(e.message ?? '') && e.by === 'cli'),
        );
        assert.ok(rejected.some((e) => e.request === 'approve'));
        assert.ok(rejected.some((e) => e.request === 'resume' && /not paused/.test(e.message ?? '')));

        hold.open();
        await waitForState(h, 'paused');
        await assert.rejects(h.approve('gated', { by: 'mallory' }), isRejected('NotAnApprover'));
        await assert.rejects(h.resume(), isRejected('NotPaused'));
        await h.approve('gated', { by: 'alice' });
        await h.result();
        await assert.rejects(h.pause(), (e: unknown) => e instanceof WorkflowClosedError);
        await assert.rejects(
          executor.pauseWorkflow('no-such-run'),
          (e: unknown) => e instanceof WorkflowNotFoundError,
        );
      });
    });
  });
});

describe('a resume whose validation no worker can start', function () {
  this.timeout(120_000);

  it('is refused after 30 s, leaves the run paused and audited, and goes through once a slot frees', async () => {
    // One activity slot, filled by another run's long task: the resume's registry check waits in the task
    // queue behind it. It must not wait for ever.
    const busy = defineWorkflow({
      name: 'slot_hog',
      tasks: [
        task({ id: 'long' }, async (ctx) => {
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          throw new Error('aborted');
        }),
      ],
    });
    const gated = defineWorkflow({
      name: 'slot_starved',
      tasks: [task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true))],
    });
    await withWorker(
      [busy, gated],
      async ({ executor, taskQueue }) => {
        const h = await executor.executeAsync(gated, {});
        await h.waitUntil((st) => st.gates.length === 1, { timeout: 20_000 });
        await h.pause({ reason: 'hold', by: 'ops' });
        const hog = await executor.executeAsync(busy, {});
        await eventually(async () => (await hog.status()).tasks.long?.state === 'running');
        const t0 = Date.now();
        await assert.rejects(h.resume({ by: 'ops' }), (err: unknown) => {
          assert.ok(isRejected('ValidationRejected')(err), String(err));
          assert.equal(
            (err as Error).message,
            `Resume validation was not started by a worker of task queue \`${taskQueue}\` within 30 s: ` +
              'its workers have no free activity slot (running tasks fill them) or none polls; resume again once they have room',
          );
          return true;
        });
        const waited = Date.now() - t0;
        assert.ok(waited >= 29_000, `refused after ${waited} ms`);
        const st = await h.status();
        assert.equal(st.state, 'paused');
        assert.equal(st.pause?.reason, 'hold');
        auditLine(
          st,
          'rejected resume',
          (a) => a.action === 'rejected' && /not started by a worker/.test(a.message ?? ''),
        );
        await hog.cancel();
        await assert.rejects(hog.result());
        await h.resume({ by: 'ops' });
        await h.approve('g', { by: 'ops' });
        assert.deepEqual(await h.result(), { done: true });
      },
      { workerOptions: { maxConcurrentActivityTaskExecutions: 1 } },
    );
  });
});

describe('a second pause on a paused run', function () {
  this.timeout(60_000);

  it('postpones a scheduled resume to a later resumeAt, never ends the pause sooner, and says so', async () => {
    const wf = defineWorkflow({
      name: 'amended',
      tasks: [
        task({ id: 'a' }, (ctx) => void ctx.set('a', true)),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const first = new Date(Date.now() + 3_600_000);
      const later = new Date(Date.now() + 7_200_000);
      await h.pause({ by: 'alice', reason: 'window', resumeAt: first });
      await waitForState(h, 'paused');

      const joined = await h.pause({ by: 'bob', reason: 'longer', resumeAt: later });
      assert.equal(joined.duplicate, false);
      assert.equal(joined.pause!.by, 'alice', 'the pause in effect stays');
      assert.equal(joined.pause!.resumeAt, later.toISOString(), 'its scheduled resume is postponed');

      const sooner = await h.pause({ by: 'carol', resumeAt: new Date(Date.now() + 60_000) });
      assert.equal(sooner.pause!.resumeAt, later.toISOString(), 'an earlier resumeAt is not applied');

      const lines = (await h.audit()).entries
        .filter((e) => e.action === 'pause')
        .map((e) => [e.by, e.message]);
      assert.deepEqual(lines.slice(0, 2), [
        ['alice', undefined],
        [
          'bob',
          `already paused (pause 1 by alice): joined it; scheduled resume postponed from ${first.toISOString()} to ${later.toISOString()}`,
        ],
      ]);
      assert.match(
        String(lines[2]![1]),
        /not applied: the pause resumes at .*a joined pause never ends it sooner/,
      );

      await h.resume({ by: 'alice' });
      assert.deepEqual(await h.result(), { a: true, b: true });
    });
  });
});
