// Signal, query and update definitions with their payload schemas, shared by the workflow, the executor,
// the CLI and tests. Signals and updates take the same plain-JSON payloads, so
// `temporal workflow signal --name cloacina.pause --input '{"reason":"...","by":"..."}'` works as well as
// the SDK's synchronous updates.
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { z } from 'zod';
import {
  EXPIRY_ACTIONS,
  PAUSE_MODES,
  REQUEST_PAUSE_KINDS,
  type AuditEntry,
  type CurrentPause,
  type GateStatus,
  type RunState,
} from './pause-machine';
import { threadShared } from './thread-shared';
import { nearest, type TaskRecord, type JsonObject, type ResourceRecord } from './dag';

/** Longest accepted pause/resume reason or approval comment, in characters. */
export const MAX_REASON_LENGTH = 1000;
/** Longest accepted identity (`by`) or request id, in characters. */
export const MAX_IDENTITY_LENGTH = 200;
/** Largest accepted context patch or resume input, as JSON bytes. */
export const MAX_PATCH_BYTES = 256 * 1024;

/**
 * Longest accepted duration (expiries, timeouts, `maxPause`, deadlines), ms: ten years. Every duration
 * that reaches the workflow is bounded so that a timer and a date can always represent it.
 */
export const MAX_DURATION_MS = 10 * 365 * 24 * 3600 * 1000;
/** Latest accepted instant (`resumeAt`). */
export const MAX_INSTANT = '2200-01-01T00:00:00Z';

const jsonSize = (max: number) => (v: unknown) => JSON.stringify(v ?? null).length <= max;

/** Deepest accepted nesting of JSON in a request (objects and arrays). */
export const MAX_JSON_DEPTH = 64;

/** Whether `value` nests deeper than `max` levels (iterative: never overflows the stack itself). */
export function jsonTooDeep(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  while (stack.length) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

/** The path of the first number JSON cannot hold (NaN, ±Infinity: `1e400` parses as Infinity), if any. */
function nonFinitePath(value: unknown): (string | number)[] | undefined {
  const stack: [unknown, (string | number)[]][] = [[value, []]];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'number' && !Number.isFinite(v)) return path;
    if (typeof v !== 'object' || v === null) continue;
    for (const [k, child] of Object.entries(v))
      stack.push([child, [...path, Array.isArray(v) ? Number(k) : k]]);
  }
  return undefined;
}

/** A value as refusal messages show it: short, NaN and the infinities as themselves, containers by kind. */
export function shownValue(value: unknown): string {
  if (typeof value === 'string')
    return value.length > 60
      ? `${JSON.stringify(value.slice(0, 60))}… (${value.length} characters)`
      : JSON.stringify(value);
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    return String(value);
  if (typeof value === 'symbol') return value.toString();
  return typeof value === 'function' ? 'a function' : 'undefined';
}

/**
 * A request payload: a JSON object with exactly these fields. An unknown field is refused with the
 * nearest known one (a misspelling) or the list of fields; a payload that is not an object, with the
 * fields it should have.
 */
function request<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  const fields = `{ ${known.join(', ')} }`;
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code === 'unrecognized_keys')
        return issue.keys
          .map((key) => {
            const near = nearest(key.slice(0, 100), known);
            return `unknown field \`${key.slice(0, 100)}\` — ${near ? `did you mean \`${near}\`?` : `the fields are ${fields}`}`;
          })
          .join('; ');
      if (issue.code === 'invalid_type')
        return `must be a JSON object ${fields}, got \`${shownValue(issue.input)}\``;
      return undefined;
    },
  });
}

/**
 * The request schemas, built once per workflow thread and shared by its runs (they hold no state of a run:
 * zod schemas never change once built, so one copy serves every run the thread has cached).
 */
function buildSchemas() {
  const identity = z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(MAX_IDENTITY_LENGTH, `must be at most ${MAX_IDENTITY_LENGTH} characters`);
  const reason = z.string().max(MAX_REASON_LENGTH, `must be at most ${MAX_REASON_LENGTH} characters`);
  const taskIds = z
    .array(z.string().min(1, 'must name a task').max(200, 'must be at most 200 characters'))
    .max(1000, 'must list at most 1000 tasks');
  /**
   * JSON of bounded depth and size: the depth is checked first, so a deep value never reaches zod's
   * recursion. A number JSON cannot hold is named by its path (the JSON schema would only say the value
   * is invalid).
   */
  const boundedJson = <S extends z.ZodType>(schema: S) =>
    z
      .unknown()
      .refine((v) => !jsonTooDeep(v), { message: `must nest at most ${MAX_JSON_DEPTH} levels`, abort: true })
      .refine(jsonSize(MAX_PATCH_BYTES), {
        message: `must be at most ${MAX_PATCH_BYTES} bytes of JSON`,
        abort: true,
      })
      .superRefine((v, ctx) => {
        const path = nonFinitePath(v);
        if (path)
          ctx.addIssue({
            code: 'custom',
            path,
            message:
              'must be a number JSON can hold (not NaN, nor beyond ±1.8e308): send a finite number, or a string',
          });
      })
      .pipe(schema);
  const isoInstant = z.iso
    .datetime({
      offset: true,
      message: 'must be an ISO-8601 instant like 2030-01-01T02:00:00Z',
    })
    .refine((v) => Date.parse(v) < Date.parse(MAX_INSTANT), `must be before ${MAX_INSTANT}`);
  return {
    PauseRequest: request({
      /** Makes the request idempotent: a repeated id returns the first outcome. */
      requestId: identity.optional(),
      reason: reason.optional(),
      /** Who asks (defaults to the client identity in the executor, `anonymous` for bare signals). */
      by: identity.optional(),
      mode: z.enum(PAUSE_MODES).optional(),
      /**
       * `task` is sent by `ctx.pauseWorkflow` only, with `by: 'task:<id>'` and the proof its attempt was given;
       * `bulk` by `pauseAll` only, with the request id `bulk:<bulkId>:<workflowId>`. Anyone else sends `manual`.
       */
      kind: z.enum(REQUEST_PAUSE_KINDS).optional(),
      /** For kind `task`: the proof the workflow gave the running attempt. */
      proof: z.string().max(100, 'must be at most 100 characters').optional(),
      /** Scheduled resume (maintenance windows). */
      resumeAt: isoInstant.optional(),
      /** The pause ends after this many milliseconds of pause, with `onExpiry`. */
      expiresAfterMs: z
        .number()
        .int()
        .positive()
        .max(MAX_DURATION_MS, `must be at most ${MAX_DURATION_MS} ms (ten years)`)
        .optional(),
      onExpiry: z.enum(EXPIRY_ACTIONS).optional(),
    }),
    ResumeRequest: request({
      requestId: identity.optional(),
      reason: reason.optional(),
      by: identity.optional(),
      /** Skip `validateResume` (recorded as forced). */
      force: z.boolean().optional(),
      /** Task ids held by a failure pause to mark skipped instead of re-running. */
      skip: z.array(z.string().min(1)).max(1000).optional(),
      /** Keys merged into the context of every task that has not started yet. */
      contextPatch: boundedJson(z.record(z.string(), z.json())).optional(),
      /** Typed resume input (checked against the workflow's resume schema), delivered as `resumeInput`. */
      input: boundedJson(z.json()).optional(),
    }),
    ApproveRequest: request({
      requestId: identity.optional(),
      taskId: z.string().min(1, 'must name the gated task'),
      by: identity,
      comment: reason.optional(),
    }),
    RejectRequest: request({
      requestId: identity.optional(),
      taskId: z.string().min(1, 'must name the gated task'),
      by: identity,
      comment: reason.optional(),
    }),
    BreakpointsRequest: request({
      requestId: identity.optional(),
      by: identity.optional(),
      set: taskIds.optional(),
      clear: z.union([taskIds, z.literal(true)]).optional(),
    }).refine((r) => r.set !== undefined || r.clear !== undefined, {
      message: 'give `set` (task ids to stop before) or `clear` (task ids, or true for all)',
    }),
  };
}
/** The request schemas, one per update and signal that carries a payload. */
export type RequestSchemas = ReturnType<typeof buildSchemas>;

/**
 * The request schemas: built on first use and then shared by every run on the workflow thread. They are
 * reached through this function rather than exported as values, because the worker freezes a preloaded
 * module's exports and a zod schema must stay extensible (it installs some fields on first use);
 * `cloacina-temporal/messages` exports them by name.
 */
export function requestSchemas(): RequestSchemas {
  return threadShared('cloacina-temporal/messages', buildSchemas);
}

/** Payload of the pause update and signal. */
export type PauseRequest = z.infer<RequestSchemas['PauseRequest']>;

/** Payload of the resume update and signal. */
export type ResumeRequest = z.infer<RequestSchemas['ResumeRequest']>;

/** Payload of the approve update and signal (a `pauseBefore` gate). */
export type ApproveRequest = z.infer<RequestSchemas['ApproveRequest']>;

/** Payload of the reject update and signal (a `pauseBefore` gate): the gated task fails. */
export type RejectRequest = z.infer<RequestSchemas['RejectRequest']>;

/**
 * Payload of the breakpoints update: stop before tasks that have not started yet (`set`), or no longer
 * (`clear`: a list, or `true` for all). A breakpoint is a gate anyone may approve; approving steps past it.
 */
export type BreakpointsRequest = z.infer<RequestSchemas['BreakpointsRequest']>;

/** What every accepted update returns. */
export interface ControlResult {
  /** The run state right after the request was applied. */
  state: RunState;
  /** The pause in effect afterwards, if any. */
  pause: CurrentPause | null;
  /** Whether the request id had been seen before (nothing was done again). */
  duplicate: boolean;
}

/** The answer of the breakpoints update. */
export interface BreakpointsResult extends ControlResult {
  /** Breakpoints still ahead (set, not yet stepped past). */
  breakpoints: string[];
  /** Breakpoints whose waiting gate the clear released. */
  released: string[];
}

/** The answer of {@link statusQuery}. */
export interface WorkflowRunStatus {
  workflow: string;
  state: RunState;
  tasks: Record<string, TaskRecord>;
  pause: CurrentPause | null;
  gates: GateStatus[];
  /** The newest audit lines (at most `AUDIT_TAIL`); `getAudit` reads the whole trail. */
  audit: AuditEntry[];
  /** Audit lines written over the run's life. */
  auditCount: number;
  resources: Record<string, ResourceRecord>;
  startedAt: string;
  closedAt?: string;
  /** Milliseconds the run has spent not paused (frozen clock). */
  activeMs: number;
  error?: { type: string; message: string };
  continuedAsNew: number;
  /**
   * Present while the run lets its in-flight attempts settle before continuing as new (Temporal
   * suggested it): no task starts meanwhile. Not a pause.
   */
  draining?: { reason: 'continueAsNew'; since: string };
  /** Run-time breakpoints still ahead (present when any is set). */
  breakpoints?: string[];
  /**
   * In a closed run's result (or failure details) that would not fit in one payload with every task's
   * record: how many records of completed tasks were left out of `tasks` (the others are all there).
   */
  omittedTasks?: number;
}

/** Pause the run (manual, task or bulk kind). */
export const pauseUpdate = defineUpdate<ControlResult, [PauseRequest]>('cloacina.pause');
/** Resume a paused run (or release unconstrained gates). */
export const resumeUpdate = defineUpdate<ControlResult, [ResumeRequest]>('cloacina.resume');
/** Approve a waiting `pauseBefore` gate. */
export const approveUpdate = defineUpdate<ControlResult, [ApproveRequest]>('cloacina.approve');
/** Reject a waiting `pauseBefore` gate: the gated task fails. */
export const rejectUpdate = defineUpdate<ControlResult, [RejectRequest]>('cloacina.reject');

/** Set or clear run-time breakpoints. */
export const breakpointsUpdate = defineUpdate<BreakpointsResult, [BreakpointsRequest]>(
  'cloacina.breakpoints',
);

/** Fire-and-forget forms of the updates, for `temporal workflow signal` and tctl. */
export const pauseSignal = defineSignal<[unknown]>('cloacina.pause');
export const resumeSignal = defineSignal<[unknown]>('cloacina.resume');
export const approveSignal = defineSignal<[unknown]>('cloacina.approve');
export const rejectSignal = defineSignal<[unknown]>('cloacina.reject');

/** The run's state, tasks, current pause, gates, audit trail and resources. */
export const statusQuery = defineQuery<WorkflowRunStatus>('cloacina.status');
/** The run's current context: the final one when done, else the merge of every completed task's output. */
export const contextQuery = defineQuery<JsonObject>('cloacina.context');

/**
 * Formats zod issues as one line naming each offending field; given the value that was checked, with
 * what each field held.
 */
export function describeIssues(error: z.ZodError, input: unknown = NOT_GIVEN): string {
  const byPath = new Map<string, { path: PropertyKey[]; messages: string[]; showValue: boolean }>();
  for (const i of error.issues) {
    const key = i.path.map(String).join('.');
    const entry = byPath.get(key) ?? { path: i.path, messages: [], showValue: false };
    entry.messages.push(i.message);
    // The object's own messages say what it held; every other issue is about the value at its path.
    entry.showValue ||= i.path.length > 0 && i.code !== 'unrecognized_keys';
    byPath.set(key, entry);
  }
  return [...byPath.values()]
    .map(({ path, messages, showValue }) => {
      const where = path.length ? `\`${path.map(String).join('.')}\`` : 'payload';
      const got = showValue && input !== NOT_GIVEN ? `, got \`${shownValue(valueAt(input, path))}\`` : '';
      return `${where}: ${messages.join('; ')}${got}`;
    })
    .join('; ');
}

const NOT_GIVEN = Symbol('not given');

function valueAt(value: unknown, path: PropertyKey[]): unknown {
  let v = value;
  for (const k of path) {
    if (typeof v !== 'object' || v === null) return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}
