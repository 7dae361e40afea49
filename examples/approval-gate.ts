// Approval gate: a release is held before `publish` until two of its three approvers (alice, bob, carol)
// approve. One approval is not enough, an identity that is not an approver is refused, and the second
// distinct approval releases the gate. The audit trail records who approved, when and why.
//
//   node dist/examples/approval-gate.js      (starts its own dev server)
import { createWorker, defineWorkflow, RequestRejectedError, task, UnifiedExecutor } from '../src';
import { type ExampleEnv, runAsScript, sleep, waitForStatus } from './shared';
export type { ExampleEnv } from './shared';

/** A release that needs two approvals before it is published. */
export const releaseWorkflow = defineWorkflow({
  name: 'release_approval',
  description: 'build release notes, publish after two approvals, announce',
  tasks: [
    task({ id: 'prepare_release' }, async (ctx) => {
      await sleep(200);
      ctx.set('version', '2.4.0');
    }),
    task(
      {
        id: 'publish',
        dependencies: ['prepare_release'],
        pauseBefore: {
          reason: 'Publishing 2.4.0 to production needs two approvals',
          approvers: ['alice', 'bob', 'carol'],
          requiredApprovals: 2,
        },
      },
      async (ctx) => {
        await sleep(200);
        ctx.set('published', true);
      },
    ),
    task({ id: 'announce', dependencies: ['publish'] }, (ctx) => {
      ctx.set('announced', `Released ${ctx.get<string>('version')}`);
    }),
  ],
});

/** Runs the scenario; resolves to facts about it. */
export async function main(env: ExampleEnv): Promise<Record<string, unknown>> {
  const log = env.log ?? (() => undefined);
  const worker = await createWorker({
    workflows: [releaseWorkflow],
    taskQueue: env.taskQueue,
    address: env.address,
    namespace: env.namespace,
  });
  const executor = await UnifiedExecutor.connect({
    address: env.address,
    namespace: env.namespace,
    taskQueue: env.taskQueue,
    identity: 'release-bot',
  });
  try {
    return await worker.runUntil(async () => {
      const h = await executor.executeAsync(releaseWorkflow, {});
      const held = await waitForStatus(
        h,
        (s) => s.state === 'paused' && s.tasks.publish?.state === 'waiting',
        'the gate before publish',
      );
      const gate = held.gates[0];
      log(`Held before publish: ${gate?.reason} (approvers ${gate?.approvers?.join(', ')})`);

      const first = await h.approve('publish', { by: 'alice', comment: 'Changelog reviewed' });
      const afterFirst = await h.status();
      log(
        `alice approved: run is ${first.state}, publish is ${afterFirst.tasks.publish?.state} ` +
          `(${afterFirst.gates[0]?.approvals.length}/${afterFirst.gates[0]?.requiredApprovals})`,
      );

      let refusal: { name: string; code: string; message: string } | undefined;
      try {
        await h.approve('publish', { by: 'mallory', comment: 'lgtm' });
      } catch (err) {
        if (!(err instanceof RequestRejectedError)) throw err;
        refusal = { name: err.name, code: err.code, message: err.message };
        log(`mallory was refused: ${err.code}: ${err.message}`);
      }
      const afterRefusal = await h.status();

      const second = await h.approve('publish', { by: 'bob', comment: 'Ship it' });
      log(`bob approved: run is ${second.state}`);
      const context = await h.result();
      const final = await h.status();
      const audit = final.audit.map((e) => ({
        action: e.action,
        by: e.by,
        at: e.at,
        ...(e.reason ? { reason: e.reason } : {}),
        ...(e.message ? { message: e.message } : {}),
        ...(e.taskId ? { taskId: e.taskId } : {}),
      }));
      for (const e of audit)
        log(`  ${e.at} ${e.action.padEnd(8)} ${e.by ?? '-'}: ${e.reason ?? e.message ?? ''}`);
      return {
        gateReason: gate?.reason,
        approvers: gate?.approvers,
        requiredApprovals: gate?.requiredApprovals,
        afterFirstApproval: {
          state: first.state,
          publish: afterFirst.tasks.publish?.state,
          approvals: afterFirst.gates[0]?.approvals.map((a) => a.by),
        },
        nonApprover: refusal ?? null,
        afterRefusal: {
          state: afterRefusal.state,
          approvals: afterRefusal.gates[0]?.approvals.map((a) => a.by),
        },
        afterSecondApproval: second.state,
        finalState: final.state,
        context,
        audit,
      };
    });
  } finally {
    await executor.close();
  }
}

if (require.main === module) runAsScript('approval-gate', main);
