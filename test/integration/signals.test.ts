import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import {
  createWorker,
  defineWorkflow,
  task,
  UnifiedExecutor,
  type ExecutionHandle,
  type RunStatus,
} from '../../src';
import { bundleWorkflows } from '../../src/worker';
import { CloacinaAudit, CloacinaLastRejection, SEARCH_ATTRIBUTES } from '../../workflows/search-attributes';
import {
  eventually,
  freshTaskQueue,
  latch,
  replayTaskQueue,
  signalCli,
  temporalCli,
  testServer,
  withWorker,
} from '../helpers';

// Fire-and-forget signals have no caller to answer: a misspelt name or a refused request is written to the
// audit trail as a `rejected` line, and the newest refusal is published in CloacinaLastRejection so that
// an operator with only signals and list/describe (tctl) can see that a request was refused and why.

const waitFor = (h: ExecutionHandle, what: string, pred: (s: RunStatus) => boolean) =>
  eventually(
    async () => {
      const s = await h.status();
      return pred(s) ? s : undefined;
    },
    20_000,
    what,
  );

async function lastRejection(client: Client, workflowId: string): Promise<string | undefined> {
  const d = await client.workflow.getHandle(workflowId).describe();
  return d.typedSearchAttributes.get(CloacinaLastRejection);
}

describe('signals with unknown names and refused signals', () => {
  it('audits a misspelt signal naming the real one, shows it in CloacinaLastRejection, and runs on', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'signals_misspelt',
      tasks: [
        task({ id: 'work' }, async (ctx) => {
          await hold.opened;
          ctx.set('worked', true);
        }),
        task(
          { id: 'report', dependencies: ['work'] },
          (ctx) => void ctx.set('reported', ctx.get('worked') ?? null),
        ),
      ],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, { batch: 3 });
      await waitFor(h, '`work` to run', (s) => s.tasks.work?.state === 'running');

      await client.workflow
        .getHandle(h.workflowId)
        .signal('cloacina.paus', { by: 'ops', reason: 'maintenance' });
      const st = await waitFor(h, 'the rejected line', (s) => s.audit.some((a) => a.action === 'rejected'));
      assert.equal(st.state, 'running', 'the misspelt pause paused nothing');
      assert.equal(st.pause, null);
      const line = st.audit.find((a) => a.action === 'rejected');
      assert.equal(line?.request, 'cloacina.paus');
      assert.equal(line?.by, 'ops');
      assert.equal(
        line?.message,
        'Unknown signal `cloacina.paus` — did you mean `cloacina.pause`? It was ignored',
      );
      const attr = await eventually(
        () => lastRejection(client, h.workflowId),
        10_000,
        'CloacinaLastRejection',
      );
      assert.match(
        attr,
        /^\d{4}-\d\d-\d\dT[\d:.]+Z cloacina\.paus by ops: UnknownSignal: Unknown signal `cloacina\.paus` — did you mean `cloacina\.pause`\?/,
      );

      // From the Temporal CLI: an update name sent as a signal, and a name that is nothing of ours.
      await signalCli(h.workflowId, 'cloacina.breakpoints', '{"set":["report"],"by":"dev"}');
      await signalCli(h.workflowId, 'x'.repeat(300), '{"by":"someone"}');
      const three = await waitFor(
        h,
        'three rejected lines',
        (s) => s.audit.filter((a) => a.action === 'rejected').length === 3,
      );
      const [, update, other] = three.audit.filter((a) => a.action === 'rejected');
      assert.equal(update?.request, 'cloacina.breakpoints');
      assert.equal(update?.by, 'dev');
      assert.match(
        update?.message ?? '',
        /^`cloacina\.breakpoints` is an update, not a signal: it was ignored/,
      );
      assert.equal(other?.request, `${'x'.repeat(100)}…`, 'a long name is kept shortened');
      assert.match(
        other?.message ?? '',
        /this workflow takes cloacina\.pause, cloacina\.resume, cloacina\.approve, cloacina\.reject/,
      );
      assert.ok(!JSON.stringify(three.audit).includes('x'.repeat(101)), 'no line holds the whole name');
      assert.equal(three.breakpoints, undefined, 'the breakpoints "signal" set nothing');
      const newest = await eventually(
        async () =>
          ((await lastRejection(client, h.workflowId)) ?? '').includes('by someone') &&
          (await lastRejection(client, h.workflowId)),
        10_000,
        'CloacinaLastRejection to name the newest refusal',
      );
      assert.ok(newest.length <= 400, `bounded: ${newest.length} characters`);

      const listed = await temporalCli([
        'workflow',
        'list',
        '--query',
        `CloacinaLastRejection IS NOT NULL AND WorkflowId = '${h.workflowId}'`,
        '--output',
        'json',
      ]);
      assert.match(listed, new RegExp(h.workflowId));

      hold.open();
      assert.deepEqual(await h.result(), { batch: 3, worked: true, reported: true });
      const { entries } = await executor.getAudit(h.workflowId);
      assert.deepEqual(
        entries.map((a) => [a.action, a.request]),
        [
          ['rejected', 'cloacina.paus'],
          ['rejected', 'cloacina.breakpoints'],
          ['rejected', `${'x'.repeat(100)}…`],
        ],
      );
    });
  });

  it("shows a non-approver's refused approve signal as NotAnApprover in CloacinaLastRejection", async () => {
    const wf = defineWorkflow({
      name: 'signals_gate',
      tasks: [
        task({ id: 'build' }, (ctx) => void ctx.set('artifact', 'app-9.tar.gz')),
        task(
          { id: 'deploy', dependencies: ['build'], pauseBefore: { approvers: ['alice'] } },
          (ctx) => void ctx.set('deployed', ctx.get('artifact') ?? null),
        ),
      ],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, 'the gate', (s) => s.gates.some((g) => g.taskId === 'deploy'));
      assert.equal(await lastRejection(client, h.workflowId), undefined, 'nothing refused yet');

      await signalCli(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"bob"}');
      const attr = await eventually(
        () => lastRejection(client, h.workflowId),
        10_000,
        'CloacinaLastRejection',
      );
      assert.match(attr, /^\S+Z cloacina\.approve by bob: NotAnApprover: .*bob/);
      const st = await h.status();
      assert.equal(st.state, 'paused');
      assert.deepEqual(st.gates[0]?.approvals, []);

      // A bad payload is refused too, and becomes the newest rejection.
      await signalCli(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"alice","colour":"red"}');
      await eventually(
        async () =>
          /cloacina\.approve by alice: InvalidRequest: .*unknown field `colour`/.test(
            (await lastRejection(client, h.workflowId)) ?? '',
          ),
        10_000,
        'the bad payload as the newest rejection',
      );

      await signalCli(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"alice"}');
      assert.deepEqual(await h.result(), { artifact: 'app-9.tar.gz', deployed: 'app-9.tar.gz' });
      assert.match(
        (await lastRejection(client, h.workflowId)) ?? '',
        /by alice: InvalidRequest/,
        'kept after the run ends',
      );
    });
  });

  it('on a namespace without CloacinaLastRejection and CloacinaAudit, audits as memo upserts and never upserts either', async () => {
    const namespace = `no-last-rejection-${Date.now()}`;
    const address = testServer().address;
    const connection = await Connection.connect({ address });
    try {
      await connection.workflowService.registerNamespace({
        namespace,
        workflowExecutionRetentionPeriod: msToTs('1 day'),
      });
      // Every attribute of this release but the optional ones: a namespace set up by an older release.
      const older = SEARCH_ATTRIBUTES.filter(
        (k) => k.name !== CloacinaLastRejection.name && k.name !== CloacinaAudit.name,
      );
      await eventually(
        async () => {
          await connection.operatorService.addSearchAttributes({
            namespace,
            searchAttributes: Object.fromEntries(
              older.map((k) => [
                k.name,
                temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${k.type}`],
              ]),
            ),
          });
          return true;
        },
        30_000,
        'the new namespace to take search attributes',
      );
      const client = new Client({ connection, namespace });
      const wf = defineWorkflow({
        name: 'signals_old_namespace',
        tasks: [
          task({ id: 'gated', pauseBefore: { approvers: ['alice'] } }, (ctx) => void ctx.set('done', true)),
        ],
      });
      const taskQueue = freshTaskQueue('old-ns');
      const native = await NativeConnection.connect({ address });
      const worker = await createWorker({
        workflows: [wf],
        taskQueue,
        connection: native,
        namespace,
        workflowBundle: await bundleWorkflows(),
        workerOptions: { shutdownGraceTime: '1s', shutdownForceTime: '5s' },
      });
      try {
        await worker.runUntil(async () => {
          const executor = new UnifiedExecutor(client, { taskQueue, identity: 'test-operator' });
          const h = await eventually(
            () => executor.executeAsync(wf, {}),
            30_000,
            'a start in the new namespace',
          );
          await waitFor(h, 'the gate', (s) => s.gates.length === 1);
          const handle = client.workflow.getHandle(h.workflowId);
          await handle.signal('cloacina.approve', { taskId: 'gated', by: 'mallory' });
          await handle.signal('cloacina.aprove', { taskId: 'gated', by: 'alice' });
          const st = await waitFor(
            h,
            'two rejected lines',
            (s) => s.audit.filter((a) => a.action === 'rejected').length === 2,
          );
          assert.deepEqual(
            st.audit.filter((a) => a.action === 'rejected').map((a) => [a.request, a.by]),
            [
              ['approve', 'mallory'],
              ['cloacina.aprove', 'alice'],
            ],
          );
          await handle.signal('cloacina.approve', { taskId: 'gated', by: 'alice' });
          assert.deepEqual(await h.result(), { done: true });
          const d = await handle.describe();
          assert.equal(d.typedSearchAttributes.get(CloacinaLastRejection), undefined);
          assert.equal(d.typedSearchAttributes.get(CloacinaAudit), undefined);
          // The trail is in memo upserts, and reads back whole from the history.
          const trail = await executor.getAudit(h.workflowId);
          assert.deepEqual(
            trail.entries.map((a) => [a.seq, a.action, a.by]),
            [
              [1, 'gate', 'gate'],
              [2, 'rejected', 'mallory'],
              [3, 'rejected', 'alice'],
              [4, 'approve', 'alice'],
              [5, 'resume', 'alice'],
            ],
          );
          // No workflow task failed on an upsert of an unregistered attribute.
          const history = await handle.fetchHistory();
          const memos = (history.events ?? []).filter(
            (e) => e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields?.['cloacina.audit'],
          );
          assert.ok(memos.length >= 3, `audit memo upserts: ${memos.length}`);
          const failed = (history.events ?? []).filter((e) => e.workflowTaskFailedEventAttributes);
          assert.deepEqual(
            failed.map((e) => e.workflowTaskFailedEventAttributes?.failure?.message),
            [],
            'no failed workflow task',
          );
        });
        await replayTaskQueue(taskQueue, undefined, client);
      } finally {
        await native.close();
      }
    } finally {
      await connection.close();
    }
  });
});
