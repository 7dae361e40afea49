// A worker in its own process (worker-process.ts, raw-worker-process.ts), for the tests that kill it.
import { spawn, type ChildProcess } from 'node:child_process';
import { testServer } from '../helpers';

/** A worker in its own process, killed with SIGKILL at a point it announces on stdout. */
export class DoomedWorker {
  readonly #lines: string[] = [];
  readonly #waiters: (() => void)[] = [];
  readonly #exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        this.#lines.push(buf.slice(0, i));
        buf = buf.slice(i + 1);
        for (const w of this.#waiters.splice(0)) w();
      }
    });
    let err = '';
    child.stderr!.on('data', (chunk: Buffer) => (err = (err + chunk.toString()).slice(-4000)));
    this.#exited = new Promise((resolve) =>
      child.once('exit', () => {
        this.stderr = err;
        resolve();
        for (const w of this.#waiters.splice(0)) w();
      }),
    );
  }

  stderr = '';

  /** Runs `script` with `env` and the test server's address; returns once it prints `@@ ready`. */
  static async start(script: string, env: Record<string, string>): Promise<DoomedWorker> {
    const child = spawn(process.execPath, [script], {
      env: { ...process.env, TEMPORAL_ADDRESS: testServer().address, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const w = new DoomedWorker(child);
    await w.waitFor('@@ ready', 60_000);
    return w;
  }

  /** Waits until the worker prints `line`. */
  async waitFor(line: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.#lines.includes(line)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`The worker process exited before printing \`${line}\`: ${this.stderr}`);
      if (Date.now() > deadline)
        throw new Error(`The worker process did not print \`${line}\` within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 250);
      });
    }
  }

  /** SIGKILL: the process ends with no chance to report anything. */
  async kill(): Promise<number> {
    this.child.kill('SIGKILL');
    await this.#exited;
    return Date.now();
  }
}
