import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { defineWorkflow, task } from '../../src';
import { testClient, withWorker } from '../helpers';

// What a paused run costs the worker that caches it. The SDK evaluates a workflow bundle's modules once per
// run; the bundle preloads zod and the workflow modules once per thread instead.
// Without that a paused run held about 1 MB of heap; the bound below is a quarter of that.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const MAX_HEAP_PER_PAUSED_RUN = 256 * 1024;

describe('memory of paused runs', function () {
  this.timeout(120_000);

  it(`a paused run that answered a status query holds under ${MAX_HEAP_PER_PAUSED_RUN / 1024} KB of worker heap`, async () => {
    const wf = defineWorkflow({
      name: 'memory-gate',
      tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
    });
    const runs = 40;
    // debugMode runs the workflows on this thread, so this process's heap is theirs.
    await withWorker(
      [wf],
      async ({ executor }) => {
        const one = async () => {
          const handle = await executor.executeAsync(wf, {});
          await handle.pause({ reason: 'memory' });
          const status = await handle.status();
          assert.equal(status.state, 'paused');
          return handle;
        };
        // The first run compiles the workflow code and builds what the thread shares: not counted.
        const first = await one();
        const before = heapUsed();
        const handles = [];
        for (let i = 0; i < runs; i++) handles.push(await one());
        const perRun = (heapUsed() - before) / runs;
        assert.ok(
          perRun < MAX_HEAP_PER_PAUSED_RUN,
          `${(perRun / 1024).toFixed(1)} KB of heap per paused run (at most ${MAX_HEAP_PER_PAUSED_RUN / 1024} KB)`,
        );
        for (const h of [first, ...handles]) await h.cancel();
      },
      { workerOptions: { debugMode: true } },
    );
  });

  it('a run held at its gate and paused parks no coroutine: the main loop is its only wait', async () => {
    // The SDK keeps a captured stack for every pending promise of a cached run. Runs begun with release
    // 0.7 wait at a gate in the ready scan and keep the reducer's timer in the main loop, so nothing else
    // is pending; before, a coroutine waited at the gate and another for a due time, each on a condition.
    const wf = defineWorkflow({
      name: 'memory-quiet',
      tasks: [
        task({ id: 'a' }, () => undefined),
        task({ id: 'g', dependencies: ['a'], pauseBefore: { reason: 'sign-off' } }, () => undefined),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const handle = await executor.executeAsync(wf, {});
      await executor.waitUntil(handle.workflowId, (st) => st.gates.some((g) => g.taskId === 'g'), {
        timeout: 20_000,
      });
      await handle.pause({ reason: 'memory' });
      assert.equal((await handle.status()).state, 'paused');
      const client = await testClient();
      const stacks = await client.workflow.getHandle(handle.workflowId).query<string>('__stack_trace');
      assert.match(stacks, /cloacinaDag/, stacks);
      assert.doesNotMatch(stacks, /#gate|#drive|armTimers|condition/, stacks);
      // Approved, the task leaves the gate from the scan, once the run is resumed.
      await handle.resume({ by: 'ops' });
      await handle.approve('g', { by: 'ops' });
      assert.deepEqual(await handle.result(), {});
    });
  });
});
