// Unit tests of src/connection.ts: flags and TEMPORAL_* variables turned into connection options, and
// connections to an address where nothing listens failing fast with a message that says what to do. No
// Temporal server is needed.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import {
  checkReachable,
  connectionOptionsFromEnv,
  DEFAULT_ADDRESS,
  transportReason,
} from '../../src/connection';
import { InvalidInputError, ServerUnreachableError } from '../../src/errors';
import { UnifiedExecutor } from '../../src/executor';
import { createWorker } from '../../src/worker';

const dir = mkdtempSync(path.join(tmpdir(), 'cloacina-conn-'));
function pemFile(name: string, body: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, `-----BEGIN ${body}-----\n`);
  return file;
}
const cert = pemFile('client.pem', 'CERT');
const key = pemFile('client.key', 'KEY');
const ca = pemFile('ca.pem', 'CA');

const text = (bytes: Uint8Array | undefined) => Buffer.from(bytes ?? []).toString();

function refused(fn: () => unknown, ...texts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof InvalidInputError, `expected an InvalidInputError, got ${String(err)}`);
    for (const t of texts) assert.ok(err.message.includes(t), `${err.message}\nlacks ${t}`);
    return true;
  });
}

/** Awaits `promise` and expects a ServerUnreachableError for `address`, within `maxMs`. */
async function unreachable(promise: Promise<unknown>, address: string, maxMs: number): Promise<void> {
  const t0 = Date.now();
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  const ms = Date.now() - t0;
  assert.ok(
    caught instanceof ServerUnreachableError,
    `expected a ServerUnreachableError, got ${String(caught)}`,
  );
  assert.equal(caught.address, address);
  assert.ok(ms < maxMs, `took ${ms} ms`);
  assert.ok(!caught.message.includes('tonic'), caught.message);
  assert.ok(caught.message.startsWith(`Cannot reach a Temporal server at ${address} (`), caught.message);
  assert.ok(caught.message.includes('`npx cloacina-temporal dev-server`'), caught.message);
  assert.ok(caught.message.includes('set TEMPORAL_ADDRESS (or --address)'), caught.message);
}

describe('connectionOptionsFromEnv', () => {
  it('defaults to 127.0.0.1:7233, namespace default, no TLS', () => {
    assert.deepEqual(connectionOptionsFromEnv({}, {}), { address: DEFAULT_ADDRESS, namespace: 'default' });
    assert.equal(DEFAULT_ADDRESS, '127.0.0.1:7233');
  });

  it('reads the temporal CLI variables, and a flag wins over its variable', () => {
    const env = {
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'ops',
      TEMPORAL_API_KEY: 'k1',
    };
    assert.deepEqual(connectionOptionsFromEnv({}, env), {
      address: 'temporal.internal:7233',
      namespace: 'ops',
      apiKey: 'k1',
      tls: true,
    });
    assert.deepEqual(
      connectionOptionsFromEnv({ address: '10.0.0.5:7233', namespace: 'prod', apiKey: 'k2' }, env),
      {
        address: '10.0.0.5:7233',
        namespace: 'prod',
        apiKey: 'k2',
        tls: true,
      },
    );
    // An empty variable counts as unset.
    assert.equal(connectionOptionsFromEnv({}, { TEMPORAL_ADDRESS: '' }).address, DEFAULT_ADDRESS);
  });

  it('turns TLS on by TEMPORAL_TLS or --tls, and off for an API key only when told', () => {
    assert.equal(connectionOptionsFromEnv({}, { TEMPORAL_TLS: 'true' }).tls, true);
    assert.equal(connectionOptionsFromEnv({ tls: true }, {}).tls, true);
    assert.equal(connectionOptionsFromEnv({}, { TEMPORAL_TLS: '0' }).tls, undefined);
    const keyNoTls = connectionOptionsFromEnv({}, { TEMPORAL_API_KEY: 'k', TEMPORAL_TLS: 'false' });
    assert.deepEqual(keyNoTls, { address: DEFAULT_ADDRESS, namespace: 'default', apiKey: 'k' });
    refused(() => connectionOptionsFromEnv({}, { TEMPORAL_TLS: 'maybe' }), 'TEMPORAL_TLS', '`maybe`');
  });

  it('reads mTLS files from the current variable names', () => {
    const o = connectionOptionsFromEnv(
      {},
      {
        TEMPORAL_TLS_CLIENT_CERT_PATH: cert,
        TEMPORAL_TLS_CLIENT_KEY_PATH: key,
        TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca,
        TEMPORAL_TLS_SERVER_NAME: 'frontend.internal',
      },
    );
    assert.ok(typeof o.tls === 'object');
    assert.equal(text(o.tls.clientCertPair?.crt), '-----BEGIN CERT-----\n');
    assert.equal(text(o.tls.clientCertPair?.key), '-----BEGIN KEY-----\n');
    assert.equal(text(o.tls.serverRootCACertificate), '-----BEGIN CA-----\n');
    assert.equal(o.tls.serverNameOverride, 'frontend.internal');
  });

  it('reads the older TEMPORAL_TLS_CERT / TEMPORAL_TLS_KEY / TEMPORAL_TLS_CA, inline data, and flags first', () => {
    const legacy = connectionOptionsFromEnv(
      {},
      { TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CA: ca },
    );
    assert.ok(typeof legacy.tls === 'object');
    assert.equal(text(legacy.tls.clientCertPair?.crt), '-----BEGIN CERT-----\n');
    assert.equal(text(legacy.tls.serverRootCACertificate), '-----BEGIN CA-----\n');
    const inline = connectionOptionsFromEnv(
      {},
      { TEMPORAL_TLS_CLIENT_CERT_DATA: 'inline-cert', TEMPORAL_TLS_CLIENT_KEY_DATA: 'inline-key' },
    );
    assert.ok(typeof inline.tls === 'object');
    assert.equal(text(inline.tls.clientCertPair?.crt), 'inline-cert');
    assert.equal(text(inline.tls.clientCertPair?.key), 'inline-key');
    const otherCert = pemFile('other.pem', 'OTHER');
    const flagged = connectionOptionsFromEnv(
      { tlsCertPath: otherCert, tlsKeyPath: key },
      { TEMPORAL_TLS_CLIENT_CERT_PATH: cert, TEMPORAL_TLS_CLIENT_KEY_PATH: key },
    );
    assert.ok(typeof flagged.tls === 'object');
    assert.equal(text(flagged.tls.clientCertPair?.crt), '-----BEGIN OTHER-----\n');
  });

  it('refuses bad settings naming the flag or variable and the fix', () => {
    refused(
      () => connectionOptionsFromEnv({}, { TEMPORAL_TLS_CLIENT_CERT_PATH: cert }),
      'TEMPORAL_TLS_CLIENT_CERT_PATH is set but the client key is not',
      '--tls-key-path',
    );
    refused(
      () => connectionOptionsFromEnv({ tlsKeyPath: key }, {}),
      '--tls-key-path is set but the client certificate is not',
    );
    refused(
      () => connectionOptionsFromEnv({ tlsCaPath: path.join(dir, 'nope.pem') }, {}),
      '--tls-ca-path',
      'nope.pem',
      'no such file',
    );
    refused(
      () => connectionOptionsFromEnv({}, { TEMPORAL_TLS_CA: path.join(dir, 'gone.pem') }),
      'Cannot read TEMPORAL_TLS_CA',
    );
    refused(
      () =>
        connectionOptionsFromEnv(
          {},
          { TEMPORAL_TLS_CLIENT_CERT_DATA: 'x', TEMPORAL_TLS_CLIENT_CERT_PATH: cert },
        ),
      'Both TEMPORAL_TLS_CLIENT_CERT_DATA and TEMPORAL_TLS_CLIENT_CERT_PATH are set',
    );
    refused(
      () => connectionOptionsFromEnv({ tls: false }, { TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca }),
      'TLS is turned off',
    );
    refused(
      () => connectionOptionsFromEnv({}, { TEMPORAL_ADDRESS: 'http://localhost:7233' }),
      'host:port',
      '`http://localhost:7233`',
      'TEMPORAL_ADDRESS',
    );
    refused(() => connectionOptionsFromEnv({ address: 'a b:7233' }, {}), '`a b:7233`', '--address');
    refused(() => connectionOptionsFromEnv({ address: '::1' }, {}), '`::1`', '--address');
  });

  it("adds Temporal's port to a bare host, IPv6 in brackets too", () => {
    assert.equal(connectionOptionsFromEnv({ address: 'localhost' }, {}).address, 'localhost:7233');
    assert.equal(connectionOptionsFromEnv({}, { TEMPORAL_ADDRESS: '[::1]' }).address, '[::1]:7233');
    assert.equal(connectionOptionsFromEnv({}, { TEMPORAL_ADDRESS: '[::1]:7234' }).address, '[::1]:7234');
  });
});

describe('connecting where no server listens', () => {
  const saved = process.env.TEMPORAL_ADDRESS;
  afterEach(() => {
    if (saved === undefined) delete process.env.TEMPORAL_ADDRESS;
    else process.env.TEMPORAL_ADDRESS = saved;
  });

  it('the executor fails within a few seconds, naming the address and the fix', async () => {
    await unreachable(
      UnifiedExecutor.connect({ taskQueue: 'q', address: '127.0.0.1:1' }),
      '127.0.0.1:1',
      3000,
    );
    // With no address, TEMPORAL_ADDRESS says where.
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:2';
    await unreachable(UnifiedExecutor.connect({ taskQueue: 'q' }), '127.0.0.1:2', 3000);
    // A lazily connecting executor too, on its first request.
    await unreachable(
      new UnifiedExecutor('temporal://127.0.0.1:1/default?taskQueue=q').getStatus('x'),
      '127.0.0.1:1',
      3000,
    );
  });

  it('createWorker reports a ServerUnreachableError, not a raw transport error', async () => {
    await unreachable(
      createWorker({ workflows: [], taskQueue: 'q', address: '127.0.0.1:1' }),
      '127.0.0.1:1',
      3000,
    );
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:2';
    await unreachable(createWorker({ workflows: [], taskQueue: 'q' }), '127.0.0.1:2', 3000);
  });

  it('checkReachable passes for a listening port and names the reason otherwise', async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as AddressInfo;
    try {
      await checkReachable(`127.0.0.1:${port}`);
    } finally {
      server.close();
    }
    await assert.rejects(checkReachable('127.0.0.1:1'), /^ServerUnreachableError: .*\(connection refused\)/);
    await assert.rejects(
      checkReachable('no-such-host.invalid:7233'),
      /\((unknown host|host name lookup failed)\)/,
    );
  });

  it('reads the reason out of a worker transport error', () => {
    assert.equal(
      transportReason(
        'tonic::transport::Error(Transport, ConnectError(ConnectError("tcp connect error", 127.0.0.1:1, Os { code: 111, kind: ConnectionRefused, message: "Connection refused" })))',
      ),
      'connection refused',
    );
    assert.equal(
      transportReason(
        'tonic::transport::Error(Transport, ConnectError(ConnectError("dns error", Custom { kind: Uncategorized, error: "failed to lookup address information" })))',
      ),
      'unknown host',
    );
  });
});
