#!/usr/bin/env node
// `npm run dev:server` (and `cloacina-temporal dev-server`): a Temporal dev server in the foreground until
// interrupted.
import { Command } from 'commander';
import { startDevServer, TEMPORAL_CLI_VERSION } from './index';
import { SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/** Options of the dev-server command. */
export interface DevServerCommandOptions {
  port: string;
  uiPort?: string;
  dbFilename?: string;
  headless?: boolean;
  namespace: string;
}

/** Adds the dev server's options to `command` (`--namespace` too unless the caller has its own). */
export function devServerOptions(command: Command, o: { namespace?: boolean } = {}): Command {
  command
    .description(`Temporal dev server (CLI ${TEMPORAL_CLI_VERSION}) on 127.0.0.1 with the Web UI`)
    .option('--port <port>', 'frontend gRPC port', '7233')
    .option('--ui-port <port>', 'Web UI port (default: port + 1000)')
    .option('--db-filename <file>', 'file-backed SQLite database (default: in memory)')
    .option('--headless', 'no Web UI');
  if (o.namespace !== false) command.option('--namespace <ns>', 'namespace', 'default');
  return command;
}

/** Starts the dev server, prints where it listens and stops it on SIGINT or SIGTERM. */
export async function runDevServer(o: DevServerCommandOptions): Promise<void> {
  const server = await startDevServer({
    port: Number(o.port),
    uiPort: o.uiPort === undefined ? undefined : Number(o.uiPort),
    dbFilename: o.dbFilename,
    headless: o.headless,
    namespace: o.namespace,
    forceStart: true,
  });
  console.log(`Temporal frontend: ${server.address} (namespace ${server.namespace})`);
  if (server.uiUrl) console.log(`Temporal Web UI:   ${server.uiUrl}`);
  console.log(`Search attributes: ${SEARCH_ATTRIBUTES.map((k) => `${k.name} (${k.type})`).join(', ')}`);
  console.log(`Temporal CLI:      ${server.cli}`);
  console.log('Press Ctrl+C to stop.');
  const shutdown = () => {
    void server.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
}

async function main(): Promise<void> {
  const program = devServerOptions(new Command().name('dev-server')).parse();
  await runDevServer(program.opts<DevServerCommandOptions>());
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
