// cloacina-temporal: Cloacina's task-DAG API on Temporal, with pause and resume of running executions.
export { task, resource, defineWorkflow, trigger } from './definitions';
export type {
  TaskOptions,
  TaskDefinition,
  TaskFunction,
  RetryOptions,
  GateOptions,
  ResourceOptions,
  ResourceDefinition,
  WorkflowOptions,
  WorkflowDefinition,
  PausePolicy,
  ResumeVerdict,
} from './definitions';
export { Context, MAX_CONTEXT_BYTES } from './context';
export {
  CloacinaError,
  TaskError,
  TaskErrorKind,
  DefinitionError,
  ContextError,
  InvalidInputError,
  WorkflowNotFoundError,
  WorkflowClosedError,
  WorkflowAlreadyStartedError,
  RequestRejectedError,
  ResumeValidationError,
  WorkflowExecutionError,
  ServerUnreachableError,
  NoWorkerError,
  WorkflowFrozenError,
  WorkflowTaskFailingError,
  FreezeError,
  UnknownNamespaceError,
} from './errors';
export { connectionOptionsFromEnv } from './connection';
export type { ConnectionFlags, ResolvedConnection } from './connection';
export { ensureSearchAttributes } from '../temporal-dev';
export { UnifiedExecutor, DefaultRunner } from './executor';
export type {
  ExecutorOptions,
  ExecuteOptions,
  ExecutionHandle,
  PauseOptions,
  PauseResult,
  ResumeOptions,
  GateRequestOptions,
  BreakpointOptions,
  StatusOptions,
  AuditOptions,
  WaitOptions,
  ListOptions,
  WorkflowSummary,
  BulkOptions,
  BulkOutcome,
  BulkResult,
} from './executor';
export type { AuditPage } from './history';
export { PauseWindowNotFoundError, PauseWindowExistsError } from './pause-windows';
export type { PauseWindow, PauseWindowOptions } from './pause-windows';
export { createWorker, bundleWorkflows } from './worker';
export type { CreateWorkerOptions } from './worker';
export type { ControlResult } from '../workflows/messages';
export type { RunStatus, NativePause, ReportedState } from './native-pause';
export type {
  RunState,
  PauseKind,
  CurrentPause,
  GateStatus,
  AuditEntry,
  RefusalCode,
} from '../workflows/pause-machine';
export { REFUSAL_CODES } from '../workflows/pause-machine';
export type {
  JsonValue,
  JsonObject,
  TriggerRule,
  TaskRecord,
  TaskState,
  ResourceRecord,
} from '../workflows/dag';
// Message definitions and search attribute keys are subpath exports: `cloacina-temporal/messages` and
// `cloacina-temporal/search-attributes`.
