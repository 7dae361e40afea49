// Unit tests of the executor's input checks in src/executor.ts: every bad option is refused with an
// InvalidInputError before the client connects, so no Temporal server is needed.
import assert from 'node:assert/strict';
import { defaultPayloadConverter } from '@temporalio/common';
import { z } from 'zod';
import { MAX_JSON_DEPTH } from '../../src/context';
import { defineWorkflow, task } from '../../src/definitions';
import { buildPauseRequest, buildResumeRequest, UnifiedExecutor } from '../../src/executor';
import { CloacinaError, InvalidInputError } from '../../src/errors';
import type { JsonObject } from '../../workflows/dag';
import { MAX_DURATION_MS, MAX_PATCH_BYTES } from '../../workflows/messages';

/** Nothing listens on port 1: any request would have to connect, which the stub below refuses. */
const URL = 'temporal://127.0.0.1:1/default?taskQueue=q';

/** An executor whose client must never be asked for: a check that ran too late fails the test at once. */
function offline(): UnifiedExecutor {
  const ex = new UnifiedExecutor(URL, { identity: 'tester' });
  Object.defineProperty(ex, 'client', {
    value: () => Promise.reject(new Error('the executor tried to connect before checking its input')),
  });
  return ex;
}

/** Awaits `promise`, expects an InvalidInputError, and checks its message contains every text given. */
async function expectInvalid(
  promise: Promise<unknown>,
  ...texts: (string | RegExp)[]
): Promise<InvalidInputError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof InvalidInputError, `expected an InvalidInputError, got ${String(caught)}`);
  assert.ok(caught instanceof CloacinaError);
  for (const t of texts) {
    if (typeof t === 'string') assert.ok(caught.message.includes(t), `${caught.message}\nlacks ${t}`);
    else assert.match(caught.message, t);
  }
  return caught;
}

describe('executor input: pause options', () => {
  it('refuses an invalid Date as resumeAt with an InvalidInputError, not a RangeError, before connecting', async () => {
    // The real lazy client: the check must run before it would connect.
    const ex = new UnifiedExecutor(URL);
    const err = await expectInvalid(ex.pauseWorkflow('id', { resumeAt: new Date(NaN) }));
    assert.equal(
      err.message,
      'Expected `resumeAt` to be a valid Date or an ISO-8601 instant like 2030-01-01T02:00:00Z, got `Invalid Date`',
    );
    await expectInvalid(offline().pauseWorkflow('id', { resumeAt: 'next tuesday' }), 'got `"next tuesday"`');
    await expectInvalid(
      offline().pauseWorkflow('id', { resumeAt: 1_900_000_000_000 as unknown as Date }),
      'Expected `resumeAt` to be a valid Date or an ISO-8601 instant',
      'got `1900000000000`',
    );
  });

  it('refuses a resumeAt at or after 2200, as a Date or a string, naming the value', async () => {
    const ex = offline();
    await expectInvalid(
      ex.pauseWorkflow('id', { resumeAt: new Date('2300-01-01T00:00:00Z') }),
      'Expected `resumeAt` to be before 2200-01-01T00:00:00Z, got `2300-01-01T00:00:00.000Z`: schedule the resume sooner',
    );
    await expectInvalid(
      ex.pauseWorkflow('id', { resumeAt: new Date(8.64e15) }),
      'got `+275760-09-13T00:00:00.000Z`',
    );
    await expectInvalid(
      ex.pauseWorkflow('id', { resumeAt: '2200-01-01T00:00:00Z' }),
      'Expected `resumeAt` to be before 2200-01-01T00:00:00Z, got `"2200-01-01T00:00:00Z"`',
    );
  });

  it('refuses a resumeAt already past, as a Date or a string, naming the value and the clock', async () => {
    // A mistyped year would otherwise pause the run and resume it at once.
    const ex = offline();
    const err = await expectInvalid(
      ex.pauseWorkflow('id', { resumeAt: new Date('2025-11-29T08:00:00Z') }),
      'Expected `resumeAt` to be in the future, got `2025-11-29T08:00:00.000Z` (it is ',
      " by this machine's clock): give a later time, or pause without `resumeAt` and resume by hand",
    );
    const now = /\(it is (\S+) by/.exec(err.message)![1]!;
    assert.ok(Math.abs(Date.parse(now) - Date.now()) < 60_000, now);
    await expectInvalid(
      ex.pauseWorkflow('id', { resumeAt: new Date(Date.now() - 1) }),
      'Expected `resumeAt` to be in the future',
    );
    await expectInvalid(
      ex.pauseAll('CloacinaState = "running"', { resumeAt: '2020-01-01T00:00:00Z' }),
      'got `"2020-01-01T00:00:00Z"`',
    );
    const soon = new Date(Date.now() + 60_000);
    assert.equal(buildPauseRequest({ resumeAt: soon }, 'ops').resumeAt, soon.toISOString());
  });

  it('refuses expiresAfter over ten years, non-finite or not whole, naming `expiresAfter` and the value', async () => {
    const ex = offline();
    const expected = (v: string) =>
      `Expected \`expiresAfter\` to be a whole number of ms from 1 to ${MAX_DURATION_MS} (ten years), got \`${v}\``;
    for (const [value, text] of [
      [MAX_DURATION_MS + 1, String(MAX_DURATION_MS + 1)],
      [NaN, 'NaN'],
      [Infinity, 'Infinity'],
      [-Infinity, '-Infinity'],
      [0, '0'],
      [1.5, '1.5'],
      ['1h', '"1h"'],
    ] as const) {
      const err = await expectInvalid(ex.pauseWorkflow('id', { expiresAfter: value as number }));
      assert.equal(err.message, expected(text));
    }
  });

  it('builds the request it sends: a Date as an ISO string, `by` defaulting to the identity', () => {
    assert.deepEqual(
      buildPauseRequest(
        { resumeAt: new Date('2030-01-01T02:00:00Z'), expiresAfter: MAX_DURATION_MS, reason: 'window' },
        'ops',
      ),
      {
        reason: 'window',
        by: 'ops',
        resumeAt: '2030-01-01T02:00:00.000Z',
        expiresAfterMs: MAX_DURATION_MS,
      },
    );
    assert.deepEqual(buildPauseRequest({ resumeAt: '2030-01-01T02:00:00Z', by: 'ann' }, 'ops'), {
      by: 'ann',
      resumeAt: '2030-01-01T02:00:00Z',
    });
  });

  it('pauseAll checks the pause options before listing any workflow', async () => {
    await expectInvalid(offline().pauseAll('', { resumeAt: new Date(NaN) }), 'got `Invalid Date`');
    await expectInvalid(offline().pauseAll('', { expiresAfter: NaN }), 'got `NaN`');
  });
});

/** JSON text of an object nested `levels` deep (`{}` is 1 level). */
function nestedText(levels: number): string {
  return '{"ab":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);
}

/** An object nested `levels` deep, parsed from JSON text as a caller's data would be. */
function nested(levels: number): JsonObject {
  return JSON.parse(nestedText(levels)) as JsonObject;
}

describe('executor input: deeply nested JSON', () => {
  const deep = nested(5000);
  const depthText = 'nests arrays and objects more than';
  const noop = () => undefined;
  const plain = defineWorkflow({ name: 'plain', tasks: [task({ id: 't' }, noop)] });
  // A schema that walks the input recursively, as z.json() does.
  const typed = defineWorkflow({
    name: 'typed',
    tasks: [task({ id: 't' }, noop)],
    input: z.record(z.string(), z.json()),
  });

  it('the test value is 5,000 levels of about 35 KB of JSON text', () => {
    assert.equal(nestedText(5000).length, 34_995);
  });

  it('executeAsync refuses deep workflow input by name and limit, with or without an input schema', async () => {
    for (const wf of [plain, typed]) {
      const err = await expectInvalid(offline().executeAsync(wf, { tree: deep }));
      assert.equal(
        err.message,
        `Invalid input for workflow \`${wf.name}\`: input nests arrays and objects more than ${MAX_JSON_DEPTH} levels deep, ` +
          `over the limit (a context nests at most ${MAX_JSON_DEPTH} levels, its own object included): flatten it, ` +
          'or keep deeply nested data in external storage and put a reference in the context',
      );
    }
  });

  it('executeAsync accepts input exactly at the limit (checks pass, then it connects)', async () => {
    await assert.rejects(offline().executeAsync(plain, nested(MAX_JSON_DEPTH)), /tried to connect/);
    await expectInvalid(offline().executeAsync(plain, nested(MAX_JSON_DEPTH + 1)), depthText);
  });

  it('resumeWorkflow refuses a deep contextPatch, naming the field and the limit', async () => {
    const err = await expectInvalid(offline().resumeWorkflow('id', { contextPatch: { tree: deep } }));
    assert.match(
      err.message,
      /^Invalid resume options: contextPatch nests arrays and objects more than 64 levels deep/,
    );
    assert.ok(err.message.includes(`a context nests at most ${MAX_JSON_DEPTH} levels`));
    assert.doesNotThrow(() => buildResumeRequest({ contextPatch: nested(MAX_JSON_DEPTH) }, 'ops'));
    assert.throws(
      () => buildResumeRequest({ contextPatch: nested(MAX_JSON_DEPTH + 1) }, 'ops'),
      InvalidInputError,
    );
  });

  it('resumeWorkflow refuses a deep input, one level less since it is stored under `resumeInput`', async () => {
    await expectInvalid(
      offline().resumeWorkflow('id', { input: deep }),
      `Invalid resume options: input ${depthText} ${MAX_JSON_DEPTH - 1} levels deep`,
    );
    assert.doesNotThrow(() => buildResumeRequest({ input: nested(MAX_JSON_DEPTH - 1) }, 'ops'));
    assert.throws(() => buildResumeRequest({ input: nested(MAX_JSON_DEPTH) }, 'ops'), /more than 63 levels/);
  });

  it('resumeAll checks the resume options before listing any workflow', async () => {
    await expectInvalid(offline().resumeAll('', { contextPatch: { tree: deep } }), 'contextPatch', depthText);
  });
});

/** An executor whose client records the update arguments it would send, and answers as a running run. */
function recording(): { ex: UnifiedExecutor; sent: unknown[] } {
  const sent: unknown[] = [];
  const ex = new UnifiedExecutor(URL, { identity: 'tester' });
  const handle = {
    executeUpdate: (_def: unknown, options: { args: unknown[] }) => {
      sent.push(...options.args);
      return Promise.resolve({ state: 'running', pause: null, duplicate: false });
    },
  };
  Object.defineProperty(ex, 'client', {
    value: () =>
      Promise.resolve({
        workflow: { getHandle: () => handle },
        // Calls that need a worker run under an abort signal (to stop waiting when none polls).
        connection: { withAbortSignal: <T>(_: AbortSignal, fn: () => Promise<T>) => fn() },
      }),
  });
  return { ex, sent };
}

/** The JSON the SDK's default payload converter would put on the wire for `value`. */
const wire = (value: unknown) => Buffer.from(defaultPayloadConverter.toPayload(value).data!).toString();

describe('executor input: `__proto__` keys in resume options', () => {
  const parsed = (text: string) => JSON.parse(text) as JsonObject;

  it('resumeWorkflow sends a `__proto__` key of contextPatch beside the others', async () => {
    const { ex, sent } = recording();
    await ex.resumeWorkflow('id', { contextPatch: parsed('{"__proto__": {"x": 1}, "a": 2}') });
    assert.equal(sent.length, 1);
    assert.equal(wire(sent[0]), '{"by":"tester","contextPatch":{"__proto__":{"x":1},"a":2}}');
  });

  it('buildResumeRequest keeps `__proto__` keys at any depth of contextPatch and input', () => {
    const request = buildResumeRequest(
      {
        contextPatch: parsed('{"a": {"__proto__": [1], "b": {"__proto__": null}}}'),
        input: parsed('{"__proto__": {"approve": true}, "ticket": "OPS-1"}'),
      },
      'ops',
    );
    assert.deepEqual(Object.keys(request.input as object), ['__proto__', 'ticket']);
    assert.equal(
      wire(request),
      '{"by":"ops","contextPatch":{"a":{"__proto__":[1],"b":{"__proto__":null}}},' +
        '"input":{"__proto__":{"approve":true},"ticket":"OPS-1"}}',
    );
  });

  it("sends a copy: a later change to the caller's object does not reach the request", () => {
    const patch = parsed('{"__proto__": {"x": 1}, "a": 2}');
    const request = buildResumeRequest({ contextPatch: patch }, 'ops');
    (patch as Record<string, JsonObject>).a = { changed: true };
    assert.equal(wire(request.contextPatch), '{"__proto__":{"x":1},"a":2}');
  });

  it('checks the value under a `__proto__` key like any other: JSON, depth and size', async () => {
    const patch = parsed('{"__proto__": {"x": 1}}');
    (patch['__proto__'] as Record<string, unknown>).x = NaN;
    await expectInvalid(
      offline().resumeWorkflow('id', { contextPatch: patch }),
      'Invalid resume options: contextPatch.__proto__.x is NaN, which JSON cannot hold',
    );
    await expectInvalid(
      offline().resumeWorkflow('id', { contextPatch: parsed(`{"__proto__": ${nestedText(100)}}`) }),
      'Invalid resume options: contextPatch nests arrays and objects more than 64 levels deep',
    );
    const big = parsed(`{"__proto__": ${JSON.stringify('x'.repeat(MAX_PATCH_BYTES))}}`);
    await expectInvalid(
      offline().resumeWorkflow('id', { contextPatch: big }),
      `Invalid resume options: \`contextPatch\`: must be at most ${MAX_PATCH_BYTES} bytes of JSON, got ${MAX_PATCH_BYTES + 16}`,
    );
  });
});

describe('executor input: NaN and Infinity options are shown as themselves', () => {
  it('concurrency and pageSize', async () => {
    const ex = offline();
    await expectInvalid(
      ex.pauseAll('', { concurrency: Infinity }),
      'Expected `concurrency` to be an integer from 1 and up, got `Infinity`',
    );
    await expectInvalid(ex.resumeAll('', { concurrency: NaN }), 'got `NaN`');
    await expectInvalid(
      ex.getAudit('id', { pageSize: NaN }),
      'Expected `pageSize` to be an integer from 1 to 10000, got `NaN`',
    );
    await expectInvalid(ex.getAudit('id', { pageSize: Infinity }), 'got `Infinity`');
    await expectInvalid(ex.getAudit('id', { pageSize: '10' as unknown as number }), 'got `"10"`');
  });

  it('expiresAfter, under its own name rather than the request field `expiresAfterMs`', async () => {
    const err = await expectInvalid(offline().pauseWorkflow('id', { expiresAfter: NaN }), 'got `NaN`');
    assert.ok(!err.message.includes('expiresAfterMs'), err.message);
    assert.ok(!err.message.includes('null'), err.message);
  });

  it('NaN and Infinity inside contextPatch and input, with their path', async () => {
    const ex = offline();
    await expectInvalid(
      ex.resumeWorkflow('id', { contextPatch: { a: NaN } }),
      'Invalid resume options: contextPatch.a is NaN, which JSON cannot hold',
    );
    await expectInvalid(
      ex.resumeWorkflow('id', { input: { rows: [1, -Infinity] } }),
      'Invalid resume options: input.rows[1] is -Infinity, which JSON cannot hold',
    );
    await expectInvalid(ex.resumeWorkflow('id', { input: Infinity }), 'input is Infinity');
  });

  it('waitUntil refuses a NaN, infinite or negative timeout or interval instead of waiting without end', async () => {
    const ex = offline();
    await expectInvalid(
      ex.waitUntil('id', 'paused', { timeout: NaN }),
      'Expected `timeout` to be a finite number of ms from 0 up, got `NaN`',
    );
    await expectInvalid(ex.waitUntil('id', 'paused', { timeout: Infinity }), 'got `Infinity`');
    await expectInvalid(ex.waitUntil('id', 'paused', { timeout: -1 }), 'got `-1`');
    await expectInvalid(
      ex.waitUntil('id', 'paused', { interval: NaN }),
      'Expected `interval` to be a finite number of ms from 0 up, got `NaN`',
    );
  });

  it('waitUntil refuses a condition that is neither a run state nor a function', async () => {
    const ex = offline();
    await expectInvalid(
      ex.waitUntil('id', 'pasued' as never),
      'Expected `condition` to be a run state (pending, running, pausing, paused, resuming, completed, failed, ' +
        'cancelled, terminated, timedOut, frozen), got `"pasued"`',
    );
    await expectInvalid(
      ex.waitUntil('id', 42 as never),
      "Expected the condition to be a run state like 'paused' or a function (status) => boolean, got `42`",
    );
  });

  it('listWorkflows refuses a NaN or infinite limit and an unknown state; pauseAll passes them on', async () => {
    const ex = offline();
    await expectInvalid(
      ex.listWorkflows({ limit: NaN }),
      'Expected `limit` to be an integer from 1 and up, got `NaN`',
    );
    await expectInvalid(ex.listWorkflows({ limit: Infinity }), 'got `Infinity`');
    await expectInvalid(
      ex.listWorkflows({ state: 'stopped' as never }),
      'Expected `state` to be a run state',
    );
    await expectInvalid(ex.pauseAll({ limit: NaN }), 'Expected `limit`', 'got `NaN`');
  });
});
