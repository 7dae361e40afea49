import assert from 'node:assert/strict';
import { defineWorkflow, resource, task, TaskError } from '../../src';
import { auditTime, replayHistory, chainHistory, eventually, latch, sleep, withWorker } from '../helpers';

// Tasks with `execution: 'local'` run as Temporal local activities, with every semantic of a task: context
// in and out, retries decided by the workflow (frozen while paused), pauses (graceful waits, immediate
// cancels), ctx.pauseWorkflow, and resources.

/** Start times of task attempts, recorded by the task functions themselves (wall clock, ms). */
class Starts {
  readonly list: { taskId: string; attempt: number; at: number }[] = [];
  record(taskId: string, attempt: number): void {
    this.list.push({ taskId, attempt, at: Date.now() });
  }
  of(taskId: string) {
    return this.list.filter((s) => s.taskId === taskId);
  }
}

/** Local-activity markers and `cloacina.runTask` activity tasks in a run's history. */
async function executionKinds(workflowId: string): Promise<{ markers: number; activities: number }> {
  let markers = 0;
  let activities = 0;
  for (const { events } of await chainHistory(workflowId)) {
    for (const e of events) {
      if (e.markerRecordedEventAttributes?.markerName === 'core_local_activity') markers++;
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'cloacina.runTask') activities++;
    }
  }
  return { markers, activities };
}

describe("local tasks (execution: 'local')", function () {
  this.timeout(90_000);

  it('run as local activities with context in and out, beside activity tasks', async () => {
    const wf = defineWorkflow({
      name: 'local-context',
      tasks: [
        task({ id: 'a', execution: 'local' }, (ctx) => void ctx.set('n', (ctx.get<number>('n') ?? 0) + 1)),
        task({ id: 'b', dependencies: ['a'], execution: 'local' }, (ctx) => {
          ctx.set('n', ctx.get<number>('n')! * 10);
          ctx.set('b', ctx.attempt);
        }),
        task({ id: 'c', dependencies: ['b'] }, (ctx) => void ctx.set('c', `n=${ctx.get<number>('n')}`)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, { n: 4 });
      assert.deepEqual(await executor.result(workflowId), { n: 50, b: 1, c: 'n=50' });
      assert.deepEqual(await executionKinds(workflowId), { markers: 2, activities: 1 });
      const status = await executor.getStatus(workflowId);
      assert.deepEqual(
        Object.fromEntries(Object.entries(status.tasks).map(([id, t]) => [id, [t.state, t.attempts]])),
        { a: ['completed', 1], b: ['completed', 1], c: ['completed', 1] },
      );
    });
  });

  it('retry as the workflow decides; a pause during the back-off holds the retry until resume', async () => {
    const starts = new Starts();
    const wf = defineWorkflow({
      name: 'local-retry',
      tasks: [
        task(
          {
            id: 'flaky',
            execution: 'local',
            retry: { attempts: 3, backoff: 'fixed', delay: '2s', jitter: false },
          },
          (ctx) => {
            starts.record('flaky', ctx.attempt);
            if (ctx.attempt < 3) throw new Error(`transient ${ctx.attempt}`);
            ctx.set('ok', ctx.attempt);
          },
        ),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await executor.waitUntil(workflowId, (s) => s.tasks.flaky!.state === 'retrying', { timeout: 20_000 });
      await executor.pauseWorkflow(workflowId, { reason: 'hold the retry', by: 'ops' });
      await sleep(3_000); // longer than the 2 s back-off: only the pause can hold the retry now
      const held = await executor.getStatus(workflowId);
      assert.equal(held.state, 'paused');
      assert.equal(held.tasks.flaky!.attempts, 1, 'no retry while paused');
      await executor.resumeWorkflow(workflowId, { by: 'ops' });
      assert.deepEqual(await executor.result(workflowId), { ok: 3 });

      const audit = (await executor.getAudit(workflowId)).entries;
      const paused = auditTime(audit.find((e) => e.action === 'pause')!);
      const resumed = auditTime(audit.find((e) => e.action === 'resume')!);
      assert.deepEqual(
        starts.of('flaky').map((s) => s.attempt),
        [1, 2, 3],
      );
      const second = starts.of('flaky')[1]!.at;
      assert.ok(second >= resumed, `the retry began ${resumed - second} ms before the resume`);
      assert.ok(resumed - paused >= 3_000, 'the pause lasted the whole wait');
      const final = await executor.getStatus(workflowId);
      assert.equal(final.tasks.flaky!.attempts, 3);
    });
  });

  it("keep a failure's kind: a non-retryable TaskError is not retried, a timeout is", async () => {
    const starts = new Starts();
    const wf = defineWorkflow({
      name: 'local-failure-kinds',
      tasks: [
        task(
          { id: 'slow', execution: 'local', timeout: '1s', retry: { attempts: 2, delay: '10ms' } },
          async (ctx) => {
            starts.record('slow', ctx.attempt);
            if (ctx.attempt === 1) await sleep(2_500);
            ctx.set('slow', ctx.attempt);
          },
        ),
        task({ id: 'invalid', dependencies: ['slow'], execution: 'local', retry: { attempts: 3 } }, (ctx) => {
          starts.record('invalid', ctx.attempt);
          throw new TaskError('ValidationFailed', 'order 7 has no lines');
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await assert.rejects(executor.result(workflowId), /order 7 has no lines/);
      const status = await executor.getStatus(workflowId);
      assert.deepEqual(
        [status.tasks.slow!.state, status.tasks.slow!.attempts],
        ['completed', 2],
        'the timed-out attempt was retried',
      );
      assert.deepEqual(
        [status.tasks.invalid!.state, status.tasks.invalid!.attempts, status.tasks.invalid!.error],
        ['failed', 1, { type: 'ValidationFailed', message: 'order 7 has no lines' }],
      );
      assert.deepEqual(
        starts.list.map((x) => `${x.taskId}#${x.attempt}`),
        ['slow#1', 'slow#2', 'invalid#1'],
      );
    });
  });

  it('a graceful pause waits for the running local task; nothing starts after it lands until resume', async () => {
    const starts = new Starts();
    const release = latch();
    const wf = defineWorkflow({
      name: 'local-graceful',
      tasks: [
        task({ id: 'a', execution: 'local' }, async (ctx) => {
          starts.record('a', ctx.attempt);
          await release.opened;
          ctx.set('a', 'done');
        }),
        task({ id: 'b', dependencies: ['a'], execution: 'local' }, (ctx) => {
          starts.record('b', ctx.attempt);
          ctx.set('b', 'done');
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await eventually(async () => starts.of('a').length === 1, 20_000, 'a started');
      const pausing = executor.pauseWorkflow(workflowId, { reason: 'look first', by: 'ops' });
      await sleep(800);
      release.open();
      const ack = await pausing;
      const ackedAt = Date.now();
      assert.equal(ack.duplicate, false);
      const status = await executor.waitUntil(workflowId, (s) => s.pause?.drainedAt !== undefined, {
        timeout: 20_000,
      });
      assert.equal(status.tasks.a!.state, 'completed', 'the running task finished (graceful)');
      assert.equal(status.tasks.a!.attempts, 1);
      await sleep(1_000);
      assert.deepEqual(starts.of('b'), [], 'b did not start while paused');
      assert.equal((await executor.getStatus(workflowId)).tasks.b!.state, 'pending');
      const resumeCalled = Date.now();
      await executor.resumeWorkflow(workflowId, { by: 'ops' });
      assert.deepEqual(await executor.result(workflowId), { a: 'done', b: 'done' });
      assert.ok(starts.of('b')[0]!.at >= resumeCalled, 'b started after resume');
      assert.ok(ackedAt <= resumeCalled);
    });
  });

  it('a local task that outlives workflow task heartbeats, with a pause and queries meanwhile, replays', async () => {
    // A workflow task lasts at most 10 s: while a local activity runs longer, the worker completes it
    // empty and takes the next (a heartbeat, every 8 s). Requests that arrive meanwhile land between those
    // workflow tasks, and the outcomes of the wave land after them: the history must still replay.
    const starts = new Starts();
    const release = latch();
    const wf = defineWorkflow({
      name: 'local-heartbeat',
      tasks: [
        task({ id: 'long', execution: 'local', timeout: '1m' }, async (ctx) => {
          starts.record('long', ctx.attempt);
          await release.opened;
          ctx.set('long', 'done');
        }),
        task({ id: 'short', execution: 'local' }, (ctx) => {
          starts.record('short', ctx.attempt);
          ctx.set('short', 'done');
        }),
        task({ id: 'after', dependencies: ['long', 'short'], execution: 'local' }, (ctx) => {
          starts.record('after', ctx.attempt);
          ctx.set('after', 'done');
        }),
      ],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await eventually(async () => starts.of('long').length === 1, 20_000, 'long started');
      // Past the first workflow task heartbeat.
      await sleep(9_000);
      const pausing = executor.pauseWorkflow(workflowId, { reason: 'look first', by: 'ops' });
      const during = await executor.getStatus(workflowId);
      assert.equal(during.tasks.long!.state, 'running');
      await sleep(500);
      release.open();
      const ack = await pausing;
      assert.equal(ack.duplicate, false);
      const drained = await executor.waitUntil(workflowId, (s) => s.pause?.drainedAt !== undefined, {
        timeout: 20_000,
      });
      assert.equal(drained.tasks.long!.state, 'completed');
      assert.equal(drained.tasks.short!.state, 'completed');
      assert.equal(drained.tasks.after!.state, 'pending', 'nothing starts while paused');
      await executor.resumeWorkflow(workflowId, { by: 'ops' });
      assert.deepEqual(await executor.result(workflowId), { long: 'done', short: 'done', after: 'done' });
      assert.deepEqual(starts.list.map((s) => `${s.taskId}#${s.attempt}`).sort(), [
        'after#1',
        'long#1',
        'short#1',
      ]);
      // The wave's last outcome was written by a later workflow task than the first one: the run's first
      // workflow task did not hold them all (it ended while the long task ran).
      const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
      const firstMarker = events.findIndex(
        (e) => e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      const longMarker = events.findIndex(
        (e, i) => i > firstMarker && e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
      );
      assert.ok(firstMarker >= 0 && longMarker > firstMarker, `markers at ${firstMarker} and ${longMarker}`);
      const completedBefore = events
        .slice(0, longMarker)
        .filter((e) => e.workflowTaskCompletedEventAttributes).length;
      assert.ok(
        completedBefore >= 2,
        `workflow tasks completed before the long task's outcome: ${completedBefore}`,
      );
    });
  });

  it('an immediate pause cancels the running local task, which runs again after resume', async () => {
    const starts = new Starts();
    const wf = defineWorkflow({
      name: 'local-immediate',
      tasks: [
        task({ id: 'slow', execution: 'local', timeout: '1m' }, async (ctx) => {
          starts.record('slow', ctx.attempt);
          if (starts.of('slow').length === 1) {
            // The first attempt waits to be cancelled (it runs longer than a workflow task heartbeat).
            await new Promise<void>((resolve, reject) => {
              const t = setTimeout(resolve, 40_000);
              ctx.signal.addEventListener('abort', () => {
                clearTimeout(t);
                reject(new Error('cancelled'));
              });
            });
          }
          ctx.set('slow', `attempt ${ctx.attempt}`);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await eventually(async () => starts.of('slow').length === 1, 20_000, 'slow started');
      await executor.pauseWorkflow(workflowId, { mode: 'immediate', reason: 'stop now', by: 'ops' });
      const drained = await executor.waitUntil(workflowId, (s) => s.pause?.drainedAt !== undefined, {
        timeout: 30_000,
      });
      assert.equal(drained.tasks.slow!.interrupted, 1, 'the attempt was cut off');
      assert.equal(drained.tasks.slow!.attempts, 0, 'a cut-off attempt does not count');
      assert.equal(starts.of('slow').length, 1);
      await executor.resumeWorkflow(workflowId, { by: 'ops' });
      assert.deepEqual(await executor.result(workflowId), { slow: 'attempt 1' });
      assert.equal(starts.of('slow').length, 2);
    });
  });

  it('ctx.pauseWorkflow from a local task pauses the run when the task returns, even when it fails', async () => {
    const starts = new Starts();
    const wf = defineWorkflow({
      name: 'local-self-pause',
      tasks: [
        task({ id: 'check', execution: 'local' }, async (ctx) => {
          starts.record('check', ctx.attempt);
          await ctx.pauseWorkflow('downstream looks degraded');
          ctx.set('check', 'ok');
        }),
        task(
          {
            id: 'write',
            dependencies: ['check'],
            execution: 'local',
            retry: { attempts: 2, delay: '100ms', jitter: false },
          },
          async (ctx) => {
            starts.record('write', ctx.attempt);
            if (ctx.attempt === 1) {
              await ctx.pauseWorkflow('write failed: pausing for a look');
              throw new Error('write failed');
            }
            ctx.set('write', ctx.attempt);
          },
        ),
        task({ id: 'notify', dependencies: ['write'], execution: 'local' }, (ctx) => {
          starts.record('notify', ctx.attempt);
          ctx.set('notify', true);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      const first = await executor.waitUntil(workflowId, (s) => s.state === 'paused', { timeout: 20_000 });
      assert.equal(first.pause!.kind, 'task');
      assert.equal(first.pause!.by, 'task:check');
      assert.equal(first.pause!.reason, 'downstream looks degraded');
      assert.equal(first.tasks.check!.state, 'completed');
      await sleep(1_000);
      assert.deepEqual(starts.of('write'), [], 'write did not start while paused');

      await executor.resumeWorkflow(workflowId, { by: 'ops' });
      const second = await executor.waitUntil(
        workflowId,
        (s) => s.state === 'paused' && s.pause!.by === 'task:write',
        { timeout: 20_000 },
      );
      assert.equal(second.pause!.reason, 'write failed: pausing for a look');
      assert.equal(second.tasks.write!.state, 'retrying');
      await sleep(1_000); // ten times the back-off
      assert.equal(starts.of('write').length, 1, 'the retry waits for resume');

      const resumedAt = Date.now();
      await executor.resumeWorkflow(workflowId, { by: 'ops' });
      assert.deepEqual(await executor.result(workflowId), { check: 'ok', write: 2, notify: true });
      assert.ok(starts.of('write')[1]!.at >= resumedAt);
      const pauses = (await executor.getAudit(workflowId)).entries.filter((e) => e.action === 'pause');
      assert.deepEqual(
        pauses.map((e) => e.by),
        ['task:check', 'task:write'],
      );
    });
  });

  it('a DAG of 1,000 local tasks crosses continue-as-new with every output kept', async () => {
    const width = 1_000;
    const leaves = Array.from({ length: width }, (_, i) =>
      task({ id: `leaf${i}`, execution: 'local' }, (ctx) => void ctx.set(`leaf${i}`, i)),
    );
    const sum = task({ id: 'sum', dependencies: leaves, execution: 'local' }, (ctx) => {
      let total = 0;
      for (let i = 0; i < width; i++) total += ctx.get<number>(`leaf${i}`)!;
      ctx.set('sum', total);
    });
    const wf = defineWorkflow({ name: 'local-wide', tasks: [...leaves, sum] });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      const result = await executor.result(workflowId);
      assert.equal(result.sum, (width * (width - 1)) / 2);
      assert.equal(Object.keys(result).length, width + 1);
      const status = await executor.getStatus(workflowId);
      assert.ok(status.continuedAsNew >= 1, `continued as new ${status.continuedAsNew} times`);
      assert.ok(Object.values(status.tasks).every((t) => t.state === 'completed' && t.attempts === 1));
      assert.deepEqual(await executionKinds(workflowId), { markers: width + 1, activities: 0 });
    });
  });

  it('use resources like any task', async () => {
    const log: string[] = [];
    const db = resource({
      id: 'db',
      setup: () => {
        log.push('setup');
        return { url: 'db://local' };
      },
      teardown: (h) => void log.push(`teardown ${h.url}`),
    });
    const wf = defineWorkflow({
      name: 'local-resource',
      tasks: [
        task({ id: 'q', execution: 'local', uses: [db] }, (ctx) => {
          ctx.set('url', ctx.resource<{ url: string }>('db').url);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      assert.deepEqual(await executor.result(workflowId), { url: 'db://local' });
      assert.deepEqual(log, ['setup', 'teardown db://local']);
    });
  });

  it('results that come in another order than their attempts began replay to the same tasks', async () => {
    // The first local tasks end in the reverse of the order they began, each in a batch of its own; a
    // replay delivers their recorded results together. The tasks after them (local, then activity tasks)
    // must start in the same order on replay, and each with its own input.
    const n = 24;
    const firsts = Array.from({ length: n }, (_, i) =>
      task({ id: `x${i}`, execution: 'local' }, async (ctx) => {
        await sleep((n - i) * 4);
        ctx.set(`x${i}`, i);
      }),
    );
    const seconds = firsts.map((x, i) =>
      task({ id: `c${i}`, dependencies: [x], execution: 'local' }, (ctx) => {
        ctx.set(`c${i}`, ctx.get<number>(`x${i}`)! * 10);
      }),
    );
    const thirds = seconds.map((c, i) =>
      task({ id: `d${i}`, dependencies: [c] }, (ctx) => {
        ctx.set(`d${i}`, [ctx.get<number>(`x${i}`) ?? null, ctx.get<number>(`c${i}`) ?? null]);
      }),
    );
    const all = task({ id: 'all', dependencies: thirds }, (ctx) => {
      ctx.set(
        'all',
        thirds.map((_, i) => ctx.get<number[]>(`d${i}`)!),
      );
    });
    const wf = defineWorkflow({ name: 'local-reordered', tasks: [...firsts, ...seconds, ...thirds, all] });
    await withWorker([wf], async ({ executor, client }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      const result = await executor.result(workflowId);
      assert.deepEqual(
        result.all,
        Array.from({ length: n }, (_, i) => [i, i * 10]),
      );
      const history = await client.workflow.getHandle(workflowId).fetchHistory();
      await replayHistory(history, workflowId);
    });
  });

  it('read from the history when the run was terminated (no worker needed)', async () => {
    const release = latch();
    const wf = defineWorkflow({
      name: 'local-terminated',
      tasks: [
        task({ id: 'one', execution: 'local' }, (ctx) => void ctx.set('one', 1)),
        task({ id: 'two', dependencies: ['one'] }, async (ctx) => {
          await release.opened;
          ctx.set('two', 2);
        }),
      ],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await executor.waitUntil(workflowId, (s) => s.tasks.two!.state === 'running', { timeout: 20_000 });
      await client.workflow.getHandle(workflowId).terminate('operator stop');
      release.open();
      const status = await executor.getStatus(workflowId);
      assert.equal(status.state, 'terminated');
      assert.equal(status.tasks.one!.state, 'completed');
      assert.equal(status.tasks.one!.attempts, 1);
      assert.deepEqual([status.tasks.two!.state, status.tasks.two!.attempts], ['pending', 1]);
      assert.deepEqual(await executor.getContext(workflowId), { one: 1 });
    });
  });
});
