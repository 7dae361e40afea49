// Reliability: inputs that must not wedge a run, and promises kept when a pause meets a slow setup.
import assert from 'node:assert/strict';
import { defineWorkflow, resource, task } from '../../src';
import { signalCli, temporalCli, withWorker } from '../helpers';

/** JSON text of an object nested `levels` deep (built as text: too deep for JSON.stringify's own stack). */
function nestedJson(levels: number): string {
  return '{"k":'.repeat(levels) + '{}' + '}'.repeat(levels);
}

describe('reliability: no input can wedge a run', () => {
  it('refuses a context patch nested 5,000 levels deep at the door (update and signal); the run goes on', async () => {
    const wf = defineWorkflow({
      name: 'deep_patch',
      tasks: [
        task({ id: 'a', pauseBefore: { approvers: ['ops'] } }, () => undefined),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('b', ctx.get('patched') ?? null)),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1);
      await h.pause({ by: 'ops', reason: 'patch test' });
      const deep = nestedJson(5000);
      // The raw update, as any client sends it (the SDK cannot even encode such a value): the workflow's
      // validator refuses it.
      await assert.rejects(
        temporalCli([
          'workflow',
          'update',
          'execute',
          '--workflow-id',
          h.workflowId,
          '--name',
          'cloacina.resume',
          '--input',
          `{"by":"ops","contextPatch":${deep}}`,
        ]),
        (err: Error & { stderr?: string; stdout?: string }) =>
          /must nest at most 64 levels/.test(`${err.message}${err.stderr ?? ''}${err.stdout ?? ''}`),
      );
      // The signal form is refused inside the workflow and audited.
      await signalCli(h.workflowId, 'cloacina.resume', `{"by":"ops","contextPatch":${deep}}`);
      const st = await h.waitUntil(
        (s) => s.audit.some((a) => a.action === 'rejected' && a.request === 'resume'),
        {
          timeout: 20_000,
        },
      );
      const line = st.audit.find((a) => a.action === 'rejected' && a.request === 'resume')!;
      assert.match(line.message ?? '', /contextPatch.*must nest at most 64 levels/);
      assert.equal(st.state, 'paused');
      // Healthy afterwards: a sound patch resumes it and reaches the next task.
      await h.resume({ by: 'ops', contextPatch: { patched: 'yes' } });
      await h.approve('a', { by: 'ops' });
      assert.deepEqual(await h.result(), { patched: 'yes', b: 'yes' });
    });
  });

  it('keeps a __proto__ key of a context patch sent as raw JSON', async () => {
    const wf = defineWorkflow({
      name: 'proto_patch',
      tasks: [
        task({ id: 'a', pauseBefore: { approvers: ['ops'] } }, () => undefined),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => void ctx.set('keys', ctx.keys())),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil((s) => s.gates.length === 1);
      await h.pause({ by: 'ops' });
      await signalCli(
        h.workflowId,
        'cloacina.resume',
        '{"by":"ops","contextPatch":{"__proto__":{"x":1},"a":2}}',
      );
      await h.waitUntil((s) => s.pause?.kind === 'gate', { timeout: 20_000 });
      await h.approve('a', { by: 'ops' });
      const out = await h.result();
      assert.deepEqual(out.keys, ['__proto__', 'a']);
      assert.deepEqual(Object.getOwnPropertyDescriptor(out, '__proto__')?.value, { x: 1 });
    });
  });

  it('a pause during a releaseOnPause resource setup releases the resource once the setup ends', async function () {
    this.timeout(60_000);
    const events: string[] = [];
    const db = resource({
      id: 'db',
      releaseOnPause: true,
      setup: async ({ reason }) => {
        events.push(`setup:${reason}`);
        await new Promise((r) => setTimeout(r, 1500));
        return { conn: 1 };
      },
      teardown: (_h, { reason }) => void events.push(`teardown:${reason}`),
    });
    const wf = defineWorkflow({
      name: 'pause_during_setup',
      resources: [db],
      tasks: [task({ id: 'q', uses: [db] }, (ctx) => void ctx.set('q', true))],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.waitUntil(() => events.includes('setup:start'), { timeout: 20_000 });
      const paused = await h.pause({ by: 'ops', reason: 'mid-setup' });
      assert.equal(paused.state, 'paused');
      const st = await h.waitUntil((s) => s.resources.db?.state === 'released', { timeout: 20_000 });
      assert.equal(st.state, 'paused');
      assert.equal(st.tasks.q?.state, 'pending', 'the task did not start while paused');
      await h.resume({ by: 'ops' });
      assert.deepEqual(await h.result(), { q: true });
      assert.deepEqual(events, ['setup:start', 'teardown:pause', 'setup:resume', 'teardown:end']);
    });
  });
});
