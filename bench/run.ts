// `npm run bench`: the performance figures of the product against raw Temporal baselines measured in the
// same run, on one server. Prints a table and writes bench/results/latest.json.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { execFile, fork } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import {
  bundleWorkflows,
  createWorker,
  defineWorkflow,
  task,
  UnifiedExecutor,
  type WorkflowDefinition,
} from '../src';
import { startDevServer } from '../temporal-dev';
import { MAX_IN_FLIGHT } from '../workflows/task-driver';
import { pauseSignal, resumeSignal } from '../workflows/messages';
import { doneSignal, pingUpdate, type RawActivities } from './raw-workflows';
import { memoryGate, type MemoryReport } from './memory-worker';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One row of the results table. */
interface Figure {
  figure: string;
  ours: string;
  baseline: string;
  ratio: string;
  goal: string;
  met?: boolean;
  samples?: Record<string, number[]>;
}

/** One row of the scale table: cost per task of a DAG shape at one size, library beside raw. */
interface ScaleRow {
  shape: 'chain' | 'fan-out';
  tasks: number;
  /** Median wall time per task, ms. */
  wallOurs: number;
  wallRaw: number;
  /** Median worker + client CPU per task (both workers and the client share this process), ms. */
  cpuOurs: number;
  cpuRaw: number;
  /** Runs of the library's workflow that continued as new. */
  continuedAsNew: number;
  note?: string;
}

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const p50p95 = (xs: number[]) => `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.95))}`;

/** Wall time and this process's CPU (user + system), in ms, of one call of `fn`. */
async function measureRun(fn: () => Promise<unknown>): Promise<{ wall: number; cpu: number }> {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fn();
  const wall = performance.now() - t0;
  const c = process.cpuUsage(c0);
  return { wall, cpu: (c.user + c.system) / 1000 };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const quick = process.argv.includes('--quick');
  // `--only pause,dag` runs some figures: pause (with history events), resume, immediate, native, dag, bulk,
  // scale, local, wide, memory.
  const onlyArg = process.argv.indexOf('--only');
  const only = onlyArg >= 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;
  // Each section asks once, in order: when each began, for the time each took.
  const sectionStarts: [string, number][] = [['setup', performance.now()]];
  const selected = (name: string) => {
    const on = !only || only.has(name);
    if (on) sectionStarts.push([name, performance.now()]);
    return on;
  };
  const N = quick ? 10 : 40;
  // `--dynamic-config key=json` (repeatable): extra dev-server dynamic config, to measure a setting.
  const dynamicConfig: Record<string, unknown> = {
    // The server's own default. The test suite turns it on, so that search attributes a test registers
    // are seen at once; it makes every search attribute upsert and list query read the attribute
    // definitions from the database, which no production server does.
    'system.forceSearchAttributesCacheRefreshOnRead': false,
  };
  process.argv.forEach((a, i) => {
    if (a !== '--dynamic-config') return;
    const [k, ...v] = (process.argv[i + 1] ?? '').split('=');
    dynamicConfig[k!] = JSON.parse(v.join('='));
  });
  const server = await startDevServer({ port: 0, uiPort: 0, headless: true, dynamicConfig });
  const figures: Figure[] = [];
  const native = await NativeConnection.connect({ address: server.address });
  const connection = await Connection.connect({ address: server.address });
  const client = new Client({ connection, namespace: server.namespace });
  const taskQueue = `bench-${randomUUID()}`;
  const rawQueue = `bench-raw-${randomUUID()}`;
  const stamps = new Map<string, number>();
  const taskStarts = new Map<string, number>();
  const aborts = new Map<string, number>();

  const gate = defineWorkflow({
    name: 'bench_gate',
    tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
  });
  const gateLean = defineWorkflow({
    name: 'bench_gate_lean',
    pausePolicy: { verifyTasksOnResume: false },
    tasks: [task({ id: 'g', pauseBefore: true }, () => undefined)],
  });
  const resumeFlow = (name: string, verifyTasksOnResume: boolean) =>
    defineWorkflow({
      name,
      pausePolicy: { verifyTasksOnResume },
      tasks: [
        task({ id: 'a' }, (ctx) => ctx.pauseWorkflow('bench')),
        task(
          { id: 'b', dependencies: ['a'] },
          (ctx) => void taskStarts.set(ctx.workflowId, performance.now()),
        ),
      ],
    });
  const resumeDefault = resumeFlow('bench_resume', true);
  const resumeLean = resumeFlow('bench_resume_lean', false);
  const heartbeating = defineWorkflow({
    name: 'bench_immediate',
    tasks: [
      task({ id: 'spin' }, async (ctx) => {
        if (ctx.get('spun')) return;
        while (!ctx.signal.aborted) await sleep(20);
        aborts.set(ctx.workflowId, performance.now());
        throw new Error('aborted');
      }),
    ],
  });
  const noop = () => undefined;
  const chain = defineWorkflow({
    name: 'bench_chain',
    tasks: Array.from({ length: 20 }, (_, i) =>
      task({ id: `t${i}`, dependencies: i ? [`t${i - 1}`] : [] }, noop),
    ),
  });
  const fanOut = defineWorkflow({
    name: 'bench_fanout',
    tasks: Array.from({ length: 20 }, (_, i) => task({ id: `t${i}` }, noop)),
  });
  // Scale curve: chains and fan-outs of no-op tasks at growing sizes.
  const scaleSizes = quick ? [20, 100] : [20, 100, 400, 1000];
  // A DAG of 20 no-op tasks costs about a tenth of a second of CPU, where the machine's noise is of the
  // same order: its median takes more samples.
  // Fan-outs take a few seconds at most and their ratios move the most between runs: nine samples at every
  // size. Chains above 20 tasks take 5–50 s a run: three.
  // Chains of 100 and 400 take 5 and 20 s a run; their CPU ratio moved by 0.2 between runs with three
  // samples, so they take more; the chain of 1,000 (50 s a run) keeps three.
  const scaleRepsFor = (n: number, shape: 'chain' | 'fan-out') =>
    quick ? 1 : n <= 20 || shape === 'fan-out' ? 9 : n <= 100 ? 7 : n <= 400 ? 5 : 3;
  const scaleFlows = scaleSizes.flatMap((n) => [
    {
      n,
      shape: 'chain' as const,
      raw: 'rawChain',
      wf: defineWorkflow({
        name: `bench_scale_chain_${n}`,
        tasks: Array.from({ length: n }, (_, i) =>
          task({ id: `t${i}`, dependencies: i ? [`t${i - 1}`] : [] }, noop),
        ),
      }),
    },
    {
      n,
      shape: 'fan-out' as const,
      raw: 'rawFanOut',
      wf: defineWorkflow({
        name: `bench_scale_fanout_${n}`,
        tasks: Array.from({ length: n }, (_, i) => task({ id: `t${i}` }, noop)),
      }),
    },
  ]);
  const scaleRows: ScaleRow[] = [];
  // Short tasks: a chain of 100 no-op tasks run as local activities, and the same as activities.
  const localChainSize = 100;
  const chainOf = (name: string, execution: 'local' | 'activity') =>
    defineWorkflow({
      name,
      tasks: Array.from({ length: localChainSize }, (_, i) =>
        task({ id: `t${i}`, dependencies: i ? [`t${i - 1}`] : [], execution }, noop),
      ),
    });
  const localChain = chainOf('bench_local_chain', 'local');
  // The widest DAG: a fan-out of 5,000 no-op tasks, across continue-as-new (2,000 in quick mode: it
  // still continues as new, once).
  const wideSize = quick ? 2_000 : 5_000;
  const wide = defineWorkflow({
    name: 'bench_wide',
    tasks: Array.from({ length: wideSize }, (_, i) => task({ id: `t${i}` }, noop)),
  });
  const activityChain = chainOf('bench_activity_chain', 'activity');
  const workflows: WorkflowDefinition[] = [
    wide,
    localChain,
    activityChain,
    gate,
    gateLean,
    resumeDefault,
    resumeLean,
    heartbeating,
    chain,
    fanOut,
    ...scaleFlows.map((f) => f.wf),
  ];

  const worker = await createWorker({
    workflows,
    taskQueue,
    connection: native,
  });
  const rawActivities: RawActivities = {
    noop: async () => undefined,
    stamp: async (label) => {
      const now = performance.now();
      stamps.set(label, now);
      return now;
    },
  };
  const rawBundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./raw-workflows'),
    logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (m) => console.error(m) },
  });
  const rawWorker = await Worker.create({
    connection: native,
    taskQueue: rawQueue,
    workflowBundle: rawBundle,
    activities: rawActivities,
  });
  const executor = new UnifiedExecutor(client, { taskQueue, identity: 'bench' });
  const status = (id: string) => executor.getStatus(id);
  const until = async (fn: () => Promise<boolean>) => {
    for (;;) {
      if (await fn()) return;
      await sleep(5);
    }
  };

  const body = async () => {
    // Warm both workers up.
    await executor.execute(fanOut, {});
    await client.workflow.execute('rawFanOut', {
      taskQueue: rawQueue,
      workflowId: `warm-${randomUUID()}`,
      args: [5],
    });

    // 1. Pause acknowledged (graceful, nothing in flight) vs a trivial update round trip.
    if (selected('pause')) {
      const h = await executor.executeAsync(gateLean, {});
      await until(async () => (await status(h.workflowId)).gates.length === 1);
      const raw = await client.workflow.start('rawWaiter', {
        taskQueue: rawQueue,
        workflowId: `raw-${randomUUID()}`,
      });
      await raw.executeUpdate(pingUpdate, { args: [0] });
      // Samples of both sides alternate, so that a burst of load on the shared machine falls on both.
      const ours: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < N; i++) {
        ours.push(await timed(() => h.pause({ reason: 'bench' })));
        await h.resume();
        base.push(await timed(() => raw.executeUpdate(pingUpdate, { args: [i] })));
      }
      const ratio50 = quantile(ours, 0.5) / quantile(base, 0.5);
      const ratio95 = quantile(ours, 0.95) / quantile(base, 0.95);
      figures.push({
        figure: 'pause acknowledged (graceful, nothing in flight), p50/p95',
        ours: p50p95(ours),
        baseline: `${p50p95(base)} (update round trip)`,
        ratio: `${ratio50.toFixed(2)}× / ${ratio95.toFixed(2)}×`,
        goal: '≤ 1.5×',
        met: ratio50 <= 1.5 && ratio95 <= 1.5,
        samples: { ours, base },
      });

      // 7. History events per pause/resume cycle (updates and signals).
      const countEvents = async (id: string) =>
        (await client.workflow.getHandle(id).fetchHistory()).events?.length ?? 0;
      const K = 10;
      let before = await countEvents(h.workflowId);
      for (let i = 0; i < K; i++) {
        await h.pause({ reason: 'count' });
        await h.resume();
      }
      const perUpdateCycle = ((await countEvents(h.workflowId)) - before) / K;
      const sh = client.workflow.getHandle(h.workflowId);
      before = await countEvents(h.workflowId);
      for (let i = 0; i < K; i++) {
        await sh.signal(pauseSignal, { reason: 'count', by: 'bench' });
        await until(async () => (await status(h.workflowId)).pause?.kind === 'manual');
        await sh.signal(resumeSignal, { by: 'bench' });
        await until(async () => (await status(h.workflowId)).pause?.kind === 'gate');
      }
      const perSignalCycle = ((await countEvents(h.workflowId)) - before) / K;
      const hv = await executor.executeAsync(gate, {});
      await until(async () => (await status(hv.workflowId)).gates.length === 1);
      before = await countEvents(hv.workflowId);
      for (let i = 0; i < K; i++) {
        await hv.pause({ reason: 'count' });
        await hv.resume();
      }
      const perVerifiedCycle = ((await countEvents(hv.workflowId)) - before) / K;
      figures.push({
        figure: 'history events per pause/resume cycle',
        ours: `${perSignalCycle} (signals), ${perUpdateCycle} (updates), ${perVerifiedCycle} (updates + task registry check)`,
        baseline: '—',
        ratio: '—',
        goal: '≤ 10',
        met: perSignalCycle <= 10,
      });
      await h.cancel();
      await hv.cancel();
      await raw.signal(doneSignal);
    }

    // 2. Resume → next task started vs the gap between two sequential no-op activities.
    if (selected('resume')) {
      const measure = async (wf: WorkflowDefinition) => {
        const out: number[] = [];
        for (let i = 0; i < Math.ceil(N / 2); i++) {
          const h = await executor.executeAsync(wf, {});
          await until(async () => (await status(h.workflowId)).state === 'paused');
          const t0 = performance.now();
          await h.resume();
          await until(async () => taskStarts.has(h.workflowId));
          out.push(taskStarts.get(h.workflowId)! - t0);
          await h.result();
        }
        return out;
      };
      const lean = await measure(resumeLean);
      const full = await measure(resumeDefault);
      const base: number[] = [];
      for (let i = 0; i < Math.ceil(N / 2); i++) {
        stamps.clear();
        await client.workflow.execute('rawTwoSteps', {
          taskQueue: rawQueue,
          workflowId: `raw-${randomUUID()}`,
        });
        base.push(stamps.get('second')! - stamps.get('first')!);
      }
      const r = (xs: number[]) =>
        `${(quantile(xs, 0.5) / quantile(base, 0.5)).toFixed(2)}× / ${(quantile(xs, 0.95) / quantile(base, 0.95)).toFixed(2)}×`;
      figures.push({
        figure: 'resume → next task started, p50/p95 (verifyTasksOnResume: false)',
        ours: p50p95(lean),
        baseline: `${p50p95(base)} (gap between two activities)`,
        ratio: r(lean),
        goal: '≤ 1.5×',
        met:
          quantile(lean, 0.5) / quantile(base, 0.5) <= 1.5 &&
          quantile(lean, 0.95) / quantile(base, 0.95) <= 1.5,
        samples: { ours: lean, base },
      });
      figures.push({
        figure: 'resume → next task started, p50/p95 (default: task registry check)',
        ours: p50p95(full),
        baseline: `${p50p95(base)} (gap between two activities)`,
        ratio: r(full),
        goal: '≤ 1.5×',
        met:
          quantile(full, 0.5) / quantile(base, 0.5) <= 1.5 &&
          quantile(full, 0.95) / quantile(base, 0.95) <= 1.5,
        samples: { ours: full, base },
      });
    }

    // 3. Immediate pause with a heartbeating task in flight vs heartbeat interval + one round trip.
    if (selected('immediate')) {
      const toPaused: number[] = [];
      const rtt: number[] = [];
      for (let i = 0; i < Math.ceil(N / 4); i++) {
        const h = await executor.executeAsync(heartbeating, {});
        await until(async () => (await status(h.workflowId)).tasks.spin?.state === 'running');
        await sleep(300);
        const t0 = performance.now();
        await h.pause({ mode: 'immediate' });
        rtt.push(performance.now() - t0);
        await until(async () => (await status(h.workflowId)).state === 'paused');
        toPaused.push(performance.now() - t0);
        await h.cancel();
      }
      const budget = 1000 + quantile(rtt, 0.5);
      figures.push({
        figure: 'immediate pause with a heartbeating task in flight → paused, p50/p95',
        ours: p50p95(toPaused),
        baseline: `${ms(budget)} (1 s heartbeat throttle + one round trip)`,
        ratio: `${(quantile(toPaused, 0.5) / budget).toFixed(2)}×`,
        goal: '≤ 1.0×',
        met: quantile(toPaused, 0.5) / budget <= 1.0,
        samples: { ours: toPaused },
      });
    }

    // 4. Server-native pause RPC → status PAUSED (reported beside ours).
    if (selected('native')) {
      const nativeTimes: number[] = [];
      for (let i = 0; i < Math.ceil(N / 4); i++) {
        const raw = await client.workflow.start('rawWaiter', {
          taskQueue: rawQueue,
          workflowId: `raw-${randomUUID()}`,
        });
        await raw.executeUpdate(pingUpdate, { args: [0] });
        const t0 = performance.now();
        await client.workflowService.pauseWorkflowExecution({
          namespace: server.namespace,
          workflowId: raw.workflowId,
          reason: 'bench',
          identity: 'bench',
          requestId: randomUUID(),
        });
        await until(
          async () =>
            (
              await client.workflowService.describeWorkflowExecution({
                namespace: server.namespace,
                execution: { workflowId: raw.workflowId },
              })
            ).workflowExecutionInfo?.status ===
            temporal.api.enums.v1.WorkflowExecutionStatus.WORKFLOW_EXECUTION_STATUS_PAUSED,
        );
        nativeTimes.push(performance.now() - t0);
        await raw.terminate('bench done');
      }
      figures.push({
        figure: 'native server pause RPC → status PAUSED, p50/p95',
        ours: '—',
        baseline: p50p95(nativeTimes),
        ratio: '—',
        goal: 'reported',
        samples: { native: nativeTimes },
      });
    }

    // 5. DAG chain of 20 / fan-out of 20 no-op tasks vs hand-written raw workflows.
    for (const [wf, rawType] of !selected('dag')
      ? []
      : ([
          [chain, 'rawChain'],
          [fanOut, 'rawFanOut'],
        ] as const)) {
      const ours: number[] = [];
      const base: number[] = [];
      for (let i = 0; i < (quick ? 3 : 7); i++) {
        ours.push(await timed(() => executor.execute(wf, {})));
        base.push(
          await timed(() =>
            client.workflow.execute(rawType, {
              taskQueue: rawQueue,
              workflowId: `raw-${randomUUID()}`,
              args: [20],
            }),
          ),
        );
      }
      const ratio = quantile(ours, 0.5) / quantile(base, 0.5);
      figures.push({
        figure: `DAG ${wf === chain ? 'chain' : 'fan-out'} of 20 no-op tasks, total (median)`,
        ours: ms(quantile(ours, 0.5)),
        baseline: `${ms(quantile(base, 0.5))} (raw workflow)`,
        ratio: `${ratio.toFixed(2)}×`,
        goal: '≤ 1.15×',
        met: ratio <= 1.15,
        samples: { ours, base },
      });
    }

    // 6. Bulk pause of 200 running workflows vs a Temporal batch signal at its default rate.
    if (selected('bulk')) {
      const count = quick ? 50 : 200;
      const startMany = async (wf: WorkflowDefinition) => {
        const hs = [];
        for (let i = 0; i < count; i += 25) {
          hs.push(
            ...(await Promise.all(
              Array.from({ length: Math.min(25, count - i) }, () => executor.executeAsync(wf, {})),
            )),
          );
        }
        return hs;
      };
      const openCount = async (q: string) =>
        Number(
          (await client.workflowService.countWorkflowExecutions({ namespace: server.namespace, query: q }))
            .count ?? 0,
        );
      const bulkA = defineWorkflow({
        name: 'bench_bulk_a',
        tasks: [task({ id: 'g', pauseBefore: true }, noop)],
      });
      const bulkB = defineWorkflow({
        name: 'bench_bulk_b',
        tasks: [task({ id: 'g', pauseBefore: true }, noop)],
      });
      const bulkQueue = `bench-bulk-${randomUUID()}`;
      const bulkWorker = await createWorker({
        workflows: [bulkA, bulkB],
        taskQueue: bulkQueue,
        connection: native,
      });
      const bulkExec = new UnifiedExecutor(client, { taskQueue: bulkQueue, identity: 'bench' });
      await bulkWorker.runUntil(async () => {
        const a = await startMany(bulkA);
        const b = await startMany(bulkB);
        void a;
        void b;
        const kindBulk = (name: string) =>
          `WorkflowType = 'cloacinaDag' AND CloacinaWorkflow = '${name}' AND CloacinaPauseKind = 'bulk'`;
        const waiting = (name: string) =>
          `WorkflowType = 'cloacinaDag' AND CloacinaWorkflow = '${name}' AND CloacinaPauseKind = 'gate'`;
        await until(
          async () =>
            (await openCount(waiting('bench_bulk_a'))) === count &&
            (await openCount(waiting('bench_bulk_b'))) === count,
        );
        const t0 = performance.now();
        const result = await bulkExec.pauseAll(
          { workflow: 'bench_bulk_a' },
          { reason: 'bench', by: 'bench', concurrency: 32 },
        );
        await until(async () => (await openCount(kindBulk('bench_bulk_a'))) === count);
        const ours = performance.now() - t0;
        const t1 = performance.now();
        await run(server.cli, [
          'workflow',
          'signal',
          '--address',
          server.address,
          '--namespace',
          server.namespace,
          '--query',
          `WorkflowType = 'cloacinaDag' AND CloacinaWorkflow = 'bench_bulk_b'`,
          '--name',
          'cloacina.pause',
          '--input',
          // Kind `bulk` is reserved to pauseAll (it carries a per-run request id): a batch job sends `manual`.
          JSON.stringify({ reason: 'bench', by: 'batch', kind: 'manual' }),
          '--yes',
        ]);
        await until(
          async () =>
            (await openCount(
              `WorkflowType = 'cloacinaDag' AND CloacinaWorkflow = 'bench_bulk_b' AND CloacinaPauseKind = 'manual'`,
            )) === count,
        );
        const batch = performance.now() - t1;
        figures.push({
          figure: `bulk pause of ${count} running workflows: time until all paused`,
          ours: `${ms(ours)} (${result.succeeded}/${result.total} ok, concurrency 32)`,
          baseline: `${ms(batch)} (temporal workflow signal --query, batch job)`,
          ratio: `${(batch / ours).toFixed(2)}× faster`,
          goal: '≥ 2× faster',
          met: batch / ours >= 2,
        });
        await bulkExec.resumeAll({ workflow: 'bench_bulk_a' }, { by: 'bench' });
        for (const name of ['bench_bulk_a', 'bench_bulk_b']) {
          for (const w of await bulkExec.listWorkflows({
            workflow: name,
            query: "ExecutionStatus = 'Running'",
          })) {
            await client.workflow.getHandle(w.workflowId).terminate('bench done');
          }
        }
      });
    }

    // 8. Scale curve: wall time and CPU per task of chains and fan-outs of 20 … 1,000 no-op tasks.
    if (selected('scale')) {
      for (const { n, shape, raw, wf } of scaleFlows) {
        const ours = { wall: [] as number[], cpu: [] as number[] };
        const base = { wall: [] as number[], cpu: [] as number[] };
        let continuedAsNew = 0;
        let failure: string | undefined;
        const scaleReps = scaleRepsFor(n, shape);
        try {
          // One run of each side unmeasured first: the first run of a workflow type warms its code paths.
          if (n <= 20 || (shape === 'fan-out' && !quick)) {
            await (await executor.executeAsync(wf, {})).result();
            await client.workflow.execute(raw, {
              taskQueue: rawQueue,
              workflowId: `raw-${randomUUID()}`,
              args: [n],
            });
          }
          for (let i = 0; i < scaleReps; i++) {
            let h: Awaited<ReturnType<typeof executor.executeAsync>> | undefined;
            const o = await measureRun(async () => {
              h = await executor.executeAsync(wf, {});
              await h.result();
            });
            const latest = await client.workflow.getHandle(h!.workflowId).describe();
            if (latest.runId !== h!.runId) continuedAsNew++;
            const b = await measureRun(() =>
              client.workflow.execute(raw, {
                taskQueue: rawQueue,
                workflowId: `raw-${randomUUID()}`,
                args: [n],
              }),
            );
            ours.wall.push(o.wall / n);
            ours.cpu.push(o.cpu / n);
            base.wall.push(b.wall / n);
            base.cpu.push(b.cpu / n);
          }
        } catch (err) {
          failure = err instanceof Error ? err.message : String(err);
        }
        const label = `scale: ${shape} of ${n} no-op tasks`;
        const reps = `median of ${scaleReps}`;
        if (failure || ours.wall.length === 0) {
          const why = `not run: ${failure ?? 'no sample'}`;
          figures.push({
            figure: `${label}, wall per task`,
            ours: why,
            baseline: '—',
            ratio: '—',
            goal: '≤ 1.15×',
            met: false,
          });
          scaleRows.push({
            shape,
            tasks: n,
            wallOurs: NaN,
            wallRaw: NaN,
            cpuOurs: NaN,
            cpuRaw: NaN,
            continuedAsNew,
            note: why,
          });
          continue;
        }
        const row: ScaleRow = {
          shape,
          tasks: n,
          wallOurs: quantile(ours.wall, 0.5),
          wallRaw: quantile(base.wall, 0.5),
          cpuOurs: quantile(ours.cpu, 0.5),
          cpuRaw: quantile(base.cpu, 0.5),
          continuedAsNew,
          ...(continuedAsNew ? { note: `${continuedAsNew}/${scaleReps} runs continued as new` } : {}),
        };
        scaleRows.push(row);
        const can = continuedAsNew ? ` (continued as new in ${continuedAsNew}/${scaleReps})` : '';
        figures.push({
          figure: `${label}, wall per task (${reps})`,
          ours: `${ms(row.wallOurs)}${can}`,
          baseline: `${ms(row.wallRaw)} (raw workflow)`,
          ratio: `${(row.wallOurs / row.wallRaw).toFixed(2)}×`,
          goal: '≤ 1.15×',
          met: row.wallOurs / row.wallRaw <= 1.15,
          samples: { ours: ours.wall, base: base.wall },
        });
        figures.push({
          figure: `${label}, worker+client CPU per task (${reps})`,
          ours: ms(row.cpuOurs),
          baseline: `${ms(row.cpuRaw)} (raw workflow)`,
          ratio: `${(row.cpuOurs / row.cpuRaw).toFixed(2)}×`,
          goal: '≤ 1.3×',
          met: row.cpuOurs / row.cpuRaw <= 1.3,
          samples: { ours: ours.cpu, base: base.cpu },
        });
      }
    }

    // 8b. Short tasks: a chain of 100 local no-op tasks beside a raw local-activity chain, and beside the
    // same chain run as activities.
    if (selected('local')) {
      // Nine pairs (three in quick mode), after one unmeasured pair in full mode: with five, the ratio
      // moved between 1.2× and 1.6× from one run to the next. The activity chain is clocked by the server
      // (about 41 ms a step, see "Where a sequential step's time goes") and moves little: three runs
      // (one in quick mode).
      const reps = quick ? 3 : 9;
      const actReps = quick ? 1 : 3;
      const lib: number[] = [];
      const raw: number[] = [];
      const acts: number[] = [];
      const rawChain = () =>
        client.workflow.execute('rawLocalChain', {
          taskQueue: rawQueue,
          workflowId: `raw-${randomUUID()}`,
          args: [localChainSize],
        });
      if (!quick) {
        await executor.execute(localChain, {});
        await rawChain();
      }
      for (let i = 0; i < reps; i++) {
        lib.push(await timed(() => executor.execute(localChain, {})));
        raw.push(await timed(rawChain));
        if (i < actReps) acts.push(await timed(() => executor.execute(activityChain, {})));
      }
      const [l, r, a] = [lib, raw, acts].map((xs) => quantile(xs, 0.5)) as [number, number, number];
      figures.push({
        figure: `local tasks: chain of ${localChainSize} no-op tasks, wall (median of ${reps})`,
        ours: `${ms(l)} (execution: 'local')`,
        baseline: `${ms(r)} (raw local-activity chain)`,
        ratio: `${(l / r).toFixed(2)}×`,
        goal: '≤ 1.3×',
        met: l / r <= 1.3,
        samples: { ours: lib, base: raw },
      });
      figures.push({
        figure: `local tasks: chain of ${localChainSize} no-op tasks, local beside activities (median of ${reps}; activity chain ${acts.length})`,
        ours: `${ms(l)} (execution: 'local')`,
        baseline: `${ms(a)} (the same chain as activities)`,
        ratio: `${(a / l).toFixed(1)}× faster`,
        goal: '≥ 10× faster',
        met: a / l >= 10,
        samples: { ours: lib, base: acts },
      });
    }

    // 8c. The widest DAG: 5,000 parallel no-op tasks (at most MAX_IN_FLIGHT at once, across
    // continue-as-new), beside a raw workflow keeping the same number of activities in flight.
    if (selected('wide')) {
      // Alternately, three runs of each side (one in quick mode): a single run moved by 0.1–0.3 between
      // benchmarks.
      const wideReps = quick ? 1 : 3;
      const ours = { wall: [] as number[], cpu: [] as number[] };
      const base = { wall: [] as number[], cpu: [] as number[] };
      let runs = 0;
      for (let i = 0; i < wideReps; i++) {
        const o = await measureRun(async () => {
          const h = await executor.executeAsync(wide, {});
          await h.result();
          runs = (await h.status()).continuedAsNew + 1;
        });
        const b = await measureRun(() =>
          client.workflow.execute('rawFanOutCapped', {
            taskQueue: rawQueue,
            workflowId: `raw-${randomUUID()}`,
            args: [wideSize, MAX_IN_FLIGHT],
          }),
        );
        ours.wall.push(o.wall / wideSize);
        ours.cpu.push(o.cpu / wideSize);
        base.wall.push(b.wall / wideSize);
        base.cpu.push(b.cpu / wideSize);
      }
      const reps = wideReps === 1 ? 'one run' : `median of ${wideReps}`;
      const [ow, bw, oc, bc] = [ours.wall, base.wall, ours.cpu, base.cpu].map((v) => quantile(v, 0.5)) as [
        number,
        number,
        number,
        number,
      ];
      figures.push({
        figure: `wide DAG: fan-out of ${wideSize} no-op tasks, wall per task (${reps})`,
        ours: `${ms(ow)} (${runs} runs: ${runs - 1} continue-as-new)`,
        baseline: `${ms(bw)} (raw, ${MAX_IN_FLIGHT} in flight)`,
        ratio: `${(ow / bw).toFixed(2)}×`,
        goal: '≤ 1.15×',
        met: ow / bw <= 1.15,
        samples: { ours: ours.wall, base: base.wall },
      });
      figures.push({
        figure: `wide DAG: fan-out of ${wideSize} no-op tasks, worker+client CPU per task (${reps})`,
        ours: ms(oc),
        baseline: `${ms(bc)} (raw, ${MAX_IN_FLIGHT} in flight)`,
        ratio: `${(oc / bc).toFixed(2)}×`,
        goal: '≤ 1.3×',
        met: oc / bc <= 1.3,
        samples: { ours: ours.cpu, base: base.cpu },
      });
    }

    // 9. Worker memory with paused runs (each worker alone in a child process), and what a paused run
    // costs the server while nothing happens.
    if (selected('memory')) {
      const count = quick ? 50 : 500;
      const idleMs = quick ? 10_000 : 60_000;
      // The children reuse this process's workflow bundles rather than build their own.
      const bundleDir = mkdtempSync(path.join(tmpdir(), 'bench-bundles-'));
      const bundleFile = {
        library: path.join(bundleDir, 'library.json'),
        raw: path.join(bundleDir, 'raw.json'),
      };
      writeFileSync(bundleFile.library, JSON.stringify(await bundleWorkflows()));
      writeFileSync(bundleFile.raw, JSON.stringify(rawBundle));
      const spawnWorker = async (kind: 'library' | 'raw', mode: 'thread' | 'debug' = 'thread') => {
        const tq = `bench-mem-${kind}-${randomUUID()}`;
        const child = fork(
          path.join(__dirname, 'memory-worker.js'),
          [kind, server.address, server.namespace, tq, bundleFile[kind], mode],
          {
            execArgv: ['--expose-gc'],
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          },
        );
        const [first] = (await once(child, 'message')) as [unknown];
        if (first !== 'ready') throw new Error(`memory worker: unexpected first message ${String(first)}`);
        const ask = async () => {
          const answer = once(child, 'message');
          child.send('rss');
          return ((await answer) as [MemoryReport])[0];
        };
        const stop = async () => {
          const exited = once(child, 'exit');
          child.send('stop');
          const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(timer);
        };
        return { tq, ask, stop };
      };
      const inBatches = async <T>(n: number, fn: (i: number) => Promise<T>) => {
        const out: T[] = [];
        for (let i = 0; i < n; i += 25)
          out.push(...(await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => fn(i + j)))));
        return out;
      };
      const MB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MB`;
      // n library runs, each stopped at its gate, paused and asked its status; and n raw runs waiting on a
      // condition, each having answered one update.
      const pausedRuns = async (tq: string, n: number) => {
        const exec = new UnifiedExecutor(client, { taskQueue: tq, identity: 'bench' });
        const hs = await inBatches(n, () => exec.executeAsync(memoryGate, {}));
        await inBatches(n, (i) => hs[i]!.pause({ reason: 'bench' }));
        const states = await inBatches(n, async (i) => (await hs[i]!.status()).state);
        return { ids: hs.map((h) => h.workflowId), paused: states.filter((x) => x === 'paused').length };
      };
      const waitingRawRuns = async (tq: string, n: number) => {
        const hs = await inBatches(n, () =>
          client.workflow.start('rawWaiter', { taskQueue: tq, workflowId: `raw-mem-${randomUUID()}` }),
        );
        await inBatches(n, (i) => hs[i]!.executeUpdate(pingUpdate, { args: [i] }));
        return hs.map((h) => h.workflowId);
      };
      const lib = await spawnWorker('library');
      const raw = await spawnWorker('raw');
      try {
        const libIdle = await lib.ask();
        const { ids: libIds, paused } = await pausedRuns(lib.tq, count);
        const libFull = await lib.ask();

        const rawIdle = await raw.ask();
        const rawIds = await waitingRawRuns(raw.tq, count);
        const rawFull = await raw.ask();

        const libGrowth = libFull.rss - libIdle.rss;
        const rawGrowth = rawFull.rss - rawIdle.rss;
        const cache = `maxCachedWorkflows ${libFull.maxCachedWorkflows} (SDK default)`;
        figures.push({
          figure: `worker RSS growth with ${count} paused runs (worker alone in a child process, after GC)`,
          ours: `${MB(libGrowth)} (${(libGrowth / count / 1024).toFixed(1)} KB/run; RSS ${MB(libIdle.rss)} → ${MB(libFull.rss)}; ${paused}/${count} status paused)`,
          baseline: `${MB(rawGrowth)} (${(rawGrowth / count / 1024).toFixed(1)} KB/run; RSS ${MB(rawIdle.rss)} → ${MB(rawFull.rss)}; raw workflows on a condition)`,
          ratio: `${(libGrowth / rawGrowth).toFixed(2)}× growth, ${(libFull.rss / rawFull.rss).toFixed(2)}× total`,
          goal: `≤ 1.2× (${cache})`,
          met: libGrowth / rawGrowth <= 1.2,
          samples: {
            ours: [libIdle.rss, libFull.rss, libIdle.heapUsed, libFull.heapUsed],
            base: [rawIdle.rss, rawFull.rss, rawIdle.heapUsed, rawFull.heapUsed],
          },
        });

        // A paused run's history before an idle wait (read again after it, below): nothing happens to
        // it, so nothing is written. The wait overlaps the heap figure's runs, which use other task queues.
        const historyOf = async (id: string) => {
          const h = await client.workflow.getHandle(id).fetchHistory();
          return {
            events: h.events?.length ?? 0,
            bytes: temporal.api.history.v1.History.encode(h).finish().length,
          };
        };
        const libId = libIds[0]!;
        const rawId = rawIds[0]!;
        const before = { lib: await historyOf(libId), raw: await historyOf(rawId) };
        const idleStart = performance.now();
        const idleEnds = idleStart + idleMs;

        // The heap the cached runs retain, with the workflows on each child's main thread, where a full
        // GC can be forced (a workflow thread's garbage counts in the RSS above).
        {
          const libDebug = await spawnWorker('library', 'debug');
          const rawDebug = await spawnWorker('raw', 'debug');
          try {
            // One run of each first: compiling the workflow code and what a thread shares is not per run.
            await pausedRuns(libDebug.tq, 1);
            await waitingRawRuns(rawDebug.tq, 1);
            const lib0 = await libDebug.ask();
            const { paused: debugPaused } = await pausedRuns(libDebug.tq, count);
            const lib1 = await libDebug.ask();
            const raw0 = await rawDebug.ask();
            await waitingRawRuns(rawDebug.tq, count);
            const raw1 = await rawDebug.ask();
            const libPerRun = (lib1.heapUsed - lib0.heapUsed) / count;
            const rawPerRun = (raw1.heapUsed - raw0.heapUsed) / count;
            figures.push({
              figure: `worker heap retained per paused run, ${count} runs (workflows on the main thread, after GC)`,
              ours: `${(libPerRun / 1024).toFixed(1)} KB (${debugPaused}/${count} status paused)`,
              baseline: `${(rawPerRun / 1024).toFixed(1)} KB (raw workflows on a condition)`,
              ratio: `${(libPerRun / rawPerRun).toFixed(2)}×`,
              goal: '≤ 1.2×',
              met: libPerRun / rawPerRun <= 1.2,
              samples: { ours: [lib0.heapUsed, lib1.heapUsed], base: [raw0.heapUsed, raw1.heapUsed] },
            });
          } finally {
            await libDebug.stop();
            await rawDebug.stop();
          }
        }

        await sleep(Math.max(0, idleEnds - performance.now()));
        const after = { lib: await historyOf(libId), raw: await historyOf(rawId) };
        const fmt = (a: { events: number; bytes: number }, b: { events: number; bytes: number }) =>
          `${a.events} events / ${a.bytes} B → ${b.events} / ${b.bytes} B`;
        figures.push({
          figure: `paused run's history before → after ${((performance.now() - idleStart) / 1000).toFixed(0)} s idle`,
          ours: fmt(before.lib, after.lib),
          baseline: `${fmt(before.raw, after.raw)} (raw waiting workflow)`,
          ratio: `+${after.lib.events - before.lib.events} events`,
          goal: 'no events while idle',
          met: after.lib.events === before.lib.events,
        });
      } finally {
        await lib.stop();
        await raw.stop();
        rmSync(bundleDir, { recursive: true, force: true });
      }
    }
  };

  const loadavg: string[] = [];
  const sampleLoad = () => {
    try {
      loadavg.push(readFileSync('/proc/loadavg', 'utf8').trim());
    } catch {
      // not Linux
    }
  };
  sampleLoad();
  try {
    await rawWorker.runUntil(worker.runUntil(body()));
    sectionStarts.push(['teardown', performance.now()]);
    sampleLoad();
  } finally {
    await connection.close();
    await native.close();
    await server.stop();
  }

  const widths = ['figure', 'ours', 'baseline', 'ratio', 'goal'].map((k) =>
    Math.max(
      k.length,
      ...figures.map((f) => f[k as 'figure' | 'ours' | 'baseline' | 'ratio' | 'goal'].length),
    ),
  );
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(['figure', 'ours', 'baseline', 'ratio', 'goal']));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const f of figures)
    console.log(
      line([
        f.figure,
        f.ours,
        f.baseline,
        f.ratio,
        `${f.goal}${f.met === undefined ? '' : f.met ? ' ✓' : ' ✗'}`,
      ]),
    );
  if (scaleRows.length) {
    const f = (x: number) => (Number.isNaN(x) ? '—' : x.toFixed(2));
    const rows = scaleRows.map((r) => [
      r.shape,
      String(r.tasks),
      f(r.wallOurs),
      f(r.wallRaw),
      r.note?.startsWith('not run') ? '—' : `${f(r.wallOurs / r.wallRaw)}×`,
      f(r.cpuOurs),
      f(r.cpuRaw),
      r.note?.startsWith('not run') ? '—' : `${f(r.cpuOurs / r.cpuRaw)}×`,
      r.note ?? '',
    ]);
    const head = ['shape', 'tasks', 'wall ms/task', 'raw', 'ratio', 'CPU ms/task', 'raw', 'ratio', 'note'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    const l = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
    console.log(
      `\nScale (median of ${quick ? 1 : '9 for fan-outs and the chain of 20, 7, 5 and 3 for chains of 100, 400 and 1,000'}; CPU is this process: both workers and the client):`,
    );
    console.log(l(head));
    console.log(l(w.map((x) => '-'.repeat(x))));
    for (const r of rows) console.log(l(r));
  }
  if (loadavg.length) console.log(`load average (1/5/15 min) at start, end: ${loadavg.join(' | ')}`);
  const out = path.resolve(__dirname, '../../bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'latest.json'),
    JSON.stringify(
      { at: new Date().toISOString(), quick, dynamicConfig, loadavg, figures, scale: scaleRows },
      null,
      2,
    ),
  );
  console.log(`Results written to ${path.join(out, 'latest.json')}`);
  console.log(`Seconds per section: ${sectionSeconds(sectionStarts, performance.now())}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

/** How long each section took, from the times the sections began and the end of the last one. */
function sectionSeconds(starts: [string, number][], end: number): string {
  return starts
    .map(([name, at], i) => `${name} ${(((starts[i + 1]?.[1] ?? end) - at) / 1000).toFixed(0)}`)
    .join(', ');
}
