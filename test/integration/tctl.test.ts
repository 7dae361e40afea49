import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { accessSync, constants as fsConstants, mkdirSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { defineWorkflow, task, type ExecutionHandle, type RunStatus } from '../../src';
import { PROJECT_ROOT } from '../../temporal-dev';
import { eventually, latch, testServer, withWorker } from '../helpers';

// tctl, Temporal's older CLI, as an operator's door: it can only signal, query and list (no updates), so
// each request is a signal and its outcome is read back from the run's status and audit trail.

const TCTL_VERSION = '1.18.0';
const TCTL_DIR = path.join(PROJECT_ROOT, '.temporal', `tctl-${TCTL_VERSION}`);
/** `TCTL` names another tctl binary; by default, the one temporal-dev/build-tctl.sh builds. */
const TCTL = process.env.TCTL || path.join(TCTL_DIR, 'tctl');

function tctlAvailable(): boolean {
  try {
    accessSync(TCTL, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

const exec = promisify(execFile);

/** Runs tctl against the test server; returns stdout. */
async function tctl(args: string[]): Promise<string> {
  const s = testServer();
  // A HOME of its own: tctl reads (and creates) ~/.config/temporalio/tctl.yaml, whose `version` setting
  // would switch it to another command set.
  const home = path.join(TCTL_DIR, 'home');
  mkdirSync(home, { recursive: true });
  const { stdout } = await exec(TCTL, ['--address', s.address, '--namespace', s.namespace, ...args], {
    timeout: 30_000,
    env: { ...process.env, HOME: home, TEMPORAL_CLI_ADDRESS: '', TEMPORAL_CLI_NAMESPACE: '' },
  });
  return stdout;
}

/** `tctl workflow signal` with a raw JSON payload. */
async function tctlSignal(workflowId: string, name: string, input: string): Promise<void> {
  const out = await tctl([
    'workflow',
    'signal',
    '--workflow_id',
    workflowId,
    '--name',
    name,
    '--input',
    input,
  ]);
  assert.match(out, /Signal workflow succeeded/, `tctl signal ${name} output: ${out}`);
}

/** `tctl workflow query --query_type cloacina.status`, its output ("Query result:" then a JSON array) parsed. */
async function tctlStatus(workflowId: string): Promise<RunStatus> {
  const out = await tctl([
    'workflow',
    'query',
    '--workflow_id',
    workflowId,
    '--query_type',
    'cloacina.status',
  ]);
  const [first, ...rest] = out.trim().split('\n');
  assert.equal(first, 'Query result:', `tctl query output: ${out}`);
  const results = JSON.parse(rest.join('\n')) as RunStatus[];
  assert.equal(results.length, 1, `one query result: ${out}`);
  return results[0]!;
}

/** The workflow ids `tctl workflow list --query q --print_json` returns. */
async function tctlList(query: string): Promise<string[]> {
  const out = await tctl(['workflow', 'list', '--query', query, '--pagesize', '1000', '--print_json']);
  const rows = JSON.parse(out) as { execution?: { workflowId?: string; workflow_id?: string } }[];
  return rows.map((r) => r.execution?.workflowId ?? r.execution?.workflow_id ?? '');
}

const waitFor = (h: ExecutionHandle, what: string, pred: (s: RunStatus) => boolean) =>
  eventually(
    async () => {
      const s = await h.status();
      return pred(s) ? s : undefined;
    },
    20_000,
    what,
  );

describe(`tctl ${TCTL_VERSION} steers runs by signal, query and list`, () => {
  if (!tctlAvailable()) {
    it('has a tctl binary to test with', () => {
      assert.fail(
        `No tctl binary at ${TCTL}: build it with \`bash temporal-dev/build-tctl.sh\` (needs Go; it fetches ` +
          `github.com/temporalio/tctl@v${TCTL_VERSION} from the Go module proxy), or set TCTL to a tctl ` +
          `binary.${process.env.CI ? ' CI runs the script before the tests (.ci/run): check its output.' : ''}`,
      );
    });
    return;
  }

  it('pauses by signal, shows the pause in a query and a list, and resumes by signal', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'tctl_pause',
      tasks: [
        task({ id: 'migrate' }, async (ctx) => {
          await hold.opened;
          ctx.set('migrated', true);
        }),
        task({ id: 'restart', dependencies: ['migrate'] }, (ctx) => void ctx.set('restarted', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, { version: '7' });
      await waitFor(h, '`migrate` to run', (s) => s.tasks.migrate?.state === 'running');

      await tctlSignal(h.workflowId, 'cloacina.pause', '{"reason":"DB maintenance","by":"ops"}');
      const pausing = await waitFor(h, 'the pause', (s) => s.pause !== null);
      assert.equal(pausing.state, 'pausing', 'graceful: `migrate` is still in flight');
      assert.equal(pausing.pause?.kind, 'manual');
      assert.equal(pausing.pause?.by, 'ops');
      assert.equal(pausing.pause?.reason, 'DB maintenance');
      assert.equal(pausing.pause?.mode, 'graceful');
      hold.open();
      const paused = await h.waitUntil('paused', { timeout: 20_000 });
      assert.equal(paused.tasks.migrate?.state, 'completed');
      assert.equal(paused.tasks.restart?.state, 'pending');

      const queried = await tctlStatus(h.workflowId);
      assert.equal(queried.state, 'paused');
      assert.equal(queried.workflow, 'tctl_pause');
      assert.equal(queried.pause?.by, 'ops');
      assert.equal(queried.pause?.reason, 'DB maintenance');
      assert.equal(queried.tasks.restart?.state, 'pending');
      assert.deepEqual(
        queried.audit.filter((a) => a.action === 'pause').map((a) => [a.by, a.reason]),
        [['ops', 'DB maintenance']],
      );

      const pausedQuery = `CloacinaPaused=true AND WorkflowId="${h.workflowId}"`;
      await eventually(
        async () => (await tctlList(pausedQuery)).includes(h.workflowId),
        15_000,
        'tctl workflow list to show the run as paused',
      );
      assert.deepEqual(
        await tctlList(`CloacinaPaused=true AND CloacinaPausedBy="ops" AND WorkflowId="${h.workflowId}"`),
        [h.workflowId],
      );

      await tctlSignal(h.workflowId, 'cloacina.resume', '{"by":"ops","reason":"maintenance over"}');
      assert.deepEqual(await h.result(), { version: '7', migrated: true, restarted: true });
      await eventually(
        async () => (await tctlList(pausedQuery)).length === 0,
        15_000,
        'tctl workflow list to drop the resumed run',
      );
      const { entries } = await executor.getAudit(h.workflowId);
      assert.deepEqual(
        entries
          .filter((a) => a.action === 'pause' || a.action === 'resume')
          .map((a) => [a.action, a.by, a.reason]),
        [
          ['pause', 'ops', 'DB maintenance'],
          ['resume', 'ops', 'maintenance over'],
        ],
      );
    });
  });

  it('approves a gate by signal; refused signals show as rejected audit lines', async () => {
    const wf = defineWorkflow({
      name: 'tctl_gate',
      tasks: [
        task({ id: 'build' }, (ctx) => void ctx.set('artifact', 'app-7.tar.gz')),
        task(
          {
            id: 'deploy',
            dependencies: ['build'],
            pauseBefore: { approvers: ['alice', 'bob'], requiredApprovals: 2 },
          },
          (ctx) => void ctx.set('deployed', ctx.get('artifact') ?? null),
        ),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, 'the gate before `deploy`', (s) => s.gates.some((g) => g.taskId === 'deploy'));
      await eventually(
        async () =>
          (await tctlList(`CloacinaGate="deploy" AND WorkflowId="${h.workflowId}"`)).includes(h.workflowId),
        15_000,
        'tctl workflow list to find the run by its gate',
      );

      // Refused: not an approver, and a field the message does not have.
      await tctlSignal(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"mallory"}');
      await tctlSignal(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"alice","colour":"red"}');
      const refused = await waitFor(
        h,
        'two rejected lines',
        (s) => s.audit.filter((a) => a.action === 'rejected').length >= 2,
      );
      const rejected = refused.audit.filter((a) => a.action === 'rejected');
      assert.equal(rejected.length, 2, JSON.stringify(rejected));
      const [notApprover, badKey] = rejected;
      assert.equal(notApprover?.request, 'approve');
      assert.equal(notApprover?.by, 'mallory');
      assert.equal(notApprover?.taskId, 'deploy');
      assert.match(notApprover?.message ?? '', /mallory/);
      assert.equal(badKey?.request, 'approve');
      assert.match(badKey?.message ?? '', /unknown field `colour`/);
      assert.deepEqual(refused.gates[0]?.approvals, [], 'no refused signal counts as an approval');
      assert.equal(refused.state, 'paused');

      await tctlSignal(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"alice","comment":"LGTM"}');
      const half = await waitFor(h, "alice's approval", (s) => (s.gates[0]?.approvals.length ?? 0) === 1);
      assert.deepEqual(
        half.gates[0]?.approvals.map((a) => [a.by, a.comment]),
        [['alice', 'LGTM']],
      );
      const viaQuery = await tctlStatus(h.workflowId);
      assert.equal(viaQuery.state, 'paused');
      assert.deepEqual(
        viaQuery.gates.map((g) => [g.taskId, g.approvals.length, g.requiredApprovals]),
        [['deploy', 1, 2]],
      );
      assert.deepEqual(
        viaQuery.audit.filter((a) => a.action === 'rejected').map((a) => a.by),
        ['mallory', 'alice'],
      );

      await tctlSignal(h.workflowId, 'cloacina.approve', '{"taskId":"deploy","by":"bob"}');
      assert.deepEqual(await h.result(), { artifact: 'app-7.tar.gz', deployed: 'app-7.tar.gz' });

      // The whole trail, from the history: the refusals stay next to the approvals.
      const { entries } = await executor.getAudit(h.workflowId);
      assert.deepEqual(
        entries
          .filter((a) => ['gate', 'approve', 'rejected'].includes(a.action))
          .map((a) => `${a.action}:${a.by ?? ''}`),
        ['gate:gate', 'rejected:mallory', 'rejected:alice', 'approve:alice', 'approve:bob'],
      );
      const done = await executor.getStatus(h.workflowId);
      assert.equal(done.state, 'completed');
      assert.equal(done.audit.filter((a) => a.action === 'rejected').length, 2);
    });
  });

  it('rejects a gate by signal, failing the gated task and the run', async () => {
    const wf = defineWorkflow({
      name: 'tctl_reject',
      tasks: [
        task(
          { id: 'drop_table', pauseBefore: { approvers: ['dba'] } },
          (ctx) => void ctx.set('dropped', true),
        ),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, 'the gate', (s) => s.gates.length === 1);
      await tctlSignal(
        h.workflowId,
        'cloacina.reject',
        '{"taskId":"drop_table","by":"dba","comment":"not today"}',
      );
      await assert.rejects(h.result(), /Gate before `drop_table` rejected by dba: not today/);
      const st = await executor.getStatus(h.workflowId);
      assert.equal(st.state, 'failed');
      assert.equal(st.tasks.drop_table?.state, 'failed');
      const line = st.audit.find((a) => a.action === 'reject');
      assert.equal(line?.by, 'dba');
      assert.equal(line?.taskId, 'drop_table');
    });
  });

  it('a refused pause by signal (a bad key) leaves the run running, with a rejected line', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'tctl_bad_pause',
      tasks: [
        task({ id: 'work' }, async (ctx) => {
          await hold.opened;
          ctx.set('worked', true);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, '`work` to run', (s) => s.tasks.work?.state === 'running');
      await tctlSignal(h.workflowId, 'cloacina.pause', '{"reason":"x","by":"ops","resumeAfter":"1h"}');
      const st = await waitFor(h, 'the rejected line', (s) => s.audit.some((a) => a.action === 'rejected'));
      assert.equal(st.state, 'running');
      assert.equal(st.pause, null);
      const line = st.audit.find((a) => a.action === 'rejected');
      assert.equal(line?.request, 'pause');
      assert.equal(line?.by, 'ops');
      assert.match(line?.message ?? '', /unknown field `resumeAfter`/);
      const viaQuery = await tctlStatus(h.workflowId);
      assert.equal(viaQuery.state, 'running');
      assert.deepEqual(
        viaQuery.audit.filter((a) => a.action === 'rejected').map((a) => [a.request, a.by]),
        [['pause', 'ops']],
      );
      hold.open();
      assert.deepEqual(await h.result(), { worked: true });
      const { entries } = await executor.getAudit(h.workflowId);
      assert.deepEqual(
        entries.map((a) => a.action),
        ['rejected'],
        'the refused pause is the only line',
      );
    });
  });

  it('a misspelt signal name is audited naming the real one, and tctl lists and describes CloacinaLastRejection', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'tctl_misspelt',
      tasks: [
        task({ id: 'work' }, async (ctx) => {
          await hold.opened;
          ctx.set('worked', true);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, '`work` to run', (s) => s.tasks.work?.state === 'running');
      await tctlSignal(h.workflowId, 'cloacina.paus', '{"reason":"DB maintenance","by":"ops"}');
      const viaQuery = await eventually(
        async () => {
          const s = await tctlStatus(h.workflowId);
          return s.audit.some((a) => a.action === 'rejected') ? s : undefined;
        },
        20_000,
        'the rejected line',
      );
      assert.equal(viaQuery.state, 'running', 'nothing was paused');
      assert.deepEqual(
        viaQuery.audit.map((a) => [a.action, a.request, a.by, a.message]),
        [
          [
            'rejected',
            'cloacina.paus',
            'ops',
            'Unknown signal `cloacina.paus` — did you mean `cloacina.pause`? It was ignored',
          ],
        ],
      );
      await eventually(
        async () =>
          (await tctlList(`CloacinaLastRejection IS NOT NULL AND WorkflowId="${h.workflowId}"`)).includes(
            h.workflowId,
          ),
        15_000,
        'tctl workflow list to find the run by CloacinaLastRejection',
      );
      const described = await tctl(['workflow', 'describe', '--workflow_id', h.workflowId]);
      assert.match(described, /CloacinaLastRejection[\s\S]*cloacina\.paus by ops: UnknownSignal/);
      hold.open();
      assert.deepEqual(await h.result(), { worked: true });
    });
  });
});
