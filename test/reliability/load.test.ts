// Load: 150 runs of one DAG (chains, a fan-out, a two-approver gate) under random pause, resume and
// approval traffic from three clients at once; then every run is finished and its event history is
// checked: no attempt started while its run was paused, nothing completed twice but attempts cut off by
// an immediate pause, exact final contexts, no run stuck, every pause ended. Seeded: the plan (inputs,
// task durations, start times, every client's requests and delays) comes from RELIABILITY_SEED.
import assert from 'node:assert/strict';
import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import {
  defineWorkflow,
  RequestRejectedError,
  task,
  UnifiedExecutor,
  WorkflowClosedError,
  type AuditEntry,
  type Context,
  type ControlResult,
  type JsonObject,
} from '../../src';
import { chainHistory, replayHistory, sleep, testServer, withWorker } from '../helpers';

/** A pure-rand generator (pure-rand publishes its generators as subpath exports only). */
interface Generator {
  next(): number;
  jump(): void;
  clone(): Generator;
}
const { xoroshiro128plus } = require('pure-rand/generator/xoroshiro128plus') as {
  xoroshiro128plus: (seed: number) => Generator;
};

const RUNS = 150;
const CLIENTS = 3;
/** Requests each client keeps in flight at once. */
const LOOPS_PER_CLIENT = 4;
/** Runs are started over this long, while the traffic goes on. */
const START_PHASE_MS = 35_000;
const TRAFFIC_MS = 60_000;
/** Bound on the phase that resumes and approves everything after the traffic. */
const FINISH_MS = 90_000;
/** A request (or status query) with no answer by then is a violation, not a hang of the test. */
const ANSWER_WITHIN_MS = 60_000;
const APPROVERS = ['alice', 'bob'];
/** Runs that get a share of the traffic of their own, so that their histories cross the continue-as-new suggestion (600 events). */
const HOT_RUNS = 1;
/** Percent of requests aimed at the hot runs. */
const HOT_SHARE = 35;

const seed = process.env.RELIABILITY_SEED
  ? Number.parseInt(process.env.RELIABILITY_SEED, 10)
  : Math.floor(Math.random() * 2 ** 31);
if (!Number.isSafeInteger(seed))
  throw new Error(`RELIABILITY_SEED must be an integer, got ${process.env.RELIABILITY_SEED}`);
const seedNote = `load seed: ${seed} (rerun with RELIABILITY_SEED=${seed})`;

/** Seeded choices. */
class Random {
  constructor(private readonly g: Generator) {}
  /** An integer from `from` to `to`, both included. */
  int(from: number, to: number): number {
    return from + Math.floor(((this.g.next() >>> 0) / 2 ** 32) * (to - from + 1));
  }
  chance(p: number): boolean {
    return (this.g.next() >>> 0) / 2 ** 32 < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length - 1)]!;
  }
}

// ---- the DAG ------------------------------------------------------------------------------------------

/** Tasks and their dependencies: a chain, a fan-out of four, a join, a gate with a chain after it and a branch beside it. */
const DAG: [string, string[]][] = [
  ['prepare', []],
  ['build1', ['prepare']],
  ['build2', ['build1']],
  ['build3', ['build2']],
  ['test_a', ['prepare']],
  ['test_b', ['prepare']],
  ['test_c', ['prepare']],
  ['test_d', ['prepare']],
  ['join', ['build3', 'test_a', 'test_b', 'test_c', 'test_d']],
  ['deploy', ['join']],
  ['verify', ['deploy']],
  ['docs1', ['join']],
  ['docs2', ['docs1']],
  ['finish', ['verify', 'docs2']],
];
const GATED = 'deploy';
/** Tasks that run long enough for an immediate pause to cut them off while they honour `ctx.signal`. */
const LONG = new Set(['build2', 'test_c', 'docs1']);

/** Sleeps the planned time, heartbeating, and stops when cut off; then writes the task's own key. */
async function work(ctx: Context): Promise<void> {
  const plan = ctx.get('plan') as Record<string, number>;
  const until = Date.now() + plan[ctx.taskId]!;
  while (Date.now() < until) {
    if (ctx.signal.aborted) throw new Error(`${ctx.taskId} cut off`);
    ctx.heartbeat();
    await sleep(Math.min(50, until - Date.now()));
  }
  ctx.set(ctx.taskId, `${ctx.taskId}-${ctx.get('n') as number}`);
}

const loadDag = defineWorkflow({
  name: 'load_dag',
  tasks: DAG.map(([id, dependencies]) =>
    task(
      {
        id,
        dependencies,
        ...(id === GATED
          ? { pauseBefore: { reason: 'release approval', approvers: APPROVERS, requiredApprovals: 2 } }
          : {}),
      },
      work,
    ),
  ),
});

/** The final context of run `n`: the sink's output, which merges every task's key over the input. */
function expectedContext(input: JsonObject): JsonObject {
  const out: JsonObject = { ...input };
  for (const [id] of DAG) out[id] = `${id}-${input.n as number}`;
  return out;
}

// ---- requests -----------------------------------------------------------------------------------------

type Kind = 'pause:graceful' | 'pause:immediate' | 'resume' | 'approve' | 'approve:wrong';

/** Refusal codes each kind of request may meet under this load; any other outcome is a violation. */
const ALLOWED_REFUSALS: Record<Kind, readonly string[]> = {
  'pause:graceful': ['WorkflowClosed'],
  'pause:immediate': ['WorkflowClosed'],
  resume: ['NotPaused', 'AlreadyResuming', 'Superseded', 'WorkflowClosed'],
  approve: ['GateNotWaiting', 'WorkflowClosed'],
  'approve:wrong': ['NotAnApprover', 'GateNotWaiting', 'WorkflowClosed'],
};

interface Sent {
  kind: Kind;
  workflowId: string;
  requestId: string;
  send: () => Promise<ControlResult>;
  /** Set once accepted. */
  result?: ControlResult;
}

interface Tally {
  requests: number;
  accepted: number;
  duplicate: number;
  refused: Record<string, number>;
  /** Accepted (not duplicate) pauses by mode, resumes and approvals. */
  pauses: Record<'graceful' | 'immediate', number>;
  resumes: number;
  approvals: number;
  /** Total ms and count of requests by kind, for the mean latency. */
  latency: Record<string, { ms: number; n: number }>;
}

/**
 * Violations by invariant: `requests`, a request met an error other than a refusal, or an outcome its
 * kind must not have; (1) `startedWhilePaused`, a task attempt started while its run was paused (or
 * before its gate was released); (2) `completedTwice`, a task completed twice, not counting attempts cut
 * off by an immediate pause; (3) `finalContext`, a run's final context is not the expected one; (4)
 * `stuck`, a run did not complete; (5) `unendedPauses`, a pause (or gate) without exactly one ending
 * line, or an accepted request missing from the trail.
 */
const INVARIANTS = [
  'requests',
  'startedWhilePaused',
  'completedTwice',
  'finalContext',
  'stuck',
  'unendedPauses',
  'replay',
] as const;
type Violations = Record<(typeof INVARIANTS)[number], string[]>;

/** `p`, or a rejection once `ANSWER_WITHIN_MS` have passed with no answer. */
function answered<T>(p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what}: no answer within ${ANSWER_WITHIN_MS} ms`)),
      ANSWER_WITHIN_MS,
    );
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

function describeError(err: unknown): string {
  if (err instanceof Error) return `${err.constructor.name}: ${err.message}`.slice(0, 300);
  return String(err).slice(0, 300);
}

/** The refusal code of a typed refusal, or undefined for any other error. */
function refusalCode(err: unknown): string | undefined {
  if (err instanceof WorkflowClosedError) return 'WorkflowClosed';
  if (err instanceof RequestRejectedError) return err.code;
  return undefined;
}

// ---- history analysis ---------------------------------------------------------------------------------

/**
 * Where something happened in a continue-as-new chain: the run, the workflow task that did it (its
 * completed event id) and its own event id. Workflow tasks order everything precisely, which times in
 * milliseconds cannot: several workflow tasks may share one.
 */
interface Pos {
  run: number;
  wft: number;
  event: number;
}
const eventBefore = (a: Pos, b: Pos) => (a.run !== b.run ? a.run < b.run : a.event < b.event);
const wftBefore = (a: Pos, b: Pos) => (a.run !== b.run ? a.run < b.run : a.wft < b.wft);
const sameWft = (a: Pos, b: Pos) => a.run === b.run && a.wft === b.wft;
const at = (p: Pos) => `run ${p.run} event ${p.event}`;

interface Attempt {
  taskId: string;
  attempt: number;
  pos: Pos;
  cancelRequested?: Pos;
  outcome?: 'completed' | 'failed' | 'timedOut' | 'cancelled';
}

interface ChainFacts {
  /** Each run's history replays with the current workflow code (the failure's message otherwise). */
  replays: string[];
  attempts: Attempt[];
  /** Every audit line written to the history, with the memo upsert that wrote it. */
  lines: { entry: AuditEntry; pos: Pos }[];
  continuedAsNew: number;
}

async function readChain(workflowId: string): Promise<ChainFacts> {
  const runs = await chainHistory(workflowId);
  const replays: string[] = [];
  for (const { runId, events } of runs) {
    try {
      await replayHistory({ events }, `${workflowId}/${runId}`);
    } catch (err) {
      replays.push(`run ${runId}: ${err instanceof Error ? err.message : String(err)}`.slice(0, 600));
    }
  }
  const attempts: Attempt[] = [];
  const lines: ChainFacts['lines'] = [];
  runs.forEach(({ events }, run) => {
    const byScheduled = new Map<number, Attempt>();
    for (const e of events) {
      const event = Number(e.eventId);
      const sched = e.activityTaskScheduledEventAttributes;
      if (sched?.activityType?.name === 'cloacina.runTask') {
        const input = defaultPayloadConverter.fromPayload<{ taskId: string; attempt: number }>(
          sched.input!.payloads![0]!,
        );
        const a: Attempt = {
          taskId: input.taskId,
          attempt: input.attempt,
          pos: { run, wft: Number(sched.workflowTaskCompletedEventId), event },
        };
        byScheduled.set(event, a);
        attempts.push(a);
        continue;
      }
      const cancel = e.activityTaskCancelRequestedEventAttributes;
      if (cancel) {
        const a = byScheduled.get(Number(cancel.scheduledEventId));
        if (a) a.cancelRequested = { run, wft: Number(cancel.workflowTaskCompletedEventId), event };
        continue;
      }
      for (const [outcome, attrs] of [
        ['completed', e.activityTaskCompletedEventAttributes],
        ['failed', e.activityTaskFailedEventAttributes],
        ['timedOut', e.activityTaskTimedOutEventAttributes],
        ['cancelled', e.activityTaskCanceledEventAttributes],
      ] as const) {
        const a = attrs ? byScheduled.get(Number(attrs.scheduledEventId)) : undefined;
        if (a) a.outcome = outcome;
      }
      // Audit lines ride in the CloacinaAudit search attribute upsert, or (too large for it) a memo upsert.
      const modified = e.workflowPropertiesModifiedEventAttributes;
      const memo = modified?.upsertedMemo?.fields?.['cloacina.audit'];
      if (modified && memo) {
        const pos = { run, wft: Number(modified.workflowTaskCompletedEventId), event };
        for (const entry of defaultPayloadConverter.fromPayload<AuditEntry[]>(memo))
          lines.push({ entry, pos });
      }
      const upsert = e.upsertWorkflowSearchAttributesEventAttributes;
      const attr = upsert?.searchAttributes?.indexedFields?.['CloacinaAudit'];
      if (upsert && attr) {
        const pos = { run, wft: Number(upsert.workflowTaskCompletedEventId), event };
        for (const entry of JSON.parse(defaultPayloadConverter.fromPayload<string>(attr)) as AuditEntry[])
          lines.push({ entry, pos });
      }
    }
  });
  return { replays, attempts, lines, continuedAsNew: runs.length - 1 };
}

interface RunChecks {
  cutOff: number;
  continuedAsNew: number;
  holds: number;
}

/**
 * Checks invariants (1), (2) and (5) of one run from its history and its audit trail (read through
 * getAudit); pushes what it finds into `v`.
 */
function checkRun(
  workflowId: string,
  facts: ChainFacts,
  audit: AuditEntry[],
  accepted: Sent[],
  v: Violations,
): RunChecks {
  const where = `${workflowId} (${seedNote})`;
  for (const r of facts.replays) v.replay.push(`${where}: ${r}`);
  // The trail getAudit reads is the one in the history, numbered 1..N with no gap.
  const seqs = audit.map((a) => a.seq);
  if (seqs.some((s, i) => s !== i + 1) || facts.lines.length !== audit.length)
    v.unendedPauses.push(
      `${where}: getAudit returned ${audit.length} lines (seq ${seqs.slice(0, 5).join(',')}…), the history holds ${facts.lines.length}`,
    );
  const posOf = new Map(facts.lines.map((l) => [l.entry.seq, l.pos]));

  // Pauses: the line that opened each (the first line with its pauseId) and its ending lines.
  const opened = new Map<number, AuditEntry>();
  const endings = new Map<number, AuditEntry[]>();
  for (const a of audit) {
    if (a.pauseId === undefined) continue;
    if ((a.action === 'pause' || a.action === 'gate') && !opened.has(a.pauseId)) opened.set(a.pauseId, a);
    if (a.action === 'resume') endings.set(a.pauseId, [...(endings.get(a.pauseId) ?? []), a]);
  }
  let holds = 0;
  for (const [pauseId, open] of opened) {
    const ends = endings.get(pauseId) ?? [];
    if (ends.length !== 1 || ends[0]!.seq < open.seq) {
      v.unendedPauses.push(
        `${where}: ${open.action} line ${open.seq} (pause ${pauseId}, ${open.kind}) has ${ends.length} ending lines` +
          (ends.length ? ` (${ends.map((e) => e.seq).join(', ')})` : ''),
      );
      continue;
    }
    const openPos = posOf.get(open.seq);
    const endPos = posOf.get(ends[0]!.seq);
    if (!openPos || !endPos) continue; // reported above
    if (open.action === 'pause') {
      holds++;
      // (1) Between the pause line and the workflow task that resumed, nothing was scheduled. Attempts
      // scheduled before the pause line (in its own workflow task too) were running and may finish.
      for (const a of facts.attempts) {
        if (eventBefore(openPos, a.pos) && wftBefore(a.pos, endPos))
          v.startedWhilePaused.push(
            `${where}: ${a.taskId}#${a.attempt} scheduled at ${at(a.pos)}, while pause ${pauseId} ` +
              `(${open.mode}, by ${open.by}, line ${open.seq} at ${at(openPos)}) held until line ${ends[0]!.seq} at ${at(endPos)}`,
          );
      }
    } else if (open.taskId) {
      // The gated task starts only once its gate is released.
      for (const a of facts.attempts)
        if (a.taskId === open.taskId && wftBefore(a.pos, endPos))
          v.startedWhilePaused.push(
            `${where}: ${a.taskId}#${a.attempt} scheduled at ${at(a.pos)}, before its gate (line ${open.seq}) was released at ${at(endPos)}`,
          );
    }
  }

  // (2) Each task completed once, not counting attempts cut off by an immediate pause: those were cancelled
  // in the workflow task of an immediate pause line or of an upgrade to immediate.
  const immediate = facts.lines.filter(
    (l) => (l.entry.action === 'pause' && l.entry.mode === 'immediate') || l.entry.action === 'upgrade',
  );
  let cutOff = 0;
  for (const [id] of DAG) {
    const mine = facts.attempts.filter((a) => a.taskId === id);
    const kept = mine.filter((a) => !a.cancelRequested && a.outcome === 'completed');
    if (kept.length > 1)
      v.completedTwice.push(
        `${where}: ${id} completed ${kept.length} times (${kept.map((a) => `#${a.attempt} at ${at(a.pos)}`).join(', ')})`,
      );
    for (const a of mine) {
      if (!a.cancelRequested) continue;
      cutOff++;
      if (!immediate.some((l) => sameWft(l.pos, a.cancelRequested!)))
        v.completedTwice.push(
          `${where}: ${id}#${a.attempt} was cancelled at ${at(a.cancelRequested)} with no immediate pause in that workflow task`,
        );
    }
  }

  // (5) Every request a client saw accepted is in the trail; every accepted pause has its ending line.
  for (const s of accepted) {
    if (s.result?.duplicate) continue;
    const line = audit.find((a) => a.requestId === s.requestId);
    if (!line) {
      v.unendedPauses.push(`${where}: accepted ${s.kind} ${s.requestId} has no audit line`);
      continue;
    }
    if (s.kind.startsWith('pause')) {
      const pauseId = s.result?.pause?.pauseId;
      if (pauseId === undefined || (endings.get(pauseId) ?? []).length !== 1)
        v.unendedPauses.push(
          `${where}: accepted ${s.kind} ${s.requestId} (pause ${pauseId}) was never ended`,
        );
    }
  }
  return { cutOff, continuedAsNew: facts.continuedAsNew, holds };
}

// ---- the test -----------------------------------------------------------------------------------------

describe('load: three clients pausing, resuming and approving 150 runs at random', function () {
  it(`keeps every pause promise under seeded random traffic`, async function () {
    this.timeout(300_000);
    console.log(`      ${seedNote}`);
    const t0 = Date.now();
    const root = xoroshiro128plus(seed);
    /** An independent stream of the seed for each part of the plan. */
    const stream = () => {
      root.jump();
      return new Random(root.clone());
    };
    const planRandom = stream();
    const runs = Array.from({ length: RUNS }, (_, n) => {
      const plan: Record<string, number> = {};
      for (const [id] of DAG) plan[id] = LONG.has(id) ? planRandom.int(600, 2000) : planRandom.int(3, 60);
      return {
        n,
        workflowId: `load-${seed}-${n}`,
        input: { n, plan },
        client: n % CLIENTS,
        startAt: planRandom.int(0, START_PHASE_MS),
      };
    });

    const v = Object.fromEntries(INVARIANTS.map((k) => [k, [] as string[]])) as Violations;
    const tally: Tally = {
      requests: 0,
      accepted: 0,
      duplicate: 0,
      refused: {},
      pauses: { graceful: 0, immediate: 0 },
      resumes: 0,
      approvals: 0,
      latency: {},
    };
    const sentByRun = new Map<string, Sent[]>();

    await withWorker([loadDag], async ({ taskQueue }) => {
      const clients = await Promise.all(
        Array.from({ length: CLIENTS }, async (_, k) => {
          const identity = `client-${k + 1}`;
          const connection = await Connection.connect({ address: testServer().address });
          const client = new Client({ connection, namespace: testServer().namespace, identity });
          return { identity, connection, executor: new UnifiedExecutor(client, { taskQueue, identity }) };
        }),
      );
      try {
        const started: string[] = [];
        const closed = new Set<string>();
        const trafficEnds = t0 + TRAFFIC_MS;
        const hotRuns = new Set(
          [...runs]
            .sort((a, b) => a.startAt - b.startAt)
            .slice(0, HOT_RUNS)
            .map((r) => r.workflowId),
        );

        /** Sends one request and counts its outcome. */
        const send = async (s: Sent, repeatOf?: Sent): Promise<void> => {
          tally.requests++;
          const sentAt = Date.now();
          const timed = () => {
            const l = (tally.latency[s.kind] ??= { ms: 0, n: 0 });
            l.ms += Date.now() - sentAt;
            l.n++;
          };
          try {
            const r = await answered(s.send(), `${s.kind} ${s.requestId}`).finally(timed);
            if (repeatOf === undefined) s.result = r;
            if (r.duplicate) tally.duplicate++;
            else tally.accepted++;
            if (!r.duplicate && repeatOf === undefined) {
              if (s.kind === 'pause:graceful') tally.pauses.graceful++;
              if (s.kind === 'pause:immediate') tally.pauses.immediate++;
              if (s.kind === 'resume') tally.resumes++;
              if (s.kind === 'approve') tally.approvals++;
            }
            if (s.kind === 'approve:wrong')
              v.requests.push(`${s.workflowId}: an approval by a non-approver was accepted (${s.requestId})`);
            // A request id the run served before comes back as a duplicate: nothing is done twice.
            if (repeatOf?.result && !r.duplicate)
              v.requests.push(
                `${s.workflowId}: ${s.kind} ${s.requestId} sent again after it was accepted, and accepted again (not as a duplicate)`,
              );
          } catch (err) {
            const code = refusalCode(err);
            if (code === undefined) {
              v.requests.push(`${s.workflowId}: ${s.kind} ${s.requestId}: ${describeError(err)}`);
              tally.refused.unexpected = (tally.refused.unexpected ?? 0) + 1;
              return;
            }
            tally.refused[code] = (tally.refused[code] ?? 0) + 1;
            if (code === 'WorkflowClosed') closed.add(s.workflowId);
            if (!ALLOWED_REFUSALS[s.kind].includes(code))
              v.requests.push(
                `${s.workflowId}: ${s.kind} ${s.requestId} refused ${code}: ${describeError(err)}`,
              );
            else if (repeatOf?.result && code !== 'WorkflowClosed')
              v.requests.push(
                `${s.workflowId}: ${s.kind} ${s.requestId} sent again after it was accepted, and refused ${code} (not served as a duplicate)`,
              );
          }
        };

        const starters = clients.map(async (c, k) => {
          for (const r of runs.filter((x) => x.client === k).sort((a, b) => a.startAt - b.startAt)) {
            await sleep(Math.max(0, t0 + r.startAt - Date.now()));
            try {
              await c.executor.executeAsync(loadDag, r.input, { workflowId: r.workflowId });
              started.push(r.workflowId);
            } catch (err) {
              v.requests.push(`${r.workflowId}: start failed: ${describeError(err)}`);
            }
          }
        });

        const loops = clients.flatMap((c) =>
          Array.from({ length: LOOPS_PER_CLIENT }, async (_, loop) => {
            const rnd = stream();
            const mine: Sent[] = [];
            /** Runs this loop saw its pause accepted on, to aim resumes at. */
            const pausedHere = new Set<string>();
            let i = 0;
            while (Date.now() < trafficEnds) {
              await sleep(rnd.int(20, 200));
              const open = started.filter((id) => !closed.has(id));
              if (open.length === 0) continue;
              const recent = open.slice(-25);
              const hot = open.filter((id) => hotRuns.has(id));
              /** Any open run, a recent one (likelier to have tasks running) or a hot one. */
              const target = (withHot = true) => {
                const where = rnd.int(1, 100);
                if (withHot && where <= HOT_SHARE && hot.length) return rnd.pick(hot);
                return rnd.pick(where <= 60 ? recent : open);
              };
              const roll = rnd.int(1, 100);
              if (roll <= 8 && mine.length) {
                // The same request again, with its request id.
                const first = rnd.pick(mine.slice(-40));
                await send({ ...first }, first);
                continue;
              }
              const requestId = `${c.identity}-${loop}-${i++}`;
              let s: Sent;
              if (roll <= 30) {
                let workflowId = target();
                const mode = rnd.chance(0.5) ? 'graceful' : 'immediate';
                if (mode === 'immediate' && rnd.chance(0.6)) {
                  // Aimed at a run with a task running, so that the pause cuts an attempt off.
                  for (const id of [workflowId, target(), target()]) {
                    const st = await c.executor.getStatus(id).catch(() => undefined);
                    if (st && !st.closedAt && Object.values(st.tasks).some((t) => t.state === 'running')) {
                      workflowId = id;
                      break;
                    }
                  }
                }
                s = {
                  kind: `pause:${mode}`,
                  workflowId,
                  requestId,
                  send: () =>
                    c.executor.pauseWorkflow(workflowId, { mode, reason: `load ${requestId}`, requestId }),
                };
              } else if (roll <= 65) {
                const workflowId = pausedHere.size && rnd.chance(0.7) ? rnd.pick([...pausedHere]) : target();
                pausedHere.delete(workflowId);
                s = {
                  kind: 'resume',
                  workflowId,
                  requestId,
                  send: () =>
                    c.executor.resumeWorkflow(workflowId, { reason: `load ${requestId}`, requestId }),
                };
              } else if (roll <= 90) {
                // Hot runs are not approved during the traffic: they stay open and keep growing.
                const workflowId = target(false);
                const by = rnd.pick(APPROVERS);
                s = {
                  kind: 'approve',
                  workflowId,
                  requestId,
                  send: () => c.executor.approve(workflowId, GATED, { by, requestId }),
                };
              } else {
                const workflowId = target();
                s = {
                  kind: 'approve:wrong',
                  workflowId,
                  requestId,
                  send: () => c.executor.approve(workflowId, GATED, { by: 'mallory', requestId }),
                };
              }
              mine.push(s);
              sentByRun.set(s.workflowId, [...(sentByRun.get(s.workflowId) ?? []), s]);
              await send(s);
              if (s.kind.startsWith('pause') && s.result) pausedHere.add(s.workflowId);
            }
          }),
        );
        await Promise.all([...starters, ...loops]);
        const trafficSeconds = (Date.now() - t0) / 1000;

        // Finish: rounds over the runs still open, resuming every pause and approving every gate, until all
        // have closed.
        const finisher = clients[0]!.executor;
        const finishBy = Date.now() + FINISH_MS;
        const contexts = new Map<string, JsonObject>();
        const ended = new Set<string>();
        const expected = ['NotPaused', 'AlreadyResuming', 'Superseded', 'GateNotWaiting', 'WorkflowClosed'];
        for (let open = runs.map((r) => r.workflowId); open.length && Date.now() < finishBy;) {
          const queue = [...open];
          await Promise.all(
            Array.from({ length: 12 }, async () => {
              for (let id = queue.shift(); id !== undefined; id = queue.shift()) {
                try {
                  const st = await answered(finisher.getStatus(id), `status of ${id}`);
                  if (st.closedAt) {
                    ended.add(id);
                    if (st.state === 'completed') contexts.set(id, await finisher.result(id));
                    continue;
                  }
                  if (st.pause && st.pause.kind !== 'gate' && st.state !== 'resuming')
                    await answered(
                      finisher.resumeWorkflow(id, { by: 'finisher', reason: 'end of load' }),
                      `resume of ${id}`,
                    );
                  if (st.gates.some((g) => g.taskId === GATED))
                    for (const by of APPROVERS)
                      await answered(finisher.approve(id, GATED, { by }), `approval of ${id}`);
                } catch (err) {
                  const code = refusalCode(err);
                  if (code === undefined || !expected.includes(code))
                    v.requests.push(`${id}: while finishing: ${describeError(err)}`);
                }
              }
            }),
          );
          open = open.filter((id) => !ended.has(id));
          if (open.length) await sleep(500);
        }
        const finishSeconds = (Date.now() - t0) / 1000 - trafficSeconds;

        // (3) and (4): every run completed, with exactly the context its tasks write.
        for (const r of runs) {
          const out = contexts.get(r.workflowId);
          if (!out) {
            const st = await finisher.getStatus(r.workflowId).catch((err: unknown) => describeError(err));
            v.stuck.push(
              `${r.workflowId} (${seedNote}) did not complete: ` +
                (typeof st === 'string'
                  ? st
                  : `${st.state}, pause ${JSON.stringify(st.pause)}, gates ${st.gates.map((g) => g.taskId).join(',')}, ` +
                    `tasks not done ${Object.entries(st.tasks)
                      .filter(([, t]) => t.state !== 'completed')
                      .map(([id, t]) => `${id}:${t.state}`)
                      .join(',')}`),
            );
            continue;
          }
          try {
            assert.deepEqual(out, expectedContext(r.input));
          } catch {
            v.finalContext.push(
              `${r.workflowId} (${seedNote}): final context ${JSON.stringify(out)}, expected ${JSON.stringify(expectedContext(r.input))}`,
            );
          }
        }

        // (1), (2), (5) from every run's history and audit trail.
        let cutOff = 0;
        let continuedAsNew = 0;
        let holds = 0;
        const toCheck = runs.map((r) => r.workflowId);
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            for (let id = toCheck.shift(); id !== undefined; id = toCheck.shift()) {
              const audit: AuditEntry[] = [];
              let cursor: string | undefined;
              do {
                const page = await finisher.getAudit(id, cursor ? { cursor } : {});
                audit.push(...page.entries);
                cursor = page.nextCursor;
              } while (cursor);
              const accepted = (sentByRun.get(id) ?? []).filter((s) => s.result);
              const c = checkRun(id, await readChain(id), audit, accepted, v);
              cutOff += c.cutOff;
              continuedAsNew += c.continuedAsNew;
              holds += c.holds;
            }
          }),
        );

        const counts = Object.fromEntries(Object.entries(v).map(([k, list]) => [k, list.length]));
        const total = Object.values(v).reduce((n, list) => n + list.length, 0);
        const seconds = Math.round((Date.now() - t0) / 1000);
        const refused = Object.values(tally.refused).reduce((n, x) => n + x, 0);
        console.log(
          `      load: ${RUNS} runs, ${tally.requests} requests (accepted ${tally.accepted}, refused ${refused} ` +
            `by code ${JSON.stringify(tally.refused)}, duplicate ${tally.duplicate}), invariant violations ${total}, ` +
            `seed ${seed}, ${seconds} s`,
        );
        console.log(
          `      load: pauses accepted ${tally.pauses.graceful} graceful / ${tally.pauses.immediate} immediate ` +
            `(${holds} held a run), resumes ${tally.resumes}, approvals ${tally.approvals}, attempts cut off ${cutOff}, ` +
            `continue-as-new ${continuedAsNew}; traffic ${trafficSeconds.toFixed(0)} s, finishing ${finishSeconds.toFixed(0)} s; ` +
            `violations ${JSON.stringify(counts)}; mean latency ms ` +
            JSON.stringify(
              Object.fromEntries(Object.entries(tally.latency).map(([k, l]) => [k, Math.round(l.ms / l.n)])),
            ),
        );
        for (const [k, list] of Object.entries(v))
          for (const line of list.slice(0, 5)) console.log(`      ${k}: ${line}`);
        assert.equal(
          total,
          0,
          `${total} invariant violations ${JSON.stringify(counts)}; ${seedNote}; first: ` +
            Object.values(v).flat().slice(0, 3).join(' | '),
        );
        // The load did what it is for: pauses of both modes held runs, and some cut running tasks off.
        assert.ok(tally.pauses.graceful > 0 && tally.pauses.immediate > 0, `pauses accepted; ${seedNote}`);
        assert.ok(tally.resumes > 0 && tally.approvals > 0, `resumes and approvals accepted; ${seedNote}`);
        assert.ok(
          holds > 0 && cutOff > 0,
          `${holds} pauses held runs, ${cutOff} attempts cut off; ${seedNote}`,
        );
      } finally {
        await Promise.all(clients.map((c) => c.connection.close()));
      }
    });
  });
});
