import assert from 'node:assert/strict';
import { createWorker, defineWorkflow, task, UnifiedExecutor } from '../../src';
import { freshTaskQueue, testServer } from '../helpers';

// The README's quick start, verbatim but for the server address and task queue.
describe('README quick start', () => {
  it('runs as written', async () => {
    const address = testServer().address;
    const taskQueue = freshTaskQueue('releases');
    const build = task({ id: 'build' }, async (ctx) => ctx.set('artifact', 'app-1.4.2.tar.gz'));
    const deploy = task(
      {
        id: 'deploy',
        dependencies: [build],
        pauseBefore: { approvers: ['alice', 'bob'], requiredApprovals: 2 },
      },
      async (ctx) => ctx.set('deployed', ctx.get('artifact') ?? null),
    );
    const release = defineWorkflow({ name: 'release', tasks: [build, deploy] });

    const worker = await createWorker({ workflows: [release], taskQueue, address });
    const running = worker.run();
    const executor = await UnifiedExecutor.connect({ taskQueue, address });
    try {
      const run = await executor.executeAsync(release, { version: '1.4.2' });
      await executor.pauseWorkflow(run.workflowId, { reason: 'DB maintenance', by: 'ops' });
      await executor.resumeWorkflow(run.workflowId, { by: 'ops' });
      await run.waitUntil((s) => s.gates.some((g) => g.taskId === 'deploy')); // the gate holds `deploy`
      await run.approve('deploy', { by: 'alice' });
      await run.approve('deploy', { by: 'bob' });
      assert.deepEqual(await run.result(), {
        version: '1.4.2',
        artifact: 'app-1.4.2.tar.gz',
        deployed: 'app-1.4.2.tar.gz',
      });
    } finally {
      await executor.close();
      worker.shutdown();
      await running;
    }
  });
});
