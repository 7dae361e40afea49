// UnifiedExecutor: the client facade. Starts runs of the generic workflow, steers them with updates,
// reads them with queries and visibility, and turns Temporal errors into this library's typed errors.
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  Client,
  QueryRejectedError,
  ServiceError,
  WorkflowFailedError,
  WorkflowUpdateFailedError,
  type ConnectionOptions,
  type QueryDefinition,
  type WorkflowExecutionDescription,
  type WorkflowHandle,
} from '@temporalio/client';
import {
  ApplicationFailure,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError as TemporalNotFound,
} from '@temporalio/common';
import { z } from 'zod';
import type { DagWorkflowInput, DagWorkflowResult } from '../workflows/dag-workflow';
import { nearest, type JsonObject, type JsonValue } from '../workflows/dag';
import {
  approveUpdate,
  breakpointsUpdate,
  type BreakpointsResult,
  contextQuery,
  describeIssues,
  MAX_DURATION_MS,
  MAX_INSTANT,
  MAX_PATCH_BYTES,
  pauseUpdate,
  rejectUpdate,
  resumeUpdate,
  statusQuery,
  type ControlResult,
  type WorkflowRunStatus,
} from '../workflows/messages';
import { ApproveRequest, BreakpointsRequest, PauseRequest, RejectRequest, ResumeRequest } from './messages';
import { REFUSAL_CODES, RunState, type RefusalCode } from '../workflows/pause-machine';
import { CloacinaPaused, CloacinaState, CloacinaWorkflow } from '../workflows/search-attributes';
import { jsonDepthExceeds, MAX_CONTEXT_BYTES, MAX_JSON_DEPTH, whyNotJson } from './context';
import {
  diagnoseFailingTasks,
  isNondeterminism,
  readAudit,
  readClosed,
  readOpen,
  type AuditPage,
} from './history';
import * as windows from './pause-windows';
import * as bulk from './bulk';
import * as visibility from './visibility';
import type { BulkOptions, BulkResult } from './bulk';
import { missingSearchAttributes, type ListOptions, type WorkflowSummary } from './visibility';
import { connectClient, connectionOptionsFromEnv, DEFAULT_ADDRESS } from './connection';
import type { WorkflowDefinition } from './definitions';
import { optionalAttributesRegistered, staticDetails, staticSummary } from './start-metadata';
import {
  CloacinaError,
  FreezeError,
  grpcCode,
  InvalidInputError,
  NoWorkerError,
  RequestRejectedError,
  ResumeValidationError,
  WorkflowAlreadyStartedError,
  WorkflowClosedError,
  WorkflowExecutionError,
  WorkflowFrozenError,
  WorkflowNotFoundError,
  WorkflowTaskFailingError,
  unknownNamespace,
} from './errors';
import {
  FREEZE_REASON_PREFIX,
  frozenStatus,
  isNativelyPaused,
  nativePauseOf,
  workerPolls,
  type NativePause,
  type ReportedState,
  type RunStatus,
} from './native-pause';

export type { NativePause, ReportedState, RunStatus } from './native-pause';
export type { BulkOptions, BulkOutcome, BulkResult } from './bulk';
export type { ListOptions, WorkflowSummary } from './visibility';

/** The Temporal workflow type every run uses. */
export const WORKFLOW_TYPE = 'cloacinaDag';

/** Options of {@link UnifiedExecutor.connect}. */
export interface ExecutorOptions {
  /**
   * Frontend address. Without it, `connect` reads address, namespace, TLS and API key from the
   * environment as the `temporal` CLI does.
   * @default `TEMPORAL_ADDRESS`, else 127.0.0.1:7233
   */
  address?: string;
  /** @default `TEMPORAL_NAMESPACE` when no `address` is given, else `default` */
  namespace?: string;
  /** Task queue new runs are started on (required). */
  taskQueue: string;
  /**
   * Recorded as `by` when a request names no one, and the Temporal client's identity.
   * @default `cloacina@<host name>`
   */
  identity?: string;
  /**
   * Extra connection options (TLS, API key, metadata).
   * @default the environment's TLS and API key when no `address` is given, else none
   */
  connection?: Omit<ConnectionOptions, 'address'>;
}

/** Options of {@link UnifiedExecutor.execute} and {@link UnifiedExecutor.executeAsync}. */
export interface ExecuteOptions {
  /**
   * Workflow id.
   * @default `<workflow name>-<random UUID>`
   */
  workflowId?: string;
  /**
   * Task queue for this run.
   * @default the executor's `taskQueue`
   */
  taskQueue?: string;
}

/** Options of {@link UnifiedExecutor.pauseWorkflow}. */
export interface PauseOptions {
  /**
   * Why (audit, status, `CloacinaPauseReason`).
   * @default '' (no reason)
   */
  reason?: string;
  /**
   * Who pauses (audit, `CloacinaPausedBy`).
   * @default the executor's `identity`
   */
  by?: string;
  /**
   * `graceful`: running tasks finish. `immediate`: running tasks are cancelled and re-run after
   * resume. `freeze`: a graceful pause and, once no task attempt is in flight, the Temporal server's own
   * pause on top (nothing at all runs, not even a timer; the Web UI shows Paused). `resumeWorkflow`
   * undoes both.
   * @default 'graceful'
   */
  mode?: 'graceful' | 'immediate' | 'freeze';
  /**
   * `freeze` only: how long to wait for running tasks to finish before the server pause (ms).
   * @default 300000 (5 minutes)
   */
  freezeTimeout?: number;
  /**
   * Makes the request idempotent: a repeated id returns the first outcome.
   * @default none: every call is a new request
   */
  requestId?: string;
  /**
   * Scheduled resume (Date or ISO string).
   * @default none: the pause lasts until resumed
   */
  resumeAt?: Date | string;
  /**
   * The pause ends after this long (ms of pause), with `onExpiry`.
   * @default none
   */
  expiresAfter?: number;
  /**
   * What happens when `expiresAfter` passes; needs `expiresAfter`.
   * @default 'resume'
   */
  onExpiry?: 'resume' | 'fail' | 'cancel';
  /** @internal `bulk` for pauseAll. */
  kind?: 'manual' | 'bulk';
}

/** Options of {@link UnifiedExecutor.resumeWorkflow}. */
export interface ResumeOptions {
  /**
   * Who resumes (audit).
   * @default the executor's `identity`
   */
  by?: string;
  /**
   * Why (audit).
   * @default '' (no reason)
   */
  reason?: string;
  /**
   * Makes the request idempotent: a repeated id returns the first outcome.
   * @default none: every call is a new request
   */
  requestId?: string;
  /**
   * Skip the workflow's `validateResume` hook (recorded as forced).
   * @default false
   */
  force?: boolean;
  /**
   * Typed resume input, delivered to the next tasks as `resumeInput`.
   * @default none
   */
  input?: JsonValue;
  /**
   * Keys set in the context of every task not yet started.
   * @default none
   */
  contextPatch?: JsonObject;
  /**
   * Tasks held by a failure pause to skip instead of re-running.
   * @default [] (every held task runs again)
   */
  skip?: string[];
}

/** Options of {@link UnifiedExecutor.approve} and {@link UnifiedExecutor.reject}. */
export interface GateRequestOptions {
  /**
   * Who approves or rejects (checked against the gate's `approvers`; approvals count by distinct `by`).
   * @default the executor's `identity`
   */
  by?: string;
  /**
   * Recorded in the audit.
   * @default none
   */
  comment?: string;
  /**
   * Makes the request idempotent: a repeated id returns the first outcome.
   * @default none: every call is a new request
   */
  requestId?: string;
}

/** Options of {@link UnifiedExecutor.getStatus}. */
export interface StatusOptions {
  /**
   * Longest wait (ms) for the answer, e.g. for a worker to poll the run's task queue.
   * @default none: a query no worker answers fails after the worker check (NoWorkerError)
   */
  timeout?: number;
}

/** Options of {@link UnifiedExecutor.getAudit}. */
export interface AuditOptions {
  /**
   * Audit lines per page, 1 to 10,000.
   * @default 1000
   */
  pageSize?: number;
  /**
   * The `nextCursor` of the previous page.
   * @default none: the first page
   */
  cursor?: string;
}

/** Options of {@link UnifiedExecutor.waitUntil}. */
export interface WaitOptions {
  /**
   * Give up after this many ms.
   * @default 60000 (60 seconds)
   */
  timeout?: number;
  /**
   * Time between status reads (ms).
   * @default 100
   */
  interval?: number;
}

/** What {@link UnifiedExecutor.pauseWorkflow} returns: the update's answer, and the server's pause after a freeze. */
export interface PauseResult extends ControlResult {
  /** `mode: 'freeze'`: the server-native pause, as DescribeWorkflowExecution confirmed it. */
  frozen?: NativePause;
}

/** A started run. */
export interface ExecutionHandle {
  readonly workflowId: string;
  readonly runId: string;
  /** Waits for the run to end; a paused run keeps it waiting. Resolves to the final context. */
  result(): Promise<JsonObject>;
  status(): Promise<RunStatus>;
  context(): Promise<JsonObject>;
  /** One page of the whole audit trail; see {@link UnifiedExecutor.getAudit}. */
  audit(options?: AuditOptions): Promise<AuditPage>;
  pause(options?: PauseOptions): Promise<PauseResult>;
  resume(options?: ResumeOptions): Promise<ControlResult>;
  approve(taskId: string, options?: GateRequestOptions): Promise<ControlResult>;
  reject(taskId: string, options?: GateRequestOptions): Promise<ControlResult>;
  cancel(): Promise<void>;
  /** Waits until the run reaches `state` (or `predicate(status)` holds); see {@link UnifiedExecutor.waitUntil}. */
  waitUntil(
    condition: ReportedState | ((status: RunStatus) => boolean),
    options?: WaitOptions,
  ): Promise<RunStatus>;
}

function parseUrl(url: string): Partial<ExecutorOptions> {
  const u = new URL(url.includes('://') ? url : `temporal://${url}`);
  const namespace = u.pathname.replace(/^\//, '') || undefined;
  return {
    address: u.host,
    ...(namespace ? { namespace } : {}),
    ...(u.searchParams.get('taskQueue') ? { taskQueue: u.searchParams.get('taskQueue')! } : {}),
    ...(u.searchParams.get('identity') ? { identity: u.searchParams.get('identity')! } : {}),
  };
}

function check<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new InvalidInputError(`Invalid ${what}: ${describeIssues(parsed.error, value)}`);
  return parsed.data;
}

/** A value as messages show it: NaN and the infinities as themselves, strings quoted. */
function shown(value: unknown): string {
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (typeof value === 'function') return 'function';
  if (typeof value === 'symbol') return value.toString();
  try {
    return JSON.stringify(value).slice(0, 200);
  } catch {
    return 'a value JSON cannot show (circular or holding a bigint)';
  }
}

const RUN_STATES: readonly string[] = [...Object.values(RunState), 'frozen'];

/** Throws unless `value` is a run state; `field` names the option. */
export function checkRunState(field: string, value: unknown): void {
  if (typeof value !== 'string' || !RUN_STATES.includes(value))
    throw new InvalidInputError(
      `Expected \`${field}\` to be a run state (${RUN_STATES.join(', ')}), got \`${shown(value)}\``,
    );
}

/** Throws unless `value` is a finite number from `min` up; `field` names the option. */
export function checkNumber(field: string, value: unknown, what: string, min: number, integer = false): void {
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    value < min ||
    (integer && !Number.isInteger(value))
  )
    throw new InvalidInputError(`Expected \`${field}\` to be ${what}, got \`${shown(value)}\``);
}

const PAUSE_OPTION_KEYS = [
  'reason',
  'by',
  'mode',
  'requestId',
  'resumeAt',
  'expiresAfter',
  'onExpiry',
  'freezeTimeout',
  'kind',
] as const satisfies readonly (keyof PauseOptions)[];
const RESUME_OPTION_KEYS = [
  'by',
  'reason',
  'requestId',
  'force',
  'input',
  'contextPatch',
  'skip',
] as const satisfies readonly (keyof ResumeOptions)[];
/** Options of {@link UnifiedExecutor.setBreakpoints} and {@link UnifiedExecutor.clearBreakpoints}. */
export interface BreakpointOptions {
  /**
   * Who sets or clears them (audit).
   * @default the executor's `identity`
   */
  by?: string;
  /**
   * Makes the request idempotent: a repeated id returns the first outcome.
   * @default none: every call is a new request
   */
  requestId?: string;
}
const BREAKPOINT_OPTION_KEYS = ['by', 'requestId'] as const satisfies readonly (keyof BreakpointOptions)[];
const GATE_OPTION_KEYS = [
  'by',
  'comment',
  'requestId',
] as const satisfies readonly (keyof GateRequestOptions)[];

/**
 * Throws unless `options` (the options argument of `method`) is an object whose keys are all in `known`:
 * an unknown key would otherwise be dropped without a word (a misspelt `expiresAfter` pauses for ever).
 */
function checkOptions(method: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    throw new InvalidInputError(
      `Expected the options of ${method} to be an object { ${known.join(', ')} }, got \`${shown(options)}\``,
    );
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const near = key === 'expiresAfterMs' ? 'expiresAfter' : nearest(key.slice(0, 100), known);
    throw new InvalidInputError(
      `Unknown option \`${key.slice(0, 100)}\` of ${method}: ${near ? `did you mean \`${near}\`?` : `the options are { ${known.join(', ')} }`}`,
    );
  }
}

/** `resumeAt` as the ISO instant the pause request carries; a Date is checked before it is formatted. */
function resumeAtInstant(resumeAt: unknown): string | undefined {
  if (resumeAt === undefined) return undefined;
  const ms =
    resumeAt instanceof Date ? resumeAt.getTime() : typeof resumeAt === 'string' ? Date.parse(resumeAt) : NaN;
  if (Number.isNaN(ms))
    throw new InvalidInputError(
      `Expected \`resumeAt\` to be a valid Date or an ISO-8601 instant like 2030-01-01T02:00:00Z, got \`${shown(resumeAt)}\``,
    );
  if (ms >= Date.parse(MAX_INSTANT))
    throw new InvalidInputError(
      `Expected \`resumeAt\` to be before ${MAX_INSTANT}, got \`${shown(resumeAt)}\`: schedule the resume sooner, or pause without \`resumeAt\` and resume by hand`,
    );
  // A time already past would resume the run as soon as it paused: most likely a mistyped date, and a
  // pause that does not hold is worse at 3 a.m. than a refused one.
  if (ms <= Date.now())
    throw new InvalidInputError(
      `Expected \`resumeAt\` to be in the future, got \`${shown(resumeAt)}\` (it is ${new Date().toISOString()} by this machine's clock): give a later time, or pause without \`resumeAt\` and resume by hand`,
    );
  // A string keeps its own form: the request schema checks it is an ISO-8601 instant.
  return resumeAt instanceof Date ? resumeAt.toISOString() : (resumeAt as string);
}

const PAUSE_OPTION_MODES: readonly string[] = ['graceful', 'immediate', 'freeze'];

/** How long a call that needs a worker waits before it checks that one polls the run's task queue. */
const WORKER_CHECK_MS = 1000;
/** Then how often it checks again while it waits. */
const WORKER_RECHECK_MS = 5000;
/** A freeze: pause requests sent before giving up on seeing PAUSED, and how long to look after each. */
const FREEZE_ATTEMPTS = 3;
const FREEZE_VERIFY_MS = 3000;

/** Resolves after `ms`, or at once when `signal` aborts; never keeps the process alive. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, Math.max(0, ms));
    t.unref?.();
    function done() {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * The server's or a worker's word that the run's workflow tasks fail: a query answered with the replay's
 * error, or FAILED_PRECONDITION "… due to Workflow Task in failed state".
 */
function failingTasksSuspected(err: unknown): boolean {
  const text = errorText(err);
  return isNondeterminism(text) || text.includes('Workflow Task in failed state');
}

/** The words of an error and its causes, for matching the server's messages. */
function errorText(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err; e && parts.length < 5; e = (e as { cause?: unknown }).cause) {
    if (e instanceof Error) parts.push(e.message);
    const details = (e as { details?: unknown }).details;
    if (typeof details === 'string') parts.push(details);
    if (!(e instanceof Error)) break;
  }
  return parts.join(' | ');
}

/**
 * The request {@link UnifiedExecutor.pauseWorkflow} sends, `by` defaulting to `identity`. Every option is
 * checked here, with no connection, so a bad one fails before the client connects.
 */
export function buildPauseRequest(options: PauseOptions, identity: string): PauseRequest {
  checkOptions('pauseWorkflow', options, PAUSE_OPTION_KEYS);
  const { expiresAfter } = options;
  if (
    expiresAfter !== undefined &&
    (typeof expiresAfter !== 'number' ||
      !Number.isInteger(expiresAfter) ||
      expiresAfter < 1 ||
      expiresAfter > MAX_DURATION_MS)
  ) {
    throw new InvalidInputError(
      `Expected \`expiresAfter\` to be a whole number of ms from 1 to ${MAX_DURATION_MS} (ten years), got \`${shown(expiresAfter)}\``,
    );
  }
  if (options.onExpiry !== undefined && expiresAfter === undefined)
    throw new InvalidInputError(
      `\`onExpiry\` (\`${shown(options.onExpiry)}\`) applies when the pause expires: give \`expiresAfter\` (ms) too, or leave \`onExpiry\` out`,
    );
  if (options.mode !== undefined && !PAUSE_OPTION_MODES.includes(options.mode))
    throw new InvalidInputError(
      `Expected \`mode\` to be graceful, immediate or freeze, got \`${shown(options.mode)}\``,
    );
  if (options.freezeTimeout !== undefined) {
    checkNumber('freezeTimeout', options.freezeTimeout, 'a whole number of ms from 1 up', 1, true);
    if (options.mode !== 'freeze')
      throw new InvalidInputError(
        `\`freezeTimeout\` (\`${shown(options.freezeTimeout)}\`) applies to \`mode: 'freeze'\` only: add the mode, or leave \`freezeTimeout\` out`,
      );
  }
  const request = check(
    PauseRequest,
    {
      requestId: options.requestId,
      reason: options.reason,
      by: options.by ?? identity,
      // A freeze is this library's graceful pause with the server's pause on top: the workflow sees graceful.
      mode: options.mode === 'freeze' ? 'graceful' : options.mode,
      kind: options.kind,
      resumeAt: resumeAtInstant(options.resumeAt),
      expiresAfterMs: expiresAfter,
      onExpiry: options.onExpiry,
    },
    'pause options',
  );
  return strip(request);
}

/**
 * The request {@link UnifiedExecutor.resumeWorkflow} sends, `by` defaulting to `identity`. Every option is
 * checked here, with no connection, so a bad one fails before the client connects.
 */
export function buildResumeRequest(options: ResumeOptions, identity: string): ResumeRequest {
  checkOptions('resumeWorkflow', options, RESUME_OPTION_KEYS);
  // Before the schema, which walks JSON recursively: a deeply nested value is refused here by name
  // instead of overflowing the stack. The patch's keys become context keys; the input becomes the value
  // of the context key `resumeInput`, one level down.
  for (const [field, value, maxDepth] of [
    ['contextPatch', options.contextPatch, MAX_JSON_DEPTH],
    ['input', options.input, MAX_JSON_DEPTH - 1],
  ] as const) {
    const why = value === undefined ? undefined : whyNotJson(value, field, maxDepth);
    if (why) throw new InvalidInputError(`Invalid resume options: ${why}`);
  }
  for (const field of ['contextPatch', 'input'] as const) {
    const value = options[field];
    if (value === undefined) continue;
    const size = JSON.stringify(value).length;
    if (size > MAX_PATCH_BYTES)
      throw new InvalidInputError(
        `Invalid resume options: \`${field}\`: must be at most ${MAX_PATCH_BYTES} bytes of JSON, got ${size}`,
      );
  }
  const request = check(ResumeRequest, { ...options, by: options.by ?? identity }, 'resume options');
  // The schema rebuilds the objects it parses and skips `__proto__` keys (JSON.parse makes them ordinary
  // keys), so its output would lose them: the caller's values, checked above, are sent instead, copied so
  // that a later change by the caller cannot reach the request.
  if (options.contextPatch !== undefined) request.contextPatch = structuredClone(options.contextPatch);
  if (options.input !== undefined) request.input = structuredClone(options.input);
  return strip(request);
}

/** Runs Cloacina-style workflows on Temporal and pauses, resumes and inspects them. */
export class UnifiedExecutor {
  #client: Client | undefined;
  #connecting: Promise<Client> | undefined;
  #ownsConnection = false;
  readonly #options: ExecutorOptions;

  /**
   * `new UnifiedExecutor('temporal://127.0.0.1:7233/default?taskQueue=deploys')` connects lazily;
   * or pass a `Client` you already have.
   */
  constructor(target: string | Client, options: Partial<ExecutorOptions> = {}) {
    if (typeof target === 'string') {
      const merged = { ...parseUrl(target), ...options };
      if (!merged.taskQueue)
        throw new InvalidInputError(
          `Expected a task queue: add ?taskQueue=<name> to \`${target}\` or pass { taskQueue }`,
        );
      this.#options = merged as ExecutorOptions;
    } else {
      if (!options.taskQueue)
        throw new InvalidInputError('Expected `taskQueue` in the options when passing a Client');
      this.#options = options as ExecutorOptions;
      this.#client = target;
    }
  }

  /** Connects to Temporal and returns a ready executor. */
  static async connect(options: ExecutorOptions): Promise<UnifiedExecutor> {
    // With no address, the `temporal` CLI's environment variables say where and how to connect.
    const env = options.address === undefined ? connectionOptionsFromEnv() : undefined;
    const address = options.address ?? env!.address;
    const ex = new UnifiedExecutor(`temporal://${address}`, {
      ...options,
      address,
      namespace: options.namespace ?? env?.namespace,
      connection: options.connection ?? (env ? strip({ tls: env.tls, apiKey: env.apiKey }) : undefined),
    });
    await ex.client();
    return ex;
  }

  /** The identity recorded when a request names no one. */
  get identity(): string {
    return this.#options.identity ?? `cloacina@${hostname()}`;
  }

  /** The underlying Temporal client. */
  async client(): Promise<Client> {
    if (this.#client) return this.#client;
    this.#connecting ??= (async () => {
      const connection = await connectClient({
        ...this.#options.connection,
        address: this.#options.address ?? DEFAULT_ADDRESS,
      });
      this.#ownsConnection = true;
      this.#client = new Client({
        connection,
        namespace: this.#options.namespace ?? 'default',
        identity: this.identity,
      });
      return this.#client;
    })();
    // A failed attempt is not kept: the next call tries again.
    this.#connecting.catch(() => {
      this.#connecting = undefined;
    });
    return this.#connecting;
  }

  /** Closes the connection if this executor opened it. */
  async close(): Promise<void> {
    if (this.#client && this.#ownsConnection) await this.#client.connection.close();
  }

  /** Starts a run and waits for it to end (a paused run keeps waiting). Returns the final context. */
  async execute(
    workflow: WorkflowDefinition,
    input: JsonObject = {},
    options: ExecuteOptions = {},
  ): Promise<JsonObject> {
    const handle = await this.executeAsync(workflow, input, options);
    return handle.result();
  }

  /** Starts a run and returns its handle at once. */
  async executeAsync(
    workflow: WorkflowDefinition,
    input: JsonObject = {},
    options: ExecuteOptions = {},
  ): Promise<ExecutionHandle> {
    // Before the schema and JSON.stringify, which recurse: deep input is refused here, not by a stack overflow.
    const tooDeep = jsonDepthExceeds(input, MAX_JSON_DEPTH) ? whyNotJson(input, 'input') : undefined;
    if (tooDeep) throw new InvalidInputError(`Invalid input for workflow \`${workflow.name}\`: ${tooDeep}`);
    let context = input;
    if (workflow.input) {
      const parsed = workflow.input.safeParse(input);
      if (!parsed.success)
        throw new InvalidInputError(
          `Invalid input for workflow \`${workflow.name}\`: ${describeIssues(parsed.error, input)}`,
        );
      context = parsed.data as JsonObject;
    }
    if (typeof context !== 'object' || context === null || Array.isArray(context)) {
      throw new InvalidInputError(
        `Expected the input of \`${workflow.name}\` to be a JSON object, got ${Array.isArray(context) ? 'an array' : typeof context}`,
      );
    }
    const why = whyNotJson(context, 'input');
    if (why) throw new InvalidInputError(`Invalid input for workflow \`${workflow.name}\`: ${why}`);
    const bytes = Buffer.byteLength(JSON.stringify(context));
    if (bytes > MAX_CONTEXT_BYTES) {
      throw new InvalidInputError(
        `The input of \`${workflow.name}\` is ${bytes} bytes of JSON, over the limit of ${MAX_CONTEXT_BYTES} bytes: pass a reference to large data instead`,
      );
    }
    const client = await this.client();
    const workflowId = options.workflowId ?? `${workflow.name}-${randomUUID()}`;
    const optional = await optionalAttributesRegistered(client);
    const args: DagWorkflowInput = {
      spec: workflow.spec,
      context,
      ...(optional.lastRejection ? { lastRejectionAttribute: true } : {}),
      ...(optional.audit ? { auditAttribute: true } : {}),
    };
    let handle: WorkflowHandle & { firstExecutionRunId?: string };
    try {
      handle = await client.workflow.start(WORKFLOW_TYPE, {
        taskQueue: options.taskQueue ?? this.#options.taskQueue,
        workflowId,
        args: [args],
        typedSearchAttributes: [
          { key: CloacinaState, value: 'pending' },
          { key: CloacinaWorkflow, value: workflow.name },
          { key: CloacinaPaused, value: false },
        ],
        staticSummary: staticSummary(workflow.spec),
        staticDetails: staticDetails(workflow.spec),
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        throw new WorkflowAlreadyStartedError(
          `A run with workflow id \`${workflowId}\` is already running: pick another id or wait for it to end`,
          { cause: err },
        );
      }
      throw (
        missingSearchAttributes(err, client.options.namespace) ??
        unknownNamespace(err, client.options.namespace)
      );
    }
    return this.#handle(workflowId, handle.firstExecutionRunId ?? '');
  }

  /** A handle on an existing run. */
  getHandle(workflowId: string): ExecutionHandle {
    return this.#handle(workflowId, '');
  }

  #handle(workflowId: string, runId: string): ExecutionHandle {
    return {
      workflowId,
      runId,
      result: () => this.result(workflowId),
      status: () => this.getStatus(workflowId),
      context: () => this.getContext(workflowId),
      audit: (o) => this.getAudit(workflowId, o),
      pause: (o) => this.pauseWorkflow(workflowId, o),
      resume: (o) => this.resumeWorkflow(workflowId, o),
      approve: (taskId, o) => this.approve(workflowId, taskId, o),
      reject: (taskId, o) => this.reject(workflowId, taskId, o),
      cancel: () => this.cancelExecution(workflowId),
      waitUntil: (condition, o) => this.waitUntil(workflowId, condition, o),
    };
  }

  /** Waits for a run to end; resolves to its final context, or throws WorkflowExecutionError. */
  async result(workflowId: string): Promise<JsonObject> {
    const client = await this.client();
    try {
      // Checked once, after a second: a run no worker has ever taken would keep the caller waiting with
      // no word. A worker that goes away later does not end the wait (the run goes on when one is back).
      const out = (await this.#needsWorker(
        client,
        workflowId,
        'its result',
        () => client.workflow.getHandle(workflowId).result(),
        { once: true },
      )) as DagWorkflowResult;
      return out.context;
    } catch (err) {
      if (err instanceof CloacinaError) throw err;
      throw this.#mapResultError(workflowId, err);
    }
  }

  #mapResultError(workflowId: string, err: unknown): unknown {
    if (err instanceof TemporalNotFound) return new WorkflowNotFoundError(workflowId, { cause: err });
    const namespace = unknownNamespace(err);
    if (namespace !== err) return namespace;
    if (err instanceof WorkflowFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure) {
        const status = cause.details?.[0] as WorkflowRunStatus | undefined;
        return new WorkflowExecutionError(
          workflowId,
          cause.type ?? 'Failed',
          `Workflow \`${workflowId}\` ${status?.state ?? 'failed'}: ${cause.message}`,
          status,
          { cause: err },
        );
      }
      const what =
        cause?.name === 'CancelledFailure'
          ? 'was cancelled'
          : cause?.name === 'TerminatedFailure'
            ? 'was terminated'
            : 'failed';
      return new WorkflowExecutionError(
        workflowId,
        cause?.name ?? 'Failed',
        `Workflow \`${workflowId}\` ${what}${cause?.message ? `: ${cause.message}` : ''}`,
        undefined,
        { cause: err },
      );
    }
    return err;
  }

  /**
   * Pauses a run. Graceful by default; resolves once the workflow accepted it (state `pausing` or
   * `paused`). With `mode: 'freeze'`, resolves once the running tasks have finished and the Temporal
   * server reports the run PAUSED (`frozen` in the answer); a run the server already holds with a freeze
   * answers `duplicate: true`.
   */
  async pauseWorkflow(workflowId: string, options: PauseOptions = {}): Promise<PauseResult> {
    const request = buildPauseRequest(options, this.identity);
    if (options.mode !== 'freeze') return this.#update(workflowId, pauseUpdate, request);
    const deadline = Date.now() + (options.freezeTimeout ?? 300_000);
    let accepted: ControlResult;
    try {
      accepted = await this.#update(workflowId, pauseUpdate, request);
    } catch (err) {
      // Held by the server already: a freeze of ours is done; another native pause is left to its owner.
      if (err instanceof WorkflowFrozenError) {
        const st = await this.getStatus(workflowId);
        if (st.frozen?.freeze && st.lastState)
          return { state: st.lastState, pause: st.pause, duplicate: true, frozen: st.frozen };
      }
      throw err;
    }
    return this.#freeze(workflowId, request, accepted, deadline);
  }

  /** Waits for the graceful pause to drain, then puts the server's pause on and checks that it shows. */
  async #freeze(
    workflowId: string,
    request: PauseRequest,
    accepted: ControlResult,
    deadline: number,
  ): Promise<PauseResult> {
    const drained = (s: { state: ReportedState; pause: ControlResult['pause'] }) =>
      s.state === 'paused' && s.pause !== null && s.pause.kind !== 'gate' && s.pause.phase === 'paused';
    let held: { state: ReportedState; pause: ControlResult['pause'] } = accepted;
    if (!drained(accepted)) {
      try {
        held = await this.waitUntil(workflowId, drained, { timeout: Math.max(0, deadline - Date.now()) });
      } catch (err) {
        if (err instanceof NoWorkerError || err instanceof WorkflowClosedError) throw err;
        throw new FreezeError(
          workflowId,
          `Workflow \`${workflowId}\` is pausing (graceful: nothing new starts) but its running tasks had not ` +
            `finished within freezeTimeout, so the server's pause was not put on: ${errorText(err)}. Call ` +
            "pauseWorkflow with mode 'freeze' again once they have (status state `paused`), or give a longer freezeTimeout",
          { cause: err },
        );
      }
    }
    const client = await this.client();
    const handle = client.workflow.getHandle(workflowId);
    let seen = '';
    for (let attempt = 1; attempt <= FREEZE_ATTEMPTS; attempt++) {
      try {
        await client.workflowService.pauseWorkflowExecution({
          namespace: client.options.namespace,
          workflowId,
          identity: request.by ?? this.identity,
          reason: `${FREEZE_REASON_PREFIX}: ${request.reason ?? ''}`.slice(0, 1000),
          requestId: randomUUID(),
        });
      } catch (err) {
        if (err instanceof TemporalNotFound || grpcCode(err) === 5)
          throw new WorkflowNotFoundError(workflowId, { cause: err });
        throw new FreezeError(
          workflowId,
          `The Temporal server refused to pause workflow \`${workflowId}\` (${errorText(err)}): server-native ` +
            'pause needs Temporal Server 1.30 or later with the dynamic config `frontend.WorkflowPauseEnabled=true` ' +
            "(`npx cloacina-temporal dev-server` sets it). This library's graceful pause is in effect: nothing new starts",
          { cause: err },
        );
      }
      // The server may not show PAUSED at once, or may lose it to a workflow task that was in flight
      // (temporalio/temporal#10239: status back to RUNNING with the pause info left): look, and pause again.
      const until = Date.now() + FREEZE_VERIFY_MS;
      for (;;) {
        const d = await handle.describe();
        if (isNativelyPaused(d))
          return {
            state: held.state === 'frozen' ? 'paused' : held.state,
            pause: held.pause,
            duplicate: accepted.duplicate,
            frozen: nativePauseOf(d)!,
          };
        if (d.status.name !== 'RUNNING')
          throw new WorkflowClosedError(
            workflowId,
            `Workflow \`${workflowId}\` ${d.status.name.toLowerCase()} before it could be frozen`,
          );
        seen = `${d.status.name}${d.raw.workflowExtendedInfo?.pauseInfo ? ' with its pause info set' : ''}`;
        if (Date.now() > until) break;
        await sleep(100);
      }
    }
    throw new FreezeError(
      workflowId,
      `The Temporal server never reported workflow \`${workflowId}\` PAUSED after ${FREEZE_ATTEMPTS} pause ` +
        `requests, ${FREEZE_VERIFY_MS} ms apart (last seen: ${seen}); a workflow task in flight at the pause can undo ` +
        "it (temporalio/temporal#10239, fixed in later servers). This library's graceful pause is in effect " +
        "(nothing new starts): call pauseWorkflow with mode 'freeze' again, or resumeWorkflow",
    );
  }

  /**
   * Resumes a paused run after validation; rejects with ResumeValidationError if a check fails. A run the
   * Temporal server holds (native pause, or a freeze) is unpaused on the server first, then this library's
   * pause is resumed; a run under the server's pause only answers with its state after the unpause.
   * Once unpaused, such a run may end its pause by itself (an expiry or scheduled resume that came due
   * while the server held it) and even finish: the answer is then its state, not an error.
   */
  async resumeWorkflow(workflowId: string, options: ResumeOptions = {}): Promise<ControlResult> {
    const request = buildResumeRequest(options, this.identity);
    try {
      return await this.#update(workflowId, resumeUpdate, request);
    } catch (err) {
      if (!(err instanceof WorkflowFrozenError)) throw err;
      await this.#unpause(workflowId, request);
      // Once unpaused, the run also acts on what came due while the server held it (an expiry or a
      // scheduled resume): that can end the pause while this resume is being validated (Superseded), so
      // the resume is sent once more, as that refusal asks.
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.#update(workflowId, resumeUpdate, request);
        } catch (again) {
          if (again instanceof RequestRejectedError && again.code === 'Superseded' && attempt < 2) continue;
          // Held by the server alone, or its own pause ended by itself once unpaused: the run goes on
          // either way. It may even have finished its last tasks before this resume reached it.
          const wentOn =
            (again instanceof RequestRejectedError &&
              ['NotPaused', 'AlreadyResuming'].includes(again.code)) ||
            again instanceof WorkflowClosedError;
          if (!wentOn) throw again;
          const st = await this.getStatus(workflowId);
          return { state: st.state === 'frozen' ? 'running' : st.state, pause: st.pause, duplicate: false };
        }
      }
    }
  }

  /** Takes the server's own pause off a run; one that is no longer paused is fine. */
  async #unpause(workflowId: string, request: ResumeRequest): Promise<void> {
    const client = await this.client();
    try {
      await client.workflowService.unpauseWorkflowExecution({
        namespace: client.options.namespace,
        workflowId,
        identity: request.by ?? this.identity,
        reason: request.reason ?? '',
        requestId: randomUUID(),
      });
    } catch (err) {
      // FAILED_PRECONDITION: not paused (any more).
      if (grpcCode(err) === 9) return;
      throw err;
    }
  }

  /** Approves a waiting `pauseBefore` gate (approvals are counted by distinct identity). */
  async approve(
    workflowId: string,
    taskId: string,
    options: GateRequestOptions = {},
  ): Promise<ControlResult> {
    checkOptions('approve', options, GATE_OPTION_KEYS);
    const request = check(
      ApproveRequest,
      { taskId, by: options.by ?? this.identity, comment: options.comment, requestId: options.requestId },
      'approval',
    );
    return this.#update(workflowId, approveUpdate, strip(request));
  }

  /** Rejects a waiting `pauseBefore` gate: the gated task fails. */
  async reject(workflowId: string, taskId: string, options: GateRequestOptions = {}): Promise<ControlResult> {
    checkOptions('reject', options, GATE_OPTION_KEYS);
    const request = check(
      RejectRequest,
      { taskId, by: options.by ?? this.identity, comment: options.comment, requestId: options.requestId },
      'rejection',
    );
    return this.#update(workflowId, rejectUpdate, strip(request));
  }

  /**
   * Sets run-time breakpoints: each listed task, if it has not started yet, stops before its first
   * attempt at a gate anyone may approve (`approve(id, taskId)` steps past it, `reject` fails the task).
   * All or nothing: an unknown task, one that has started, or one with its own `pauseBefore` refuses the
   * request. Audited; idempotent by `requestId`.
   */
  async setBreakpoints(
    workflowId: string,
    taskIds: readonly string[],
    options: BreakpointOptions = {},
  ): Promise<BreakpointsResult> {
    checkOptions('setBreakpoints', options, BREAKPOINT_OPTION_KEYS);
    if (!Array.isArray(taskIds) || taskIds.length === 0)
      throw new InvalidInputError(
        `setBreakpoints: taskIds must be a non-empty array of task ids, got \`${shown(taskIds)}\``,
      );
    const request = check(
      BreakpointsRequest,
      {
        set: [...(taskIds as readonly string[])],
        by: options.by ?? this.identity,
        requestId: options.requestId,
      },
      'breakpoints',
    );
    return this.#update(workflowId, breakpointsUpdate, strip(request));
  }

  /**
   * Clears run-time breakpoints (all of them when `taskIds` is omitted). A task waiting at a cleared
   * breakpoint goes on (recorded as an approval by the caller).
   */
  async clearBreakpoints(
    workflowId: string,
    taskIds?: readonly string[],
    options: BreakpointOptions = {},
  ): Promise<BreakpointsResult> {
    checkOptions('clearBreakpoints', options, BREAKPOINT_OPTION_KEYS);
    if (taskIds !== undefined && !Array.isArray(taskIds))
      throw new InvalidInputError(
        `clearBreakpoints: taskIds must be an array of task ids (or omitted for all), got \`${shown(taskIds)}\``,
      );
    const request = check(
      BreakpointsRequest,
      {
        clear: taskIds ? [...(taskIds as readonly string[])] : true,
        by: options.by ?? this.identity,
        requestId: options.requestId,
      },
      'breakpoints',
    );
    return this.#update(workflowId, breakpointsUpdate, strip(request));
  }

  async #update<A, R extends ControlResult = ControlResult>(
    workflowId: string,
    def: import('@temporalio/client').UpdateDefinition<R, [A]>,
    arg: A,
  ): Promise<R> {
    const client = await this.client();
    const handle = client.workflow.getHandle(workflowId);
    try {
      return await this.#needsWorker(
        client,
        workflowId,
        `its \`${def.name}\` update`,
        () => handle.executeUpdate(def, { args: [arg] }),
        { requestId: (arg as { requestId?: string } | undefined)?.requestId },
      );
    } catch (err) {
      throw await this.#mapControlError(workflowId, handle, err);
    }
  }

  /**
   * Runs `call`, which a worker of the run's task queue must answer (a query or an update). If it has not
   * answered after a second, checks that a worker polls the queue (DescribeTaskQueue): with none, the call
   * is abandoned with {@link NoWorkerError} instead of waiting for one. With `deadline` (epoch ms), the
   * call is abandoned then too.
   */
  async #needsWorker<T>(
    client: Client,
    workflowId: string,
    what: string,
    call: () => Promise<T>,
    options: { deadline?: number; taskQueue?: string; requestId?: string; once?: boolean } = {},
  ): Promise<T> {
    const abort = new AbortController();
    type Settled = { ok: true; value: T } | { ok: false; error: unknown };
    const settled: Promise<Settled> = client.connection.withAbortSignal(abort.signal, call).then(
      (value) => ({ ok: true, value }),
      (error: unknown) => ({ ok: false, error }),
    );
    const { deadline } = options;
    let taskQueue = options.taskQueue;
    let next = Date.now() + Math.min(WORKER_CHECK_MS, deadline ? (deadline - Date.now()) / 2 : Infinity);
    let misses = 0;
    try {
      for (;;) {
        const wake = new AbortController();
        const r = await Promise.race([
          settled,
          sleep(Math.min(next, deadline ?? Infinity) - Date.now(), wake.signal).then(() => undefined),
        ]);
        wake.abort();
        if (r) {
          if (r.ok) return r.value;
          throw r.error;
        }
        let polled = true;
        let retried = false;
        try {
          await client.connection.withDeadline(Date.now() + 3000, async () => {
            const d = await client.workflow.getHandle(workflowId).describe();
            taskQueue ??= d.taskQueue;
            retried = (d.raw.pendingWorkflowTask?.attempt ?? 0) >= 2;
            polled = await workerPolls(client, taskQueue);
          });
        } catch {
          // Unknown: keep waiting for the call.
        }
        // A result waits longer before giving up: a worker started beside the call may take a few
        // seconds to poll on a busy machine.
        if (!polled && options.once && ++misses < 2) {
          next = Date.now() + WORKER_RECHECK_MS;
          continue;
        }
        if (!polled)
          throw new NoWorkerError(workflowId, taskQueue!, what, {
            update: / update$/.test(what),
            result: options.once,
            requestId: options.requestId,
          });
        // A workflow task that failed and is being retried: a history that does not replay never answers.
        if (retried) {
          const failing = await this.#failingTasks(workflowId);
          if (failing?.nondeterminism) throw failing;
        }
        if (deadline !== undefined && Date.now() >= deadline)
          throw new CloacinaError(
            `Workflow \`${workflowId}\` did not answer ${what} in time, though a worker polls its task queue ` +
              `\`${taskQueue}\`: the worker may be overloaded or not registered for this workflow; try again or give more time`,
          );
        if (options.once) {
          const r = await settled;
          if (r.ok) return r.value;
          throw r.error;
        }
        next = Date.now() + WORKER_RECHECK_MS;
      }
    } finally {
      abort.abort();
    }
  }

  /** Why the run's workflow tasks fail, from its history (see {@link diagnoseFailingTasks}); undefined if unknown. */
  async #failingTasks(workflowId: string, err?: unknown): Promise<WorkflowTaskFailingError | undefined> {
    try {
      const client = await this.client();
      return await client.connection.withDeadline(Date.now() + 10_000, () =>
        diagnoseFailingTasks(client, workflowId, err === undefined ? undefined : errorText(err), err),
      );
    } catch {
      return undefined;
    }
  }

  async #mapControlError(workflowId: string, handle: WorkflowHandle, err: unknown): Promise<unknown> {
    if (err instanceof CloacinaError) return err;
    const namespace = unknownNamespace(err);
    if (namespace !== err) return namespace;
    if (failingTasksSuspected(err)) {
      const failing = await this.#failingTasks(workflowId, err);
      if (failing) return failing;
    }
    // FAILED_PRECONDITION "Workflow is paused. Cannot update the workflow.": the server holds the run.
    if (err instanceof ServiceError && grpcCode(err) === 9) {
      const d = await handle.describe().catch(() => undefined);
      const native = d ? nativePauseOf(d) : undefined;
      if (d && native && isNativelyPaused(d))
        return new WorkflowFrozenError(workflowId, native.by, native.reason, undefined, { cause: err });
    }
    if (err instanceof TemporalNotFound) {
      // Either no such run, or it has closed: describe tells which.
      try {
        const d = await handle.describe();
        return new WorkflowClosedError(
          workflowId,
          `Workflow \`${workflowId}\` has already closed (${d.status.name}): it cannot be paused, resumed or approved`,
          { cause: err },
        );
      } catch {
        return new WorkflowNotFoundError(workflowId, { cause: err });
      }
    }
    if (err instanceof WorkflowUpdateFailedError) {
      const cause = err.cause;
      if (cause instanceof ApplicationFailure) {
        if (cause.type === 'WorkflowClosed')
          return new WorkflowClosedError(workflowId, cause.message, { cause: err });
        if (cause.type === 'ValidationRejected')
          return new ResumeValidationError(workflowId, cause.type, cause.message, { cause: err });
        return new RequestRejectedError(workflowId, refusalCode(cause.type), cause.message, { cause: err });
      }
      return new RequestRejectedError(workflowId, 'InvalidRequest', cause?.message ?? err.message, {
        cause: err,
      });
    }
    return err;
  }

  /**
   * State, tasks, current pause, gates, the newest audit lines and resources of a run. An open run
   * answers a query (a worker must poll its task queue); a closed run is read from its result, its
   * failure or its event history, with no worker.
   */
  async getStatus(workflowId: string, options: StatusOptions = {}): Promise<RunStatus> {
    if (options.timeout !== undefined)
      checkNumber('timeout', options.timeout, 'a finite number of ms from 0 up', 0);
    return this.#status(workflowId, options.timeout !== undefined ? Date.now() + options.timeout : undefined);
  }

  /**
   * Status of a run: closed, read from its history; held by the server (native pause), its last known
   * status from history, search attributes and describe (a query would be rejected); else the query.
   */
  async #status(workflowId: string, deadline?: number): Promise<RunStatus> {
    const client = await this.client();
    const d = await this.#describe(client, workflowId);
    if (d.status.name !== 'RUNNING' && d.status.name !== 'PAUSED') {
      const closed = await this.#readClosed(workflowId);
      if (closed) return closed.status;
    }
    const native = nativePauseOf(d);
    if (native && isNativelyPaused(d)) return frozenStatus(client, workflowId, d, native);
    try {
      const status: RunStatus = await this.#queryOpen(client, workflowId, statusQuery, {
        deadline,
        taskQueue: d.taskQueue,
      });
      // Pause info the server kept on a run it no longer holds (temporalio/temporal#10239).
      return native ? { ...status, frozen: native } : status;
    } catch (err) {
      // Paused on the server between the describe and the query.
      if (!(err instanceof QueryRejectedError)) throw err;
      const again = await this.#describe(client, workflowId);
      const now = nativePauseOf(again);
      if (now && isNativelyPaused(again)) return frozenStatus(client, workflowId, again, now);
      throw err;
    }
  }

  async #describe(client: Client, workflowId: string): Promise<WorkflowExecutionDescription> {
    try {
      return await client.workflow.getHandle(workflowId).describe();
    } catch (err) {
      if (err instanceof TemporalNotFound) throw new WorkflowNotFoundError(workflowId, { cause: err });
      throw unknownNamespace(err, client.options.namespace);
    }
  }

  /** Queries an open run; a query no worker answers in time says which task queue needs one. */
  async #queryOpen<T>(
    client: Client,
    workflowId: string,
    def: QueryDefinition<T>,
    options: { deadline?: number; taskQueue?: string } = {},
  ): Promise<T> {
    try {
      return await this.#needsWorker(
        client,
        workflowId,
        `its \`${def.name}\` query`,
        () => client.workflow.getHandle(workflowId).query(def),
        options,
      );
    } catch (err) {
      if (!(err instanceof CloacinaError) && failingTasksSuspected(err)) {
        const failing = await this.#failingTasks(workflowId, err);
        if (failing) throw failing;
      }
      if (!(err instanceof ServiceError) || (err.cause as { code?: unknown } | undefined)?.code !== 4)
        throw err;
      // DEADLINE_EXCEEDED: the caller's deadline, or the server's when no worker took the query.
      let queue: string | undefined;
      try {
        const d = await client.connection.withDeadline(Date.now() + 5000, () =>
          client.workflow.getHandle(workflowId).describe(),
        );
        queue = d.taskQueue;
      } catch {
        // The message goes without the queue's name.
      }
      throw new CloacinaError(
        `Workflow \`${workflowId}\` did not answer its \`${def.name}\` query in time: is a worker polling ` +
          `its task queue${queue ? ` \`${queue}\`` : ''}? Start one there (createWorker with this workflow's ` +
          'definitions); the audit trail (getAudit) reads with no worker',
        { cause: err },
      );
    }
  }

  async #readClosed(workflowId: string) {
    const client = await this.client();
    try {
      return await readClosed(client, workflowId);
    } catch (err) {
      if (err instanceof TemporalNotFound) throw new WorkflowNotFoundError(workflowId, { cause: err });
      throw err;
    }
  }

  /**
   * The run's whole audit trail, oldest first, read from its event history across every
   * continue-as-new (no worker needed). Pages of `pageSize` lines (default 1000): pass `nextCursor`
   * back as `cursor` until it is absent.
   */
  async getAudit(workflowId: string, options: AuditOptions = {}): Promise<AuditPage> {
    const pageSize = options.pageSize ?? 1000;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) {
      throw new InvalidInputError(
        `Expected \`pageSize\` to be an integer from 1 to 10000, got \`${shown(pageSize)}\``,
      );
    }
    const client = await this.client();
    try {
      return await readAudit(client, workflowId, { pageSize, cursor: options.cursor });
    } catch (err) {
      if (err instanceof TemporalNotFound) throw new WorkflowNotFoundError(workflowId, { cause: err });
      if (err instanceof Error && err.message === 'bad cursor')
        throw new InvalidInputError(
          `Expected \`cursor\` to be a \`nextCursor\` returned by getAudit, got \`${String(options.cursor).slice(0, 80)}\``,
        );
      throw err;
    }
  }

  /**
   * Polls a run's status until it reaches `state` (or `predicate(status)` holds) and returns that status;
   * rejects after `timeout` ms (default 60 s), or at once if the run closed in another state.
   */
  async waitUntil(
    workflowId: string,
    condition: ReportedState | ((status: RunStatus) => boolean),
    options: WaitOptions = {},
  ): Promise<RunStatus> {
    if (typeof condition === 'string') checkRunState('condition', condition);
    else if (typeof condition !== 'function')
      throw new InvalidInputError(
        `Expected the condition to be a run state like 'paused' or a function (status) => boolean, got \`${shown(condition)}\``,
      );
    const timeout = options.timeout ?? 60_000;
    const interval = options.interval ?? 100;
    checkNumber('timeout', timeout, 'a finite number of ms from 0 up', 0);
    checkNumber('interval', interval, 'a finite number of ms from 0 up', 0);
    const matches = typeof condition === 'string' ? (s: RunStatus) => s.state === condition : condition;
    const deadline = Date.now() + timeout;
    for (;;) {
      // Each read ends by the deadline too: with no worker polling, it fails within it (NoWorkerError).
      let status: RunStatus;
      try {
        status = await this.#status(workflowId, deadline);
      } catch (err) {
        if (!(err instanceof CloacinaError) || err instanceof NoWorkerError || Date.now() < deadline)
          throw err;
        throw new CloacinaError(
          `Timed out after ${timeout} ms waiting on workflow \`${workflowId}\`: ${err.message}`,
          { cause: err },
        );
      }
      if (matches(status)) return status;
      if (status.closedAt) {
        throw new WorkflowClosedError(
          workflowId,
          `Workflow \`${workflowId}\` ${status.state} before the awaited condition held`,
        );
      }
      if (Date.now() > deadline) {
        throw new CloacinaError(
          `Timed out after ${timeout} ms waiting on workflow \`${workflowId}\` (state ${status.state})`,
        );
      }
      await new Promise((r) => setTimeout(r, interval));
    }
  }

  /**
   * The run's context: the final one once ended (read from the history, no worker needed), else the
   * merge of the completed tasks' outputs (a query).
   */
  async getContext(workflowId: string): Promise<JsonObject> {
    const client = await this.client();
    const d = await this.#describe(client, workflowId);
    if (d.status.name !== 'RUNNING' && d.status.name !== 'PAUSED') {
      const closed = await this.#readClosed(workflowId);
      if (closed) return closed.context;
    }
    const native = nativePauseOf(d);
    if (native && isNativelyPaused(d)) {
      return (await readOpen(client, workflowId, d.runId, 'running')).context;
    }
    return this.#queryOpen(client, workflowId, contextQuery, { taskQueue: d.taskQueue });
  }

  /** Cancels a run: in-flight tasks are cancelled, resources torn down, state `cancelled`. */
  async cancelExecution(workflowId: string): Promise<void> {
    const client = await this.client();
    const handle = client.workflow.getHandle(workflowId);
    try {
      await handle.cancel();
    } catch (err) {
      throw await this.#mapControlError(workflowId, handle, err);
    }
  }

  /**
   * Pauses every open run selected by a visibility query or list filter (kind `bulk`), with bounded
   * concurrency; reports each workflow's outcome. Idempotent when re-run with the same `bulkId`.
   */
  pauseAll(selection: string | ListOptions, options: PauseOptions & BulkOptions = {}): Promise<BulkResult> {
    return bulk.pauseAll(this, selection, options);
  }

  /** Resumes every open run selected by a visibility query or list filter; reports each outcome. */
  resumeAll(selection: string | ListOptions, options: ResumeOptions & BulkOptions = {}): Promise<BulkResult> {
    return bulk.resumeAll(this, selection, options);
  }

  /** Lists runs through Temporal visibility, filtered by the Cloacina search attributes. */
  listWorkflows(options: ListOptions = {}): Promise<WorkflowSummary[]> {
    return visibility.listWorkflows(this, options);
  }

  /**
   * Schedules a recurring pause window (a Temporal Schedule): at each `cron` fire the runs `query` selects
   * are bulk-paused with `resumeAt` = fire time + `duration`. See docs/operations.md#pause-windows.
   */
  schedulePauseWindow(options: windows.PauseWindowOptions): Promise<windows.PauseWindow> {
    return windows.schedulePauseWindow(this, this.#options.taskQueue, options);
  }

  /** The pause windows of the namespace, with their settings and next openings. */
  listPauseWindows(): Promise<windows.PauseWindow[]> {
    return windows.listPauseWindows(this);
  }

  /** One pause window; throws PauseWindowNotFoundError if there is none with this id. */
  describePauseWindow(id: string): Promise<windows.PauseWindow> {
    return windows.describePauseWindow(this, id);
  }

  /** Deletes a pause window; runs it paused still resume at the window's end. */
  deletePauseWindow(id: string): Promise<void> {
    return windows.deletePauseWindow(this, id);
  }
}

/** Cloacina's current name for the executor. */
export { UnifiedExecutor as DefaultRunner };

function strip<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

/** A refusal's code as the workflow sent it; a validator's rejection (any other type) is `InvalidRequest`. */
function refusalCode(type: string | undefined | null): RefusalCode {
  return (REFUSAL_CODES as readonly string[]).includes(type ?? '') ? (type as RefusalCode) : 'InvalidRequest';
}
