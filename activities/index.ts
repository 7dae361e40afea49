// The activities the generic workflow calls: the task runner (looks tasks up by id, heartbeats for the
// task, turns cancellation into ctx.signal, ctx.pauseWorkflow through the worker's client), resource
// setup/teardown, and resume validation.
import { Context as ActivityContext, CancelledFailure, log } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import {
  CARRIED_PAUSES_KEY,
  MAX_CARRIED_PAUSES,
  type CarriedPause,
  type CloacinaActivities,
  type ResourceInput,
  type RunTaskInput,
  type RunTaskResult,
  type ValidateResumeInput,
  type ValidateResumeResult,
} from '../workflows/activity-contract';
import type { JsonValue } from '../workflows/dag';
import { pauseUpdate } from '../workflows/messages';
import { Context } from '../src/context';
import { TaskError } from '../src/errors';
import type { WorkflowDefinition } from '../src/definitions';

/** How often the runner heartbeats on the task's behalf (the SDK throttles what reaches the server). */
export const HEARTBEAT_EVERY_MS = 1000;

function lookup(registry: ReadonlyMap<string, WorkflowDefinition>, workflowName: string): WorkflowDefinition {
  const def = registry.get(workflowName);
  if (!def) {
    throw ApplicationFailure.create({
      type: 'UnknownWorkflow',
      message:
        `Workflow \`${workflowName}\` is not registered on this worker (registered: ${[...registry.keys()].map((k) => `\`${k}\``).join(', ') || 'none'}): ` +
        'pass its definition to createWorker({ workflows })',
      nonRetryable: true,
    });
  }
  return def;
}

/** Converts whatever a task threw into an ApplicationFailure that carries its TaskError kind. */
export function toApplicationFailure(err: unknown): ApplicationFailure {
  if (err instanceof ApplicationFailure) return err;
  if (err instanceof TaskError) {
    return ApplicationFailure.create({
      type: err.kind,
      message: err.message,
      nonRetryable: !err.retryable,
      cause: err,
    });
  }
  if (err instanceof Error) {
    return ApplicationFailure.create({
      type: 'ExecutionFailed',
      message: err.message || err.name,
      cause: err,
    });
  }
  return ApplicationFailure.create({
    type: 'ExecutionFailed',
    message: `task threw a non-Error value: ${String(err)}`,
  });
}

/** The same failure, with a local task's pause requests added to its details for the workflow to apply. */
function withCarriedPauses(failure: ApplicationFailure, pauses: CarriedPause[]): ApplicationFailure {
  return ApplicationFailure.create({
    type: failure.type ?? undefined,
    message: failure.message,
    nonRetryable: failure.nonRetryable ?? false,
    details: [...(failure.details ?? []), { [CARRIED_PAUSES_KEY]: pauses }],
    cause: failure.cause,
  });
}

/** Builds the activity implementations for a set of workflow definitions. */
export function createActivities(workflows: readonly WorkflowDefinition[]): CloacinaActivities {
  const registry = new Map<string, WorkflowDefinition>();
  for (const w of workflows) {
    const existing = registry.get(w.name);
    if (existing && existing !== w)
      throw new Error(
        `Two different workflow definitions are named \`${w.name}\`: names must be unique per worker`,
      );
    registry.set(w.name, w);
  }

  async function runTask(input: RunTaskInput): Promise<RunTaskResult> {
    const def = lookup(registry, input.workflowName);
    const t = def.tasks.get(input.taskId);
    if (!t) {
      throw ApplicationFailure.create({
        type: 'UnknownTask',
        message: `Task \`${input.taskId}\` is not registered for workflow \`${input.workflowName}\` on this worker: deploy a worker that has it`,
        nonRetryable: true,
      });
    }
    const activity = ActivityContext.current();
    const info = activity.info;
    const workflowId = info.workflowExecution?.workflowId ?? '';
    const runId = info.workflowExecution?.runId ?? '';
    let pauses = 0;
    // A local task runs inside the workflow task: an update would reach the run only after the task
    // returned, so its pause requests go back with its outcome instead.
    const carried: CarriedPause[] = [];
    const ctx = new Context(input.context, {
      signal: activity.cancellationSignal,
      taskId: input.taskId,
      workflowId,
      attempt: input.attempt,
      heartbeat: (details) => activity.heartbeat(details),
      resource: (id) => {
        if (!(id in input.resources)) {
          throw new TaskError(
            'ContextError',
            `Task \`${input.taskId}\` does not use resource \`${id}\`: add it to the task's \`uses\``,
          );
        }
        return input.resources[id] as JsonValue;
      },
      pauseWorkflow: async (reason) => {
        pauses++;
        const requestId = `${runId}:${info.activityId}:${pauses}`;
        if (info.isLocal) {
          if (carried.length < MAX_CARRIED_PAUSES)
            carried.push({ reason: String(reason ?? '').slice(0, 1000), requestId });
          return;
        }
        await activity.client.workflow.getHandle(workflowId).executeUpdate(pauseUpdate, {
          args: [
            {
              kind: 'task',
              mode: 'graceful',
              reason: String(reason ?? '').slice(0, 1000),
              by: `task:${input.taskId}`,
              ...(input.proof ? { proof: input.proof } : {}),
              requestId,
            },
          ],
        });
      },
    });
    // A local activity does not heartbeat (its workflow task does).
    const beat = info.isLocal ? undefined : setInterval(() => activity.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      await t.fn(ctx);
      ctx.assertSize(`context returned by task \`${input.taskId}\``);
    } catch (err) {
      if (activity.cancellationSignal.aborted) {
        // Cancelled (immediate pause or run cancelled): report cancellation, not a task failure.
        throw new CancelledFailure(`task \`${input.taskId}\` cancelled`);
      }
      const failure = toApplicationFailure(err);
      if (t.onFailure) {
        try {
          await t.onFailure(err instanceof Error ? err : new Error(String(err)), ctx, {
            attempt: input.attempt,
          });
        } catch (cbErr) {
          log.warn('onFailure callback threw', { taskId: input.taskId, error: String(cbErr) });
        }
      }
      throw carried.length ? withCarriedPauses(failure, carried) : failure;
    } finally {
      if (beat) clearInterval(beat);
    }
    if (t.onSuccess) {
      try {
        await t.onSuccess(ctx);
      } catch (cbErr) {
        log.warn('onSuccess callback threw', { taskId: input.taskId, error: String(cbErr) });
      }
    }
    return { context: ctx.toJSON(), ...(carried.length ? { pauses: carried } : {}) };
  }

  function lookupResource(input: ResourceInput) {
    const r = lookup(registry, input.workflowName).resources.get(input.resourceId);
    if (!r) {
      throw ApplicationFailure.create({
        type: 'UnknownResource',
        message: `Resource \`${input.resourceId}\` is not registered for \`${input.workflowName}\` on this worker`,
        nonRetryable: true,
      });
    }
    return r;
  }

  /** Heartbeats while `fn` runs, so a worker that dies during it is noticed within the heartbeat timeout. */
  async function beating<T>(fn: () => Promise<T>): Promise<T> {
    const current = ActivityContext.current();
    const beat = setInterval(() => current.heartbeat(), HEARTBEAT_EVERY_MS);
    try {
      return await fn();
    } finally {
      clearInterval(beat);
    }
  }

  async function setupResource(input: ResourceInput): Promise<JsonValue> {
    return beating(() => setupResourceNow(input));
  }

  async function setupResourceNow(input: ResourceInput): Promise<JsonValue> {
    const r = lookupResource(input);
    const handle = await r.setup({
      context: input.context,
      reason: input.reason,
      workflowId: ActivityContext.current().info.workflowExecution?.workflowId ?? '',
    });
    return handle ?? null;
  }

  async function teardownResource(input: ResourceInput): Promise<void> {
    return beating(() => teardownResourceNow(input));
  }

  async function teardownResourceNow(input: ResourceInput): Promise<void> {
    const r = lookupResource(input);
    await r.teardown(input.handle ?? null, {
      reason: input.reason,
      workflowId: ActivityContext.current().info.workflowExecution?.workflowId ?? '',
    });
  }

  async function validateResume(input: ValidateResumeInput): Promise<ValidateResumeResult> {
    return beating(() => validateResumeNow(input));
  }

  async function validateResumeNow(input: ValidateResumeInput): Promise<ValidateResumeResult> {
    const def = registry.get(input.workflowName);
    const checks: string[] = [];
    if (!def)
      return {
        ok: false,
        reason: `Workflow \`${input.workflowName}\` is no longer registered on the workers of this task queue`,
        checks,
      };
    const missing = input.remainingTasks.filter((id) => !def.tasks.has(id));
    if (missing.length) {
      return {
        ok: false,
        reason: `Tasks ${missing.map((m) => `\`${m}\``).join(', ')} are no longer registered on the workers of this task queue: deploy a worker that has them, then resume`,
        checks,
      };
    }
    checks.push(`${input.remainingTasks.length} remaining tasks registered`);
    if (input.input !== undefined && def.resumeInput) {
      const parsed = def.resumeInput.safeParse(input.input);
      if (!parsed.success) {
        const issues = parsed.error.issues
          .map((i) => `${i.path.length ? i.path.join('.') : 'input'}: ${i.message}`)
          .join('; ');
        return {
          ok: false,
          reason: `Resume input does not match the workflow's resume schema: ${issues}`,
          checks,
        };
      }
      checks.push('resume input valid');
    }
    if (input.contextPatch !== undefined && def.input instanceof z.ZodObject) {
      const parsed = def.input.partial().safeParse(input.contextPatch);
      if (!parsed.success) {
        const issues = parsed.error.issues
          .map((i) => `${i.path.join('.') || 'patch'}: ${i.message}`)
          .join('; ');
        return {
          ok: false,
          reason: `Context patch does not match the workflow's input schema: ${issues}`,
          checks,
        };
      }
      checks.push('context patch valid');
    }
    if (def.validateResume && !input.force) {
      let verdict: unknown;
      try {
        verdict = await def.validateResume(new Context(input.context), input.pause);
      } catch (err) {
        return {
          ok: false,
          reason: `validateResume threw: ${err instanceof Error ? err.message : String(err)}`,
          checks,
        };
      }
      if (verdict === false) return { ok: false, reason: 'validateResume refused the resume', checks };
      if (typeof verdict === 'string') return { ok: false, reason: verdict, checks };
      if (typeof verdict === 'object' && verdict !== null && (verdict as { ok?: boolean }).ok === false) {
        return {
          ok: false,
          reason: (verdict as { reason?: string }).reason ?? 'validateResume refused the resume',
          checks,
        };
      }
      checks.push('validateResume passed');
    } else if (def.validateResume) {
      checks.push('validateResume skipped (force)');
    }
    return { ok: true, checks };
  }

  return {
    'cloacina.runTask': runTask,
    'cloacina.setupResource': setupResource,
    'cloacina.teardownResource': teardownResource,
    'cloacina.validateResume': validateResume,
  };
}
