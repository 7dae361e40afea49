// The bulk operations' own logic, with an executor stand-in (the requests they send are tested against a
// real server in test/integration): what they do when the server stops answering part way.
import assert from 'node:assert/strict';
import { pauseAll, resumeAll, type BulkOutcome } from '../../src/bulk';
import { EXIT, exitCodeOf } from '../../src/cli';
import { isUnavailable, RequestRejectedError, withCauses } from '../../src/errors';
import type { UnifiedExecutor } from '../../src/executor';

/** What the SDK throws when a call found no server: a ServiceError whose cause carries gRPC's UNAVAILABLE. */
function unavailable(): Error {
  const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
  return Object.assign(new Error('Workflow Update failed'), { name: 'ServiceError', cause: grpc });
}

function standIn(fail: (id: string) => Error | undefined, ids: string[]) {
  const sent: string[] = [];
  const executor = {
    identity: 'ops',
    listWorkflows: () => Promise.resolve(ids.map((workflowId) => ({ workflowId }))),
    pauseWorkflow: async (id: string) => {
      sent.push(id);
      await new Promise((r) => setTimeout(r, 5));
      const err = fail(id);
      if (err) throw err;
      return { state: 'paused', duplicate: false };
    },
    resumeWorkflow: async (id: string) => {
      sent.push(id);
      const err = fail(id);
      if (err) throw err;
      return { state: 'running', duplicate: false };
    },
  };
  return { executor: executor as unknown as UnifiedExecutor, sent };
}

describe('bulk operations when the server stops answering', () => {
  const ids = ['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'w6'];

  it('send nothing more after a request finds no server, and say which runs were left and why', async () => {
    const { executor, sent } = standIn((id) => (id >= 'w2' ? unavailable() : undefined), ids);
    const reports: BulkOutcome[] = [];
    const r = await pauseAll(executor, "CloacinaWorkflow = 'etl'", {
      concurrency: 2,
      bulkId: 'b1',
      onProgress: (_done, _total, o) => void reports.push(o),
    });
    // w2 and w3 were in flight together when the server went; nothing was sent after.
    assert.deepEqual(sent, ['w0', 'w1', 'w2', 'w3']);
    assert.equal(r.unreachable, 'Workflow Update failed: 14 UNAVAILABLE: No connection established');
    assert.deepEqual(
      r.outcomes.map((o) => [o.workflowId, o.ok, o.error]),
      [
        ['w0', true, undefined],
        ['w1', true, undefined],
        ['w2', false, 'Workflow Update failed: 14 UNAVAILABLE: No connection established'],
        ['w3', false, 'Workflow Update failed: 14 UNAVAILABLE: No connection established'],
        ...['w4', 'w5', 'w6'].map((id) => [
          id,
          false,
          'not sent: the server stopped answering (Workflow Update failed: 14 UNAVAILABLE: No connection established)',
        ]),
      ],
    );
    assert.equal(r.succeeded, 2);
    assert.equal(r.failed, 5);
    assert.equal(reports.length, 7, 'every run is reported, sent or not');
  });

  it('go on past refusals: a run that refused is not a server that stopped', async () => {
    const refused = new RequestRejectedError('w1', 'NotPaused', 'The run is not paused');
    const { executor, sent } = standIn((id) => (id === 'w1' ? refused : undefined), ids);
    const r = await resumeAll(executor, { workflow: 'etl' }, { concurrency: 3 });
    assert.deepEqual([...sent].sort(), ids);
    assert.equal(r.unreachable, undefined);
    assert.deepEqual(
      r.outcomes.filter((o) => !o.ok).map((o) => [o.workflowId, o.code]),
      [['w1', 'NotPaused']],
    );
  });
});

describe('a call the server stopped answering, as the CLI reports it', () => {
  it('exits 4 (unreachable) with the cause the SDK keeps in its error cause; refusals stay 1', () => {
    assert.equal(exitCodeOf(unavailable()), EXIT.unreachable);
    assert.equal(isUnavailable(unavailable()), true);
    assert.equal(
      withCauses(unavailable()),
      'Workflow Update failed: 14 UNAVAILABLE: No connection established',
    );
    const notFound = Object.assign(new Error('Failed to describe workflow'), {
      cause: Object.assign(new Error('12 UNIMPLEMENTED: Received HTTP status code 404'), { code: 12 }),
    });
    assert.equal(isUnavailable(notFound), false);
    assert.equal(
      withCauses(notFound),
      'Failed to describe workflow: 12 UNIMPLEMENTED: Received HTTP status code 404',
    );
    assert.equal(exitCodeOf(new RequestRejectedError('w', 'NotPaused', 'not paused')), EXIT.refused);
  });
});
