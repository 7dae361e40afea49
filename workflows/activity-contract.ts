// The activities the generic workflow calls, as types only (implemented in activities/).
import type { JsonObject, JsonValue } from './dag';
import type { CurrentPause } from './pause-machine';

/** Input of one task attempt. */
export interface RunTaskInput {
  workflowName: string;
  taskId: string;
  /** 1-based attempt number (attempts cut off by an immediate pause are not counted). */
  attempt: number;
  context: JsonObject;
  /** Handles of the resources the task `uses`. */
  resources: Record<string, JsonValue>;
  /**
   * Drawn by the workflow for this attempt only: a `task` pause (`ctx.pauseWorkflow`) carries it back as
   * its proof of coming from the running attempt.
   */
  proof?: string;
}

/**
 * A pause a local task asked for (`ctx.pauseWorkflow`). A local activity runs inside the workflow task, so
 * an update it sent would reach the run only after it returned: the request comes back with the attempt's
 * outcome instead, and the workflow applies it before the attempt settles.
 */
export interface CarriedPause {
  reason: string;
  requestId: string;
}

/** At most this many pause requests come back from one local attempt (the first ones are kept). */
export const MAX_CARRIED_PAUSES = 8;

/** The key, in a failed local attempt's failure details, under which its pause requests come back. */
export const CARRIED_PAUSES_KEY = 'cloacina.pauses';

/** Output of a successful attempt. */
export interface RunTaskResult {
  context: JsonObject;
  /** Pauses a local task asked for. */
  pauses?: CarriedPause[];
}

/** Input of a resource setup or teardown. */
export interface ResourceInput {
  workflowName: string;
  resourceId: string;
  context: JsonObject;
  /** The handle to tear down. */
  handle?: JsonValue;
  /** Why: `start`, `resume`, `pause`, `end`. */
  reason: string;
}

/** Input of resume validation. */
export interface ValidateResumeInput {
  workflowName: string;
  /** Tasks that have not finished: each must still be registered on this task queue's workers. */
  remainingTasks: string[];
  context: JsonObject;
  pause: CurrentPause;
  input?: JsonValue;
  /** Checked against the workflow's input schema (as a partial object) when one exists. */
  contextPatch?: JsonObject;
  force: boolean;
}

/** Result of resume validation. */
export type ValidateResumeResult =
  { ok: true; checks: string[] } | { ok: false; reason: string; checks: string[] };

/** Activity types registered by `createWorker`. */
export interface CloacinaActivities {
  'cloacina.runTask'(input: RunTaskInput): Promise<RunTaskResult>;
  'cloacina.setupResource'(input: ResourceInput): Promise<JsonValue>;
  'cloacina.teardownResource'(input: ResourceInput): Promise<void>;
  'cloacina.validateResume'(input: ValidateResumeInput): Promise<ValidateResumeResult>;
}
