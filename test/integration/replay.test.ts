import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { defineWorkflow, task, type ExecutionHandle, type RunState } from '../../src';
import { bundleWorkflows } from '../../src/worker';
import { eventually, signalCli, testClient, withWorker } from '../helpers';

type History = temporal.api.history.v1.IHistory;

// Recorded histories are replayed with the current workflow code on every run, so a change that breaks
// determinism for runs already in flight fails here. `RECORD_HISTORIES=1 npm test` refreshes them.
const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/histories');

async function history(workflowId: string): Promise<History> {
  return (await testClient()).workflow.getHandle(workflowId).fetchHistory();
}

async function replay(name: string, h: History): Promise<void> {
  await Worker.runReplayHistory({ workflowBundle: await bundleWorkflows() }, h, name);
}

const waitState = (h: ExecutionHandle, state: RunState) => h.waitUntil(state, { timeout: 20_000 });

describe('replay of recorded histories', () => {
  it('replays every recorded history with the current workflow code', async () => {
    const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.binpb'));
    assert.ok(files.length >= 6, `expected recorded histories in ${FIXTURES}, found ${files.length}`);
    for (const f of files) {
      await replay(f, temporal.api.history.v1.History.decode(readFileSync(path.join(FIXTURES, f))));
    }
  });

  it('replays fresh histories of every pause scenario', async function () {
    this.timeout(120_000);
    const wf = defineWorkflow({
      name: 'replay_scenarios',
      pausePolicy: { onTaskFailure: 'pause', drainTimeout: 2000 },
      tasks: [
        task({ id: 'prepare' }, async (ctx) => {
          if (ctx.get('selfPause')) await ctx.pauseWorkflow('programmatic');
          ctx.set('prepared', true);
        }),
        task(
          { id: 'work', dependencies: ['prepare'], retry: { attempts: 2, delay: 10, jitter: false } },
          async (ctx) => {
            if (ctx.get('slow') && ctx.attempt === 1) {
              await new Promise<void>((resolve) => {
                const t = setTimeout(resolve, 1500);
                ctx.signal.addEventListener('abort', () => {
                  clearTimeout(t);
                  resolve();
                });
              });
            }
            if (ctx.get('fail')) throw new Error('scripted failure');
            ctx.set('worked', true);
          },
        ),
        task(
          {
            id: 'ship',
            dependencies: ['work'],
            pauseBefore: { approvers: ['alice', 'bob'], requiredApprovals: 2 },
          },
          (ctx) => {
            ctx.set('shipped', true);
          },
        ),
      ],
    });
    const recorded: Record<string, string> = {};
    await withWorker([wf], async ({ executor }) => {
      const gate = async (h: ExecutionHandle) => {
        await eventually(async () => (await h.status()).gates.length === 1);
        await h.approve('ship', { by: 'alice' });
        await h.approve('ship', { by: 'bob' });
      };
      // graceful pause with a task in flight, then resume and two approvals
      let h = await executor.executeAsync(wf, { slow: true });
      await eventually(async () => (await h.status()).tasks.work?.state === 'running');
      await h.pause({ reason: 'graceful', by: 'ops' });
      await waitState(h, 'paused');
      await h.resume({ by: 'ops' });
      await gate(h);
      await h.result();
      recorded.graceful = h.workflowId;
      // immediate pause
      h = await executor.executeAsync(wf, { slow: true });
      await eventually(async () => (await h.status()).tasks.work?.state === 'running');
      await h.pause({ mode: 'immediate', by: 'ops' });
      await waitState(h, 'paused');
      await h.resume({ by: 'ops' });
      await gate(h);
      await h.result();
      recorded.immediate = h.workflowId;
      // programmatic pause, bad signal, gate rejected
      h = await executor.executeAsync(wf, { selfPause: true });
      await waitState(h, 'paused');
      await signalCli(h.workflowId, 'cloacina.pause', '{"mode":"bogus"}');
      await h.resume({ by: 'ops' });
      await eventually(async () => (await h.status()).gates.length === 1);
      await h.reject('ship', { by: 'alice', comment: 'no' });
      await h.result().catch(() => undefined);
      recorded.programmatic = h.workflowId;
      // failure pause, then skip
      h = await executor.executeAsync(wf, { fail: true });
      await waitState(h, 'paused');
      await h.resume({ by: 'ops', skip: ['work'] });
      await gate(h);
      await h.result();
      recorded.failure = h.workflowId;
      // scheduled resume
      h = await executor.executeAsync(wf, {});
      await h.pause({ by: 'ops', resumeAt: new Date(Date.now() + 1500) });
      await gate(h);
      await h.result();
      recorded.scheduled = h.workflowId;
      // cancellation while paused
      h = await executor.executeAsync(wf, { slow: true });
      await h.pause({ by: 'ops' });
      await waitState(h, 'paused');
      await h.cancel();
      await h.result().catch(() => undefined);
      recorded.cancelled = h.workflowId;
    });
    for (const [name, id] of Object.entries(recorded)) {
      const h = await history(id);
      await replay(name, h);
      if (process.env.RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(FIXTURES, `${name}.binpb`),
          temporal.api.history.v1.History.encode(h).finish(),
        );
      }
    }
    assert.equal(Object.keys(recorded).length, 6);
  });
});
