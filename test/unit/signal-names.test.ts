import assert from 'node:assert/strict';
import { unknownSignalMessage } from '../../workflows/handlers';
import { describeForUi, Rejections } from '../../workflows/visibility';

describe('unknown signal names', () => {
  it('names the nearest real signal for a misspelt one', () => {
    assert.equal(
      unknownSignalMessage('cloacina.paus'),
      'Unknown signal `cloacina.paus` — did you mean `cloacina.pause`? It was ignored',
    );
    assert.equal(
      unknownSignalMessage('cloacina.aprove'),
      'Unknown signal `cloacina.aprove` — did you mean `cloacina.approve`? It was ignored',
    );
  });

  it('says when the name is an update or a query', () => {
    assert.match(
      unknownSignalMessage('cloacina.breakpoints'),
      /^`cloacina\.breakpoints` is an update, not a signal/,
    );
    assert.match(unknownSignalMessage('cloacina.status'), /^`cloacina\.status` is a query, not a signal/);
    assert.match(
      unknownSignalMessage('cloacina.breakpoint'),
      /`cloacina\.breakpoints` is an update, not a signal/,
    );
  });

  it('lists the signals for a foreign name, and shortens a long one', () => {
    assert.equal(
      unknownSignalMessage('deploy-now'),
      'Unknown signal `deploy-now`: it was ignored (this workflow takes cloacina.pause, cloacina.resume, cloacina.approve, cloacina.reject)',
    );
    const long = unknownSignalMessage('y'.repeat(10_000));
    assert.ok(long.length < 300, `${long.length} characters`);
    assert.ok(long.includes(`${'y'.repeat(100)}…`));
    assert.equal(unknownSignalMessage('__proto__').startsWith('Unknown signal `__proto__`'), true);
  });
});

describe('CloacinaLastRejection value', () => {
  it('is `<when> <signal> by <who>: <code>: <why>`, bounded, and only with the patch', () => {
    const r = new Rejections(true, true);
    r.note('2026-11-28T03:00:00.000Z', 'cloacina.approve', 'bob', 'NotAnApprover', '`bob` may not approve');
    assert.equal(
      r.last,
      '2026-11-28T03:00:00.000Z cloacina.approve by bob: NotAnApprover: `bob` may not approve',
    );
    r.note('2026-11-28T03:00:01.000Z', 'cloacina.pause', undefined, 'InvalidRequest', 'x'.repeat(5000));
    assert.equal(r.last?.length, 400);
    assert.ok(
      r.last?.startsWith('2026-11-28T03:00:01.000Z cloacina.pause by anonymous: InvalidRequest: xxx'),
    );
    const off = new Rejections(false, true);
    off.note('2026-11-28T03:00:00.000Z', 'cloacina.approve', 'bob', 'NotAnApprover', 'no');
    assert.equal(off.last, undefined);
  });
});

describe('current details on the Web UI', () => {
  const pause = {
    pauseId: 1,
    kind: 'manual' as const,
    by: 'ops',
    at: '2026-11-28T03:00:00.000Z',
    reason: 'maintenance',
    mode: 'graceful' as const,
    phase: 'paused' as const,
  };

  it('says how to resume a paused run, from the Web UI and the CLI', () => {
    const md = describeForUi('etl', 'etl-1', 'paused', pause, [], undefined);
    assert.ok(
      md.includes(
        '**To resume:** More Actions → Send an Update → `cloacina.resume` with `{"by":"<you>","reason":"<why>"}`, or run `npx cloacina-temporal resume etl-1 --by <you> --reason "<why>"`',
      ),
      md,
    );
  });

  it('says how to approve a gate, and nothing when the run is running', () => {
    const md = describeForUi(
      'rel',
      'rel-1',
      'paused',
      { ...pause, kind: 'gate', taskId: 'deploy' } as never,
      ['deploy'],
      undefined,
    );
    assert.ok(md.includes('`cloacina.approve` with `{"taskId":"deploy","by":"<you>"}`'), md);
    assert.ok(md.includes('`npx cloacina-temporal approve rel-1 deploy --by <you>`'), md);
    assert.ok(!md.includes('To resume'), md);
    assert.equal(describeForUi('rel', 'rel-1', 'running', null, [], undefined), '**rel** — running');
  });

  it('does not paste a workflow id that would break the command', () => {
    const md = describeForUi('etl', 'a b`c', 'paused', pause, [], undefined);
    assert.ok(md.includes('resume <workflowId> --by'), md);
  });
});
