// `npm run bench`: the performance figures of the product against raw Temporal baselines measured in the
// same run, on one server. Prints a table and writes bench/results/latest.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { Client, Connection } from '@temporalio/client';
import { bundleWorkflowCode, DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { temporal } from '@temporalio/proto';
import { createWorker, defineWorkflow, task, UnifiedExecutor, type WorkflowDefinition } from '../src';
import { startDevServer } from '../temporal-dev';
import { pauseSignal, resumeSignal } from '../workflows/messages';
import { doneSignal, pingUpdate, type RawActivities } from './raw-workflows';

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

function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}
const ms = (x: number) => `${x.toFixed(1)} ms`;
const p50p95 = (xs: number[]) => `${ms(quantile(xs, 0.5))} / ${ms(quantile(xs, 0.95))}`;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  const quick = process.argv.includes('--quick');
  // `--only pause,dag` runs some figures: pause (with history events), resume, immediate, native, dag, bulk.
  const onlyArg = process.argv.indexOf('--only');
  const only = onlyArg >= 0 ? new Set((process.argv[onlyArg + 1] ?? '').split(',')) : undefined;
  const selected = (name: string) => !only || only.has(name);
  const N = quick ? 10 : 40;
  const server = await startDevServer({ port: 0, uiPort: 0, headless: true });
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
  const workflows: WorkflowDefinition[] = [
    gate,
    gateLean,
    resumeDefault,
    resumeLean,
    heartbeating,
    chain,
    fanOut,
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
  const rawWorker = await Worker.create({
    connection: native,
    taskQueue: rawQueue,
    workflowBundle: await bundleWorkflowCode({
      workflowsPath: require.resolve('./raw-workflows'),
      logger: { log: noop, trace: noop, debug: noop, info: noop, warn: noop, error: (m) => console.error(m) },
    }),
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
      const ours: number[] = [];
      for (let i = 0; i < N; i++) {
        ours.push(await timed(() => h.pause({ reason: 'bench' })));
        await h.resume();
      }
      const raw = await client.workflow.start('rawWaiter', {
        taskQueue: rawQueue,
        workflowId: `raw-${randomUUID()}`,
      });
      await raw.executeUpdate(pingUpdate, { args: [0] });
      const base: number[] = [];
      for (let i = 0; i < N; i++) base.push(await timed(() => raw.executeUpdate(pingUpdate, { args: [i] })));
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
          JSON.stringify({ reason: 'bench', by: 'batch', kind: 'bulk' }),
          '--yes',
        ]);
        await until(async () => (await openCount(kindBulk('bench_bulk_b'))) === count);
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
  };

  try {
    await rawWorker.runUntil(worker.runUntil(body()));
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
  console.log('worker memory with 500 paused runs: not measured by this benchmark');
  const out = path.resolve(__dirname, '../../bench/results');
  mkdirSync(out, { recursive: true });
  writeFileSync(
    path.join(out, 'latest.json'),
    JSON.stringify({ at: new Date().toISOString(), quick, figures }, null, 2),
  );
  console.log(`Results written to ${path.join(out, 'latest.json')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
