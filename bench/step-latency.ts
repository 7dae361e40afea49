// `node dist/bench/step-latency.js [--steps 100] [--runs 3] [--servers a,b] [--workers a,b]`: where the time of
// one sequential activity step goes. Runs a raw chain of no-op activities (and of local activities) under
// dev-server and worker variants, and splits each step by the event times of the run's history.
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import {
  bundleWorkflowCode,
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerOptions,
} from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { startDevServer } from '../temporal-dev';
import type { RawActivities } from './raw-workflows';

const EventType = temporal.api.enums.v1.EventType;

/** Dev-server variants: dynamic config on top of the project's. */
const SERVERS: Record<string, Record<string, unknown>> = {
  default: {},
  eager: { 'system.enableActivityEagerExecution': true },
  onePartition: { 'matching.numTaskqueueReadPartitions': 1, 'matching.numTaskqueueWritePartitions': 1 },
  noEagerServer: { 'system.enableActivityEagerExecution': false },
  pollRps: { 'history.transferProcessorMaxPollRPS': 1000 },
  pollRpsOnePartition: {
    'history.transferProcessorMaxPollRPS': 1000,
    'matching.numTaskqueueReadPartitions': 1,
    'matching.numTaskqueueWritePartitions': 1,
  },
};

/** Worker variants: options on top of the SDK defaults. */
const WORKERS: Record<string, Partial<WorkerOptions>> = {
  default: {},
  onePoller: { maxConcurrentActivityTaskPolls: 1, maxConcurrentWorkflowTaskPolls: 2 },
  manyPollers: { maxConcurrentActivityTaskPolls: 20, maxConcurrentWorkflowTaskPolls: 20 },
  noSticky: { maxCachedWorkflows: 0 },
  noEager: { maxEagerActivityReservationsPerWorkflowTask: 0 },
};

const arg = (name: string, dflt: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? dflt) : dflt;
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const millis = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) =>
  Number(t?.seconds ?? 0) * 1000 + (t?.nanos ?? 0) / 1e6;

/** Mean time per phase of a step, from a raw chain's history. */
function phases(events: temporal.api.history.v1.IHistoryEvent[]): Record<string, number> {
  const sums: Record<string, number[]> = {
    'activity scheduled → started': [],
    'activity started → completed': [],
    'completed → workflow task started': [],
    'workflow task started → completed': [],
  };
  let scheduled = 0;
  let started = 0;
  let completed = 0;
  let wftScheduled = 0;
  let wftStarted = 0;
  for (const e of events) {
    const t = millis(e.eventTime);
    switch (e.eventType) {
      case EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
        scheduled = t;
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
        started = t;
        sums['activity scheduled → started']!.push(t - scheduled);
        break;
      case EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
        completed = t;
        sums['activity started → completed']!.push(t - started);
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_SCHEDULED:
        wftScheduled = t;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED:
        wftStarted = t;
        if (completed) sums['completed → workflow task started']!.push(t - Math.max(completed, 0));
        void wftScheduled;
        break;
      case EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED:
        if (completed) sums['workflow task started → completed']!.push(t - wftStarted);
        break;
    }
  }
  return Object.fromEntries(
    Object.entries(sums).map(([k, xs]) => [k, xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)]),
  );
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const steps = Number(arg('--steps', '100'));
  const runs = Number(arg('--runs', '3'));
  const servers = arg('--servers', Object.keys(SERVERS).join(',')).split(',');
  const workers = arg('--workers', Object.keys(WORKERS).join(',')).split(',');
  const noop = () => undefined;
  const workflowBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./raw-workflows'),
    logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (m) => console.error(m) },
  });
  const activities: RawActivities = { noop: async () => undefined, stamp: async () => performance.now() };
  for (const s of servers) {
    const server = await startDevServer({
      port: 0,
      uiPort: 0,
      headless: true,
      forceStart: true,
      dynamicConfig: SERVERS[s],
    });
    const native = await NativeConnection.connect({ address: server.address });
    const connection = await Connection.connect({ address: server.address });
    const client = new Client({ connection, namespace: server.namespace });
    try {
      for (const w of workers) {
        const taskQueue = `steps-${randomUUID()}`;
        const worker = await Worker.create({
          connection: native,
          taskQueue,
          workflowBundle,
          activities,
          ...WORKERS[w],
        });
        await worker.runUntil(async () => {
          const chain = async (type: string, n: number) => {
            const workflowId = `steps-${randomUUID()}`;
            const t0 = performance.now();
            await client.workflow.execute(type, { taskQueue, workflowId, args: [n] });
            return { ms: performance.now() - t0, workflowId };
          };
          await chain('rawChain', 5);
          const walls: number[] = [];
          let last = '';
          for (let i = 0; i < runs; i++) {
            const r = await chain('rawChain', steps);
            walls.push(r.ms / steps);
            last = r.workflowId;
          }
          const local: number[] = [];
          for (let i = 0; i < runs; i++) local.push((await chain('rawLocalChain', steps)).ms / steps);
          const history = await client.workflow.getHandle(last).fetchHistory();
          const split = phases(history.events ?? []);
          console.log(
            JSON.stringify({
              server: s,
              worker: w,
              msPerStep: Number(median(walls).toFixed(1)),
              localMsPerStep: Number(median(local).toFixed(1)),
              split: Object.fromEntries(Object.entries(split).map(([k, v]) => [k, Number(v.toFixed(1))])),
              events: history.events?.length,
            }),
          );
        });
      }
    } finally {
      await connection.close();
      await native.close();
      await server.stop();
    }
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
