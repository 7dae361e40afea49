// The DAG as data: its JSON spec, validation, readiness, trigger rules, retry delays and context merge.
// Pure and deterministic: used inside the workflow sandbox and by the Node-side definitions and tests.

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
/** A JSON object: the shape of every task context. */
export type JsonObject = { [key: string]: JsonValue };

/** Comparison operators of `contextValue` trigger rules. */
export const ContextOperator = {
  equals: 'equals',
  notEquals: 'notEquals',
  greaterThan: 'greaterThan',
  lessThan: 'lessThan',
  contains: 'contains',
  notContains: 'notContains',
  exists: 'exists',
  notExists: 'notExists',
} as const;
export type ContextOperator = (typeof ContextOperator)[keyof typeof ContextOperator];

/** When a ready task runs (otherwise it is skipped). */
export type TriggerRule =
  | { kind: 'always' }
  | { kind: 'taskSuccess'; task: string }
  | { kind: 'taskFailed'; task: string }
  | { kind: 'taskSkipped'; task: string }
  | { kind: 'contextValue'; key: string; op: ContextOperator; value?: JsonValue }
  | { kind: 'all'; rules: TriggerRule[] }
  | { kind: 'any'; rules: TriggerRule[] }
  | { kind: 'none'; rules: TriggerRule[] };

/** Back-off shapes between attempts. */
export const Backoff = { fixed: 'fixed', linear: 'linear', exponential: 'exponential' } as const;
export type Backoff = (typeof Backoff)[keyof typeof Backoff];

/** Which failures are retried: all, never, transient ones, or those whose message contains a pattern. */
export type RetryCondition = 'all' | 'never' | 'transient' | string[];

/** A task's retry policy, decided by the workflow (one activity attempt at a time). */
export interface RetrySpec {
  /** Maximum attempts, the first included. */
  attempts: number;
  backoff: Backoff;
  /** First delay, ms. */
  delayMs: number;
  /** Cap on any delay, ms. */
  maxDelayMs: number;
  /** Randomize each delay by up to ±25 % (deterministic inside the workflow). */
  jitter: boolean;
  condition: RetryCondition;
}

/** A `pauseBefore` gate as data. */
export interface GateSpec {
  reason: string;
  /** Identities allowed to approve or reject; anyone when absent. */
  approvers?: string[];
  /** Distinct approvals needed. */
  requiredApprovals: number;
  /** Gate times out after this many ms of waiting (active time). */
  timeoutMs?: number;
  onTimeout?: 'approve' | 'reject' | 'fail';
}

/** One task of a {@link DagSpec}. */
export interface TaskSpec {
  id: string;
  dependencies: string[];
  retry: RetrySpec;
  /** Per-attempt time limit, ms (Temporal start-to-close timeout of the attempt). */
  timeoutMs: number;
  /** The runner heartbeats for the task; a silent worker is detected after this long. */
  heartbeatTimeoutMs: number;
  triggerRule: TriggerRule;
  pauseBefore?: GateSpec;
  uses: string[];
  onTaskFailure?: 'fail' | 'pause';
  /** Run each attempt as a local activity (absent: as an activity). */
  execution?: 'local';
}

/** A resource as data (its functions live on the worker). */
export interface ResourceSpec {
  id: string;
  releaseOnPause: boolean;
  /** Attempts and first back-off of each setup and teardown (the back-off doubles, up to 30 s). */
  retry: { attempts: number; delayMs: number };
}

/** Pause policy of a workflow. */
export interface PausePolicySpec {
  /** Bounds every pause of the run, ms. */
  maxPauseMs?: number;
  /** What happens when a pause outlives `maxPauseMs`. */
  onMaxPause?: 'resume' | 'fail' | 'cancel';
  /** How long an immediate pause waits for cancelled tasks to stop, ms. */
  drainTimeoutMs: number;
  onTaskFailure: 'fail' | 'pause';
  /** Check on every resume that the remaining tasks are still registered on the task queue's workers. */
  verifyTasksOnResume?: boolean;
}

/** The JSON form of a workflow definition: what starts a run. */
export interface DagSpec {
  name: string;
  description?: string;
  tasks: TaskSpec[];
  resources: ResourceSpec[];
  pausePolicy: PausePolicySpec;
  /** The definition declares a `validateResume` hook (run as an activity). */
  hasResumeValidator: boolean;
  /** Whole-run deadline in active (unpaused) time, ms. */
  deadlineMs?: number;
}

/**
 * Task states. `waiting`: held at its `pauseBefore` gate; `held`: exhausted its retries under
 * `onTaskFailure: 'pause'` and waits for resume (re-run) or skip.
 */
export const TaskState = {
  pending: 'pending',
  waiting: 'waiting',
  held: 'held',
  running: 'running',
  retrying: 'retrying',
  completed: 'completed',
  failed: 'failed',
  skipped: 'skipped',
} as const;
export type TaskState = (typeof TaskState)[keyof typeof TaskState];

/** The per-task record kept in workflow state and returned by status. */
export interface TaskRecord {
  state: TaskState;
  /** Attempts used (attempts cut off by an immediate pause do not count). */
  attempts: number;
  /** Attempts cut off by an immediate pause. */
  interrupted: number;
  startedAt?: string;
  finishedAt?: string;
  error?: { type: string; message: string };
  /** Why the task was skipped. */
  skipReason?: string;
}

/** A resource's setup state in workflow state. */
export interface ResourceRecord {
  state: 'absent' | 'ready' | 'released' | 'tornDown' | 'failed';
  handle?: JsonValue;
  setups: number;
  teardowns: number;
  error?: string;
}

/** Terminal task states: a task whose dependencies are all terminal is ready. */
export function isTerminal(state: TaskState): boolean {
  return state === 'completed' || state === 'failed' || state === 'skipped';
}

/** A problem found in a DAG: the code says what, the message says how to fix it. */
export interface DagProblem {
  code: 'empty' | 'duplicate' | 'unknownDependency' | 'cycle' | 'selfDependency' | 'unknownTriggerTask';
  message: string;
}

/** Levenshtein distance, for "did you mean" suggestions. */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

/** The known id nearest to `id`, if it is close enough to be a typo. */
export function nearest(id: string, known: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const k of known) {
    const d = editDistance(id, k);
    if (d < bestD) {
      bestD = d;
      best = k;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(id.length / 3)) ? best : undefined;
}

function triggerTasks(rule: TriggerRule, out: string[] = []): string[] {
  switch (rule.kind) {
    case 'taskSuccess':
    case 'taskFailed':
    case 'taskSkipped':
      out.push(rule.task);
      break;
    case 'all':
    case 'any':
    case 'none':
      for (const r of rule.rules) triggerTasks(r, out);
      break;
    default:
      break;
  }
  return out;
}

/** Validates a DAG: non-empty, unique ids, known dependencies, no cycles. Returns every problem found. */
export function validateDag(
  name: string,
  tasks: Pick<TaskSpec, 'id' | 'dependencies' | 'triggerRule'>[],
): DagProblem[] {
  const problems: DagProblem[] = [];
  if (tasks.length === 0) {
    problems.push({
      code: 'empty',
      message: `Workflow \`${name}\` has no tasks: pass at least one task in \`tasks\``,
    });
    return problems;
  }
  const ids = new Set<string>();
  for (const t of tasks) {
    if (ids.has(t.id)) {
      problems.push({
        code: 'duplicate',
        message: `Workflow \`${name}\` has two tasks with id \`${t.id}\`: task ids must be unique within a workflow`,
      });
    }
    ids.add(t.id);
  }
  for (const t of tasks) {
    for (const d of t.dependencies) {
      if (d === t.id) {
        problems.push({
          code: 'selfDependency',
          message: `Task \`${t.id}\` depends on itself: remove \`${d}\` from its dependencies`,
        });
      } else if (!ids.has(d)) {
        const hint = nearest(d, ids);
        problems.push({
          code: 'unknownDependency',
          message:
            `Task \`${t.id}\` depends on unknown task \`${d}\`` +
            (hint ? ` — did you mean \`${hint}\`?` : ` — add a task with that id to workflow \`${name}\``),
        });
      }
    }
    for (const ref of triggerTasks(t.triggerRule)) {
      if (!ids.has(ref)) {
        const hint = nearest(ref, ids);
        problems.push({
          code: 'unknownTriggerTask',
          message:
            `Task \`${t.id}\` has a trigger rule on unknown task \`${ref}\`` +
            (hint ? ` — did you mean \`${hint}\`?` : ''),
        });
      } else if (!t.dependencies.includes(ref)) {
        problems.push({
          code: 'unknownTriggerTask',
          message:
            `Task \`${t.id}\` has a trigger rule on \`${ref}\`, which is not one of its dependencies: ` +
            `add \`${ref}\` to its dependencies so its outcome is known when the rule is evaluated`,
        });
      }
    }
  }
  const cycle = findCycle(tasks);
  if (cycle) {
    problems.push({
      code: 'cycle',
      message: `Workflow \`${name}\` has a dependency cycle: ${cycle.map((c) => `\`${c}\``).join(' → ')}: remove one of these dependencies`,
    });
  }
  return problems;
}

/** Returns one cycle as a path that starts and ends on the same id, or undefined. */
export function findCycle(tasks: Pick<TaskSpec, 'id' | 'dependencies'>[]): string[] | undefined {
  const deps = new Map(tasks.map((t) => [t.id, t.dependencies.filter((d) => d !== t.id)]));
  const color = new Map<string, 0 | 1 | 2>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    color.set(id, 1);
    stack.push(id);
    for (const d of deps.get(id) ?? []) {
      if (!deps.has(d)) continue;
      const c = color.get(d) ?? 0;
      if (c === 1) {
        // The path from d's position to here, reversed into dependency → dependent order.
        const cyc = stack.slice(stack.indexOf(d));
        return [...cyc.reverse(), cyc[0]!];
      }
      if (c === 0) {
        const found = visit(d);
        if (found) return found;
      }
    }
    stack.pop();
    color.set(id, 2);
    return undefined;
  };
  for (const t of tasks) {
    if ((color.get(t.id) ?? 0) === 0) {
      const found = visit(t.id);
      if (found) return found;
    }
  }
  return undefined;
}

/** Ids of tasks in a topological order (dependencies first, ties by definition order). */
export function topologicalOrder(tasks: Pick<TaskSpec, 'id' | 'dependencies'>[]): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  while (order.length < tasks.length) {
    const before = order.length;
    for (const t of tasks) {
      if (!done.has(t.id) && t.dependencies.every((d) => done.has(d))) {
        done.add(t.id);
        order.push(t.id);
      }
    }
    if (order.length === before) throw new Error('topologicalOrder: the DAG has a cycle');
  }
  return order;
}

function isObject(v: JsonValue | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Structural equality of JSON values. */
export function jsonEqual(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === b) return true;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** Merges `b` into `a`: objects merge deeply, arrays concatenate without duplicates, other values last-wins. */
export function mergeValues(a: JsonValue | undefined, b: JsonValue): JsonValue {
  if (isObject(a) && isObject(b)) return mergeContexts([a, b]);
  if (Array.isArray(a) && Array.isArray(b)) {
    const out = [...a];
    for (const x of b) if (!out.some((y) => jsonEqual(x, y))) out.push(x);
    return out;
  }
  return b;
}

/** Largest context a task may receive or return, as JSON bytes (Temporal refuses payloads over 2 MiB). */
export const MAX_CONTEXT_BYTES = 1024 * 1024;

/** The server's default limit on one payload (`limit.blobSize.error`), bytes. */
export const PAYLOAD_LIMIT_BYTES = 2 * 1024 * 1024;

/**
 * The UTF-8 size of a value's JSON, as a payload would carry it (no Node: workflows count it themselves).
 * Lone surrogates count as the 3 bytes of U+FFFD they are encoded as.
 */
export function jsonBytes(value: unknown): number {
  const s = JSON.stringify(value) ?? '';
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      bytes += 1;
      continue;
    }
    bytes += 2;
    // A surrogate pair: 4 bytes for its 2 code units.
    const next = s.charCodeAt(i + 1);
    if (c >= 0xd800 && c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) i++;
  }
  return bytes;
}

/**
 * The longest prefix of `s` whose JSON is at most `maxBytes` bytes of UTF-8 (never splitting a surrogate
 * pair), for values the server holds to a byte limit (a search attribute's).
 */
export function clipJsonBytes(s: string, maxBytes: number): string {
  let bytes = 2;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    let size: number;
    let units = 1;
    if (c === 0x22 || c === 0x5c) size = 2;
    else if (c < 0x20) size = c === 0x08 || c === 0x09 || c === 0x0a || c === 0x0c || c === 0x0d ? 2 : 6;
    else if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c <= 0xdfff) {
      const next = s.charCodeAt(i + 1);
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        size = 4;
        units = 2;
      } else {
        // A lone surrogate: JSON escapes it as \uXXXX.
        size = 6;
      }
    } else size = 3;
    if (bytes + size > maxBytes) return s.slice(0, i);
    bytes += size;
    i += units - 1;
  }
  return s;
}

/** Merges contexts in order (later ones win on conflicting scalars). */
export function mergeContexts(contexts: JsonObject[]): JsonObject {
  const out: JsonObject = {};
  for (const c of contexts) {
    for (const [k, v] of Object.entries(c)) {
      // defineProperty, so a key named `__proto__` stays a key instead of replacing the prototype.
      const value = Object.prototype.hasOwnProperty.call(out, k) ? mergeValues(out[k], v) : v;
      Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true });
    }
  }
  return out;
}

/** Outcome of evaluating a trigger rule: run, or skip with the reason. */
export type TriggerOutcome = { run: true } | { run: false; reason: string };

/** Evaluates a trigger rule against dependency states and the task's input context. */
export function evaluateTrigger(
  rule: TriggerRule,
  states: Record<string, TaskState | undefined>,
  context: JsonObject,
): boolean {
  switch (rule.kind) {
    case 'always':
      return true;
    case 'taskSuccess':
      return states[rule.task] === 'completed';
    case 'taskFailed':
      return states[rule.task] === 'failed';
    case 'taskSkipped':
      return states[rule.task] === 'skipped';
    case 'all':
      return rule.rules.every((r) => evaluateTrigger(r, states, context));
    case 'any':
      return rule.rules.some((r) => evaluateTrigger(r, states, context));
    case 'none':
      return !rule.rules.some((r) => evaluateTrigger(r, states, context));
    case 'contextValue':
      return compareContextValue(context, rule.key, rule.op, rule.value);
  }
}

/** Describes a trigger rule for skip reasons and docs. */
export function describeTrigger(rule: TriggerRule): string {
  switch (rule.kind) {
    case 'always':
      return 'always';
    case 'taskSuccess':
    case 'taskFailed':
    case 'taskSkipped':
      return `${rule.kind}(${rule.task})`;
    case 'contextValue':
      return `contextValue(${rule.key} ${rule.op}${rule.value === undefined ? '' : ' ' + JSON.stringify(rule.value)})`;
    default:
      return `${rule.kind}(${rule.rules.map(describeTrigger).join(', ')})`;
  }
}

function compareContextValue(
  ctx: JsonObject,
  key: string,
  op: ContextOperator,
  value: JsonValue | undefined,
): boolean {
  const present = Object.prototype.hasOwnProperty.call(ctx, key);
  const actual = ctx[key];
  switch (op) {
    case 'exists':
      return present;
    case 'notExists':
      return !present;
    case 'equals':
      return present && jsonEqual(actual, value);
    case 'notEquals':
      return !present || !jsonEqual(actual, value);
    case 'greaterThan':
      return typeof actual === 'number' && typeof value === 'number' && actual > value;
    case 'lessThan':
      return typeof actual === 'number' && typeof value === 'number' && actual < value;
    case 'contains':
      return containsValue(actual, value);
    case 'notContains':
      return present && !containsValue(actual, value);
  }
}

function containsValue(actual: JsonValue | undefined, value: JsonValue | undefined): boolean {
  if (typeof actual === 'string') return typeof value === 'string' && actual.includes(value);
  if (Array.isArray(actual)) return actual.some((x) => jsonEqual(x, value));
  if (isObject(actual)) return typeof value === 'string' && value in actual;
  return false;
}

/** Messages that mark a failure as transient for `condition: 'transient'` (as Cloacina's TransientOnly). */
export const TRANSIENT_PATTERNS = [
  'timeout',
  'timed out',
  'connection',
  'network',
  'temporar',
  'unavailable',
  'econnreset',
  'econnrefused',
  'rate limit',
  'too many requests',
];

/** A failure as seen by retry decisions. */
export interface FailureInfo {
  type: string;
  message: string;
  nonRetryable: boolean;
}

/** Whether a failed attempt should be retried under `retry` (attempt = attempts used so far). */
export function shouldRetry(retry: RetrySpec, attempts: number, failure: FailureInfo): boolean {
  if (attempts >= retry.attempts || failure.nonRetryable) return false;
  const c = retry.condition;
  if (c === 'never') return false;
  if (c === 'all') return true;
  const msg = `${failure.type} ${failure.message}`.toLowerCase();
  if (c === 'transient') return failure.type === 'Timeout' || TRANSIENT_PATTERNS.some((p) => msg.includes(p));
  return c.some((p) => msg.includes(p.toLowerCase()));
}

/** Delay before the next attempt after `attempts` attempts, ms. `random` is in [0, 1). */
export function retryDelay(retry: RetrySpec, attempts: number, random: () => number): number {
  const n = Math.max(1, attempts);
  let d: number;
  switch (retry.backoff) {
    case 'fixed':
      d = retry.delayMs;
      break;
    case 'linear':
      d = retry.delayMs * n;
      break;
    case 'exponential':
      d = retry.delayMs * 2 ** (n - 1);
      break;
  }
  d = Math.min(d, retry.maxDelayMs);
  if (retry.jitter) d = d * (0.75 + random() * 0.5);
  return Math.max(0, Math.round(d));
}
