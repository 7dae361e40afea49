// A worker in its own process, for tests that kill it with SIGKILL. Reads the server address, task
// queue and the path of a prebuilt workflow bundle (JSON) from the environment; prints `ready` once polling.
import { readFileSync } from 'node:fs';
import { NativeConnection, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createWorker } from '../../src';
import { crashWorkflows } from './crash-workflows';

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await createWorker({
    workflows: crashWorkflows,
    taskQueue: process.env.CLOACINA_TASK_QUEUE!,
    connection,
    identity: 'doomed-worker',
    workflowBundle: JSON.parse(
      readFileSync(process.env.CLOACINA_BUNDLE_PATH!, 'utf8'),
    ) as WorkflowBundleWithSourceMap,
  });
  const running = worker.run();
  process.stdout.write('@@ ready\n');
  await running;
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
