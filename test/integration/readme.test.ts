import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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
