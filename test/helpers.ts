// Shared test helpers: the server from the global fixture, a fresh task queue and worker per test, and
// the real `temporal` CLI as a client.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import {
  CombinedWorkerRunError,
  NativeConnection,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import type { DevServerHandle } from '../temporal-dev';
import { UnifiedExecutor } from '../src/executor';
import { createWorker, bundleWorkflows, type CreateWorkerOptions } from '../src/worker';
import type { WorkflowDefinition } from '../src/definitions';
import type { RunTaskInput } from '../workflows/activity-contract';

const run = promisify(execFile);
let server: DevServerHandle | undefined;
let nativeConnection: Promise<NativeConnection> | undefined;
let clientPromise: Promise<Client> | undefined;

/** The test server's shared worker connection. */
export function testNativeConnection(): Promise<NativeConnection> {
  nativeConnection ??= NativeConnection.connect({ address: testServer().address });
  return nativeConnection;
}

/** Replays a history with the current workflow code; throws on a nondeterminism error. */
export async function replayHistory(history: temporal.api.history.v1.IHistory, name: string): Promise<void> {
  await Worker.runReplayHistory({ workflowBundle: await bundleWorkflows() }, history, name);
}

/** Called by the global fixture. */
export function setServer(s: DevServerHandle): void {
  server = s;
}

/** The server every test uses. */
export function testServer(): DevServerHandle {
  if (!server)
    throw new Error('The Temporal test server is not started: run tests through mocha with test/setup');
  return server;
}

/** A shared SDK client. */
export function testClient(): Promise<Client> {
  // Room for histories of megabytes of payloads, which every test's replay reads.
  clientPromise ??= Connection.connect({
    address: testServer().address,
    channelArgs: { 'grpc.max_receive_message_length': 256 * 1024 * 1024 },
  }).then(
    (connection) => new Client({ connection, namespace: testServer().namespace, identity: 'test-client' }),
  );
  return clientPromise;
}

/** A fresh, unique task queue name. */
export function freshTaskQueue(prefix = 'test'): string {
  return `${prefix}-${randomUUID()}`;
}

/** Everything a test needs to run workflows. */
export interface TestEnv {
  taskQueue: string;
  executor: UnifiedExecutor;
  client: Client;
  worker: Worker;
}

/** Creates a worker on a fresh task queue for `workflows` and runs `fn` while it polls. */
export async function withWorker<T>(
  workflows: WorkflowDefinition[],
  fn: (env: TestEnv) => Promise<T>,
  options: {
    identity?: string;
    taskQueue?: string;
    workflowBundle?: WorkflowBundleWithSourceMap;
    workerOptions?: CreateWorkerOptions['workerOptions'];
    /**
     * Replay every run on the task queue with the worker's bundle once `fn` succeeds (default true): any
     * history the test produced must replay. Off only where a test makes histories that must not.
     */
    replay?: boolean;
  } = {},
): Promise<T> {
  const taskQueue = options.taskQueue ?? freshTaskQueue();
  const worker = await createWorker({
    workflows,
    taskQueue,
    connection: await testNativeConnection(),
    namespace: testServer().namespace,
    workflowBundle: options.workflowBundle ?? (await bundleWorkflows()),
    // A failed assertion must not leave the test waiting on a task that ignores cancellation.
    workerOptions: { shutdownGraceTime: '1s', shutdownForceTime: '5s', ...options.workerOptions },
  });
  const client = await testClient();
  const executor = new UnifiedExecutor(client, { taskQueue, identity: options.identity ?? 'test-operator' });
  let result: T;
  try {
    result = await worker.runUntil(fn({ taskQueue, executor, client, worker }));
  } catch (err) {
    // Show the test's own failure rather than the worker's shutdown error that wraps it.
    if (err instanceof CombinedWorkerRunError && err.cause.innerError) throw err.cause.innerError;
    throw err;
  }
  if (options.replay !== false) await replayTaskQueue(taskQueue, options.workflowBundle);
  return result;
}

/**
 * Replays every run a task queue's workflows made (each run of a continue-as-new chain, open or closed)
 * with `bundle` (the library's by default); throws naming every run that no longer replays. Returns how
 * many runs were replayed. The workflows are found by visibility, and each one's chain is then walked
 * from its first run, so a run not yet visible is replayed all the same.
 */
export async function replayTaskQueue(
  taskQueue: string,
  bundle?: WorkflowBundleWithSourceMap,
  client?: Client,
): Promise<number> {
  const c = client ?? (await testClient());
  const ids = new Set<string>();
  const query = `TaskQueue = '${taskQueue.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  for await (const info of c.workflow.list({ query })) ids.add(info.workflowId);
  const histories: { workflowId: string; history: temporal.api.history.v1.IHistory }[] = [];
  const byRun = new Map<string, temporal.api.history.v1.IHistory>();
  for (const workflowId of ids) {
    for (const { runId, events } of await chainHistory(workflowId, c)) {
      const history = { events };
      histories.push({ workflowId, history });
      byRun.set(runId, history);
    }
  }
  if (histories.length === 0) return 0;
  const failures: string[] = [];
  for await (const r of Worker.runReplayHistories(
    { workflowBundle: bundle ?? (await bundleWorkflows()) },
    histories,
  )) {
    if (!r.error) continue;
    // Kept for inspection: the history that no longer replays, as JSON.
    const file = path.join(tmpdir(), 'replay-failures', `${r.workflowId}-${r.runId}.json`);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, JSON.stringify(byRun.get(r.runId) ?? null));
    failures.push(
      `${r.workflowId} (run ${r.runId}, history in ${file}): ${r.error.name}: ${r.error.message}`,
    );
  }
  if (failures.length > 0)
    throw new Error(
      `${failures.length} of ${histories.length} histories on task queue ${taskQueue} do not replay with the current workflow code:\n  ${failures.join('\n  ')}`,
    );
  return histories.length;
}

/** Runs the real `temporal` CLI against the test server; returns stdout. */
export async function temporalCli(args: string[]): Promise<string> {
  const s = testServer();
  const { stdout } = await run(s.cli, [...args, '--address', s.address, '--namespace', s.namespace], {
    timeout: 30_000,
  });
  return stdout;
}

/** Sends a signal with a raw JSON payload through the real `temporal` CLI. */
export async function signalCli(workflowId: string, name: string, input: string): Promise<void> {
  await temporalCli(['workflow', 'signal', '--workflow-id', workflowId, '--name', name, '--input', input]);
}

/** Polls `fn` until it returns a truthy value (or throws after `timeoutMs`). */
export async function eventually<T>(
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `Timed out waiting for ${what}${last ? `: ${last instanceof Error ? last.message : JSON.stringify(last)}` : ''}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Sleeps (for letting time pass in tests that check nothing starts). */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One attempt of a task, as the event history records it. */
export interface TaskStart {
  taskId: string;
  /** The attempt number the workflow passed to the task runner (1-based). */
  attempt: number;
  /** When the workflow scheduled the attempt (epoch ms, the ActivityTaskScheduled event's time). */
  at: number;
  /** When the attempt ended (completed, failed, timed out or cancelled), if it has. */
  endedAt?: number;
  outcome?: 'completed' | 'failed' | 'timedOut' | 'cancelled';
  /** The run of the continue-as-new chain that scheduled it. */
  runId: string;
}

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** An event's time as epoch ms. */
export function eventTimeMs(e: HistoryEvent): number {
  const t = e.eventTime;
  if (!t) throw new Error(`history event ${String(e.eventId)} has no time`);
  return Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6);
}

/**
 * The events of every run of a workflow's continue-as-new chain, oldest run first: from the first run,
 * following each run's `newExecutionRunId`.
 */
export async function chainHistory(
  workflowId: string,
  c?: Client,
): Promise<{ runId: string; events: HistoryEvent[] }[]> {
  const client = c ?? (await testClient());
  const d = await client.workflow.getHandle(workflowId).describe();
  let runId: string | undefined = d.raw.workflowExecutionInfo?.firstRunId || d.runId;
  const runs: { runId: string; events: HistoryEvent[] }[] = [];
  while (runId) {
    const events: HistoryEvent[] =
      (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
    runs.push({ runId, events });
    runId =
      events[events.length - 1]?.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ||
      undefined;
  }
  return runs;
}

/**
 * Every timer of a chain with the workflow time it is due at: the workflow time of the task that started
 * it (`Date.now()` there) plus its duration. A due time carried across continue-as-new gives every timer
 * of one wait the same due time; a wait restarted by a new run gives a later one.
 */
export function timerDues(runs: { events: HistoryEvent[] }[]): { run: number; due: number }[] {
  const out: { run: number; due: number }[] = [];
  runs.forEach(({ events }, run) => {
    let taskTime = NaN;
    for (const e of events) {
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED) taskTime = eventTimeMs(e);
      const started = e.timerStartedEventAttributes;
      if (started) {
        const d = started.startToFireTimeout;
        out.push({ run, due: taskTime + Number(d?.seconds ?? 0) * 1000 + Math.round((d?.nanos ?? 0) / 1e6) });
      }
    }
  });
  return out;
}

/** The index of the run holding the first workflow task started at or after `t` (ms). */
export function runOfTaskAfter(runs: { events: HistoryEvent[] }[], t: number): number {
  return runs.findIndex(({ events }) =>
    events.some((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED && eventTimeMs(e) >= t),
  );
}

/**
 * The workflow time of the workflow task that did something at `t` (ms): the last WorkflowTaskStarted at
 * or before it, across the chain (`Date.now()` inside that task); NaN if none.
 */
export function taskStartedAtOrBefore(runs: { events: HistoryEvent[] }[], t: number): number {
  let last = NaN;
  for (const { events } of runs)
    for (const e of events)
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED && eventTimeMs(e) <= t)
        last = eventTimeMs(e);
  return last;
}

/** The time of the first workflow task started at or after `t` (ms), across the chain; NaN if none. */
export function taskStartedAtOrAfter(runs: { events: HistoryEvent[] }[], t: number): number {
  for (const { events } of runs)
    for (const e of events)
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED && eventTimeMs(e) >= t)
        return eventTimeMs(e);
  return NaN;
}

/**
 * Every task attempt a run scheduled (`cloacina.runTask` activities), oldest first, across its whole
 * continue-as-new chain, read from the event history: what really started, whatever the run reports.
 */
export async function taskStarts(workflowId: string): Promise<TaskStart[]> {
  const out: TaskStart[] = [];
  for (const { runId, events } of await chainHistory(workflowId)) {
    const byEventId = new Map<string, TaskStart>();
    for (const e of events) {
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched) {
        if (sched.activityType?.name !== 'cloacina.runTask') continue;
        const input = defaultPayloadConverter.fromPayload<RunTaskInput>(sched.input!.payloads![0]!);
        const start: TaskStart = { taskId: input.taskId, attempt: input.attempt, at: eventTimeMs(e), runId };
        byEventId.set(String(e.eventId), start);
        out.push(start);
        continue;
      }
      const ends = [
        ['completed', e.activityTaskCompletedEventAttributes],
        ['failed', e.activityTaskFailedEventAttributes],
        ['timedOut', e.activityTaskTimedOutEventAttributes],
        ['cancelled', e.activityTaskCanceledEventAttributes],
      ] as const;
      for (const [outcome, attrs] of ends) {
        const start = attrs ? byEventId.get(String(attrs.scheduledEventId)) : undefined;
        if (start) Object.assign(start, { outcome, endedAt: eventTimeMs(e) });
      }
    }
  }
  return out;
}

/** The time of an audit line (epoch ms): workflow time, on the same clock as the event history. */
export const auditTime = (entry: { at: string }): number => Date.parse(entry.at);

/** The attempts scheduled strictly between two instants (epoch ms). */
export function startsBetween(starts: TaskStart[], from: number, to: number): TaskStart[] {
  return starts.filter((s) => s.at > from && s.at < to);
}

/** A compact form of attempts for messages and deep equality: `task#attempt`. */
export const describeStarts = (starts: TaskStart[]): string[] =>
  starts.map((s) => `${s.taskId}#${s.attempt}`);

/**
 * Runs `fn` with an executor and a worker of `workflows` on their own connections to `address` (not the
 * shared test server): for tests that stop or kill their own server between phases.
 */
export async function withOwnStack<T>(
  address: string,
  taskQueue: string,
  workflows: WorkflowDefinition[],
  fn: (executor: UnifiedExecutor) => Promise<T>,
): Promise<T> {
  const native = await NativeConnection.connect({ address });
  const connection = await Connection.connect({ address });
  const executor = new UnifiedExecutor(new Client({ connection }), { taskQueue, identity: 'ops' });
  const worker = await createWorker({
    workflows,
    taskQueue,
    connection: native,
    workflowBundle: await bundleWorkflows(),
  });
  try {
    return await worker.runUntil(fn(executor));
  } finally {
    await connection.close();
    await native.close();
  }
}

/** A gate a test opens by hand, e.g. to hold a task in flight until it has checked something. */
export function latch(): { open: () => void; opened: Promise<void> } {
  let open!: () => void;
  const opened = new Promise<void>((r) => (open = r));
  return { open, opened };
}
