import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { temporal } from '@temporalio/proto';
import { defineWorkflow, resource, task, type ExecutionHandle, type RunStatus } from '../../src';
import { eventTimeMs, eventually, testClient, withWorker } from '../helpers';

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

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;
const durationMs = (d?: { seconds?: unknown; nanos?: number | null } | null) =>
  Number(d?.seconds ?? 0) * 1000 + Math.round((d?.nanos ?? 0) / 1e6);

/**
 * What in a run's history can still write to it with no request from outside: the workflow task not yet
 * completed, the timers not yet fired or cancelled (each with the workflow time it is due at), the
 * activities not yet closed.
 */
function openWork(events: HistoryEvent[]) {
  let taskTime = NaN;
  let lastTask: number | undefined;
  const closedTasks = new Set<number>();
  const timers = new Map<string, number>();
  const activities = new Set<number>();
  for (const e of events) {
    const id = Number(e.eventId);
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED) lastTask = id;
    if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) taskTime = eventTimeMs(e);
    for (const closed of [
      e.workflowTaskCompletedEventAttributes,
      e.workflowTaskFailedEventAttributes,
      e.workflowTaskTimedOutEventAttributes,
    ])
      if (closed) closedTasks.add(Number(closed.scheduledEventId));
    const started = e.timerStartedEventAttributes;
    if (started) timers.set(started.timerId!, taskTime + durationMs(started.startToFireTimeout));
    const timerEnd = e.timerFiredEventAttributes ?? e.timerCanceledEventAttributes;
    if (timerEnd) timers.delete(timerEnd.timerId!);
    if (e.activityTaskScheduledEventAttributes) activities.add(id);
    for (const closed of [
      e.activityTaskCompletedEventAttributes,
      e.activityTaskFailedEventAttributes,
      e.activityTaskTimedOutEventAttributes,
      e.activityTaskCanceledEventAttributes,
    ])
      if (closed) activities.delete(Number(closed.scheduledEventId));
  }
  return {
    workflowTask: lastTask !== undefined && !closedTasks.has(lastTask),
    timers: [...timers.values()],
    activities: activities.size,
  };
}

describe('what a paused run costs the server', function () {
  this.timeout(120_000);

  it('a paused run of any kind leaves nothing that writes to its history until a request comes; maxPause leaves its one timer', async () => {
    // Temporal writes to a run's history only for a request from outside, or for what the run left open:
    // a workflow task, a timer, an activity, a run timeout. With none of them, an hour of pause (or a
    // month) writes nothing and costs the server nothing but the stored run.
    const log: string[] = [];
    const pool = resource<{ pool: string }>({
      id: 'pool',
      releaseOnPause: true,
      setup: () => ({ pool: 'p1' }),
      teardown: () => void log.push('teardown'),
    });
    const gated = defineWorkflow({
      name: 'idle_gate',
      tasks: [
        task({ id: 'a' }, () => undefined),
        task({ id: 'g', dependencies: ['a'], pauseBefore: { reason: 'sign-off' } }, () => undefined),
      ],
    });
    const failing = defineWorkflow({
      name: 'idle_failure',
      pausePolicy: { onTaskFailure: 'pause' },
      tasks: [
        task({ id: 'flaky', retry: { attempts: 2, delay: 10 } }, () => {
          throw new Error('down');
        }),
      ],
    });
    const byTask = defineWorkflow({
      name: 'idle_task',
      tasks: [
        task({ id: 'load', uses: [pool] }, async (ctx) => {
          await ctx.pauseWorkflow('overload');
        }),
        task({ id: 'after', dependencies: ['load'] }, () => undefined),
      ],
    });
    const cut = defineWorkflow({
      name: 'idle_immediate',
      tasks: [
        task({ id: 'long' }, async (ctx) => {
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          throw new Error('aborted');
        }),
      ],
    });
    const bounded = defineWorkflow({
      name: 'idle_bounded',
      pausePolicy: { maxPause: '1h' },
      tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
    });
    await withWorker([gated, failing, byTask, cut, bounded], async ({ executor, client }) => {
      const settled = async (h: ExecutionHandle, ready: (st: RunStatus) => boolean) => {
        await eventually(async () => ready(await h.status()), 20_000, `${h.workflowId} to pause`);
        // The workflow task that paused it completes (and with it any upsert it wrote).
        return eventually(
          async () => {
            const events = (await client.workflow.getHandle(h.workflowId).fetchHistory()).events ?? [];
            const open = openWork(events);
            return !open.workflowTask && open.activities === 0 ? { events, open } : undefined;
          },
          20_000,
          `${h.workflowId}'s last workflow task and activities to close`,
        );
      };
      const gate = await executor.executeAsync(gated, {});
      const atGate = await settled(gate, (st) => st.gates.length === 1);
      const manual = await executor.executeAsync(gated, {});
      await settled(manual, (st) => st.gates.length === 1);
      await manual.pause({ reason: 'incident' });
      const onManual = await settled(manual, (st) => st.pause?.kind === 'manual');
      const failure = await executor.executeAsync(failing, {});
      const onFailure = await settled(failure, (st) => st.pause?.kind === 'failure');
      const task_ = await executor.executeAsync(byTask, {});
      const onTask = await settled(
        task_,
        (st) => st.pause?.kind === 'task' && st.resources.pool?.state === 'released',
      );
      const immediate = await executor.executeAsync(cut, {});
      await eventually(async () => (await immediate.status()).tasks.long?.state === 'running');
      await immediate.pause({ mode: 'immediate', reason: 'incident' });
      const onImmediate = await settled(
        immediate,
        (st) => st.state === 'paused' && st.tasks.long?.interrupted === 1,
      );
      for (const [what, s] of Object.entries({ atGate, onManual, onFailure, onTask, onImmediate }))
        assert.deepEqual(s.open.timers, [], `${what}: no timer left open`);
      assert.deepEqual(log, ['teardown'], 'the released resource was torn down before the run went quiet');

      // A bounded pause keeps one timer, for the earliest expiry: here the gate's (maxPause bounds gates
      // too), which opened before the manual pause; the manual pause's comes after it.
      const expiring = await executor.executeAsync(bounded, {});
      await settled(expiring, (st) => st.gates.length === 1);
      await expiring.pause({ reason: 'window' });
      const onBounded = await settled(expiring, (st) => st.pause?.kind === 'manual');
      const st = await expiring.status();
      assert.equal(st.gates.length, 1);
      assert.deepEqual(onBounded.open.timers, [Date.parse(st.gates[0]!.openedAt) + 3_600_000]);
      assert.ok(Date.parse(st.gates[0]!.openedAt) < Date.parse(st.pause!.at));
      assert.equal(st.pause!.expiresAt, new Date(Date.parse(st.pause!.at) + 3_600_000).toISOString());

      for (const h of [gate, manual, failure, task_, immediate, expiring]) {
        const d = await client.workflow.getHandle(h.workflowId).describe();
        assert.equal(d.raw.pendingActivities?.length ?? 0, 0, `${h.workflowId}: no pending activity`);
        assert.equal(d.raw.pendingChildren?.length ?? 0, 0, `${h.workflowId}: no child workflow`);
        assert.equal(durationMs(d.raw.executionConfig?.workflowRunTimeout), 0, 'no run timeout');
        assert.equal(durationMs(d.raw.executionConfig?.workflowExecutionTimeout), 0, 'no execution timeout');
        // A status query writes nothing either.
        const before = d.historyLength;
        await h.status();
        assert.equal((await client.workflow.getHandle(h.workflowId).describe()).historyLength, before);
        await h.cancel();
      }
    });
  });
});
