// Long lives: runs that continue as new many times, on a server of their own whose history limits are
// scaled down from the defaults (suggest continue-as-new at 4 Ki events, fail at 51,200) to 300 / 1,500,
// so that every limit is met within seconds.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { NativeConnection, type Worker } from '@temporalio/worker';
import {
  defineWorkflow,
  RequestRejectedError,
  task,
  trigger,
  UnifiedExecutor,
  WorkflowExecutionError,
  type AuditEntry,
  type WorkflowDefinition,
} from '../../src';
import { WORKFLOW_TYPE } from '../../src/executor';
import { bundleWorkflows, createWorker } from '../../src/worker';
import { startDevServer, type DevServerHandle } from '../../temporal-dev';
import {
  chainHistory,
  freshTaskQueue,
  replayHistory,
  replayTaskQueue,
  runOfTaskAfter,
  taskStartedAtOrAfter,
  taskStartedAtOrBefore,
  timerDues,
  withWorker,
} from '../helpers';
import { MAX_IN_FLIGHT } from '../../workflows/task-driver';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

const SUGGEST = 300;
const LIMIT = 1500;

let server: DevServerHandle;
let client: Client;
let nativeConnection: NativeConnection;

/** Runs `fn` with a worker for `workflows` on the long-lives server. */
async function withLongWorker<T>(
  workflows: WorkflowDefinition[],
  fn: (env: { executor: UnifiedExecutor; worker: Worker; taskQueue: string }) => Promise<T>,
): Promise<T> {
  const taskQueue = freshTaskQueue('long');
  const worker = await createWorker({
    workflows,
    taskQueue,
    connection: nativeConnection,
    namespace: server.namespace,
    workflowBundle: await bundleWorkflows(),
    workerOptions: { shutdownGraceTime: '1s', shutdownForceTime: '5s' },
  });
  const executor = new UnifiedExecutor(client, { taskQueue, identity: 'long-lives' });
  const result = await worker.runUntil(fn({ executor, worker, taskQueue }));
  // Every run the test made must replay, as on the shared server (`withWorker`).
  await replayTaskQueue(taskQueue, undefined, client);
  return result;
}

const ms = (t: temporal.api.history.v1.IHistoryEvent['eventTime']) =>
  Number(t?.seconds ?? 0) * 1000 + Math.floor((t?.nanos ?? 0) / 1e6);

/** Timers and run starts of a chain, for failure messages. */
function timeline(runs: { events: HistoryEvent[] }[]): string {
  const out: string[] = [];
  for (const { events } of runs) {
    out.push(`run@${ms(events[0]?.eventTime)}`);
    for (const e of events) {
      const started = e.timerStartedEventAttributes;
      if (started)
        out.push(
          `timer@${ms(e.eventTime)}+${Number(started.startToFireTimeout?.seconds ?? 0) * 1000 + Math.round((started.startToFireTimeout?.nanos ?? 0) / 1e6)}`,
        );
      if (e.eventType === EventType.EVENT_TYPE_TIMER_FIRED) out.push(`fired@${ms(e.eventTime)}`);
      if (e.eventType === EventType.EVENT_TYPE_TIMER_CANCELED) out.push(`cancelled@${ms(e.eventTime)}`);
    }
  }
  return out.join(' ');
}

/** Bytes of each run's start input (the carried state travels in it). */
function inputBytes(events: HistoryEvent[]): number {
  const payloads = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads ?? [];
  return payloads.reduce((n, p) => n + (p.data?.length ?? 0), 0);
}

interface AttemptEvent {
  taskId: string;
  attempt: number;
  scheduledAt: number;
  failedAt?: number;
  /** The index of the run that scheduled it. */
  run: number;
}

/** Every task attempt across the chain, from the history. */
function attempts(runs: { events: HistoryEvent[] }[]): AttemptEvent[] {
  const out: AttemptEvent[] = [];
  runs.forEach(({ events }, run) => {
    const byId = new Map<number, AttemptEvent>();
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s?.activityType?.name === 'cloacina.runTask') {
        const input = defaultPayloadConverter.fromPayload<{ taskId: string; attempt: number }>(
          s.input!.payloads![0]!,
        );
        const a = { taskId: input.taskId, attempt: input.attempt, scheduledAt: ms(e.eventTime), run };
        byId.set(Number(e.eventId), a);
        out.push(a);
      }
      const f = e.activityTaskFailedEventAttributes;
      if (f) {
        const a = byId.get(Number(f.scheduledEventId));
        if (a) a.failedAt = ms(e.eventTime);
      }
    }
  });
  return out;
}

/** Reads the whole audit trail through getAudit, page by page. */
async function wholeAudit(
  executor: UnifiedExecutor,
  workflowId: string,
  pageSize: number,
): Promise<AuditEntry[]> {
  const all: AuditEntry[] = [];
  let cursor: string | undefined;
  do {
    const page = await executor.getAudit(workflowId, { pageSize, ...(cursor ? { cursor } : {}) });
    assert.ok(page.entries.length <= pageSize);
    all.push(...page.entries);
    cursor = page.nextCursor;
  } while (cursor);
  return all;
}

/**
 * Sends refused signals (a non-approver's approval: audited, changes nothing) in bursts until `stop`
 * resolves, so that the history grows and the run continues as new again and again. Between bursts the
 * run gets a quiet moment: the server refuses a continue-as-new while new signals keep arriving.
 */
async function noise(c: Client, workflowId: string, taskId: string, stop: Promise<unknown>): Promise<number> {
  const h = c.workflow.getHandle(workflowId);
  let done = false;
  void stop.then(
    () => (done = true),
    () => (done = true),
  );
  let sent = 0;
  while (!done) {
    await Promise.all(
      Array.from({ length: 32 }, () =>
        h.signal('cloacina.approve', { taskId, by: 'mallory' }).catch(() => undefined),
      ),
    );
    sent += 32;
    await new Promise((r) => setTimeout(r, 150));
  }
  return sent;
}

describe('long lives: continue-as-new at any point, bounded state, clocks that never restart', function () {
  before(async function () {
    this.timeout(120_000);
    server = await startDevServer({
      port: 0,
      headless: true,
      forceStart: true,
      dynamicConfig: {
        'limit.historyCount.suggestContinueAsNew': SUGGEST,
        'limit.historyCount.error': LIMIT,
        'limit.historyCount.warn': LIMIT - 100,
      },
    });
    client = new Client({
      // Room for histories of megabytes of payloads, which every test's replay reads.
      connection: await Connection.connect({
        address: server.address,
        channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 },
      }),
      namespace: server.namespace,
      identity: 'long-lives',
    });
    nativeConnection = await NativeConnection.connect({ address: server.address });
  });

  after(async function () {
    this.timeout(30_000);
    await nativeConnection?.close();
    await client?.connection.close();
    await server?.stop();
  });

  it('a DAG of ten overlapping chains, wider than the history limit, continues as new and completes', async function () {
    this.timeout(300_000);
    const chains = 10;
    const length = 60;
    const tasks = [];
    for (let c = 0; c < chains; c++) {
      for (let i = 0; i < length; i++) {
        tasks.push(
          task(
            { id: `c${c}_${i}`, dependencies: i ? [`c${c}_${i - 1}`] : [] },
            (ctx) => void ctx.set(`c${c}`, i),
          ),
        );
      }
    }
    const wf = defineWorkflow({ name: 'wide_chains', tasks });
    await withLongWorker([wf], async ({ executor }) => {
      const t0 = Date.now();
      const h = await executor.executeAsync(wf, {});
      const out = await h.result();
      const seconds = (Date.now() - t0) / 1000;
      // The final context is the output of the last task to complete: the end of one chain.
      assert.deepEqual(Object.values(out), [length - 1]);
      const runs = await chainHistory(h.workflowId, client);
      const sizes = runs.map((r) => r.events.length);
      const status = await h.status();
      assert.equal(status.continuedAsNew, runs.length - 1);
      assert.ok(runs.length >= 4, `expected several runs, got ${runs.length}`);
      // Every run stops near the suggestion: the drain lasts one attempt per chain at most.
      assert.ok(Math.max(...sizes) < LIMIT, `largest history ${Math.max(...sizes)} events`);
      assert.ok(Math.max(...sizes) <= SUGGEST + 200, `largest history ${Math.max(...sizes)} events`);
      assert.equal(
        Object.values(status.tasks).filter((t) => t.state === 'completed').length,
        chains * length,
      );
      console.log(
        `      wide DAG: ${chains * length} tasks, ${runs.length - 1} continue-as-new, largest history ` +
          `${Math.max(...sizes)} events (suggestion ${SUGGEST}, limit ${LIMIT}), ${seconds.toFixed(1)} s`,
      );
    });
  });

  it('a context near its 1 MiB limit crosses continue-as-new, carried once', async function () {
    this.timeout(180_000);
    // Started with a context just under the limit, each task of a chain adds a key: the initial context,
    // the merged one and the last output are each about 1 MB, so the next run's input holds it once.
    const length = 24;
    const blob = 'y'.repeat(1_000_000);
    const wf = defineWorkflow({
      name: 'max_context_chain',
      tasks: Array.from({ length }, (_, i) =>
        task({ id: `s${i}`, dependencies: i ? [`s${i - 1}`] : [] }, (ctx) => {
          if (ctx.get('blob') !== blob) throw new Error(`s${i} got a changed blob`);
          ctx.set(`k${i}`, i);
        }),
      ),
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, { blob });
      const out = await h.result();
      assert.equal(out.blob, blob);
      assert.deepEqual(
        Object.keys(out).filter((k) => k !== 'blob'),
        Array.from({ length }, (_, i) => `k${i}`),
      );
      // Its histories hold megabytes of payloads: read them with room for that.
      const big = new Client({
        connection: await Connection.connect({
          address: server.address,
          channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 },
        }),
        namespace: server.namespace,
      });
      const runs = await chainHistory(h.workflowId, big).finally(() => big.connection.close());
      assert.ok(runs.length >= 3, `expected several runs, got ${runs.length}`);
      const failed = runs.flatMap((r) =>
        r.events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED),
      );
      assert.deepEqual(
        failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
        [],
        'no workflow task failed',
      );
      const status = await h.status();
      assert.equal(status.continuedAsNew, runs.length - 1);
      assert.equal(Object.values(status.tasks).filter((t) => t.state === 'completed').length, length);
    });
  });

  it('a state too large to carry into continue-as-new ends the run failed, saying what it holds', async function () {
    this.timeout(120_000);
    // Three outputs of 700 KiB wait for a task held at a gate, while a chain of small tasks brings the
    // history to the suggestion: the next run's input would pass the server's payload limit.
    const wf = defineWorkflow({
      name: 'carried_too_large',
      tasks: [
        ...[0, 1, 2].map((i) =>
          task({ id: `w${i}` }, (ctx) => void ctx.set(`blob${i}`, 'x'.repeat(700 * 1024))),
        ),
        task({ id: 'join', dependencies: ['w0', 'w1', 'w2'], pauseBefore: true }, () => undefined),
        ...Array.from({ length: 120 }, (_, i) =>
          task({ id: `c${i}`, dependencies: i ? [`c${i - 1}`] : [] }, (ctx) => void ctx.set('c', i)),
        ),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const err = await h.result().then(
        () => assert.fail('the run should fail'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof WorkflowExecutionError, String(err));
      const st = err.status!;
      assert.equal(st.error?.type, 'CarriedStateTooLarge');
      assert.match(
        st.error?.message ?? '',
        /^The state this run would carry into continue-as-new is \d+ bytes of JSON, over the limit of 2031616 \(largest parts, in bytes: (the merged context|the outputs unfinished tasks still need \(4\)): \d+, (the merged context|the outputs unfinished tasks still need \(4\)): \d+, the spec of 124 tasks: \d+\): keep large data in external storage/,
      );
      assert.equal(st.continuedAsNew, 0);
      assert.equal(st.tasks.join?.state, 'waiting');
      const runs = await chainHistory(h.workflowId, client);
      assert.equal(runs.length, 1);
      const failed = runs[0]!.events.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED);
      assert.deepEqual(
        failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
        [],
        'no workflow task failed',
      );
      assert.ok(
        runs[0]!.events.length >= SUGGEST,
        `continue-as-new was suggested (${runs[0]!.events.length} events)`,
      );
    });
  });

  it('a gate timeout resolves at its active time across continue-as-new', async function () {
    this.timeout(120_000);
    const wf = defineWorkflow({
      name: 'gate_timer_can',
      tasks: [
        task(
          { id: 'deploy', pauseBefore: { approvers: ['alice'], timeout: 6000, onTimeout: 'approve' } },
          (ctx) => void ctx.set('deployed', true),
        ),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      // Refused approvals fill the history while the gate waits: the run continues as new several times.
      const result = h.result();
      await noise(client, h.workflowId, 'deploy', result);
      assert.deepEqual(await result, { deployed: true });
      const audit = await wholeAudit(executor, h.workflowId, 500);
      const opened = audit.find((a) => a.action === 'gate');
      const expired = audit.find((a) => a.action === 'expired');
      assert.ok(opened && expired, 'gate and expiry lines');
      const runs = await chainHistory(h.workflowId, client);
      // Both lines carry the workflow time of the task that wrote them.
      const due = Date.parse(opened.at) + 6000;
      const before = runs.filter((r) => ms(r.events[0]?.eventTime) < Date.parse(expired.at)).length - 1;
      assert.ok(before >= 1, `continued as new ${before} times before the timeout`);
      // Every run re-arms the timer for the same due time: nothing restarts the wait, nothing drifts.
      const dues = timerDues(runs);
      assert.ok(dues.length >= 2, `a timer in more than one run: ${timeline(runs)}`);
      for (const d of dues)
        assert.ok(Math.abs(d.due - due) <= 2, `a timer due at ${d.due} for ${due}: ${timeline(runs)}`);
      // It expires in the first workflow task at or after the due time, or in the next run; never before.
      assert.ok(Date.parse(expired.at) >= due - 2, `the gate expired at ${expired.at}, before ${due}`);
      const expiredIn = runOfTaskAfter(runs, Date.parse(expired.at));
      const dueIn = runOfTaskAfter(runs, due);
      assert.ok(
        expiredIn - dueIn <= 1,
        `due in run ${dueIn}, expired in run ${expiredIn}; ${timeline(runs)}`,
      );
    });
  });

  it('a retry back-off resolves at its active time across continue-as-new', async function () {
    this.timeout(120_000);
    let calls = 0;
    const wf = defineWorkflow({
      name: 'retry_timer_can',
      tasks: [
        task({ id: 'hold', pauseBefore: { approvers: ['alice'] } }, () => undefined),
        task({ id: 'flaky', retry: { attempts: 2, backoff: 'fixed', delay: 6000, jitter: false } }, (ctx) => {
          calls++;
          if (ctx.attempt === 1) throw new Error('first attempt fails');
          ctx.set('flaky', 'ok');
        }),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.tasks.flaky?.state === 'retrying', { timeout: 20_000 });
      const retried = h.waitUntil((s) => s.tasks.flaky?.state === 'completed', { timeout: 30_000 });
      await noise(client, h.workflowId, 'hold', retried);
      await retried;
      await h.approve('hold', { by: 'alice' });
      await h.result();
      const runs = await chainHistory(h.workflowId, client);
      const flaky = attempts(runs).filter((a) => a.taskId === 'flaky');
      assert.equal(flaky.length, 2);
      // The back-off is decided by the workflow task that learnt of the failure: due 6 s of its time later.
      const due = taskStartedAtOrAfter(runs, flaky[0]!.failedAt!) + 6000;
      const between = runs.filter(
        (r) =>
          ms(r.events[0]?.eventTime) > flaky[0]!.failedAt! &&
          ms(r.events[0]?.eventTime) < flaky[1]!.scheduledAt,
      ).length;
      assert.ok(between >= 2, `continued as new ${between} times during the back-off`);
      // Every run re-arms the timer for the same due time: nothing restarts the wait, nothing drifts.
      const dues = timerDues(runs);
      assert.ok(dues.length >= 2, `a timer in more than one run: ${timeline(runs)}`);
      for (const d of dues)
        assert.ok(Math.abs(d.due - due) <= 2, `a timer due at ${d.due} for ${due}: ${timeline(runs)}`);
      // The retry starts in the first workflow task at or after the due time, or (when that task continues
      // as new) in the next run; never before it.
      const decided = taskStartedAtOrBefore(runs, flaky[1]!.scheduledAt);
      assert.ok(decided >= due - 2, `the retry was decided at ${decided}, before ${due}`);
      const retriedIn = flaky[1]!.run;
      const dueIn = runOfTaskAfter(runs, due);
      assert.ok(
        retriedIn - dueIn <= 1,
        `due in run ${dueIn}, retried in run ${retriedIn}; failed at ${flaky[0]!.failedAt}; ${timeline(runs)}`,
      );
      assert.equal(calls, 2);
    });
  });

  it('continue-as-new suggested while a task attempt is open waits for it; a pause meanwhile holds', async function () {
    this.timeout(180_000);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    const wf = defineWorkflow({
      name: 'open_attempt',
      tasks: [
        task({ id: 'long' }, async (ctx) => {
          await released;
          ctx.set('long', true);
        }),
        task({ id: 'after', dependencies: ['long'] }, (ctx) => void ctx.set('after', true)),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((st) => st.tasks.long!.state === 'running', { timeout: 30_000 });
      const handle = client.workflow.getHandle(h.workflowId);
      // Noise until the server suggests continue-as-new while `long` is still running.
      const suggested = async () =>
        ((await handle.fetchHistory()).events ?? []).some(
          (e) => e.workflowTaskStartedEventAttributes?.suggestContinueAsNew,
        );
      while (!(await suggested())) {
        await Promise.all(
          Array.from({ length: 32 }, () =>
            handle.signal('cloacina.approve', { taskId: 'long', by: 'mallory' }).catch(() => undefined),
          ),
        );
        await new Promise((r) => setTimeout(r, 150));
      }
      const draining = await h.status();
      assert.ok(draining.draining, 'the run drains: it starts nothing until it has continued');
      assert.equal(draining.continuedAsNew, 0, 'it waits for the open attempt');
      assert.equal(draining.tasks.long!.state, 'running');
      const paused = await h.pause({ by: 'ops', reason: 'during the drain', requestId: 'p-drain' });
      assert.equal(paused.state, 'pausing');
      release();
      const held = await h.waitUntil((st) => st.continuedAsNew >= 1 && st.state === 'paused', {
        timeout: 60_000,
      });
      assert.deepEqual(
        [
          held.pause!.by,
          held.pause!.reason,
          held.pause!.requestId,
          held.tasks.long!.state,
          held.tasks.after!.state,
        ],
        ['ops', 'during the drain', 'p-drain', 'completed', 'pending'],
      );
      assert.equal(held.draining, undefined);
      await h.resume({ by: 'ops' });
      assert.deepEqual(await h.result(), { long: true, after: true });
      // The attempt of `long` completed in the first run; `after` ran once, in a later one.
      const runs = await chainHistory(h.workflowId, client);
      const scheduled = runs.map(
        (r) =>
          r.events.filter(
            (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'cloacina.runTask',
          ).length,
      );
      assert.equal(scheduled[0], 1, 'the first run scheduled only `long`');
      assert.equal(
        scheduled.reduce((a, b) => a + b, 0),
        2,
        `each task ran once: ${JSON.stringify(scheduled)}`,
      );
    });
  });

  it(`a gate approved while ${MAX_IN_FLIGHT} waiting tasks fill the window survives the continue-as-new`, async function () {
    // The ready scan stops at a full attempt window, so it does not meet the approved task. Tasks that
    // became ready while the run was paused hold their slots with no attempt in flight, so the run may
    // continue as new meanwhile; the approval (the reducer closed the gate when it came) must survive it.
    this.timeout(180_000);
    const ids = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => `r${i}`);
    const wf = defineWorkflow({
      name: 'gate_full_window',
      tasks: [
        task({ id: 'gated', pauseBefore: true }, (ctx) => void ctx.set('gated', true)),
        task({ id: 'a' }, async (ctx) => void (await ctx.pauseWorkflow('hold the rest'))),
        ...ids.map((id) => task({ id, dependencies: ['a'] }, () => undefined)),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil(
        (st) =>
          st.state === 'paused' &&
          st.gates.some((g) => g.taskId === 'gated') &&
          st.tasks.a!.state === 'completed',
        { timeout: 60_000 },
      );
      await h.approve('gated', { by: 'ops' });
      const before = await h.status();
      assert.deepEqual(before.gates, [], 'the approval closed the gate');
      assert.equal(
        before.tasks.gated!.state,
        'waiting',
        'the full window kept the scan from the approved task',
      );
      assert.equal(before.continuedAsNew, 0);
      // Noise until the server suggests continue-as-new; the paused run then continues at once.
      const handle = client.workflow.getHandle(h.workflowId);
      while ((await h.status()).continuedAsNew === 0) {
        await Promise.all(
          Array.from({ length: 32 }, () =>
            handle.signal('cloacina.approve', { taskId: 'a', by: 'mallory' }).catch(() => undefined),
          ),
        );
        await new Promise((r) => setTimeout(r, 150));
      }
      // The new run holds the task as approved (pending, to start on resume), not at a gate that no
      // longer exists (it would wait there for ever).
      const after = await h.status();
      assert.ok(after.continuedAsNew >= 1, `continued as new ${after.continuedAsNew} times`);
      assert.equal(after.state, 'paused');
      assert.deepEqual(after.gates, []);
      assert.equal(after.tasks.gated!.state, 'pending');
      // Resumed, its 500 activity tasks would pass this server's history limit (1,500 events) before
      // the next continue-as-new could drain them: the run is cancelled instead.
      await h.cancel();
    });
  });

  it(`${MAX_IN_FLIGHT} local tasks released by a resume replay in every workflow task, under a stream of signals`, async function () {
    // A replay resolves every recorded local result whose activity is scheduled at once, where the first
    // execution met them as they came: where the run yields its workflow task, and which attempts it has
    // started by then, must not depend on that. The signals make the server refuse a completion now and
    // then (new events came meanwhile), and the worker then replays the run from its history.
    this.timeout(180_000);
    const ids = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => `l${i}`);
    const wf = defineWorkflow({
      name: 'local_released',
      tasks: [
        task({ id: 'a' }, async (ctx) => void (await ctx.pauseWorkflow('hold the rest'))),
        ...ids.map((id) =>
          task({ id, dependencies: ['a'], execution: 'local' }, (ctx) => void ctx.set(id, true)),
        ),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((st) => st.state === 'paused' && st.tasks.a!.state === 'completed', {
        timeout: 60_000,
      });
      await h.resume({ by: 'ops' });
      const handle = client.workflow.getHandle(h.workflowId);
      let done = false;
      const noise = (async () => {
        while (!done) {
          await Promise.all(
            Array.from({ length: 8 }, () =>
              handle.signal('cloacina.approve', { taskId: 'a', by: 'mallory' }).catch(() => undefined),
            ),
          );
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const out = await h
        .result()
        .catch((e: unknown) => ({ error: String(e) }))
        .finally(() => (done = true));
      await noise;
      const runs = await chainHistory(h.workflowId, client);
      const failures = runs.flatMap(({ events }) =>
        events.flatMap((e) => e.workflowTaskFailedEventAttributes?.failure?.message ?? []),
      );
      assert.deepEqual(
        failures.filter((m) => !/UnhandledCommand/.test(m)),
        [],
        'no workflow task failed but for completions the server refused',
      );
      assert.deepEqual(out, { l499: true });
      const st = await h.status();
      assert.equal(st.state, 'completed');
      assert.deepEqual(
        ids.filter((id) => st.tasks[id]!.state !== 'completed' || st.tasks[id]!.attempts !== 1),
        [],
        'every local task completed in one attempt',
      );
      // Every run of the chain replays from its history alone.
      for (const { runId, events } of runs) await replayHistory({ events }, `${h.workflowId}/${runId}`);
    });
  });

  it('soak: 3,000 pause/resume cycles with 1,000-character reasons, through signals and updates', async function () {
    this.timeout(600_000);
    const reason = (i: number) => `cycle ${i} `.padEnd(1000, 'x');
    const chainLength = 150;
    const wf = defineWorkflow({
      name: 'soak',
      tasks: [
        ...Array.from({ length: chainLength }, (_, i) =>
          task({ id: `t${i}`, dependencies: i ? [`t${i - 1}`] : [] }, async (ctx) => {
            await new Promise((r) => setTimeout(r, 5));
            ctx.set('progress', i);
          }),
        ),
        task(
          { id: 'close', dependencies: [`t${chainLength - 1}`], pauseBefore: { approvers: ['closer'] } },
          (ctx) => void ctx.set('closed', true),
        ),
      ],
    });
    await withLongWorker([wf], async ({ executor }) => {
      const t0 = Date.now();
      const h = await executor.executeAsync(wf, {});
      const handle = client.workflow.getHandle(h.workflowId);
      const cycles = 3000;
      let retried = 0;
      for (let i = 0; i < cycles; i++) {
        const mode = i % 3 === 0 ? 'immediate' : 'graceful';
        if (i % 2 === 0) {
          await h.pause({ reason: reason(i), by: 'soak-update', mode, requestId: `p${i}` });
          // The resume signal of the cycle before may still be validating (the update can overtake it):
          // the refusal says so, and the caller sends again, as any client would.
          for (;;) {
            try {
              await h.resume({ reason: reason(i), by: 'soak-update', requestId: `r${i}` });
              break;
            } catch (err) {
              // The resume signal of the cycle before may have resumed the run already: refused, recorded.
              if (err instanceof RequestRejectedError && err.code === 'NotPaused') break;
              if (!(err instanceof RequestRejectedError && err.code === 'AlreadyResuming')) throw err;
              retried++;
              await new Promise((r) => setTimeout(r, 20));
            }
          }
        } else {
          // Fire-and-forget: the resume's validation may still run when the next pause arrives.
          await handle.signal('cloacina.pause', {
            reason: reason(i),
            by: 'soak-signal',
            mode,
            requestId: `p${i}`,
          });
          await handle.signal('cloacina.resume', {
            reason: reason(i),
            by: 'soak-signal',
            requestId: `r${i}`,
          });
        }
      }
      // The last resume may have been superseded by nothing: make sure the run is not held.
      const settled = await h.waitUntil((s) => s.state !== 'resuming' && s.state !== 'pausing', {
        timeout: 60_000,
      });
      if (settled.pause && settled.pause.kind !== 'gate') await h.resume({ by: 'soak-update', force: true });
      await h.waitUntil((s) => s.gates.some((g) => g.taskId === 'close'), { timeout: 120_000 });
      await h.approve('close', { by: 'closer' });
      const out = await h.result();
      assert.equal(out.closed, true);
      const seconds = (Date.now() - t0) / 1000;
      const status = await h.status();
      const runs = await chainHistory(h.workflowId, client);
      const largest = Math.max(...runs.map((r) => inputBytes(r.events)));
      assert.ok(largest < 512 * 1024, `largest carried input ${largest} bytes`);
      assert.ok(status.continuedAsNew >= 20, `continued as new ${status.continuedAsNew} times`);
      assert.equal(status.audit.length, 200);
      const audit = await wholeAudit(executor, h.workflowId, 2500);
      assert.equal(audit.length, status.auditCount);
      assert.deepEqual(
        audit.map((a) => a.seq),
        audit.map((_, i) => i + 1),
      );
      assert.ok(audit.length >= 2 * cycles, `${audit.length} audit lines`);
      for (let i = 0; i < cycles; i++) {
        const by = i % 2 === 0 ? 'soak-update' : 'soak-signal';
        assert.ok(
          audit.some((a) => a.requestId === `p${i}` && a.by === by && a.reason === reason(i)),
          `pause ${i} recorded with who and why`,
        );
        assert.ok(
          audit.some((a) => a.requestId === `r${i}` && a.by === by),
          `resume ${i} recorded (resumed, or refused with its reason)`,
        );
      }
      // Continue-as-new was suggested while resume validations and task attempts were open, and waited.
      let duringValidation = 0;
      let duringTask = 0;
      for (const { events } of runs) {
        const open = new Map<number, string>();
        for (const e of events) {
          const s = e.activityTaskScheduledEventAttributes;
          if (s) open.set(Number(e.eventId), s.activityType?.name ?? '');
          const closedId =
            e.activityTaskCompletedEventAttributes?.scheduledEventId ??
            e.activityTaskFailedEventAttributes?.scheduledEventId ??
            e.activityTaskCanceledEventAttributes?.scheduledEventId;
          if (closedId) open.delete(Number(closedId));
          if (
            e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED &&
            e.workflowTaskStartedEventAttributes?.suggestContinueAsNew
          ) {
            const kinds = [...open.values()];
            if (kinds.includes('cloacina.validateResume')) duringValidation++;
            if (kinds.includes('cloacina.runTask')) duringTask++;
          }
        }
      }
      // How often the suggestion met a validation or a task attempt depends on the machine's pace; the
      // test below makes the task case happen on purpose.
      assert.ok(
        duringValidation + duringTask > 0,
        'continue-as-new was suggested while an activity was open',
      );
      console.log(
        `      soak: ${cycles} cycles, ${status.continuedAsNew} continue-as-new, largest carried input ` +
          `${largest} bytes, ${audit.length} audit lines read back, ${seconds.toFixed(0)} s ` +
          `(suggested during validation ${duringValidation}×, during a task ${duringTask}×; ` +
          `${retried} resumes sent again after AlreadyResuming)`,
      );
    });
  });
});

describe('long lives on the shared server', () => {
  it(`a fan-out wider than ${MAX_IN_FLIGHT} tasks keeps at most ${MAX_IN_FLIGHT} attempts in flight`, async function () {
    this.timeout(180_000);
    const width = MAX_IN_FLIGHT + 200;
    const wf = defineWorkflow({
      name: 'in_flight_cap',
      tasks: Array.from({ length: width }, (_, i) =>
        task({ id: `t${i}` }, (ctx) => void ctx.set(`t${i}`, i)),
      ),
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.result();
      const status = await h.status();
      assert.equal(Object.values(status.tasks).filter((t) => t.state === 'completed').length, width);
      // From the history: attempts scheduled and not yet ended, at every event of every run.
      let most = 0;
      let scheduled = 0;
      for (const { events } of await chainHistory(h.workflowId)) {
        let open = 0;
        for (const e of events) {
          if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'cloacina.runTask') {
            scheduled++;
            most = Math.max(most, ++open);
          } else if (
            e.activityTaskCompletedEventAttributes ??
            e.activityTaskFailedEventAttributes ??
            e.activityTaskTimedOutEventAttributes ??
            e.activityTaskCanceledEventAttributes
          ) {
            open--;
          }
        }
      }
      assert.equal(scheduled, width);
      assert.equal(most, MAX_IN_FLIGHT, `at most ${most} attempts were in flight at once`);
    });
  });

  it(`a fan-out of ${2 * MAX_IN_FLIGHT} tasks keeps its workflow tasks short: the server never force-closes one`, async function () {
    // A workflow task that runs while more than `history.maximumBufferedEventsBatch` (100) events arrive
    // is failed by the server (FORCE_CLOSE_COMMAND), and the run is replayed from its first event.
    this.timeout(180_000);
    const width = 2 * MAX_IN_FLIGHT;
    const wf = defineWorkflow({
      name: 'short_workflow_tasks',
      tasks: Array.from({ length: width }, (_, i) => task({ id: `t${i}` }, () => undefined)),
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.result();
      const failed: string[] = [];
      let completed = 0;
      for (const { events } of await chainHistory(h.workflowId)) {
        for (const e of events) {
          const f = e.workflowTaskFailedEventAttributes;
          if (f)
            failed.push(
              `event ${String(e.eventId)}: ${temporal.api.enums.v1.WorkflowTaskFailedCause[f.cause ?? 0]}`,
            );
          if (e.activityTaskCompletedEventAttributes) completed++;
        }
      }
      assert.equal(completed, width);
      assert.deepEqual(failed, [], 'workflow tasks failed');
    });
  });

  it(`a full window of ${MAX_IN_FLIGHT} held tasks skipped at once frees its slots: the task after them runs`, async function () {
    this.timeout(180_000);
    const ids = Array.from({ length: MAX_IN_FLIGHT }, (_, i) => `t${i}`);
    const wf = defineWorkflow({
      name: 'skip_full_window',
      pausePolicy: { onTaskFailure: 'pause' },
      tasks: [
        ...ids.map((id) =>
          task({ id, retry: { attempts: 1 } }, () => {
            throw new Error('fails');
          }),
        ),
        task({ id: 'after', dependencies: ids }, (ctx) => void ctx.set('after', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      // Every task of the window failed and is held; the run is paused on them.
      await h.waitUntil((s) => s.state === 'paused' && ids.every((id) => s.tasks[id]?.state === 'held'), {
        timeout: 120_000,
      });
      // All of them leave the window in one workflow task.
      await h.resume({ skip: ids, reason: 'optional' });
      const done = await h.waitUntil((s) => s.tasks.after?.state === 'completed', { timeout: 60_000 });
      assert.equal(done.state, 'completed');
      assert.deepEqual(await h.result(), { after: true });
      const st = await h.status();
      assert.equal(ids.filter((id) => st.tasks[id]?.state === 'skipped').length, MAX_IN_FLIGHT);
      assert.equal(st.tasks.after?.state, 'completed');
    });
  });

  it('every accepted pause leaves an audit line, a second one on a paused run too', async () => {
    const wf = defineWorkflow({
      name: 'second_pause',
      tasks: [task({ id: 'a', pauseBefore: { approvers: ['ops'] } }, () => undefined)],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1);
      const first = await h.pause({ by: 'alice', reason: 'maintenance', requestId: 'one' });
      const second = await h.pause({ by: 'bob', reason: 'also maintenance', requestId: 'two' });
      assert.equal(second.duplicate, false);
      assert.equal(second.pause?.pauseId, first.pause?.pauseId);
      const st = await h.status();
      const lines = st.audit.filter((a) => a.action === 'pause');
      assert.deepEqual(
        lines.map((a) => [a.by, a.reason, a.requestId, a.pauseId]),
        [
          ['alice', 'maintenance', 'one', first.pause?.pauseId],
          ['bob', 'also maintenance', 'two', first.pause?.pauseId],
        ],
      );
      assert.match(lines[1]!.message ?? '', /already paused \(pause \d+ by alice\): joined it/);
      await h.cancel();
    });
  });

  it('maxPause bounds gates and failure pauses as well as manual ones', async function () {
    this.timeout(60_000);
    let failures = 0;
    const wf = defineWorkflow({
      name: 'max_pause_all',
      pausePolicy: { maxPause: 1500, onMaxPause: 'resume', onTaskFailure: 'pause' },
      tasks: [
        task({ id: 'gated', pauseBefore: { approvers: ['nobody'] } }, (ctx) => void ctx.set('gated', true)),
        task({ id: 'flaky', retry: { attempts: 1 } }, (ctx) => {
          if (failures++ === 0) throw new Error('first run fails');
          ctx.set('flaky', true);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const out = await h.result();
      assert.equal(out.gated ?? out.flaky, true);
      const audit = await wholeAudit(executor, h.workflowId, 100);
      const gateEnd = audit.find((a) => a.action === 'expired' && a.kind === 'gate');
      assert.equal(gateEnd?.by, 'system:maxPause');
      const failureEnd = audit.find((a) => a.action === 'expired' && a.kind === 'failure');
      assert.equal(failureEnd?.by, 'system:expiry');
      const gateOpened = audit.find((a) => a.action === 'gate')!;
      const failurePause = audit.find((a) => a.action === 'pause' && a.kind === 'failure')!;
      // Each pause ends in the first workflow task at or after the instant maxPause after it began (the
      // workflow time of that task is the expiry line's time), through a timer due at that instant; or,
      // for the later one, when it came due while the earlier expiry was handled, in that same task.
      const runs = await chainHistory(h.workflowId);
      const dues = timerDues(runs).map((d) => d.due);
      const ends = [
        [gateOpened, gateEnd],
        [failurePause, failureEnd],
      ] as const;
      for (const [start, end] of ends) {
        const due = Date.parse(start.at) + 1500;
        const expiredIn = taskStartedAtOrAfter(runs, due);
        assert.ok(
          Math.abs(Date.parse(end.at) - expiredIn) <= 2,
          `${end.kind} pause due at ${new Date(due).toISOString()} expired at ${end.at}, in the task of ${new Date(expiredIn).toISOString()}`,
        );
        const timed = dues.some((d) => Math.abs(d - due) <= 2);
        const first = ends.every(([other]) => Date.parse(other.at) + 1500 >= due);
        const together = !first && ends.every(([, e]) => e.at === end.at);
        assert.ok(
          timed || together,
          `no timer due at ${new Date(due).toISOString()} for the ${end.kind} pause (timers due at ${dues.map((d) => new Date(d).toISOString()).join(', ')})`,
        );
      }
      assert.equal(failures, 2);
    });
  });

  it('reads status, context and audit of completed, failed, cancelled, terminated and timed-out runs with no worker', async function () {
    this.timeout(120_000);
    const wf = defineWorkflow({
      name: 'closed_reads',
      tasks: [
        task({ id: 'first' }, (ctx) => void ctx.set('first', ctx.get('mode') ?? null)),
        task({ id: 'second', dependencies: ['first'], retry: { attempts: 1 } }, (ctx) => {
          if (ctx.get('mode') === 'fail') throw new Error('second fails');
          ctx.set('second', true);
        }),
        task(
          {
            id: 'gate',
            dependencies: ['second'],
            triggerRule: trigger.taskSuccess('second'),
            pauseBefore: { approvers: ['ops'] },
          },
          (ctx) => void ctx.set('gate', true),
        ),
      ],
    });
    const ids: Record<string, string> = {};
    let executor!: UnifiedExecutor;
    await withWorker([wf], async (env) => {
      executor = env.executor;
      const done = await executor.executeAsync(wf, { mode: 'ok' });
      await done.waitUntil((s) => s.gates.length === 1);
      await done.approve('gate', { by: 'ops' });
      await done.result();
      ids.completed = done.workflowId;
      const failed = await executor.executeAsync(wf, { mode: 'fail' });
      await failed.result().catch(() => undefined);
      ids.failed = failed.workflowId;
      const cancelled = await executor.executeAsync(wf, { mode: 'cancel' });
      await cancelled.waitUntil((s) => s.gates.length === 1);
      await cancelled.pause({ by: 'ops', reason: 'stop here' });
      await cancelled.cancel();
      await cancelled.result().catch(() => undefined);
      ids.cancelled = cancelled.workflowId;
      const terminated = await executor.executeAsync(wf, { mode: 'terminate' });
      await terminated.waitUntil((s) => s.gates.length === 1);
      await terminated.pause({ by: 'ops', reason: 'about to terminate' });
      await env.client.workflow.getHandle(terminated.workflowId).terminate('operator ended it');
      ids.terminated = terminated.workflowId;
      const timedOutId = `closed_reads-timeout-${randomUUID()}`;
      await env.client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: env.taskQueue,
        workflowId: timedOutId,
        args: [{ spec: wf.spec, context: { mode: 'timeout' } }],
        workflowExecutionTimeout: '3s',
      });
      const timedOut = executor.getHandle(timedOutId);
      await timedOut.waitUntil((s) => s.gates.length === 1);
      ids.timedOut = timedOutId;
      await timedOut.result().catch(() => undefined);
    });
    // The worker has stopped: every read below is served by the history.
    const expect: Record<string, { state: string; context: Record<string, unknown> }> = {
      completed: { state: 'completed', context: { mode: 'ok', first: 'ok', second: true, gate: true } },
      failed: { state: 'failed', context: { mode: 'fail', first: 'fail' } },
      cancelled: { state: 'cancelled', context: { mode: 'cancel', first: 'cancel', second: true } },
      terminated: { state: 'terminated', context: { mode: 'terminate', first: 'terminate', second: true } },
      timedOut: { state: 'timedOut', context: { mode: 'timeout', first: 'timeout', second: true } },
    };
    for (const [kind, id] of Object.entries(ids)) {
      const st = await executor.getStatus(id);
      assert.equal(st.state, expect[kind]!.state, `${kind}: state`);
      assert.equal(st.tasks.first?.state, 'completed', `${kind}: task records`);
      assert.deepEqual(await executor.getContext(id), expect[kind]!.context, `${kind}: context`);
      const audit = await executor.getAudit(id);
      const actions = audit.entries.map((a) => a.action);
      assert.deepEqual(
        actions.slice(0, 1),
        kind === 'failed' ? [] : ['gate'],
        `${kind}: audit ${actions.join(',')}`,
      );
      if (kind === 'terminated') {
        assert.equal(st.error?.message, 'operator ended it');
        assert.ok(audit.entries.some((a) => a.action === 'pause' && a.reason === 'about to terminate'));
      }
      if (kind === 'cancelled') {
        // The pause ended with the run: its line, then its ending line.
        assert.equal(st.pause, null);
        assert.deepEqual(
          audit.entries.filter((a) => a.kind === 'manual').map((a) => [a.action, a.by, a.reason]),
          [
            ['pause', 'ops', 'stop here'],
            ['resume', 'system:end', 'the run ended while paused'],
          ],
        );
      }
    }
  });
});
