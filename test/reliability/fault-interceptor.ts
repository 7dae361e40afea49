// Workflow-side interceptor of the handler-fault tests (bundled with the workflows; no Node imports).
// A request whose reason is FAULT makes the next time reading inside the library's handler throw an
// unexpected error: a fault the handlers did not foresee, raised from inside their own code. A run whose
// initial context holds BROKEN_BUILD throws a plain error from its workflow function, as a worker with a
// broken build would: that fails the workflow task (not the run), on every attempt.
import type {
  Next,
  WorkflowExecuteInput,
  SignalInput,
  UpdateInput,
  WorkflowInboundCallsInterceptor,
  WorkflowInterceptors,
} from '@temporalio/workflow';

export const FAULT = 'inject an unexpected fault';
export const BROKEN_BUILD = 'brokenBuild';

function faulty(args: unknown[]): boolean {
  const first = args[0] as { reason?: unknown } | undefined;
  return typeof first === 'object' && first !== null && first.reason === FAULT;
}

/** Runs `fn` with Date.prototype.toISOString throwing once. */
function withFault<T>(fn: () => T): T {
  const proto = Date.prototype;
  const original = Object.getOwnPropertyDescriptor(proto, 'toISOString')!;
  Object.defineProperty(proto, 'toISOString', {
    ...original,
    value: () => {
      Object.defineProperty(proto, 'toISOString', original);
      throw new TypeError('injected fault: the clock is broken');
    },
  });
  try {
    return fn();
  } finally {
    Object.defineProperty(proto, 'toISOString', original);
  }
}

class FaultInjector implements WorkflowInboundCallsInterceptor {
  execute(
    input: WorkflowExecuteInput,
    next: Next<WorkflowInboundCallsInterceptor, 'execute'>,
  ): Promise<unknown> {
    const first = input.args[0] as { context?: Record<string, unknown> } | undefined;
    if (first?.context?.[BROKEN_BUILD] === true) throw new Error('broken build: the plan module is missing');
    return next(input);
  }

  handleUpdate(
    input: UpdateInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleUpdate'>,
  ): Promise<unknown> {
    return faulty(input.args) ? withFault(() => next(input)) : next(input);
  }

  handleSignal(
    input: SignalInput,
    next: Next<WorkflowInboundCallsInterceptor, 'handleSignal'>,
  ): Promise<void> {
    return faulty(input.args) ? withFault(() => next(input)) : next(input);
  }
}

export const interceptors = (): WorkflowInterceptors => ({ inbound: [new FaultInjector()] });
