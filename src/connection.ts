// Where and how to connect: flags and the `temporal` CLI's environment variables turned into connection
// options, and connections that fail fast, with a message that says what to do, when no server answers.
import { readFileSync } from 'node:fs';
import { connect as tcpConnect } from 'node:net';
import { Connection, type ConnectionOptions, type TLSConfig } from '@temporalio/client';
import { InvalidInputError, ServerUnreachableError } from './errors';

/** The frontend address used when neither a flag nor `TEMPORAL_ADDRESS` names one. */
export const DEFAULT_ADDRESS = '127.0.0.1:7233';
/** The namespace used when neither a flag nor `TEMPORAL_NAMESPACE` names one. */
export const DEFAULT_NAMESPACE = 'default';

/** Connection settings as flags give them; each one left out is read from the environment. */
export interface ConnectionFlags {
  /** @default `TEMPORAL_ADDRESS`, else 127.0.0.1:7233 */
  address?: string;
  /** @default `TEMPORAL_NAMESPACE`, else `default` */
  namespace?: string;
  /** @default `TEMPORAL_API_KEY`, else none */
  apiKey?: string;
  /**
   * Force TLS on or off.
   * @default `TEMPORAL_TLS`, else on when an API key, a certificate or a CA is given
   */
  tls?: boolean;
  /** @default `TEMPORAL_TLS_CLIENT_CERT_PATH` (or its older name), else none */
  tlsCertPath?: string;
  /** @default `TEMPORAL_TLS_CLIENT_KEY_PATH` (or its older name), else none */
  tlsKeyPath?: string;
  /** @default `TEMPORAL_TLS_SERVER_CA_CERT_PATH` (or its older name), else none */
  tlsCaPath?: string;
  /** @default `TEMPORAL_TLS_CLIENT_CERT_DATA` (or its older name), else none */
  tlsCertData?: string;
  /** @default `TEMPORAL_TLS_CLIENT_KEY_DATA` (or its older name), else none */
  tlsKeyData?: string;
  /** @default `TEMPORAL_TLS_SERVER_CA_CERT_DATA` (or its older name), else none */
  tlsCaData?: string;
  /** @default `TEMPORAL_TLS_SERVER_NAME`, else none */
  tlsServerName?: string;
}

/** Where and how to connect, for a client (`Connection`) or a worker (`NativeConnection`). */
export interface ResolvedConnection {
  address: string;
  namespace: string;
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

/**
 * Each setting's environment variables, first match wins: the names of the `temporal` CLI (1.x) and the
 * Temporal SDKs' environment configuration, then the older names the `temporal` CLI 0.x, tctl and the
 * Web UI server use.
 */
export const CONNECTION_ENV = {
  address: ['TEMPORAL_ADDRESS'],
  namespace: ['TEMPORAL_NAMESPACE'],
  apiKey: ['TEMPORAL_API_KEY'],
  tls: ['TEMPORAL_TLS'],
  tlsCertPath: ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CERT'],
  tlsKeyPath: ['TEMPORAL_TLS_CLIENT_KEY_PATH', 'TEMPORAL_TLS_KEY'],
  tlsCaPath: ['TEMPORAL_TLS_SERVER_CA_CERT_PATH', 'TEMPORAL_TLS_CA'],
  tlsCertData: ['TEMPORAL_TLS_CLIENT_CERT_DATA', 'TEMPORAL_TLS_CERT_DATA'],
  tlsKeyData: ['TEMPORAL_TLS_CLIENT_KEY_DATA', 'TEMPORAL_TLS_KEY_DATA'],
  tlsCaData: ['TEMPORAL_TLS_SERVER_CA_CERT_DATA', 'TEMPORAL_TLS_CA_DATA'],
  tlsServerName: ['TEMPORAL_TLS_SERVER_NAME'],
} as const satisfies Record<keyof ConnectionFlags, readonly string[]>;

/** The flag each setting has on the command line, for messages. */
const FLAG: Record<keyof ConnectionFlags, string> = {
  address: '--address',
  namespace: '--namespace',
  apiKey: '--api-key',
  tls: '--tls',
  tlsCertPath: '--tls-cert-path',
  tlsKeyPath: '--tls-key-path',
  tlsCaPath: '--tls-ca-path',
  tlsCertData: '--tls-cert-data',
  tlsKeyData: '--tls-key-data',
  tlsCaData: '--tls-ca-data',
  tlsServerName: '--tls-server-name',
};

type Env = Record<string, string | undefined>;

/** A setting's value and where it came from (a flag or an environment variable), for messages. */
function setting(
  flags: ConnectionFlags,
  env: Env,
  key: Exclude<keyof ConnectionFlags, 'tls'>,
): { value: string; from: string } | undefined {
  const flag = flags[key];
  if (flag !== undefined && flag !== '') return { value: flag, from: FLAG[key] };
  for (const name of CONNECTION_ENV[key]) {
    const value = env[name];
    if (value !== undefined && value !== '') return { value, from: name };
  }
  return undefined;
}

function tlsSwitch(flags: ConnectionFlags, env: Env): boolean | undefined {
  if (flags.tls !== undefined) return flags.tls;
  const raw = env.TEMPORAL_TLS?.trim().toLowerCase();
  if (raw === undefined || raw === '') return undefined;
  if (['true', '1', 'yes', 'on'].includes(raw)) return true;
  if (['false', '0', 'no', 'off'].includes(raw)) return false;
  throw new InvalidInputError(
    `Expected TEMPORAL_TLS to be true or false, got \`${env.TEMPORAL_TLS}\`: set it to true, false, or unset it`,
  );
}

/** PEM bytes from inline data or a file; a missing file is refused naming the flag or variable. */
function pem(
  flags: ConnectionFlags,
  env: Env,
  dataKey: 'tlsCertData' | 'tlsKeyData' | 'tlsCaData',
  pathKey: 'tlsCertPath' | 'tlsKeyPath' | 'tlsCaPath',
): { bytes: Buffer; from: string } | undefined {
  const data = setting(flags, env, dataKey);
  const file = setting(flags, env, pathKey);
  if (data && file)
    throw new InvalidInputError(
      `Both ${data.from} and ${file.from} are set: give the certificate data or its path, not both`,
    );
  if (data) return { bytes: Buffer.from(data.value), from: data.from };
  if (!file) return undefined;
  try {
    return { bytes: readFileSync(file.value), from: file.from };
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new InvalidInputError(
      `Cannot read ${file.from} \`${file.value}\` (${why}): point it at a readable PEM file`,
    );
  }
}

/** `host:port` as given, or with Temporal's port 7233 added to a bare host; anything else is refused. */
function hostPort({ value, from }: { value: string; from: string }): string {
  if (/^\[[^\]\s]+\]:\d+$/.test(value) || /^[^:[\]\s/]+:\d+$/.test(value)) return value;
  if (/^\[[^\]\s]+\]$/.test(value) || /^[^:[\]\s/]+$/.test(value)) return `${value}:7233`;
  throw new InvalidInputError(
    `Expected the Temporal address to be host:port like 127.0.0.1:7233, got \`${value}\` (from ${from})`,
  );
}

/**
 * Connection options from flags, falling back, setting by setting, on the environment variables the
 * `temporal` CLI reads: `TEMPORAL_ADDRESS`, `TEMPORAL_NAMESPACE`, `TEMPORAL_API_KEY`, `TEMPORAL_TLS`,
 * `TEMPORAL_TLS_CLIENT_CERT_PATH` / `TEMPORAL_TLS_CLIENT_KEY_PATH` / `TEMPORAL_TLS_SERVER_CA_CERT_PATH`
 * (or the older `TEMPORAL_TLS_CERT` / `TEMPORAL_TLS_KEY` / `TEMPORAL_TLS_CA`), their `_DATA` forms
 * with inline PEM, and `TEMPORAL_TLS_SERVER_NAME`. Defaults: 127.0.0.1:7233, namespace `default`, no TLS.
 * TLS is turned on by an API key, a client certificate, a CA or a server name unless `tls` is false.
 * Certificate files are read here; a bad value throws an InvalidInputError naming the flag or variable.
 */
export function connectionOptionsFromEnv(
  flags: ConnectionFlags = {},
  env: Env = process.env,
): ResolvedConnection {
  const address = hostPort(setting(flags, env, 'address') ?? { value: DEFAULT_ADDRESS, from: 'the default' });
  const namespace = setting(flags, env, 'namespace')?.value ?? DEFAULT_NAMESPACE;
  const apiKey = setting(flags, env, 'apiKey')?.value;
  const tlsOn = tlsSwitch(flags, env);
  const cert = pem(flags, env, 'tlsCertData', 'tlsCertPath');
  const key = pem(flags, env, 'tlsKeyData', 'tlsKeyPath');
  const ca = pem(flags, env, 'tlsCaData', 'tlsCaPath');
  const serverName = setting(flags, env, 'tlsServerName')?.value;
  if (Boolean(cert) !== Boolean(key)) {
    const [has, lacks] = cert ? [cert.from, 'key'] : [key!.from, 'certificate'];
    throw new InvalidInputError(
      `${has} is set but the client ${lacks} is not: mTLS needs both --tls-cert-path and --tls-key-path (TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH)`,
    );
  }
  const out: ResolvedConnection = { address, namespace };
  if (apiKey) out.apiKey = apiKey;
  const tlsConfig: TLSConfig = {
    ...(cert && key ? { clientCertPair: { crt: cert.bytes, key: key.bytes } } : {}),
    ...(ca ? { serverRootCACertificate: ca.bytes } : {}),
    ...(serverName ? { serverNameOverride: serverName } : {}),
  };
  const configured = Object.keys(tlsConfig).length > 0;
  if (tlsOn === false) {
    if (configured)
      throw new InvalidInputError(
        'TLS is turned off (TEMPORAL_TLS=false or --tls=false) but a certificate, CA or server name is set: drop one or the other',
      );
  } else if (configured) out.tls = tlsConfig;
  else if (tlsOn === true || apiKey) out.tls = true;
  return out;
}

/** How long the reachability check waits for a TCP connection before calling the address unreachable. */
export const PROBE_TIMEOUT_MS = 3000;

const SOCKET_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'unknown host',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EADDRNOTAVAIL: 'address not available',
};

/**
 * Opens (and closes) a TCP connection to `address`; throws a ServerUnreachableError within `timeoutMs`
 * when nothing accepts it. gRPC itself retries a refused connection until its deadline (10 s); this
 * check answers at once. Skipped when a gRPC proxy is configured, since then only the proxy is dialled.
 */
export async function checkReachable(address: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<void> {
  if (process.env.grpc_proxy || process.env.https_proxy || process.env.HTTPS_PROXY) return;
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i).replace(/^\[(.*)\]$/, '$1');
  const port = Number(address.slice(i + 1));
  await new Promise<void>((resolve, reject) => {
    const socket = tcpConnect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ServerUnreachableError(address, `no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.destroy();
      resolve();
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      socket.destroy();
      reject(
        new ServerUnreachableError(address, SOCKET_REASONS[err.code ?? ''] ?? err.message, { cause: err }),
      );
    });
  });
}

/** A client connection that fails fast with a ServerUnreachableError when no server answers. */
export async function connectClient(options: ConnectionOptions & { address: string }): Promise<Connection> {
  await checkReachable(options.address);
  try {
    return await Connection.connect(options);
  } catch (err) {
    // Something accepted the TCP connection (checked above) but gRPC got no answer: another service.
    const message = err instanceof Error ? err.message : String(err);
    const hint = /deadline/i.test(message)
      ? '; something accepts connections there but does not answer as a Temporal frontend: check the port ' +
        '(the frontend serves gRPC, by default on 7233; the Web UI, on another port, is HTTP)'
      : '';
    throw new ServerUnreachableError(options.address, `${message}${hint}`, { cause: err });
  }
}

/** The reason in a Rust transport error (a worker connection's), e.g. `Connection refused` or `dns error`. */
export function transportReason(message: string): string {
  const os = /message: "([^"]+)"/.exec(message)?.[1];
  if (os) return os.toLowerCase();
  const inner = /ConnectError\("([^"]+)"/.exec(message)?.[1];
  if (inner === 'dns error') return 'unknown host';
  return inner ?? message;
}
