// A worker of the plain workflows in its own process, for a test that kills it with SIGKILL. Its `hang`
// activity heartbeats and never ends; it prints `@@ ready` once polling and `@@ hang` once `hang` runs.
import { readFileSync } from 'node:fs';
import { Context } from '@temporalio/activity';
import { NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';

async function main(): Promise<void> {
  const connection = await NativeConnection.connect({ address: process.env.TEMPORAL_ADDRESS! });
  const worker = await Worker.create({
    connection,
    taskQueue: process.env.RAW_TASK_QUEUE!,
    identity: 'doomed-raw-worker',
    workflowBundle: JSON.parse(
      readFileSync(process.env.RAW_BUNDLE_PATH!, 'utf8'),
    ) as WorkflowBundleWithSourceMap,
    activities: {
      async hang(): Promise<void> {
        process.stdout.write('@@ hang\n');
        for (;;) {
          Context.current().heartbeat();
          await new Promise((r) => setTimeout(r, 300));
        }
      },
      async after(): Promise<void> {},
    },
  });
  const running = worker.run();
  process.stdout.write('@@ ready\n');
  await running;
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(1);
});
