#!/usr/bin/env node
// `cloacina-temporal`: the operator's command line. Reads, pauses, resumes and approves runs through
// UnifiedExecutor; connects like the `temporal` CLI (flags, then TEMPORAL_* variables).
import { randomUUID } from 'node:crypto';
import { hostname, userInfo } from 'node:os';
import path from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { NamespaceNotFoundError } from '@temporalio/common';
import cliProgress from 'cli-progress';
import { one, out, printJson, visible } from './cli-output';
import type { ControlResult } from '../workflows/messages';
import type { RunStatus } from './native-pause';
import type { AuditEntry, CurrentPause, GateStatus } from '../workflows/pause-machine';
import { nearest, type JsonObject, type JsonValue } from '../workflows/dag';
import type { WorkflowDefinition } from './definitions';
import { devServerOptions, runDevServer, type DevServerCommandOptions } from '../temporal-dev/cli';
import { addPauseWindowCommands } from './cli-pause-windows';
import { connectionOptionsFromEnv, type ConnectionFlags } from './connection';
import {
  InvalidInputError,
  isUnavailable,
  RequestRejectedError,
  ServerUnreachableError,
  UnknownNamespaceError,
  WorkflowClosedError,
  WorkflowNotFoundError,
  withCauses,
} from './errors';
import {
  UnifiedExecutor,
  type BulkOptions,
  type BulkResult,
  type PauseOptions,
  type ResumeOptions,
  type WorkflowSummary,
} from './executor';
import { PauseWindowNotFoundError } from './pause-windows';

/** Exit codes of the command line. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The workflow (or the server) refused the request, or a bulk operation left some runs out. */
  refused: 1,
  /** Bad options or arguments. */
  usage: 2,
  /** No such workflow (or namespace). */
  notFound: 3,
  /** No Temporal server answered. */
  unreachable: 4,
} as const;

const PROGRAM = 'cloacina-temporal';

interface GlobalOptions extends ConnectionFlags {
  json?: boolean;
}

/** Who a request is recorded as when `--by` is not given: the OS user. */
export function defaultBy(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? 'unknown';
  }
}

// ---- argument parsers: a bad value is a usage error (exit 2) naming the option ----

function wholeNumber(min: number, max = Number.MAX_SAFE_INTEGER) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
      throw new InvalidArgumentError(`Expected a whole number from ${min} to ${max}.`);
    return n;
  };
}

function jsonValue(value: string): JsonValue {
  try {
    return JSON.parse(value) as JsonValue;
  } catch (err) {
    throw new InvalidArgumentError(`Expected JSON (${(err as Error).message}).`);
  }
}

function jsonObject(value: string): JsonObject {
  const parsed = jsonValue(value);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidArgumentError('Expected a JSON object like \'{"key":"value"}\'.');
  return parsed;
}

function idList(value: string): string[] {
  const ids = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (ids.length === 0) throw new InvalidArgumentError('Expected task ids separated by commas, like a,b.');
  return ids;
}

// ---- output ----

/** One line of at most `width` characters: whitespace runs (newlines too) become one space. */
function cut(text: string | undefined, width: number): string {
  const line = one(text);
  return line.length > width ? `${line.slice(0, width - 1)}…` : line;
}

/** A plain-text table: a header row, then the rows, columns padded to their widest cell. */
export function table(headers: string[], rawRows: string[][]): string {
  // Escaped before they are measured, so that the columns line up as the terminal shows them.
  const rows = rawRows.map((r) => r.map(visible));
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.round(s - m * 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

function describePause(p: CurrentPause): string {
  const parts = [`${p.kind} pause #${p.pauseId} by ${one(p.by)} at ${p.at}`, `${p.mode}, ${p.phase}`];
  if (p.taskId) parts.push(`task ${p.taskId}`);
  if (p.failedTasks?.length) parts.push(`failed tasks ${p.failedTasks.join(', ')}`);
  if (p.resumeAt) parts.push(`resumes at ${p.resumeAt}`);
  if (p.expiresAt) parts.push(`expires at ${p.expiresAt}${p.onExpiry ? ` (then ${p.onExpiry})` : ''}`);
  return `${parts.join('; ')}${p.reason ? ` — ${one(p.reason)}` : ''}`;
}

function describeGate(g: GateStatus): string {
  const approvals = g.approvals.map((a) => one(a.by)).join(', ');
  const parts = [
    `${g.taskId} waiting since ${g.openedAt}`,
    `approvals ${g.approvals.length}/${g.requiredApprovals}${approvals ? ` (${approvals})` : ''}`,
  ];
  if (g.approvers?.length) parts.push(`approvers ${g.approvers.map(one).join(', ')}`);
  if (g.expiresAt) parts.push(`times out at ${g.expiresAt}`);
  else if (g.timeoutRemainingMs !== undefined)
    parts.push(`times out after ${duration(g.timeoutRemainingMs)} more active time`);
  return `${parts.join('; ')}${g.reason ? ` — ${one(g.reason)}` : ''}`;
}

function auditRows(entries: AuditEntry[]): string[][] {
  return entries.map((e) => [
    String(e.seq),
    e.at,
    e.action,
    e.kind ?? '',
    one(e.by),
    one(e.taskId),
    cut([e.reason, e.message, e.forced ? 'forced' : undefined].filter(Boolean).join(' · '), 60),
  ]);
}

const AUDIT_HEADERS = ['SEQ', 'AT', 'ACTION', 'KIND', 'BY', 'TASK', 'DETAILS'];

function printStatus(id: string, s: RunStatus): void {
  out(`Workflow ${id} (${s.workflow}): ${s.state}${s.lastState ? ` (last known state ${s.lastState})` : ''}`);
  if (s.frozen)
    out(
      `Frozen:  ${s.frozen.inconsistent ? 'pause info left on a running run (temporalio/temporal#10239); ' : ''}` +
        `paused on the Temporal server${s.frozen.freeze ? ' (mode freeze)' : ''} by ${one(s.frozen.by) || 'unknown'}` +
        `${s.frozen.at ? ` at ${s.frozen.at}` : ''}${s.frozen.reason ? ` — ${one(s.frozen.reason)}` : ''}` +
        (s.state === 'frozen'
          ? `; \`${PROGRAM} resume ${id}\` unpauses it; tasks and audit as last recorded`
          : ''),
    );
  if (s.pause) out(`Paused:  ${describePause(s.pause)}`);
  for (const g of s.gates) out(`Gate:    ${describeGate(g)}`);
  if (s.draining) out(`Draining before continue-as-new since ${s.draining.since}`);
  if (s.error) out(`Error:   ${s.error.type}: ${one(s.error.message)}`);
  out(
    `Started: ${s.startedAt}${s.closedAt ? `; closed ${s.closedAt}` : ''}; active ${duration(s.activeMs)}` +
      `${s.continuedAsNew ? `; continued as new ${s.continuedAsNew}×` : ''}`,
  );
  out();
  out(
    table(
      ['TASK', 'STATE', 'ATTEMPTS', 'STARTED', 'FINISHED', 'ERROR'],
      Object.entries(s.tasks).map(([taskId, t]) => [
        taskId,
        t.state,
        String(t.attempts) + (t.interrupted ? ` (+${t.interrupted} cut off)` : ''),
        t.startedAt ?? '',
        t.finishedAt ?? '',
        cut(t.error ? `${t.error.type}: ${t.error.message}` : t.skipReason, 60),
      ]),
    ),
  );
  const resources = Object.entries(s.resources);
  if (resources.length) {
    out();
    out(
      table(
        ['RESOURCE', 'STATE', 'SETUPS', 'TEARDOWNS'],
        resources.map(([rid, r]) => [rid, r.state, String(r.setups), String(r.teardowns)]),
      ),
    );
  }
  const recent = s.audit.slice(-5);
  if (recent.length) {
    out();
    out(`Audit (newest ${recent.length} of ${s.auditCount}; \`${PROGRAM} audit ${id}\` shows all):`);
    out(table(AUDIT_HEADERS, auditRows(recent)));
  }
}

function printList(rows: WorkflowSummary[]): void {
  if (rows.length === 0) {
    out('No workflows match.');
    return;
  }
  out(
    table(
      ['WORKFLOW ID', 'WORKFLOW', 'STATE', 'PAUSED', 'BY', 'REASON', 'STARTED'],
      rows.map((w) => [
        w.workflowId,
        w.workflow ?? '',
        w.frozen ? `frozen${w.state ? ` (${w.state})` : ''}` : (w.state ?? w.temporalStatus.toLowerCase()),
        w.paused
          ? w.frozen
            ? `server${w.pauseKind ? `+${w.pauseKind}` : ''}`
            : (w.pauseKind ?? 'yes')
          : 'no',
        one(w.pausedBy),
        cut(w.pauseReason, 40),
        w.startTime.toISOString(),
      ]),
    ),
  );
}

function printControl(verb: string, id: string, r: ControlResult, extra = ''): void {
  const dup = r.duplicate ? ' (a repeat of an earlier request: nothing changed)' : '';
  out(`${verb} ${id}${extra}: state ${r.state}${dup}`);
  if (r.pause) out(`Paused:  ${describePause(r.pause)}`);
  if (r.state === 'pausing')
    out(
      r.pause?.mode === 'immediate'
        ? 'Running tasks are being cancelled; the run is paused once they have stopped (they run again after resume).'
        : 'Running tasks are finishing; the run is paused once they have.',
    );
}

function printBulk(verb: string, r: BulkResult): void {
  out(`${verb} ${r.succeeded} of ${r.total} workflows (bulk id ${r.bulkId})`);
  out(`Query: ${r.query}`);
  if (r.unreachable !== undefined) {
    const notSent = r.outcomes.filter((o) => !o.ok && o.error?.startsWith('not sent:')).length;
    out(
      `Stopped: the server stopped answering (${one(r.unreachable)}); ${notSent} runs were sent nothing. ` +
        `Run the same command with --bulk-id ${r.bulkId} once it answers: what was done is not done twice.`,
    );
  }
  const failed = r.outcomes.filter((o) => !o.ok);
  if (failed.length) {
    out();
    out(
      table(
        ['WORKFLOW ID', 'CODE', 'ERROR'],
        failed.map((o) => [o.workflowId, o.code ?? '', cut(o.error, 100)]),
      ),
    );
  }
}

/** A bulk operation's exit code: 4 when the server stopped answering, 1 when any run was left out. */
function bulkExit(r: BulkResult): number {
  if (r.unreachable !== undefined) return EXIT.unreachable;
  return r.failed ? EXIT.refused : EXIT.ok;
}

/**
 * What a bulk command shows while it runs: a progress bar on stderr when stderr is a terminal, and on
 * Ctrl-C (or SIGTERM) the bar taken down, a line saying how far it got and which bulk id finishes it, and
 * exit 130 (143). Without this the bar leaves the cursor hidden and line wrap off, and the bulk id of a
 * run that named none is lost.
 */
function bulkProgress(
  label: string,
  bulkId: string,
): { onProgress: BulkOptions['onProgress']; stop(): void } {
  const tty = process.stderr.isTTY;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: `${label} [{bar}] {value}/{total} {workflowId}`,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let started = false;
  let done = 0;
  let total: number | undefined;
  const interrupted = (signal: NodeJS.Signals) => {
    if (started) bar?.stop();
    process.stderr.write(
      `interrupted: ${done} of ${total ?? 'the selected'} runs done (bulk id ${bulkId}): run the same command ` +
        `with --bulk-id ${bulkId} to finish; what was done is not done twice\n`,
    );
    process.exit(signal === 'SIGINT' ? 130 : 143);
  };
  process.once('SIGINT', interrupted);
  process.once('SIGTERM', interrupted);
  return {
    onProgress: (d, t, outcome) => {
      done = d;
      total = t;
      if (!bar) return;
      if (!started) bar.start(t, 0, { workflowId: '' });
      started = true;
      bar.update(d, { workflowId: visible(one(outcome.workflowId)) });
    },
    stop: () => {
      process.removeListener('SIGINT', interrupted);
      process.removeListener('SIGTERM', interrupted);
      if (started) bar?.stop();
      started = false;
    },
  };
}

// ---- errors ----

/** The exit code for an error. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
  if (err instanceof ServerUnreachableError || isUnavailable(err)) return EXIT.unreachable;
  if (
    err instanceof WorkflowNotFoundError ||
    err instanceof NamespaceNotFoundError ||
    err instanceof UnknownNamespaceError
  )
    return EXIT.notFound;
  if (err instanceof PauseWindowNotFoundError) return EXIT.notFound;
  if (err instanceof InvalidInputError) return EXIT.usage;
  return EXIT.refused;
}

/** One line saying what happened and what to do. */
function errorLine(err: unknown, globals: GlobalOptions): string {
  if (err instanceof RequestRejectedError) return `refused (${err.code}): ${err.message}`;
  if (err instanceof WorkflowClosedError) return `refused: ${err.message}`;
  if (err instanceof NamespaceNotFoundError)
    return `not found: ${err.message}: check --namespace or TEMPORAL_NAMESPACE (now \`${err.namespace}\`)`;
  if (err instanceof UnknownNamespaceError) return `not found: ${err.message}`;
  if (err instanceof WorkflowNotFoundError)
    return `not found: no workflow \`${err.workflowId}\` in namespace \`${namespaceOf(globals)}\`: check the id (\`${PROGRAM} list\` shows runs) and --namespace`;
  if (err instanceof InvalidInputError) return `invalid input: ${err.message}`;
  if (err instanceof ServerUnreachableError) return `unreachable: ${err.message}`;
  if (isUnavailable(err))
    return (
      `unreachable: the Temporal server at ${addressOf(globals)} stopped answering (${withCauses(err).split('\n')[0]}): ` +
      'check that it is up, then run the command again (a request sent with the same --request-id is not applied twice)'
    );
  return `error: ${withCauses(err).split('\n')[0]}`;
}

function addressOf(globals: GlobalOptions): string {
  try {
    return connectionOptionsFromEnv(globals).address;
  } catch {
    return globals.address ?? 'the address given';
  }
}

function namespaceOf(globals: GlobalOptions): string {
  try {
    return connectionOptionsFromEnv(globals).namespace;
  } catch {
    return globals.namespace ?? 'default';
  }
}

function errorJson(err: unknown, code: number): unknown {
  const e = err instanceof Error ? err : new Error(String(err));
  return {
    error: {
      name: e.name,
      message: e.message,
      exitCode: code,
      ...(err instanceof RequestRejectedError ? { code: err.code } : {}),
      ...(err instanceof WorkflowNotFoundError ? { workflowId: err.workflowId } : {}),
      ...(err instanceof ServerUnreachableError ? { address: err.address } : {}),
    },
  };
}

// ---- the program ----

/** Whether a module's export looks like what `defineWorkflow` returns. */
function isDefinition(v: unknown): v is WorkflowDefinition {
  const d = v as Partial<WorkflowDefinition> | null | undefined;
  return typeof d?.name === 'string' && d.tasks instanceof Map && Array.isArray(d.spec?.tasks);
}

/** The definition named `name` among a module's exports (direct, in `default`, or in an exported array). */
function definitionIn(file: string, name: string): WorkflowDefinition {
  const resolved = path.resolve(file);
  let mod: unknown;
  try {
    mod = require(resolved);
  } catch (err) {
    throw new InvalidInputError(
      `Cannot load --module \`${file}\` (${(err as Error).message.split('\n')[0]}): give the compiled JavaScript module that exports your workflow definitions`,
    );
  }
  const found: WorkflowDefinition[] = [];
  const visit = (v: unknown, depth: number) => {
    if (isDefinition(v)) found.push(v);
    else if (Array.isArray(v) && depth < 2) v.forEach((x) => visit(x, depth + 1));
    else if (v && typeof v === 'object' && depth < 2)
      Object.values(v as Record<string, unknown>).forEach((x) => visit(x, depth + 1));
  };
  visit(mod, 0);
  const def = found.find((d) => d.name === name);
  if (def) return def;
  const names = [...new Set(found.map((d) => d.name))];
  const near = nearest(name, names);
  throw new InvalidInputError(
    names.length
      ? `Module \`${file}\` exports no workflow \`${name}\`${near ? ` — did you mean \`${near}\`?` : ''} (it exports ${names.map((n) => `\`${n}\``).join(', ')})`
      : `Module \`${file}\` exports no workflow definitions: export what defineWorkflow returns`,
  );
}

/** The executor for one command: connection from flags and environment, no runs started. */
function executorFor(globals: GlobalOptions): UnifiedExecutor {
  const c = connectionOptionsFromEnv(globals);
  return new UnifiedExecutor(`temporal://${c.address}`, {
    address: c.address,
    namespace: c.namespace,
    // The command line starts no runs; the executor wants a task queue all the same.
    taskQueue: 'cloacina-temporal-cli',
    identity: `${defaultBy()}@${hostname()} (${PROGRAM})`,
    connection: { ...(c.tls !== undefined ? { tls: c.tls } : {}), ...(c.apiKey ? { apiKey: c.apiKey } : {}) },
  });
}

type Action = (ex: UnifiedExecutor, globals: GlobalOptions, ...args: string[]) => Promise<number | void>;

type PauseFlags = {
  reason?: string;
  by?: string;
  mode?: 'graceful' | 'immediate' | 'freeze';
  freezeTimeout?: number;
  resumeAt?: string;
  expiresAfter?: number;
  onExpiry?: 'resume' | 'fail' | 'cancel';
  requestId?: string;
};

function pauseOptions(o: PauseFlags): PauseOptions {
  return {
    by: o.by ?? defaultBy(),
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
    ...(o.mode ? { mode: o.mode } : {}),
    ...(o.freezeTimeout !== undefined ? { freezeTimeout: o.freezeTimeout } : {}),
    ...(o.resumeAt !== undefined ? { resumeAt: o.resumeAt } : {}),
    ...(o.expiresAfter !== undefined ? { expiresAfter: o.expiresAfter } : {}),
    ...(o.onExpiry ? { onExpiry: o.onExpiry } : {}),
    ...(o.requestId !== undefined ? { requestId: o.requestId } : {}),
  };
}

function addPauseFlags(cmd: Command, single: boolean): Command {
  cmd
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--by <name>', 'who pauses (default: the OS user)')
    .addOption(
      new Option(
        '--mode <mode>',
        "graceful: running tasks finish; immediate: they are cancelled and re-run; freeze: graceful, then the Temporal server's own pause once they have finished (nothing at all runs)",
      )
        .choices(['graceful', 'immediate', 'freeze'])
        .default('graceful'),
    )
    .option(
      '--freeze-timeout <ms>',
      'with --mode freeze: how long to wait for running tasks to finish (default 300000)',
      wholeNumber(1),
    )
    .option('--resume-at <instant>', 'resume on its own at this ISO-8601 instant, e.g. 2030-01-01T02:00:00Z')
    .option('--expires-after <ms>', 'end the pause after this many ms (see --on-expiry)', wholeNumber(1))
    .addOption(
      new Option('--on-expiry <action>', 'what ends an expired pause (default resume)').choices([
        'resume',
        'fail',
        'cancel',
      ]),
    );
  if (single) cmd.option('--request-id <id>', 'idempotency key: repeating it changes nothing twice');
  return cmd;
}

type ResumeFlags = {
  reason?: string;
  by?: string;
  force?: boolean;
  contextPatch?: JsonObject;
  input?: JsonValue;
  skip?: string[];
  requestId?: string;
};

function resumeOptions(o: ResumeFlags): ResumeOptions {
  return {
    by: o.by ?? defaultBy(),
    ...(o.reason !== undefined ? { reason: o.reason } : {}),
    ...(o.force ? { force: true } : {}),
    ...(o.contextPatch !== undefined ? { contextPatch: o.contextPatch } : {}),
    ...(o.input !== undefined ? { input: o.input } : {}),
    ...(o.skip ? { skip: o.skip } : {}),
    ...(o.requestId !== undefined ? { requestId: o.requestId } : {}),
  };
}

function addResumeFlags(cmd: Command, single: boolean): Command {
  cmd
    .option('--reason <text>', 'why (recorded in the audit trail)')
    .option('--by <name>', 'who resumes (default: the OS user)')
    .option('--force', "skip the workflow's validateResume hook (recorded as forced)")
    .option(
      '--context-patch <json>',
      'a JSON object of keys set in the context of tasks not yet started',
      jsonObject,
    )
    .option('--input <json>', 'resume input (JSON), given to the next tasks as `resumeInput`', jsonValue);
  if (single)
    cmd
      .option('--skip <ids>', 'tasks held by a failure pause to skip instead of re-running (a,b)', idList)
      .option('--request-id <id>', 'idempotency key: repeating it changes nothing twice');
  return cmd;
}

type BulkFlags = {
  query?: string;
  workflow?: string;
  concurrency?: number;
  bulkId?: string;
};

function addBulkFlags(cmd: Command): Command {
  return cmd
    .option('-q, --query <query>', 'visibility query selecting the runs, e.g. "CloacinaWorkflow=\'release\'"')
    .option('--workflow <name>', 'only runs of this workflow definition')
    .option('--concurrency <n>', 'requests in flight at once (default 20)', wholeNumber(1, 1000))
    .option('--bulk-id <id>', 'names the operation: re-running it with the same id changes nothing twice');
}

function bulkSelection(o: BulkFlags): { query?: string; workflow?: string } {
  if (!o.query && !o.workflow)
    throw new InvalidInputError(
      'Expected --query or --workflow to select the runs (e.g. --query "CloacinaWorkflow=\'release\'"): a bulk operation never selects every run by default',
    );
  return { ...(o.query ? { query: o.query } : {}), ...(o.workflow ? { workflow: o.workflow } : {}) };
}

/** Builds the command-line program. Parse with `parseAsync`; errors reach the caller (exit codes via {@link exitCodeOf}). */
export function buildProgram(onExit: (code: number) => void): Command {
  const program = new Command()
    .name(PROGRAM)
    .description(
      'Steer Cloacina workflow runs on Temporal: start, status, list, audit, pause, resume, approve, reject.',
    )
    .exitOverride()
    .configureHelp({ showGlobalOptions: true })
    .configureOutput({
      outputError: (str, write) => write(`${str.trimEnd()} (see --help)\n`),
    })
    .showSuggestionAfterError()
    .option('--address <host:port>', 'Temporal frontend (env TEMPORAL_ADDRESS; default 127.0.0.1:7233)')
    .option('-n, --namespace <ns>', 'namespace (env TEMPORAL_NAMESPACE; default "default")')
    .option('--api-key <key>', 'API key (env TEMPORAL_API_KEY); turns TLS on')
    .option('--tls', 'connect with TLS (env TEMPORAL_TLS)')
    .option('--tls-cert-path <file>', 'client certificate, PEM (env TEMPORAL_TLS_CLIENT_CERT_PATH)')
    .option('--tls-key-path <file>', 'client private key, PEM (env TEMPORAL_TLS_CLIENT_KEY_PATH)')
    .option('--tls-ca-path <file>', 'server CA certificate, PEM (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)')
    .option('--tls-server-name <name>', 'server name for TLS verification (env TEMPORAL_TLS_SERVER_NAME)')
    .option('--json', 'print machine-readable JSON');

  const withExecutor =
    (action: Action) =>
    async (...params: unknown[]): Promise<void> => {
      const cmd = params[params.length - 1] as Command;
      const globals = cmd.optsWithGlobals<GlobalOptions>();
      const args = params.slice(0, cmd.registeredArguments.length) as string[];
      const ex = executorFor(globals);
      try {
        const code = await action(ex, globals, ...args);
        onExit(code ?? EXIT.ok);
      } finally {
        await ex.close().catch(() => undefined);
      }
    };
  const opts = <T extends Record<string, unknown>>(cmd: Command) => cmd.opts<T>();

  const status = program
    .command('status')
    .description('state, current pause and waiting gates first, then tasks, resources and recent audit lines')
    .argument('<id>', 'workflow id')
    .option(
      '--timeout <ms>',
      'how long an open run has to answer (a worker must poll its queue)',
      wholeNumber(1),
      10_000,
    );
  status.action(
    withExecutor(async (ex, g, id) => {
      const { timeout } = opts<{ timeout: number }>(status);
      const s = await ex.getStatus(id, { timeout });
      if (g.json) printJson(s);
      else printStatus(id, s);
    }),
  );

  const list = program
    .command('list')
    .description('runs, newest first, through Temporal visibility')
    .option('--paused', 'only runs under a pause (any kind, gates included)')
    .option('--workflow <name>', 'only runs of this workflow definition')
    .option('-q, --query <query>', 'extra visibility query, ANDed with the rest')
    .option('--limit <n>', 'at most this many (default 1000)', wholeNumber(1));
  list.action(
    withExecutor(async (ex, g) => {
      const o = opts<{ paused?: boolean; workflow?: string; query?: string; limit?: number }>(list);
      const rows = await ex.listWorkflows({
        ...(o.paused ? { paused: true } : {}),
        ...(o.workflow ? { workflow: o.workflow } : {}),
        ...(o.query ? { query: o.query } : {}),
        ...(o.limit ? { limit: o.limit } : {}),
      });
      if (g.json) printJson(rows);
      else printList(rows);
    }),
  );

  const start = program
    .command('start')
    .description('start a run of a workflow whose definition a module exports (the module your worker loads)')
    .argument('<workflow>', 'the name given to defineWorkflow')
    .requiredOption(
      '--module <file>',
      'a JavaScript module exporting the definitions (defineWorkflow results)',
    )
    .requiredOption('--task-queue <queue>', 'the task queue a worker with these definitions polls')
    .option('--input <json>', 'the run input, a JSON object (default {})', jsonObject)
    .option('--workflow-id <id>', "the run's workflow id (default <workflow>-<random UUID>)");
  start.action(
    withExecutor(async (ex, g, name) => {
      const o = opts<{ module: string; taskQueue: string; input?: JsonObject; workflowId?: string }>(start);
      const def = definitionIn(o.module, name);
      const h = await ex.executeAsync(def, o.input ?? {}, {
        taskQueue: o.taskQueue,
        ...(o.workflowId !== undefined ? { workflowId: o.workflowId } : {}),
      });
      if (g.json) printJson({ workflowId: h.workflowId, runId: h.runId, taskQueue: o.taskQueue });
      else {
        out(`Started ${h.workflowId} (${def.name}, run ${h.runId}) on task queue ${o.taskQueue}`);
        out(`\`${PROGRAM} status ${h.workflowId}\` shows it.`);
      }
    }),
  );

  const audit = program
    .command('audit')
    .alias('history')
    .description("the run's whole audit trail from its event history, oldest first, paged (no worker needed)")
    .argument('<id>', 'workflow id')
    .option('--page-size <n>', 'lines per page (default 1000)', wholeNumber(1, 10_000))
    .option('--cursor <cursor>', 'the next-page cursor a previous page printed');
  audit.action(
    withExecutor(async (ex, g, id) => {
      const o = opts<{ pageSize?: number; cursor?: string }>(audit);
      const page = await ex.getAudit(id, {
        ...(o.pageSize ? { pageSize: o.pageSize } : {}),
        ...(o.cursor ? { cursor: o.cursor } : {}),
      });
      if (g.json) {
        printJson(page);
        return;
      }
      out(page.entries.length ? table(AUDIT_HEADERS, auditRows(page.entries)) : 'No audit lines.');
      if (page.nextCursor) out(`\nNext page: ${PROGRAM} audit ${id} --cursor ${page.nextCursor}`);
    }),
  );

  const pause = addPauseFlags(
    program.command('pause').description('pause a run (graceful by default)').argument('<id>', 'workflow id'),
    true,
  );
  pause.action(
    withExecutor(async (ex, g, id) => {
      const r = await ex.pauseWorkflow(id, pauseOptions(opts<PauseFlags>(pause)));
      if (g.json) printJson(r);
      else {
        printControl(r.frozen ? 'Frozen' : r.state === 'paused' ? 'Paused' : 'Pausing', id, r);
        if (r.frozen) out(`Server:  PAUSED by ${r.frozen.by}${r.frozen.at ? ` at ${r.frozen.at}` : ''}`);
      }
    }),
  );

  const resume = addResumeFlags(
    program
      .command('resume')
      .description('resume a paused run, after validation')
      .argument('<id>', 'workflow id'),
    true,
  );
  resume.action(
    withExecutor(async (ex, g, id) => {
      const r = await ex.resumeWorkflow(id, resumeOptions(opts<ResumeFlags>(resume)));
      if (g.json) printJson(r);
      else printControl('Resumed', id, r);
    }),
  );

  for (const [name, verb] of [
    ['approve', 'Approved'],
    ['reject', 'Rejected'],
  ] as const) {
    const gate = program
      .command(name)
      .description(
        name === 'approve'
          ? 'approve a task waiting at its pauseBefore gate'
          : 'reject a task waiting at its gate: the task fails',
      )
      .argument('<id>', 'workflow id')
      .argument('<taskId>', 'the gated task')
      .option('--by <name>', 'who (default: the OS user)')
      .option('--comment <text>', 'recorded with the decision')
      .option('--request-id <id>', 'idempotency key');
    gate.action(
      withExecutor(async (ex, g, id, taskId) => {
        const o = opts<{ by?: string; comment?: string; requestId?: string }>(gate);
        const options = {
          by: o.by ?? defaultBy(),
          ...(o.comment !== undefined ? { comment: o.comment } : {}),
          ...(o.requestId !== undefined ? { requestId: o.requestId } : {}),
        };
        const r =
          name === 'approve' ? await ex.approve(id, taskId, options) : await ex.reject(id, taskId, options);
        if (g.json) printJson(r);
        else printControl(verb, id, r, ` task ${taskId}`);
      }),
    );
  }

  const breakpoints = program
    .command('breakpoints')
    .description('stop before tasks that have not started yet (--set), or no longer (--clear)')
    .argument('<id>', 'workflow id')
    .option('--set <tasks>', 'comma-separated task ids to stop before', idList)
    .option('--clear [tasks]', 'comma-separated task ids to clear (all when none are given)')
    .option('--by <name>', 'who (default: the OS user)')
    .option('--request-id <id>', 'idempotency key');
  breakpoints.action(
    withExecutor(async (ex, g, id) => {
      const o = opts<{ set?: string[]; clear?: string | true; by?: string; requestId?: string }>(breakpoints);
      if ((o.set === undefined) === (o.clear === undefined))
        throw new InvalidInputError('breakpoints: give exactly one of --set a,b or --clear [a,b]');
      const options = {
        by: o.by ?? defaultBy(),
        ...(o.requestId !== undefined ? { requestId: o.requestId } : {}),
      };
      const r =
        o.set !== undefined
          ? await ex.setBreakpoints(id, o.set, options)
          : await ex.clearBreakpoints(id, o.clear === true ? undefined : idList(o.clear!), options);
      if (g.json) {
        printJson(r);
        return;
      }
      out(`Breakpoints of ${id}: ${r.breakpoints.length ? r.breakpoints.join(', ') : 'none'}`);
      if (r.released.length) out(`Released: ${r.released.join(', ')}`);
      if (r.duplicate) out('(a repeated request id: nothing was done again)');
    }),
  );

  const pauseAll = addBulkFlags(
    addPauseFlags(program.command('pause-all').description('pause every open run a query selects'), false),
  );
  pauseAll.action(
    withExecutor(async (ex, g) => {
      const o = opts<PauseFlags & BulkFlags>(pauseAll);
      const selection = bulkSelection(o);
      // Named here, so that an interrupted run can say which id finishes it.
      const bulkId = o.bulkId ?? randomUUID();
      const bar = bulkProgress('Pausing', bulkId);
      try {
        const r = await ex.pauseAll(selection, {
          ...pauseOptions(o),
          ...(o.concurrency ? { concurrency: o.concurrency } : {}),
          bulkId,
          onProgress: bar.onProgress,
        });
        bar.stop();
        if (g.json) printJson(r);
        else printBulk('Paused', r);
        return bulkExit(r);
      } finally {
        bar.stop();
      }
    }),
  );

  const resumeAll = addBulkFlags(
    addResumeFlags(program.command('resume-all').description('resume every open run a query selects'), false),
  );
  resumeAll.action(
    withExecutor(async (ex, g) => {
      const o = opts<ResumeFlags & BulkFlags>(resumeAll);
      const selection = bulkSelection(o);
      // Named here, so that an interrupted run can say which id finishes it.
      const bulkId = o.bulkId ?? randomUUID();
      const bar = bulkProgress('Resuming', bulkId);
      try {
        const r = await ex.resumeAll(selection, {
          ...resumeOptions(o),
          ...(o.concurrency ? { concurrency: o.concurrency } : {}),
          bulkId,
          onProgress: bar.onProgress,
        });
        bar.stop();
        if (g.json) printJson(r);
        else printBulk('Resumed', r);
        return bulkExit(r);
      } finally {
        bar.stop();
      }
    }),
  );

  addPauseWindowCommands(program, withExecutor);

  const dev = devServerOptions(program.command('dev-server'), { namespace: false });
  dev.action(async () => {
    const g = dev.optsWithGlobals<GlobalOptions & DevServerCommandOptions>();
    // Runs until interrupted: the process exits from the signal handler.
    await runDevServer({ ...g, namespace: g.namespace ?? process.env.TEMPORAL_NAMESPACE ?? 'default' });
  });

  return program;
}

/** Runs the command line on `argv` (as process.argv) and resolves to the exit code. */
export async function main(argv: string[] = process.argv): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (err) {
    const exit = exitCodeOf(err);
    const globals = program.opts<GlobalOptions>();
    const json = globals.json || argv.includes('--json');
    if (err instanceof CommanderError) {
      // Commander has printed its own message (or the help) already.
      if (json && exit !== EXIT.ok) {
        const usage = new Error(err.message.replace(/^error: /, ''));
        usage.name = 'UsageError';
        printJson(errorJson(usage, exit));
      }
      return exit;
    }
    if (json) printJson(errorJson(err, exit));
    process.stderr.write(`${visible(errorLine(err, globals))}\n`);
    return exit;
  }
}

if (require.main === module) {
  // Output piped into a reader that stops early (`| head`): the rest is not wanted; stop quietly.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  void main().then((code) => {
    process.exitCode = code;
  });
}
