import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { temporal } from '@temporalio/proto';
import { CloacinaError, defineWorkflow, task, UnifiedExecutor, type ExecutionHandle } from '../../src';
import {
  CloacinaAudit,
  CloacinaGate,
  CloacinaPausedBy,
  CloacinaPauseReason,
  MAX_AUDIT_ATTRIBUTE_BYTES,
  SEARCH_ATTRIBUTES,
} from '../../workflows/search-attributes';
import { ensureSearchAttributes } from '../../temporal-dev';
import { Client, Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { eventually, freshTaskQueue, temporalCli, testClient, testServer, withWorker } from '../helpers';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** An event as `TYPE[:detail]`: the marker's name, the activity's type, the search attributes upserted. */
function describeEvent(e: HistoryEvent): string {
  const type = EventType[e.eventType!].replace('EVENT_TYPE_', '');
  const sa = e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields;
  if (sa) return `${type}:${CloacinaAudit.name in sa ? 'with audit' : 'no audit'}`;
  const marker = e.markerRecordedEventAttributes?.markerName;
  if (marker) return `${type}:${marker}`;
  const activity = e.activityTaskScheduledEventAttributes?.activityType?.name;
  if (activity) return `${type}:${activity}`;
  return type;
}

async function eventsSince(h: ExecutionHandle, from: number, client: import('@temporalio/client').Client) {
  const events = (await client.workflow.getHandle(h.workflowId).fetchHistory()).events ?? [];
  return events.slice(from);
}

/**
 * An executor on its own connection to the test server, with the SDK's defaults but `channelArgs` (the
 * tests' shared client receives more than a default one).
 */
async function ownReader(
  taskQueue: string,
  channelArgs?: Record<string, number>,
): Promise<{ ex: UnifiedExecutor; close: () => Promise<void> }> {
  const connection = await Connection.connect({ address: testServer().address, channelArgs });
  const ex = new UnifiedExecutor(new Client({ connection, namespace: testServer().namespace }), {
    taskQueue,
  });
  return { ex, close: () => connection.close() };
}

/** A gated task `g` and a task `next` after it, each setting its own key. */
function gateThenNext(options: Omit<Parameters<typeof defineWorkflow>[0], 'tasks'>) {
  return defineWorkflow({
    ...options,
    tasks: [
      task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('g', true)),
      task({ id: 'next', dependencies: ['g'] }, (ctx) => void ctx.set('next', true)),
    ],
  });
}

const CYCLE_HALF = [
  'WORKFLOW_TASK_SCHEDULED',
  'WORKFLOW_TASK_STARTED',
  'WORKFLOW_TASK_COMPLETED',
  'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:with audit',
];

// What one pause and one resume write to the history: the workflow tasks the requests need, one upsert of
// the search attributes that carries the audit lines, and (for a resume that validates) the validation
// activity.
describe('history events of a pause/resume cycle', function () {
  this.timeout(90_000);

  it('by signals: ten events, the audit lines in the search attribute upserts, read back with no worker', async () => {
    const wf = defineWorkflow({
      name: 'budget_signals',
      pausePolicy: { verifyTasksOnResume: false },
      tasks: [task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true))],
    });
    let workflowId = '';
    let from = 0;
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      workflowId = h.workflowId;
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      from = (await eventsSince(h, 0, client)).length;
      const raw = client.workflow.getHandle(h.workflowId);
      await raw.signal('cloacina.pause', { by: 'ops', reason: 'disk full' });
      await h.waitUntil((s) => s.pause?.kind === 'manual', { timeout: 20_000 });
      await raw.signal('cloacina.resume', { by: 'ops', reason: 'disk freed' });
      await h.waitUntil((s) => s.pause?.kind === 'gate', { timeout: 20_000 });
      const cycle = (await eventsSince(h, from, client)).map(describeEvent);
      assert.deepEqual(cycle, [
        'WORKFLOW_EXECUTION_SIGNALED',
        ...CYCLE_HALF,
        'WORKFLOW_EXECUTION_SIGNALED',
        ...CYCLE_HALF,
      ]);
    });
    // The worker is gone: the trail is read from the history.
    {
      const executor = new UnifiedExecutor(await testClient(), { taskQueue: freshTaskQueue('none') });
      const trail = (await executor.getAudit(workflowId)).entries;
      assert.deepEqual(
        trail.map((a) => [a.seq, a.action, a.by, a.reason]),
        [
          [1, 'gate', 'gate', 'approval required before `g`'],
          [2, 'pause', 'ops', 'disk full'],
          [3, 'resume', 'ops', 'disk freed'],
        ],
      );
      await executor.cancelExecution(workflowId);
    }
  });

  it('by updates with the task registry check: the validation activity, nineteen events', async () => {
    const wf = gateThenNext({ name: 'budget_updates' });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      const from = (await eventsSince(h, 0, client)).length;
      await h.pause({ reason: 'maintenance', by: 'ops' });
      const resumed = await h.resume({ by: 'ops' });
      assert.equal(resumed.pause?.kind, 'gate');
      const cycle = (await eventsSince(h, from, client)).map(describeEvent);
      assert.deepEqual(cycle, [
        ...CYCLE_HALF.slice(0, 3),
        'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
        'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:with audit',
        'WORKFLOW_EXECUTION_UPDATE_COMPLETED',
        ...CYCLE_HALF.slice(0, 3),
        'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
        'ACTIVITY_TASK_SCHEDULED:cloacina.validateResume',
        'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:no audit',
        'ACTIVITY_TASK_STARTED',
        'ACTIVITY_TASK_COMPLETED',
        ...CYCLE_HALF.slice(0, 3),
        'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:with audit',
        'WORKFLOW_EXECUTION_UPDATE_COMPLETED',
      ]);
      const resume = (await executor.getAudit(h.workflowId)).entries.find((a) => a.action === 'resume')!;
      assert.match(resume.message ?? '', /registered/);
      await h.approve('g', { by: 'ops' });
      assert.deepEqual(await h.result(), { g: true, next: true });
    });
  });

  it('a validateResume slower than the heartbeat interval: its refusal refuses the resume, and is audited', async () => {
    let calls = 0;
    const wf = gateThenNext({
      name: 'budget_slow_validator',
      validateResume: async () => {
        calls++;
        await new Promise((r) => setTimeout(r, 2500));
        return calls >= 2 ? true : { ok: false, reason: 'not yet: the first check refuses' };
      },
    });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      await h.pause({ reason: 'check', by: 'ops' });
      await assert.rejects(h.resume({ by: 'ops' }), /not yet: the first check refuses/);
      assert.equal((await h.status()).pause?.kind, 'manual');
      await h.resume({ by: 'ops' });
      assert.equal(calls, 2);
      await h.approve('g', { by: 'ops' });
      assert.deepEqual(await h.result(), { g: true, next: true });
      const events = await eventsSince(h, 0, client);
      const validations = events.filter(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'cloacina.validateResume',
      );
      assert.equal(validations.length, 2, 'one validation activity per resume');
      const rejected = (await h.audit()).entries.find((a) => a.action === 'rejected');
      assert.match(rejected?.message ?? '', /not yet: the first check refuses/);
      assert.deepEqual(
        events.filter((e) => e.workflowTaskFailedEventAttributes),
        [],
        'no workflow task failed',
      );
    });
  });

  it(`audit lines over ${MAX_AUDIT_ATTRIBUTE_BYTES} bytes go to a memo upsert, and the trail reads back whole`, async () => {
    const wf = defineWorkflow({
      name: 'budget_long_reason',
      pausePolicy: { verifyTasksOnResume: false },
      tasks: [task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true))],
    });
    // 1,000 characters of three UTF-8 bytes each: within the reason's limit, over the attribute's.
    const reason = '€'.repeat(1000);
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      const from = (await eventsSince(h, 0, client)).length;
      await h.pause({ reason, by: 'ops' });
      await h.resume({ by: 'ops', reason: 'short' });
      const cycle = (await eventsSince(h, from, client)).map(describeEvent);
      assert.deepEqual(cycle, [
        ...CYCLE_HALF.slice(0, 3),
        'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
        'WORKFLOW_PROPERTIES_MODIFIED',
        'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:no audit',
        'WORKFLOW_EXECUTION_UPDATE_COMPLETED',
        ...CYCLE_HALF.slice(0, 3),
        'WORKFLOW_EXECUTION_UPDATE_ACCEPTED',
        'UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:with audit',
        'WORKFLOW_EXECUTION_UPDATE_COMPLETED',
      ]);
      const trail = (await executor.getAudit(h.workflowId)).entries;
      assert.deepEqual(
        trail.map((a) => [a.seq, a.action, a.reason]),
        [
          [1, 'gate', 'approval required before `g`'],
          [2, 'pause', reason],
          [3, 'resume', 'short'],
        ],
      );
      await h.cancel();
    });
  });

  it('a history of refused megabyte signals reads back: audit, status after the run ends, the CLI', async () => {
    const wf = defineWorkflow({
      name: 'budget_big_signals',
      tasks: [task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true))],
    });
    await withWorker([wf], async ({ executor, client, taskQueue }) => {
      // Read with a client of the SDK's defaults (the tests' shared one receives more).
      const plain = await ownReader(taskQueue);
      const reader = plain.ex;
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      // Six signals of about 1.3 MB each: each under the server's 2 MB payload limit, each refused (the
      // reason's limit is 1,000 characters), each kept whole in the history.
      const raw = client.workflow.getHandle(h.workflowId);
      for (let i = 0; i < 6; i++)
        await raw.signal('cloacina.pause', { by: 'flood', reason: String(i).repeat(1_300_000) });
      const rejected = async () =>
        (await reader.getAudit(h.workflowId)).entries.filter((a) => a.action === 'rejected');
      await eventually(async () => ((await rejected()).length === 6 ? true : undefined), 20_000);
      // The run continues as new once its history passes the server's 4 MB suggestion: its first run
      // holds more than one response may carry.
      const first = (await raw.describe()).raw.workflowExecutionInfo?.firstRunId ?? '';
      const firstRun = await client.workflow.getHandle(h.workflowId, first).describe();
      assert.ok(
        (firstRun.historySize ?? 0) > 4_300_000,
        `first run's history: ${firstRun.historySize} bytes`,
      );
      await h.cancel();
      const st = await reader.getStatus(h.workflowId);
      assert.equal(st.state, 'cancelled');
      assert.equal(st.audit.filter((a) => a.action === 'rejected').length, 6);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [path.join(__dirname, '..', '..', 'src', 'cli.js'), 'audit', h.workflowId, '--json'],
        {
          env: {
            ...process.env,
            TEMPORAL_ADDRESS: testServer().address,
            TEMPORAL_NAMESPACE: testServer().namespace,
          },
          maxBuffer: 64 * 1024 * 1024,
        },
      );
      const page = JSON.parse(stdout) as { entries: { action: string }[] };
      assert.equal(page.entries.filter((a) => a.action === 'rejected').length, 6);
      await plain.close();
    });
  });

  it('a history page a client cannot receive is asked again with fewer events; one event too large names the channel argument', async () => {
    const wf = defineWorkflow({
      name: 'budget_small_client',
      tasks: [task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true))],
    });
    await withWorker([wf], async ({ executor, client, taskQueue }) => {
      const reader = (maxReceive: number) =>
        ownReader(taskQueue, { 'grpc.max_receive_message_length': maxReceive });
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      // Eight refused signals of about 60 KB among small events, each taken in its own workflow task (the
      // server never splits the events it wrote together): the page the run's average event size gives
      // (all of it, about half a megabyte) is more than a client receiving 200 KB takes; a page of a few
      // events is not; a single signal is more than a client receiving 40 KB takes.
      const raw = client.workflow.getHandle(h.workflowId);
      const rejected = async () =>
        (await executor.getAudit(h.workflowId)).entries.filter((a) => a.action === 'rejected').length;
      for (let i = 1; i <= 8; i++) {
        await raw.signal('cloacina.pause', { by: 'big', reason: String(i).repeat(60_000) });
        await eventually(async () => ((await rejected()) === i ? true : undefined), 20_000);
      }
      const size = (await raw.describe()).historySize ?? 0;
      assert.ok(size > 450_000, `history of ${size} bytes`);
      const small = await reader(200_000);
      try {
        const audit = await small.ex.getAudit(h.workflowId);
        assert.equal(audit.entries.filter((a) => a.action === 'rejected').length, 8);
      } finally {
        await small.close();
      }
      const tiny = await reader(40_000);
      try {
        await assert.rejects(
          tiny.ex.getAudit(h.workflowId),
          (err: unknown) =>
            err instanceof CloacinaError &&
            new RegExp(
              `^A page of workflow \`${h.workflowId}\`'s history could not be received even at one event a page \\(the server sends the events it wrote together, such as the signals that came during one workflow task, in one page\\): it is larger than this client receives \\(40000 bytes\\) or took over 5 s \\(.+\\): connect with a larger \`grpc\\.max_receive_message_length\` in the Connection's channelArgs$`,
            ).test(err.message),
        );
        // A run whose input alone is more than the client takes: its start event cannot be read.
        const big = await executor.executeAsync(wf, { blob: 'x'.repeat(100_000) });
        await assert.rejects(
          tiny.ex.getAudit(big.workflowId),
          (err: unknown) =>
            err instanceof CloacinaError &&
            err.message.startsWith(
              `The start of run \`${big.runId}\` of workflow \`${big.workflowId}\` (its input, with the state carried into it) could not be received: it is larger than this client receives (40000 bytes) or took over 5 s (`,
            ) &&
            err.message.endsWith(
              "connect with a larger `grpc.max_receive_message_length` in the Connection's channelArgs",
            ),
        );
        await big.cancel();
      } finally {
        await tiny.close();
      }
      await h.cancel();
    });
  });

  it('after a reset the audit trail is that of the new run: lines up to the reset point, then its own', async () => {
    const wf = defineWorkflow({
      name: 'budget_reset_audit',
      pausePolicy: { verifyTasksOnResume: false },
      tasks: [task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true))],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1, { timeout: 20_000 });
      await h.pause({ by: 'ops', reason: 'before the reset point' });
      const evs = (await client.workflow.getHandle(h.workflowId).fetchHistory()).events ?? [];
      const resetTo = evs.filter((e) => e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED).at(-1)!;
      await h.resume({ by: 'ops', reason: 'after the reset point (the reset applies it again)' });
      await temporalCli([
        'workflow',
        'reset',
        '--workflow-id',
        h.workflowId,
        '--event-id',
        String(resetTo.eventId),
        '--reason',
        'test',
      ]);
      const reset = executor.getHandle(h.workflowId);
      await reset.resume({ by: 'ops', reason: 'in the reset run' });
      const live = (await reset.status()).audit.map((a) => [a.seq, a.action, a.reason]);
      const trail = (await executor.getAudit(h.workflowId)).entries.map((a) => [a.seq, a.action, a.reason]);
      assert.deepEqual(trail, live);
      // The reset run's own line, which the run the reset ended never had.
      assert.ok(
        trail.some(([, action, reason]) => action === 'resume' && reason === 'in the reset run'),
        JSON.stringify(trail),
      );
      // The second resume released the gate's hold too (a gate with no approvers).
      assert.deepEqual(await reset.result(), { done: true });
    });
  });

  it('gates with long ids and a long identity stay within the limit on a search attribute value', async () => {
    // Thirty gates waiting at once, their ids 4,590 bytes of JSON: over the server's 2 KiB for one value.
    const ids = Array.from({ length: 30 }, (_, i) => `${'gate_'.repeat(29)}${String(i).padStart(3, '0')}`);
    const wf = defineWorkflow({
      name: 'budget_many_gates',
      tasks: ids.map((id) => task({ id, pauseBefore: true }, (ctx) => void ctx.set(id.slice(-3), true))),
    });
    const by = '\u0001'.repeat(200);
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 30, { timeout: 20_000 });
      await h.pause({ reason: '\u0002'.repeat(1000), by });
      const d = await client.workflow.getHandle(h.workflowId).describe();
      const shown = d.typedSearchAttributes.get(CloacinaGate)!;
      assert.ok(shown.length > 5 && shown.length < 30, `gates shown: ${shown.length}`);
      assert.deepEqual(shown, ids.slice(0, shown.length));
      assert.ok(Buffer.byteLength(JSON.stringify(shown)) <= 1536);
      const reason = d.typedSearchAttributes.get(CloacinaPauseReason)!;
      assert.equal(reason, '\u0002'.repeat(255), 'six bytes of JSON each');
      assert.equal(d.typedSearchAttributes.get(CloacinaPausedBy), by);
      await h.resume({ by: 'ops' });
      for (const id of ids) await h.approve(id, { by: 'ops' });
      await h.result();
      const final = await h.status();
      assert.deepEqual(
        ids.filter((id) => final.tasks[id]?.state === 'completed'),
        ids,
      );
      const events = await eventsSince(h, 0, client);
      assert.deepEqual(
        events
          .filter((e) => e.workflowTaskFailedEventAttributes)
          .map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
        [],
        'no workflow task failed',
      );
    });
  });

  it('ensureSearchAttributes leaves CloacinaAudit out where the Text attributes are taken, registering the rest', async () => {
    const { address } = testServer();
    const namespace = `text-taken-${Date.now()}`;
    const connection = await Connection.connect({ address });
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      // Another application's Text attribute: with this library's two required ones, all three a SQL
      // visibility store allows.
      await eventually(
        async () => {
          await connection.operatorService.addSearchAttributes({
            namespace,
            searchAttributes: {
              OtherAppNotes: temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
            },
          });
          return true;
        },
        30_000,
        'the new namespace to take search attributes',
      );
      const result = await ensureSearchAttributes(address, namespace);
      assert.deepEqual(
        result.skipped.map((k) => k.name),
        [CloacinaAudit.name],
      );
      assert.match(result.skipped[0]!.reason, /cannot have more than 3 search attribute of type Text/);
      const registered = Object.keys(
        (await connection.operatorService.listSearchAttributes({ namespace })).customAttributes ?? {},
      );
      assert.deepEqual(
        SEARCH_ATTRIBUTES.map((k) => k.name).filter((n) => !registered.includes(n)),
        [CloacinaAudit.name],
      );
      assert.deepEqual(await ensureSearchAttributes(address, namespace).then((r) => r.skipped.length), 1);
    } finally {
      await connection.close();
    }
  });
});
