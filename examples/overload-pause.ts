// Programmatic pause on overload: a task checks the system load and, when it is too high, pauses its own
// run with `ctx.pauseWorkflow(reason)`. The check completes, nothing after it starts, the pause is of kind
// `task`, and an operator resumes the run (updating the load reading in the context) once load is down.
// A second run, started under normal load, never pauses.
//
//   node dist/examples/overload-pause.js      (starts its own dev server)
import { createWorker, defineWorkflow, task, UnifiedExecutor } from '../src';
import { type ExampleEnv, runAsScript, sleep, waitForStatus } from './shared';
export type { ExampleEnv } from './shared';

/** Load above which the import holds itself. */
const MAX_LOAD = 0.8;

/** Import batches started by this process, per workflow id (to show none starts while paused). */
const importsStarted = new Map<string, number>();

/** A bulk import that backs off when the system is overloaded. */
export const importWorkflow = defineWorkflow({
  name: 'bulk_import',
  description: 'check load, import a batch, notify',
  tasks: [
    task({ id: 'check_load' }, async (ctx) => {
      await sleep(200);
      const load = ctx.get<number>('systemLoad') ?? 0;
      ctx.set('loadAtCheck', load);
      if (load > MAX_LOAD) await ctx.pauseWorkflow('High system load detected');
    }),
    task({ id: 'import_batch', dependencies: ['check_load'] }, async (ctx) => {
      importsStarted.set(ctx.workflowId, Date.now());
      await sleep(300);
      ctx.set('imported', 500);
    }),
    task({ id: 'notify', dependencies: ['import_batch'] }, (ctx) => {
      ctx.set('notified', true);
    }),
  ],
});

/** Runs the scenario; resolves to facts about it. */
export async function main(env: ExampleEnv): Promise<Record<string, unknown>> {
  const log = env.log ?? (() => undefined);
  const worker = await createWorker({
    workflows: [importWorkflow],
    taskQueue: env.taskQueue,
    address: env.address,
    namespace: env.namespace,
  });
  const executor = await UnifiedExecutor.connect({
    address: env.address,
    namespace: env.namespace,
    taskQueue: env.taskQueue,
    identity: 'importer',
  });
  try {
    return await worker.runUntil(async () => {
      const busy = await executor.executeAsync(importWorkflow, { systemLoad: 0.95 });
      const calm = await executor.executeAsync(importWorkflow, { systemLoad: 0.3 });

      // The overloaded run pauses itself.
      const paused = await waitForStatus(busy, (s) => s.state === 'paused', 'the run to pause itself');
      log(`Run paused itself: ${paused.pause?.kind} pause by ${paused.pause?.by}: ${paused.pause?.reason}`);
      const calmContext = await calm.result();
      log(`The run under normal load completed without pausing: ${JSON.stringify(calmContext)}`);
      await sleep(1000);
      const stillPaused = await busy.status();
      const importStartedWhilePaused = importsStarted.has(busy.workflowId);

      // The operator resumes once load is back to normal.
      const resumedAt = Date.now();
      const resumed = await busy.resume({
        by: 'sre',
        reason: 'load back to normal',
        contextPatch: { systemLoad: 0.4 },
      });
      log(`sre resumed: run is ${resumed.state}`);
      const context = await busy.result();
      const final = await busy.status();
      const calmFinal = await calm.status();
      log(`Result: ${JSON.stringify(context)}`);
      return {
        pauseKind: paused.pause?.kind,
        pausedBy: paused.pause?.by,
        pauseReason: paused.pause?.reason,
        checkLoadState: paused.tasks.check_load?.state,
        importBatchWhilePaused: stillPaused.tasks.import_batch?.state,
        stateAfterOneSecond: stillPaused.state,
        importStartedWhilePaused,
        importStartedAfterResume: (importsStarted.get(busy.workflowId) ?? 0) >= resumedAt,
        resumeState: resumed.state,
        finalState: final.state,
        context,
        audit: final.audit.map((e) => `${e.action}:${e.kind ?? ''}:${e.by ?? ''}`),
        calmRun: {
          finalState: calmFinal.state,
          paused: calmFinal.audit.some((e) => e.action === 'pause'),
          context: calmContext,
        },
      };
    });
  } finally {
    await executor.close();
  }
}

if (require.main === module) runAsScript('overload-pause', main);
