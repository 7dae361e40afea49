// Coexistence with Temporal's own pause (PauseWorkflowExecution, as the Web UI's "Pause Workflow" sends
// it), the `freeze` pause mode that puts it on top of this library's graceful pause, and calls that need a
// worker failing within the caller's time when none polls the run's task queue.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { temporal } from '@temporalio/proto';
import {
  defineWorkflow,
  NoWorkerError,
  task,
  UnifiedExecutor,
  WorkflowFrozenError,
  type ExecutionHandle,
} from '../../src';
import { chainHistory, eventually, latch, sleep, taskStarts, testClient, withWorker } from '../helpers';

const EventType = temporal.api.enums.v1.EventType;

/** a → b (held until the test lets it go) → c; each sets its own key. */
function chain(name: string, hold: Promise<void>) {
  const a = task({ id: 'a' }, (ctx) => void ctx.set('a', 1));
  const b = task({ id: 'b', dependencies: [a] }, async (ctx) => {
    await hold;
    ctx.set('b', 2);
  });
  const c = task({ id: 'c', dependencies: [b] }, (ctx) => void ctx.set('c', 3));
  return defineWorkflow({ name, tasks: [a, b, c] });
}

async function whenRunning(h: ExecutionHandle, taskId: string) {
  await h.waitUntil((s) => s.tasks[taskId]?.state === 'running', { timeout: 20_000 });
}

/** The event types of the latest run's history, oldest first. */
async function eventTypes(workflowId: string): Promise<number[]> {
  const runs = await chainHistory(workflowId);
  return runs[runs.length - 1]!.events.map((e) => Number(e.eventType));
}

/** The events strictly between the first event of type `from` and the first of type `to` after it. */
function between(types: number[], from: number, to: number): number[] {
  const i = types.indexOf(from);
  assert.ok(i >= 0, `no event ${EventType[from]} in ${types.map((t) => EventType[t]).join(', ')}`);
  const j = types.indexOf(to, i + 1);
  return types.slice(i + 1, j < 0 ? undefined : j);
}

const SCHEDULING = [
  EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED,
  EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED,
  EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
];

describe('server-native pause (PauseWorkflowExecution) and mode freeze', () => {
  it('a run the server paused reads as frozen with who and why, is listed as paused, and resumeWorkflow unpauses it', async () => {
    const hold = latch();
    const wf = chain('native_pause', hold.opened);
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      try {
        await whenRunning(h, 'b');
        // What the Web UI's "Pause Workflow" button sends.
        await client.workflowService.pauseWorkflowExecution({
          namespace: client.options.namespace,
          workflowId: h.workflowId,
          identity: 'alice@web-ui',
          reason: 'incident 42',
          requestId: randomUUID(),
        });
        const t0 = Date.now();
        const st = await h.status();
        assert.ok(Date.now() - t0 < 5000, `getStatus took ${Date.now() - t0} ms`);
        assert.equal(st.state, 'frozen');
        assert.equal(st.frozen?.by, 'alice@web-ui');
        assert.equal(st.frozen?.reason, 'incident 42');
        assert.equal(st.frozen?.freeze, false);
        assert.ok(st.frozen?.at && Date.parse(st.frozen.at) > 0, `pause time ${st.frozen?.at}`);
        // This library's own last known state, read without a query.
        assert.equal(st.lastState, 'running');
        assert.equal(st.tasks.a?.state, 'completed');
        assert.equal(st.tasks.b?.state, 'running');
        assert.equal(st.tasks.c?.state, 'pending');
        assert.equal(st.pause, null);
        assert.deepEqual(await h.context(), { a: 1 });

        const byId = `WorkflowId = '${h.workflowId}'`;
        const listed = await eventually(
          async () => (await executor.listWorkflows({ paused: true, query: byId }))[0],
          10_000,
          'the natively paused run in the paused listing',
        );
        assert.equal(listed.frozen, true);
        assert.equal(listed.paused, true);
        assert.equal(listed.temporalStatus, 'PAUSED');
        assert.equal((await executor.listWorkflows({ state: 'frozen', query: byId })).length, 1);
        assert.equal((await executor.listWorkflows({ paused: false, query: byId })).length, 0);

        // Nothing of ours can be asked of it while the server holds it: a clear error, not a hang.
        await assert.rejects(h.pause({ reason: 'me too' }), (err: unknown) => {
          assert.ok(err instanceof WorkflowFrozenError, String(err));
          assert.match(
            err.message,
            /paused on the Temporal server \(native pause by alice@web-ui: incident 42\)/,
          );
          assert.match(err.message, /resumeWorkflow unpauses it/);
          return true;
        });

        hold.open();
        const r = await h.resume({ by: 'bob', reason: 'incident over' });
        assert.notEqual(r.state, 'frozen');
        assert.deepEqual(await h.result(), { a: 1, b: 2, c: 3 });
        const types = await eventTypes(h.workflowId);
        assert.ok(types.includes(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UNPAUSED), 'unpaused on the server');
        const held = between(
          types,
          EventType.EVENT_TYPE_WORKFLOW_EXECUTION_PAUSED,
          EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UNPAUSED,
        );
        assert.deepEqual(
          held.filter((t) => SCHEDULING.includes(t)).map((t) => EventType[t]),
          [],
          'nothing scheduled while the server held the run',
        );
      } finally {
        hold.open();
      }
    });
  });

  it("mode freeze waits for running tasks, then the server reports PAUSED and nothing runs, not even a timer's workflow task; resume undoes both", async () => {
    const hold = latch();
    const wf = chain('freeze_mode', hold.opened);
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      try {
        await whenRunning(h, 'b');
        // The pause expires after 3 s (resume): its timer fires while the server holds the run.
        const freezing = h.pause({
          mode: 'freeze',
          reason: 'db migration',
          expiresAfter: 3000,
          onExpiry: 'resume',
        });
        const pausing = await h.waitUntil('pausing', { timeout: 10_000 });
        assert.equal(pausing.pause?.mode, 'graceful');
        // b is still in flight: no server pause yet.
        const d0 = await client.workflow.getHandle(h.workflowId).describe();
        assert.equal(d0.status.name, 'RUNNING');
        hold.open();
        const r = await freezing;
        assert.equal(r.state, 'paused');
        assert.equal(r.frozen?.freeze, true);
        assert.equal(r.frozen?.by, 'test-operator');
        assert.equal(r.frozen?.reason, 'db migration');

        const d = await client.workflow.getHandle(h.workflowId).describe();
        assert.equal(d.status.name, 'PAUSED');
        const st = await h.status();
        assert.equal(st.state, 'frozen');
        assert.equal(st.lastState, 'paused');
        assert.equal(st.frozen?.freeze, true);
        assert.equal(st.tasks.b?.state, 'completed');
        assert.equal(st.pause?.reason, 'db migration');
        assert.equal(st.pause?.by, 'test-operator');
        const listed = await eventually(
          async () =>
            (await executor.listWorkflows({ paused: true, query: `WorkflowId = '${h.workflowId}'` }))[0],
          10_000,
          'the frozen run in the paused listing',
        );
        assert.equal(listed.temporalStatus, 'PAUSED');

        // Past the expiry: the timer fired, but no workflow task ran to act on it.
        await sleep(4500);
        const types = await eventTypes(h.workflowId);
        const held = between(types, EventType.EVENT_TYPE_WORKFLOW_EXECUTION_PAUSED, -1);
        assert.deepEqual(
          held.filter((t) => SCHEDULING.includes(t)).map((t) => EventType[t]),
          [],
          `nothing scheduled while frozen; events since the pause: ${held.map((t) => EventType[t]).join(', ')}`,
        );
        assert.ok(
          held.includes(EventType.EVENT_TYPE_TIMER_FIRED),
          `the expiry timer fired while frozen; events since the pause: ${held.map((t) => EventType[t]).join(', ')}`,
        );
        assert.deepEqual(
          (await taskStarts(h.workflowId)).map((s) => s.taskId),
          ['a', 'b'],
          'c never started while frozen',
        );
        assert.equal((await h.status()).state, 'frozen');

        // Pausing a frozen run again with freeze changes nothing.
        const again = await h.pause({ mode: 'freeze', reason: 'again' });
        assert.equal(again.duplicate, true);
        assert.equal(again.frozen?.reason, 'db migration');

        await h.resume({ by: 'ops', reason: 'migration done' });
        assert.deepEqual(await h.result(), { a: 1, b: 2, c: 3 });
        const after = await eventTypes(h.workflowId);
        assert.ok(after.includes(EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UNPAUSED), 'unpaused on the server');
        const audit = (await h.audit()).entries;
        const pause = audit.find((e) => e.action === 'pause' && e.reason === 'db migration');
        assert.ok(pause, JSON.stringify(audit));
        assert.ok(
          audit.some((e) => e.action === 'resume' && e.pauseId === pause.pauseId),
          'our pause ended by a resume line',
        );
      } finally {
        hold.open();
      }
    });
  });
});

describe('bulk operations over runs the server holds', () => {
  it('pauseAll leaves a natively paused run held (ok, frozen) and resumeAll unpauses it; both runs complete', async () => {
    const hold = latch();
    const wf = chain(`bulk_native_${randomUUID().slice(0, 8)}`, hold.opened);
    await withWorker([wf], async ({ executor, client }) => {
      const held = await executor.executeAsync(wf, {});
      const other = await executor.executeAsync(wf, {});
      try {
        await whenRunning(held, 'b');
        await whenRunning(other, 'b');
        await client.workflowService.pauseWorkflowExecution({
          namespace: client.options.namespace,
          workflowId: held.workflowId,
          identity: 'alice@web-ui',
          reason: 'look at it',
          requestId: randomUUID(),
        });
        // Visibility shows the server's pause.
        await eventually(
          async () => (await executor.listWorkflows({ state: 'frozen', workflow: wf.name })).length === 1,
          10_000,
          'the held run listed as frozen',
        );
        const paused = await executor.pauseAll({ workflow: wf.name }, { reason: 'window' });
        const byId = new Map(paused.outcomes.map((o) => [o.workflowId, o]));
        assert.equal(paused.total, 2, JSON.stringify(paused));
        assert.deepEqual(byId.get(held.workflowId), {
          workflowId: held.workflowId,
          ok: true,
          state: 'frozen',
          duplicate: false,
        });
        assert.equal(byId.get(other.workflowId)?.ok, true);
        assert.equal(byId.get(other.workflowId)?.state, 'pausing');

        hold.open();
        await other.waitUntil('paused', { timeout: 20_000 });
        const resumed = await executor.resumeAll({ workflow: wf.name }, { reason: 'window over' });
        assert.equal(resumed.total, 2, JSON.stringify(resumed));
        assert.equal(resumed.succeeded, 2, JSON.stringify(resumed));
        assert.deepEqual(await held.result(), { a: 1, b: 2, c: 3 });
        assert.deepEqual(await other.result(), { a: 1, b: 2, c: 3 });
      } finally {
        hold.open();
      }
    });
  });
});

describe('calls that need a worker, with none polling the task queue', () => {
  const wf = defineWorkflow({ name: 'no_worker', tasks: [task({ id: 'only' }, () => undefined)] });

  /** Runs `call`, expects NoWorkerError naming `taskQueue` within `bound` ms; returns the elapsed time. */
  async function failsFast(
    call: () => Promise<unknown>,
    taskQueue: string,
    bound: number,
    also?: RegExp,
  ): Promise<number> {
    const t0 = Date.now();
    await assert.rejects(call(), (err: unknown) => {
      assert.ok(err instanceof NoWorkerError, `expected NoWorkerError, got ${String(err)}`);
      assert.equal(err.taskQueue, taskQueue);
      assert.match(
        err.message,
        new RegExp(`no worker polls its task queue \`${taskQueue}\`\\. Start one there`),
      );
      if (also) assert.match(err.message, also);
      return true;
    });
    const ms = Date.now() - t0;
    assert.ok(ms < bound, `failed after ${ms} ms, expected within ${bound} ms`);
    return ms;
  }

  it('waitUntil, getStatus, getContext, pauseWorkflow and resumeWorkflow fail within the caller time naming the queue', async () => {
    const taskQueue = `no-worker-${randomUUID()}`;
    const client = await testClient();
    const executor = new UnifiedExecutor(client, { taskQueue });
    const h = await executor.executeAsync(wf, {});
    // Slack over the caller's timeout: a describe and a DescribeTaskQueue round trip.
    const slack = 1500;
    try {
      await failsFast(() => h.waitUntil('completed', { timeout: 5000 }), taskQueue, 5000 + slack);
      await failsFast(() => executor.getStatus(h.workflowId, { timeout: 3000 }), taskQueue, 3000 + slack);
      // No timeout given: the check after one second still ends the wait.
      await failsFast(() => h.status(), taskQueue, 5000);
      await failsFast(() => h.context(), taskQueue, 5000);
      // An update is not withdrawn: the error says how to learn its outcome once a worker starts (by
      // its request id, when it has one).
      await failsFast(
        () => h.pause({ reason: 'window' }),
        taskQueue,
        5000,
        /may still deliver the request when one starts: read its status then before sending another/,
      );
      await failsFast(
        () => h.resume({ reason: 'window over', requestId: 'resume-after-window' }),
        taskQueue,
        5000,
        /send it again with the same requestId \(`resume-after-window`; CLI `--request-id`\) to learn its outcome/,
      );
      // A very short timeout: the check happens before it, not after.
      await failsFast(() => h.waitUntil('completed', { timeout: 400 }), taskQueue, 400 + slack);
    } finally {
      await client.workflow.getHandle(h.workflowId).terminate('test over');
    }
  });

  it('result and execute fail naming the queue when no worker has polled it; the run stays started', async () => {
    const taskQueue = `no-worker-${randomUUID()}`;
    const client = await testClient();
    const executor = new UnifiedExecutor(client, { taskQueue });
    const h = await executor.executeAsync(wf, {});
    const waits = /the run is started and waits for one: wait for its result again/;
    try {
      // Two checks, a second and six seconds after the call.
      await failsFast(() => h.result(), taskQueue, 9000, waits);
      await failsFast(
        () => executor.execute(wf, {}, { workflowId: `${h.workflowId}-2` }),
        taskQueue,
        9000,
        waits,
      );
      assert.equal((await client.workflow.getHandle(h.workflowId).describe()).status.name, 'RUNNING');
      // Once a worker polls, the same call waits and answers.
      await withWorker([wf], async () => assert.deepEqual(await h.result(), {}), { taskQueue });
    } finally {
      await client.workflow
        .getHandle(`${h.workflowId}-2`)
        .terminate('test over')
        .catch(() => undefined);
    }
  });
});
