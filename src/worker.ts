import {
  bundleWorkflowCode,
  NativeConnection,
  Worker,
  type WorkerOptions,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import type { WorkflowDefinition } from './definitions';

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  /** The workflow definitions whose tasks this worker runs. */
  workflows: readonly WorkflowDefinition[];
  taskQueue: string;
  /** An open connection; otherwise one is made to `address`. */
  connection?: NativeConnection;
  /** Frontend address when no connection is given (default `TEMPORAL_ADDRESS` or 127.0.0.1:7233). */
  address?: string;
  namespace?: string;
  identity?: string;
  /** A prebuilt workflow bundle (see {@link bundleWorkflows}); built once per process otherwise. */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /** Other Temporal worker options (concurrency, tuning). */
  workerOptions?: Omit<
    Partial<WorkerOptions>,
    'connection' | 'taskQueue' | 'workflowBundle' | 'workflowsPath' | 'activities' | 'namespace'
  >;
}

let bundlePromise: Promise<WorkflowBundleWithSourceMap> | undefined;

/** Bundles the generic workflow once per process (webpack; takes a few seconds). */
export function bundleWorkflows(): Promise<WorkflowBundleWithSourceMap> {
  bundlePromise ??= bundleWorkflowCode({
    workflowsPath: require.resolve('../workflows'),
    logger: {
      log: () => undefined,
      trace: () => undefined,
      debug: () => undefined,
      info: () => undefined,
      warn: (m) => console.warn(m),
      error: (m) => console.error(m),
    },
  });
  return bundlePromise;
}

/** Creates a Temporal worker that runs the generic DAG workflow and the given workflows' tasks. */
export async function createWorker(options: CreateWorkerOptions): Promise<Worker> {
  const connection =
    options.connection ??
    (await NativeConnection.connect({
      address: options.address ?? process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    }));
  return Worker.create({
    connection,
    namespace: options.namespace ?? 'default',
    taskQueue: options.taskQueue,
    ...(options.identity ? { identity: options.identity } : {}),
    workflowBundle: options.workflowBundle ?? (await bundleWorkflows()),
    activities: createActivities(options.workflows),
    // Cancellation reaches an activity with a heartbeat response: keep that within about a second so
    // immediate pauses take effect quickly.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
    ...options.workerOptions,
  });
}
