// What the world sees of a run without querying it: the Cloacina search attributes, the current details
// on the Web UI's workflow page, and the audit trail written to the event history (in the `CloacinaAudit`
// search attribute beside the others, or as memo upserts, so the whole trail can be read back with no
// worker, across continue-as-new).
import { setCurrentDetails, upsertMemo, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AuditEntry, CurrentPause, RunState } from './pause-machine';
import { currentPause } from './pause-machine';
import type { Run } from './run';
import { clipJsonBytes, jsonBytes } from './dag';
import {
  CloacinaAudit,
  CloacinaGate,
  CloacinaLastRejection,
  CloacinaPaused,
  CloacinaPausedAt,
  CloacinaPausedBy,
  CloacinaPauseKind,
  CloacinaPauseReason,
  CloacinaResumeAt,
  CloacinaState,
  CloacinaWorkflow,
  MAX_ATTRIBUTE_VALUE_BYTES,
  MAX_AUDIT_ATTRIBUTE_BYTES,
  MAX_LAST_REJECTION_LENGTH,
} from './search-attributes';

/** Memo key under which each batch of new audit lines is written to the history. */
export const AUDIT_MEMO_KEY = 'cloacina.audit';
/** Memo key of the final status and context of a cancelled run (whose end carries no result). */
export const FINAL_MEMO_KEY = 'cloacina.final';
/** Largest batch of audit lines in one memo upsert, as JSON characters. */
const MAX_AUDIT_BATCH_CHARS = 256 * 1024;
/** Largest final memo, as JSON characters (the server's limit on a memo is 2 MiB). */
const MAX_FINAL_MEMO_CHARS = 1536 * 1024;

/** The newest refused signal, for `CloacinaLastRejection`; the flags are fixed at workflow start. */
export class Rejections {
  /** The newest refusal, as published (bounded). */
  last: string | undefined;

  constructor(
    /** Unknown signal names are audited and refusals noted (runs begun with this release's patch). */
    readonly report: boolean,
    /** The namespace has the attribute registered, so it may be upserted. */
    readonly attribute: boolean,
  ) {}

  /** Notes a refused signal: `<at> <signal> by <who>: <code>: <why>`, clipped. */
  note(at: string, signal: string, by: string | undefined, code: string, message: string): void {
    if (!this.report) return;
    const line = `${at} ${signal.slice(0, 100)} by ${(by ?? 'anonymous').slice(0, 100)}: ${code}: ${message}`;
    this.last =
      line.length > MAX_LAST_REJECTION_LENGTH ? `${line.slice(0, MAX_LAST_REJECTION_LENGTH - 1)}…` : line;
  }
}

/** Publishes a run's visibility: at most one search-attribute upsert per workflow step. */
export class Visibility {
  #lastAttrs = '';
  /** The view last flushed (`#view().key`). */
  #lastKey = '';
  #queued = false;

  constructor(
    private readonly run: Run,
    private readonly rejections: Rejections = new Rejections(false, false),
    /**
     * The namespace has `CloacinaAudit` registered (fixed at the run's start): audit lines ride in the
     * search attribute upsert a change makes anyway, instead of a memo upsert of their own (an event and
     * a visibility write less per pause and per resume).
     */
    private readonly auditAttribute = false,
  ) {}

  /** Refreshes everything once the present step is over (several changes cost one upsert). */
  publish(): void {
    if (this.#queued) return;
    // Nothing the history or the Web UI shows has changed (most steps of a long DAG): no flush to queue,
    // and no promise, for each of which the SDK captures a stack.
    if (this.run.pendingAudit.length === 0 && this.#view().key === this.#lastKey) return;
    this.#queued = true;
    void Promise.resolve().then(() => {
      this.#queued = false;
      this.flush();
    });
  }

  /** What the search attributes and the current details show, and a key that changes when they do. */
  #view() {
    const run = this.run;
    const pause = currentPause(run.pm);
    const state = run.state();
    const gates = Object.keys(run.pm.gates);
    const closed = run.closedAt !== undefined;
    const resumeAt = earliest(run.pm.hold?.resumeAt, run.pm.hold?.expiresAt);
    const attrs = {
      state,
      paused: pause !== null && !closed,
      by: pause?.by ?? null,
      at: pause?.at ?? null,
      reason: pause?.reason ?? null,
      kind: pause?.kind ?? null,
      gates,
      resumeAt: resumeAt ?? null,
      ...(this.rejections.attribute && this.rejections.last ? { rejection: this.rejections.last } : {}),
    };
    const attrsKey = JSON.stringify(attrs);
    const key = `${attrsKey}|${JSON.stringify(pause)}|${run.drainingSince ?? ''}`;
    return { pause, state, gates, attrs, attrsKey, key };
  }

  /** Refreshes everything now. */
  flush(): void {
    const run = this.run;
    const audit = this.#writeAudit();
    const { pause, state, gates, attrs, attrsKey, key } = this.#view();
    this.#lastKey = key;
    const changed = attrsKey !== this.#lastAttrs;
    if (changed || audit !== undefined) {
      this.#lastAttrs = attrsKey;
      upsertSearchAttributes([
        ...(changed
          ? [
              { key: CloacinaState, value: state },
              { key: CloacinaWorkflow, value: clip(run.spec.name) },
              { key: CloacinaPaused, value: attrs.paused },
              { key: CloacinaPausedBy, value: attrs.paused && attrs.by !== null ? clip(attrs.by) : null },
              { key: CloacinaPausedAt, value: attrs.paused && attrs.at ? new Date(attrs.at) : null },
              {
                key: CloacinaPauseReason,
                value: attrs.paused && attrs.reason ? clip(attrs.reason.slice(0, 1000)) : null,
              },
              { key: CloacinaPauseKind, value: attrs.paused ? attrs.kind : null },
              { key: CloacinaGate, value: gates.length ? fitList(gates.slice(0, 100)) : null },
              {
                key: CloacinaResumeAt,
                value: attrs.paused && attrs.resumeAt ? new Date(attrs.resumeAt) : null,
              },
              // Only where registered: an unregistered attribute in an upsert fails the workflow task.
              ...(attrs.rejection ? [{ key: CloacinaLastRejection, value: clip(attrs.rejection) }] : []),
            ]
          : []),
        ...(audit !== undefined ? [{ key: CloacinaAudit, value: audit }] : []),
      ] as Parameters<typeof upsertSearchAttributes>[0]);
    }
    setCurrentDetails(
      describeForUi(run.spec.name, workflowInfo().workflowId, state, pause, gates, run.drainingSince),
    );
  }

  /**
   * Writes the audit lines not yet in the history. Where `CloacinaAudit` is registered and the lines fit
   * in one of its values, returns that value for the upsert being made; otherwise writes them as memo
   * upserts, in batches of bounded size.
   */
  #writeAudit(): string | undefined {
    const pending = this.run.pendingAudit;
    if (pending.length === 0) return undefined;
    if (this.auditAttribute) {
      const value = JSON.stringify(pending);
      // The payload is the JSON of that string: its quotes escaped, its characters as UTF-8.
      if (jsonBytes(value) <= MAX_AUDIT_ATTRIBUTE_BYTES) {
        pending.length = 0;
        return value;
      }
    }
    while (pending.length) {
      const batch: AuditEntry[] = [];
      let chars = 0;
      while (pending.length) {
        const size = JSON.stringify(pending[0]).length;
        if (batch.length && chars + size > MAX_AUDIT_BATCH_CHARS) break;
        batch.push(pending.shift()!);
        chars += size;
      }
      upsertMemo({ [AUDIT_MEMO_KEY]: batch });
    }
    return undefined;
  }

  /** Writes the final status and context to the history (for ends that carry no result). */
  writeFinal(): void {
    this.flush();
    const status = this.run.status();
    const context = this.run.finalContext();
    let final: unknown = { status, context };
    if (JSON.stringify(final).length > MAX_FINAL_MEMO_CHARS) final = { status, contextOmitted: true };
    if (JSON.stringify(final).length > MAX_FINAL_MEMO_CHARS)
      final = { status: { ...status, tasks: {}, audit: [] }, contextOmitted: true, tasksOmitted: true };
    upsertMemo({ [FINAL_MEMO_KEY]: final });
  }
}

/** A string attribute's value, within the server's limit on one value. */
const clip = (s: string) => clipJsonBytes(s, MAX_ATTRIBUTE_VALUE_BYTES);

/** The first items of a list attribute whose JSON fits the server's limit on one value. */
function fitList(items: string[]): string[] {
  const out: string[] = [];
  let bytes = 2;
  for (const item of items) {
    const size = jsonBytes(item) + (out.length ? 1 : 0);
    if (bytes + size > MAX_ATTRIBUTE_VALUE_BYTES) break;
    out.push(item);
    bytes += size;
  }
  return out;
}

function earliest(...instants: (string | undefined)[]): string | undefined {
  const defined = instants.filter((i): i is string => i !== undefined);
  return defined.sort((a, b) => Date.parse(a) - Date.parse(b))[0];
}

/**
 * The run's current details on the Web UI's workflow page (markdown): the state, the pause, and while a
 * pause or gate holds the run, how to let it go on from the Web UI and from the CLI.
 */
export function describeForUi(
  name: string,
  workflowId: string,
  state: RunState,
  pause: CurrentPause | null,
  gates: string[],
  drainingSince: string | undefined,
): string {
  const lines = [`**${name}** — ${state}`];
  const id = workflowId.length > 200 || /[\s'"`\\]/.test(workflowId) ? '<workflowId>' : workflowId;
  if (pause) {
    lines.push(
      `Paused (${pause.kind}, ${pause.mode}) by ${pause.by} at ${pause.at}${pause.reason ? `: ${pause.reason}` : ''}`,
    );
    if (pause.resumeAt) lines.push(`Resumes at ${pause.resumeAt}`);
    if (pause.expiresAt) lines.push(`Expires at ${pause.expiresAt} (${pause.onExpiry})`);
  }
  if (gates.length)
    lines.push(`Waiting for approval: ${gates.slice(0, 50).join(', ')}${gates.length > 50 ? ', …' : ''}`);
  if (pause && pause.kind !== 'gate') {
    lines.push(
      '**To resume:** More Actions → Send an Update → `cloacina.resume` with ' +
        '`{"by":"<you>","reason":"<why>"}`, or run ' +
        `\`npx cloacina-temporal resume ${id} --by <you> --reason "<why>"\``,
    );
  }
  if (gates.length) {
    const taskId = gates[0]!;
    lines.push(
      '**To approve:** More Actions → Send an Update → `cloacina.approve` with ' +
        `\`{"taskId":"${taskId}","by":"<you>"}\`, or run ` +
        `\`npx cloacina-temporal approve ${id} ${taskId} --by <you>\``,
    );
  }
  if (drainingSince)
    lines.push(`Letting running tasks settle before continuing as new (since ${drainingSince})`);
  return lines.join('\n\n');
}
