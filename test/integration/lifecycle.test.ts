import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  defineWorkflow,
  resource,
  ResumeValidationError,
  task,
  WorkflowExecutionError,
  type AuditEntry,
  type ExecutionHandle,
  type RunStatus,
  type UnifiedExecutor,
} from '../../src';
import {
  auditTime,
  chainHistory,
  describeStarts,
  sleep,
  startsBetween,
  taskStartedAtOrAfter,
  taskStarts,
  timerDues,
  withWorker,
} from '../helpers';

/** Waits until `pred(status)` holds; `what` names the wait in the failure message. */
async function waitFor(
  h: ExecutionHandle,
  pred: (s: RunStatus) => boolean,
  what: string,
  timeoutMs = 20_000,
) {
  try {
    return await h.waitUntil(pred, { timeout: timeoutMs });
  } catch (err) {
    throw new Error(`Waiting for ${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

const isPaused = (s: RunStatus) => s.state === 'paused';

/** The one audit line that matches. */
function auditLine(
  audit: RunStatus['audit'],
  what: string,
  pred: (a: RunStatus['audit'][number]) => boolean,
) {
  const lines = audit.filter(pred);
  assert.equal(lines.length, 1, `expected one ${what} line, got ${JSON.stringify(lines)}`);
  return lines[0]!;
}

describe('resume validation, resources, deadlines, frozen clocks, pause on failure, long life', () => {
  it('validateResume refuses while the system is unhealthy, then accepts; force skips it and is recorded', async () => {
    let healthy = false;
    let checks = 0;
    const wf = defineWorkflow({
      name: 'validated',
      validateResume: (ctx, pause) => {
        checks++;
        assert.equal(pause.kind, 'manual');
        return healthy ? true : `database ${String(ctx.get('db'))} is unhealthy`;
      },
      tasks: [
        task({ id: 'a', pauseBefore: true }, () => undefined),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, { db: 'orders' });
      await waitFor(h, isPaused, 'the gate');
      await h.pause({ reason: 'maintenance', by: 'ops' });
      await assert.rejects(
        h.resume({ by: 'ops' }),
        (e: unknown) => e instanceof ResumeValidationError && e.message === 'database orders is unhealthy',
      );
      let st = await h.status();
      assert.equal(st.state, 'paused');
      assert.equal(st.pause?.kind, 'manual');
      const rejection = st.audit.find((a) => a.action === 'rejected' && a.request === 'resume');
      assert.equal(rejection?.message, 'database orders is unhealthy');
      healthy = true;
      const ok = await h.resume({ by: 'ops', reason: 'db back' });
      assert.equal(ok.state, 'paused', 'the gate still holds the run');
      st = await h.status();
      const resume = st.audit.filter((a) => a.action === 'resume' && a.kind === 'manual');
      assert.equal(resume.length, 1);
      assert.match(resume[0]!.message ?? '', /validateResume passed/);
      // Forced resume skips the hook.
      healthy = false;
      await h.pause({ by: 'ops' });
      const before = checks;
      await h.resume({ by: 'ops', force: true, reason: 'override' });
      assert.equal(checks, before, 'the hook did not run');
      st = await h.status();
      const forced = st.audit.filter((a) => a.action === 'resume' && a.kind === 'manual')[1];
      assert.equal(forced?.forced, true);
      assert.match(forced?.message ?? '', /skipped \(force\)/);
      await h.approve('a', { by: 'ops' });
      assert.deepEqual(await h.result(), { db: 'orders', b: true });
    });
  });

  it('checks a typed resume input and delivers it to the next task; patches the context', async () => {
    const seen: unknown[] = [];
    const wf = defineWorkflow({
      name: 'resume_input',
      input: z.object({ threshold: z.number() }),
      resumeInput: z.object({ approvedVersion: z.string() }),
      tasks: [
        task({ id: 'a' }, async (ctx) => ctx.pauseWorkflow('need a version')),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => {
          seen.push(ctx.get('resumeInput'), ctx.get('threshold'));
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, { threshold: 1 });
      await waitFor(h, isPaused, 'the programmatic pause');
      await assert.rejects(
        h.resume({ input: { approvedVersion: 3 } }),
        (e: unknown) => e instanceof ResumeValidationError && /approvedVersion/.test(e.message),
      );
      await assert.rejects(
        h.resume({ contextPatch: { threshold: 'high' } }),
        /Context patch does not match the workflow's input schema: threshold/,
      );
      await h.resume({ input: { approvedVersion: 'v2.3.1' }, contextPatch: { threshold: 10 } });
      await h.result();
      assert.deepEqual(seen, [{ approvedVersion: 'v2.3.1' }, 10]);
    });
  });

  it('refuses to resume when a remaining task is no longer registered on the workers', async () => {
    const full = defineWorkflow({
      name: 'registry_check',
      tasks: [
        task({ id: 'a' }, (ctx) => ctx.pauseWorkflow('deploy window')),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', 1)),
      ],
    });
    const shrunk = defineWorkflow({ name: 'registry_check', tasks: [task({ id: 'a' }, () => undefined)] });
    const taskQueue = `registry-${Date.now()}`;
    const id = await withWorker(
      [full],
      async ({ executor }) => {
        const h = await executor.executeAsync(full, {});
        await waitFor(h, isPaused, 'the pause');
        return h.workflowId;
      },
      { taskQueue },
    );
    await withWorker(
      [shrunk],
      async ({ executor }) => {
        await assert.rejects(
          executor.resumeWorkflow(id),
          (e: unknown) =>
            e instanceof ResumeValidationError && /Tasks `b` are no longer registered/.test(e.message),
        );
        assert.equal((await executor.getStatus(id)).state, 'paused');
      },
      { taskQueue },
    );
    await withWorker(
      [full],
      async ({ executor }) => {
        await executor.resumeWorkflow(id);
        assert.deepEqual(await executor.result(id), { b: 1 });
      },
      { taskQueue },
    );
  });

  it('sets a resource up before first use, releases it on pause, sets it up again on resume, tears it down at the end', async () => {
    const log: string[] = [];
    let n = 0;
    const cluster = resource<{ cluster: string }>({
      id: 'cluster',
      releaseOnPause: true,
      setup: ({ reason }) => {
        n++;
        log.push(`setup:${reason}:c${n}`);
        return { cluster: `c${n}` };
      },
      teardown: (handle, { reason }) => void log.push(`teardown:${reason}:${handle.cluster}`),
    });
    const wf = defineWorkflow({
      name: 'resources',
      tasks: [
        task({ id: 'plain' }, () => void log.push('plain')),
        task({ id: 'first', dependencies: ['plain'], uses: [cluster] }, async (ctx) => {
          log.push(`first:${ctx.resource<{ cluster: string }>('cluster').cluster}`);
          await ctx.pauseWorkflow('overnight');
        }),
        task({ id: 'second', dependencies: ['first'], uses: ['cluster'] }, (ctx) => {
          log.push(`second:${ctx.resource<{ cluster: string }>('cluster').cluster}`);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const paused = await waitFor(
        h,
        (s) => s.state === 'paused' && s.resources.cluster?.state === 'released',
        'the release',
      );
      assert.equal(paused.resources.cluster?.setups, 1);
      assert.equal(paused.resources.cluster?.teardowns, 1);
      await h.resume();
      await h.result();
      assert.deepEqual(log, [
        'plain',
        'setup:start:c1',
        'first:c1',
        'teardown:pause:c1',
        'setup:resume:c2',
        'second:c2',
        'teardown:end:c2',
      ]);
      const st = await h.status();
      assert.deepEqual({ ...st.resources.cluster }, { state: 'tornDown', setups: 2, teardowns: 2 });
    });
  });

  it('tears resources down when the run fails and when it is cancelled', async () => {
    const log: string[] = [];
    const db = resource({
      id: 'db',
      setup: () => 'conn',
      teardown: (h, { reason }) => void log.push(`teardown:${String(h)}:${reason}`),
    });
    const failing = defineWorkflow({
      name: 'resource_fail',
      tasks: [
        task({ id: 'x', uses: [db], retry: { attempts: 1 } }, () => {
          throw new Error('boom');
        }),
      ],
    });
    const hanging = defineWorkflow({
      name: 'resource_cancel',
      tasks: [
        task({ id: 'y', uses: [db] }, async (ctx) => {
          await new Promise<void>((r) => ctx.signal.addEventListener('abort', () => r()));
        }),
      ],
    });
    await withWorker([failing, hanging], async ({ executor }) => {
      await assert.rejects(executor.execute(failing, {}), WorkflowExecutionError);
      assert.deepEqual(log, ['teardown:conn:end']);
      const h = await executor.executeAsync(hanging, {});
      await waitFor(h, (s) => s.tasks.y?.state === 'running', 'the task to run');
      await h.cancel();
      await assert.rejects(h.result(), WorkflowExecutionError);
      assert.deepEqual(log, ['teardown:conn:end', 'teardown:conn:end']);
      assert.equal((await h.status()).resources.db?.state, 'tornDown');
    });
  });

  it('shows setup failures in status and fails the task; a teardown failure never loses the result', async () => {
    let setups = 0;
    const flaky = resource({
      id: 'flaky_db',
      retry: { attempts: 3, delay: 100 },
      setup: () => {
        setups++;
        if (setups < 3) throw new Error(`connection refused (${setups})`);
        return 'conn';
      },
      teardown: () => {
        throw new Error('cannot drop connection');
      },
    });
    const broken = resource({
      id: 'broken',
      retry: { attempts: 2, delay: 100 },
      setup: () => {
        throw new Error('quota exceeded');
      },
      teardown: () => undefined,
    });
    const ok = defineWorkflow({
      name: 'resource_retry',
      tasks: [task({ id: 'use', uses: [flaky] }, (ctx) => void ctx.set('used', ctx.resource('flaky_db')))],
    });
    const bad = defineWorkflow({
      name: 'resource_broken',
      tasks: [task({ id: 'use', uses: [broken] }, () => undefined)],
    });
    await withWorker([ok, bad], async ({ executor }) => {
      const h = await executor.executeAsync(ok, {});
      assert.deepEqual(await h.result(), { used: 'conn' }, 'the result survives the teardown failure');
      assert.equal(setups, 3, 'setup retried by its own policy');
      const st = await h.status();
      assert.equal(st.state, 'completed');
      assert.equal(st.resources.flaky_db?.state, 'failed');
      assert.match(st.resources.flaky_db?.error ?? '', /teardown \(end\) failed: cannot drop connection/);
      const h2 = await executor.executeAsync(bad, {});
      await assert.rejects(h2.result(), WorkflowExecutionError);
      const st2 = await h2.status();
      assert.equal(st2.tasks.use?.error?.type, 'ResourceSetupFailed');
      assert.match(st2.tasks.use?.error?.message ?? '', /quota exceeded/);
      assert.equal(st2.resources.broken?.state, 'failed');
      assert.match(st2.resources.broken?.error ?? '', /setup failed: quota exceeded/);
    });
  });

  it('resumes by itself at resumeAt', async () => {
    const wf = defineWorkflow({
      name: 'resume_at',
      tasks: [
        task({ id: 'g', pauseBefore: true }, () => undefined),
        task({ id: 'later' }, async () => {
          await sleep(300);
        }),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      const resumeAt = new Date(Date.now() + 2500);
      await h.pause({ reason: 'window', by: 'ops', resumeAt });
      let st = await waitFor(h, (s) => s.pause?.kind === 'manual', 'the pause');
      assert.equal(st.pause?.resumeAt, resumeAt.toISOString());
      st = await waitFor(
        h,
        (s) => s.audit.some((a) => a.action === 'resume' && a.by === 'system:schedule'),
        'the scheduled resume',
        15_000,
      );
      assert.ok(Date.parse(st.audit.find((a) => a.by === 'system:schedule')!.at) >= resumeAt.getTime());
      assert.equal(st.pause?.kind, 'gate');
      await h.cancel();
    });
  });

  for (const onExpiry of ['resume', 'fail', 'cancel'] as const) {
    it(`ends an expired pause with onExpiry '${onExpiry}'`, async () => {
      const wf2 = defineWorkflow({
        name: `expiry2_${onExpiry}`,
        tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
      });
      await withWorker([wf2], async ({ executor }) => {
        const h = await executor.executeAsync(wf2, {});
        await waitFor(h, isPaused, 'the gate');
        await h.pause({ reason: 'bounded', expiresAfter: 1500, onExpiry });
        if (onExpiry === 'resume') {
          const st = await waitFor(h, (s) => s.audit.some((a) => a.action === 'expired'), 'the expiry');
          assert.equal(st.pause?.kind, 'gate', 'only the manual pause ended');
          await h.approve('g', { by: 'ops' });
          await h.result();
        } else {
          await assert.rejects(
            h.result(),
            (e: unknown) => e instanceof WorkflowExecutionError && /expired/.test(e.message),
          );
          const st = await h.status();
          assert.equal(st.state, onExpiry === 'fail' ? 'failed' : 'cancelled');
        }
      });
    });
  }

  it('applies a gate timeout (active time) with onTimeout', async () => {
    const timeout = 2000;
    const wf = defineWorkflow({
      name: 'gate_timeout',
      tasks: [
        task(
          { id: 'auto', pauseBefore: { timeout, onTimeout: 'approve' } },
          (ctx) => void ctx.set('auto', true),
        ),
        task({ id: 'strict', pauseBefore: { timeout, onTimeout: 'fail' } }, () => undefined),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, (s) => s.gates.length === 2, 'both gates');
      // Pause the run while the gates wait, for longer than their whole timeout: a timeout counted in
      // wall time would run out during the pause.
      await h.pause({ reason: 'freeze the gates', by: 'ops' });
      const frozen = await h.status();
      await sleep(timeout + 500);
      const still = await h.status();
      assert.deepEqual(
        still.gates.map((g) => g.taskId).sort(),
        ['auto', 'strict'],
        'no gate timed out while the run was paused',
      );
      assert.deepEqual(
        still.gates.map((g) => g.timeoutRemainingMs),
        frozen.gates.map((g) => g.timeoutRemainingMs),
        'the time left on each gate stands still while paused',
      );
      await h.resume({ by: 'ops' });
      await assert.rejects(h.result(), /Gate before `strict` rejected by system:timeout/);
      const st = await h.status();
      assert.equal(st.tasks.auto?.state, 'completed');
      assert.equal(st.tasks.strict?.state, 'failed');

      const pause = auditLine(st.audit, 'pause', (a) => a.action === 'pause' && a.kind === 'manual');
      const resume = auditLine(st.audit, 'resume', (a) => a.action === 'resume' && a.kind === 'manual');
      const pausedMs = auditTime(resume) - auditTime(pause);
      const runs = await chainHistory(h.workflowId);
      for (const taskId of ['auto', 'strict']) {
        const opened = auditLine(
          st.audit,
          `${taskId} gate`,
          (a) => a.action === 'gate' && a.taskId === taskId,
        );
        const expired = auditLine(
          st.audit,
          `${taskId} expiry`,
          (a) => a.action === 'expired' && a.taskId === taskId,
        );
        assert.ok(auditTime(opened) < auditTime(pause), `the ${taskId} gate was waiting when the pause came`);
        // The gate's clock ran from its opening to the pause line and from the resume line on: the timer
        // armed at the resume is due that much later, and the gate expires in the first workflow task at
        // or after that time (workflow times, read from the history: no wall-clock span to stretch).
        const due = auditTime(opened) + timeout + pausedMs;
        const dues = timerDues(runs).map((d) => d.due);
        assert.ok(
          Math.abs(dues[dues.length - 1]! - due) <= 2,
          `the last timer is due at ${dues[dues.length - 1]}; expected ${due} (opened ${auditTime(opened)} + ` +
            `timeout ${timeout} ms + ${pausedMs} ms paused); all: ${dues.join(', ')}`,
        );
        const expiredAt = auditTime(expired);
        assert.ok(
          Math.abs(expiredAt - taskStartedAtOrAfter(runs, due - 2)) <= 2,
          `the ${taskId} gate expired at ${expiredAt}, not in the first workflow task after ${due}`,
        );
        assert.match(expired.message ?? '', taskId === 'auto' ? /timed out: approve/ : /timed out: fail/);
      }
    });
  });

  it('counts the run deadline in active time only: time spent paused does not count', async () => {
    const make = (name: string) =>
      defineWorkflow({
        name,
        deadline: 4000,
        tasks: [
          task({ id: 'a' }, (ctx) => ctx.pauseWorkflow('hold')),
          task({ id: 'b', dependencies: ['a'] }, async () => {
            await sleep(1000);
          }),
        ],
      });
    const frozen = make('deadline_frozen');
    const exceeded = defineWorkflow({
      name: 'deadline_exceeded',
      deadline: 1500,
      tasks: [
        task({ id: 'slow' }, async () => {
          await sleep(4000);
        }),
      ],
    });
    await withWorker([frozen, exceeded], async ({ executor }) => {
      const h = await executor.executeAsync(frozen, {});
      const paused = await waitFor(h, isPaused, 'the pause');
      await sleep(5000); // longer than the deadline, but paused
      assert.equal((await h.status()).activeMs, paused.activeMs, 'the run clock stands still while paused');
      await h.resume();
      await h.result();
      const st = await h.status();
      assert.ok(st.activeMs < 4000, `active time ${st.activeMs} ms`);
      const pause = auditLine(st.audit, 'pause', (a) => a.action === 'pause');
      const resume = auditLine(st.audit, 'resume', (a) => a.action === 'resume');
      const starts = await taskStarts(h.workflowId);
      assert.deepEqual(describeStarts(starts), ['a#1', 'b#1']);
      assert.deepEqual(describeStarts(startsBetween(starts, auditTime(pause), auditTime(resume))), []);
      assert.ok(starts[1]!.at >= auditTime(resume), '`b` started after the resume');
      await assert.rejects(executor.execute(exceeded, {}), /exceeded its deadline of 1500 ms of active time/);
    });
  });

  it('pauses on failure: resume re-runs the task with fresh attempts, or skip skips it', async () => {
    let calls = 0;
    let fixed = false;
    const wf = defineWorkflow({
      name: 'pause_on_failure',
      pausePolicy: { onTaskFailure: 'pause' },
      tasks: [
        task({ id: 'flaky', retry: { attempts: 2, delay: 10, jitter: false } }, (ctx) => {
          calls++;
          if (!fixed) throw new Error('disk full');
          ctx.set('ok', true);
        }),
        task({ id: 'fragile', retry: { attempts: 1 } }, () => {
          throw new Error('always broken');
        }),
        task({ id: 'after', dependencies: ['flaky', 'fragile'] }, (ctx) => void ctx.set('after', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      // `fragile` exhausts its only attempt and pauses the run; `flaky`'s retry is held by that pause.
      let st = await waitFor(
        h,
        (s) => s.state === 'paused' && s.tasks.fragile?.state === 'held',
        'the failure pause',
      );
      assert.equal(st.pause?.kind, 'failure');
      assert.deepEqual(st.pause?.failedTasks, ['fragile']);
      assert.match(st.pause?.reason ?? '', /fragile: always broken/);
      assert.equal(st.tasks.after?.state, 'pending');
      assert.equal(calls, 1, 'no retry started while paused');
      assert.equal(st.tasks.flaky?.state, 'retrying');
      await assert.rejects(
        h.resume({ skip: ['after'] }),
        /`skip` names `after`, which no failure pause holds/,
      );
      await h.resume({ skip: ['fragile'], reason: 'fragile is optional' });
      // `flaky` now uses its second attempt, fails again and is held in turn.
      st = await waitFor(
        h,
        (s) => s.state === 'paused' && s.tasks.flaky?.state === 'held',
        'flaky to be held',
      );
      assert.equal(calls, 2);
      assert.equal(st.tasks.fragile?.state, 'skipped');
      fixed = true;
      await h.resume({ reason: 'disk cleaned' });
      assert.deepEqual(await h.result(), { ok: true, after: true });
      const done = await h.status();
      assert.equal(done.tasks.flaky?.attempts, 1, 'fresh attempts after resume');
      assert.equal(calls, 3);
      const failurePauses = done.audit.filter((a) => a.action === 'pause' && a.kind === 'failure');
      assert.deepEqual(
        failurePauses.map((a) => a.taskId),
        ['fragile', 'flaky'],
      );
    });
  });

  it('survives 500 pause/resume cycles across continue-as-new with its whole audit trail', async function () {
    this.timeout(600_000);
    const wf = defineWorkflow({
      name: 'long_life',
      pausePolicy: { verifyTasksOnResume: false },
      tasks: [
        task({ id: 'g', pauseBefore: true }, (ctx) => void ctx.set('done', true)),
        task({ id: 'side' }, (ctx) => void ctx.set('side', true)),
      ],
    });
    /** The whole trail, page by page; checks every page but the last is full. */
    const wholeAudit = async (executor: UnifiedExecutor, id: string, pageSize: number) => {
      const entries: AuditEntry[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await executor.getAudit(id, { pageSize, ...(cursor !== undefined ? { cursor } : {}) });
        pages++;
        if (page.nextCursor !== undefined)
          assert.equal(page.entries.length, pageSize, `page ${pages} is full`);
        entries.push(...page.entries);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      assert.equal(pages, Math.max(1, Math.ceil(entries.length / pageSize)), 'pages');
      return entries;
    };
    const oneTo = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await waitFor(h, isPaused, 'the gate');
      const cycles = 500;
      for (let i = 0; i < cycles; i++) {
        await h.pause({ reason: `cycle ${i}`, by: 'soak' });
        await h.resume({ by: 'soak' });
      }
      const st = await h.status();
      assert.ok(st.continuedAsNew >= 5, `continued as new ${st.continuedAsNew} times`);
      // Status carries the newest 200 lines; auditCount counts them all.
      assert.equal(st.auditCount, 1 + 2 * cycles, 'the gate line, then a pause and a resume per cycle');
      assert.equal(st.audit.length, 200);
      assert.deepEqual(
        st.audit.map((a) => a.seq),
        oneTo(200).map((i) => st.auditCount - 200 + i),
      );

      // The whole trail is read back from the event history of every run of the chain, in pages that
      // cross continue-as-new boundaries.
      const trail = await wholeAudit(executor, h.workflowId, 150);
      assert.equal(trail.length, st.auditCount);
      assert.deepEqual(
        trail.map((a) => a.seq),
        oneTo(st.auditCount),
      );
      assert.deepEqual(trail.slice(-200), st.audit, 'the tail in status is the end of the whole trail');
      assert.equal(trail[0]?.action, 'gate');
      const pauses = trail.filter((a) => a.action === 'pause' && a.kind === 'manual');
      const resumes = trail.filter((a) => a.action === 'resume' && a.kind === 'manual');
      assert.equal(pauses.length, cycles);
      assert.equal(resumes.length, cycles);
      assert.deepEqual(
        pauses.map((a) => a.reason),
        Array.from({ length: cycles }, (_, i) => `cycle ${i}`),
      );
      assert.deepEqual(
        resumes.map((a) => a.pauseId),
        pauses.map((a) => a.pauseId),
        'every pause has its resume',
      );

      await h.approve('g', { by: 'soak' });
      // The final context is the output of the last task to complete.
      assert.deepEqual(await h.result(), { done: true });
      const final = await h.status();
      assert.equal(final.audit.length, 200);
      const all = await wholeAudit(executor, h.workflowId, 1000);
      assert.equal(all.length, final.auditCount);
      assert.deepEqual(
        all.map((a) => a.seq),
        oneTo(final.auditCount),
      );
      assert.deepEqual(all.slice(0, trail.length), trail, 'the trail read while running is unchanged');
      assert.deepEqual(
        all.slice(trail.length).map((a) => `${a.action}:${a.by}`),
        ['approve:soak', 'resume:soak'],
      );
    });
  });
});
