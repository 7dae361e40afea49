import {
  bundleWorkflowCode,
  NativeConnection,
  type TLSConfig,
  Worker,
  type WorkerOptions,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createActivities } from '../activities';
import { createPauseWindowActivities } from '../activities/pause-window';
import { connectionOptionsFromEnv, transportReason } from './connection';
import { ServerUnreachableError } from './errors';
import type { WorkflowDefinition } from './definitions';

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  /** The workflow definitions whose tasks this worker runs. */
  workflows: readonly WorkflowDefinition[];
  taskQueue: string;
  /** An open connection; otherwise one is made to `address`. */
  connection?: NativeConnection;
  /**
   * Frontend address when no connection is given. With neither, the address, TLS and API key come from
   * the environment as the `temporal` CLI reads it (`TEMPORAL_ADDRESS`, default 127.0.0.1:7233; see
   * {@link connectionOptionsFromEnv}).
   */
  address?: string;
  /** Default `TEMPORAL_NAMESPACE` when neither connection nor address is given, else `default`. */
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
  // With neither a connection nor an address, the `temporal` CLI's environment variables say where and
  // how to connect (address, namespace, TLS, API key).
  const env = options.connection || options.address ? undefined : connectionOptionsFromEnv();
  const connection =
    options.connection ??
    (await connectNative(
      env ? { address: env.address, tls: env.tls, apiKey: env.apiKey } : { address: options.address! },
    ));
  return Worker.create({
    connection,
    namespace: options.namespace ?? env?.namespace ?? 'default',
    taskQueue: options.taskQueue,
    ...(options.identity ? { identity: options.identity } : {}),
    workflowBundle: options.workflowBundle ?? (await bundleWorkflows()),
    activities: { ...createActivities(options.workflows), ...createPauseWindowActivities() },
    // Cancellation reaches an activity with a heartbeat response: keep that within about a second so
    // immediate pauses take effect quickly.
    maxHeartbeatThrottleInterval: '1s',
    defaultHeartbeatThrottleInterval: '1s',
    ...options.workerOptions,
  });
}

/** A worker connection; an unreachable server is reported as a ServerUnreachableError. */
async function connectNative(options: {
  address: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}): Promise<NativeConnection> {
  try {
    return await NativeConnection.connect(options);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (err instanceof Error && (err.name === 'TransportError' || message.includes('tonic::transport')))
      throw new ServerUnreachableError(options.address, transportReason(message), { cause: err });
    throw err;
  }
}
