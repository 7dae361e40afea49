// How activity failures read inside the workflow: the user's message, and the retry decision's view.
import { ActivityFailure, ApplicationFailure, TimeoutFailure } from '@temporalio/workflow';
import type { FailureInfo } from './dag';

export function isActivityTimeout(err: unknown): boolean {
  return err instanceof ActivityFailure && err.cause instanceof TimeoutFailure;
}

/** The user's message of a failure (an ActivityFailure is unwrapped to its cause). */
export function failureMessage(err: unknown): string {
  let e = err as { message?: string; cause?: unknown } | undefined;
  while (e && e.cause && (e as { name?: string }).name === 'ActivityFailure') e = e.cause;
  return e?.message ?? String(err);
}

export function toFailureInfo(err: unknown): FailureInfo {
  const cause = err instanceof ActivityFailure ? err.cause : undefined;
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
