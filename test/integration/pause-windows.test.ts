// Pause windows against the real dev server: a Temporal Schedule whose cron fire bulk-pauses the runs a
// visibility query selects, with `resumeAt` at the window's end; listing, describing and deleting windows.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import {
  defineWorkflow,
  InvalidInputError,
  PauseWindowExistsError,
  PauseWindowNotFoundError,
  task,
  type ExecutionHandle,
} from '../../src';
import { PAUSE_WINDOW_WORKFLOW_TYPE, type PauseWindowResult } from '../../workflows/pause-window';
import { auditTime, eventually, sleep, startsBetween, taskStarts, testServer, withWorker } from '../helpers';

const CLI = path.join(__dirname, '..', '..', 'src', 'cli.js');

/** Runs the built command line against the test server; resolves to its exit code and output. */
function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const s = testServer();
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      {
        env: { ...process.env, TEMPORAL_ADDRESS: s.address, TEMPORAL_NAMESPACE: s.namespace },
        timeout: 45_000,
      },
      (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr }),
    );
  });
}

const STEP_MS = 2000;
const STEPS = 6;

/** A chain of STEPS tasks of STEP_MS each: long enough to be in flight when the window opens. */
function chain(name: string) {
  const tasks = [];
  for (let i = 1; i <= STEPS; i++) {
    tasks.push(
      task({ id: `step${i}`, dependencies: i > 1 ? [`step${i - 1}`] : [] }, async (ctx) => {
        await sleep(STEP_MS);
        ctx.set(`step${i}`, true);
      }),
    );
  }
  return defineWorkflow({ name, tasks });
}

const expensive = chain('pw_expensive');
const cheap = chain('pw_cheap');

const finalContext = (partition: number) => ({
  partition,
  ...Object.fromEntries(Array.from({ length: STEPS }, (_, i) => [`step${i + 1}`, true])),
});

describe('pause windows', () => {
  it('a cron window bulk-pauses the runs its query selects at the fire, leaves the others, and they resume at its end', async function () {
    this.timeout(240_000);
    await withWorker([expensive, cheap], async ({ executor, taskQueue, client }) => {
      // A cron for the next whole minute at least 15 s away (UTC): the window opens once in this test.
      const fire = Math.ceil((Date.now() + 15_000) / 60_000) * 60_000;
      const at = new Date(fire);
      const cron = `${at.getUTCMinutes()} ${at.getUTCHours()} * * *`;
      const id = `test-${randomUUID().slice(0, 8)}`;
      const query = `TaskQueue = '${taskQueue}' AND CloacinaWorkflow = 'pw_expensive'`;
      let deleted = false;
      const window = await executor.schedulePauseWindow({
        id,
        query,
        cron,
        duration: '20s',
        reason: 'nightly cost window',
        by: 'cost-ops',
      });
      try {
        assert.equal(
          window.nextOpenings[0]?.getTime(),
          fire,
          'the schedule opens the window at the cron time',
        );
        assert.equal(window.cron, cron);

        // Paused by someone else before the window, with no scheduled resume: the window joins that pause
        // and must not end it.
        const held = await executor.executeAsync(expensive, { partition: 0 });
        await held.waitUntil((s) => s.tasks.step1?.state === 'running', { timeout: 20_000 });
        await held.pause({ reason: 'investigating', by: 'alice' });
        await held.waitUntil('paused', { timeout: 20_000 });

        // The runs start a few seconds before the window opens, so tasks are in flight at the fire.
        await sleep(Math.max(0, fire - 5000 - Date.now()));
        const runs: ExecutionHandle[] = [];
        for (let p = 1; p <= 3; p++) runs.push(await executor.executeAsync(expensive, { partition: p }));
        const other = await executor.executeAsync(cheap, { partition: 9 });

        // The fire: the schedule starts the window's workflow, whose bulk pause reports every selected run.
        const opened = await eventually(
          async () => (await executor.describePauseWindow(id)).recentOpenings[0],
          90_000,
          'the window to open',
        );
        assert.equal(opened.scheduledAt.getTime(), fire);
        const fired = (await client.workflow.getHandle(opened.workflowId).result()) as PauseWindowResult;
        const resumeAt = new Date(fire + 20_000).toISOString();
        assert.equal(fired.firedAt, new Date(fire).toISOString());
        assert.equal(fired.resumeAt, resumeAt);
        assert.equal(fired.sweep?.total, 4, JSON.stringify(fired.sweep));
        assert.equal(fired.sweep?.succeeded, 4);
        assert.deepEqual(
          fired.sweep?.outcomes.map((o) => o.workflowId).sort(),
          [held, ...runs].map((h) => h.workflowId).sort(),
          'exactly the runs the query selects',
        );

        for (const h of runs) {
          const s = await h.waitUntil('paused', { timeout: 20_000 });
          assert.equal(s.pause?.kind, 'bulk');
          assert.equal(s.pause?.by, 'cost-ops');
          assert.equal(s.pause?.reason, 'nightly cost window');
          assert.equal(s.pause?.resumeAt, resumeAt);
          assert.equal(s.pause?.requestId, `bulk:window:${id}:${fired.firedAt}:${h.workflowId}`);
        }
        assert.ok(Date.now() < Date.parse(resumeAt), 'the window is still open');
        // Deleting the window before its end resumes nothing early and does not stop the resume at its end.
        await executor.deletePauseWindow(id);
        deleted = true;
        await assert.rejects(executor.describePauseWindow(id), PauseWindowNotFoundError);
        for (const h of runs) assert.equal((await h.status()).state, 'paused');

        // They resume by themselves at the window's end and complete with their whole context.
        const results = await Promise.all(runs.map((h) => h.result()));
        results.forEach((c, i) => assert.deepEqual(c, finalContext(i + 1)));
        for (const h of runs) {
          const s = await h.status();
          const pause = s.audit.filter((a) => a.action === 'pause');
          const resume = s.audit.filter((a) => a.action === 'resume');
          const drained = s.audit.find((a) => a.action === 'drained');
          assert.deepEqual(
            pause.map((a) => `${a.kind}:${a.by}`),
            ['bulk:cost-ops'],
          );
          assert.deepEqual(
            resume.map((a) => a.by),
            ['system:schedule'],
          );
          assert.ok(drained, 'the graceful pause drained');
          assert.ok(auditTime(resume[0]!) >= Date.parse(resumeAt), `resumed at ${resume[0]!.at}`);
          // Nothing started from the pause's effect to the resume (the event history says what started).
          const starts = await taskStarts(h.workflowId);
          assert.deepEqual(startsBetween(starts, auditTime(drained), auditTime(resume[0]!)), []);
          assert.ok(
            starts.some((t) => t.at > auditTime(resume[0]!)),
            'tasks started again after the resume',
          );
        }

        // The run outside the query was never paused: its tasks went on through the window.
        assert.deepEqual(await other.result(), finalContext(9));
        const otherStatus = await other.status();
        assert.deepEqual(
          otherStatus.audit.filter((a) => a.action === 'pause'),
          [],
        );
        const otherStarts = await taskStarts(other.workflowId);
        assert.ok(
          startsBetween(otherStarts, fire + 1000, fire + 15_000).length >= 3,
          `tasks of the run outside the query started during the window: ${JSON.stringify(otherStarts)}`,
        );

        // The run paused by hand stays paused after the window's end; the window's pause joined it.
        const h = await held.status();
        assert.equal(h.state, 'paused');
        assert.equal(h.pause?.by, 'alice');
        assert.equal(h.pause?.kind, 'manual');
        assert.equal(h.pause?.resumeAt, undefined);
        assert.deepEqual(
          h.audit.filter((a) => a.action === 'pause').map((a) => `${a.kind}:${a.by}`),
          ['manual:alice', 'bulk:cost-ops'],
        );
        await held.resume({ by: 'alice' });
        assert.deepEqual(await held.result(), finalContext(0));
      } finally {
        if (!deleted) await executor.deletePauseWindow(id);
      }
    });
  });

  it('with sweepEvery, runs started during the window are paused too; a run resumed by hand stays resumed', async function () {
    this.timeout(120_000);
    await withWorker([expensive], async ({ executor, taskQueue, client }) => {
      const id = `test-${randomUUID().slice(0, 8)}`;
      // A cron that will not fire during the test: the window is opened now with the schedule's trigger.
      const window = await executor.schedulePauseWindow({
        id,
        query: `TaskQueue = '${taskQueue}'`,
        cron: '0 0 1 1 *',
        duration: '30s',
        sweepEvery: '2s',
        reason: 'holiday freeze',
        by: 'release-ops',
      });
      try {
        assert.equal(window.sweepEveryMs, 2000);
        const early = await executor.executeAsync(expensive, { partition: 1 });
        await early.waitUntil((s) => s.tasks.step1?.state === 'running', { timeout: 20_000 });
        await client.schedule.getHandle(window.scheduleId).trigger();
        const first = await early.waitUntil('paused', { timeout: 20_000 });
        assert.equal(first.pause?.by, 'release-ops');
        const resumeAt = first.pause.resumeAt!;
        // Resumed by hand during the window: the later sweeps repeat the same request, which it already served.
        await early.resume({ by: 'alice', reason: 'this one may run' });

        const late = await executor.executeAsync(expensive, { partition: 2 });
        const latePaused = await late.waitUntil('paused', { timeout: 20_000 });
        assert.equal(latePaused.pause?.kind, 'bulk');
        assert.equal(latePaused.pause?.by, 'release-ops');
        assert.equal(latePaused.pause?.resumeAt, resumeAt, 'the same window end');

        const opened = (await executor.describePauseWindow(id)).recentOpenings[0]!;
        const fired = (await client.workflow.getHandle(opened.workflowId).result()) as PauseWindowResult;
        assert.equal(fired.resumeAt, resumeAt);
        assert.deepEqual(
          fired.sweep?.outcomes.map((o) => o.workflowId),
          [early.workflowId],
        );
        assert.deepEqual(fired.pausedLater, [late.workflowId]);
        assert.equal(fired.pausedLaterCount, 1);
        assert.ok((fired.sweeps ?? 0) >= 5, `sweeps: ${fired.sweeps}`);

        // Every sweep is over: the run resumed by hand was paused once only, and completed.
        assert.deepEqual(await early.result(), finalContext(1));
        const e = await early.status();
        assert.deepEqual(
          e.audit
            .filter((a) => a.action === 'pause' || a.action === 'resume')
            .map((a) => `${a.action}:${a.by}`),
          ['pause:release-ops', 'resume:alice'],
        );
        // The late run resumes at the window's end by itself.
        assert.deepEqual(await late.result(), finalContext(2));
        const l = await late.status();
        const resumed = l.audit.filter((a) => a.action === 'resume');
        assert.deepEqual(
          resumed.map((a) => a.by),
          ['system:schedule'],
        );
        assert.ok(auditTime(resumed[0]!) >= Date.parse(resumeAt));
      } finally {
        await executor.deletePauseWindow(id);
      }
    });
  });

  it('listPauseWindows shows a window with its settings; deletePauseWindow removes it', async function () {
    this.timeout(60_000);
    await withWorker([expensive], async ({ executor, taskQueue, client }) => {
      const id = `test-${randomUUID().slice(0, 8)}`;
      const query = `TaskQueue = '${taskQueue}'`;
      const created = await executor.schedulePauseWindow({
        id,
        query,
        cron: '30 22 * * 1-5',
        timezone: 'Europe/Berlin',
        duration: '8h',
        reason: 'weeknight batch freeze',
        mode: 'immediate',
      });
      const expected = {
        id,
        scheduleId: `cloacina-pause-window-${id}`,
        query,
        cron: '30 22 * * 1-5',
        timezone: 'Europe/Berlin',
        durationMs: 8 * 3600_000,
        reason: 'weeknight batch freeze',
        by: `pause-window:${id}`,
        mode: 'immediate',
        taskQueue,
        createdBy: 'test-operator',
      };
      const pick = (w: object) => Object.fromEntries(Object.keys(expected).map((k) => [k, (w as never)[k]]));
      assert.deepEqual(pick(created), expected);
      assert.equal(created.schedulePaused, false);
      // The schedule's own spec, as the server compiled the cron expression.
      const d = await client.schedule.getHandle(created.scheduleId).describe();
      assert.equal(d.spec.timezone, 'Europe/Berlin');
      assert.deepEqual(d.spec.calendars?.[0]?.hour, [{ start: 22, end: 22, step: 1 }]);
      assert.deepEqual(d.spec.calendars?.[0]?.minute, [{ start: 30, end: 30, step: 1 }]);
      assert.deepEqual(d.spec.calendars?.[0]?.dayOfWeek, [{ start: 'MONDAY', end: 'FRIDAY', step: 1 }]);
      assert.equal(d.policies.overlap, 'SKIP');
      assert.equal(d.action.workflowType, PAUSE_WINDOW_WORKFLOW_TYPE);
      assert.equal(d.action.taskQueue, taskQueue);
      // Every next opening is a weekday at 22:30 in Berlin.
      const berlin = new Intl.DateTimeFormat('en-GB', {
        timeZone: 'Europe/Berlin',
        weekday: 'short',
        hour: '2-digit',
        minute: '2-digit',
        hour12: false,
      });
      assert.ok(created.nextOpenings.length > 0);
      for (const t of created.nextOpenings) assert.match(berlin.format(t), /^(Mon|Tue|Wed|Thu|Fri) 22:30$/);

      const listed = await eventually(
        async () => (await executor.listPauseWindows()).find((w) => w.id === id),
        20_000,
        'the window in listPauseWindows',
      );
      assert.deepEqual(pick(listed), expected);

      await assert.rejects(
        executor.schedulePauseWindow({ id, query, cron: '0 1 * * *', duration: '1h', reason: 'again' }),
        (err: unknown) => err instanceof PauseWindowExistsError && err.message.includes(id),
      );

      // The other cron forms the library accepts, the server accepts too.
      for (const [i, cron] of [
        '0 22 * * MON-FRI',
        '*/15 0-6 * * *',
        '0 30 22 * * * 2030',
        '@daily',
        '@every 6h',
      ].entries()) {
        const w = await executor.schedulePauseWindow({
          id: `${id}-${i}`,
          query,
          cron,
          duration: '1h',
          reason: 'forms',
        });
        assert.equal(w.cron, cron);
        assert.ok(w.nextOpenings.length > 0, `${cron} opens`);
        await executor.deletePauseWindow(w.id);
      }

      await executor.deletePauseWindow(id);
      await assert.rejects(
        executor.describePauseWindow(id),
        (err: unknown) => err instanceof PauseWindowNotFoundError && err.windowId === id,
      );
      await eventually(
        async () => !(await executor.listPauseWindows()).some((w) => w.id === id),
        20_000,
        'the deleted window to leave listPauseWindows',
      );
      await assert.rejects(
        executor.deletePauseWindow(id),
        (err: unknown) => err instanceof PauseWindowNotFoundError && /No pause window/.test(err.message),
      );
    });
  });

  it('a query the server cannot parse is refused when the window is scheduled, naming the query', async () => {
    await withWorker([expensive], async ({ executor }) => {
      const id = `test-${randomUUID().slice(0, 8)}`;
      await assert.rejects(
        executor.schedulePauseWindow({
          id,
          query: 'CloacinaWorkflow = ',
          cron: '0 22 * * *',
          duration: '1h',
          reason: 'x',
        }),
        (err: unknown) =>
          err instanceof InvalidInputError &&
          /`query`/.test(err.message) &&
          /CloacinaWorkflow = /.test(err.message),
      );
      await assert.rejects(executor.describePauseWindow(id), PauseWindowNotFoundError);
    });
  });

  it('the command line creates, lists, shows and deletes a window, with exit codes', async function () {
    this.timeout(60_000);
    const id = `cli-${randomUUID().slice(0, 8)}`;
    const created = await cli([
      'pause-window',
      'create',
      id,
      '--query',
      "CloacinaWorkflow = 'nothing_here'",
      '--cron',
      '0 23 * * *',
      '--duration',
      '6h',
      '--reason',
      'overnight',
      '--task-queue',
      'pw-cli-queue',
      '--json',
    ]);
    assert.equal(created.code, 0, created.stderr);
    const w = JSON.parse(created.stdout) as {
      id: string;
      cron: string;
      durationMs: number;
      taskQueue: string;
    };
    assert.deepEqual(
      { id: w.id, cron: w.cron, durationMs: w.durationMs, taskQueue: w.taskQueue },
      { id, cron: '0 23 * * *', durationMs: 6 * 3600_000, taskQueue: 'pw-cli-queue' },
    );
    const listed = await eventually(
      async () => {
        const r = await cli(['pause-window', 'list', '--json']);
        return (JSON.parse(r.stdout) as { id: string }[]).find((x) => x.id === id);
      },
      20_000,
      'the window in `pause-window list`',
    );
    assert.equal(listed.id, id);
    const shown = await cli(['pause-window', 'show', id]);
    assert.equal(shown.code, 0, shown.stderr);
    assert.match(shown.stdout, /Opens: +0 23 \* \* \* \(UTC\) for 6 h/);
    assert.match(shown.stdout, /graceful pause by pause-window:cli-/);
    const bad = await cli([
      'pause-window',
      'create',
      `${id}-x`,
      '-q',
      'x',
      '--cron',
      '99 * * * *',
      '--duration',
      '1h',
      '--reason',
      'r',
      '--task-queue',
      'q',
    ]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /minute field `99`/);
    const deleted = await cli(['pause-window', 'delete', id]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`Deleted pause window ${id}`));
    const again = await cli(['pause-window', 'delete', id]);
    assert.equal(again.code, 3);
    assert.match(again.stderr, /No pause window/);
  });
});
