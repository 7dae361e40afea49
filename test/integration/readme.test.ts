import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import { freshTaskQueue, testServer } from '../helpers';

const ROOT = path.resolve(__dirname, '../../..');

/** The first fenced code block of a README section. */
function snippet(section: string): string {
  const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf(`\n## ${section}\n`);
  assert.ok(at >= 0, `README has no section \`${section}\``);
  const m = /```(?:js|ts)\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(m, `README section \`${section}\` has no code block`);
  return m[1]!;
}

// The README's quick start, read from the README itself and run as a consumer would: a file
// `quickstart.mjs` in a fresh project whose node_modules holds this package, with `node quickstart.mjs`.
// Only the task queue is changed; the server address comes from TEMPORAL_ADDRESS, as the README says.
describe('README quick start', () => {
  it('runs as written in a fresh ES module project, prints the result and exits', async function () {
    this.timeout(90_000);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'cloacina-consumer-'));
    try {
      mkdirSync(path.join(dir, 'node_modules'));
      symlinkSync(ROOT, path.join(dir, 'node_modules', 'cloacina-temporal'), 'dir');
      writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
      const taskQueue = freshTaskQueue('releases');
      const code = snippet('Quick start').replaceAll("'releases'", `'${taskQueue}'`);
      assert.notEqual(code, snippet('Quick start'), 'the task queue was replaced');
      writeFileSync(path.join(dir, 'quickstart.mjs'), code);
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
        execFile(
          process.execPath,
          ['quickstart.mjs'],
          { cwd: dir, env: { ...process.env, TEMPORAL_ADDRESS: testServer().address }, timeout: 80_000 },
          (err, out, errOut) =>
            err
              ? reject(new Error(`quickstart.mjs failed: ${err.message}\n${errOut}`))
              : resolve({ stdout: out }),
        ),
      );
      assert.equal(
        stdout.trim(),
        inspect({ version: '1.4.2', artifact: 'app-1.4.2.tar.gz', deployed: 'app-1.4.2.tar.gz' }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

function run(cmd: string, args: string[], cwd: string): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(cmd, args, { cwd, timeout: 120_000 }, (err, out, errOut) =>
      err
        ? reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${out}\n${errOut}`))
        : resolve(out),
    ),
  );
}

// The package as published: `npm pack`, unpacked into a fresh project's node_modules (its dependencies
// linked from this checkout's), then every entry of the `exports` map imported from CommonJS, from an ES
// module and from TypeScript under each module resolution a consumer may use.
describe('package exports', () => {
  const CHECKS = `
    assert.equal(typeof root.UnifiedExecutor, 'function');
    assert.equal(typeof root.createWorker, 'function');
    assert.equal(root.pauseUpdate, undefined, 'message definitions are not exported from the root');
    assert.equal(messages.pauseUpdate.name, 'cloacina.pause');
    assert.equal(messages.statusQuery.name, 'cloacina.status');
    assert.equal(messages.PauseRequest.parse({ reason: 'r', by: 'b' }).reason, 'r');
    assert.equal(attributes.CloacinaPaused.name, 'CloacinaPaused');
    assert.equal(attributes.CloacinaPaused.type, 'BOOL');
    assert.equal(attributes.SEARCH_ATTRIBUTES.length, 11);
    assert.equal(typeof workflows.cloacinaDag, 'function');
    assert.equal(pkg.name, 'cloacina-temporal');
  `;
  let dir: string;

  before(async function () {
    this.timeout(120_000);
    dir = mkdtempSync(path.join(os.tmpdir(), 'cloacina-exports-'));
    const nm = path.join(dir, 'node_modules');
    mkdirSync(path.join(nm, 'cloacina-temporal'), { recursive: true });
    const packed = JSON.parse(await run('npm', ['pack', '--json', '--pack-destination', dir], ROOT)) as {
      filename: string;
    }[];
    await run(
      'tar',
      [
        '-xzf',
        path.join(dir, packed[0]!.filename),
        '-C',
        path.join(nm, 'cloacina-temporal'),
        '--strip-components=1',
      ],
      dir,
    );
    for (const entry of readdirSync(path.join(ROOT, 'node_modules')))
      if (entry !== '.bin' && entry !== 'cloacina-temporal')
        symlinkSync(path.join(ROOT, 'node_modules', entry), path.join(nm, entry), 'dir');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  it('ships the docs its errors and README point to', () => {
    const pkg = path.join(dir, 'node_modules', 'cloacina-temporal');
    for (const doc of ['operations.md', 'pause-resume.md', 'reliability.md', 'architecture.md'])
      assert.ok(existsSync(path.join(pkg, 'docs', doc)), `docs/${doc} is in the package`);
    for (const linked of readFileSync(path.join(pkg, 'README.md'), 'utf8').matchAll(/\]\((docs\/[^)#]+)/g))
      assert.ok(
        existsSync(path.join(pkg, linked[1]!)),
        `${linked[1]} (linked from the README) is in the package`,
      );
  });

  it('CommonJS: require() of every subpath; deep paths are not exported', async () => {
    writeFileSync(
      path.join(dir, 'check.cjs'),
      `const assert = require('node:assert/strict');
       const root = require('cloacina-temporal');
       const messages = require('cloacina-temporal/messages');
       const attributes = require('cloacina-temporal/search-attributes');
       const workflows = require('cloacina-temporal/workflows');
       const pkg = require('cloacina-temporal/package.json');
       ${CHECKS}
       assert.throws(() => require('cloacina-temporal/dist/src/executor'), { code: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
       // what a custom bundle passes as preloadModules
       assert.match(require.resolve('cloacina-temporal/workflows/preload'), /dist.workflows.preload.js$/);
       console.log('ok');`,
    );
    assert.equal((await run(process.execPath, ['check.cjs'], dir)).trim(), 'ok');
  });

  it('ES module: import of every subpath', async () => {
    writeFileSync(
      path.join(dir, 'check.mjs'),
      `import assert from 'node:assert/strict';
       import * as root from 'cloacina-temporal';
       import * as messages from 'cloacina-temporal/messages';
       import * as attributes from 'cloacina-temporal/search-attributes';
       import * as workflows from 'cloacina-temporal/workflows';
       import pkg from 'cloacina-temporal/package.json' with { type: 'json' };
       ${CHECKS}
       console.log('ok');`,
    );
    assert.equal((await run(process.execPath, ['check.mjs'], dir)).trim(), 'ok');
  });

  for (const [module, moduleResolution] of [
    ['node16', 'node16'],
    ['esnext', 'bundler'],
    ['commonjs', 'node'],
  ] as const) {
    it(`TypeScript, moduleResolution ${moduleResolution}: every subpath has types`, async function () {
      this.timeout(120_000);
      const sub = path.join(dir, `ts-${moduleResolution}`);
      mkdirSync(sub);
      writeFileSync(
        path.join(sub, 'consumer.ts'),
        `import { UnifiedExecutor, type GateOptions, type GateRequestOptions, type RunStatus } from 'cloacina-temporal';
         import { pauseUpdate, PauseRequest, type ControlResult, type WorkflowRunStatus } from 'cloacina-temporal/messages';
         import { CloacinaPaused, SEARCH_ATTRIBUTES } from 'cloacina-temporal/search-attributes';
         import { cloacinaDag } from 'cloacina-temporal/workflows';
         export const gate: GateOptions = { approvers: ['alice'], requiredApprovals: 1 };
         export const approval: GateRequestOptions = { by: 'alice', comment: 'ok' };
         export const name: string = pauseUpdate.name;
         export const request: PauseRequest = PauseRequest.parse({ reason: 'r' });
         export const paused: { name: string; type: 'BOOL' } = CloacinaPaused;
         export const count: number = SEARCH_ATTRIBUTES.length;
         export type Answers = [ControlResult, WorkflowRunStatus, RunStatus];
         export const started: typeof cloacinaDag = cloacinaDag;
         export const connect: typeof UnifiedExecutor.connect = UnifiedExecutor.connect;
         // @ts-expect-error a gate's options are not an approval's
         export const wrong: GateRequestOptions = { approvers: ['alice'] };`,
      );
      writeFileSync(
        path.join(sub, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            module,
            moduleResolution,
            target: 'es2022',
            strict: true,
            noEmit: true,
            skipLibCheck: true,
            types: ['node'],
          },
          files: ['consumer.ts'],
        }),
      );
      await run(
        process.execPath,
        [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
        sub,
      );
    });
  }
});
