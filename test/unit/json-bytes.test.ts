// The size a workflow computes for a value without Node (the payload's UTF-8 JSON), against Buffer's.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { jsonBytes, MAX_CONTEXT_BYTES, PAYLOAD_LIMIT_BYTES } from '../../workflows/dag';

describe('jsonBytes', () => {
  it('is the UTF-8 length of the JSON, for any JSON value (full Unicode, lone surrogates included)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ stringUnit: 'binary' }), (v) => {
        assert.equal(jsonBytes(v), Buffer.byteLength(JSON.stringify(v)));
      }),
      { numRuns: 2000 },
    );
    const cases: unknown[] = [
      {},
      'é',
      '€',
      '😀',
      '\ud800',
      'a\udc00b',
      { k: ['\u0000', '\u07ff', '\u0800', '\uffff'] },
    ];
    for (const v of cases)
      assert.equal(jsonBytes(v), Buffer.byteLength(JSON.stringify(v)), JSON.stringify(v));
  });

  it('counts what cannot be a payload as nothing, and the limits are the documented ones', () => {
    assert.equal(jsonBytes(undefined), 0);
    assert.equal(MAX_CONTEXT_BYTES, 1024 * 1024);
    assert.equal(PAYLOAD_LIMIT_BYTES, 2 * 1024 * 1024);
  });
});
