// How activity failures read inside the workflow: the user's message, and the retry decision's view.
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { FailureInfo } from './dag';

/** What failed: an activity's failure is its ActivityFailure's cause; a local activity's comes bare. */
function attemptFailure(err: unknown): unknown {
  return err instanceof ActivityFailure ? err.cause : err;
}

export function isActivityTimeout(err: unknown): boolean {
  return attemptFailure(err) instanceof TimeoutFailure;
}

/** The user's message of a failure (an ActivityFailure is unwrapped to its cause). */
export function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && e.cause && (e as { name?: string }).name === 'ActivityFailure') e = e.cause;
  return e?.message ?? String(err);
}

export function toFailureInfo(err: unknown): FailureInfo {
  const cause = attemptFailure(err);
  if (cause instanceof TimeoutFailure) {
    const heartbeat = cause.timeoutType === 'HEARTBEAT';
    return {
      type: 'Timeout',
      message: heartbeat
        ? 'the task stopped heartbeating (its worker may have died)'
        : 'the task exceeded its timeout',
      nonRetryable: false,
    };
  }
  if (cause instanceof ApplicationFailure) {
    return {
      type: cause.type ?? 'ExecutionFailed',
      message: cause.message,
      nonRetryable: cause.nonRetryable ?? false,
    };
  }
  return { type: 'ExecutionFailed', message: failureMessage(err), nonRetryable: false };
}

/** The value under `key` in an activity failure's details (the last detail object that has it). */
export function carriedDetails(err: unknown, key: string): unknown {
  // An activity's failure is its ActivityFailure's cause; walk the chain to the first ApplicationFailure.
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++, e = e.cause) {
    if (!(e instanceof ApplicationFailure)) continue;
    const details: unknown[] = Array.isArray(e.details) ? e.details : [];
    for (let i = details.length - 1; i >= 0; i--) {
      const d = details[i];
      if (typeof d === 'object' && d !== null && key in d) return (d as Record<string, unknown>)[key];
    }
    return undefined;
  }
  return undefined;
}
