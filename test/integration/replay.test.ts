import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { defineWorkflow, task, type ExecutionHandle, type RunState } from '../../src';
import { WORKFLOW_TYPE } from '../../src/executor';
import type { CarriedStateV1 } from '../../workflows/run';
import { PATCH_RELEASE_0_10 } from '../../workflows/dag-workflow';
import { eventually, replayHistory, signalCli, testClient, withWorker } from '../helpers';

type History = temporal.api.history.v1.IHistory;

// Recorded histories are replayed with the current workflow code on every run, so a change that breaks
// determinism for runs already in flight fails here. `v0.1.0/` to `v0.9.0/` hold histories recorded under
// earlier releases (never re-recorded: they stand for runs begun before an upgrade); `v0.10.0/` holds this
// release's, refreshed by `RECORD_HISTORIES=1 npm test`.
const FIXTURES = path.resolve(__dirname, '../../../test/fixtures/histories');
const PREVIOUS = [
  'v0.1.0',
  'v0.2.0',
  'v0.3.0',
  'v0.4.0',
  'v0.5.0',
  'v0.6.0',
  'v0.7.0',
  'v0.8.0',
  'v0.9.0',
].map((v) => [v, path.join(FIXTURES, v)] as const);
const CURRENT = path.join(FIXTURES, 'v0.10.0');

async function history(workflowId: string): Promise<History> {
  return (await testClient()).workflow.getHandle(workflowId).fetchHistory();
}

const waitState = (h: ExecutionHandle, state: RunState) => h.waitUntil(state, { timeout: 20_000 });

describe('replay of recorded histories', () => {
  for (const [release, dir] of [
    ...PREVIOUS.map(([v, dir]) => [`release ${v.slice(1)}`, dir] as const),
    ['this release', CURRENT] as const,
  ]) {
    it(`replays every history recorded under ${release} with the current workflow code`, async () => {
      const files = readdirSync(dir).filter((f) => f.endsWith('.binpb'));
      assert.ok(files.length >= 6, `expected recorded histories in ${dir}, found ${files.length}`);
      for (const f of files) {
        await replayHistory(temporal.api.history.v1.History.decode(readFileSync(path.join(dir, f))), f);
      }
    });
  }

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
    // Local tasks: a chain whose middle task pauses the run (the request comes back with its outcome).
    const local = defineWorkflow({
      name: 'replay_local',
      tasks: [
        task({ id: 'check', execution: 'local' }, (ctx) => void ctx.set('checked', true)),
        task({ id: 'look', dependencies: ['check'], execution: 'local' }, async (ctx) => {
          if (ctx.attempt === 1) await ctx.pauseWorkflow('a look first');
          ctx.set('looked', ctx.attempt);
        }),
        task({ id: 'report', dependencies: ['look'] }, (ctx) => void ctx.set('reported', true)),
      ],
    });
    // Local tasks whose results come in the reverse of the order they began, each followed by an activity
    // task: a replay delivers the recorded results together.
    const reversed = Array.from({ length: 6 }, (_, i) =>
      task({ id: `r${i}`, execution: 'local' }, async (ctx) => {
        await new Promise((r) => setTimeout(r, (6 - i) * 15));
        ctx.set(`r${i}`, i);
      }),
    );
    const localWaves = defineWorkflow({
      name: 'replay_local_waves',
      tasks: [
        ...reversed,
        ...reversed.map((r, i) =>
          task(
            { id: `after${i}`, dependencies: [r] },
            (ctx) => void ctx.set(`after${i}`, ctx.get<number>(`r${i}`)!),
          ),
        ),
      ],
    });
    const recorded: Record<string, string> = {};
    await withWorker([wf, local, localWaves], async ({ executor }) => {
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
      // a breakpoint set during a pause and stepped past; a joined pause whose resumeAt is not applied
      h = await executor.executeAsync(wf, { selfPause: true });
      await waitState(h, 'paused');
      await executor.setBreakpoints(h.workflowId, ['work'], { by: 'dev' });
      await h.pause({ by: 'ops', resumeAt: new Date(Date.now() + 600_000) });
      await h.resume({ by: 'ops' });
      await eventually(async () => (await h.status()).gates.some((g) => g.taskId === 'work'));
      await h.approve('work', { by: 'dev' });
      await gate(h);
      await h.result();
      recorded.breakpoint = h.workflowId;
      // a scheduled resume postponed by a joined pause
      h = await executor.executeAsync(wf, { slow: true });
      await eventually(async () => (await h.status()).tasks.work?.state === 'running');
      await h.pause({ by: 'ops', resumeAt: new Date(Date.now() + 1000) });
      await h.pause({ by: 'sre', resumeAt: new Date(Date.now() + 2500) });
      await gate(h);
      await h.result();
      recorded.postponed = h.workflowId;
      // signals with unknown names and a refused signal (audited, published in CloacinaLastRejection)
      h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).gates.length === 1);
      await signalCli(h.workflowId, 'cloacina.paus', '{"by":"ops"}');
      await signalCli(h.workflowId, 'cloacina.approve', '{"taskId":"ship","by":"mallory"}');
      await eventually(
        async () => (await h.status()).audit.filter((a) => a.action === 'rejected').length === 2,
      );
      await gate(h);
      await h.result();
      recorded.rejections = h.workflowId;
      // local tasks, paused from one of them, resumed
      h = await executor.executeAsync(local, {});
      await waitState(h, 'paused');
      await h.resume({ by: 'ops' });
      assert.deepEqual(await h.result(), { checked: true, looked: 1, reported: true });
      recorded.local = h.workflowId;
      // local results in another order than their attempts began
      h = await executor.executeAsync(localWaves, {});
      await h.result();
      assert.deepEqual(
        Object.fromEntries(Object.entries((await h.status()).tasks).map(([id, t]) => [id, t.state])),
        Object.fromEntries([...localWaves.tasks.keys()].map((id) => [id, 'completed'])),
      );
      recorded.localWaves = h.workflowId;
    });
    for (const [name, id] of Object.entries(recorded)) {
      const h = await history(id);
      await replayHistory(h, name);
      if (process.env.RECORD_HISTORIES === '1') {
        writeFileSync(
          path.join(CURRENT, `${name}.binpb`),
          temporal.api.history.v1.History.encode(h).finish(),
        );
      }
    }
    assert.equal(Object.keys(recorded).length, 11);
  });

  it('a run begun now writes one patch marker and one TemporalChangeVersion upsert, and replays', async () => {
    const wf = defineWorkflow({
      name: 'replay_one_marker',
      tasks: [
        task({ id: 'a' }, (ctx) => void ctx.set('a', 1)),
        task({ id: 'b', dependencies: ['a'] }, () => {}),
      ],
    });
    const id = await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      assert.deepEqual(await h.result(), { a: 1 });
      return h.workflowId;
    });
    const h = await history(id);
    const patches = (h.events ?? [])
      .map((e) => e.markerRecordedEventAttributes)
      .filter((m) => m?.markerName === 'core_patch')
      .map(
        (m) =>
          (
            JSON.parse(Buffer.from(m!.details!['patch-data']!.payloads![0]!.data!).toString()) as {
              id: string;
            }
          ).id,
      );
    assert.deepEqual(patches, [PATCH_RELEASE_0_10]);
    const versionUpserts = (h.events ?? []).filter(
      (e) =>
        e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[
          'TemporalChangeVersion'
        ],
    );
    assert.equal(versionUpserts.length, 1);
    await replayHistory(h, 'replay_one_marker');
  });

  it('a run paused under 0.1.0 goes on under this release after its continue-as-new', async function () {
    this.timeout(60_000);
    let workCalls = 0;
    const wf = defineWorkflow({
      name: 'upgraded',
      tasks: [
        task({ id: 'prepare' }, (ctx) => void ctx.set('prepared', true)),
        task({ id: 'work', dependencies: ['prepare'], retry: { attempts: 3, delay: 10 } }, (ctx) => {
          workCalls++;
          ctx.set('worked', ctx.attempt);
        }),
        task(
          { id: 'ship', dependencies: ['work'], pauseBefore: { approvers: ['alice'] } },
          (ctx) => void ctx.set('shipped', true),
        ),
      ],
    });
    const at = (s: number) => new Date(Date.now() - 60_000 + s * 1000).toISOString();
    // What release 0.1.0's continue-as-new carried for a run held by a manual pause while `work` waited
    // out a retry back-off (its audit trail, request ids and active time as 0.1.0 kept them).
    const carried: CarriedStateV1 = {
      tasks: {
        prepare: { state: 'completed', attempts: 1, interrupted: 0, startedAt: at(0), finishedAt: at(1) },
        work: {
          state: 'retrying',
          attempts: 1,
          interrupted: 0,
          startedAt: at(1),
          error: { type: 'ExecutionFailed', message: 'flaked' },
        },
        ship: { state: 'pending', attempts: 0, interrupted: 0 },
      },
      outputs: { prepare: { release: '1.0', prepared: true } },
      completionOrder: ['prepare'],
      pause: {
        hold: {
          pauseId: 1,
          kind: 'manual',
          by: 'ops',
          at: at(2),
          reason: 'upgrade window',
          mode: 'graceful',
          requestId: 'old-1',
          drainedAt: at(2),
        },
        phase: 'paused',
        gates: {},
        inFlight: [],
        failedTasks: [],
        audit: [
          {
            seq: 1,
            at: at(2),
            action: 'pause',
            kind: 'manual',
            pauseId: 1,
            by: 'ops',
            reason: 'upgrade window',
            mode: 'graceful',
            requestId: 'old-1',
          },
          { seq: 2, at: at(2), action: 'drained', kind: 'manual', pauseId: 1 },
        ],
        requests: { 'pause:old-1': true },
        nextPauseId: 2,
      },
      resources: {},
      retryRemainingMs: { work: 1000 },
      passedGates: [],
      activeMs: 2000,
      startedAt: at(0),
      continuedAsNew: 3,
    };
    await withWorker([wf], async ({ client, executor, taskQueue }) => {
      const workflowId = `upgraded-${Date.now()}`;
      await client.workflow.start(WORKFLOW_TYPE, {
        taskQueue,
        workflowId,
        args: [{ spec: wf.spec, context: { release: '1.0' }, carried }],
      });
      const h = executor.getHandle(workflowId);
      let st = await h.waitUntil('paused', { timeout: 20_000 });
      assert.equal(st.pause?.by, 'ops');
      assert.equal(st.pause?.reason, 'upgrade window');
      assert.equal(st.auditCount, 2);
      assert.equal(st.continuedAsNew, 3);
      assert.equal(st.tasks.work?.state, 'retrying');
      // The request ids 0.1.0 served are still known.
      assert.equal((await h.pause({ by: 'ops', requestId: 'old-1' })).duplicate, true);
      assert.equal(workCalls, 0, 'nothing ran while paused');
      await h.resume({ by: 'ops', reason: 'upgraded' });
      st = await h.waitUntil((s) => s.gates.some((g) => g.taskId === 'ship'), { timeout: 20_000 });
      await h.approve('ship', { by: 'alice' });
      assert.deepEqual(await h.result(), { release: '1.0', prepared: true, worked: 2, shipped: true });
      const audit = (await h.audit()).entries;
      assert.deepEqual(
        audit.map((a) => `${a.seq}:${a.action}`).slice(0, 3),
        ['3:resume', '4:gate', '5:approve'],
        'the trail goes on from 0.1.0 numbering',
      );
      assert.equal(workCalls, 1);
    });
  });
});
