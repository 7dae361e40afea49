import assert from 'node:assert/strict';
import { defineWorkflow, RequestRejectedError, task } from '../../src';
import { auditTime, latch, taskStarts, withWorker } from '../helpers';

const refusedWith = (code: string, message: RegExp) => (err: unknown) => {
  assert.ok(err instanceof RequestRejectedError, String(err));
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};

// Run-time breakpoints: a gate added to tasks that have not started, set and cleared while the run goes.
describe('run-time breakpoints', function () {
  this.timeout(90_000);

  it('stop a task before its first attempt; approving steps past; other branches keep running', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'breakpoint-step',
      tasks: [
        task({ id: 'a' }, async (ctx) => {
          await hold.opened;
          ctx.set('a', true);
        }),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', true)),
        task({ id: 'side', dependencies: ['a'] }, (ctx) => void ctx.set('side', true)),
        task({ id: 'c', dependencies: ['b', 'side'] }, (ctx) => void ctx.set('c', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      const set = await executor.setBreakpoints(workflowId, ['b', 'c'], { by: 'dev', requestId: 'bp-1' });
      assert.deepEqual(set.breakpoints.sort(), ['b', 'c']);
      assert.equal(set.duplicate, false);
      assert.equal((await executor.setBreakpoints(workflowId, ['b'], { requestId: 'bp-1' })).duplicate, true);
      hold.open();

      const atB = await executor.waitUntil(workflowId, (s) => s.gates.some((g) => g.taskId === 'b'), {
        timeout: 30_000,
      });
      assert.equal(atB.gates[0]!.reason, 'breakpoint');
      assert.equal(atB.tasks.b!.attempts, 0);
      await executor.waitUntil(workflowId, (s) => s.tasks.side!.state === 'completed', { timeout: 30_000 });

      await executor.approve(workflowId, 'b', { by: 'dev' });
      await executor.waitUntil(workflowId, (s) => s.gates.some((g) => g.taskId === 'c'), { timeout: 30_000 });
      await executor.approve(workflowId, 'c', { by: 'dev' });
      assert.deepEqual(await executor.result(workflowId), { a: true, b: true, side: true, c: true });
      const final = await executor.getStatus(workflowId);
      assert.equal(final.breakpoints, undefined, 'every breakpoint was stepped past');

      // From the history: b and c were scheduled only after their approvals.
      const audit = (await executor.getAudit(workflowId)).entries;
      const bp = audit.find((e) => e.action === 'breakpoint')!;
      assert.deepEqual([bp.by, bp.message, bp.requestId], ['dev', 'set before `b`, `c`', 'bp-1']);
      const starts = await taskStarts(workflowId);
      for (const id of ['b', 'c']) {
        const approved = auditTime(audit.find((e) => e.action === 'approve' && e.taskId === id)!);
        const started = starts.find((s) => s.taskId === id)!;
        assert.ok(started.at >= approved, `${id} started ${approved - started.at} ms before its approval`);
      }
    });
  });

  it('refuses unknown, started and already-gated tasks, all or nothing, with an audit line', async () => {
    const hold = latch();
    const wf = defineWorkflow({
      name: 'breakpoint-refusals',
      tasks: [
        task({ id: 'load' }, async (ctx) => {
          await hold.opened;
          ctx.set('load', true);
        }),
        task({ id: 'ship', dependencies: ['load'], pauseBefore: true }, (ctx) => void ctx.set('ship', true)),
        task({ id: 'report', dependencies: ['load'] }, (ctx) => void ctx.set('report', true)),
        task({ id: 'done', dependencies: ['ship', 'report'] }, (ctx) => void ctx.set('done', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await executor.waitUntil(workflowId, (s) => s.tasks.load!.state === 'running', { timeout: 30_000 });
      await assert.rejects(
        executor.setBreakpoints(workflowId, ['report', 'reprot']),
        refusedWith('UnknownTask', /has no task `reprot` — did you mean `report`\?/),
      );
      await assert.rejects(
        executor.setBreakpoints(workflowId, ['report', 'load']),
        refusedWith('InvalidRequest', /Task `load` has already started \(state `running`\)/),
      );
      await assert.rejects(
        executor.setBreakpoints(workflowId, ['ship']),
        refusedWith('InvalidRequest', /`ship` already stops at its own pauseBefore gate: approve it/),
      );
      await assert.rejects(
        executor.setBreakpoints(workflowId, []),
        (e: unknown) => e instanceof Error && /non-empty array of task ids/.test(e.message),
      );
      const s = await executor.getStatus(workflowId);
      assert.equal(s.breakpoints, undefined, 'nothing was set by the refused requests');
      assert.equal(s.audit.filter((e) => e.action === 'rejected' && e.request === 'breakpoints').length, 3);
      hold.open();
      await executor.waitUntil(workflowId, (st) => st.gates.some((g) => g.taskId === 'ship'), {
        timeout: 30_000,
      });
      await executor.approve(workflowId, 'ship', { by: 'ops' });
      assert.deepEqual(await executor.result(workflowId), {
        load: true,
        ship: true,
        report: true,
        done: true,
      });
    });
  });

  it('clearing releases a task waiting at its breakpoint; the rest no longer stop', async () => {
    const wf = defineWorkflow({
      name: 'breakpoint-clear',
      tasks: [
        task({ id: 'a' }, (ctx) => void ctx.set('a', true)),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', true)),
        task({ id: 'c', dependencies: ['b'] }, (ctx) => void ctx.set('c', true)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      // Set at once: `a` may not have started yet, so it is not named.
      await executor.setBreakpoints(h.workflowId, ['b', 'c'], { by: 'dev' });
      await executor.waitUntil(h.workflowId, (s) => s.gates.some((g) => g.taskId === 'b'), {
        timeout: 30_000,
      });
      const cleared = await executor.clearBreakpoints(h.workflowId, undefined, { by: 'dev' });
      assert.deepEqual(cleared.released, ['b']);
      assert.deepEqual(cleared.breakpoints, []);
      assert.deepEqual(await h.result(), { a: true, b: true, c: true });
      const audit = (await h.audit()).entries;
      assert.deepEqual(
        audit.filter((e) => e.action === 'breakpoint').map((e) => e.message),
        ['set before `b`, `c`', 'cleared before `b`, `c`'],
      );
      assert.equal(audit.find((e) => e.action === 'approve')!.by, 'dev');
      assert.equal((await h.status()).gates.length, 0);
    });
  });

  it('a breakpoint set far ahead survives continue-as-new', async () => {
    const ids = Array.from({ length: 150 }, (_, i) => `s${i}`);
    const wf = defineWorkflow({
      name: 'breakpoint-long',
      tasks: ids.map((id, i) =>
        task({ id, dependencies: i ? [ids[i - 1]!] : [] }, (ctx) => void ctx.set(id, i)),
      ),
    });
    await withWorker([wf], async ({ executor }) => {
      const { workflowId } = await executor.executeAsync(wf, {});
      await executor.setBreakpoints(workflowId, ['s140'], { by: 'dev' });
      const held = await executor.waitUntil(workflowId, (s) => s.gates.some((g) => g.taskId === 's140'), {
        timeout: 60_000,
      });
      assert.ok(held.continuedAsNew >= 1, `expected continue-as-new before s140, saw ${held.continuedAsNew}`);
      assert.deepEqual(held.breakpoints, ['s140']);
      assert.equal(held.tasks.s139!.state, 'completed');
      assert.equal(held.tasks.s140!.attempts, 0);
      await executor.approve(workflowId, 's140', { by: 'dev' });
      const result = await executor.result(workflowId);
      assert.deepEqual(result, Object.fromEntries(ids.map((id, i) => [id, i])));
    });
  });
});
