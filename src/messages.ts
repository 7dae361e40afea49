// `cloacina-temporal/messages`: the signal, query and update definitions a run answers, with the zod
// schemas of their payloads, for sending requests with your own Temporal client.
import { requestSchemas, type RequestSchemas } from '../workflows/messages';
import type { z } from 'zod';

export {
  pauseUpdate,
  resumeUpdate,
  approveUpdate,
  rejectUpdate,
  breakpointsUpdate,
  pauseSignal,
  resumeSignal,
  approveSignal,
  rejectSignal,
  statusQuery,
  contextQuery,
  MAX_REASON_LENGTH,
  MAX_IDENTITY_LENGTH,
  MAX_PATCH_BYTES,
  MAX_DURATION_MS,
  MAX_INSTANT,
  MAX_JSON_DEPTH,
} from '../workflows/messages';
export type { ControlResult, BreakpointsResult, WorkflowRunStatus } from '../workflows/messages';

const schemas: RequestSchemas = requestSchemas();

/** Payload of the pause update and signal. */
export const PauseRequest = schemas.PauseRequest;
export type PauseRequest = z.infer<typeof PauseRequest>;

/** Payload of the resume update and signal. */
export const ResumeRequest = schemas.ResumeRequest;
export type ResumeRequest = z.infer<typeof ResumeRequest>;

/** Payload of the approve update and signal (a `pauseBefore` gate). */
export const ApproveRequest = schemas.ApproveRequest;
export type ApproveRequest = z.infer<typeof ApproveRequest>;

/** Payload of the reject update and signal (a `pauseBefore` gate): the gated task fails. */
export const RejectRequest = schemas.RejectRequest;
export type RejectRequest = z.infer<typeof RejectRequest>;

/**
 * Payload of the breakpoints update: stop before tasks that have not started yet (`set`), or no longer
 * (`clear`: a list, or `true` for all). A breakpoint is a gate anyone may approve; approving steps past it.
 */
export const BreakpointsRequest = schemas.BreakpointsRequest;
export type BreakpointsRequest = z.infer<typeof BreakpointsRequest>;
