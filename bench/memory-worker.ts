// A worker in a child process of the benchmark, so that its resident memory can be read alone. Started
// with `fork(…, ['library' | 'raw', address, namespace, taskQueue, bundleFile, 'thread' | 'debug'],
// { execArgv: ['--expose-gc'] })`; answers each `'rss'` message with `{ rss, heapUsed, maxCachedWorkflows }`
// after a full GC. With `debug` the worker runs its workflows on the main thread (`debugMode`), so
// `heapUsed` is what the cached runs retain (a GC can be forced there, not on a workflow thread).
import { readFileSync } from 'node:fs';
import {
  DefaultLogger,
  NativeConnection,
  Runtime,
  Worker,
  type WorkflowBundleWithSourceMap,
} from '@temporalio/worker';
import { createWorker, defineWorkflow, task } from '../src';
import type { RawActivities } from './raw-workflows';

/** The library workflow of the memory figure: one gated task, so a run waits with nothing in flight. */
export const memoryGate = defineWorkflow({
  name: 'bench_memory_gate',
  tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
});

/** What the child answers to `'rss'`. */
export interface MemoryReport {
  rss: number;
  heapUsed: number;
  maxCachedWorkflows: number;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const [kind, address, namespace, taskQueue, bundleFile, mode] = process.argv.slice(2);
  const debugMode = mode === 'debug';
  const connection = await NativeConnection.connect({ address: address! });
  const noop = () => undefined;
  const workflowBundle = JSON.parse(readFileSync(bundleFile!, 'utf8')) as WorkflowBundleWithSourceMap;
  const worker =
    kind === 'library'
      ? await createWorker({
          workflows: [memoryGate],
          taskQueue: taskQueue!,
          connection,
          namespace,
          workflowBundle,
          workerOptions: { debugMode },
        })
      : await Worker.create({
          debugMode,
          connection,
          namespace: namespace!,
          taskQueue: taskQueue!,
          workflowBundle,
          activities: {
            noop: async () => undefined,
            stamp: async () => performance.now(),
          } satisfies RawActivities,
        });
  let stop: () => void = noop;
  const stopped = new Promise<void>((resolve) => (stop = resolve));
  process.on('message', (m) => {
    if (m === 'stop') return stop();
    if (m !== 'rss') return;
    (globalThis as { gc?: () => void }).gc?.();
    const { rss, heapUsed } = process.memoryUsage();
    const report: MemoryReport = { rss, heapUsed, maxCachedWorkflows: worker.options.maxCachedWorkflows };
    process.send!(report);
  });
  process.on('disconnect', stop);
  await worker.runUntil(async () => {
    process.send!('ready');
    await stopped;
  });
  await connection.close();
  // The IPC channel to the parent would keep this process alive.
  process.exit(0);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
