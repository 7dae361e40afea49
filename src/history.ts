// Reads a run from its event history, with no worker: the whole audit trail across the continue-as-new
// chain (written by the workflow in its `CloacinaAudit` search attribute upserts, or as memo upserts),
// and the status and context of runs that ended without a result (cancelled: the final memo; terminated
// and timed out: rebuilt from the last run's input and events).
import type { Client } from '@temporalio/client';
import {
  decodeFromPayloadsAtIndex,
  decodeMapFromPayloads,
} from '@temporalio/common/lib/internal-non-workflow';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { DagFailureDetails, DagWorkflowInput } from '../workflows/dag-workflow';
import { mergeContexts, type JsonObject, type TaskRecord } from '../workflows/dag';
import type { WorkflowRunStatus as RunStatus } from '../workflows/messages';
import { currentPause, gateStatuses, type AuditEntry, type RunState } from '../workflows/pause-machine';
import { AUDIT_MEMO_KEY, FINAL_MEMO_KEY } from '../workflows/visibility';
import { CloacinaAudit } from '../workflows/search-attributes';
import { CloacinaError, WorkflowTaskFailingError } from './errors';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
const EventType = temporal.api.enums.v1.EventType;

/** One page of {@link readAudit}. */
export interface AuditPage {
  entries: AuditEntry[];
  /** Pass it back to read the next page; absent on the last page. */
  nextCursor?: string;
}

interface Cursor {
  runId: string;
  seq: number;
}

const encodeCursor = (c: Cursor) => Buffer.from(JSON.stringify(c)).toString('base64url');

function decodeCursor(cursor: string): Cursor | undefined {
  try {
    const c = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as Partial<Cursor>;
    if (typeof c.runId === 'string' && typeof c.seq === 'number' && Number.isInteger(c.seq))
      return c as Cursor;
  } catch {
    // fall through
  }
  return undefined;
}

/** Most events a history page asks for. */
const MAX_PAGE_EVENTS = 256;
/** Bytes a history page aims at, at most: a quarter of the 4 MiB a gRPC client receives by default. */
const PAGE_TARGET_BYTES = 1024 * 1024;
/** What a gRPC client receives in one response unless its `grpc.max_receive_message_length` says otherwise. */
const DEFAULT_RECEIVE_LIMIT = 4 * 1024 * 1024;
/**
 * How long a page may take. A response over the client's receive limit fails in the client, which then
 * retries it for about 40 s (RESOURCE_EXHAUSTED): past this, the page is asked again with fewer events.
 */
const PAGE_DEADLINE_MS = 5000;

/** The most one response may carry to this client (bytes): its `grpc.max_receive_message_length`. */
export function receiveLimit(client: Client): number {
  const options = (client.connection as { options?: { channelArgs?: Record<string, unknown> } }).options;
  const limit = options?.channelArgs?.['grpc.max_receive_message_length'];
  if (limit === -1) return Infinity; // gRPC's "no limit"
  return typeof limit === 'number' && limit > 0 ? limit : DEFAULT_RECEIVE_LIMIT;
}

/**
 * A run's history in pages (the latest run's, without `runId`), newest first with `reverse`. One event
 * may carry up to 2 MB (a signal's payload, even a refused one), more than a few of which a response
 * cannot hold: pages are sized from the run's average event size and the client's receive limit, and a
 * page that still cannot be received is asked again with fewer events, down to one. The server never
 * splits the events it wrote together (a workflow task's completion with the signals that arrived during
 * it), so a page of "one" may hold several: when even that cannot be received, a CloacinaError says so.
 */
export async function* historyPages(
  client: Client,
  workflowId: string,
  runId?: string,
  options: { reverse?: boolean } = {},
): AsyncGenerator<HistoryEvent[]> {
  const namespace = client.options.namespace;
  const execution = { workflowId, ...(runId ? { runId } : {}) };
  const d = await client.workflowService.describeWorkflowExecution({ namespace, execution });
  const info = d.workflowExecutionInfo;
  const length = Number(info?.historyLength ?? 0);
  const bytes = Number(info?.historySizeBytes ?? 0);
  const limit = receiveLimit(client);
  let size = pageEvents(length, bytes, Math.min(PAGE_TARGET_BYTES, limit / 4));
  let nextPageToken: Uint8Array | undefined;
  for (;;) {
    const request = { namespace, execution, maximumPageSize: size, nextPageToken };
    let res: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse;
    try {
      res = await historyPage(client, request, options.reverse);
    } catch (err) {
      if (!couldNotReceive(err)) throw err;
      // The same page again, with fewer events.
      if (size > 1) {
        size = Math.max(1, Math.floor(size / 8));
        continue;
      }
      throw unreceivable(
        `A page of workflow \`${workflowId}\`'s history could not be received even at one event a page ` +
          '(the server sends the events it wrote together, such as the signals that came during one ' +
          'workflow task, in one page)',
        limit,
        err,
      );
    }
    yield res.history?.events ?? [];
    if (!res.nextPageToken?.length) return;
    nextPageToken = res.nextPageToken;
  }
}

/** One page of a run's history, within {@link PAGE_DEADLINE_MS}. */
function historyPage(
  client: Client,
  request: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryRequest,
  reverse = false,
): Promise<temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse> {
  return client.connection.withDeadline(Date.now() + PAGE_DEADLINE_MS, () =>
    reverse
      ? client.workflowService.getWorkflowExecutionHistoryReverse(request)
      : client.workflowService.getWorkflowExecutionHistory(request),
  );
}

/**
 * A page the client could not receive: 8 RESOURCE_EXHAUSTED (over its receive limit), or 4
 * DEADLINE_EXCEEDED (the client retried that until the page's deadline).
 */
function couldNotReceive(err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code;
  return code === 8 || code === 4;
}

/** The error for a response over the client's receive limit (or retried until its deadline). */
function unreceivable(what: string, limit: number, err: unknown): CloacinaError {
  return new CloacinaError(
    `${what}: it is larger than this client receives (${limit} bytes) or took over ` +
      `${PAGE_DEADLINE_MS / 1000} s (${err instanceof Error ? err.message : String(err)}): connect with a ` +
      "larger `grpc.max_receive_message_length` in the Connection's channelArgs",
    { cause: err },
  );
}

/**
 * Events per history page for a run of `length` events and `bytes` bytes, aiming at `target` bytes a
 * page (see {@link historyPages}).
 */
export function pageEvents(length: number, bytes: number, target = PAGE_TARGET_BYTES): number {
  if (!(length > 0) || !(bytes > 0)) return MAX_PAGE_EVENTS;
  const perEvent = bytes / length;
  return Math.max(1, Math.min(MAX_PAGE_EVENTS, Math.floor(target / perEvent)));
}

/** The events of one run. */
async function events(client: Client, workflowId: string, runId: string): Promise<HistoryEvent[]> {
  const out: HistoryEvent[] = [];
  for await (const page of historyPages(client, workflowId, runId)) out.push(...page);
  return out;
}

async function memoValue(client: Client, e: HistoryEvent, key: string): Promise<unknown> {
  const fields = e.workflowPropertiesModifiedEventAttributes?.upsertedMemo?.fields;
  if (!fields || !(key in fields)) return undefined;
  const decoded = await decodeMapFromPayloads(client.options.loadedDataConverter, { [key]: fields[key]! });
  return decoded?.[key];
}

/**
 * The audit lines an event wrote: a `CloacinaAudit` search attribute upsert or an audit memo upsert;
 * undefined for any other event (or a value that is not a list of lines).
 */
async function auditBatch(client: Client, e: HistoryEvent): Promise<AuditEntry[] | undefined> {
  let batch: unknown;
  if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_PROPERTIES_MODIFIED) {
    batch = await memoValue(client, e, AUDIT_MEMO_KEY);
  } else if (e.eventType === EventType.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES) {
    const payload =
      e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.[CloacinaAudit.name];
    if (!payload) return undefined;
    // Search attribute payloads are always the default converter's JSON (no codec applies to them): a
    // string that holds the lines' JSON.
    try {
      const text = defaultPayloadConverter.fromPayload<unknown>(payload);
      if (typeof text === 'string') batch = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  return Array.isArray(batch) ? (batch as AuditEntry[]) : undefined;
}

/** The run this run continued from (continue-as-new), read from its first event; undefined for the first. */
async function previousRunId(client: Client, workflowId: string, runId: string): Promise<string | undefined> {
  // The first page: the run's start event, whose input (the state carried into a continued run) may be
  // megabytes.
  const request = {
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    maximumPageSize: 1,
  };
  let res: temporal.api.workflowservice.v1.IGetWorkflowExecutionHistoryResponse;
  try {
    res = await historyPage(client, request);
  } catch (err) {
    if (!couldNotReceive(err)) throw err;
    throw unreceivable(
      `The start of run \`${runId}\` of workflow \`${workflowId}\` (its input, with the state carried into it) could not be received`,
      receiveLimit(client),
      err,
    );
  }
  const started = res.history?.events?.[0]?.workflowExecutionStartedEventAttributes;
  return started?.continuedExecutionRunId || undefined;
}

/**
 * The runs of the latest run's chain, first to latest, walked back from the latest run through each
 * run's `continuedExecutionRunId`. Walking back, not forward from the first run, follows a reset: the
 * run a reset made starts with its base run's first event, so it takes the base run's place in the
 * chain, and the run the reset ended (its history stops at the terminate) is left out.
 */
async function chainRunIds(client: Client, workflowId: string): Promise<string[]> {
  const latest = (await client.workflow.getHandle(workflowId).describe()).runId;
  const runs = [latest];
  for (let run = await previousRunId(client, workflowId, latest); run;) {
    runs.unshift(run);
    run = await previousRunId(client, workflowId, run);
  }
  return runs;
}

/**
 * The run's whole audit trail, oldest first, read from the event history of every run of its
 * continue-as-new chain; pages of `pageSize` lines, continued with `cursor`.
 */
export async function readAudit(
  client: Client,
  workflowId: string,
  options: { pageSize?: number; cursor?: string } = {},
): Promise<AuditPage> {
  const pageSize = options.pageSize ?? 1000;
  const from = options.cursor !== undefined ? decodeCursor(options.cursor) : undefined;
  if (options.cursor !== undefined && !from) throw new Error('bad cursor');
  const runs = await chainRunIds(client, workflowId);
  // From the cursor's run; from the first when a reset has taken it out of the chain (lines up to the
  // cursor's sequence number are skipped either way).
  const start = from ? Math.max(0, runs.indexOf(from.runId)) : 0;
  let after = from?.seq ?? 0;
  const entries: AuditEntry[] = [];
  let found = false;
  for (const runId of runs.slice(start)) {
    const evs = await events(client, workflowId, runId);
    for (const e of evs) {
      const batch = await auditBatch(client, e);
      if (!batch) continue;
      found = true;
      for (const entry of batch) {
        if (entry.seq <= after) continue;
        if (entries.length === pageSize) return { entries, nextCursor: encodeCursor({ runId, seq: after }) };
        entries.push(entry);
        after = entry.seq;
      }
    }
  }
  if (!found && !from) {
    // A run begun by release 0.1.0 kept its whole trail in its state: read it from the final status.
    const legacy = await legacyAudit(client, workflowId);
    if (legacy) return { entries: legacy.slice(0, pageSize) };
  }
  return { entries };
}

async function legacyAudit(client: Client, workflowId: string): Promise<AuditEntry[] | undefined> {
  const read = await readClosed(client, workflowId).catch(() => undefined);
  return read?.status.audit;
}

/** Status and context of a closed run, from its result, failure, final memo or history. */
export interface ClosedRead {
  status: RunStatus;
  context: JsonObject;
}

/** The run state a closed run's Temporal status (as the SDK names it) gives. */
export const CLOSED_STATES: Partial<Record<string, RunState>> = {
  COMPLETED: 'completed',
  FAILED: 'failed',
  CANCELLED: 'cancelled',
  TERMINATED: 'terminated',
  TIMED_OUT: 'timedOut',
  CONTINUED_AS_NEW: 'running',
};

/**
 * The event that closed a run, read alone: a run's history may hold megabytes of payloads (more than one
 * response may carry), its close event at most one.
 */
async function closeEvent(
  client: Client,
  workflowId: string,
  runId: string,
): Promise<HistoryEvent | undefined> {
  const res = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId, runId },
    historyEventFilterType:
      temporal.api.enums.v1.HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
  });
  return res.history?.events?.at(-1) ?? undefined;
}

/** Reads a closed run (no worker needed); undefined while it is still running. */
export async function readClosed(client: Client, workflowId: string): Promise<ClosedRead | undefined> {
  const handle = client.workflow.getHandle(workflowId);
  const d = await handle.describe();
  if (d.status.name === 'RUNNING' || d.status.name === 'PAUSED') return undefined;
  const dc = client.options.loadedDataConverter;
  const closedAt = d.closeTime?.toISOString() ?? new Date().toISOString();
  // A completed run's result, and a failed run's details, hold its status and context: its close event
  // answers. The rest is rebuilt from the whole history.
  const close = await closeEvent(client, workflowId, d.runId);
  const closeDetails =
    close?.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.details;
  const completed = close?.workflowExecutionCompletedEventAttributes;
  let evs: HistoryEvent[] = [];
  let last = close;
  if (!completed && !((closeDetails?.payloads?.length ?? 0) > 1)) {
    evs = await events(client, workflowId, d.runId);
    last = evs[evs.length - 1];
  }
  if (last?.workflowExecutionCompletedEventAttributes) {
    const out = await decodeFromPayloadsAtIndex<{ context: JsonObject; status: RunStatus }>(
      dc,
      0,
      last.workflowExecutionCompletedEventAttributes.result?.payloads,
    );
    return { status: out.status, context: out.context };
  }
  const failure = last?.workflowExecutionFailedEventAttributes?.failure;
  const payloads = failure?.applicationFailureInfo?.details?.payloads;
  if (payloads?.length) {
    const status = await decodeFromPayloadsAtIndex<RunStatus>(dc, 0, payloads);
    const context =
      payloads.length > 1
        ? await decodeFromPayloadsAtIndex<DagFailureDetails[1]>(dc, 1, payloads)
        : (await rebuild(client, evs, 'failed', closedAt)).context;
    return { status, context };
  }
  if (last?.workflowExecutionCanceledEventAttributes) {
    for (let i = evs.length - 1; i >= 0; i--) {
      const final = (await memoValue(client, evs[i]!, FINAL_MEMO_KEY)) as
        { status: RunStatus; context?: JsonObject } | undefined;
      if (final) {
        const context = final.context ?? (await rebuild(client, evs, 'cancelled', closedAt)).context;
        return { status: final.status, context };
      }
    }
    return rebuild(client, evs, 'cancelled', closedAt);
  }
  const state = CLOSED_STATES[d.status.name] ?? 'failed';
  const read = await rebuild(client, evs, state, closedAt);
  const reason =
    last?.workflowExecutionTerminatedEventAttributes?.reason ||
    (last?.workflowExecutionTimedOutEventAttributes ? 'the run exceeded its workflow execution timeout' : '');
  read.status.error = {
    type: state === 'terminated' ? 'Terminated' : state === 'timedOut' ? 'TimedOut' : 'Failed',
    message: reason || `the run ended ${d.status.name.toLowerCase()}`,
  };
  return read;
}

/**
 * The last known status and context of an open run that cannot answer a query (paused on the server),
 * rebuilt from its history as for a terminated run: every task attempt's start and end, every audit line.
 * `state` is the run state to report; the caller fills in what the history cannot say.
 */
export async function readOpen(
  client: Client,
  workflowId: string,
  runId: string,
  state: RunState,
): Promise<ClosedRead> {
  const evs = await events(client, workflowId, runId);
  const read = await rebuild(client, evs, state, new Date().toISOString(), true);
  delete read.status.closedAt;
  return read;
}

/**
 * Rebuilds a run's last known status from its history: the state it started from (its input, which
 * carries the state of earlier runs), then every task attempt's start and end and every audit line since.
 */
async function rebuild(
  client: Client,
  evs: HistoryEvent[],
  state: RunState,
  closedAt: string,
  open = false,
): Promise<ClosedRead> {
  const dc = client.options.loadedDataConverter;
  const start = evs[0]?.workflowExecutionStartedEventAttributes;
  const input = await decodeFromPayloadsAtIndex<DagWorkflowInput>(dc, 0, start?.input?.payloads);
  const spec = input.spec;
  const carried = input.carried ?? undefined;
  const tasks: Record<string, TaskRecord> =
    carried?.tasks ??
    Object.fromEntries(spec.tasks.map((t) => [t.id, { state: 'pending', attempts: 0, interrupted: 0 }]));
  let context: JsonObject;
  let lastOutput: JsonObject | undefined;
  let audit: AuditEntry[];
  let auditCount: number;
  let pause;
  let gates;
  if (carried && 'version' in carried) {
    lastOutput = carried.lastCompleted !== undefined ? carried.outputs[carried.lastCompleted] : undefined;
    context = carried.context ?? lastOutput ?? input.context;
    audit = carried.pause.audit;
    auditCount = carried.pause.auditCount;
    pause = currentPause(carried.pause);
    gates = gateStatuses(carried.pause);
  } else if (carried) {
    context = mergeContexts([
      input.context,
      ...carried.completionOrder.map((id) => carried.outputs[id] ?? {}),
    ]);
    const lastId = carried.completionOrder[carried.completionOrder.length - 1];
    lastOutput = lastId !== undefined ? carried.outputs[lastId] : undefined;
    audit = carried.pause.audit;
    auditCount = carried.pause.audit.length;
    pause = null;
    gates = [] as ReturnType<typeof gateStatuses>;
  } else {
    context = input.context;
    audit = [];
    auditCount = 0;
    pause = null;
    gates = [] as ReturnType<typeof gateStatuses>;
  }
  // A completed attempt (an activity's result, or a local activity's marker): the task's output joins the context.
  const complete = async (
    rec: TaskRecord,
    at: string | undefined,
    payloads: Parameters<typeof decodeFromPayloadsAtIndex>[2],
  ) => {
    const out = await decodeFromPayloadsAtIndex<{ context: JsonObject }>(dc, 0, payloads);
    rec.state = 'completed';
    rec.finishedAt = at;
    delete rec.error;
    context = mergeContexts([context, out.context]);
    lastOutput = out.context;
  };
  const scheduled = new Map<number, string>();
  for (const e of evs) {
    const at = eventTime(e);
    const sched = e.activityTaskScheduledEventAttributes;
    if (sched && sched.activityType?.name === 'cloacina.runTask') {
      const arg = await decodeFromPayloadsAtIndex<{ taskId: string; attempt: number }>(
        dc,
        0,
        sched.input?.payloads,
      );
      scheduled.set(Number(e.eventId), arg.taskId);
      const rec = tasks[arg.taskId];
      if (rec) {
        rec.state = 'running';
        rec.attempts = arg.attempt;
        rec.startedAt ??= at;
      }
      continue;
    }
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName === LOCAL_ACTIVITY_MARKER && e.userMetadata?.summary) {
      // A local task's attempt: its task id is the attempt's summary, its result is in the marker.
      const id = await decodeFromPayloadsAtIndex<unknown>(dc, 0, [e.userMetadata.summary]);
      const rec = typeof id === 'string' && Object.hasOwn(tasks, id) ? tasks[id] : undefined;
      if (rec) {
        rec.attempts += 1;
        rec.startedAt ??= at;
        if (marker.failure) {
          rec.state = 'failed';
          rec.error = { type: 'ExecutionFailed', message: marker.failure.message ?? 'the attempt failed' };
        } else {
          await complete(rec, at, marker.details?.result?.payloads);
        }
      }
      continue;
    }
    const done = e.activityTaskCompletedEventAttributes;
    if (done) {
      const id = scheduled.get(Number(done.scheduledEventId));
      const rec = id !== undefined ? tasks[id] : undefined;
      if (rec) await complete(rec, at, done.result?.payloads);
      continue;
    }
    const failed = e.activityTaskFailedEventAttributes ?? e.activityTaskTimedOutEventAttributes;
    if (failed) {
      const id = scheduled.get(Number(failed.scheduledEventId));
      const rec = id !== undefined ? tasks[id] : undefined;
      if (rec) {
        rec.state = 'failed';
        rec.error = { type: 'ExecutionFailed', message: failed.failure?.message ?? 'the attempt failed' };
      }
      continue;
    }
    const batch = await auditBatch(client, e);
    if (batch) {
      for (const entry of batch)
        if (entry.seq > auditCount) {
          audit.push(entry);
          auditCount = entry.seq;
        }
    }
  }
  // A closed run's cut-off attempts go back to pending; an open run's are still in flight.
  if (!open) for (const rec of Object.values(tasks)) if (rec.state === 'running') rec.state = 'pending';
  const status: RunStatus = {
    workflow: spec.name,
    state,
    tasks,
    pause,
    gates,
    audit: audit.slice(-200),
    auditCount,
    resources: carried?.resources ?? {},
    startedAt: carried?.startedAt ?? eventTime(evs[0]) ?? closedAt,
    closedAt,
    activeMs: 0,
    continuedAsNew: carried?.continuedAsNew ?? 0,
  };
  return { status, context: lastOutput ?? context };
}

/** The marker the SDK records for a local activity's outcome. */
const LOCAL_ACTIVITY_MARKER = 'core_local_activity';

function eventTime(e: HistoryEvent | undefined): string | undefined {
  const t = e?.eventTime;
  if (!t) return undefined;
  return new Date(Number(t.seconds ?? 0) * 1000 + Math.floor((t.nanos ?? 0) / 1e6)).toISOString();
}

/** How many events a diagnosis of failing workflow tasks reads back at most. */
const DIAGNOSIS_EVENTS = 20_000;

/**
 * Why a run's workflow tasks fail, from its events read newest first: the newest `WorkflowTaskFailed` with
 * no completed workflow task after it, or else `hint` (a query's failure, which writes no event) when it is
 * a nondeterminism error. For a failure that names an event (`[TMPRL1100] … HistoryEvent(id: N, …)`), also
 * the last completed workflow task before event N, where a reset starts the run again.
 */
export class FailingTasksScan {
  #failure: string | undefined;
  #settled = false; // a completed workflow task came after any failure: the tasks do not fail
  #eventId: number | undefined;
  #resetEventId: number | undefined;

  constructor(private readonly hint?: string) {}

  /** Takes the next events, newest first; true once older events cannot change the answer. */
  feed(events: readonly HistoryEvent[]): boolean {
    for (const e of events) {
      if (this.#failure === undefined && !this.#settled) {
        if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED) {
          this.#failure = e.workflowTaskFailedEventAttributes?.failure?.message || 'no message';
          this.#eventId = namedEvent(this.#failure);
        } else if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED) {
          this.#settled = true;
          if (this.hint && isNondeterminism(this.hint)) {
            this.#failure = this.hint;
            this.#eventId = namedEvent(this.hint);
          }
        }
      }
      if (this.#eventId === undefined || this.#resetEventId !== undefined) continue;
      if (e.eventType === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED && Number(e.eventId) < this.#eventId)
        this.#resetEventId = Number(e.eventId);
    }
    if (this.#failure !== undefined) return this.#eventId === undefined || this.#resetEventId !== undefined;
    return this.#settled;
  }

  /** The failure and its events, once fed; undefined when nothing says the workflow tasks fail. */
  result(): { failure: string; eventId?: number; resetEventId?: number } | undefined {
    const failure = this.#failure ?? (this.hint && isNondeterminism(this.hint) ? this.hint : undefined);
    if (failure === undefined) return undefined;
    const eventId = this.#eventId ?? namedEvent(failure);
    return {
      failure,
      ...(eventId !== undefined ? { eventId } : {}),
      ...(this.#resetEventId !== undefined ? { resetEventId: this.#resetEventId } : {}),
    };
  }
}

/**
 * Why the current run's workflow tasks fail, read back from the end of its history in pages (see
 * {@link FailingTasksScan}); undefined when nothing says they fail.
 */
export async function diagnoseFailingTasks(
  client: Client,
  workflowId: string,
  hint?: string,
  cause?: unknown,
): Promise<WorkflowTaskFailingError | undefined> {
  const scan = new FailingTasksScan(hint);
  let read = 0;
  for await (const events of historyPages(client, workflowId, undefined, { reverse: true })) {
    read += events.length;
    if (scan.feed(events) || read >= DIAGNOSIS_EVENTS) break;
  }
  const r = scan.result();
  if (!r) return undefined;
  return new WorkflowTaskFailingError(
    workflowId,
    r.failure,
    isNondeterminism(r.failure),
    r.eventId,
    r.resetEventId,
    { cause },
  );
}

/** A worker's failure for a history that does not replay with its code. */
export function isNondeterminism(message: string): boolean {
  return /\[TMPRL1100\]|nondeterminism/i.test(message);
}

/** The event a nondeterminism failure names (`HistoryEvent(id: 28, …)`). */
function namedEvent(message: string): number | undefined {
  const m = /HistoryEvent\(id: (\d+)/.exec(message);
  return m ? Number(m[1]) : undefined;
}
