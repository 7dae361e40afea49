import assert from 'node:assert/strict';
import { defineWorkflow, task } from '../../src';
import { approveSignal, statusQuery } from '../../workflows/messages';
import { eventually, temporalCli, testServer, withWorker, signalCli } from '../helpers';

// The stack end to end: a worker running the generic workflow, a run that waits on a signal (a gate) and
// answers a query, the signal sent through the SDK and through the real `temporal` CLI, and a search
// attribute upserted by the workflow found with `temporal workflow list --query`.
const gated = defineWorkflow({
  name: 'foundation_gate',
  tasks: [
    task({ id: 'prepare' }, (ctx) => {
      ctx.set('prepared', true);
    }),
    task({ id: 'ship', dependencies: ['prepare'], pauseBefore: true }, (ctx) => {
      ctx.set('shipped', ctx.get('prepared') === true);
    }),
  ],
});

describe('foundation: real Temporal server', () => {
  it('serves the Web UI and registers the search attributes', async () => {
    const s = testServer();
    const out = await temporalCli(['operator', 'search-attribute', 'list', '-o', 'json']);
    const names = JSON.stringify(JSON.parse(out));
    for (const n of [
      'CloacinaState',
      'CloacinaPaused',
      'CloacinaPausedBy',
      'CloacinaGate',
      'CloacinaPauseReason',
    ]) {
      assert.ok(names.includes(n), `${n} is registered`);
    }
    if (s.uiUrl) {
      const res = await fetch(s.uiUrl);
      assert.equal(res.status, 200);
      assert.match(await res.text(), /<html/i);
    }
  });

  it('waits on a signal sent through the SDK and answers a status query', async () => {
    await withWorker([gated], async ({ executor, client }) => {
      const h = await executor.executeAsync(gated, {});
      const paused = await eventually(async () => {
        const st = await client.workflow.getHandle(h.workflowId).query(statusQuery);
        return st.gates.length === 1 ? st : undefined;
      });
      assert.equal(paused.state, 'paused');
      assert.equal(paused.tasks.prepare?.state, 'completed');
      assert.equal(paused.tasks.ship?.state, 'waiting');
      await client.workflow.getHandle(h.workflowId).signal(approveSignal, { taskId: 'ship', by: 'sdk-user' });
      assert.deepEqual(await h.result(), { prepared: true, shipped: true });
      const done = await h.status();
      assert.equal(done.state, 'completed');
      assert.ok(done.audit.some((a) => a.action === 'approve' && a.by === 'sdk-user'));
    });
  });

  it('waits on a signal sent through the real temporal CLI, found by a search attribute query', async () => {
    await withWorker([gated], async ({ executor }) => {
      const h = await executor.executeAsync(gated, {});
      const listed = await eventually(
        async () => {
          const out = await temporalCli([
            'workflow',
            'list',
            '--query',
            `CloacinaState="paused" AND WorkflowId="${h.workflowId}"`,
            '-o',
            'json',
          ]);
          return out.includes(h.workflowId) ? out : undefined;
        },
        15_000,
        'the run to be listed as paused',
      );
      assert.ok(listed.includes(h.workflowId));
      await signalCli(h.workflowId, 'cloacina.approve', JSON.stringify({ taskId: 'ship', by: 'cli-user' }));
      assert.deepEqual(await h.result(), { prepared: true, shipped: true });
      const status = await h.status();
      assert.ok(status.audit.some((a) => a.action === 'approve' && a.by === 'cli-user'));
      const described = JSON.parse(
        await temporalCli(['workflow', 'describe', '--workflow-id', h.workflowId, '-o', 'json']),
      );
      assert.equal(described.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_COMPLETED');
    });
  });

  it('accepts the server-native workflow pause (frontend.WorkflowPauseEnabled)', async () => {
    await withWorker([gated], async ({ executor }) => {
      const h = await executor.executeAsync(gated, {});
      await eventually(async () => (await h.status()).gates.length === 1);
      await temporalCli([
        'workflow',
        'pause',
        '--workflow-id',
        h.workflowId,
        '--reason',
        'native pause check',
      ]);
      const paused = await eventually(
        async () => {
          const d = JSON.parse(
            await temporalCli(['workflow', 'describe', '--workflow-id', h.workflowId, '-o', 'json']),
          ) as { workflowExecutionInfo: { status: string } };
          return d.workflowExecutionInfo.status === 'WORKFLOW_EXECUTION_STATUS_PAUSED' ? d : undefined;
        },
        15_000,
        'the native pause',
      );
      assert.equal(paused.workflowExecutionInfo.status, 'WORKFLOW_EXECUTION_STATUS_PAUSED');
      await temporalCli(['workflow', 'unpause', '--workflow-id', h.workflowId]);
      await eventually(
        async () => {
          const d = JSON.parse(
            await temporalCli(['workflow', 'describe', '--workflow-id', h.workflowId, '-o', 'json']),
          );
          return d.workflowExecutionInfo.status === 'WORKFLOW_EXECUTION_STATUS_RUNNING';
        },
        15_000,
        'the native unpause',
      );
      await h.approve('ship', { by: 'ops' });
      assert.deepEqual(await h.result(), { prepared: true, shipped: true });
    });
  });
});
