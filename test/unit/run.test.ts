// The run-state holder's wait for a change: what the main loop of runs begun with `leanAttempts` awaits.
import assert from 'node:assert/strict';
import { defineWorkflow, task } from '../../src';
import fc from 'fast-check';
import { jsonBytes } from '../../workflows/dag';
import { fitStatus, MAX_CARRIED_BYTES, Run } from '../../workflows/run';

const newRun = () =>
  new Run(defineWorkflow({ name: 'w', tasks: [task({ id: 'a' }, () => undefined)] }).spec, {}, undefined);

/** Whether a promise has settled after the microtasks queued so far ran: 'resolved', 'rejected' or 'pending'. */
async function stateOf(p: Promise<unknown>): Promise<string> {
  let state = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  for (let i = 0; i < 5; i++) await Promise.resolve();
  return state;
}

describe('run: the wait for a change', () => {
  it('resolves at the first change after the version it saw, not before', async () => {
    const run = newRun();
    const seen = run.version;
    const wait = run.changed(seen);
    assert.equal(await stateOf(wait), 'pending');
    run.touch();
    assert.equal(await stateOf(wait), 'resolved');
  });

  it('resolves at once when a change came after the version it saw', async () => {
    const run = newRun();
    const seen = run.version;
    run.touch();
    assert.equal(await stateOf(run.changed(seen)), 'resolved');
  });

  it('rejects with the cancellation, both a wait under way and every later one', async () => {
    const run = newRun();
    const wait = run.changed(run.version);
    const err = new Error('cancelled');
    run.cancelled(err);
    await assert.rejects(wait, (e) => e === err);
    run.touch();
    await assert.rejects(run.changed(run.version), (e) => e === err);
    // A change does not undo the cancellation of a wait that saw an older version either.
    await assert.rejects(run.changed(0), (e) => e === err);
  });
});

describe('run: the frontier the ready scan walks', () => {
  // Random DAGs (each task depends on some earlier ones) and random histories of task states, checked at
  // every step against the definitions: every task terminal; nothing but gates open; and the tasks the
  // ready scan visits, in order, are those not terminal whose dependencies all are.
  it('agrees with the whole-DAG definitions of allTerminal, idle and the ready candidates', () => {
    const dagAndSteps = fc.integer({ min: 1, max: 30 }).chain((n) =>
      fc.record({
        deps: fc.tuple(
          ...Array.from({ length: n }, (_, i) =>
            fc.uniqueArray(fc.integer({ min: 0, max: Math.max(0, i - 1) }), { maxLength: i === 0 ? 0 : 3 }),
          ),
        ),
        steps: fc.array(
          fc.record({
            pick: fc.nat(),
            to: fc.constantFrom('completed', 'failed', 'skipped', 'running', 'waiting', 'pending'),
          }),
          { maxLength: 80 },
        ),
      }),
    );
    fc.assert(
      fc.property(dagAndSteps, ({ deps, steps }) => {
        const ids = deps.map((_, i) => `t${i}`);
        const spec = defineWorkflow({
          name: 'w',
          tasks: ids.map((id, i) =>
            task({ id, dependencies: deps[i]!.map((d) => ids[d]!) }, () => undefined),
          ),
        }).spec;
        const run = new Run(spec, {}, undefined);
        const terminal = (s: string) => s === 'completed' || s === 'failed' || s === 'skipped';
        const state = (i: number) => run.tasks[spec.tasks[i]!.id]!.state;
        const depsDone = (i: number) =>
          spec.tasks[i]!.dependencies.every((d) => terminal(run.tasks[d]!.state));
        const check = () => {
          const expected = spec.tasks.map((_, i) => i).filter((i) => !terminal(state(i)) && depsDone(i));
          const walked: number[] = [];
          for (let i = run.nextOpen(-1); i >= 0; i = run.nextOpen(i)) walked.push(i);
          assert.deepEqual(walked, expected);
          assert.equal(
            run.allTerminal(),
            spec.tasks.every((_, i) => terminal(state(i))),
          );
          assert.equal(
            run.idle(),
            spec.tasks.every(
              (_, i) =>
                terminal(state(i)) || state(i) === 'waiting' || (state(i) === 'pending' && !depsDone(i)),
            ),
          );
        };
        check();
        for (const { pick, to } of steps) {
          // As the driver does: only a task whose dependencies are all terminal moves, and a terminal
          // task stays terminal.
          const movable = expectedOpen();
          if (movable.length === 0) break;
          const i = movable[pick % movable.length]!;
          const id = spec.tasks[i]!.id;
          if (terminal(to)) run.finish(id, to, {});
          else run.tasks[id]!.state = to;
          check();
        }
        function expectedOpen() {
          return spec.tasks.map((_, i) => i).filter((i) => !terminal(state(i)) && depsDone(i));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('fitStatus: a closed run result within one payload', () => {
  const records = (n: number, failedEvery: number) =>
    Object.fromEntries(
      Array.from({ length: n }, (_, i) => [
        `task-${'x'.repeat(150)}-${i}`,
        {
          state: i % failedEvery === 0 ? ('failed' as const) : ('completed' as const),
          attempts: 1,
          interrupted: 0,
          startedAt: '2026-11-28T21:39:27.625Z',
          finishedAt: '2026-11-28T21:39:28.127Z',
        },
      ]),
    );
  const statusWith = (tasks: ReturnType<typeof records>) => ({ ...newRun().status(), tasks });

  it('leaves a status that fits alone', () => {
    const status = statusWith(records(100, 10));
    assert.equal(fitStatus(status, { big: 'y'.repeat(1_000_000) }), status);
  });

  it('leaves out the records of completed tasks when the status and the context would not fit, counting them', () => {
    const status = statusWith(records(4000, 100));
    const context = { big: 'y'.repeat(1_000_000) };
    assert.ok(jsonBytes(status) + jsonBytes(context) > MAX_CARRIED_BYTES);
    const fitted = fitStatus(status, context);
    assert.equal(fitted.omittedTasks, 3960);
    assert.deepEqual(
      Object.keys(fitted.tasks),
      Object.keys(status.tasks).filter((_, i) => i % 100 === 0),
    );
    assert.ok(Object.values(fitted.tasks).every((r) => r.state === 'failed'));
    assert.ok(jsonBytes(fitted) + jsonBytes(context) <= MAX_CARRIED_BYTES);
    assert.equal(fitted.workflow, status.workflow);
  });
});
