// `cloacina-temporal/messages`: the signal, query and update definitions a run answers, with the zod
// schemas of their payloads, for sending requests with your own Temporal client.
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
  PauseRequest,
  ResumeRequest,
  ApproveRequest,
  RejectRequest,
  BreakpointsRequest,
  MAX_REASON_LENGTH,
  MAX_IDENTITY_LENGTH,
  MAX_PATCH_BYTES,
  MAX_DURATION_MS,
  MAX_INSTANT,
  MAX_JSON_DEPTH,
} from '../workflows/messages';
export type { ControlResult, BreakpointsResult, WorkflowRunStatus } from '../workflows/messages';
