import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { UnifiedExecutor, WorkflowTaskFailingError } from '../../src';
import { bundleWorkflows } from '../../src/worker';
import {
  auditTime,
  chainHistory,
  eventTimeMs,
  freshTaskQueue,
  replayHistory,
  taskStarts,
  temporalCli,
  testClient,
  testServer,
  withWorker,
} from '../helpers';
import { crashWorkflows, immediateDrain, midTask, resourceSetup, validation } from './crash-workflows';
import { DoomedWorker } from './doomed-worker';

const { TimeoutType } = temporal.api.enums.v1;

/** The library's worker (worker-process.ts) in its own process, its steps hanging until the kill. */
const startDoomed = (taskQueue: string, bundlePath: string) =>
  DoomedWorker.start(path.join(__dirname, 'worker-process.js'), {
    CLOACINA_TASK_QUEUE: taskQueue,
    CLOACINA_BUNDLE_PATH: bundlePath,
    CLOACINA_CRASH_ROLE: 'doomed',
  });

interface ActivityOutcome {
  type: string;
  activityId: string;
  outcome: 'completed' | 'failed' | 'timedOut' | 'cancelled' | 'open';
  timeoutType?: string;
  /** Of the attempt that ended it (retries inside one activity are the server's). */
  attempt?: number;
  /** How the attempt before it ended, when it timed out. */
  previousTimeoutType?: string;
  endedAt?: number;
}

/** Every activity of a workflow's history with how it ended (and the kind of timeout, if it timed out). */
async function activityOutcomes(workflowId: string): Promise<ActivityOutcome[]> {
  const out: ActivityOutcome[] = [];
  for (const { events } of await chainHistory(workflowId)) {
    const byId = new Map<string, ActivityOutcome>();
    for (const e of events) {
      const s = e.activityTaskScheduledEventAttributes;
      if (s) {
        const a: ActivityOutcome = {
          type: s.activityType!.name!,
          activityId: s.activityId!,
          outcome: 'open',
        };
        byId.set(String(e.eventId), a);
        out.push(a);
      }
      const started = e.activityTaskStartedEventAttributes;
      const startedOf = started ? byId.get(String(started.scheduledEventId)) : undefined;
      if (startedOf) {
        startedOf.attempt = started!.attempt ?? undefined;
        const prev = started!.lastFailure?.timeoutFailureInfo?.timeoutType;
        if (prev !== undefined && prev !== null) startedOf.previousTimeoutType = TimeoutType[prev];
      }
      const ends = [
        ['completed', e.activityTaskCompletedEventAttributes],
        ['failed', e.activityTaskFailedEventAttributes],
        ['timedOut', e.activityTaskTimedOutEventAttributes],
        ['cancelled', e.activityTaskCanceledEventAttributes],
      ] as const;
      for (const [outcome, attrs] of ends) {
        const a = attrs ? byId.get(String(attrs.scheduledEventId)) : undefined;
        if (!a) continue;
        a.outcome = outcome;
        a.endedAt = eventTimeMs(e);
        const tt = e.activityTaskTimedOutEventAttributes?.failure?.timeoutFailureInfo?.timeoutType;
        if (tt !== undefined && tt !== null) a.timeoutType = TimeoutType[tt];
      }
    }
  }
  return out;
}

const HEARTBEAT = 'TIMEOUT_TYPE_HEARTBEAT';

// SIGKILL of the worker at four points. Each run goes on in a new worker and keeps its promises: the
// pause holds, a cut-off attempt does not count, nothing is lost, and the dead worker is noticed by a
// heartbeat timeout (seconds), never by a start-to-close timeout (minutes).
describe('a worker killed with SIGKILL', function () {
  this.timeout(180_000);
  let dir: string;
  let bundlePath: string;
  const recoveries: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cloacina-crash-'));
    bundlePath = path.join(dir, 'workflows.js');
    writeFileSync(bundlePath, JSON.stringify(await bundleWorkflows()));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
    console.log(`      crashes: ${recoveries.join('; ')}`);
  });

  const executorFor = async (taskQueue: string) =>
    new UnifiedExecutor(await testClient(), { taskQueue, identity: 'ops' });

  it('mid-task while a graceful pause waits for it: the attempt fails by heartbeat, the pause holds, the retry runs after resume', async () => {
    const taskQueue = freshTaskQueue('crash');
    const doomed = await startDoomed(taskQueue, bundlePath);
    const executor = await executorFor(taskQueue);
    const { workflowId } = await executor.executeAsync(midTask, {});
    await doomed.waitFor('@@ slow 1');
    const paused = await executor.pauseWorkflow(workflowId, {
      reason: 'deploy',
      by: 'ops',
      requestId: 'p-1',
    });
    assert.equal(paused.state, 'pausing', 'the graceful pause waits for the running attempt');
    const killedAt = await doomed.kill();

    await withWorker(
      crashWorkflows,
      async ({ executor: ex }) => {
        const held = await ex.waitUntil(workflowId, (s) => !!s.pause?.drainedAt, { timeout: 60_000 });
        assert.equal(held.state, 'paused');
        assert.equal(held.pause!.requestId, 'p-1');
        assert.equal(held.pause!.by, 'ops');
        assert.equal(held.pause!.reason, 'deploy');
        assert.equal(held.tasks.slow!.attempts, 1, 'a crash under a graceful pause is a failed attempt');
        assert.equal(held.tasks.slow!.state, 'retrying');

        const resumed = await ex.resumeWorkflow(workflowId, { by: 'ops' });
        assert.equal(resumed.duplicate, false);
        assert.deepEqual(await ex.result(workflowId), { prep: true, slowAttempt: 2, after: true });

        const acts = await activityOutcomes(workflowId);
        const slow = acts.filter((a) => a.activityId.startsWith('slow#'));
        assert.deepEqual(
          slow.map((a) => [a.outcome, a.timeoutType]),
          [
            ['timedOut', HEARTBEAT],
            ['completed', undefined],
          ],
        );
        // No attempt started while paused: the retry waited for the resume.
        const audit = (await ex.getAudit(workflowId)).entries;
        const resumedAt = auditTime(audit.find((e) => e.action === 'resume')!);
        const second = (await taskStarts(workflowId)).filter((t) => t.taskId === 'slow')[1]!;
        assert.ok(second.at >= resumedAt, `the retry started ${resumedAt - second.at} ms before the resume`);
        const noticedIn = slow[0]!.endedAt! - killedAt;
        assert.ok(
          noticedIn >= 0,
          `the attempt timed out ${-noticedIn} ms before the kill: its worker was alive`,
        );
        recoveries.push(`mid-task: heartbeat timeout ${noticedIn} ms after the kill`);
      },
      // A defect of the SDK (docs/reliability.md, "Known: a history that does not replay after a worker
      // crash"; reproduced without this library in sdk-replay.test.ts): the status queries above are
      // answered by this worker before it takes the workflow task the resume comes in, and the history
      // it writes does not replay (`Update machine does not handle this event:
      // UpsertWorkflowSearchAttributes`). The replay check stays off here until the SDK is fixed.
      { taskQueue, replay: false },
    );
  });

  // The SDK defect of the two tests above (docs/reliability.md, "Known: a history that does not replay
  // after a worker crash"), made on purpose, and the way out an operator has: reset the run to the
  // workflow task before the events the replay does not accept.
  it('a history the SDK cannot replay: a reset to the workflow task before it lets the paused run go on', async () => {
    const taskQueue = freshTaskQueue('crash');
    const doomed = await startDoomed(taskQueue, bundlePath);
    const executor = await executorFor(taskQueue);
    const { workflowId } = await executor.executeAsync(midTask, {});
    await doomed.waitFor('@@ slow 1');
    await executor.pauseWorkflow(workflowId, { by: 'ops', reason: 'incident', requestId: 'p-r' });
    await doomed.kill();

    // A new worker answers status queries while the timed-out attempt waits for its workflow task; the
    // pause, sent again, arrives with that workflow task.
    await withWorker(
      crashWorkflows,
      async ({ executor: ex }) => {
        await ex.waitUntil(workflowId, (s) => !!s.pause?.drainedAt, { timeout: 60_000 });
        const again = await ex.pauseWorkflow(workflowId, { by: 'ops', reason: 'incident', requestId: 'p-r' });
        assert.deepEqual([again.state, again.duplicate], ['paused', true]);
      },
      { taskQueue, replay: false },
    );
    const client = await testClient();
    const first = await client.workflow.getHandle(workflowId).fetchHistory();
    const failure = await replayHistory(first, workflowId).then(
      () => undefined,
      (err: Error) => err.message,
    );
    assert.match(failure ?? 'it replays', /Nondeterminism error: .* HistoryEvent\(id: (\d+),/);
    const badEvent = Number(/HistoryEvent\(id: (\d+),/.exec(failure!)![1]);

    await withWorker(
      crashWorkflows,
      async ({ executor: ex }) => {
        // A worker with nothing cached cannot rebuild the run. Its status query and a resume fail, with
        // the replay's error, the event it names, and the reset that lets the run go on.
        const expected = (err: unknown) => {
          assert.ok(err instanceof WorkflowTaskFailingError, String(err));
          assert.equal(err.nondeterminism, true);
          assert.equal(err.eventId, badEvent);
          assert.match(err.failure, /\[TMPRL1100\]/);
          assert.ok(
            err.resetEventId !== undefined && err.resetEventId < badEvent,
            `reset to ${err.resetEventId}`,
          );
          assert.ok(
            err.message.includes(
              `temporal workflow reset --workflow-id ${workflowId} --event-id ${err.resetEventId} `,
            ),
            err.message,
          );
          return true;
        };
        let resetEventId: number | undefined;
        await assert.rejects(ex.getStatus(workflowId, { timeout: 10_000 }), (err) => {
          resetEventId = (err as WorkflowTaskFailingError).resetEventId;
          return expected(err);
        });
        await assert.rejects(ex.resumeWorkflow(workflowId, { by: 'ops' }), expected);
        const status = spawnSync(
          process.execPath,
          [
            path.join(__dirname, '..', '..', 'src', 'cli.js'),
            'status',
            workflowId,
            '--address',
            testServer().address,
          ],
          { encoding: 'utf8', timeout: 60_000 },
        );
        assert.equal(status.status, 1, status.stderr + status.stdout);
        assert.match(status.stderr, new RegExp(`--event-id ${resetEventId} --reason`));

        // The way out (docs/operations.md): reset to the last completed workflow task before the event
        // the replay names, found and done with the `temporal` CLI.
        const shown = JSON.parse(
          await temporalCli(['workflow', 'show', '--workflow-id', workflowId, '--output', 'json']),
        ) as {
          events: { eventId: string; eventType: string }[];
        };
        const resetTo = Math.max(
          ...shown.events
            .filter((e) => e.eventType === 'EVENT_TYPE_WORKFLOW_TASK_COMPLETED')
            .map((e) => Number(e.eventId))
            .filter((id) => id < badEvent),
        );
        assert.equal(resetTo, resetEventId, 'the event the error names and the one the docs find');
        await temporalCli(
          ['workflow', 'reset', '--workflow-id', workflowId, '--event-id', String(resetTo)].concat([
            '--reason',
            'history does not replay',
          ]),
        );

        // The new run rebuilds, holds the pause (the server applies the update again), and finishes.
        const held = await ex.waitUntil(workflowId, 'paused', { timeout: 60_000 });
        assert.deepEqual([held.pause?.requestId, held.pause?.by], ['p-r', 'ops']);
        await ex.resumeWorkflow(workflowId, { by: 'ops' });
        assert.deepEqual(await ex.result(workflowId), { prep: true, slowAttempt: 2, after: true });
        const reset = await client.workflow.getHandle(workflowId).fetchHistory();
        await replayHistory(reset, workflowId);
      },
      // The first run's history is the one that does not replay; the new run's is replayed above.
      { taskQueue, replay: false },
    );
  });

  it('during an immediate drain: the cut-off attempt does not count, even with attempts: 1', async () => {
    const taskQueue = freshTaskQueue('crash');
    const doomed = await startDoomed(taskQueue, bundlePath);
    const executor = await executorFor(taskQueue);
    const { workflowId } = await executor.executeAsync(immediateDrain, {});
    await doomed.waitFor('@@ slow 1');
    const paused = await executor.pauseWorkflow(workflowId, {
      mode: 'immediate',
      by: 'ops',
      reason: 'stop now',
    });
    assert.equal(paused.state, 'pausing', 'the task ignores its cancellation: the drain waits for it');
    // Longer than the heartbeat timeout: the live worker keeps heartbeating the cancelled attempt, so the
    // drain still waits for it; only the kill can end it now.
    await new Promise((r) => setTimeout(r, 6000));
    const waiting = await executor.getStatus(workflowId);
    assert.deepEqual([waiting.state, waiting.tasks.slow!.state], ['pausing', 'running']);
    const killedAt = await doomed.kill();

    await withWorker(
      crashWorkflows,
      async ({ executor: ex }) => {
        const held = await ex.waitUntil(workflowId, (s) => !!s.pause?.drainedAt, { timeout: 60_000 });
        assert.equal(held.state, 'paused');
        assert.deepEqual(
          {
            attempts: held.tasks.slow!.attempts,
            interrupted: held.tasks.slow!.interrupted,
            state: held.tasks.slow!.state,
          },
          { attempts: 0, interrupted: 1, state: 'pending' },
        );
        await ex.resumeWorkflow(workflowId, { by: 'ops' });
        assert.deepEqual(await ex.result(workflowId), { slowAttempt: 1, after: true });
        const final = await ex.getStatus(workflowId);
        assert.equal(final.tasks.slow!.attempts, 1);
        assert.equal(final.tasks.slow!.interrupted, 1);

        const slow = (await activityOutcomes(workflowId)).filter((a) => a.activityId.startsWith('slow#'));
        assert.deepEqual(
          slow.map((a) => [a.outcome, a.timeoutType]),
          [
            ['timedOut', HEARTBEAT],
            ['completed', undefined],
          ],
          'the drain ended by the heartbeat timeout of the dead worker, not by the drain timeout',
        );
        const noticedIn = slow[0]!.endedAt! - killedAt;
        assert.ok(
          noticedIn >= 0,
          `the attempt timed out ${-noticedIn} ms before the kill: its worker was alive`,
        );
        recoveries.push(`immediate drain: heartbeat timeout ${noticedIn} ms after the kill`);
      },
      // The SDK defect above: this history does not replay either.
      { taskQueue, replay: false },
    );
  });

  it('during resume validation: the validation runs again in the new worker and the resume answers', async () => {
    const taskQueue = freshTaskQueue('crash');
    const doomed = await startDoomed(taskQueue, bundlePath);
    const executor = await executorFor(taskQueue);
    const { workflowId } = await executor.executeAsync(validation, { n: 7 });
    await executor.waitUntil(workflowId, (s) => s.gates.some((g) => g.taskId === 'gated'), {
      timeout: 30_000,
    });
    await executor.pauseWorkflow(workflowId, { by: 'ops', reason: 'hold' });
    await executor.waitUntil(workflowId, (s) => s.state === 'paused', { timeout: 30_000 });
    const resume = executor.resumeWorkflow(workflowId, { by: 'ops', requestId: 'r-1' });
    resume.catch(() => undefined);
    await doomed.waitFor('@@ validate 7');
    const killedAt = await doomed.kill();

    await withWorker(
      crashWorkflows,
      async ({ executor: ex }) => {
        const answered = await resume;
        const answeredIn = Date.now() - killedAt;
        assert.equal(answered.duplicate, false);
        assert.equal(answered.pause?.kind, 'gate', 'the manual pause is over; the gate still waits');
        const validations = (await activityOutcomes(workflowId)).filter(
          (a) => a.type === 'cloacina.validateResume',
        );
        assert.deepEqual(
          validations.map((a) => [a.outcome, a.attempt, a.previousTimeoutType]),
          [['completed', 2, HEARTBEAT]],
          'the first attempt was lost with the worker, noticed by its heartbeat timeout, and retried',
        );
        await ex.approve(workflowId, 'gated', { by: 'ops' });
        assert.deepEqual(await ex.result(workflowId), { n: 7, gated: true, after: true });
        recoveries.push(`resume validation: answered ${answeredIn} ms after the kill`);
      },
      { taskQueue },
    );
  });

  it('during resource setup: the setup runs again in the new worker and the task gets its resource', async () => {
    const taskQueue = freshTaskQueue('crash');
    const doomed = await startDoomed(taskQueue, bundlePath);
    const executor = await executorFor(taskQueue);
    const { workflowId } = await executor.executeAsync(resourceSetup, {});
    await doomed.waitFor('@@ setup start');
    const killedAt = await doomed.kill();

    await withWorker(
      crashWorkflows,
      async ({ executor: ex }) => {
        assert.deepEqual(await ex.result(workflowId), { connection: 'db-1' });
        const doneIn = Date.now() - killedAt;
        const final = await ex.getStatus(workflowId);
        assert.equal(final.resources.db!.setups, 1);
        assert.equal(final.tasks.query!.attempts, 1);
        const setups = (await activityOutcomes(workflowId)).filter(
          (a) => a.type === 'cloacina.setupResource',
        );
        assert.deepEqual(
          setups.map((a) => [a.outcome, a.attempt, a.previousTimeoutType]),
          [['completed', 2, HEARTBEAT]],
          'the first attempt was lost with the worker, noticed by its heartbeat timeout, and retried',
        );
        recoveries.push(`resource setup: run completed ${doneIn} ms after the kill`);
      },
      { taskQueue },
    );
  });
});
