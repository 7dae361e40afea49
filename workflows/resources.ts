// Resources of a run: set up before the first task that uses one, released on pause (`releaseOnPause`),
// set up again on resume, torn down at the end. One operation at a time per resource.
import { log, proxyActivities } from '@temporalio/workflow';
import type { CloacinaActivities } from './activity-contract';
import type { TaskSpec } from './dag';
import { failureMessage } from './failures';
import type { Run } from './run';

/** A setup, teardown or resume validation whose worker stops heartbeating is retried after this long. */
export const RESOURCE_HEARTBEAT_TIMEOUT = '10 seconds';

export class Resources {
  readonly #locks = new Map<string, Promise<void>>();
  readonly #specs;
  /** Setups and teardowns under way (continue-as-new waits for none). */
  ops = 0;

  constructor(private readonly run: Run) {
    this.#specs = new Map(run.spec.resources.map((r) => [r.id, r]));
  }

  #proxy(rid: string) {
    // Specs from older starts have no retry: use the former fixed policy.
    const retry = this.#specs.get(rid)?.retry ?? { attempts: 5, delayMs: 1000 };
    return proxyActivities<CloacinaActivities>({
      startToCloseTimeout: '5 minutes',
      // The activity heartbeats every second: a worker that dies during a setup costs seconds, not minutes.
      heartbeatTimeout: RESOURCE_HEARTBEAT_TIMEOUT,
      summary: rid,
      retry: {
        maximumAttempts: retry.attempts,
        initialInterval: Math.max(1, retry.delayMs),
        maximumInterval: '30s',
      },
    });
  }

  async #withLock(id: string, fn: () => Promise<void>): Promise<void> {
    this.ops++;
    const prev = this.#locks.get(id) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    this.#locks.set(
      id,
      next.catch(() => undefined),
    );
    try {
      return await next;
    } finally {
      this.ops--;
      this.run.touch();
    }
  }

  /** Sets up every resource `task` uses that is not ready; throws if a setup fails. */
  async ensure(task: TaskSpec): Promise<void> {
    const run = this.run;
    const releaseAfter: string[] = [];
    for (const rid of task.uses) {
      await this.#withLock(rid, async () => {
        const r = run.resources[rid]!;
        if (r.state === 'ready') return;
        try {
          r.handle = await this.#proxy(rid)['cloacina.setupResource']({
            workflowName: run.spec.name,
            resourceId: rid,
            context: run.currentContext(),
            reason: r.setups === 0 ? 'start' : 'resume',
          });
          r.state = 'ready';
          r.setups++;
          delete r.error;
          // A pause that drained while the setup ran: release the resource now that the setup has ended.
          if (run.pm.hold?.drainedAt && this.#specs.get(rid)?.releaseOnPause) releaseAfter.push(rid);
        } catch (err) {
          r.state = 'failed';
          r.error = `setup failed: ${failureMessage(err)}`;
          throw err;
        }
      });
    }
    for (const rid of releaseAfter) void this.teardown(rid, 'pause');
  }

  async teardown(rid: string, reason: string): Promise<void> {
    const run = this.run;
    await this.#withLock(rid, async () => {
      const r = run.resources[rid]!;
      if (r.state !== 'ready') return;
      try {
        await this.#proxy(rid)['cloacina.teardownResource']({
          workflowName: run.spec.name,
          resourceId: rid,
          context: run.currentContext(),
          handle: r.handle,
          reason,
        });
        r.teardowns++;
        r.state = reason === 'pause' ? 'released' : 'tornDown';
        delete r.handle;
        delete r.error;
      } catch (err) {
        // Recorded and reported; never loses the run's result.
        r.error = `teardown (${reason}) failed: ${failureMessage(err)}`;
        if (reason !== 'pause') r.state = 'failed';
        log.error('Resource teardown failed', { resourceId: rid, error: r.error });
      }
    });
  }

  /** A pause has drained: release the resources that ask for it. */
  releaseOnPause(): void {
    for (const r of this.run.spec.resources) {
      if (r.releaseOnPause && this.run.resources[r.id]!.state === 'ready') void this.teardown(r.id, 'pause');
    }
  }

  async teardownAll(): Promise<void> {
    await Promise.all(this.run.spec.resources.map((r) => this.teardown(r.id, 'end')));
  }
}
