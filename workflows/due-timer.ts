// The pause reducer's one timer, kept by the main loop: armed for the reducer's next due time (a scheduled
// resume, a pause's expiry, a gate's timeout, a retry back-off), re-armed only when that time changes.
// Due times live in the reducer's state, so continue-as-new restarts nothing.
import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';
import { nextDue } from './pause-machine';
import type { Run } from './run';

/**
 * Runs begun with release 0.7 keep the timer here, checked by the main loop after every change, instead
 * of a coroutine parked on a `condition()`: a run that waits for nothing holds no pending promise for it
 * (the SDK keeps a captured stack for each one, for as long as the run is cached).
 */
export class DueTimer {
  /** The due time the armed timer is for. */
  #due: number | undefined;
  #scope: CancellationScope | undefined;

  constructor(private readonly run: Run) {}

  /**
   * Arms, re-arms or cancels the timer to match the reducer's next due time. A due time already passed
   * (it came during a continue-as-new or a long workflow task) is fed now rather than through a timer the
   * server may fire up to a second late. True when it fed one: its decisions may let tasks start.
   */
  sync(): boolean {
    const run = this.run;
    let fed = false;
    for (;;) {
      const due = run.closedAt === undefined ? nextDue(run.pm) : undefined;
      if (due === this.#due) return fed;
      this.stop();
      if (due === undefined) return fed;
      if (due <= Date.now() && !fed) {
        run.feed({ type: 'timerFired', at: run.now() });
        fed = true;
        continue;
      }
      this.#arm(due);
      return fed;
    }
  }

  /** Cancels the armed timer, if any. */
  stop(): void {
    const scope = this.#scope;
    this.#scope = undefined;
    this.#due = undefined;
    scope?.cancel();
  }

  #arm(due: number): void {
    const run = this.run;
    const scope = new CancellationScope();
    this.#scope = scope;
    this.#due = due;
    scope
      .run(() => sleep(Math.max(1, due - Date.now())))
      .then(
        () => {
          if (this.#scope !== scope) return;
          this.#scope = undefined;
          this.#due = undefined;
          run.feed({ type: 'timerFired', at: run.now() });
        },
        (err: unknown) => {
          if (this.#scope === scope) {
            this.#scope = undefined;
            this.#due = undefined;
          }
          if (isCancellation(err)) return; // stopped, or the run was cancelled (the main loop learns of it)
          run.fatal ??= err;
          run.touch();
        },
      );
  }
}
