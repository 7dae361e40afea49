// The error hierarchy: every error names the offending value and how to fix it.
import type { RefusalCode } from '../workflows/pause-machine';

/** Kinds of task failure, as Cloacina's TaskError variants; carried as Temporal ApplicationFailure types. */
export const TaskErrorKind = {
  ExecutionFailed: 'ExecutionFailed',
  Timeout: 'Timeout',
  ValidationFailed: 'ValidationFailed',
  ContextError: 'ContextError',
  DependencyNotSatisfied: 'DependencyNotSatisfied',
  ReadinessCheckFailed: 'ReadinessCheckFailed',
  TriggerRuleFailed: 'TriggerRuleFailed',
  Unknown: 'Unknown',
} as const;
export type TaskErrorKind = (typeof TaskErrorKind)[keyof typeof TaskErrorKind];

/** Kinds that are not retried unless the task says otherwise. */
const NON_RETRYABLE_KINDS: ReadonlySet<TaskErrorKind> = new Set(['ValidationFailed', 'ContextError']);

/** Base class of every error this library throws. */
export class CloacinaError extends Error {
  override name = 'CloacinaError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** A task failure. Throw it from a task to choose its kind and whether it is retried. */
export class TaskError extends CloacinaError {
  override name = 'TaskError';
  /** The failure kind (becomes the ApplicationFailure type). */
  readonly kind: TaskErrorKind;
  /** Whether the workflow may retry the task (subject to its retry policy). */
  readonly retryable: boolean;
  constructor(kind: TaskErrorKind, message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable ?? !NON_RETRYABLE_KINDS.has(kind);
  }
}

/** A workflow or task definition is invalid (raised by `task()` and `defineWorkflow()`). */
export class DefinitionError extends CloacinaError {
  override name = 'DefinitionError';
  /** Every problem found, one message each. */
  readonly problems: string[];
  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0]! : `${problems.length} problems:\n- ${problems.join('\n- ')}`);
    this.problems = problems;
  }
}

/** A context operation failed (duplicate insert, update of a missing key, non-JSON value, size limit). */
export class ContextError extends TaskError {
  override name = 'ContextError';
  constructor(message: string) {
    super('ContextError', message, { retryable: false });
  }
}

/** Input given to the executor (workflow input, pause or resume options) failed validation. */
export class InvalidInputError extends CloacinaError {
  override name = 'InvalidInputError';
}

/** No workflow execution with this id exists in the namespace. */
export class WorkflowNotFoundError extends CloacinaError {
  override name = 'WorkflowNotFoundError';
  constructor(
    readonly workflowId: string,
    options?: { cause?: unknown },
  ) {
    super(
      `No workflow execution \`${workflowId}\` in this namespace: check the id (listWorkflows shows runs)`,
      options,
    );
  }
}

/** The run has already closed (completed, failed or cancelled): it can no longer be steered. */
export class WorkflowClosedError extends CloacinaError {
  override name = 'WorkflowClosedError';
  constructor(
    readonly workflowId: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(
      message ?? `Workflow \`${workflowId}\` has already closed: it cannot be paused, resumed or approved`,
      options,
    );
  }
}

/** A run with this workflow id is already running. */
export class WorkflowAlreadyStartedError extends CloacinaError {
  override name = 'WorkflowAlreadyStartedError';
}

/** No Temporal server answered at the address. */
export class ServerUnreachableError extends CloacinaError {
  override name = 'ServerUnreachableError';
  constructor(
    readonly address: string,
    /** What went wrong, e.g. `connection refused`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(
      `Cannot reach a Temporal server at ${address} (${reason}): start one with \`npx cloacina-temporal dev-server\`, ` +
        'or set TEMPORAL_ADDRESS (or --address) to the host:port of a running server',
      options,
    );
  }
}

/** The namespace does not exist on the Temporal server the client or worker reached. */
export class UnknownNamespaceError extends CloacinaError {
  override name = 'UnknownNamespaceError';
  constructor(
    readonly namespace: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The namespace \`${namespace}\` does not exist on this Temporal server: create it ` +
        `(\`temporal operator namespace create --namespace ${namespace}\`; a dev server: ` +
        `\`npx cloacina-temporal dev-server --namespace ${namespace}\`), or set TEMPORAL_NAMESPACE (or --namespace, ` +
        'or the `namespace` option) to one that exists',
      options,
    );
  }
}

/**
 * The error to throw for `err`: an {@link UnknownNamespaceError} when the server said the namespace does
 * not exist (the client's NamespaceNotFoundError, or a worker's "Namespace … was not found"); else `err`.
 */
export function unknownNamespace(err: unknown, namespace?: string): unknown {
  if (!(err instanceof Error) || err instanceof UnknownNamespaceError) return err;
  if (err.name === 'NamespaceNotFoundError') {
    const named = (err as { namespace?: unknown }).namespace;
    return new UnknownNamespaceError(typeof named === 'string' ? named : (namespace ?? ''), { cause: err });
  }
  const m = /Namespace (\S+) (?:was not found|is not found)/.exec(err.message);
  if (m) return new UnknownNamespaceError(m[1]!, { cause: err });
  return err;
}

/** The workflow refused a request; `code` says why (NotPaused, GateNotWaiting, NotAnApprover, ...). */
export class RequestRejectedError extends CloacinaError {
  override name = 'RequestRejectedError';
  constructor(
    readonly workflowId: string,
    /** Why: one of {@link REFUSAL_CODES} (`InvalidRequest` for a payload the workflow's validator refused). */
    readonly code: RefusalCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** Resume was refused by validation (schema, approvers, maxPause, validateResume, task registry). */
export class ResumeValidationError extends RequestRejectedError {
  override name = 'ResumeValidationError';
}

/** The run ended failed (or was cancelled); `status` holds every task's outcome. */
export class WorkflowExecutionError extends CloacinaError {
  override name = 'WorkflowExecutionError';
  constructor(
    readonly workflowId: string,
    readonly type: string,
    message: string,
    readonly status: import('../workflows/messages').WorkflowRunStatus | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * A call that needs a worker found none polling the run's task queue (checked with DescribeTaskQueue),
 * so it failed within the caller's time instead of waiting for one.
 */
export class NoWorkerError extends CloacinaError {
  override name = 'NoWorkerError';
  constructor(
    readonly workflowId: string,
    /** The run's task queue. */
    readonly taskQueue: string,
    /** What needed the worker, e.g. `the cloacina.status query`. */
    what: string,
    options?: { cause?: unknown; update?: boolean; result?: boolean; requestId?: string },
  ) {
    super(
      `Workflow \`${workflowId}\` cannot answer ${what}: no worker polls its task queue \`${taskQueue}\`. ` +
        `Start one there (createWorker with this workflow's definitions on task queue \`${taskQueue}\`); ` +
        (options?.result
          ? 'the run is started and waits for one: wait for its result again (getHandle(id).result()) once a worker polls'
          : !options?.update
            ? 'the audit trail (getAudit), and the status of a closed run or of one paused on the server, read with no worker'
            : options.requestId !== undefined
              ? `the server may still deliver the request when one starts, so send it again with the same requestId (\`${options.requestId}\`; CLI \`--request-id\`) to learn its outcome`
              : 'the server may still deliver the request when one starts: read its status then before sending another (a request sent with a requestId can be sent again with the same requestId to learn its outcome)'),
      options,
    );
    this.requestId = options?.requestId;
  }

  /** The abandoned update's request id, when it had one. */
  readonly requestId: string | undefined;
}

/**
 * The run's workflow tasks fail, so nothing in it runs and it takes no query or update until the cause is
 * fixed. With `nondeterminism`, its history does not replay with the workers' code: after a deploy, run
 * the code that wrote it; after a worker crash (a Temporal SDK defect, docs/reliability.md), reset the run
 * to `resetEventId` (docs/operations.md, "A run whose history does not replay").
 */
export class WorkflowTaskFailingError extends CloacinaError {
  override name = 'WorkflowTaskFailingError';
  constructor(
    readonly workflowId: string,
    /** The failure the worker reported (or the query's answer), as the worker wrote it. */
    readonly failure: string,
    /** True when the history does not replay with the workers' code (`[TMPRL1100]`). */
    readonly nondeterminism: boolean,
    /** The event the replay does not accept, when the failure names it. */
    readonly eventId: number | undefined,
    /** The last completed workflow task before {@link eventId}: where a reset starts the run again. */
    readonly resetEventId: number | undefined,
    options?: { cause?: unknown },
  ) {
    const what = failure.length > 300 ? `${failure.slice(0, 300)}…` : failure;
    super(
      nondeterminism
        ? `Workflow \`${workflowId}\` cannot be rebuilt by its workers: its history does not replay with their ` +
            `code (${what}), so nothing in it runs and it takes no request. After a deploy that changed the ` +
            'workflow code, run the code that wrote the history. Otherwise (after a worker crash: a known ' +
            'defect of the Temporal SDK), reset the run' +
            (resetEventId !== undefined
              ? ` to the last completed workflow task before event ${eventId}: \`temporal workflow reset ` +
                `--workflow-id ${workflowId} --event-id ${resetEventId} --reason "history does not replay"\``
              : ' to the last completed workflow task before the event the failure names') +
            ' (docs/operations.md, "A run whose history does not replay")'
        : `Workflow \`${workflowId}\`'s workflow tasks are failing (${what}), so nothing in it runs and it ` +
            'takes no request: fix the cause in its workers (their log has the stack); the server retries ' +
            'the workflow task',
      options,
    );
  }
}

/**
 * The run is paused by the Temporal server itself (server-native pause: the Web UI's "Pause Workflow",
 * `temporal workflow pause`, or `pauseWorkflow(id, { mode: 'freeze' })`): it takes no update until unpaused.
 */
export class WorkflowFrozenError extends CloacinaError {
  override name = 'WorkflowFrozenError';
  constructor(
    readonly workflowId: string,
    /** Who paused it on the server (the pause request's identity). */
    readonly pausedBy: string,
    readonly reason: string,
    message?: string,
    options?: { cause?: unknown },
  ) {
    super(
      message ??
        `Workflow \`${workflowId}\` is paused on the Temporal server (native pause by ${pausedBy || 'unknown'}` +
          `${reason ? `: ${reason}` : ''}), so it takes no request: resumeWorkflow unpauses it and resumes ` +
          '(or `temporal workflow unpause`)',
      options,
    );
  }
}

/** The server-native pause of `mode: 'freeze'` could not be put on, or never showed in DescribeWorkflowExecution. */
export class FreezeError extends CloacinaError {
  override name = 'FreezeError';
  constructor(
    readonly workflowId: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A gRPC status code carried by a ServiceError (directly or as its cause). */
export function grpcCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  if (typeof code === 'number') return code;
  const inner = (err as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  return typeof inner === 'number' ? inner : undefined;
}

/** gRPC's UNAVAILABLE: the server could not be reached (after the client's own retries). */
const UNAVAILABLE = 14;

/** The call failed because no server answered, not because the run or the server refused it. */
export function isUnavailable(err: unknown): boolean {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++)
    if (e instanceof ServerUnreachableError || grpcCode(e) === UNAVAILABLE) return true;
  return false;
}

/**
 * An error's message followed by its causes' (the SDK's "Workflow Update failed" or "Failed to describe
 * workflow" says why only in its cause).
 */
export function withCauses(err: unknown): string {
  const parts: string[] = [];
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const m = e instanceof Error ? e.message : typeof e === 'string' ? e : '';
    if (m && !parts.some((p) => p.includes(m))) parts.push(m);
  }
  return parts.join(': ') || String(err);
}
