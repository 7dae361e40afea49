import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { temporal } from '@temporalio/proto';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { freshTaskQueue, testClient, testNativeConnection } from '../helpers';
import { DoomedWorker } from './doomed-worker';
import { goSignal, goUpdate, logQuery, rawCrashThenGo } from './raw-workflows';

// A defect of the Temporal TypeScript SDK (its Rust core), reproduced with plain Temporal code and none of
// this library. A worker dies while an activity runs; the activity times out; a status query is answered
// by a new worker that has the run in no cache, before that worker takes the run's next workflow task;
// that workflow task carries an update (or a signal whose handler writes a command). The new worker
// applies the activity's result while answering the query and keeps the commands it wrote; the update's
// commands follow them. A replay of the same history gives the update first. So the history the SDK
// wrote does not replay with the SDK that wrote it.
//
// This test asserts the defect is still there. When it fails because the history now replays, the SDK is
// fixed: turn the replay check back on in the two crash tests (crashes.test.ts) and
// update docs/reliability.md ("Known: a history that does not replay after a worker crash").
const { EventType } = temporal.api.enums.v1;

describe('an SDK defect: a history written after a worker crash does not replay', function () {
  this.timeout(120_000);
  let dir: string;
  let bundlePath: string;
  let bundle: WorkflowBundleWithSourceMap;

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'cloacina-sdk-replay-'));
    bundlePath = path.join(dir, 'raw-workflows.json');
    bundle = await bundleWorkflowCode({
      workflowsPath: require.resolve('./raw-workflows'),
      logger: { trace() {}, debug() {}, info() {}, warn() {}, error() {}, log() {} },
    });
    writeFileSync(bundlePath, JSON.stringify(bundle));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  for (const via of ['update', 'signal'] as const) {
    it(`plain Temporal code: a status query on a cold worker, then ${via === 'update' ? 'an update' : 'a signal with a command'} in the same workflow task`, async () => {
      const client = await testClient();
      const taskQueue = freshTaskQueue('sdk-replay');
      const doomed = await DoomedWorker.start(path.join(__dirname, 'raw-worker-process.js'), {
        RAW_TASK_QUEUE: taskQueue,
        RAW_BUNDLE_PATH: bundlePath,
      });
      const handle = await client.workflow.start(rawCrashThenGo, {
        taskQueue,
        workflowId: `sdk-replay-${via}-${taskQueue}`,
      });
      await doomed.waitFor('@@ hang');
      await doomed.kill();

      const worker = await Worker.create({
        connection: await testNativeConnection(),
        taskQueue,
        workflowBundle: bundle,
        activities: { hang: async () => undefined, after: async () => undefined },
      });
      const history = await worker.runUntil(async () => {
        // The query is answered once the activity's heartbeat timeout is applied: by the new worker,
        // before it took the workflow task that the timeout scheduled.
        const deadline = Date.now() + 60_000;
        let seen: string[] = [];
        while (!seen.includes('hang failed')) {
          assert.ok(
            Date.now() < deadline,
            `the query never showed the failed activity: ${JSON.stringify(seen)}`,
          );
          seen = await handle.query(logQuery);
          if (!seen.includes('hang failed')) await new Promise((r) => setTimeout(r, 200));
        }
        if (via === 'update') await handle.executeUpdate(goUpdate);
        else await handle.signal(goSignal);
        const result = await handle.result();
        assert.deepEqual([...result].sort(), ['after completed', 'go', 'hang failed']);
        return handle.fetchHistory();
      });

      // The live order: the command the activity's result led to (scheduling `after`) comes before the
      // update's acceptance (or the signal handler's timer), in one workflow task.
      const types = history.events!.map((e) => e.eventType);
      const afterScheduled = history.events!.findIndex(
        (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'after',
      );
      const goHandled = types.indexOf(
        via === 'update'
          ? EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
          : EventType.EVENT_TYPE_TIMER_STARTED,
      );
      assert.ok(
        afterScheduled > 0 && goHandled > afterScheduled,
        `events: ${types.map((t) => EventType[t!]).join(', ')}`,
      );

      await assert.rejects(
        Worker.runReplayHistory({ workflowBundle: bundle }, history, handle.workflowId),
        (err: Error) => {
          assert.match(err.message, /Nondeterminism/);
          return true;
        },
        'the history replays: the SDK is fixed (see the note at the top of this file)',
      );
    });
  }
});
