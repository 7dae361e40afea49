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
import { ServerUnreachableError, unknownNamespace } from './errors';
import type { WorkflowDefinition } from './definitions';

/** Options of {@link createWorker}. */
export interface CreateWorkerOptions {
  /** The workflow definitions whose tasks this worker runs (required). */
  workflows: readonly WorkflowDefinition[];
  /** The task queue to poll (required). */
  taskQueue: string;
  /**
   * An open connection; otherwise one is made to `address`.
   * @default a new connection to `address` (or the environment's)
   */
  connection?: NativeConnection;
  /**
   * Frontend address when no connection is given. With neither, the address, TLS and API key come from
   * the environment as the `temporal` CLI reads it (see {@link connectionOptionsFromEnv}).
   * @default `TEMPORAL_ADDRESS`, else 127.0.0.1:7233
   */
  address?: string;
  /** @default `TEMPORAL_NAMESPACE` when neither connection nor address is given, else `default` */
  namespace?: string;
  /**
   * The worker's identity.
   * @default Temporal's worker default (`<process id>@<host name>`)
   */
  identity?: string;
  /**
   * A prebuilt workflow bundle: {@link bundleWorkflows}, or your own `bundleWorkflowCode` of
   * `cloacina-temporal/workflows`.
   * @default the bundle {@link bundleWorkflows} builds once per process
   */
  workflowBundle?: WorkflowBundleWithSourceMap;
  /**
   * Other Temporal worker options (concurrency, tuning); heartbeat throttling defaults to 1 s here so
   * that immediate pauses reach running tasks within about a second.
   * @default Temporal's worker defaults, with `maxHeartbeatThrottleInterval` and `defaultHeartbeatThrottleInterval` 1 s
   */
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
    // zod and the workflow modules, evaluated once per workflow thread instead of once per cached run
    preloadModules: [require.resolve('../workflows/preload')],
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
  const namespace = options.namespace ?? env?.namespace ?? 'default';
  try {
    return await Worker.create({
      connection,
      namespace,
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
  } catch (err) {
    throw unknownNamespace(err, namespace);
  }
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
