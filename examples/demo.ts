// `npm run demo`: a Temporal dev server with its Web UI, a worker, and a deploy-style DAG that is paused by
// hand while its builds run, resumed, and then held at a two-approver gate before production.
//
//   checkout ─┬─ build_api ─┬─ integration_tests ── [gate] deploy_prod ── smoke_test
//             └─ build_web ─┘
//
// Pass `--keep` to leave the server running afterwards so the run can be browsed in the Web UI.
import { createServer } from 'node:net';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import {
  createWorker,
  defineWorkflow,
  task,
  UnifiedExecutor,
  type AuditEntry,
  type JsonObject,
  type ReportedState as RunState,
  type RunStatus,
} from '../src';
import { startDevServer, type DevServerHandle } from '../temporal-dev';

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Temporal frontend, `host:port`. */
  address: string;
  namespace: string;
  /** Web UI base address, to print a link to the run. */
  uiUrl?: string;
  /** Task queue (default: a fresh one). */
  taskQueue?: string;
  log: (line: string) => void;
}

/** What the demo observed. */
export interface DemoResult {
  workflowId: string;
  state: RunState;
  context: JsonObject;
  audit: AuditEntry[];
  /** Every run-state change seen while polling, in order (e.g. running, pausing, paused, ...). */
  runStates: RunState[];
  /** Identities whose approval released the gate. */
  approvedBy: string[];
  elapsedMs: number;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A task body that takes a little while, like real work. */
const work = (ms: number, fn: (ctx: import('../src').Context) => void) =>
  async function (ctx: import('../src').Context) {
    await sleep(ms);
    fn(ctx);
  };

const checkout = task(
  { id: 'checkout' },
  work(300, (ctx) => ctx.set('commit', `${ctx.get<string>('service') ?? 'app'}@3f9c2e1`)),
);
const buildApi = task(
  { id: 'build_api', dependencies: [checkout] },
  work(1200, (ctx) => ctx.set('artifacts', [`api-image:${ctx.get<string>('commit')}`])),
);
const buildWeb = task(
  { id: 'build_web', dependencies: [checkout] },
  work(900, (ctx) => ctx.set('artifacts', [`web-bundle:${ctx.get<string>('commit')}`])),
);
const integrationTests = task(
  { id: 'integration_tests', dependencies: [buildApi, buildWeb] },
  work(500, (ctx) => ctx.set('tests', { passed: 42, failed: 0 })),
);
const deployProd = task(
  {
    id: 'deploy_prod',
    dependencies: [integrationTests],
    pauseBefore: {
      reason: 'Production deploy needs two approvals',
      approvers: ['alice', 'bob'],
      requiredApprovals: 2,
    },
  },
  work(400, (ctx) => ctx.set('deployed', { environment: 'production', commit: ctx.get('commit') ?? null })),
);
const smokeTest = task(
  { id: 'smoke_test', dependencies: [deployProd] },
  work(300, (ctx) => ctx.set('healthy', true)),
);

/** The demo's workflow definition. */
export const deployWorkflow = defineWorkflow({
  name: 'deploy_service',
  description: 'checkout, parallel builds, tests, a gated production deploy and a smoke test',
  tasks: [checkout, buildApi, buildWeb, integrationTests, deployProd, smokeTest],
});

const WIDTH = 22;
const TERMINAL: ReadonlySet<RunState> = new Set(['completed', 'failed', 'cancelled']);

/** Polls getStatus, prints every run- and task-state change with the elapsed time, and lets callers wait. */
class Watcher {
  latest: RunStatus | undefined;
  readonly runStates: RunState[] = [];
  #stopped = false;
  #waiters = new Set<() => void>();
  #lastError: unknown;
  readonly done: Promise<void>;

  constructor(
    private readonly executor: UnifiedExecutor,
    private readonly workflowId: string,
    private readonly stamp: () => string,
    private readonly log: (line: string) => void,
  ) {
    this.done = this.#loop();
  }

  async #loop(): Promise<void> {
    while (!this.#stopped) {
      try {
        const s = await this.executor.getStatus(this.workflowId);
        this.#print(this.latest, s);
        this.latest = s;
        for (const w of this.#waiters) w();
        if (TERMINAL.has(s.state)) return;
      } catch (err) {
        this.#lastError = err; // e.g. the first poll racing the workflow's first task
      }
      await sleep(100);
    }
  }

  #print(prev: RunStatus | undefined, s: RunStatus): void {
    const lines: string[] = [];
    for (const [id, t] of Object.entries(s.tasks)) {
      const before = prev?.tasks[id]?.state;
      if (before === t.state || (before === undefined && t.state === 'pending')) continue;
      lines.push(`${this.stamp()}  ${`task ${id}`.padEnd(WIDTH)} ${before ?? '·'} → ${t.state}`);
    }
    for (const g of s.gates) {
      const before = prev?.gates.find((x) => x.taskId === g.taskId)?.approvals.length ?? 0;
      if (g.approvals.length !== before)
        lines.push(
          `${this.stamp()}  ${`gate ${g.taskId}`.padEnd(WIDTH)} ${g.approvals.length}/${g.requiredApprovals} approvals (${g.approvals.map((a) => a.by).join(', ')})`,
        );
    }
    if (prev?.state !== s.state) {
      this.runStates.push(s.state);
      const why =
        s.pause && (s.state === 'pausing' || s.state === 'paused')
          ? `   (${s.pause.kind} pause by ${s.pause.by}: ${s.pause.reason})`
          : '';
      const line = `${this.stamp()}  ${'run'.padEnd(WIDTH)} ${prev?.state ?? '·'} → ${s.state}${why}`;
      // Print causes before effects: tasks that settled before a pause or the end, the run before tasks it starts.
      if (s.state === 'running' || s.state === 'resuming') lines.unshift(line);
      else lines.push(line);
    }
    for (const line of lines) this.log(line);
  }

  /** Resolves with the first polled status that satisfies `pred`. */
  waitFor(pred: (s: RunStatus) => boolean, what: string, timeoutMs = 20_000): Promise<RunStatus> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.latest && pred(this.latest)) {
          cleanup();
          resolve(this.latest);
        } else if (this.latest && TERMINAL.has(this.latest.state)) {
          cleanup();
          reject(new Error(`The run ended (${this.latest.state}) while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        const last = this.#lastError instanceof Error ? `; last error: ${this.#lastError.message}` : '';
        reject(new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${last}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.done;
  }
}

function formatAudit(e: AuditEntry): string {
  const what = [e.kind, e.taskId && `task ${e.taskId}`, e.mode].filter(Boolean).join(', ');
  const why = e.reason ?? e.message;
  return `  #${String(e.seq).padEnd(3)} ${e.at}  ${e.action.padEnd(8)} by ${(e.by ?? '-').padEnd(16)}${what ? ` [${what}]` : ''}${why ? `  “${why}”` : ''}`;
}

/** Runs the deploy demo against a server: its own worker and task queue; resolves once the run completed. */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const taskQueue = opts.taskQueue ?? `demo-${process.pid}-${Date.now()}`;
  const worker = await createWorker({
    workflows: [deployWorkflow],
    taskQueue,
    address: opts.address,
    namespace: opts.namespace,
    identity: `demo-worker@${process.pid}`,
  });
  const executor = await UnifiedExecutor.connect({
    address: opts.address,
    namespace: opts.namespace,
    taskQueue,
    identity: 'demo-operator',
  });
  try {
    return await worker.runUntil(scenario(executor, opts, taskQueue));
  } finally {
    await executor.close();
  }
}

async function scenario(
  executor: UnifiedExecutor,
  opts: DemoOptions,
  taskQueue: string,
): Promise<DemoResult> {
  const { log } = opts;
  const t0 = Date.now();
  const stamp = () => `+${((Date.now() - t0) / 1000).toFixed(2).padStart(5)}s`;
  const say = (line: string) => log(`${stamp()}  » ${line}`);

  const handle = await executor.executeAsync(deployWorkflow, { service: 'checkout-service' });
  const { workflowId } = handle;
  log(`Started workflow ${workflowId} on task queue ${taskQueue}`);
  if (opts.uiUrl) log(`Watch it live:  ${opts.uiUrl}/namespaces/${opts.namespace}/workflows/${workflowId}`);
  log('');
  const watcher = new Watcher(executor, workflowId, stamp, log);
  try {
    // 1. A manual, graceful pause while the builds are in flight.
    await watcher.waitFor((s) => s.tasks.build_api?.state === 'running', 'build_api to start');
    say('pause (graceful) requested by release-manager while the builds run');
    const ack = await executor.pauseWorkflow(workflowId, {
      reason: 'Hold the release: waiting for the on-call handover',
      by: 'release-manager',
    });
    say(`pause accepted: state is ${ack.state} (running builds finish, nothing new starts)`);
    const paused = await watcher.waitFor(
      (s) => s.state === 'paused' && s.pause?.kind === 'manual',
      'the pause to take effect',
    );
    say(`paused: both builds finished, integration_tests is ${paused.tasks.integration_tests?.state}`);
    say(
      `(paused runs are listed by: temporal workflow list --address ${opts.address} --query 'CloacinaState="paused"')`,
    );
    await sleep(1500);
    say(`still paused after 1.5 s: integration_tests is ${watcher.latest?.tasks.integration_tests?.state}`);

    // 2. Resume.
    const resumed = await executor.resumeWorkflow(workflowId, {
      by: 'release-manager',
      reason: 'On-call handover done',
    });
    say(`resume accepted: state is ${resumed.state}`);

    // 3. The gate before deploy_prod: two distinct approvers.
    const gated = await watcher.waitFor(
      (s) => s.tasks.deploy_prod?.state === 'waiting' && s.state === 'paused',
      'the gate before deploy_prod',
    );
    const gate = gated.gates.find((g) => g.taskId === 'deploy_prod');
    say(
      `deploy_prod is held by a gate: “${gate?.reason}” (approvers ${gate?.approvers?.join(', ')}, ${gate?.requiredApprovals} needed)`,
    );
    await sleep(500);
    const first = await executor.approve(workflowId, 'deploy_prod', {
      by: 'alice',
      comment: 'Tests are green',
    });
    say(`alice approved: state is still ${first.state} (1 of 2 approvals)`);
    await sleep(500);
    const second = await executor.approve(workflowId, 'deploy_prod', {
      by: 'bob',
      comment: 'Ship it',
    });
    say(`bob approved: state is ${second.state} (2 of 2 approvals, deploy_prod may run)`);

    // 4. The end.
    const context = await handle.result();
    const final = await watcher.waitFor((s) => TERMINAL.has(s.state), 'the run to end');
    await watcher.stop();
    const elapsedMs = Date.now() - t0;
    log('');
    log(
      `Run ${final.state} in ${(elapsedMs / 1000).toFixed(1)} s (${(final.activeMs / 1000).toFixed(1)} s active, the rest paused).`,
    );
    log('Final context:');
    for (const line of JSON.stringify(context, null, 2).split('\n')) log(`  ${line}`);
    log('Audit trail (who / when / why):');
    for (const e of final.audit) log(formatAudit(e));
    const approvedBy = final.audit.filter((e) => e.action === 'approve').map((e) => e.by ?? '');
    return {
      workflowId,
      state: final.state,
      context,
      audit: final.audit,
      runStates: watcher.runStates,
      approvedBy,
      elapsedMs,
    };
  } finally {
    await watcher.stop();
  }
}

/** Whether 127.0.0.1:`port` can be bound right now. */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

async function cli(): Promise<void> {
  const keep = process.argv.includes('--keep');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  let server: DevServerHandle | undefined;
  let stopping: Promise<void> | undefined;
  const stopServer = () => (stopping ??= server?.stop() ?? Promise.resolve());
  let keeping = false;
  const onSignal = (signal: NodeJS.Signals) => {
    // With --keep, Ctrl+C is how the demo ends; before that it interrupts the demo.
    console.log(keeping ? '\nStopping the dev server' : `\nInterrupted (${signal}): stopping the dev server`);
    void stopServer().then(() => process.exit(keeping ? 0 : 130));
  };
  // `on`, not `once`: a listener that stays lets temporal-dev's own signal hook leave the exit to this one.
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let code = 0;
  try {
    const defaultsFree = process.env.TEMPORAL_ADDRESS
      ? true
      : (await portFree(7233)) && (await portFree(8233));
    if (!defaultsFree) console.log('Ports 7233/8233 are busy: starting the dev server on free ports instead');
    console.log('Starting a Temporal dev server (the first run installs the Temporal CLI)...');
    server = await startDevServer(defaultsFree ? {} : { port: 0, uiPort: 0 });
    const bar = '='.repeat(72);
    console.log(bar);
    console.log(`  Temporal frontend: ${server.address} (namespace ${server.namespace})`);
    console.log(
      server.uiUrl
        ? `  Temporal Web UI:   ${server.uiUrl}`
        : `  Temporal Web UI:   that of the server at TEMPORAL_ADDRESS=${server.address}`,
    );
    console.log(bar);
    const result = await runDemo({
      address: server.address,
      namespace: server.namespace,
      uiUrl: server.uiUrl,
      log: (line) => console.log(line),
    });
    if (result.state !== 'completed') code = 1;
    if (server.uiUrl)
      console.log(
        `\nThe run in the Web UI: ${server.uiUrl}/namespaces/${server.namespace}/workflows/${result.workflowId}`,
      );
  } catch (err) {
    console.error(`Demo failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    code = 1;
  }
  if (keep && server?.owned && code === 0) {
    console.log(
      `\nThe dev server keeps running (--keep): browse ${server.uiUrl ?? server.address}. Press Ctrl+C to stop.`,
    );
    keeping = true;
    return; // the signal handler stops the server
  }
  await stopServer();
  process.exitCode = code;
}

if (require.main === module) void cli();
