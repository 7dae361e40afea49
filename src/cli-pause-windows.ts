// `cloacina-temporal pause-window create|list|show|delete`: pause windows from a shell.
import { Command, Option } from 'commander';
import { one, out, printJson } from './cli-output';
import { UnifiedExecutor } from './executor';
import type { Duration } from '@temporalio/common';
import { buildPauseWindowSettings, type PauseWindow, type PauseWindowOptions } from './pause-windows';

type WindowAction = (
  ex: UnifiedExecutor,
  globals: { json?: boolean },
  ...args: string[]
) => Promise<number | void>;

function hours(ms: number): string {
  if (ms % 3600_000 === 0) return `${ms / 3600_000} h`;
  if (ms % 60_000 === 0) return `${ms / 60_000} min`;
  return `${ms / 1000} s`;
}

function printWindow(w: PauseWindow): void {
  out(`Pause window ${w.id} (schedule ${w.scheduleId})${w.schedulePaused ? ' — schedule paused' : ''}`);
  out(`Opens:    ${w.cron}${w.timezone ? ` (${w.timezone})` : ' (UTC)'} for ${hours(w.durationMs)}`);
  out(`Pauses:   ${one(w.query)}${w.sweepEveryMs ? ` (again every ${hours(w.sweepEveryMs)})` : ''}`);
  out(`As:       ${w.mode} pause by ${one(w.by)} — ${one(w.reason)}`);
  if (w.taskQueue) out(`Runs on:  task queue ${w.taskQueue}`);
  if (w.nextOpenings.length) out(`Next:     ${w.nextOpenings.map((d) => d.toISOString()).join(', ')}`);
  for (const r of w.recentOpenings)
    out(`Opened:   ${r.scheduledAt.toISOString()} (workflow ${r.workflowId})`);
}

/** Adds the `pause-window` command and its subcommands to the program. */
export function addPauseWindowCommands(
  program: Command,
  withExecutor: (action: WindowAction) => (...params: unknown[]) => Promise<void>,
): void {
  const windows = program
    .command('pause-window')
    .description('recurring pause windows: bulk-pause the runs a query selects on a cron schedule');

  const create = windows
    .command('create')
    .description('schedule a pause window (a Temporal Schedule; a worker must poll --task-queue)')
    .argument('<id>', 'window id (letters, digits, . _ -)')
    .requiredOption(
      '-q, --query <query>',
      'visibility query of the runs to pause, e.g. "CloacinaWorkflow = \'etl\'"',
    )
    .requiredOption('--cron <expr>', "when the window opens, e.g. '0 22 * * *'")
    .requiredOption('--duration <d>', "how long it lasts, e.g. '8h' (the runs resume at its end)")
    .requiredOption('--reason <text>', 'recorded on every pause')
    .requiredOption(
      '--task-queue <queue>',
      "task queue of a worker made by createWorker (runs the window's bulk pause)",
    )
    .option('--by <name>', 'recorded as who paused (default pause-window:<id>)')
    .addOption(
      new Option('--mode <mode>', 'how running tasks are treated').choices(['graceful', 'immediate']),
    )
    .option('--timezone <tz>', 'IANA time zone of --cron (default UTC)')
    .option(
      '--sweep-every <d>',
      "repeat the bulk pause this often during the window, e.g. '5m' (default: once)",
    );
  create.action(
    withExecutor(async (ex, g, id) => {
      const o = create.opts<{
        query: string;
        cron: string;
        duration: string;
        reason: string;
        taskQueue: string;
        by?: string;
        mode?: 'graceful' | 'immediate';
        timezone?: string;
        sweepEvery?: string;
      }>();
      const duration = (d: string) => (/^\d+$/.test(d) ? Number(d) : d) as Duration;
      const options: PauseWindowOptions = {
        id: id,
        query: o.query,
        cron: o.cron,
        duration: duration(o.duration),
        reason: o.reason,
        ...(o.by !== undefined ? { by: o.by } : {}),
        ...(o.mode !== undefined ? { mode: o.mode } : {}),
        ...(o.timezone !== undefined ? { timezone: o.timezone } : {}),
        ...(o.sweepEvery !== undefined ? { sweepEvery: duration(o.sweepEvery) } : {}),
      };
      // Bad options are refused before connecting.
      buildPauseWindowSettings(options);
      const onQueue = new UnifiedExecutor(await ex.client(), {
        taskQueue: o.taskQueue,
        identity: ex.identity,
      });
      const w = await onQueue.schedulePauseWindow(options);
      if (g.json) printJson(w);
      else printWindow(w);
    }),
  );

  const list = windows.command('list').description('the pause windows of the namespace');
  list.action(
    withExecutor(async (ex, g) => {
      const all = await ex.listPauseWindows();
      if (g.json) printJson(all);
      else if (all.length === 0) out('No pause windows.');
      else
        for (const [i, w] of all.entries()) {
          if (i) out();
          printWindow(w);
        }
    }),
  );

  const show = windows.command('show').description('one pause window').argument('<id>', 'window id');
  show.action(
    withExecutor(async (ex, g, id) => {
      const w = await ex.describePauseWindow(id);
      if (g.json) printJson(w);
      else printWindow(w);
    }),
  );

  const del = windows
    .command('delete')
    .description('delete a pause window (runs it paused still resume at its end)')
    .argument('<id>', 'window id');
  del.action(
    withExecutor(async (ex, g, id) => {
      await ex.deletePauseWindow(id);
      if (g.json) printJson({ deleted: id });
      else out(`Deleted pause window ${id}`);
    }),
  );
}
