// The run-state holder's wait for a change: what the main loop of runs begun with `leanAttempts` awaits.
import assert from 'node:assert/strict';
import { defineWorkflow, task } from '../../src';
import { Run } from '../../workflows/run';

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
