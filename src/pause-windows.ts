// Pause windows: a Temporal Schedule per window whose action starts the library's small
// `cloacinaPauseWindow` workflow on the executor's task queue; at each fire that workflow has an activity
// run the bulk pause (`pauseAll`) over the window's visibility query with `resumeAt` at the window's end,
// so the paused runs resume by themselves when the window closes. The executor's schedulePauseWindow,
// listPauseWindows, describePauseWindow and deletePauseWindow delegate here.
import { randomUUID } from 'node:crypto';
import {
  ScheduleAlreadyRunning,
  ScheduleNotFoundError,
  ScheduleOverlapPolicy,
  ServiceError,
  type ScheduleDescription,
  type ScheduleSummary,
} from '@temporalio/client';
import { msToNumber, type Duration } from '@temporalio/common';
import { nearest } from '../workflows/dag';
import { MAX_REASON_LENGTH } from '../workflows/messages';
import { PAUSE_MODES } from '../workflows/pause-machine';
import { PAUSE_WINDOW_WORKFLOW_TYPE, type PauseWindowSettings } from '../workflows/pause-window';
import { CloacinaError, InvalidInputError } from './errors';
import { buildPauseRequest, type UnifiedExecutor } from './executor';

/** Every pause window's schedule id starts with this; the rest is the window's id. */
export const PAUSE_WINDOW_PREFIX = 'cloacina-pause-window-';
/** The memo key holding a window's settings on its schedule. */
export const PAUSE_WINDOW_MEMO = 'cloacinaPauseWindow';
/** Longest pause window: 31 days (a window's runs stay paused at most this long per fire). */
export const MAX_WINDOW_MS = 31 * 24 * 3600 * 1000;
/** Shortest pause window: one second. */
export const MIN_WINDOW_MS = 1000;
/** Most bulk pauses one opening of a window runs with `sweepEvery` (bounds the workflow's history). */
export const MAX_SWEEPS = 1000;
/** Longest accepted visibility query of a window, in characters. */
export const MAX_WINDOW_QUERY_LENGTH = 4000;

/** Options of {@link UnifiedExecutor.schedulePauseWindow}. */
export interface PauseWindowOptions {
  /**
   * The window's id: letters, digits, `.`, `_`, `-`, at most 64.
   * @default a new random UUID
   */
  id?: string;
  /**
   * Visibility query selecting the runs to pause, as for `pauseAll` (e.g. `CloacinaWorkflow = 'etl'`);
   * ANDed with this library's workflow type and open runs.
   */
  query: string;
  /**
   * When the window opens: a cron expression (`minute hour day-of-month month day-of-week`, optionally with
   * seconds first and a year last, or `@daily`, `@hourly`, `@every 6h` ...), read in `timezone`.
   */
  cron: string;
  /** How long the window lasts (ms, or a string like `'8h'`): the runs resume at fire time + duration. */
  duration: Duration;
  /** Recorded on every pause the window makes. */
  reason: string;
  /**
   * Recorded as who paused.
   * @default `pause-window:<id>`
   */
  by?: string;
  /**
   * `graceful`: running tasks finish. `immediate`: running tasks are cancelled and re-run after.
   * @default 'graceful'
   */
  mode?: 'graceful' | 'immediate';
  /**
   * IANA time zone of the cron expression, e.g. `Europe/Berlin`.
   * @default UTC
   */
  timezone?: string;
  /**
   * Repeat the bulk pause this often while the window lasts (ms, or a string like `'5m'`), so that runs
   * started during the window are paused too; at most 1,000 sweeps per window.
   * @default none: once, at the opening
   */
  sweepEvery?: Duration;
}

/** A pause window as {@link UnifiedExecutor.listPauseWindows} and `describePauseWindow` show it. */
export interface PauseWindow {
  id: string;
  /** The Temporal Schedule's id (`cloacina-pause-window-<id>`). */
  scheduleId: string;
  query: string;
  cron: string;
  /** IANA time zone of `cron` (absent: UTC). */
  timezone?: string;
  durationMs: number;
  /** How often the bulk pause repeats while the window lasts (absent: once, at the opening). */
  sweepEveryMs?: number;
  reason: string;
  by: string;
  mode: 'graceful' | 'immediate';
  /** Task queue the window's workflow runs on (a worker made by createWorker must poll it). */
  taskQueue?: string;
  createdBy?: string;
  createdAt?: string;
  /** The schedule is paused (with `temporal schedule toggle --pause`): the window does not open. */
  schedulePaused: boolean;
  /** The next times the window opens. */
  nextOpenings: Date[];
  /** Recent openings: when each was scheduled and the workflow that ran its bulk pause. */
  recentOpenings: { scheduledAt: Date; takenAt: Date; workflowId: string }[];
}

/** The memo a window's schedule carries. */
interface PauseWindowMemo extends PauseWindowSettings {
  version: 1;
  taskQueue: string;
  createdBy: string;
  createdAt: string;
}

/** No pause window with this id exists (or it was deleted). */
export class PauseWindowNotFoundError extends CloacinaError {
  override name = 'PauseWindowNotFoundError';
  constructor(
    readonly windowId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `No pause window \`${windowId}\` in this namespace (no schedule \`${PAUSE_WINDOW_PREFIX}${windowId}\`): ` +
        'check the id (listPauseWindows shows the windows)',
      options,
    );
  }
}

/** A pause window with this id already exists. */
export class PauseWindowExistsError extends CloacinaError {
  override name = 'PauseWindowExistsError';
  constructor(
    readonly windowId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `A pause window \`${windowId}\` already exists: pick another id, or deletePauseWindow('${windowId}') first`,
      options,
    );
  }
}

const OPTION_KEYS = [
  'id',
  'query',
  'cron',
  'duration',
  'reason',
  'by',
  'mode',
  'timezone',
  'sweepEvery',
] as const satisfies readonly (keyof PauseWindowOptions)[];

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** A value as messages show it. */
function shown(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 100 ? `${value.slice(0, 100)}…` : value);
  if (typeof value === 'number' || typeof value === 'bigint' || value === undefined) return String(value);
  if (typeof value === 'function') return 'a function';
  if (typeof value === 'symbol') return value.toString();
  try {
    return JSON.stringify(value)?.slice(0, 100) ?? typeof value;
  } catch {
    return 'a value JSON cannot show';
  }
}

function fail(message: string): never {
  throw new InvalidInputError(message);
}

// ---- cron expressions, checked before the server sees them ----

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: string[];
  /** The value of names[0]. */
  namesFrom?: number;
}

const SECOND: CronField = { name: 'second', min: 0, max: 59 };
const MINUTE: CronField = { name: 'minute', min: 0, max: 59 };
const HOUR: CronField = { name: 'hour', min: 0, max: 23 };
const DAY_OF_MONTH: CronField = { name: 'day of month', min: 1, max: 31 };
const MONTH: CronField = { name: 'month', min: 1, max: 12, names: MONTHS, namesFrom: 1 };
const DAY_OF_WEEK: CronField = { name: 'day of week', min: 0, max: 7, names: DAYS, namesFrom: 0 };
const YEAR: CronField = { name: 'year', min: 1970, max: 2199 };

const SHORTHANDS = ['@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly'];

/** Why `cron` is not a cron expression the schedule accepts, or undefined if it is. */
export function whyNotCron(cron: string): string | undefined {
  const text = cron.replace(/#.*$/, '').trim();
  if (/^(CRON_)?TZ=/i.test(text)) return 'give the time zone as the `timezone` option, not in the expression';
  if (text.startsWith('@')) {
    if (SHORTHANDS.includes(text.toLowerCase())) return undefined;
    if (/^@every\s+\d+[smhd](\/\d+[smhd])?$/i.test(text)) return undefined;
    return `\`${text.split(/\s/)[0]}\` is not one of ${SHORTHANDS.join(', ')} or \`@every <n><s|m|h|d>\``;
  }
  const parts = text.split(/\s+/).filter(Boolean);
  const layout =
    parts.length === 5
      ? [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK]
      : parts.length === 6
        ? [MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR]
        : parts.length === 7
          ? [SECOND, MINUTE, HOUR, DAY_OF_MONTH, MONTH, DAY_OF_WEEK, YEAR]
          : undefined;
  if (!layout)
    return `it has ${parts.length} field${parts.length === 1 ? '' : 's'}; a cron expression has 5 (minute hour day-of-month month day-of-week), 6 (and year) or 7 (second first)`;
  for (let i = 0; i < layout.length; i++) {
    const why = whyNotCronField(parts[i]!, layout[i]!);
    if (why) return why;
  }
  return undefined;
}

function cronValue(text: string, field: CronField): number | undefined {
  if (/^\d+$/.test(text)) return Number(text);
  const i = field.names?.indexOf(text.toUpperCase()) ?? -1;
  return i >= 0 ? i + (field.namesFrom ?? 0) : undefined;
}

function whyNotCronField(part: string, field: CronField): string | undefined {
  const range = `${field.min}-${field.max}${field.names ? ` or ${field.names[0]}-${field.names[field.names.length - 1]}` : ''}`;
  for (const item of part.split(',')) {
    const bad = `the ${field.name} field \`${part}\` is not valid: expected \`*\`, a value (${range}), a range \`a-b\` or a step \`*/n\`, separated by commas`;
    const m = /^(\*|\?|[A-Za-z0-9]+(?:-[A-Za-z0-9]+)?)(?:\/(\d+))?$/.exec(item);
    if (!m) return bad;
    const [, base, step] = m;
    if (step !== undefined && Number(step) < 1) return `the ${field.name} field \`${part}\` has a step of 0`;
    if (base === '*' || base === '?') continue;
    const [fromText, toText] = base!.split('-');
    const from = cronValue(fromText!, field);
    const to = toText === undefined ? from : cronValue(toText, field);
    if (from === undefined || to === undefined) return bad;
    for (const v of [from, to])
      if (v < field.min || v > field.max)
        return `the ${field.name} field \`${part}\` has ${v}, outside ${field.min}-${field.max}`;
    if (to < from) return `the ${field.name} field \`${part}\` has a range that runs backwards`;
  }
  return undefined;
}

/** Why `timezone` is not an IANA time zone name, or undefined if it is. */
function whyNotTimezone(timezone: string): string | undefined {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return undefined;
  } catch {
    return 'not an IANA time zone name like `UTC`, `Europe/Berlin` or `America/New_York`';
  }
}

/**
 * The settings a window's schedule carries, from {@link PauseWindowOptions}; every option checked here,
 * with no connection. Throws an InvalidInputError naming the value and the fix.
 */
export function buildPauseWindowSettings(options: PauseWindowOptions): PauseWindowSettings {
  if (typeof options !== 'object' || options === null || Array.isArray(options))
    fail(
      `Expected the options of schedulePauseWindow to be an object { ${OPTION_KEYS.join(', ')} }, got \`${shown(options)}\``,
    );
  for (const key of Object.keys(options)) {
    if ((OPTION_KEYS as readonly string[]).includes(key)) continue;
    const near = nearest(key.slice(0, 100), OPTION_KEYS);
    fail(
      `Unknown option \`${key.slice(0, 100)}\` of schedulePauseWindow: ${near ? `did you mean \`${near}\`?` : `the options are { ${OPTION_KEYS.join(', ')} }`}`,
    );
  }
  const id = options.id ?? randomUUID();
  if (typeof id !== 'string' || !ID_PATTERN.test(id))
    fail(
      `Expected \`id\` to be 1 to 64 letters, digits, \`.\`, \`_\` or \`-\` (starting with a letter or digit), got \`${shown(id)}\``,
    );
  const { query, cron, timezone } = options;
  if (typeof query !== 'string' || query.trim() === '')
    fail(
      `Expected \`query\` to be a non-empty visibility query like "CloacinaWorkflow = 'nightly_etl'", got \`${shown(query)}\`: a window pauses the runs it selects`,
    );
  if (query.length > MAX_WINDOW_QUERY_LENGTH)
    fail(`Expected \`query\` to be at most ${MAX_WINDOW_QUERY_LENGTH} characters, got ${query.length}`);
  if (typeof cron !== 'string' || cron.trim() === '')
    fail(
      `Expected \`cron\` to be a cron expression like '0 22 * * *' (22:00 every day), got \`${shown(cron)}\``,
    );
  const whyCron = whyNotCron(cron);
  if (whyCron)
    fail(
      `Expected \`cron\` to be a cron expression like '0 22 * * *' (22:00 every day), got \`${shown(cron)}\`: ${whyCron}`,
    );
  if (timezone !== undefined) {
    const whyTz = typeof timezone === 'string' ? whyNotTimezone(timezone) : 'not a string';
    if (whyTz) fail(`Expected \`timezone\` to be an IANA time zone, got \`${shown(timezone)}\`: ${whyTz}`);
  }
  let durationMs: number;
  try {
    durationMs =
      typeof options.duration === 'number' || typeof options.duration === 'string'
        ? msToNumber(options.duration)
        : NaN;
  } catch {
    durationMs = NaN;
  }
  if (!Number.isFinite(durationMs) || durationMs < MIN_WINDOW_MS || durationMs > MAX_WINDOW_MS)
    fail(
      `Expected \`duration\` to be from 1 second to 31 days (ms, or a string like '8h'), got \`${shown(options.duration)}\`` +
        (durationMs > MAX_WINDOW_MS
          ? ': for a longer hold pause the runs by hand (pauseAll) and resume them with resumeAll'
          : ': the window resumes its runs at fire time + duration'),
    );
  durationMs = Math.round(durationMs);
  let sweepEveryMs: number | undefined;
  if (options.sweepEvery !== undefined) {
    try {
      sweepEveryMs =
        typeof options.sweepEvery === 'number' || typeof options.sweepEvery === 'string'
          ? Math.round(msToNumber(options.sweepEvery))
          : NaN;
    } catch {
      sweepEveryMs = NaN;
    }
    const least = Math.max(MIN_WINDOW_MS, Math.ceil(durationMs / MAX_SWEEPS));
    if (!Number.isFinite(sweepEveryMs) || sweepEveryMs < least || sweepEveryMs >= durationMs)
      fail(
        `Expected \`sweepEvery\` to be from ${least} ms (at most ${MAX_SWEEPS} sweeps, and not under a second) to less than the window's \`duration\` (${durationMs} ms), got \`${shown(options.sweepEvery)}\`: it is how often the window pauses runs that started since its opening`,
      );
  }
  const { reason, mode } = options;
  if (typeof reason !== 'string' || reason.trim() === '')
    fail(
      `Expected \`reason\` to be a non-empty text (at most ${MAX_REASON_LENGTH} characters), got \`${shown(reason)}\`: it is recorded on every pause the window makes`,
    );
  if (mode !== undefined && !(PAUSE_MODES as readonly string[]).includes(mode))
    fail(`Expected \`mode\` to be one of ${PAUSE_MODES.join(', ')}, got \`${shown(mode)}\``);
  const by = options.by ?? `pause-window:${id}`;
  // The pause each run will get, checked now with the request schema (reason and `by` lengths).
  try {
    buildPauseRequest({ reason, by, mode, kind: 'bulk' }, by);
  } catch (err) {
    if (err instanceof InvalidInputError)
      fail(err.message.replace(/^Invalid pause options/, 'Invalid pause window options'));
    throw err;
  }
  return {
    id,
    query,
    cron: cron.trim(),
    ...(timezone !== undefined ? { timezone } : {}),
    durationMs,
    ...(sweepEveryMs !== undefined ? { sweepEveryMs } : {}),
    reason,
    by,
    mode: mode ?? 'graceful',
  };
}

/** The window id for a window id or its schedule id. */
function windowId(id: unknown): string {
  if (typeof id !== 'string' || id === '')
    fail(`Expected a pause window id (a string, as listPauseWindows shows), got \`${shown(id)}\``);
  return id.startsWith(PAUSE_WINDOW_PREFIX) ? id.slice(PAUSE_WINDOW_PREFIX.length) : id;
}

/** Creates the window's schedule; see {@link UnifiedExecutor.schedulePauseWindow}. */
export async function schedulePauseWindow(
  executor: UnifiedExecutor,
  taskQueue: string,
  options: PauseWindowOptions,
): Promise<PauseWindow> {
  const settings = buildPauseWindowSettings(options);
  // The query is run once now, so that a query the server cannot parse fails here and not at 22:00.
  try {
    await executor.listWorkflows({ query: settings.query, limit: 1 });
  } catch (err) {
    if (err instanceof ServiceError || (err instanceof CloacinaError && !(err instanceof InvalidInputError)))
      throw new InvalidInputError(
        `Expected \`query\` to be a visibility query the server accepts, got \`${shown(settings.query)}\`: ${err.message}`,
        { cause: err },
      );
    throw err;
  }
  const client = await executor.client();
  const scheduleId = `${PAUSE_WINDOW_PREFIX}${settings.id}`;
  const memo: PauseWindowMemo = {
    ...settings,
    version: 1,
    taskQueue,
    createdBy: executor.identity,
    createdAt: new Date().toISOString(),
  };
  try {
    await client.schedule.create({
      scheduleId,
      spec: {
        cronExpressions: [settings.cron],
        ...(settings.timezone ? { timezone: settings.timezone } : {}),
      },
      action: {
        type: 'startWorkflow',
        workflowType: PAUSE_WINDOW_WORKFLOW_TYPE,
        taskQueue,
        args: [settings],
        workflowId: scheduleId,
        staticSummary: `pause window ${settings.id}: ${settings.reason}`.slice(0, 200),
        // A fire that could not run before the window's end has nothing left to do.
        workflowExecutionTimeout: Math.max(settings.durationMs, 10_000),
      },
      policies: {
        // A fire never overlaps the one before (a bulk pause still listing or pausing).
        overlap: ScheduleOverlapPolicy.SKIP,
        // After an outage, a fire is still taken while its window lasts (the server's minimum is 10 s).
        catchupWindow: Math.max(settings.durationMs, 10_000),
      },
      memo: { [PAUSE_WINDOW_MEMO]: memo },
      state: { note: settings.reason.slice(0, 200) },
    });
  } catch (err) {
    if (err instanceof ScheduleAlreadyRunning) throw new PauseWindowExistsError(settings.id, { cause: err });
    if (err instanceof ServiceError && (err.cause as { code?: unknown } | undefined)?.code === 3)
      throw new InvalidInputError(
        `The server refused the pause window \`${settings.id}\` (cron \`${settings.cron}\`${settings.timezone ? `, timezone \`${settings.timezone}\`` : ''}): ${err.message}`,
        { cause: err },
      );
    throw err;
  }
  return describePauseWindow(executor, settings.id);
}

function fromMemo(
  scheduleId: string,
  memo: Record<string, unknown> | undefined,
): PauseWindowMemo | undefined {
  if (!scheduleId.startsWith(PAUSE_WINDOW_PREFIX)) return undefined;
  const m = memo?.[PAUSE_WINDOW_MEMO] as Partial<PauseWindowMemo> | undefined;
  if (!m || typeof m !== 'object' || m.version !== 1 || typeof m.query !== 'string') return undefined;
  return m as PauseWindowMemo;
}

function toWindow(
  scheduleId: string,
  m: PauseWindowMemo,
  s: Pick<ScheduleSummary, 'state' | 'info'>,
): PauseWindow {
  return {
    id: scheduleId.slice(PAUSE_WINDOW_PREFIX.length),
    scheduleId,
    query: m.query,
    cron: m.cron,
    ...(m.timezone ? { timezone: m.timezone } : {}),
    durationMs: m.durationMs,
    ...(m.sweepEveryMs !== undefined ? { sweepEveryMs: m.sweepEveryMs } : {}),
    reason: m.reason,
    by: m.by,
    mode: m.mode,
    taskQueue: m.taskQueue,
    createdBy: m.createdBy,
    createdAt: m.createdAt,
    schedulePaused: s.state.paused,
    nextOpenings: s.info.nextActionTimes,
    recentOpenings: s.info.recentActions.map((a) => ({
      scheduledAt: a.scheduledAt,
      takenAt: a.takenAt,
      workflowId: a.action.workflow.workflowId,
    })),
  };
}

/** Every pause window of the namespace (schedules with the library's prefix and memo). */
export async function listPauseWindows(executor: UnifiedExecutor): Promise<PauseWindow[]> {
  const client = await executor.client();
  const out: PauseWindow[] = [];
  for await (const s of client.schedule.list()) {
    const m = fromMemo(s.scheduleId, s.memo);
    if (m) out.push(toWindow(s.scheduleId, m, s));
  }
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** One pause window, read from its schedule (strongly consistent, unlike the list). */
export async function describePauseWindow(executor: UnifiedExecutor, id: string): Promise<PauseWindow> {
  const wid = windowId(id);
  const client = await executor.client();
  const scheduleId = `${PAUSE_WINDOW_PREFIX}${wid}`;
  let d: ScheduleDescription;
  try {
    d = await client.schedule.getHandle(scheduleId).describe();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new PauseWindowNotFoundError(wid, { cause: err });
    throw err;
  }
  const m = fromMemo(scheduleId, d.memo);
  if (!m) throw new PauseWindowNotFoundError(wid);
  return toWindow(scheduleId, m, d);
}

/**
 * Deletes a window's schedule: it opens no more. Runs it already paused keep their `resumeAt` and
 * resume at the window's end.
 */
export async function deletePauseWindow(executor: UnifiedExecutor, id: string): Promise<void> {
  const wid = windowId(id);
  // Only a schedule this library made is deleted.
  await describePauseWindow(executor, wid);
  const client = await executor.client();
  try {
    await client.schedule.getHandle(`${PAUSE_WINDOW_PREFIX}${wid}`).delete();
  } catch (err) {
    if (err instanceof ScheduleNotFoundError) throw new PauseWindowNotFoundError(wid, { cause: err });
    throw err;
  }
}
