// Mocha global fixture: one Temporal dev server for the whole run (or TEMPORAL_ADDRESS), the workflow
// bundle built once, and a clean stop with no server left behind.
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startDevServer, type DevServerHandle } from '../temporal-dev';
import { bundleWorkflows } from '../src/worker';
import { setServer } from './helpers';

let server: DevServerHandle | undefined;

export async function mochaGlobalSetup(): Promise<void> {
  Runtime.install({
    logger: new DefaultLogger(
      (process.env.TEST_LOG_LEVEL as 'INFO' | 'WARN' | 'ERROR' | undefined) ?? 'ERROR',
    ),
  });
  const t0 = Date.now();
  server = await startDevServer({
    port: 0,
    uiPort: 0,
    headless: false,
    // Continue-as-new is suggested early so long-lived runs cross it many times in tests.
    dynamicConfig: { 'limit.historyCount.suggestContinueAsNew': 600 },
  });
  const t1 = Date.now();
  await bundleWorkflows();
  setServer(server);
  console.log(
    `Temporal ${server.owned ? `dev server started in ${t1 - t0} ms` : 'server reused'} at ${server.address}` +
      `${server.uiUrl ? ` (Web UI ${server.uiUrl})` : ''}; workflows bundled in ${Date.now() - t1} ms`,
  );
}

export async function mochaGlobalTeardown(): Promise<void> {
  await server?.stop();
}
