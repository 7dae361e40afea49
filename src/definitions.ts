// task(), resource(), defineWorkflow() and trigger rules: definitions become a JSON DagSpec plus the
// Node-side functions the worker runs. Every option is checked when defined, with one message shape.
import { msToNumber, type Duration } from '@temporalio/common';
import type { z } from 'zod';
import {
  nearest,
  PAYLOAD_LIMIT_BYTES,
  validateDag,
  type Backoff,
  type ContextOperator,
  type DagSpec,
  type GateSpec,
  type JsonValue,
  type RetryCondition,
  type RetrySpec,
  type TaskSpec,
  type TriggerRule,
} from '../workflows/dag';
import type { CurrentPause } from '../workflows/pause-machine';
import type { Context } from './context';
import { DefinitionError } from './errors';
import { MAX_DURATION_MS, MAX_IDENTITY_LENGTH } from '../workflows/messages';

/** A task body: reads and writes the context; throw (ideally a TaskError) to fail the attempt. */
export type TaskFunction = (ctx: Context) => unknown;

/** Retry options of a task. Defaults: 3 attempts, exponential back-off from 1 s up to 60 s, jitter, all errors. */
export interface RetryOptions {
  /**
   * Maximum attempts, the first included.
   * @default 3
   */
  attempts?: number;
  /**
   * How the delay grows between attempts.
   * @default 'exponential'
   */
  backoff?: Backoff;
  /**
   * First delay (ms number or a string like `'2s'`).
   * @default 1 second
   */
  delay?: Duration;
  /**
   * Longest delay between attempts.
   * @default 60 seconds
   */
  maxDelay?: Duration;
  /**
   * Spread each delay randomly over 75% to 125% of its value.
   * @default true
   */
  jitter?: boolean;
  /**
   * `'all'`, `'never'`, `'transient'` (timeouts, network and availability errors), or message patterns.
   * @default 'all'
   */
  condition?: RetryCondition;
}

/** A `pauseBefore` gate's options. */
export interface GateOptions {
  /**
   * Why the task is held (shown in status, audit and the Web UI).
   * @default 'approval required before `<task id>`'
   */
  reason?: string;
  /**
   * Identities allowed to approve or reject.
   * @default anyone (no restriction)
   */
  approvers?: string[];
  /**
   * Distinct approvals needed.
   * @default 1
   */
  requiredApprovals?: number;
  /**
   * Waiting time (active time) after which `onTimeout` applies.
   * @default none: the gate waits until approved or rejected
   */
  timeout?: Duration;
  /**
   * What happens when `timeout` passes; needs `timeout`.
   * @default 'fail'
   */
  onTimeout?: 'approve' | 'reject' | 'fail';
}

/** Options of {@link task}. */
export interface TaskOptions {
  /** Unique within its workflow. */
  id: string;
  /**
   * Tasks (objects or ids) that must be terminal before this one is ready.
   * @default [] (a root task)
   */
  dependencies?: (TaskDefinition | string)[];
  /**
   * Retries of a failed attempt, decided by the workflow.
   * @default { attempts: 3, backoff: 'exponential', delay: '1s', maxDelay: '60s', jitter: true, condition: 'all' }
   */
  retry?: RetryOptions;
  /**
   * Time limit of one attempt.
   * @default 5 minutes (30 seconds with `execution: 'local'`)
   */
  timeout?: Duration;
  /**
   * How long a silent worker goes unnoticed; the runner heartbeats for the task. Not for local tasks
   * (a local activity does not heartbeat: its workflow task does).
   * @default 30 seconds
   */
  heartbeatTimeout?: Duration;
  /**
   * How an attempt runs. `'activity'`: a Temporal activity, dispatched by the server's matching to any
   * worker of the task queue (one server round trip per attempt). `'local'`: a Temporal local activity,
   * run by the worker that runs the workflow, with no round trip: about ten times faster per sequential
   * step, for short, idempotent tasks (checks, transforms, notifications). A run executing local tasks
   * sees pauses, resumes and approvals when its local tasks return, or at the latest at its workflow
   * task's heartbeat (80% of the workflow task timeout: 8 s by default), so keep local tasks short.
   * @default 'activity'
   */
  execution?: 'activity' | 'local';
  /**
   * When the ready task runs; otherwise it is skipped.
   * @default trigger.always()
   */
  triggerRule?: TriggerRule;
  /**
   * Called after a successful attempt. Errors are logged, never fail the task.
   * @default none
   */
  onSuccess?: (ctx: Context) => Promise<void> | void;
  /**
   * Called after every failed attempt. Errors are logged.
   * @default none
   */
  onFailure?: (error: Error, ctx: Context, info: { attempt: number }) => Promise<void> | void;
  /**
   * Hold the task for approval when it becomes ready (`true`: a gate with the {@link GateOptions} defaults).
   * @default false
   */
  pauseBefore?: boolean | GateOptions;
  /**
   * Resources the task needs (set up before it runs).
   * @default []
   */
  uses?: (ResourceDefinition | string)[];
  /**
   * Override the workflow's `pausePolicy.onTaskFailure` for this task.
   * @default the workflow's `pausePolicy.onTaskFailure` ('fail' unless set)
   */
  onTaskFailure?: 'fail' | 'pause';
}

/** A task: its JSON spec and its function. */
export interface TaskDefinition {
  readonly id: string;
  readonly spec: TaskSpec;
  readonly fn: TaskFunction;
  readonly onSuccess?: TaskOptions['onSuccess'];
  readonly onFailure?: TaskOptions['onFailure'];
  /** Resource objects named in `uses`. */
  readonly resourceObjects: ResourceDefinition[];
}

/** Options of {@link resource}. */
export interface ResourceOptions<H extends JsonValue = JsonValue> {
  id: string;
  /** Creates the resource; returns a JSON handle kept in workflow state. */
  setup: (info: {
    context: Readonly<Record<string, JsonValue>>;
    reason: string;
    workflowId: string;
  }) => Promise<H> | H;
  /** Releases it. Always runs when the run ends; also on pause with `releaseOnPause`. */
  teardown(this: void, handle: H, info: { reason: string; workflowId: string }): Promise<void> | void;
  /**
   * Tear down while the run is paused and set up again on resume.
   * @default false
   */
  releaseOnPause?: boolean;
  /**
   * Attempts and first back-off (doubling) of each setup and teardown.
   * @default { attempts: 5, delay: '1s' }
   */
  retry?: { attempts?: number; delay?: Duration };
}

/** A resource definition. */
export interface ResourceDefinition<H extends JsonValue = JsonValue> extends Required<
  Omit<ResourceOptions<H>, 'releaseOnPause' | 'retry'>
> {
  readonly releaseOnPause: boolean;
  /** Attempts and first back-off (ms) of each setup and teardown. */
  readonly retry: { attempts: number; delayMs: number };
}

/** What `validateResume` may return: true/undefined to allow, false or a string (the reason) to refuse. */
export type ResumeVerdict = boolean | string | void | { ok: boolean; reason?: string };

/** Pause policy of a workflow. */
export interface PausePolicy {
  /**
   * Longest any pause may last; then `onMaxPause` applies.
   * @default none: a pause lasts until resumed
   */
  maxPause?: Duration;
  /**
   * What happens when a pause reaches `maxPause`.
   * @default 'fail'
   */
  onMaxPause?: 'resume' | 'fail' | 'cancel';
  /**
   * How long an immediate pause waits for cancelled tasks to stop.
   * @default 30 seconds
   */
  drainTimeout?: Duration;
  /**
   * `'pause'`: a task that exhausts its retries pauses the run instead of failing it.
   * @default 'fail'
   */
  onTaskFailure?: 'fail' | 'pause';
  /**
   * Check on every resume that the remaining tasks are still registered on the task queue's workers
   * (costs one activity round trip per resume). When false, the check runs only with `validateResume`,
   * a resume input or a context patch.
   * @default true
   */
  verifyTasksOnResume?: boolean;
}

/** Options of {@link defineWorkflow}. */
export interface WorkflowOptions<I extends z.ZodType = z.ZodType> {
  /** The workflow's name (required; also the `CloacinaWorkflow` search attribute). */
  name: string;
  /** @default none */
  description?: string;
  /** The tasks (required, at least one). */
  tasks: TaskDefinition[];
  /**
   * Schema of the initial context (checked by the executor before a run starts).
   * @default none: any JSON object
   */
  input?: I;
  /**
   * Schema of the typed resume input, delivered to the next tasks as `resumeInput`.
   * @default none: any JSON value
   */
  resumeInput?: z.ZodType;
  /**
   * Resources besides those named as objects in tasks' `uses`.
   * @default []
   */
  resources?: ResourceDefinition[];
  /**
   * @default { onMaxPause: 'fail', drainTimeout: '30s', onTaskFailure: 'fail', verifyTasksOnResume: true } (no `maxPause`)
   */
  pausePolicy?: PausePolicy;
  /**
   * Checks, before a resume is accepted, that the world is still as the run expects. Runs as an activity.
   * @default none
   */
  validateResume?: (ctx: Context, pause: CurrentPause) => Promise<ResumeVerdict> | ResumeVerdict;
  /**
   * Whole-run deadline counted in active (unpaused) time.
   * @default none
   */
  deadline?: Duration;
}

/** A validated workflow definition: the JSON spec that starts runs plus the functions workers run. */
export interface WorkflowDefinition<I extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly description?: string;
  readonly spec: DagSpec;
  readonly tasks: ReadonlyMap<string, TaskDefinition>;
  readonly resources: ReadonlyMap<string, ResourceDefinition>;
  readonly input?: I;
  readonly resumeInput?: z.ZodType;
  readonly validateResume?: WorkflowOptions['validateResume'];
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]*$/;

/** `unknown` when `K` lists every key of `T`, else an object type naming the missing keys (a compile error). */
type EveryKeyOf<T, K extends readonly PropertyKey[]> = [Exclude<keyof T, K[number]>] extends [never]
  ? unknown
  : { missingOptionKeys: Exclude<keyof T, K[number]> };

/**
 * Declares the known keys of an options type once: a key the type lacks, or one of its keys left out, fails
 * to compile, so these tables cannot drift from the interfaces above.
 */
const optionKeys =
  <T>() =>
  <const K extends readonly (keyof T & string)[]>(keys: K & EveryKeyOf<T, K>): K =>
    keys;

// The known keys of each options object, in the order messages list them.
const RETRY_KEYS = optionKeys<RetryOptions>()([
  'attempts',
  'backoff',
  'delay',
  'maxDelay',
  'jitter',
  'condition',
]);
const GATE_KEYS = optionKeys<GateOptions>()([
  'reason',
  'approvers',
  'requiredApprovals',
  'timeout',
  'onTimeout',
]);
const TASK_KEYS = optionKeys<TaskOptions>()([
  'id',
  'dependencies',
  'retry',
  'timeout',
  'heartbeatTimeout',
  'execution',
  'triggerRule',
  'onSuccess',
  'onFailure',
  'pauseBefore',
  'uses',
  'onTaskFailure',
]);
const RESOURCE_KEYS = optionKeys<ResourceOptions>()(['id', 'setup', 'teardown', 'releaseOnPause', 'retry']);
const RESOURCE_RETRY_KEYS = optionKeys<NonNullable<ResourceOptions['retry']>>()(['attempts', 'delay']);
const PAUSE_POLICY_KEYS = optionKeys<PausePolicy>()([
  'maxPause',
  'onMaxPause',
  'drainTimeout',
  'onTaskFailure',
  'verifyTasksOnResume',
]);
const WORKFLOW_KEYS = optionKeys<WorkflowOptions>()([
  'name',
  'description',
  'tasks',
  'input',
  'resumeInput',
  'resources',
  'pausePolicy',
  'validateResume',
  'deadline',
]);

/** Hints for keys written at the wrong level, by key (the hint names where the key belongs). */
type Elsewhere = ReadonlyMap<string, string>;

const has = (keys: readonly string[], key: string): boolean => keys.includes(key);

/** Hints for `keys` of the option object `parent` written one level up. */
function belongsIn(parent: string, keys: readonly string[]): [string, string][] {
  return keys.map((k) => [k, `\`${k}\` belongs in \`${parent}\`: did you mean \`${parent}.${k}\`?`]);
}

const TASK_ELSEWHERE: Elsewhere = new Map([
  ...belongsIn('retry', RETRY_KEYS),
  // `timeout` is a task option as well as a gate option.
  ...belongsIn(
    'pauseBefore',
    GATE_KEYS.filter((k) => !has(TASK_KEYS, k)),
  ),
  ['fn', 'the task function is the second argument: task({ id, ... }, fn)'],
]);
const RESOURCE_ELSEWHERE: Elsewhere = new Map(belongsIn('retry', RESOURCE_RETRY_KEYS));
const WORKFLOW_ELSEWHERE: Elsewhere = new Map([
  ...TASK_KEYS.filter((k) => !has(WORKFLOW_KEYS, k)).map((k): [string, string] => [
    k,
    `\`${k}\` belongs to task(): set it on each task, task({ id, ${k} }, fn)`,
  ]),
  // Later entries win: `onTaskFailure` here is the pause policy's (a task may also override it).
  ...belongsIn('pausePolicy', PAUSE_POLICY_KEYS),
  ['id', 'did you mean `name`?'],
  ['timeout', "a task's `timeout` belongs to task(); for the whole run, did you mean `deadline`?"],
]);

/** A non-null object that is not an array: what every options argument must be. */
function isRecord<T>(value: T): value is Exclude<T, readonly unknown[]> & object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Throws unless the options argument of `fn` is an object (before anything reads its fields). */
function requireObject(fn: string, options: unknown): void {
  if (!isRecord(options))
    throw new DefinitionError([`${fn}: expected options to be an object, got ${describe(options)}`]);
}

function describe(value: unknown): string {
  const type = Array.isArray(value) ? 'array' : value === null ? 'null' : typeof value;
  let shown: string;
  try {
    shown =
      typeof value === 'function'
        ? 'function'
        : typeof value === 'number' && !Number.isFinite(value)
          ? String(value)
          : (JSON.stringify(value) ?? String(value));
  } catch {
    shown = String(value);
  }
  return `\`${shown}\` (${type})`;
}

class Checker {
  readonly problems: string[] = [];
  constructor(private readonly where: string) {}
  fail(field: string, expected: string, value: unknown): void {
    this.problems.push(`${this.where}: expected \`${field}\` to be ${expected}, got ${describe(value)}`);
  }
  duration(field: string, value: Duration | undefined, min = 1): number | undefined {
    if (value === undefined) return undefined;
    let ms: number;
    try {
      ms = msToNumber(value);
    } catch {
      ms = NaN;
    }
    if (!Number.isFinite(ms) || ms < min || ms > MAX_DURATION_MS) {
      this.fail(
        field,
        `a duration from ${min} ms to ${MAX_DURATION_MS} ms (ten years): a number of ms or a string like '30s'`,
        value,
      );
      return undefined;
    }
    return ms;
  }
  int(field: string, value: unknown, min: number): number | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
      this.fail(field, `an integer from ${min} and up`, value);
      return undefined;
    }
    return value;
  }
  bool(field: string, value: unknown): boolean | undefined {
    if (value === undefined) return undefined;
    if (typeof value !== 'boolean') {
      this.fail(field, 'true or false', value);
      return undefined;
    }
    return value;
  }
  oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T | undefined {
    if (value === undefined) return undefined;
    if (!allowed.includes(value as T)) {
      this.fail(field, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value);
      return undefined;
    }
    return value as T;
  }
  /**
   * Reports every key of `value` (the option object at `path`, '' for the top level) that is not in `known`,
   * with a hint: where the key belongs, else the nearest known key, else the known keys.
   */
  keys(path: string, value: object, known: readonly string[], elsewhere: Elsewhere = new Map()): void {
    const at = (k: string) => (path ? `${path}.${k}` : k);
    for (const key of Object.keys(value)) {
      if (has(known, key)) continue;
      const near = elsewhere.has(key) ? key : nearest(key, [...known, ...elsewhere.keys()]);
      const hint =
        near === undefined
          ? `the options${path ? ` of \`${path}\`` : ''} are { ${known.join(', ')} }`
          : has(known, near)
            ? `did you mean \`${at(near)}\`?`
            : elsewhere.get(near)!;
      this.problems.push(`${this.where}: unknown option \`${at(key)}\` — ${hint}`);
    }
  }
  /** A nested option object: undefined, or an object whose keys are all in `known`. */
  object<T extends object>(field: string, value: T | undefined, known: readonly string[]): T | undefined {
    if (value === undefined) return undefined;
    if (!isRecord(value)) {
      this.fail(field, `an object { ${known.join(', ')} }`, value);
      return undefined;
    }
    this.keys(field, value, known);
    return value;
  }
  throwIfAny(): void {
    if (this.problems.length) throw new DefinitionError(this.problems);
  }
}

/**
 * Longest workflow name or task id: both are search attribute values (`CloacinaWorkflow`, `CloacinaGate`),
 * which the server holds to 2 KiB, and both show in the Web UI's lists.
 */
export const MAX_ID_LENGTH = 200;

function checkId(c: Checker, field: string, id: unknown): void {
  if (typeof id !== 'string' || !ID_PATTERN.test(id)) {
    c.fail(field, "a non-empty id of letters, digits and `_.:-` (like 'deploy_app')", id);
  } else if (id.length > MAX_ID_LENGTH) {
    c.fail(field, `an id of at most ${MAX_ID_LENGTH} characters, not ${id.length}`, `${id.slice(0, 40)}…`);
  }
}

/**
 * Each approver must be an identity an approve or reject request can carry: requests trim `by` and cap it
 * at MAX_IDENTITY_LENGTH characters, so an id with surrounding spaces, a blank one or a longer one could
 * never match, and the gate could be neither approved nor rejected. A repeated id is refused rather than
 * dropped, since approvals count distinct identities.
 */
function checkApprovers(c: Checker, approvers: unknown[]): void {
  const seen = new Set<unknown>();
  approvers.forEach((a, i) => {
    const field = `pauseBefore.approvers[${i}]`;
    if (typeof a !== 'string' || a.trim() === '') c.fail(field, "a non-empty identity like 'alice'", a);
    else if (a !== a.trim())
      c.fail(
        field,
        `an identity without leading or trailing spaces (approve and reject trim \`by\`, so it could never match): write \`${JSON.stringify(a.trim())}\``,
        a,
      );
    else if (a.length > MAX_IDENTITY_LENGTH)
      c.fail(
        field,
        `an identity of at most ${MAX_IDENTITY_LENGTH} characters, not ${a.length} (approve and reject refuse a longer \`by\`, so it could never match)`,
        a,
      );
    else if (seen.has(a))
      c.fail(
        field,
        'listed once (approvals count distinct identities): remove the repeat, and raise `requiredApprovals` if more approvals are needed',
        a,
      );
    seen.add(a);
  });
}

function idOf(x: TaskDefinition | ResourceDefinition | string): string {
  return typeof x === 'string' ? x : x.id;
}

/** Default time limit of one attempt of a local task (`execution: 'local'`). */
export const LOCAL_TIMEOUT_MS = 30_000;

/** Defines a task: `task({ id, dependencies, retry, pauseBefore, ... }, async (ctx) => { ... })`. */
export function task(options: TaskOptions, fn: TaskFunction): TaskDefinition {
  requireObject('task()', options);
  const c = new Checker(typeof options.id === 'string' ? `Task \`${options.id}\`` : 'task()');
  c.keys('', options, TASK_KEYS, TASK_ELSEWHERE);
  checkId(c, 'id', options.id);
  if (typeof fn !== 'function') c.fail('fn (the second argument)', 'an async function (ctx) => { ... }', fn);
  const deps = options.dependencies ?? [];
  if (!Array.isArray(deps)) c.fail('dependencies', 'an array of tasks or task ids', deps);
  const dependencies: string[] = [];
  for (const d of Array.isArray(deps) ? deps : []) {
    if (typeof d === 'string' || (typeof d === 'object' && d !== null && typeof d.id === 'string'))
      dependencies.push(idOf(d));
    else c.fail('dependencies[]', 'a task or a task id', d);
  }
  const r = c.object('retry', options.retry, RETRY_KEYS) ?? {};
  const retry: RetrySpec = {
    attempts: c.int('retry.attempts', r.attempts, 1) ?? 3,
    backoff:
      c.oneOf('retry.backoff', r.backoff, ['fixed', 'linear', 'exponential'] as const) ?? 'exponential',
    delayMs: c.duration('retry.delay', r.delay, 0) ?? 1000,
    maxDelayMs: c.duration('retry.maxDelay', r.maxDelay, 0) ?? 60_000,
    jitter: c.bool('retry.jitter', r.jitter) ?? true,
    condition: 'all',
  };
  if (Array.isArray(r.condition)) {
    // An empty list would match no error: 'never' says that plainly.
    if (r.condition.length > 0 && r.condition.every((p) => typeof p === 'string' && p.length > 0))
      retry.condition = [...r.condition];
    else
      c.fail(
        'retry.condition',
        "a non-empty array of non-empty message patterns (use 'never' to retry no error)",
        r.condition,
      );
  } else if (r.condition !== undefined) {
    retry.condition =
      c.oneOf('retry.condition', r.condition, ['all', 'never', 'transient'] as const) ?? 'all';
  }
  if (retry.maxDelayMs < retry.delayMs)
    c.fail('retry.maxDelay', `at least retry.delay (${retry.delayMs} ms)`, r.maxDelay);
  const execution = c.oneOf('execution', options.execution, ['activity', 'local'] as const) ?? 'activity';
  const local = execution === 'local';
  const timeoutMs = c.duration('timeout', options.timeout) ?? (local ? LOCAL_TIMEOUT_MS : 5 * 60_000);
  const heartbeatTimeoutMs = c.duration('heartbeatTimeout', options.heartbeatTimeout, 1000) ?? 30_000;
  if (local && options.heartbeatTimeout !== undefined)
    c.fail(
      'heartbeatTimeout',
      "nothing with `execution: 'local'` (a local activity does not heartbeat; its workflow task does): remove it, or run the task as an activity",
      options.heartbeatTimeout,
    );
  let pauseBefore: GateSpec | undefined;
  if (options.pauseBefore === true) {
    pauseBefore = { reason: `approval required before \`${options.id}\``, requiredApprovals: 1 };
  } else if (isRecord(options.pauseBefore)) {
    const g = options.pauseBefore;
    c.keys('pauseBefore', g, GATE_KEYS);
    const approvers = g.approvers;
    if (approvers !== undefined && (!Array.isArray(approvers) || approvers.length === 0)) {
      c.fail('pauseBefore.approvers', 'a non-empty array of identities', approvers);
    }
    if (Array.isArray(approvers)) checkApprovers(c, approvers);
    const required = c.int('pauseBefore.requiredApprovals', g.requiredApprovals, 1) ?? 1;
    if (Array.isArray(approvers) && required > new Set(approvers).size) {
      c.fail(
        'pauseBefore.requiredApprovals',
        `at most the number of distinct approvers (${new Set(approvers).size})`,
        required,
      );
    }
    const gateTimeout = c.duration('pauseBefore.timeout', g.timeout);
    const onTimeout = c.oneOf('pauseBefore.onTimeout', g.onTimeout, ['approve', 'reject', 'fail'] as const);
    if (onTimeout !== undefined && g.timeout === undefined)
      c.fail('pauseBefore.timeout', `a duration for \`onTimeout: '${onTimeout}'\` to apply after`, g.timeout);
    if (g.reason !== undefined && typeof g.reason !== 'string')
      c.fail('pauseBefore.reason', 'a string', g.reason);
    pauseBefore = {
      reason: g.reason ?? `approval required before \`${options.id}\``,
      ...(Array.isArray(approvers) ? { approvers: [...approvers] } : {}),
      requiredApprovals: required,
      ...(gateTimeout
        ? {
            timeoutMs: gateTimeout,
            onTimeout: onTimeout ?? 'fail',
          }
        : {}),
    };
  } else if (options.pauseBefore !== undefined && options.pauseBefore !== false) {
    c.fail('pauseBefore', `true or { ${GATE_KEYS.join(', ')} }`, options.pauseBefore);
  }
  const uses: (ResourceDefinition | string)[] = [];
  if (options.uses !== undefined && !Array.isArray(options.uses))
    c.fail(
      'uses',
      `an array of resources or resource ids${typeof options.uses === 'string' ? ` (write \`uses: [${JSON.stringify(options.uses)}]\`)` : ''}`,
      options.uses,
    );
  for (const u of Array.isArray(options.uses) ? options.uses : []) {
    if (typeof u === 'string' || (isRecord(u) && typeof u.id === 'string')) uses.push(u);
    else c.fail('uses[]', 'a resource() or a resource id', u);
  }
  const resourceObjects = uses.filter((u): u is ResourceDefinition => typeof u === 'object');
  const onTaskFailure = c.oneOf('onTaskFailure', options.onTaskFailure, ['fail', 'pause'] as const);
  if (options.onSuccess !== undefined && typeof options.onSuccess !== 'function')
    c.fail('onSuccess', 'a function (ctx) => void', options.onSuccess);
  if (options.onFailure !== undefined && typeof options.onFailure !== 'function')
    c.fail('onFailure', 'a function (error, ctx, { attempt }) => void', options.onFailure);
  c.throwIfAny();
  const spec: TaskSpec = {
    id: options.id,
    dependencies: [...new Set(dependencies)],
    retry,
    timeoutMs,
    heartbeatTimeoutMs,
    triggerRule: options.triggerRule ?? { kind: 'always' },
    ...(pauseBefore ? { pauseBefore } : {}),
    uses: uses.map(idOf),
    ...(onTaskFailure ? { onTaskFailure } : {}),
    ...(local ? { execution } : {}),
  };
  return Object.freeze({
    id: options.id,
    spec,
    fn,
    onSuccess: options.onSuccess,
    onFailure: options.onFailure,
    resourceObjects,
  });
}

/** Defines a resource set up before the first task that uses it and torn down when the run ends. */
export function resource<H extends JsonValue>(options: ResourceOptions<H>): ResourceDefinition<H> {
  requireObject('resource()', options);
  const c = new Checker(typeof options.id === 'string' ? `Resource \`${options.id}\`` : 'resource()');
  c.keys('', options, RESOURCE_KEYS, RESOURCE_ELSEWHERE);
  checkId(c, 'id', options.id);
  if (typeof options.setup !== 'function')
    c.fail('setup', 'a function returning a JSON handle', options.setup);
  if (typeof options.teardown !== 'function')
    c.fail('teardown', 'a function (handle) => void', options.teardown);
  const retry = c.object('retry', options.retry, RESOURCE_RETRY_KEYS);
  const attempts = c.int('retry.attempts', retry?.attempts, 1) ?? 5;
  const delayMs = c.duration('retry.delay', retry?.delay) ?? 1000;
  const releaseOnPause = c.bool('releaseOnPause', options.releaseOnPause) ?? false;
  c.throwIfAny();
  return Object.freeze({
    id: options.id,
    setup: options.setup,
    teardown: options.teardown,
    releaseOnPause,
    retry: { attempts, delayMs },
  });
}

/** Trigger rules (Cloacina's `trigger_rules`): when a ready task runs instead of being skipped. */
export const trigger = {
  /** Run whatever happened upstream (the default). */
  always: (): TriggerRule => ({ kind: 'always' }),
  /** Run if `task` completed. */
  taskSuccess: (t: TaskDefinition | string): TriggerRule => ({ kind: 'taskSuccess', task: idOf(t) }),
  /** Run if `task` failed. */
  taskFailed: (t: TaskDefinition | string): TriggerRule => ({ kind: 'taskFailed', task: idOf(t) }),
  /** Run if `task` was skipped. */
  taskSkipped: (t: TaskDefinition | string): TriggerRule => ({ kind: 'taskSkipped', task: idOf(t) }),
  /** Run if the input context's `key` satisfies `op` (`exists` and `notExists` take no value). */
  contextValue: (key: string, op: ContextOperator, value?: JsonValue): TriggerRule => ({
    kind: 'contextValue',
    key,
    op,
    ...(value === undefined ? {} : { value }),
  }),
  /** Run if every rule holds (true for none). */
  all: (...rules: TriggerRule[]): TriggerRule => ({ kind: 'all', rules }),
  /** Run if some rule holds (false for none). */
  any: (...rules: TriggerRule[]): TriggerRule => ({ kind: 'any', rules }),
  /** Run if no rule holds (true for none). */
  none: (...rules: TriggerRule[]): TriggerRule => ({ kind: 'none', rules }),
} as const;

const OPERATORS = [
  'equals',
  'notEquals',
  'greaterThan',
  'lessThan',
  'contains',
  'notContains',
  'exists',
  'notExists',
];

function checkRule(c: Checker, field: string, rule: TriggerRule): void {
  switch (rule?.kind) {
    case 'always':
    case 'taskSuccess':
    case 'taskFailed':
    case 'taskSkipped':
      return;
    case 'contextValue':
      if (typeof rule.key !== 'string' || !rule.key)
        c.fail(`${field}.key`, 'a non-empty context key', rule.key);
      if (!OPERATORS.includes(rule.op)) c.fail(`${field}.op`, `one of ${OPERATORS.join(', ')}`, rule.op);
      if (!['exists', 'notExists'].includes(rule.op) && rule.value === undefined)
        c.fail(`${field}.value`, `a JSON value to compare with (\`${rule.op}\`)`, rule.value);
      return;
    case 'all':
    case 'any':
    case 'none':
      if (!Array.isArray(rule.rules))
        c.fail(`${field}.rules`, `an array of rules: trigger.${rule.kind}(rule, ...)`, rule.rules);
      else rule.rules.forEach((r, i) => checkRule(c, `${field}.rules[${i}]`, r));
      return;
    default:
      c.fail(field, 'a rule built with trigger.* (always, taskSuccess, contextValue, all, ...)', rule);
  }
}

/** Defines and validates a workflow: duplicate ids, unknown dependencies, cycles and empty DAGs fail here. */
/** What each task's record adds, besides its id, to the state a run carries into continue-as-new (about 120 bytes when completed). */
const CARRIED_RECORD_BYTES = 140;
/** The state a run carries: under the server's payload limit, with room for the pause state and the contexts' envelope. */
const MAX_CARRIED_SPEC_BYTES = PAYLOAD_LIMIT_BYTES - 128 * 1024;

/**
 * Refuses a DAG whose spec, carried with a record per task into every continue-as-new, would not fit in
 * one payload: its run would end failed at its first continue-as-new (a DAG of more than a few hundred
 * tasks continues as new at least once).
 */
function checkCarriedSize(spec: DagSpec): void {
  const specBytes = Buffer.byteLength(JSON.stringify(spec));
  // A record is keyed by its task's id, which the spec holds too.
  const estimate =
    specBytes +
    spec.tasks.reduce((n, t) => n + CARRIED_RECORD_BYTES + Buffer.byteLength(JSON.stringify(t.id)), 0);
  if (estimate <= MAX_CARRIED_SPEC_BYTES) return;
  throw new DefinitionError([
    `Workflow \`${spec.name}\` is too large for one run: its spec is ${specBytes} bytes of JSON for ` +
      `${spec.tasks.length} tasks, and a run carries it, with a record per task (its id and about ${CARRIED_RECORD_BYTES} bytes), ` +
      `into each continue-as-new: about ${estimate} bytes, over ${MAX_CARRIED_SPEC_BYTES} (the server refuses ` +
      'payloads over 2 MiB). Split it into smaller workflows (about 5,000 tasks fit at the default settings)',
  ]);
}

export function defineWorkflow<I extends z.ZodType = z.ZodType>(
  options: WorkflowOptions<I>,
): WorkflowDefinition<I> {
  requireObject('defineWorkflow()', options);
  const name = options.name;
  const c = new Checker(typeof name === 'string' ? `Workflow \`${name}\`` : 'defineWorkflow()');
  c.keys('', options, WORKFLOW_KEYS, WORKFLOW_ELSEWHERE);
  const p = c.object('pausePolicy', options.pausePolicy, PAUSE_POLICY_KEYS) ?? {};
  checkId(c, 'name', name);
  if (!Array.isArray(options.tasks)) {
    c.fail('tasks', 'an array of task() definitions', options.tasks);
    c.throwIfAny();
  }
  for (const [i, t] of options.tasks.entries()) {
    if (!t || typeof t !== 'object' || !t.spec) c.fail(`tasks[${i}]`, 'a task() definition', t);
    else checkRule(c, `tasks[${i}].triggerRule`, t.spec.triggerRule);
  }
  if (options.resources !== undefined && !Array.isArray(options.resources))
    c.fail('resources', 'an array of resource() definitions', options.resources);
  for (const [i, r] of (Array.isArray(options.resources) ? options.resources : []).entries()) {
    if (!isRecord(r) || typeof r.id !== 'string' || typeof r.setup !== 'function')
      c.fail(`resources[${i}]`, 'a resource() definition', r);
  }
  if (options.description !== undefined && typeof options.description !== 'string')
    c.fail('description', 'a string', options.description);
  for (const field of ['input', 'resumeInput'] as const) {
    const schema: unknown = options[field];
    if (
      schema !== undefined &&
      !(isRecord(schema) && typeof (schema as { safeParse?: unknown }).safeParse === 'function')
    )
      c.fail(field, 'a zod schema, like z.object({ version: z.string() })', schema);
  }
  c.throwIfAny();
  const problems = validateDag(
    name,
    options.tasks.map((t) => t.spec),
  ).map((p) => p.message);
  const resources = new Map<string, ResourceDefinition>();
  for (const r of [...(options.resources ?? []), ...options.tasks.flatMap((t) => t.resourceObjects)]) {
    const existing = resources.get(r.id);
    if (existing && existing !== r)
      problems.push(`Workflow \`${name}\` has two different resources with id \`${r.id}\``);
    resources.set(r.id, r);
  }
  for (const t of options.tasks) {
    for (const u of t.spec.uses) {
      if (!resources.has(u))
        problems.push(
          `Task \`${t.id}\` uses unknown resource \`${u}\`: pass it in \`resources\` or as an object in \`uses\``,
        );
    }
  }
  const maxPauseMs = c.duration('pausePolicy.maxPause', p.maxPause);
  const drainTimeoutMs = c.duration('pausePolicy.drainTimeout', p.drainTimeout) ?? 30_000;
  const onMaxPause = c.oneOf('pausePolicy.onMaxPause', p.onMaxPause, ['resume', 'fail', 'cancel'] as const);
  const onTaskFailure =
    c.oneOf('pausePolicy.onTaskFailure', p.onTaskFailure, ['fail', 'pause'] as const) ?? 'fail';
  const deadlineMs = c.duration('deadline', options.deadline);
  const verifyTasksOnResume = c.bool('pausePolicy.verifyTasksOnResume', p.verifyTasksOnResume) ?? true;
  if (options.validateResume !== undefined && typeof options.validateResume !== 'function') {
    c.fail('validateResume', 'a function (ctx, pause) => boolean | string', options.validateResume);
  }
  problems.push(...c.problems);
  if (problems.length) throw new DefinitionError(problems);
  const spec: DagSpec = {
    name,
    ...(options.description ? { description: options.description } : {}),
    tasks: options.tasks.map((t) => t.spec),
    resources: [...resources.values()].map((r) => ({
      id: r.id,
      releaseOnPause: r.releaseOnPause,
      retry: r.retry,
    })),
    pausePolicy: {
      ...(maxPauseMs ? { maxPauseMs } : {}),
      ...(onMaxPause ? { onMaxPause } : {}),
      drainTimeoutMs,
      onTaskFailure,
      verifyTasksOnResume,
    },
    hasResumeValidator: options.validateResume !== undefined || options.resumeInput !== undefined,
    ...(deadlineMs ? { deadlineMs } : {}),
  };
  checkCarriedSize(spec);
  return Object.freeze({
    name,
    description: options.description,
    spec,
    tasks: new Map(options.tasks.map((t) => [t.id, t])),
    resources,
    input: options.input,
    resumeInput: options.resumeInput,
    validateResume: options.validateResume,
  });
}
