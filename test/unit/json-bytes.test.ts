// The size a workflow computes for a value without Node (the payload's UTF-8 JSON), against Buffer's.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { clipJsonBytes, jsonBytes, MAX_CONTEXT_BYTES, PAYLOAD_LIMIT_BYTES } from '../../workflows/dag';

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

  it('clipJsonBytes keeps the longest prefix within the limit, never half a surrogate pair', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.integer({ min: 2, max: 900 }),
        (s, max) => {
          const clipped = clipJsonBytes(s, max);
          assert.ok(s.startsWith(clipped));
          if (clipped === s) return jsonBytes(s) <= max || assert.fail('unclipped over the limit');
          assert.ok(Buffer.byteLength(JSON.stringify(clipped)) <= max, 'within the limit');
          const last = clipped.charCodeAt(clipped.length - 1);
          assert.ok(!(last >= 0xd800 && last <= 0xdbff), 'no high surrogate left alone at the end');
          // One more code point would not fit.
          const next = s.codePointAt(clipped.length)!;
          const longer = s.slice(0, clipped.length + (next > 0xffff ? 2 : 1));
          assert.ok(jsonBytes(longer) > max, `a longer prefix fits: ${jsonBytes(longer)} <= ${max}`);
        },
      ),
      { numRuns: 2000 },
    );
    assert.equal(clipJsonBytes('€'.repeat(1000), 1536), '€'.repeat(511));
    assert.equal(clipJsonBytes('a😀', 6), 'a');
  });
});
