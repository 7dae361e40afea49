import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineWorkflow, task, type UnifiedExecutor, type RunStatus } from '../../src';
import { freePort, startDevServer, type DevServerHandle } from '../../temporal-dev';
import { eventually, freshTaskQueue, withOwnStack } from '../helpers';

// SIGKILL of a file-backed server while runs are paused by every kind of pause: after a restart each
// pause is still there with who, why and when (and its scheduled resume), and every run completes.
describe('a file-backed server killed with SIGKILL', function () {
  this.timeout(180_000);
  let dir: string;
  let server: DevServerHandle | undefined;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cloacina-kill-'));
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps manual, gate, failure, task and bulk pauses with their metadata; every run completes', async () => {
    const dbFilename = path.join(dir, 'temporal.db');
    const port = await freePort();
    const start = () => startDevServer({ port, uiPort: 0, headless: true, dbFilename, forceStart: true });
    const taskQueue = freshTaskQueue('server-kill');
    let failing = true;
    const asked = new Set<string>();
    const wf = defineWorkflow({
      name: 'server-killed',
      pausePolicy: { onTaskFailure: 'pause' },
      tasks: [
        task({ id: 'prepare' }, (ctx) => void ctx.set('prepared', true)),
        task({ id: 'flaky', dependencies: ['prepare'], retry: { attempts: 1 } }, (ctx) => {
          if (ctx.get('fail') && failing) throw new Error('disk full');
        }),
        task({ id: 'ask', dependencies: ['flaky'] }, async (ctx) => {
          if (ctx.get('ask') && !asked.has(ctx.workflowId)) {
            asked.add(ctx.workflowId);
            await ctx.pauseWorkflow('the numbers look odd');
          }
        }),
        task(
          { id: 'ship', dependencies: ['ask'], pauseBefore: { approvers: ['alice'] } },
          (ctx) => void ctx.set('shipped', true),
        ),
      ],
    });
    const withStack = <T>(fn: (executor: UnifiedExecutor) => Promise<T>): Promise<T> =>
      withOwnStack(server!.address, taskQueue, [wf], fn);
    const waitPaused = (executor: UnifiedExecutor, id: string, kind: string) =>
      executor.waitUntil(id, (s) => s.state === 'paused' && s.pause?.kind === kind, { timeout: 30_000 });

    server = await start();
    const before: Record<string, RunStatus> = {};
    const resumeAt = new Date(Date.now() + 3_600_000);
    const ids = await withStack(async (executor) => {
      const manual = await executor.executeAsync(wf, {});
      await executor.pauseWorkflow(manual.workflowId, {
        reason: 'maintenance',
        by: 'ops',
        requestId: 'p-1',
        resumeAt,
      });
      const gate = await executor.executeAsync(wf, {});
      const failure = await executor.executeAsync(wf, { fail: true });
      const taskPause = await executor.executeAsync(wf, { ask: true });
      const bulk = await executor.executeAsync(wf, {});
      // pauseAll selects through the visibility store, which lists a new run a moment after its start.
      await eventually(
        async () =>
          (await executor.listWorkflows({ query: `WorkflowId = '${bulk.workflowId}'` })).length === 1,
        15_000,
        'the new run in the visibility store',
      );
      const bulkResult = await executor.pauseAll(`WorkflowId = '${bulk.workflowId}'`, {
        reason: 'overnight',
        by: 'scheduler',
        bulkId: 'night-1',
      });
      assert.deepEqual([bulkResult.total, bulkResult.succeeded], [1, 1]);
      const ids = {
        manual: manual.workflowId,
        gate: gate.workflowId,
        failure: failure.workflowId,
        task: taskPause.workflowId,
        bulk: bulk.workflowId,
      };
      for (const [kind, id] of Object.entries(ids)) before[kind] = await waitPaused(executor, id, kind);
      return ids;
    });
    assert.equal(before.manual!.pause!.resumeAt, resumeAt.toISOString());
    assert.equal(before.task!.pause!.by, 'task:ask');
    assert.equal(before.bulk!.pause!.requestId, `bulk:night-1:${ids.bulk}`);

    // No goodbye: the server and its watchdog die at once.
    process.kill(-server.pid!, 'SIGKILL');
    await server.stop();
    server = await start();

    await withStack(async (executor) => {
      for (const [kind, id] of Object.entries(ids)) {
        const after = await executor.getStatus(id);
        assert.equal(after.state, 'paused', kind);
        assert.deepEqual(after.pause, before[kind]!.pause, `${kind}: the pause and its metadata survived`);
        assert.deepEqual(after.gates, before[kind]!.gates, `${kind}: the gates survived`);
        assert.deepEqual(after.audit, before[kind]!.audit, `${kind}: the audit trail survived`);
      }
      const paused = await executor.listWorkflows({ paused: true, workflow: 'server-killed' });
      assert.deepEqual(paused.map((r) => r.workflowId).sort(), Object.values(ids).sort());

      // Requests are still remembered by id.
      assert.equal(
        (await executor.pauseWorkflow(ids.manual, { requestId: 'p-1', by: 'ops' })).duplicate,
        true,
      );
      failing = false;
      for (const kind of ['manual', 'failure', 'task'] as const)
        await executor.resumeWorkflow(ids[kind], { by: 'ops' });
      const resumed = await executor.resumeAll(`WorkflowId = '${ids.bulk}'`, {
        by: 'scheduler',
        bulkId: 'morning-1',
      });
      assert.deepEqual([resumed.total, resumed.succeeded], [1, 1]);
      for (const [kind, id] of Object.entries(ids)) {
        await executor.waitUntil(id, (s) => s.gates.some((g) => g.taskId === 'ship'), { timeout: 30_000 });
        await executor.approve(id, 'ship', { by: 'alice' });
        assert.deepEqual(
          await executor.result(id),
          {
            prepared: true,
            shipped: true,
            ...(kind === 'failure' ? { fail: true } : {}),
            ...(kind === 'task' ? { ask: true } : {}),
          },
          kind,
        );
      }
    });
  });

  it('a bulk pause the server dies in the middle of stops sending, says what it left, and a re-run finishes it', async () => {
    const dbFilename = path.join(dir, 'bulk.db');
    const port = await freePort();
    const start = () => startDevServer({ port, uiPort: 0, headless: true, dbFilename, forceStart: true });
    const taskQueue = freshTaskQueue('bulk-kill');
    const wf = defineWorkflow({
      name: 'bulk-killed',
      tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
    });
    const withStack = <T>(fn: (executor: UnifiedExecutor) => Promise<T>): Promise<T> =>
      withOwnStack(server!.address, taskQueue, [wf], fn);
    const count = 30;
    const query = `CloacinaWorkflow = 'bulk-killed' AND TaskQueue = '${taskQueue}'`;

    server = await start();
    const first = await withStack(async (executor) => {
      for (let i = 0; i < count; i++) await executor.executeAsync(wf, {});
      await eventually(
        async () => (await executor.listWorkflows({ query })).length === count,
        15_000,
        'the runs in the visibility store',
      );
      const killed = server!;
      return executor.pauseAll(query, {
        reason: 'freeze',
        by: 'ops',
        bulkId: 'freeze-1',
        concurrency: 2,
        // No goodbye, a few runs in: the server and its watchdog die at once.
        onProgress: (done) => {
          if (done === 5) process.kill(-killed.pid!, 'SIGKILL');
        },
      });
    });
    await server.stop();
    assert.equal(first.total, count);
    assert.match(first.unreachable ?? '', /UNAVAILABLE/, JSON.stringify(first.unreachable));
    const notSent = first.outcomes.filter((o) =>
      o.error?.startsWith('not sent: the server stopped answering'),
    );
    assert.ok(first.succeeded >= 5, `${first.succeeded} paused before the server died`);
    assert.ok(notSent.length >= count - first.succeeded - 2, `${notSent.length} not sent`);
    assert.equal(first.succeeded + first.failed, count);

    server = await start();
    await withStack(async (executor) => {
      const again = await executor.pauseAll(query, { reason: 'freeze', by: 'ops', bulkId: 'freeze-1' });
      assert.equal(again.unreachable, undefined);
      assert.deepEqual([again.total, again.succeeded], [count, count]);
      // What was done before the server died is a repeat now, and changes nothing; what was not sent is
      // done now. (A request in flight when it died may have been written before its answer was lost.)
      const was = new Map(first.outcomes.map((o) => [o.workflowId, o]));
      for (const o of again.outcomes) {
        const before = was.get(o.workflowId)!;
        if (before.ok) assert.equal(o.duplicate, true, `${o.workflowId} was paused before`);
        if (before.error?.startsWith('not sent'))
          assert.equal(o.duplicate, false, `${o.workflowId} was not sent`);
      }
      for (const o of again.outcomes) await executor.cancelExecution(o.workflowId);
    });
  });
});
