// Maintenance window: every running data-pipeline run is paused for a database maintenance with a scheduled
// resume (`resumeAt`). Running tasks finish (graceful pause), their database connection pool is released
// while the runs wait (`releaseOnPause`), the paused runs are listed through Temporal visibility, and they
// resume by themselves at `resumeAt` and complete. Then the same window is made a nightly pause window
// (a Temporal Schedule that does this bulk pause at 22:00 UTC every night), listed and deleted.
//
//   node dist/examples/maintenance-window.js      (starts its own dev server)
import {
  createWorker,
  defineWorkflow,
  resource,
  task,
  UnifiedExecutor,
  type Context,
  type RunStatus,
} from '../src';
import { type ExampleEnv, runAsScript, sleep, waitFor } from './shared';
export type { ExampleEnv } from './shared';

const RUNS = 5;
const WINDOW_MS = 3000;

/** Connection pools opened and closed, per run (what a real pool would cost while a run waits). */
const pools = { opened: 0, closed: 0 };

const dbPool = resource<{ pool: string }>({
  id: 'db_pool',
  releaseOnPause: true,
  setup: ({ workflowId }) => {
    pools.opened++;
    return { pool: `pool-${workflowId.slice(-8)}-${pools.opened}` };
  },
  teardown: () => {
    pools.closed++;
  },
});

const step = (ms: number, fn: (ctx: Context) => void) => async (ctx: Context) => {
  await sleep(ms);
  fn(ctx);
};

const extract = task(
  { id: 'extract', uses: [dbPool] },
  step(1200, (ctx) => ctx.set('rows', 1000 * (ctx.get<number>('partition') ?? 1))),
);
const transform = task(
  { id: 'transform', dependencies: [extract], uses: [dbPool] },
  step(800, (ctx) => ctx.set('cleanRows', Math.floor((ctx.get<number>('rows') ?? 0) * 0.98))),
);
const load = task(
  { id: 'load', dependencies: [transform], uses: [dbPool] },
  step(600, (ctx) => ctx.set('loaded', true)),
);

/** A small nightly ETL pipeline. */
export const nightlyEtl = defineWorkflow({
  name: 'nightly_etl',
  description: 'extract, transform and load one partition',
  tasks: [extract, transform, load],
});

/** Runs the scenario; resolves to facts about it. */
export async function main(env: ExampleEnv): Promise<Record<string, unknown>> {
  const log = env.log ?? (() => undefined);
  const worker = await createWorker({
    workflows: [nightlyEtl],
    taskQueue: env.taskQueue,
    address: env.address,
    namespace: env.namespace,
  });
  const executor = await UnifiedExecutor.connect({
    address: env.address,
    namespace: env.namespace,
    taskQueue: env.taskQueue,
    identity: 'etl-scheduler',
  });
  // Only this task queue's runs: a shared server may hold other `nightly_etl` runs.
  const mine = `TaskQueue = '${env.taskQueue}'`;
  try {
    return await worker.runUntil(async () => {
      const opened0 = pools.opened;
      const closed0 = pools.closed;
      const handles = await Promise.all(
        Array.from({ length: RUNS }, (_, i) => executor.executeAsync(nightlyEtl, { partition: i + 1 })),
      );
      log(`Started ${handles.length} nightly_etl runs`);

      // The maintenance window opens: pause every running run of the pipeline, all at once.
      const running = await waitFor(async () => {
        const rows = await executor.listWorkflows({
          workflow: nightlyEtl.name,
          state: 'running',
          query: mine,
        });
        return rows.length === RUNS ? rows : undefined;
      }, `${RUNS} running runs in visibility`);
      const windowOpened = Date.now();
      const resumeAt = new Date(windowOpened + WINDOW_MS);
      // One bulk operation over the visibility query: bounded concurrency, an outcome per run, and
      // re-running it with the same bulkId changes nothing twice.
      const bulk = await executor.pauseAll(
        { workflow: nightlyEtl.name, query: mine },
        {
          reason: 'DB maintenance',
          by: 'ops',
          resumeAt,
          bulkId: `maintenance-${windowOpened}`,
          concurrency: 10,
        },
      );
      log(
        `Paused ${bulk.succeeded}/${bulk.total} runs until ${resumeAt.toISOString()}: ` +
          bulk.outcomes.map((o) => o.state ?? o.error).join(', '),
      );
      if (bulk.failed > 0 || bulk.total !== running.length)
        throw new Error(`bulk pause: ${JSON.stringify(bulk.outcomes)}`);

      // In-flight tasks finish; then each run is paused and its pool released (teardown runs once drained).
      const paused = await Promise.all(
        handles.map((h) =>
          waitFor(async () => {
            const s = await h.status();
            return s.state === 'paused' && s.resources.db_pool?.state !== 'ready' ? s : undefined;
          }, `${h.workflowId} to be paused with its pool released`),
        ),
      );
      const listed = await waitFor(async () => {
        const rows = await executor.listWorkflows({ paused: true, workflow: nightlyEtl.name, query: mine });
        return rows.length === RUNS && rows.every((r) => r.state === 'paused') ? rows : undefined;
      }, 'the paused runs in visibility');
      log(`listWorkflows({ paused: true }) lists ${listed.length} runs, paused by ${listed[0]?.pausedBy}`);
      const released = paused.filter((s) => s.resources.db_pool?.state === 'released').length;
      log(`${released} connection pools released while paused`);

      // Nobody resumes them: the schedule does, at resumeAt.
      const results = await Promise.all(handles.map((h) => h.result()));
      const finished = Date.now();
      const finals: RunStatus[] = await Promise.all(handles.map((h) => h.status()));
      const completed = finals.filter((s) => s.state === 'completed').length;
      const resumes = finals.map((s) => s.audit.find((e) => e.action === 'resume'));
      log(
        `${completed} runs completed ${((finished - windowOpened) / 1000).toFixed(1)} s after the window opened; resumed by ${[
          ...new Set(resumes.map((e) => e?.by)),
        ].join(', ')}`,
      );

      // Every night, with no one awake: a pause window does the same bulk pause on a cron schedule.
      const window = await executor.schedulePauseWindow({
        id: `nightly-etl-${env.taskQueue}`.slice(0, 64),
        query: `CloacinaWorkflow = '${nightlyEtl.name}' AND ${mine}`,
        cron: '0 22 * * *',
        duration: '8h',
        reason: 'DB maintenance',
        by: 'ops',
      });
      const listedWindow = await waitFor(
        async () => (await executor.listPauseWindows()).find((w) => w.id === window.id),
        'the pause window in listPauseWindows',
      );
      log(
        `Pause window ${window.id}: ${window.cron} (UTC) for ${window.durationMs / 3600_000} h, next ${window.nextOpenings[0]?.toISOString()}`,
      );
      await executor.deletePauseWindow(window.id);
      return {
        windowListed: listedWindow.cron === '0 22 * * *' && listedWindow.durationMs === 8 * 3600_000,
        windowNextOpeningUtcHour: window.nextOpenings[0]?.getUTCHours(),
        started: handles.length,
        pauseAcks: bulk.outcomes.map((o) => o.state),
        paused: paused.length,
        listedPaused: listed.length,
        pauseReasons: [...new Set(listed.map((r) => r.pauseReason))],
        pausedBy: [...new Set(listed.map((r) => r.pausedBy))],
        resumeAt: resumeAt.toISOString(),
        poolsReleasedWhilePaused: released,
        resumedBy: [...new Set(resumes.map((e) => e?.by))],
        resumedNotBeforeResumeAt: resumes.every((e) => !!e && Date.parse(e.at) >= resumeAt.getTime()),
        completed,
        loaded: results.filter((c) => c.loaded === true).length,
        poolsOpened: pools.opened - opened0,
        poolsClosed: pools.closed - closed0,
      };
    });
  } finally {
    await executor.close();
  }
}

if (require.main === module) runAsScript('maintenance-window', main);
