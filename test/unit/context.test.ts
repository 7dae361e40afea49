// Unit tests of the task Context in src/context.ts (no Temporal server).
import assert from 'node:assert/strict';
import { z } from 'zod';
import {
  Context,
  jsonDepthExceeds,
  MAX_CONTEXT_BYTES,
  MAX_JSON_DEPTH,
  whyNotJson,
  type TaskServices,
} from '../../src/context';
import { ContextError, TaskError } from '../../src/errors';
import type { JsonValue } from '../../workflows/dag';

/** Expects `fn` to throw a ContextError whose message contains every text given. */
function expectContextError(fn: () => unknown, ...texts: (string | RegExp)[]): ContextError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ContextError, `expected a ContextError, got ${String(caught)}`);
  for (const t of texts) {
    if (typeof t === 'string') assert.ok(caught.message.includes(t), `${caught.message} lacks ${t}`);
    else assert.match(caught.message, t);
  }
  return caught;
}

describe('context: reading and writing', () => {
  it('starts from a copy of the initial data', () => {
    const data = { a: 1 };
    const ctx = new Context(data);
    ctx.set('b', 2);
    assert.deepEqual(data, { a: 1 });
    assert.deepEqual(new Context().toJSON(), {});
  });

  it('get, set, has and keys', () => {
    const ctx = new Context({ a: 1 });
    assert.equal(ctx.get('a'), 1);
    assert.equal(ctx.get('missing'), undefined);
    assert.equal(ctx.set('b', { nested: [1, 'x', null, true] }), ctx, 'set chains');
    assert.deepEqual(ctx.get('b'), { nested: [1, 'x', null, true] });
    ctx.set('a', 'overwritten');
    assert.equal(ctx.get('a'), 'overwritten');
    assert.equal(ctx.has('a'), true);
    assert.equal(ctx.has('zzz'), false);
    assert.equal(ctx.has('toString'), false, 'inherited properties are not keys');
    ctx.set('nul', null);
    assert.equal(ctx.has('nul'), true);
    assert.deepEqual(ctx.keys(), ['a', 'b', 'nul']);
  });

  it('insert adds a new key and refuses an existing one, naming it', () => {
    const ctx = new Context({ a: 1 });
    assert.equal(ctx.insert('b', 2), ctx);
    assert.equal(ctx.get('b'), 2);
    const err = expectContextError(
      () => ctx.insert('a', 3),
      'Context key `a` already exists',
      'update() or set()',
    );
    assert.ok(err instanceof TaskError);
    assert.equal(err.kind, 'ContextError');
    assert.equal(err.retryable, false);
    assert.equal(ctx.get('a'), 1, 'a refused insert changes nothing');
    ctx.set('nul', null);
    expectContextError(() => ctx.insert('nul', 1), 'Context key `nul` already exists');
  });

  it('update changes an existing key and refuses a missing one', () => {
    const ctx = new Context({ a: 1 });
    assert.equal(ctx.update('a', 2), ctx);
    assert.equal(ctx.get('a'), 2);
    expectContextError(
      () => ctx.update('missing', 1),
      'Context key `missing` does not exist',
      'insert() or set()',
    );
    assert.equal(ctx.has('missing'), false);
  });

  it('remove deletes a key and returns its value', () => {
    const ctx = new Context({ a: { x: 1 }, b: 2 });
    assert.deepEqual(ctx.remove('a'), { x: 1 });
    assert.equal(ctx.has('a'), false);
    assert.equal(ctx.remove('a'), undefined);
    assert.deepEqual(ctx.keys(), ['b']);
  });

  it('toJSON returns a deep copy', () => {
    const ctx = new Context({ o: { list: [1, 2] } });
    const copy = ctx.toJSON();
    assert.deepEqual(copy, { o: { list: [1, 2] } });
    copy.o.list.push(3);
    Object.assign(copy, { extra: true });
    assert.deepEqual(ctx.toJSON(), { o: { list: [1, 2] } });
    assert.equal(JSON.stringify(ctx), '{"o":{"list":[1,2]}}');
  });
});

describe('context: getAs with a zod schema', () => {
  const Config = z.object({ region: z.string(), replicas: z.number().int() });

  it('returns the typed value when it matches', () => {
    const ctx = new Context({ cfg: { region: 'eu', replicas: 3 } });
    const cfg = ctx.getAs('cfg', Config);
    assert.deepEqual(cfg, { region: 'eu', replicas: 3 });
    assert.equal(cfg.replicas + 1, 4);
  });

  it('throws a ContextError naming the key and the bad field', () => {
    const ctx = new Context({ cfg: { region: 'eu', replicas: 'three' } });
    expectContextError(
      () => ctx.getAs('cfg', Config),
      'Context key `cfg` does not match the expected schema',
      'cfg.replicas',
    );
  });

  it('throws for a missing key', () => {
    expectContextError(() => new Context().getAs('cfg', Config), 'Context key `cfg` does not match');
    assert.equal(new Context().getAs('opt', z.string().optional()), undefined);
  });
});

describe('context: only JSON values', () => {
  const bad = (value: unknown) => () => new Context().set('k', value as JsonValue);

  it('refuses undefined', () => {
    expectContextError(bad(undefined), 'Cannot store context key', '`k`', 'undefined', 'not a JSON value');
  });

  it('refuses a function', () => {
    expectContextError(
      bad(() => 1),
      '`k` is a function, not a JSON value',
    );
  });

  it('refuses NaN and infinities', () => {
    expectContextError(bad(NaN), '`k` is NaN, which JSON cannot hold');
    expectContextError(bad(Infinity), '`k` is Infinity');
    expectContextError(bad({ deep: [1, -Infinity] }), '`k`.deep[1] is -Infinity');
  });

  it('refuses a Date and says to store ISO strings', () => {
    expectContextError(bad(new Date(0)), '`k` is a Date', 'store dates as ISO strings');
    expectContextError(bad({ when: new Date(0) }), '`k`.when is a Date');
  });

  it('refuses other objects: Map, class instances, bigint, symbol', () => {
    expectContextError(bad(new Map()), '`k` is a Map');
    class Thing {}
    expectContextError(bad({ t: new Thing() }), '`k`.t is a Thing');
    expectContextError(bad(10n), '`k` is a bigint');
    expectContextError(bad(Symbol('s')), '`k` is a symbol');
  });

  it('refuses a circular value', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    expectContextError(bad(loop), '`k`.self is a circular reference');
    const arr: unknown[] = [];
    arr.push(arr);
    expectContextError(bad(arr), '`k`[0] is a circular reference');
  });

  it('accepts shared (non-circular) references and null-prototype objects', () => {
    const shared = { x: 1 };
    const ctx = new Context();
    ctx.set('k', { a: shared, b: [shared, shared] });
    const bare = Object.create(null) as Record<string, JsonValue>;
    bare.y = 2;
    ctx.set('bare', bare);
    assert.deepEqual(ctx.toJSON(), { k: { a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] }, bare: { y: 2 } });
  });

  it('refuses empty keys, and a refused set changes nothing', () => {
    const ctx = new Context({ k: 1 });
    expectContextError(() => ctx.set('', 1), 'Context keys must be non-empty strings');
    expectContextError(() => ctx.set('k', NaN));
    expectContextError(() => ctx.insert('n', undefined as unknown as JsonValue));
    expectContextError(() => ctx.update('k', (() => 0) as unknown as JsonValue));
    assert.deepEqual(ctx.toJSON(), { k: 1 });
  });

  it('whyNotJson accepts JSON and explains the rest', () => {
    assert.equal(whyNotJson({ a: [1, 'x', null, true, { b: -0.5 }] }, 'v'), undefined);
    assert.match(
      whyNotJson({ a: [1, undefined] }, 'v')!,
      /^v\.a\[1\] is undefined, not a JSON value: remove the key or use null$/,
    );
  });
});

/** An object nested `levels` deep (`{}` is 1 level), parsed from JSON text as a caller's data would be. */
function nested(levels: number): JsonValue {
  return JSON.parse('{"ab":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1)) as JsonValue;
}

describe('context: nesting depth', () => {
  it('jsonDepthExceeds counts levels of arrays and objects', () => {
    assert.equal(jsonDepthExceeds('x', 0), false);
    assert.equal(jsonDepthExceeds({}, 0), true);
    assert.equal(jsonDepthExceeds({}, 1), false);
    assert.equal(jsonDepthExceeds({ a: [] }, 1), true);
    assert.equal(jsonDepthExceeds({ a: [] }, 2), false);
    assert.equal(jsonDepthExceeds([1, [2, [3]], { a: 'b' }], 3), false);
    assert.equal(jsonDepthExceeds([1, [2, [3]], { a: 'b' }], 2), true);
    assert.equal(jsonDepthExceeds(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH), false);
    assert.equal(jsonDepthExceeds(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH), true);
  });

  it('jsonDepthExceeds is iterative: 100,000 levels, circular values and shared sub-values are safe', () => {
    assert.equal(jsonDepthExceeds(nested(100_000), MAX_JSON_DEPTH), true);
    const loop: Record<string, unknown> = {};
    loop.self = loop;
    assert.equal(jsonDepthExceeds(loop, MAX_JSON_DEPTH), true);
    // 60 levels, each holding the next one twice: 2^60 paths, 60 distinct objects.
    let shared: JsonValue = {};
    for (let i = 1; i < 60; i++) shared = { l: shared, r: shared };
    assert.equal(jsonDepthExceeds(shared, MAX_JSON_DEPTH), false);
    assert.equal(jsonDepthExceeds({ x: 1, deep: { y: shared } }, MAX_JSON_DEPTH), false);
    assert.equal(jsonDepthExceeds([[[[[shared]]]]], MAX_JSON_DEPTH), true);
  });

  it('set refuses an object nested 5,000 levels with a ContextError naming the key and the limit', () => {
    const deep = nested(5000);
    const err = expectContextError(
      () => new Context().set('tree', deep),
      'Cannot store context key: `tree` nests arrays and objects more than 63 levels deep, over the limit ' +
        `(a context nests at most ${MAX_JSON_DEPTH} levels, its own object included): flatten it, ` +
        'or keep deeply nested data in external storage and put a reference in the context',
    );
    assert.ok(!(err instanceof RangeError));
  });

  it('set accepts a value one level below the limit (the context is the first level)', () => {
    const ctx = new Context();
    ctx.set('ok', nested(MAX_JSON_DEPTH - 1));
    expectContextError(
      () => ctx.set('no', nested(MAX_JSON_DEPTH)),
      '`no` nests arrays and objects more than 63',
    );
    assert.deepEqual(ctx.keys(), ['ok']);
    assert.equal(JSON.stringify(ctx.toJSON()).length, JSON.stringify({ ok: nested(63) }).length);
  });

  it('whyNotJson still names a circular reference or a bad value before the depth', () => {
    const loop: Record<string, unknown> = { a: 1 };
    loop.self = loop;
    assert.equal(
      whyNotJson({ x: loop }, 'v'),
      'v.x.self is a circular reference, which JSON cannot hold: break the cycle',
    );
    assert.equal(whyNotJson({ n: NaN, deep: nested(5000) }, 'v'), 'v.n is NaN, which JSON cannot hold');
    assert.match(
      whyNotJson({ deep: nested(5000) }, 'v')!,
      /^v nests arrays and objects more than 64 levels deep/,
    );
  });
});

describe('context: size limit', () => {
  it('returns the JSON size under the limit', () => {
    const ctx = new Context({ a: 'xyz' });
    assert.equal(ctx.assertSize(), Buffer.byteLength('{"a":"xyz"}'));
  });

  it('throws over MAX_CONTEXT_BYTES, naming the limit', () => {
    assert.equal(MAX_CONTEXT_BYTES, 1024 * 1024);
    const ctx = new Context({ big: 'x'.repeat(MAX_CONTEXT_BYTES) });
    expectContextError(
      () => ctx.assertSize(),
      `over the limit of ${MAX_CONTEXT_BYTES} bytes`,
      `The context is ${MAX_CONTEXT_BYTES + '{"big":""}'.length} bytes`,
    );
    expectContextError(() => ctx.assertSize('output of `t`'), 'The output of `t` is');
  });

  it('counts bytes, not characters', () => {
    const ctx = new Context({ s: 'é'.repeat(MAX_CONTEXT_BYTES / 2) });
    expectContextError(() => ctx.assertSize(), `over the limit of ${MAX_CONTEXT_BYTES} bytes`);
  });

  it('accepts exactly the limit', () => {
    const ctx = new Context({ s: 'x'.repeat(MAX_CONTEXT_BYTES - '{"s":""}'.length) });
    assert.equal(ctx.assertSize(), MAX_CONTEXT_BYTES);
  });
});

describe('context: task services', () => {
  it('throws outside a running task, naming the member', async () => {
    const ctx = new Context();
    expectContextError(() => ctx.signal, 'ctx.signal is only available while a task runs');
    expectContextError(() => ctx.taskId, 'ctx.taskId is only available');
    expectContextError(() => ctx.workflowId, 'ctx.workflowId is only available');
    expectContextError(() => ctx.attempt, 'ctx.attempt is only available');
    expectContextError(() => ctx.resource('db'), 'ctx.resource is only available');
    expectContextError(() => ctx.heartbeat(), 'ctx.heartbeat is only available');
    await assert.rejects(ctx.pauseWorkflow('why'), (err: unknown) => {
      assert.ok(err instanceof ContextError);
      assert.match(err.message, /ctx\.pauseWorkflow is only available while a task runs/);
      return true;
    });
  });

  it('delegates to the services while a task runs', async () => {
    const controller = new AbortController();
    const calls: string[] = [];
    const services: TaskServices = {
      signal: controller.signal,
      taskId: 'deploy',
      workflowId: 'wf-1',
      attempt: 2,
      pauseWorkflow: async (reason) => {
        calls.push(`pause:${reason}`);
      },
      resource: (id) => ({ id }),
      heartbeat: (d) => {
        calls.push(`hb:${JSON.stringify(d)}`);
      },
    };
    const ctx = new Context({ a: 1 }, services);
    assert.equal(ctx.signal, controller.signal);
    assert.equal(ctx.taskId, 'deploy');
    assert.equal(ctx.workflowId, 'wf-1');
    assert.equal(ctx.attempt, 2);
    assert.deepEqual(ctx.resource('db'), { id: 'db' });
    ctx.heartbeat({ pct: 50 });
    await ctx.pauseWorkflow('overload');
    assert.deepEqual(calls, ['hb:{"pct":50}', 'pause:overload']);
    assert.deepEqual(ctx.toJSON(), { a: 1 }, 'services are not data');
  });
});

describe('Context: keys that are Object.prototype names', () => {
  it('stores `__proto__` as an ordinary key', () => {
    const ctx = new Context();
    ctx.set('__proto__', { z: 1 });
    assert.deepEqual(ctx.keys(), ['__proto__']);
    assert.equal(ctx.get('z'), undefined);
    assert.equal(JSON.stringify(ctx.toJSON()), '{"__proto__":{"z":1}}');
  });
});
