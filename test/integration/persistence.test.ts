import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { defineWorkflow, task, type UnifiedExecutor, type RunStatus } from '../../src';
import { freePort, startDevServer, type DevServerHandle } from '../../temporal-dev';
import { freshTaskQueue, withOwnStack } from '../helpers';

// Pause state is Temporal state: with a file-backed database, paused runs of every kind keep their pause
// and its metadata across a server restart, and resume to completion afterwards.
describe('persistence across a server restart (file-backed SQLite)', function () {
  this.timeout(180_000);
  let dir: string;
  let server: DevServerHandle | undefined;

  before(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cloacina-db-'));
  });
  after(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('keeps manual, gate and failure pauses with their metadata, and resumes every run', async () => {
    const dbFilename = path.join(dir, 'temporal.db');
    const port = await freePort();
    const start = () => startDevServer({ port, uiPort: 0, headless: true, dbFilename, forceStart: true });
    const taskQueue = freshTaskQueue('persist');
    let failing = true;
    const wf = defineWorkflow({
      name: 'persisted',
      pausePolicy: { onTaskFailure: 'pause' },
      tasks: [
        task({ id: 'prepare' }, (ctx) => void ctx.set('prepared', true)),
        task({ id: 'flaky', dependencies: ['prepare'], retry: { attempts: 1 } }, (ctx) => {
          if (ctx.get('fail') && failing) throw new Error('disk full');
        }),
        task(
          { id: 'ship', dependencies: ['flaky'], pauseBefore: { approvers: ['alice'] } },
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
    const ids = await withStack(async (executor) => {
      const manual = await executor.executeAsync(wf, {});
      await manual.pause({ reason: 'maintenance', by: 'ops', requestId: 'p-1' });
      const gate = await executor.executeAsync(wf, {});
      const failure = await executor.executeAsync(wf, { fail: true });
      before.manual = await waitPaused(executor, manual.workflowId, 'manual');
      before.gate = await waitPaused(executor, gate.workflowId, 'gate');
      before.failure = await waitPaused(executor, failure.workflowId, 'failure');
      return { manual: manual.workflowId, gate: gate.workflowId, failure: failure.workflowId };
    });

    await server.stop();
    server = await start();

    await withStack(async (executor) => {
      for (const [kind, id] of Object.entries(ids)) {
        const after = await executor.getStatus(id);
        assert.equal(after.state, 'paused', kind);
        assert.deepEqual(after.pause, before[kind]!.pause, `${kind}: the pause and its metadata survived`);
        assert.deepEqual(after.audit, before[kind]!.audit, `${kind}: the audit trail survived`);
      }
      const paused = await executor.listWorkflows({ paused: true, workflow: 'persisted' });
      assert.deepEqual(paused.map((r) => r.workflowId).sort(), Object.values(ids).sort());

      // The manual pause is remembered by request id: the same request is a duplicate.
      assert.equal(
        (await executor.pauseWorkflow(ids.manual, { requestId: 'p-1', by: 'ops' })).duplicate,
        true,
      );
      await executor.resumeWorkflow(ids.manual, { by: 'ops' });
      failing = false;
      await executor.resumeWorkflow(ids.failure, { by: 'ops' });
      for (const id of Object.values(ids)) {
        await executor.waitUntil(id, (s) => s.gates.some((g) => g.taskId === 'ship'), { timeout: 30_000 });
        await executor.approve(id, 'ship', { by: 'alice' });
        assert.deepEqual(await executor.result(id), {
          prepared: true,
          shipped: true,
          ...(id === ids.failure ? { fail: true } : {}),
        });
      }
    });
  });
});
