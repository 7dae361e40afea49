// Debugging with run-time breakpoints: while a run loads its data, an engineer sets a breakpoint before
// `filter` (no change to the workflow's code). Held there, the engineer pauses the run (so a resume may
// carry a context patch), inspects the context, fixes a bad value with
// `resumeWorkflow(id, { contextPatch })`, and steps past the breakpoint with `approve`. The next task sees
// the patched value. The same from a terminal: `cloacina-temporal breakpoints <id> --set filter`.
//
//   node dist/examples/debugging.js      (starts its own dev server)
import { createWorker, defineWorkflow, task, UnifiedExecutor } from '../src';
import { type ExampleEnv, runAsScript, sleep, waitForStatus } from './shared';
export type { ExampleEnv } from './shared';

/** Scores readings above a threshold; the threshold it is started with is wrong. */
export const scoringWorkflow = defineWorkflow({
  name: 'score_readings',
  description: 'load readings, keep those over a threshold, report',
  tasks: [
    task({ id: 'load_readings' }, async (ctx) => {
      await sleep(2000);
      ctx.set('readings', [3, 8, 12, 15, 21]);
    }),
    task({ id: 'filter', dependencies: ['load_readings'] }, (ctx) => {
      const threshold = ctx.get<number>('threshold') ?? 0;
      const readings = ctx.get<number[]>('readings') ?? [];
      ctx.set('usedThreshold', threshold);
      ctx.set(
        'selected',
        readings.filter((r) => r > threshold),
      );
    }),
    task({ id: 'report', dependencies: ['filter'] }, (ctx) => {
      ctx.set(
        'report',
        `${(ctx.get<number[]>('selected') ?? []).length} readings over ${ctx.get<number>('usedThreshold')}`,
      );
    }),
  ],
});

/** Runs the scenario; resolves to facts about it. */
export async function main(env: ExampleEnv): Promise<Record<string, unknown>> {
  const log = env.log ?? (() => undefined);
  const worker = await createWorker({
    workflows: [scoringWorkflow],
    taskQueue: env.taskQueue,
    address: env.address,
    namespace: env.namespace,
  });
  const executor = await UnifiedExecutor.connect({
    address: env.address,
    namespace: env.namespace,
    taskQueue: env.taskQueue,
    identity: 'developer',
  });
  try {
    return await worker.runUntil(async () => {
      const h = await executor.executeAsync(scoringWorkflow, { threshold: 100 });
      const id = h.workflowId;

      // 1. While the readings load, set a breakpoint before `filter` (it has not started yet).
      await waitForStatus(h, (s) => s.tasks.load_readings?.state === 'running', 'load_readings running');
      const set = await executor.setBreakpoints(id, ['filter'], { by: 'developer' });
      log(`Breakpoints set: ${set.breakpoints.join(', ')}`);

      // 2. The breakpoint holds the run before `filter`.
      const atBreakpoint = await waitForStatus(
        h,
        (s) => s.state === 'paused' && s.tasks.filter?.state === 'waiting',
        'the breakpoint before filter',
      );
      log(`Stopped at the breakpoint before filter (${atBreakpoint.pause?.kind} pause)`);

      // 3. Pause the run itself, so that the resume below may patch the context.
      const pause = await executor.pauseWorkflow(id, { reason: 'inspecting the threshold', by: 'developer' });
      log(`Run paused by developer: ${pause.state}, ${pause.pause?.kind}`);

      // 4. Inspect.
      const inspected = await executor.getContext(id);
      log(`Context at the breakpoint: ${JSON.stringify(inspected)}`);

      // 5. Fix the threshold and resume; the breakpoint still holds `filter`.
      const resumed = await executor.resumeWorkflow(id, {
        by: 'developer',
        reason: 'threshold 100 filters everything out; use 10',
        contextPatch: { threshold: 10 },
      });
      const afterResume = await h.status();
      log(
        `Resumed with a context patch: run is ${resumed.state}, filter is ${afterResume.tasks.filter?.state}`,
      );
      const patched = await executor.getContext(id);

      // 6. Step past the breakpoint.
      const stepped = await executor.approve(id, 'filter', { by: 'developer', comment: 'continue' });
      log(`Stepped past the breakpoint: run is ${stepped.state}`);
      const context = await h.result();
      const final = await h.status();
      log(`Result: ${JSON.stringify(context)}`);
      return {
        breakpointsSet: set.breakpoints,
        breakpointTask: atBreakpoint.pause?.taskId ?? atBreakpoint.gates[0]?.taskId,
        breakpointReason: atBreakpoint.gates[0]?.reason,
        breakpointKind: atBreakpoint.pause?.kind,
        manualPause: { state: pause.state, kind: pause.pause?.kind },
        inspectedContext: inspected,
        thresholdAtBreakpoint: inspected.threshold,
        afterResume: { state: resumed.state, filter: afterResume.tasks.filter?.state },
        patchedContext: patched,
        afterStep: stepped.state,
        usedThreshold: context.usedThreshold,
        selected: context.selected,
        report: context.report,
        finalState: final.state,
        audit: final.audit.map((e) => `${e.action}:${e.kind ?? ''}:${e.by ?? ''}`),
      };
    });
  } finally {
    await executor.close();
  }
}

if (require.main === module) runAsScript('debugging', main);
