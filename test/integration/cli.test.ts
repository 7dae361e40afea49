import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@temporalio/client';
import {
  createWorker,
  defineWorkflow,
  ensureSearchAttributes,
  task,
  UnknownNamespaceError,
  type AuditPage,
  type BulkResult,
  type ControlResult,
  type RunStatus,
  type WorkflowSummary,
} from '../../src';
import { UnifiedExecutor } from '../../src/executor';
import { CloacinaPaused } from '../../src/search-attributes';
import { eventually, testClient, testServer, withWorker } from '../helpers';
import { greet } from '../fixtures/cli-workflows';

// The command line, run as a child process (the built dist/src/cli.js) against real runs on a worker:
// every command, its --json output parsed, its human output read for the key fields, and its exit codes.
const CLI = path.join(__dirname, '..', '..', 'src', 'cli.js');

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI with TEMPORAL_ADDRESS / TEMPORAL_NAMESPACE pointing at the test server. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<CliResult> {
  const s = testServer();
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: { ...process.env, TEMPORAL_ADDRESS: s.address, TEMPORAL_NAMESPACE: s.namespace, ...env },
        timeout: 45_000,
      },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        if (code === null) return reject(new Error(`cli ${args.join(' ')} did not exit: ${err?.message}`));
        resolve({ code, stdout, stderr, ms: Date.now() - t0 });
      },
    );
  });
}

/** Runs the CLI with --json, expects exit 0 and returns the parsed output. */
async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, `cli ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

/** Expects the CLI to exit with `code` and print one line on stderr matching `pattern`. */
async function cliFails(args: string[], code: number, pattern: RegExp, env = {}): Promise<CliResult> {
  const r = await cli(args, env);
  assert.equal(r.code, code, `cli ${args.join(' ')}: expected exit ${code}, got ${r.code}\n${r.stderr}`);
  assert.match(r.stderr, pattern);
  assert.equal(r.stderr.trimEnd().split('\n').length, 1, `one line on stderr, got:\n${r.stderr}`);
  return r;
}

const lines = (text: string) => text.split('\n');
const indexOfLine = (text: string, re: RegExp) => lines(text).findIndex((l) => re.test(l));

const gated = defineWorkflow({
  name: 'cli_gated',
  tasks: [
    task({ id: 'build' }, (ctx) => void ctx.set('built', true)),
    task(
      {
        id: 'deploy',
        dependencies: ['build'],
        pauseBefore: { reason: 'prod deploy', approvers: ['alice', 'bob'], requiredApprovals: 1 },
      },
      (ctx) => void ctx.set('deployed', true),
    ),
  ],
});

const failing = defineWorkflow({
  name: 'cli_failing',
  pausePolicy: { onTaskFailure: 'pause' },
  tasks: [
    task({ id: 'fragile', retry: { attempts: 1 } }, () => {
      throw new Error('always broken');
    }),
    task({ id: 'after', dependencies: ['fragile'] }, (ctx) => {
      ctx.set('sawPatch', ctx.get('patched') ?? null);
    }),
  ],
});

async function atGate(executor: UnifiedExecutor, workflowId: string): Promise<RunStatus> {
  return executor.waitUntil(workflowId, (s) => s.gates.some((g) => g.taskId === 'deploy'), {
    timeout: 20_000,
  });
}

describe('command line (cloacina-temporal)', () => {
  it('a run ended from outside keeps its search attributes, but listings show it closed, not paused', async () => {
    const wf = defineWorkflow({
      name: 'ended_outside',
      tasks: [task({ id: 'gate', pauseBefore: true }, () => undefined)],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const live = await executor.executeAsync(wf, {});
      const ended = await executor.executeAsync(wf, {});
      for (const h of [live, ended]) await h.waitUntil((s) => s.state === 'paused');
      await client.workflow.getHandle(ended.workflowId).terminate('ended from outside');
      const mine = `(WorkflowId = '${live.workflowId}' OR WorkflowId = '${ended.workflowId}')`;
      const ids = async (o: Parameters<typeof executor.listWorkflows>[0]) =>
        (await executor.listWorkflows({ ...o, query: mine })).map((r) => r.workflowId).sort();
      // Visibility shows the close shortly after the terminate.
      const rows = await eventually(async () => {
        const r = await executor.listWorkflows({ query: mine });
        return r.length === 2 && r.some((w) => w.temporalStatus === 'TERMINATED') ? r : undefined;
      });
      const row = rows.find((r) => r.workflowId === ended.workflowId)!;
      assert.deepEqual(
        { state: row.state, paused: row.paused, temporalStatus: row.temporalStatus },
        { state: 'terminated', paused: false, temporalStatus: 'TERMINATED' },
      );
      // Its search attributes still say what the run last wrote.
      const raw = await client.workflow.getHandle(ended.workflowId).describe();
      assert.equal(raw.typedSearchAttributes.get(CloacinaPaused), true);
      assert.deepEqual(await ids({ paused: true }), [live.workflowId]);
      assert.deepEqual(await ids({ state: 'paused' }), [live.workflowId]);
      assert.deepEqual(await ids({ state: 'terminated' }), [ended.workflowId]);
      assert.deepEqual(await ids({ paused: false }), [ended.workflowId]);
      const listed = await cliJson<WorkflowSummary[]>(['list', '--paused', '--query', mine]);
      assert.deepEqual(
        listed.map((r) => r.workflowId),
        [live.workflowId],
      );
      // Piped into a reader that has gone (`| head`, `| true`): the CLI stops quietly, exit 0.
      const piped = await new Promise<{ code: number; stderr: string }>((resolve, reject) => {
        const s = testServer();
        execFile(
          'bash',
          ['-c', `"${process.execPath}" "${CLI}" list --query "$Q" | true; exit "\${PIPESTATUS[0]}"`],
          { env: { ...process.env, Q: mine, TEMPORAL_ADDRESS: s.address, TEMPORAL_NAMESPACE: s.namespace } },
          (err, _stdout, stderr) => {
            const code = err ? err.code : 0;
            if (typeof code !== 'number') return reject(err ?? new Error('no exit code'));
            resolve({ code, stderr });
          },
        );
      });
      assert.deepEqual(piped, { code: 0, stderr: '' });
      await live.approve('gate');
      await live.result();
    });
  });

  it('pauses, shows status (pause and gates first), lists, refuses, resumes, approves and reads the audit', async () => {
    await withWorker([gated], async ({ executor }) => {
      const h = await executor.executeAsync(gated, {});
      const id = h.workflowId;
      await atGate(executor, id);

      // pause --json: accepted, with the pause as recorded.
      const paused = await cliJson<ControlResult>([
        'pause',
        id,
        '--reason',
        'DB maintenance',
        '--by',
        'ops',
        '--request-id',
        'maint-1',
      ]);
      assert.equal(paused.state, 'paused');
      assert.equal(paused.duplicate, false);
      assert.equal(paused.pause?.kind, 'manual');
      assert.equal(paused.pause?.by, 'ops');
      assert.equal(paused.pause?.reason, 'DB maintenance');
      assert.equal(paused.pause?.mode, 'graceful');
      assert.equal(paused.pause?.requestId, 'maint-1');
      // The same request id again changes nothing; the human form says so.
      const again = await cli([
        'pause',
        id,
        '--reason',
        'DB maintenance',
        '--by',
        'ops',
        '--request-id',
        'maint-1',
      ]);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, new RegExp(`^Paused ${id}: state paused \\(a repeat of an earlier request`));

      // status --json: the whole RunStatus.
      const st = await cliJson<RunStatus>(['status', id]);
      assert.equal(st.workflow, 'cli_gated');
      assert.equal(st.state, 'paused');
      assert.equal(st.pause?.by, 'ops');
      assert.equal(st.tasks.build?.state, 'completed');
      assert.equal(st.tasks.deploy?.state, 'waiting');
      assert.deepEqual(
        st.gates.map((g) => [g.taskId, g.requiredApprovals, g.approvers]),
        [['deploy', 1, ['alice', 'bob']]],
      );

      // status, human: the pause, then the gate, then the task table.
      const human = await cli(['status', id]);
      assert.equal(human.code, 0, human.stderr);
      assert.equal(lines(human.stdout)[0], `Workflow ${id} (cli_gated): paused`);
      const pauseAt = indexOfLine(
        human.stdout,
        /^Paused: {2}manual pause #\d+ by ops at .*graceful.* — DB maintenance$/,
      );
      const gateAt = indexOfLine(
        human.stdout,
        /^Gate: {4}deploy waiting since .*approvals 0\/1; approvers alice, bob — prod deploy$/,
      );
      const tableAt = indexOfLine(human.stdout, /^TASK\s+STATE\s+ATTEMPTS/);
      assert.ok(pauseAt === 1 && gateAt === 2 && tableAt > gateAt, human.stdout);
      assert.match(human.stdout, /^build\s+completed\s+1\s/m);
      assert.match(human.stdout, /^deploy\s+waiting\s+0\s/m);
      assert.match(human.stdout, /^\d+\s+\S+\s+pause\s+manual\s+ops\s+DB maintenance$/m);

      // list --paused, JSON and table (visibility catches up shortly).
      const rows = await eventually(async () => {
        const r = await cliJson<WorkflowSummary[]>(['list', '--paused', '--query', `WorkflowId = '${id}'`]);
        return r.length === 1 && r[0]!.pausedBy === 'ops' ? r : undefined;
      });
      assert.equal(rows[0]!.workflowId, id);
      assert.equal(rows[0]!.workflow, 'cli_gated');
      assert.equal(rows[0]!.state, 'paused');
      assert.equal(rows[0]!.paused, true);
      assert.equal(rows[0]!.pauseKind, 'manual');
      assert.equal(rows[0]!.pauseReason, 'DB maintenance');
      assert.equal(rows[0]!.temporalStatus, 'RUNNING');
      const table = await cli(['list', '--workflow', 'cli_gated', '--query', `WorkflowId = '${id}'`]);
      assert.equal(table.code, 0, table.stderr);
      assert.match(
        lines(table.stdout)[0]!,
        /^WORKFLOW ID\s+WORKFLOW\s+STATE\s+PAUSED\s+BY\s+REASON\s+STARTED$/,
      );
      assert.match(
        table.stdout,
        new RegExp(`^${id}\\s+cli_gated\\s+paused\\s+manual\\s+ops\\s+DB maintenance\\s+\\d{4}-`, 'm'),
      );
      const none = await cli(['list', '--query', `WorkflowId = 'nothing-${randomUUID()}'`]);
      assert.equal(none.stdout, 'No workflows match.\n');

      // Refusals exit 1 with the code: an approver not on the list.
      await cliFails(['approve', id, 'deploy', '--by', 'mallory'], 1, /^refused \(NotAnApprover\): /);
      const rejectedJson = await cli(['approve', id, 'deploy', '--by', 'mallory', '--json']);
      assert.equal(rejectedJson.code, 1);
      const errorOut = JSON.parse(rejectedJson.stdout) as {
        error: { code: string; exitCode: number; name: string };
      };
      assert.deepEqual(
        [errorOut.error.name, errorOut.error.code, errorOut.error.exitCode],
        ['RequestRejectedError', 'NotAnApprover', 1],
      );

      // resume, human.
      const resumed = await cli(['resume', id, '--by', 'ops', '--reason', 'maintenance over']);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.match(resumed.stdout, new RegExp(`^Resumed ${id}: state \\w+`));
      // Only the gate holds the run now: resume is refused, naming approve.
      await cliFails(['resume', id], 1, /^refused \(NotPaused\): .*use approve/);

      // approve --json: the gate opens and the run completes.
      const approved = await cliJson<ControlResult>([
        'approve',
        id,
        'deploy',
        '--by',
        'alice',
        '--comment',
        'LGTM',
      ]);
      assert.notEqual(approved.state, 'paused');
      assert.deepEqual(await h.result(), { built: true, deployed: true });

      // A closed run: steering it is refused; its status still reads.
      await cliFails(['pause', id], 1, /^refused: Workflow `.*` has already closed/);
      const done = await cli(['status', id]);
      assert.equal(lines(done.stdout)[0], `Workflow ${id} (cli_gated): completed`);

      // audit --json: every line, then page by page with the cursor.
      const all = await cliJson<AuditPage>(['audit', id]);
      assert.equal(all.nextCursor, undefined);
      const actions = all.entries.map((e) => [e.action, e.by ?? '']);
      for (const expected of [
        ['pause', 'ops'],
        ['resume', 'ops'],
        ['approve', 'alice'],
      ])
        assert.ok(
          actions.some((a) => a[0] === expected[0] && a[1] === expected[1]),
          `${expected.join(' by ')} in ${JSON.stringify(actions)}`,
        );
      assert.ok(all.entries.some((e) => e.action === 'rejected' && e.by === 'mallory'));
      const first = await cliJson<AuditPage>(['audit', id, '--page-size', '1']);
      assert.equal(first.entries.length, 1);
      assert.equal(first.entries[0]!.seq, all.entries[0]!.seq);
      assert.ok(first.nextCursor);
      const second = await cliJson<AuditPage>([
        'audit',
        id,
        '--page-size',
        '1',
        '--cursor',
        first.nextCursor,
      ]);
      assert.deepEqual(second.entries, [all.entries[1]]);
      const auditHuman = await cli(['audit', id, '--page-size', '2']);
      assert.match(lines(auditHuman.stdout)[0]!, /^SEQ\s+AT\s+ACTION\s+KIND\s+BY\s+TASK\s+DETAILS$/);
      assert.match(auditHuman.stdout, /\nNext page: cloacina-temporal audit .* --cursor \S+\n$/);
      await cliFails(['audit', id, '--cursor', 'not-a-cursor'], 2, /^invalid input: Expected `cursor`/);
    });
  });

  it('prints what others sent with its control characters escaped: nothing reaches the terminal raw', async () => {
    // Reasons, names and refused signals come from whoever can send to the run; printed raw, escape
    // sequences would clear the on-call's screen, retitle the window or hide text.
    const ESC = '\u001b';
    const by = `ops${ESC}[2J${ESC}[H`;
    const reason = `${ESC}]0;pwned\u0007hidden${ESC}[8mSECRET\u202eevil\nGate:    forged line`;
    await withWorker([gated], async ({ executor, client }) => {
      const h = await executor.executeAsync(gated, {});
      const id = h.workflowId;
      await atGate(executor, id);
      const paused = await cli(['pause', id, '--by', by, '--reason', reason]);
      assert.equal(paused.code, 0, paused.stderr);
      // A signal from a non-approver, refused and audited with its sender's name.
      await client.workflow
        .getHandle(id)
        .signal('cloacina.approve', { taskId: 'deploy', by: `mallory${ESC}[2Jall fine` });
      await eventually(async () => (await h.status()).audit.some((a) => a.action === 'rejected'));
      const shown = [
        paused,
        await cli(['status', id]),
        await cli(['audit', id]),
        await cli(['list', '--paused', '--query', `WorkflowId = '${id}'`]),
      ];
      for (const r of shown) {
        assert.equal(r.code, 0, r.stderr);
        // eslint-disable-next-line no-control-regex
        assert.doesNotMatch(r.stdout + r.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202e]/);
      }
      const [, status, audit, list] = shown.map((r) => r.stdout);
      assert.match(
        status!,
        /by ops\\u001b\[2J\\u001b\[H at .* — \\u001b\]0;pwned\\u0007hidden\\u001b\[8mSECRET\\u202eevil Gate: forged line/,
      );
      assert.equal(indexOfLine(status!, /^Gate: {4}forged line/), -1, 'a newline in a reason starts no line');
      assert.match(audit!, /mallory\\u001b\[2Jall fine/);
      assert.match(list!, /ops\\u001b\[2J\\u001b\[H/);
      // --json keeps the values as sent.
      const json = await cliJson<RunStatus>(['status', id]);
      assert.equal(json.pause?.by, by);
      assert.equal(json.pause?.reason, reason);
      await h.cancel();
    });
  });

  it('pauses with every option and rejects a gate', async () => {
    await withWorker([gated], async ({ executor }) => {
      const h = await executor.executeAsync(gated, {});
      await atGate(executor, h.workflowId);
      const resumeAt = new Date(Date.now() + 3_600_000).toISOString();
      const r = await cliJson<ControlResult>([
        'pause',
        h.workflowId,
        '--mode',
        'immediate',
        '--resume-at',
        resumeAt,
        '--expires-after',
        '7200000',
        '--on-expiry',
        'cancel',
      ]);
      assert.equal(r.pause?.mode, 'immediate');
      assert.equal(r.pause?.resumeAt, resumeAt);
      assert.equal(r.pause?.onExpiry, 'cancel');
      assert.ok(r.pause?.expiresAt, 'the pause carries its expiry');
      // --by defaults to the OS user.
      assert.equal(r.pause?.by, (await import('node:os')).userInfo().username);
      const human = await cli(['status', h.workflowId]);
      assert.match(
        human.stdout,
        new RegExp(
          `^Paused: .*immediate, paused; resumes at ${resumeAt}; expires at \\S+ \\(then cancel\\)`,
          'm',
        ),
      );

      const rejected = await cli(['reject', h.workflowId, 'deploy', '--by', 'bob', '--comment', 'not today']);
      assert.equal(rejected.code, 0, rejected.stderr);
      assert.match(rejected.stdout, new RegExp(`^Rejected ${h.workflowId} task deploy: state \\w+`));
      const audit = await cliJson<AuditPage>(['audit', h.workflowId]);
      const line = audit.entries.find((e) => e.action === 'reject');
      assert.equal(line?.by, 'bob');
      assert.equal(line?.taskId, 'deploy');
      const st = await cliJson<RunStatus>(['status', h.workflowId]);
      assert.equal(st.tasks.deploy?.state, 'failed');
      // Nothing else is left to run: the run ends failed, pause or not.
      assert.equal(st.state, 'failed');
      await assert.rejects(h.result(), /deploy/);
      const end = await cli(['status', h.workflowId]);
      assert.equal(lines(end.stdout)[0], `Workflow ${h.workflowId} (cli_gated): failed`);
      assert.match(
        end.stdout,
        /^Error: {3}TaskFailed: `deploy` failed: Gate before `deploy` rejected by bob: not today$/m,
      );
      assert.match(
        end.stdout,
        /^deploy\s+failed\s+0\s+\S+\s+GateRejected: Gate before `deploy` rejected by bob/m,
      );
    });
  });

  it('resumes a failure pause with --skip, --context-patch and --force', async () => {
    await withWorker([failing], async ({ executor }) => {
      const h = await executor.executeAsync(failing, {});
      await executor.waitUntil(h.workflowId, (s) => s.pause?.kind === 'failure', { timeout: 20_000 });
      const st = await cli(['status', h.workflowId]);
      assert.match(
        st.stdout,
        /^Paused: {2}failure pause #\d+ by .*failed tasks fragile.* — .*always broken/m,
      );
      assert.match(st.stdout, /^fragile\s+held\s+1\s.*always broken/m);
      // Bad values are usage errors, caught before anything is sent.
      await cliFails(
        ['resume', h.workflowId, '--context-patch', '[1]'],
        2,
        /--context-patch.*Expected a JSON object/,
      );
      await cliFails(
        ['resume', h.workflowId, '--context-patch', '{oops'],
        2,
        /--context-patch.*Expected JSON/,
      );
      await cliFails(
        ['resume', h.workflowId, '--skip', 'after'],
        1,
        /^refused \(UnknownTask\): `skip` names `after`/,
      );
      const r = await cliJson<ControlResult>([
        'resume',
        h.workflowId,
        '--skip',
        'fragile',
        '--context-patch',
        '{"patched":true}',
        '--force',
        '--by',
        'ops',
      ]);
      assert.notEqual(r.state, 'paused');
      assert.deepEqual(await h.result(), { patched: true, sawPatch: true });
      const audit = await cliJson<AuditPage>(['audit', h.workflowId]);
      const resume = audit.entries.find((e) => e.action === 'resume');
      assert.equal(resume?.by, 'ops');
      assert.equal(resume?.forced, true);
      const done = await cliJson<RunStatus>(['status', h.workflowId]);
      assert.equal(done.tasks.fragile?.state, 'skipped');
    });
  });

  it('pauses and resumes in bulk by query, idempotent per --bulk-id, failures listed with exit 1', async () => {
    await withWorker([gated], async ({ executor, taskQueue }) => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await executor.executeAsync(gated, {})).workflowId);
      for (const id of ids) await atGate(executor, id);
      const query = `TaskQueue = '${taskQueue}'`;
      await eventually(
        async () => (await cliJson<WorkflowSummary[]>(['list', '--query', query])).length === 3,
      );
      await cliFails(['pause-all', '--reason', 'x'], 2, /^invalid input: Expected --query or --workflow/);

      const bulkId = `freeze-${randomUUID()}`;
      const paused = await cliJson<BulkResult>([
        'pause-all',
        '--query',
        query,
        '--reason',
        'freeze',
        '--by',
        'ops',
        '--bulk-id',
        bulkId,
        '--concurrency',
        '2',
      ]);
      assert.equal(paused.bulkId, bulkId);
      assert.deepEqual([paused.total, paused.succeeded, paused.failed], [3, 3, 0]);
      assert.deepEqual(paused.outcomes.map((o) => o.workflowId).sort(), [...ids].sort());
      assert.ok(paused.outcomes.every((o) => o.ok && o.state === 'paused' && o.duplicate === false));
      assert.match(paused.query, /TaskQueue = /);
      // Re-running the same operation changes nothing twice.
      const rerun = await cli(['pause-all', '--query', query, '--reason', 'freeze', '--bulk-id', bulkId]);
      assert.equal(rerun.code, 0, rerun.stderr);
      assert.match(rerun.stdout, new RegExp(`^Paused 3 of 3 workflows \\(bulk id ${bulkId}\\)\nQuery: `));
      // On a terminal, a progress bar on stderr (`script` gives the command a pseudo-terminal).
      const shellArgs = [process.execPath, CLI, 'pause-all', '--query', query, '--bulk-id', bulkId];
      const tty = await new Promise<string>((resolve, reject) =>
        execFile(
          'script',
          ['-qec', shellArgs.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' '), '/dev/null'],
          { env: { ...process.env, TEMPORAL_ADDRESS: testServer().address }, timeout: 45_000 },
          (err, stdout) => (err ? reject(err) : resolve(stdout)),
        ),
      );
      assert.match(tty, /Pausing \[[^\]]*\] [0-3]\/3/);
      assert.match(tty, /Paused 3 of 3 workflows/);
      const again = await cliJson<BulkResult>([
        'pause-all',
        '--query',
        query,
        '--reason',
        'freeze',
        '--bulk-id',
        bulkId,
      ]);
      assert.ok(again.outcomes.every((o) => o.ok && o.duplicate === true));
      for (const id of ids) {
        const st = await cliJson<RunStatus>(['status', id]);
        assert.equal(st.pause?.kind, 'bulk');
        assert.equal(st.pause?.by, 'ops');
      }
      const listed = await eventually(async () => {
        const r = await cliJson<WorkflowSummary[]>([
          'list',
          '--paused',
          '--query',
          `${query} AND CloacinaPauseKind = 'bulk'`,
        ]);
        return r.length === 3 ? r : undefined;
      });
      assert.ok(listed.every((w) => w.pausedBy === 'ops' && w.pauseReason === 'freeze'));

      const resumed = await cliJson<BulkResult>(['resume-all', '--query', query, '--by', 'ops']);
      assert.deepEqual([resumed.total, resumed.succeeded, resumed.failed], [3, 3, 0]);
      // Only the gates hold the runs now: a second resume-all is refused for each, listed, exit 1.
      const refused = await cli(['resume-all', '--query', query]);
      assert.equal(refused.code, 1, refused.stderr);
      assert.match(refused.stdout, /^Resumed 0 of 3 workflows \(bulk id \S+\)\n/);
      assert.match(refused.stdout, /^WORKFLOW ID\s+CODE\s+ERROR$/m);
      for (const id of ids)
        assert.match(refused.stdout, new RegExp(`^${id}\\s+NotPaused\\s+The run is not paused`, 'm'));
      const refusedJson = await cli(['resume-all', '--query', query, '--json']);
      assert.equal(refusedJson.code, 1);
      const body = JSON.parse(refusedJson.stdout) as BulkResult;
      assert.deepEqual([body.total, body.failed], [3, 3]);
      assert.ok(body.outcomes.every((o) => o.code === 'NotPaused'));
      for (const id of ids) await executor.approve(id, 'deploy', { by: 'alice' });
    });
  });

  it('pause-all interrupted by Ctrl-C says how far it got and which bulk id finishes it; that id does', async () => {
    const count = 60;
    await withWorker([gated], async ({ executor, taskQueue }) => {
      for (let i = 0; i < count; i++) await executor.executeAsync(gated, {});
      const query = `TaskQueue = '${taskQueue}'`;
      await eventually(
        async () => (await executor.listWorkflows({ query })).length === count,
        15_000,
        'the runs in the visibility store',
      );
      const s = testServer();
      const child = spawn(process.execPath, [CLI, 'pause-all', '--query', query, '--concurrency', '1'], {
        env: { ...process.env, TEMPORAL_ADDRESS: s.address, TEMPORAL_NAMESPACE: s.namespace },
      });
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Interrupted once it has paused a run, long before it has paused them all.
      await eventually(
        async () =>
          (await executor.listWorkflows({ query: `${query} AND CloacinaPauseKind = 'bulk'` })).length > 0,
        20_000,
        'a first run paused',
      );
      child.kill('SIGINT');
      assert.equal(await exited, 130, stderr);
      const m =
        /^interrupted: (\d+) of 60 runs done \(bulk id ([0-9a-f-]{36})\): run the same command with --bulk-id \2 to finish; what was done is not done twice\n$/.exec(
          stderr,
        );
      assert.ok(m, stderr);
      const done = Number(m[1]);
      assert.ok(done < count, `${done} done`);
      const again = await cliJson<BulkResult>(['pause-all', '--query', query, '--bulk-id', m[2]!]);
      assert.deepEqual([again.bulkId, again.total, again.succeeded], [m[2], count, count]);
      assert.ok(again.outcomes.filter((o) => o.duplicate).length >= done, 'what was done is a repeat');
      for (const o of again.outcomes) await executor.cancelExecution(o.workflowId);
    });
  });

  it('start runs a workflow a module defines, on the task queue given; misuse names the fix', async () => {
    const mod = path.join(__dirname, '..', 'fixtures', 'cli-workflows.js');
    await withWorker([greet], async ({ executor, taskQueue }) => {
      const startGreet = ['start', 'cli_start_greet', '--module', mod, '--task-queue', taskQueue];
      const started = await cliJson<{ workflowId: string; runId: string; taskQueue: string }>([
        ...startGreet,
        '--input',
        '{"who":"ops"}',
        '--workflow-id',
        `greet-${taskQueue}`,
      ]);
      assert.equal(started.workflowId, `greet-${taskQueue}`);
      assert.equal(started.taskQueue, taskQueue);
      assert.deepEqual(await executor.result(started.workflowId), { who: 'ops', greeting: 'hello ops' });
      // `history` is `audit` by its other name.
      const history = await cli(['history', started.workflowId]);
      assert.equal(history.code, 0, history.stderr);
      assert.equal(history.stdout, (await cli(['audit', started.workflowId])).stdout);
      assert.equal(history.stdout, 'No audit lines.\n');
      const text = await cli([...startGreet, '--input', '{"who":"x"}']);
      assert.equal(text.code, 0, text.stderr);
      assert.match(
        text.stdout,
        /^Started cli_start_greet-[0-9a-f-]{36} \(cli_start_greet, run [0-9a-f-]{36}\) on task queue /,
      );
    });
    await cliFails(
      ['start', 'cli_start_gret', '--module', mod, '--task-queue', 'q'],
      2,
      /^invalid input: Module `.*cli-workflows\.js` exports no workflow `cli_start_gret` — did you mean `cli_start_greet`\? \(it exports `cli_start_greet`\)\n$/,
    );
    await cliFails(
      ['start', 'x', '--module', 'no/such/file.js', '--task-queue', 'q'],
      2,
      /^invalid input: Cannot load --module `no\/such\/file\.js` \(Cannot find module .*\): give the compiled JavaScript module that exports your workflow definitions\n$/,
    );
    await cliFails(
      ['start', 'cli_start_greet', '--module', mod, '--task-queue', 'q', '--input', '{"who":1}'],
      2,
      /^invalid input: .*who/,
    );
    await cliFails(
      ['start', 'cli_start_greet', '--module', mod],
      2,
      /required option '--task-queue <queue>'/,
    );
  });

  it('sets breakpoints, steps past one with approve, clears the rest; refusals exit 1, misuse 2', async () => {
    let open!: () => void;
    const opened = new Promise<void>((r) => (open = r));
    const wf = defineWorkflow({
      name: 'cli_breakpoints',
      tasks: [
        task({ id: 'fetch' }, async (ctx) => {
          await opened;
          ctx.set('fetched', true);
        }),
        task({ id: 'transform', dependencies: ['fetch'] }, (ctx) => void ctx.set('transformed', true)),
        task({ id: 'load', dependencies: ['transform'] }, (ctx) => void ctx.set('loaded', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId: id } = await executor.executeAsync(wf, {});
      await executor.waitUntil(id, (s) => s.tasks.fetch!.state === 'running', { timeout: 30_000 });
      const set = await cliJson<{ breakpoints: string[]; released: string[] }>([
        'breakpoints',
        id,
        '--set',
        'transform,load',
        '--by',
        'dev',
      ]);
      assert.deepEqual([...set.breakpoints].sort(), ['load', 'transform']);
      await cliFails(
        ['breakpoints', id, '--set', 'fetch'],
        1,
        /refused \(InvalidRequest\): Task `fetch` has already started/,
      );
      await cliFails(
        ['breakpoints', id, '--set', 'lod'],
        1,
        /refused \(UnknownTask\): .*did you mean `load`\?/,
      );
      await cliFails(['breakpoints', id], 2, /give exactly one of --set a,b or --clear/);
      open();
      await executor.waitUntil(id, (s) => s.gates.some((g) => g.taskId === 'transform'), { timeout: 30_000 });
      const human = await cli(['status', id]);
      assert.match(human.stdout, /transform/);
      assert.equal((await cli(['approve', id, 'transform', '--by', 'dev'])).code, 0);
      await executor.waitUntil(id, (s) => s.gates.some((g) => g.taskId === 'load'), { timeout: 30_000 });
      const cleared = await cli(['breakpoints', id, '--clear', '--by', 'dev']);
      assert.equal(cleared.code, 0, cleared.stderr);
      assert.deepEqual(lines(cleared.stdout.trim()), [`Breakpoints of ${id}: none`, 'Released: load']);
      assert.deepEqual(await executor.result(id), { fetched: true, transformed: true, loaded: true });
    });
  });

  it('exits 2 on bad options, 3 on an unknown workflow, 4 quickly when no server answers', async () => {
    const missing = `missing-${randomUUID()}`;
    // Usage errors: commander's and the executor's input checks (independent: run side by side).
    await Promise.all([
      cliFails(['pause'], 2, /missing required argument 'id'/),
      cliFails(
        ['pause', 'x', '--mode', 'sideways'],
        2,
        /argument 'sideways' is invalid.*graceful, immediate, freeze/,
      ),
      cliFails(
        ['pause', 'x', '--freeze-timeout', '1000'],
        2,
        /^invalid input: `freezeTimeout` \(`1000`\) applies to `mode: 'freeze'` only/,
      ),
      cliFails(['frobnicate'], 2, /unknown command 'frobnicate'/),
      cliFails(['status', 'x', '--bogus'], 2, /unknown option '--bogus'/),
      cliFails(['list', '--limit', '0'], 2, /--limit.*Expected a whole number from 1/),
      cliFails(['pause', 'x', '--expires-after', '1.5'], 2, /--expires-after.*Expected a whole number/),
      cliFails(['pause', 'x', '--resume-at', 'next tuesday'], 2, /^invalid input: Expected `resumeAt`/),
      cliFails(['status', 'x'], 2, /^invalid input: Expected the Temporal address to be host:port/, {
        TEMPORAL_ADDRESS: 'http://localhost:7233',
      }),
    ]);
    const usageJson = await cli(['pause', 'x', '--mode', 'sideways', '--json']);
    assert.equal(usageJson.code, 2);
    const usage = (
      JSON.parse(usageJson.stdout) as { error: { name: string; message: string; exitCode: number } }
    ).error;
    assert.equal(usage.exitCode, 2);
    assert.equal(usage.name, 'UsageError');
    assert.match(usage.message, /^option '--mode <mode>' argument 'sideways' is invalid/);
    const help = await cli(['resume', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--context-patch <json>/);
    assert.match(help.stdout, /Global Options:[\s\S]*--address <host:port>/);

    // A query the server cannot parse: the query and the server's reason.
    await cliFails(
      ['list', '--query', 'this is not a query'],
      1,
      /^error: The server refused the list query `.*\(this is not a query\)` \(invalid query: .*\): fix the query/,
    );
    // Not found.
    await Promise.all(
      [
        ['status', missing],
        ['pause', missing],
        ['audit', missing],
        ['approve', missing, 'deploy'],
      ].map((args) =>
        cliFails(
          args,
          3,
          new RegExp(`^not found: no workflow \`${missing}\` in namespace \`default\`: check the id`),
        ),
      ),
    );
    const nf = await cli(['status', missing, '--json']);
    assert.equal(nf.code, 3);
    assert.deepEqual(JSON.parse(nf.stdout).error.workflowId, missing);

    // Unreachable: fails fast, naming the address and the fix; the flag wins over the variable.
    const down = await cliFails(
      ['status', 'x'],
      4,
      /^unreachable: Cannot reach a Temporal server at 127\.0\.0\.1:1 \(connection refused\): start one with `npx cloacina-temporal dev-server`, or set TEMPORAL_ADDRESS/,
      {
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      },
    );
    assert.ok(down.ms < 5000, `took ${down.ms} ms`);
    const downJson = await cli(['list', '--address', '127.0.0.1:1', '--json']);
    assert.equal(downJson.code, 4);
    assert.equal(JSON.parse(downJson.stdout).error.address, '127.0.0.1:1');
    const flagWins = await cli(
      ['list', '--address', testServer().address, '--query', `WorkflowId = '${missing}'`, '--json'],
      {
        TEMPORAL_ADDRESS: '127.0.0.1:1',
      },
    );
    assert.equal(flagWins.code, 0, flagWins.stderr);
    assert.deepEqual(JSON.parse(flagWins.stdout), []);
  });

  it('exits 4 naming the port when something that is not a Temporal frontend listens at the address', async () => {
    // A listener that accepts connections and never answers (a Web UI's port, another service).
    const sockets: import('node:net').Socket[] = [];
    const server = createServer((socket) => void sockets.push(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as import('node:net').AddressInfo;
    try {
      await cliFails(
        ['status', 'x', '--address', `127.0.0.1:${port}`],
        4,
        /^unreachable: Cannot reach a Temporal server at 127\.0\.0\.1:\d+ \(.*does not answer as a Temporal frontend: check the port/,
      );
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('a namespace that does not exist: the worker, the executor and the CLI say how to create it', async () => {
    const namespace = `nope-${randomUUID().slice(0, 8)}`;
    const wf = defineWorkflow({ name: 'cli_no_namespace', tasks: [task({ id: 'only' }, () => undefined)] });
    const says = new RegExp(
      `^The namespace \`${namespace}\` does not exist on this Temporal server: create it \\(\`temporal operator namespace create --namespace ${namespace}\``,
    );
    const unknown = (err: unknown) => {
      assert.ok(err instanceof UnknownNamespaceError, `expected UnknownNamespaceError, got ${String(err)}`);
      assert.equal(err.namespace, namespace);
      assert.match(err.message, says);
      return true;
    };
    await assert.rejects(
      createWorker({ workflows: [wf], taskQueue: 'q', address: testServer().address, namespace }),
      unknown,
    );
    const executor = await UnifiedExecutor.connect({
      address: testServer().address,
      namespace,
      taskQueue: 'q',
    });
    try {
      await assert.rejects(executor.executeAsync(wf, {}), unknown);
      await assert.rejects(executor.getStatus('x'), unknown);
      await assert.rejects(executor.pauseWorkflow('x'), unknown);
    } finally {
      await executor.close();
    }
    await cliFails(
      ['status', 'x', '--namespace', namespace],
      3,
      /^not found: The namespace `nope-.*` does not exist/,
    );
  });

  it('status of an open run no worker polls names the task queue that needs one, and audit still reads', async () => {
    const taskQueue = `no-worker-${randomUUID()}`;
    const executor = new UnifiedExecutor(await testClient(), { taskQueue });
    const h = await executor.executeAsync(gated, {});
    try {
      const r = await cliFails(
        ['status', h.workflowId, '--timeout', '1500'],
        1,
        new RegExp(
          `^error: Workflow \`${h.workflowId}\` cannot answer its \`cloacina.status\` query: no worker polls its task queue \`${taskQueue}\`\\. Start one there`,
        ),
      );
      assert.ok(r.ms < 10_000, `took ${r.ms} ms`);
      // A pause needs the worker too: the same error, within seconds rather than a hang.
      const p = await cliFails(
        ['pause', h.workflowId, '--reason', 'window'],
        1,
        new RegExp(
          `^error: Workflow \`${h.workflowId}\` cannot answer its \`cloacina.pause\` update: no worker polls its task queue \`${taskQueue}\``,
        ),
      );
      assert.ok(p.ms < 10_000, `took ${p.ms} ms`);
      const audit = await cliJson<AuditPage>(['audit', h.workflowId]);
      assert.deepEqual(audit.entries, []);
    } finally {
      await (await testClient()).workflow.getHandle(h.workflowId).terminate('test over');
    }
  });

  it('pause --mode freeze holds the run on the server; status shows it frozen, list --paused lists it, resume undoes both', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const wf = defineWorkflow({
      name: 'cli_freeze',
      tasks: [
        task({ id: 'first' }, async (ctx) => {
          await held;
          ctx.set('first', true);
        }),
        task({ id: 'second', dependencies: ['first'] }, (ctx) => void ctx.set('second', true)),
      ],
    });
    await withWorker([wf], async ({ executor, client }) => {
      const h = await executor.executeAsync(wf, {});
      try {
        await executor.waitUntil(h.workflowId, (s) => s.tasks.first?.state === 'running', {
          timeout: 20_000,
        });
        const freezing = cli([
          'pause',
          h.workflowId,
          '--mode',
          'freeze',
          '--reason',
          'db failover',
          '--by',
          'carol',
        ]);
        await executor.waitUntil(h.workflowId, 'pausing', { timeout: 10_000 });
        release();
        const r = await freezing;
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, new RegExp(`^Frozen ${h.workflowId}: state paused`, 'm'));
        assert.match(r.stdout, /^Server: {2}PAUSED by carol at /m);
        assert.equal((await client.workflow.getHandle(h.workflowId).describe()).status.name, 'PAUSED');

        const status = await cli(['status', h.workflowId]);
        assert.equal(status.code, 0, status.stderr);
        assert.match(
          status.stdout,
          new RegExp(`^Workflow ${h.workflowId} \\(cli_freeze\\): frozen \\(last known state paused\\)`, 'm'),
        );
        assert.match(
          status.stdout,
          /^Frozen: {2}paused on the Temporal server \(mode freeze\) by carol at \S+ — db failover/m,
        );
        const json = await cliJson<RunStatus>(['status', h.workflowId]);
        assert.equal(json.state, 'frozen');
        assert.equal(json.frozen?.by, 'carol');

        const rows = await eventually(
          async () => {
            const list = await cliJson<WorkflowSummary[]>([
              'list',
              '--paused',
              '--query',
              `WorkflowId = '${h.workflowId}'`,
            ]);
            return list.length === 1 ? list : undefined;
          },
          10_000,
          'the frozen run in list --paused',
        );
        assert.equal(rows[0]!.frozen, true);

        const resumed = await cli(['resume', h.workflowId, '--reason', 'failover done']);
        assert.equal(resumed.code, 0, resumed.stderr);
        assert.deepEqual(await h.result(), { first: true, second: true });
      } finally {
        release();
      }
    });
  });

  it('names ensureSearchAttributes when the namespace lacks the search attributes', async function () {
    this.timeout(120_000);
    const s = testServer();
    const namespace = `cli-bare-${randomUUID().slice(0, 8)}`;
    const client = await testClient();
    await promisify(execFile)(s.cli, [
      'operator',
      'namespace',
      'create',
      '--namespace',
      namespace,
      '--address',
      s.address,
    ]);
    const executor = new UnifiedExecutor(new Client({ connection: client.connection, namespace }), {
      taskQueue: 'unused',
    });
    const started = await eventually(
      async () => {
        try {
          await executor.executeAsync(gated, {});
          return 'started';
        } catch (err) {
          const message = (err as Error).message;
          // The new namespace takes a moment to be known everywhere.
          if (/not found/i.test(message) && !/search attribute/.test(message)) return undefined;
          return message;
        }
      },
      60_000,
      'the namespace to be usable',
    );
    assert.match(started, /^The namespace `cli-bare-\w+` has no search attribute Cloacina\w+ registered/);
    assert.match(started, /ensureSearchAttributes\(address, namespace\)/);
    const listed = await cli(['list', '--paused', '--namespace', namespace]);
    assert.equal(listed.code, 1);
    assert.match(
      listed.stderr,
      /^error: The namespace `cli-bare-\w+` has no search attribute Cloacina\w+ registered.*ensureSearchAttributes/,
    );
    await ensureSearchAttributes(s.address, namespace);
    const after = await eventually(async () => {
      const r = await cli(['list', '--namespace', namespace, '--json']);
      return r.code === 0 ? (JSON.parse(r.stdout) as WorkflowSummary[]) : undefined;
    }, 30_000);
    assert.deepEqual(after, []);
  });

  it('dev-server starts a dev server the other commands reach, and stops on SIGTERM', async function () {
    this.timeout(120_000);
    const child = spawn(process.execPath, [CLI, 'dev-server', '--port', '0', '--headless'], {
      env: { ...process.env, TEMPORAL_ADDRESS: undefined, TEMPORAL_CLI: testServer().cli },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      // The banner ends with the stop hint: read it whole before looking at its lines.
      await eventually(
        async () => stdout.includes('Press Ctrl+C to stop.'),
        90_000,
        'the dev server to start',
      );
      const address = /Temporal frontend: (\S+) \(namespace default\)/.exec(stdout)?.[1];
      assert.ok(address, stdout);
      assert.match(stdout, /Search attributes: CloacinaState \(KEYWORD\)/);
      assert.match(stdout, /Press Ctrl\+C to stop\./);
      const list = await cli(['list', '--json'], { TEMPORAL_ADDRESS: address });
      assert.equal(list.code, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), []);
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
  });
});
