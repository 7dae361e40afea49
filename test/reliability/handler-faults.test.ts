import assert from 'node:assert/strict';
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { defineWorkflow, RequestRejectedError, task, WorkflowTaskFailingError } from '../../src';
import { chainHistory, withWorker } from '../helpers';
import { BROKEN_BUILD, FAULT } from './fault-interceptor';

// An exception the handlers never foresaw, raised inside them, refuses the request (update) or is
// audited (signal); it never fails a workflow task, and the run goes on.
describe('an unexpected exception inside a request handler', function () {
  this.timeout(120_000);
  let bundle: WorkflowBundleWithSourceMap;

  before(async () => {
    bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('../../workflows'),
      workflowInterceptorModules: [require.resolve('./fault-interceptor')],
      logger: { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: (m) => console.error(m) },
    });
  });

  it('refuses the update with InternalError, audits the signal, and fails no workflow task', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const wf = defineWorkflow({
      name: 'handler-fault',
      tasks: [
        task({ id: 'wait' }, async (ctx) => {
          await released;
          ctx.set('waited', true);
        }),
        task({ id: 'after', dependencies: ['wait'] }, (ctx) => void ctx.set('after', true)),
      ],
    });
    await withWorker(
      [wf],
      async ({ executor, client }) => {
        const { workflowId } = await executor.executeAsync(wf, {});
        await executor.waitUntil(workflowId, (s) => s.tasks.wait!.state === 'running', { timeout: 30_000 });

        const err = await executor.pauseWorkflow(workflowId, { reason: FAULT, by: 'ops' }).then(
          () => assert.fail('the faulty pause was accepted'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof RequestRejectedError, String(err));
        assert.equal(err.code, 'InternalError');
        assert.match(err.message, /injected fault: the clock is broken/);

        await client.workflow.getHandle(workflowId).signal('cloacina.pause', { reason: FAULT, by: 'ops' });
        const audited = await executor.waitUntil(
          workflowId,
          (s) => s.audit.some((e) => e.action === 'rejected' && e.request === 'pause'),
          { timeout: 30_000 },
        );
        const line = audited.audit.find((e) => e.action === 'rejected')!;
        assert.equal(line.by, 'ops');
        assert.match(line.message ?? '', /injected fault/);
        assert.equal(audited.state, 'running', 'neither faulty request paused the run');

        // The run still answers and obeys.
        const paused = await executor.pauseWorkflow(workflowId, { reason: 'real', by: 'ops' });
        assert.equal(paused.state, 'pausing');
        release();
        await executor.waitUntil(workflowId, (s) => s.state === 'paused', { timeout: 30_000 });
        await executor.resumeWorkflow(workflowId, { by: 'ops' });
        assert.deepEqual(await executor.result(workflowId), { waited: true, after: true });

        const failedTasks = (await chainHistory(workflowId))
          .flatMap((r) => r.events)
          .filter((e) => e.workflowTaskFailedEventAttributes);
        assert.deepEqual(
          failedTasks.map((e) => e.workflowTaskFailedEventAttributes!.failure?.message),
          [],
          'no workflow task failed',
        );
      },
      { workflowBundle: bundle },
    );
  });
  it('a run whose workflow tasks fail: its status and its requests say so, with the failure', async () => {
    const wf = defineWorkflow({
      name: 'broken-build',
      tasks: [task({ id: 'a' }, (ctx) => void ctx.set('a', 1))],
    });
    await withWorker(
      [wf],
      async ({ executor, client }) => {
        const { workflowId } = await executor.executeAsync(wf, { [BROKEN_BUILD]: true });
        const handle = client.workflow.getHandle(workflowId);
        // The server answers queries of such a run only once its workflow task has failed three times.
        for (let attempt = 0; attempt < 3;) {
          attempt = (await handle.describe()).raw.pendingWorkflowTask?.attempt ?? 0;
          if (attempt < 3) await new Promise((r) => setTimeout(r, 500));
        }
        const expected = (err: unknown) => {
          assert.ok(err instanceof WorkflowTaskFailingError, String(err));
          assert.equal(err.nondeterminism, false);
          assert.equal(err.resetEventId, undefined);
          assert.match(err.failure, /broken build: the plan module is missing/);
          assert.match(
            err.message,
            /workflow tasks are failing \(broken build.*fix the cause in its workers/,
          );
          return true;
        };
        await assert.rejects(executor.getStatus(workflowId), expected);
        await assert.rejects(executor.pauseWorkflow(workflowId, { by: 'ops' }), expected);
        await handle.terminate('test done');
      },
      // The run never gets past its first workflow task: its history ends in failed workflow tasks.
      { workflowBundle: bundle, replay: false },
    );
  });
});
