// The small workflow a pause window's Temporal Schedule starts at each fire: it works out when the window
// ends (the schedule's fire time plus the window's duration) and has an activity run the library's bulk
// pause over the window's visibility query with `resumeAt` set to that end. Deterministic; the activity
// (activities/pause-window.ts) does the work with the worker's client.
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import { log, proxyActivities, sleep, workflowInfo } from '@temporalio/workflow';

/** The Temporal workflow type a pause window's schedule starts. */
export const PAUSE_WINDOW_WORKFLOW_TYPE = 'cloacinaPauseWindow';
/** The activity that runs a window's bulk pause. */
export const PAUSE_WINDOW_ACTIVITY = 'cloacina.pauseWindowSweep';

/** A pause window's settings: the schedule's action arguments and, with more, its memo. */
export interface PauseWindowSettings {
  /** The window's id (its schedule id without the library's prefix). */
  id: string;
  /** Visibility query selecting the runs to pause (ANDed with this library's workflow type and open runs). */
  query: string;
  /** Cron expression of the window's start. */
  cron: string;
  /** IANA time zone the cron expression is read in (default UTC). */
  timezone?: string;
  /** How long the window lasts: the paused runs' `resumeAt` is the fire time plus this. */
  durationMs: number;
  reason: string;
  by: string;
  mode: 'graceful' | 'immediate';
  /**
   * Repeat the bulk pause this often while the window lasts, so that runs started during the window are
   * paused too (absent: once, at the opening).
   */
  sweepEveryMs?: number;
}

/** Input of the window's activity: one bulk pause. */
export interface PauseWindowSweepInput {
  windowId: string;
  query: string;
  reason: string;
  by: string;
  mode: 'graceful' | 'immediate';
  /** ISO instant: the window's end. */
  resumeAt: string;
  /** Names this fire's bulk operation, so a retried activity changes nothing twice. */
  bulkId: string;
}

/** One run's outcome, as the window keeps it. */
export interface PauseWindowOutcome {
  workflowId: string;
  ok: boolean;
  state?: string;
  duplicate?: boolean;
  error?: string;
  code?: string;
}

/** What the window's bulk pause did. */
export interface PauseWindowSweepResult {
  bulkId: string;
  /** The visibility query the bulk pause ran. */
  query: string;
  total: number;
  succeeded: number;
  failed: number;
  /** Runs this sweep paused (accepted, and not a repeat of an earlier sweep's request). */
  fresh: number;
  /** Outcomes, failures first, at most {@link MAX_KEPT_OUTCOMES}. */
  outcomes: PauseWindowOutcome[];
  /** Outcomes left out of `outcomes` to bound the result's size. */
  outcomesOmitted: number;
  /** Why the sweep paused nothing, when the window had ended before it ran. */
  skipped?: string;
}

/** Most outcomes a window's result keeps (a window may pause thousands of runs). */
export const MAX_KEPT_OUTCOMES = 200;

/** Result of one fire of a pause window. */
export interface PauseWindowResult {
  windowId: string;
  /** When the schedule fired (its scheduled time). */
  firedAt: string;
  /** The window's end: the paused runs' scheduled resume. */
  resumeAt: string;
  /** The bulk pause; absent when the window had already ended before the workflow ran. */
  sweep?: PauseWindowSweepResult;
  /** Why nothing was paused, when nothing was. */
  skipped?: string;
  /** Bulk pauses run (more than one with `sweepEveryMs`). */
  sweeps?: number;
  /** Runs paused by a later sweep (started during the window), at most {@link MAX_KEPT_OUTCOMES}. */
  pausedLater?: string[];
  pausedLaterCount?: number;
}

/** Set by Temporal on every workflow a schedule starts: the time the action was scheduled for. */
const TemporalScheduledStartTime = defineSearchAttributeKey(
  'TemporalScheduledStartTime',
  SearchAttributeType.DATETIME,
);

/** The workflow a pause window's schedule starts at each fire. */
export async function cloacinaPauseWindow(settings: PauseWindowSettings): Promise<PauseWindowResult> {
  const info = workflowInfo();
  const fired = info.typedSearchAttributes.get(TemporalScheduledStartTime) ?? info.runStartTime;
  const firedAt = fired.toISOString();
  const endMs = fired.getTime() + settings.durationMs;
  const resumeAt = new Date(endMs).toISOString();
  const left = endMs - Date.now();
  if (left <= 0) {
    // Started late (the server or the workers were down): the window is already over, pause nothing.
    const skipped = `the window ended at ${resumeAt}, before this fire ran`;
    log.warn('pause window skipped', { windowId: settings.id, firedAt, resumeAt });
    return { windowId: settings.id, firedAt, resumeAt, skipped };
  }
  const bulkId = `window:${settings.id}:${firedAt}`;
  const sweep = (): Promise<PauseWindowSweepResult> => {
    const { [PAUSE_WINDOW_ACTIVITY]: run } = proxyActivities<{
      [PAUSE_WINDOW_ACTIVITY]: (input: PauseWindowSweepInput) => Promise<PauseWindowSweepResult>;
    }>({
      // Retried until the window ends: pausing after it would hold runs past their own resume time.
      scheduleToCloseTimeout: Math.max(1000, endMs - Date.now()),
      startToCloseTimeout: '10 minutes',
      heartbeatTimeout: '30 seconds',
      retry: { initialInterval: '1 second', maximumInterval: '30 seconds' },
    });
    // The same bulk id every sweep: a run already paused (or resumed by hand since) is a duplicate
    // request and is left as it is; only runs not seen before are paused.
    return run({
      windowId: settings.id,
      query: settings.query,
      reason: settings.reason,
      by: settings.by,
      mode: settings.mode,
      resumeAt,
      bulkId,
    });
  };
  const first = await sweep();
  let sweeps = 1;
  const pausedLater: string[] = [];
  let pausedLaterCount = 0;
  const every = settings.sweepEveryMs;
  // Sweeps end one interval before the window does, so the workflow is done before the next opening.
  while (every !== undefined && Date.now() + every < endMs) {
    await sleep(every);
    const r = await sweep();
    sweeps++;
    pausedLaterCount += r.fresh;
    for (const o of r.outcomes)
      if (o.ok && !o.duplicate && pausedLater.length < MAX_KEPT_OUTCOMES) pausedLater.push(o.workflowId);
  }
  return {
    windowId: settings.id,
    firedAt,
    resumeAt,
    sweep: first,
    ...(every !== undefined ? { sweeps, pausedLater, pausedLaterCount } : {}),
  };
}
