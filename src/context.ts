import type { z } from 'zod';
import { MAX_CONTEXT_BYTES, type JsonObject, type JsonValue } from '../workflows/dag';
import { ContextError } from './errors';

/** Largest context a task may receive or return, as JSON bytes (Temporal rejects payloads over 2 MiB). */
export { MAX_CONTEXT_BYTES };

/** Services a running task gets beside its data. */
export interface TaskServices {
  /** Aborted when the attempt is cancelled (immediate pause, run cancelled, timeout). */
  signal: AbortSignal;
  taskId: string;
  workflowId: string;
  attempt: number;
  pauseWorkflow(reason: string): Promise<void>;
  resource(id: string): JsonValue;
  heartbeat(details?: unknown): void;
}

/**
 * Deepest nesting of objects and arrays in a context, the context object itself included, so a value
 * stored under a key nests at most `MAX_JSON_DEPTH - 1` levels. Checked before anything walks a value
 * recursively (zod, `JSON.stringify`, `structuredClone`, the SDK's payload converter), so a deeply
 * nested value is refused with a message instead of overflowing the stack there or in a later task.
 */
export const MAX_JSON_DEPTH = 64;

/** Arrays and plain (or null-prototype) objects: the values JSON nests. */
function isJsonContainer(value: unknown): value is object {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}

/**
 * Whether `value` nests arrays and objects more than `max` levels deep (a scalar is 0 levels, `{}` and
 * `[]` are 1, `{ a: [] }` is 2). Iterative, so a value of any depth is safe to check. A circular value
 * nests without end, so it exceeds any `max`; a sub-value shared by several parents is walked again only
 * when reached deeper than before.
 */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  // The fewest levels left with which each container has been walked.
  const walked = new Map<object, number>();
  const stack: [unknown, number][] = [[value, max]];
  while (stack.length > 0) {
    const [v, left] = stack.pop()!;
    if (!isJsonContainer(v)) continue;
    if (left <= 0) return true;
    const before = walked.get(v);
    if (before !== undefined && before <= left) continue;
    walked.set(v, left);
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, left - 1]);
  }
  return false;
}

/**
 * Describes why a value is not JSON, or undefined if it is: a value that is not JSON, a circular
 * reference, or nesting deeper than `maxDepth` levels of arrays and objects (see {@link jsonDepthExceeds}).
 */
export function whyNotJson(value: unknown, path: string, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const why = walk(value, path, new Set(), maxDepth);
  if (why) return why;
  if (jsonDepthExceeds(value, maxDepth))
    return (
      `${path} nests arrays and objects more than ${maxDepth} levels deep, over the limit ` +
      `(a context nests at most ${MAX_JSON_DEPTH} levels, its own object included): flatten it, ` +
      'or keep deeply nested data in external storage and put a reference in the context'
    );
  return undefined;
}

/** The recursive part of {@link whyNotJson}: it goes at most `left` levels down, so it cannot overflow. */
function walk(value: unknown, path: string, seen: Set<unknown>, left: number): string | undefined {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return undefined;
  if (typeof value === 'number')
    return Number.isFinite(value) ? undefined : `${path} is ${value}, which JSON cannot hold`;
  if (isJsonContainer(value)) {
    if (seen.has(value)) return `${path} is a circular reference, which JSON cannot hold: break the cycle`;
    // Deeper levels are left to jsonDepthExceeds, which reports the depth.
    if (left <= 0) return undefined;
    seen.add(value);
    const entries = Array.isArray(value)
      ? value.map((v, i) => [`${path}[${i}]`, v] as const)
      : Object.entries(value).map(([k, v]) => [`${path}.${k}`, v] as const);
    for (const [p, v] of entries) {
      const why = walk(v, p, seen, left - 1);
      if (why) return why;
    }
    seen.delete(value);
    return undefined;
  }
  if (value === undefined) return `${path} is undefined, not a JSON value: remove the key or use null`;
  const kind = typeof value === 'object' ? (value.constructor?.name ?? 'object') : typeof value;
  return `${path} is a ${kind}, not a JSON value (use strings, numbers, booleans, null, arrays and plain objects${kind === 'Date' ? '; store dates as ISO strings' : ''})`;
}

/** The JSON context a task reads and writes (Cloacina's `Context<Value>`). */
export class Context {
  #data: JsonObject;
  readonly #services: TaskServices | undefined;

  constructor(data: JsonObject = {}, services?: TaskServices) {
    this.#data = { ...data };
    this.#services = services;
  }

  /** The value at `key`, or undefined. */
  get<T extends JsonValue = JsonValue>(key: string): T | undefined {
    return this.#data[key] as T | undefined;
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.#data, key);
  }

  /** Every key, in insertion order. */
  keys(): string[] {
    return Object.keys(this.#data);
  }

  /** Sets `key` (insert or overwrite). */
  set(key: string, value: JsonValue): this {
    this.#check(key, value);
    // defineProperty, so a key named `__proto__` is stored as a key like any other.
    Object.defineProperty(this.#data, key, { value, enumerable: true, writable: true, configurable: true });
    return this;
  }

  /** Inserts `key`; fails if it already exists (use `set` or `update` to overwrite). */
  insert(key: string, value: JsonValue): this {
    if (this.has(key))
      throw new ContextError(`Context key \`${key}\` already exists: use update() or set() to change it`);
    return this.set(key, value);
  }

  /** Updates `key`; fails if it is missing (use `insert` or `set` to add it). */
  update(key: string, value: JsonValue): this {
    if (!this.has(key))
      throw new ContextError(`Context key \`${key}\` does not exist: use insert() or set() to add it`);
    return this.set(key, value);
  }

  /** Removes `key` and returns its value. */
  remove<T extends JsonValue = JsonValue>(key: string): T | undefined {
    const v = this.#data[key] as T | undefined;
    delete this.#data[key];
    return v;
  }

  /** The value at `key`, checked against a zod schema; fails with the schema's issues. */
  getAs<S extends z.ZodType>(key: string, schema: S): z.infer<S> {
    const parsed = schema.safeParse(this.#data[key]);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((i) => `${[key, ...i.path].join('.')}: ${i.message}`).join('; ');
      throw new ContextError(`Context key \`${key}\` does not match the expected schema: ${issues}`);
    }
    return parsed.data;
  }

  /** A copy of the data as a plain JSON object. */
  toJSON(): JsonObject {
    return structuredClone(this.#data);
  }

  /** Aborted when the attempt is cancelled (immediate pause, cancel, timeout): pass it to fetch and friends. */
  get signal(): AbortSignal {
    return this.#needServices('signal').signal;
  }

  /** The running task's id. */
  get taskId(): string {
    return this.#needServices('taskId').taskId;
  }

  /** The workflow execution's id. */
  get workflowId(): string {
    return this.#needServices('workflowId').workflowId;
  }

  /** 1-based attempt number. */
  get attempt(): number {
    return this.#needServices('attempt').attempt;
  }

  /**
   * Pauses the whole run (kind `task`). When it returns, no new task or retry will start; this task keeps
   * running and completes normally.
   */
  async pauseWorkflow(reason: string): Promise<void> {
    await this.#needServices('pauseWorkflow').pauseWorkflow(reason);
  }

  /** The JSON handle of a resource this task `uses`. */
  resource<T extends JsonValue = JsonValue>(id: string): T {
    return this.#needServices('resource').resource(id) as T;
  }

  /** Reports progress; the runner already heartbeats for you, so this is only for details. */
  heartbeat(details?: unknown): void {
    this.#needServices('heartbeat').heartbeat(details);
  }

  /** Checks the serialized size against {@link MAX_CONTEXT_BYTES}; returns the size. */
  assertSize(what = 'context'): number {
    const bytes = Buffer.byteLength(JSON.stringify(this.#data));
    if (bytes > MAX_CONTEXT_BYTES) {
      throw new ContextError(
        `The ${what} is ${bytes} bytes of JSON, over the limit of ${MAX_CONTEXT_BYTES} bytes ` +
          '(Temporal payloads are capped at 2 MiB): keep large data in external storage and put a reference in the context',
      );
    }
    return bytes;
  }

  #check(key: string, value: unknown): void {
    if (typeof key !== 'string' || key.length === 0)
      throw new ContextError(`Context keys must be non-empty strings, got ${JSON.stringify(key)}`);
    // The value sits one level below the context object.
    const why = whyNotJson(value, `\`${key}\``, MAX_JSON_DEPTH - 1);
    if (why) throw new ContextError(`Cannot store context key: ${why}`);
  }

  #needServices(what: string): TaskServices {
    if (!this.#services) throw new ContextError(`ctx.${what} is only available while a task runs`);
    return this.#services;
  }
}
