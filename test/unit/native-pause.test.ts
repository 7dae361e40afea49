// Unit tests of the freeze mode's guard against the describe-after-pause race (temporalio/temporal#10239:
// a workflow task in flight at the pause completes, the server schedules another and reports the run
// RUNNING again with its pause info left set), with a scripted stand-in for the Temporal client; and of the
// list queries and request options that know the server-native pause.
import assert from 'node:assert/strict';
import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { buildPauseRequest, UnifiedExecutor } from '../../src/executor';
import { buildListQuery, listedState } from '../../src/visibility';
import { FreezeError, InvalidInputError } from '../../src/errors';
import { pauseFromAudit } from '../../src/native-pause';
import type { AuditEntry } from '../../workflows/pause-machine';

const Status = temporal.api.enums.v1.WorkflowExecutionStatus;

type Seen = 'running' | 'lingering' | 'paused';

/**
 * A client whose pause update is accepted with the run drained, and whose describe answers what
 * `seen(pauseRequests)` says after that many PauseWorkflowExecution requests.
 */
function scriptedClient(seen: (pauseRequests: number) => Seen) {
  const calls = { pause: 0, describe: 0 };
  const pauseInfo = {
    identity: 'ops',
    reason: 'cloacina freeze: window',
    pausedTime: { seconds: 1_900_000_000, nanos: 0 },
  };
  const handle = {
    executeUpdate: async () => ({
      state: 'paused',
      pause: {
        pauseId: 1,
        kind: 'manual',
        by: 'ops',
        at: '2030-01-01T00:00:00.000Z',
        reason: 'window',
        mode: 'graceful',
        phase: 'paused',
      },
      duplicate: false,
    }),
    describe: async () => {
      calls.describe++;
      const s = seen(calls.pause);
      const paused = s === 'paused';
      return {
        taskQueue: 'q',
        status: { name: paused ? 'PAUSED' : 'RUNNING' },
        raw: {
          workflowExecutionInfo: {
            status: paused
              ? Status.WORKFLOW_EXECUTION_STATUS_PAUSED
              : Status.WORKFLOW_EXECUTION_STATUS_RUNNING,
          },
          workflowExtendedInfo: s === 'running' ? {} : { pauseInfo },
        },
      };
    },
  };
  const client = {
    options: { namespace: 'default' },
    connection: {
      withAbortSignal: <T>(_: AbortSignal, fn: () => Promise<T>) => fn(),
      withDeadline: <T>(_: number, fn: () => Promise<T>) => fn(),
    },
    workflow: { getHandle: () => handle },
    workflowService: {
      pauseWorkflowExecution: async () => {
        calls.pause++;
        return {};
      },
    },
  };
  const executor = new UnifiedExecutor(client as unknown as Client, { taskQueue: 'q', identity: 'ops' });
  return { executor, calls };
}

describe('freeze: the describe-after-pause race guard (temporalio/temporal#10239)', () => {
  it('looks again while describe does not yet show PAUSED, without pausing twice', async () => {
    let describes = 0;
    const { executor, calls } = scriptedClient(() => (++describes < 4 ? 'running' : 'paused'));
    const r = await executor.pauseWorkflow('wf', { mode: 'freeze', reason: 'window' });
    assert.equal(calls.pause, 1);
    assert.equal(r.state, 'paused');
    assert.deepEqual(r.frozen, {
      by: 'ops',
      reason: 'window',
      at: new Date(1_900_000_000_000).toISOString(),
      freeze: true,
    });
  });

  it('pauses again when the server lost the pause to a workflow task in flight (RUNNING, pause info left)', async () => {
    const { executor, calls } = scriptedClient((pauses) => (pauses < 2 ? 'lingering' : 'paused'));
    const r = await executor.pauseWorkflow('wf', { mode: 'freeze', reason: 'window' });
    assert.equal(calls.pause, 2);
    assert.equal(r.frozen?.freeze, true);
  });

  it('gives up after a bounded number of pause requests with an error that names the race', async () => {
    const { executor, calls } = scriptedClient(() => 'lingering');
    const t0 = Date.now();
    await assert.rejects(
      executor.pauseWorkflow('wf', { mode: 'freeze', reason: 'window' }),
      (err: unknown) => {
        assert.ok(err instanceof FreezeError, String(err));
        assert.match(
          err.message,
          /never reported workflow `wf` PAUSED after 3 pause requests, 3000 ms apart \(last seen: RUNNING with its pause info set\)/,
        );
        assert.match(err.message, /temporalio\/temporal#10239/);
        assert.match(err.message, /graceful pause is in effect/);
        return true;
      },
    );
    assert.equal(calls.pause, 3);
    assert.ok(Date.now() - t0 < 15_000);
  });
});

describe('server-native pause in queries and options', () => {
  it('the paused filter and state frozen select runs the server holds', () => {
    assert.match(
      buildListQuery({ paused: true }),
      / AND \(\(CloacinaPaused = true AND ExecutionStatus = 'Running'\) OR ExecutionStatus = 'Paused'\)$/,
    );
    assert.match(
      buildListQuery({ paused: false }),
      / AND \(CloacinaPaused = false OR ExecutionStatus != 'Running'\) AND ExecutionStatus != 'Paused'$/,
    );
    assert.match(buildListQuery({ state: 'frozen' }), / AND ExecutionStatus = 'Paused'$/);
    assert.doesNotMatch(buildListQuery({ state: 'frozen' }), /CloacinaState/);
  });

  it('a closed run keeps its search attributes: live states select open runs, server-made ones by status', () => {
    for (const state of ['pending', 'running', 'pausing', 'paused', 'resuming'] as const)
      assert.match(
        buildListQuery({ state }),
        new RegExp(
          ` AND CloacinaState = '${state}' AND \\(ExecutionStatus = 'Running' OR ExecutionStatus = 'Paused'\\)$`,
        ),
      );
    assert.match(buildListQuery({ state: 'terminated' }), / AND ExecutionStatus = 'Terminated'$/);
    assert.match(buildListQuery({ state: 'timedOut' }), / AND ExecutionStatus = 'TimedOut'$/);
    assert.match(buildListQuery({ state: 'completed' }), / AND CloacinaState = 'completed'$/);
  });

  it("a listed run's state: the server's close over a live state left behind, the run's own otherwise", () => {
    assert.equal(listedState('paused', 'RUNNING'), 'paused');
    assert.equal(listedState('paused', 'TERMINATED'), 'terminated');
    assert.equal(listedState('completed', 'TIMED_OUT'), 'timedOut');
    assert.equal(listedState('running', 'CANCELLED'), 'cancelled');
    assert.equal(listedState('paused', 'FAILED'), 'failed');
    assert.equal(listedState('failed', 'COMPLETED'), 'failed', 'a terminal state the run wrote stands');
    assert.equal(listedState('running', 'CONTINUED_AS_NEW'), 'running');
    assert.equal(listedState(undefined, 'COMPLETED'), 'completed');
  });

  it('mode freeze sends a graceful pause; a bad mode or a stray freezeTimeout is named', () => {
    assert.equal(buildPauseRequest({ mode: 'freeze' }, 'me').mode, 'graceful');
    assert.throws(
      () => buildPauseRequest({ mode: 'freez' as 'freeze' }, 'me'),
      (e: unknown) =>
        e instanceof InvalidInputError &&
        e.message === 'Expected `mode` to be graceful, immediate or freeze, got `"freez"`',
    );
    assert.throws(
      () => buildPauseRequest({ freezeTimeout: 1000 }, 'me'),
      (e: unknown) => e instanceof InvalidInputError && /applies to `mode: 'freeze'` only/.test(e.message),
    );
    assert.throws(
      () => buildPauseRequest({ mode: 'freeze', freezeTimeout: -1 }, 'me'),
      (e: unknown) => e instanceof InvalidInputError && /`freezeTimeout`/.test(e.message),
    );
  });

  it("reads this library's pause in effect from the audit trail", () => {
    const line = (seq: number, e: Partial<AuditEntry>): AuditEntry => ({
      seq,
      at: `2030-01-01T00:00:0${seq}Z`,
      action: 'pause',
      ...e,
    });
    const audit = [
      line(1, { pauseId: 1, kind: 'manual', by: 'a', reason: 'first', mode: 'graceful' }),
      line(2, { action: 'resume', pauseId: 1, by: 'a' }),
      line(3, { action: 'gate', pauseId: 2, kind: 'gate', taskId: 't' }),
      line(4, { pauseId: 3, kind: 'bulk', by: 'b', reason: 'window', mode: 'graceful' }),
      line(5, { pauseId: 3, kind: 'manual', by: 'c', reason: 'joined', mode: 'immediate' }),
      line(6, { action: 'upgrade', pauseId: 3 }),
    ];
    const p = pauseFromAudit(audit, 'pausing');
    assert.deepEqual(p, {
      pauseId: 3,
      kind: 'bulk',
      by: 'b',
      at: '2030-01-01T00:00:04Z',
      reason: 'window',
      mode: 'immediate',
      phase: 'pausing',
    });
    assert.equal(pauseFromAudit(audit.slice(0, 3), 'running'), null);
  });
});
