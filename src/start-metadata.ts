// What the executor adds to a run's start besides its input: the summary and details the Temporal Web UI
// shows for the run (fixed at start), and whether the namespace has the optional search attributes that
// a run may only upsert where they are registered.
import type { Client } from '@temporalio/client';
import type { DagSpec } from '../workflows/dag';
import { CloacinaAudit, CloacinaLastRejection } from '../workflows/search-attributes';

/** Most task ids listed in a run's static details. */
const MAX_LISTED_TASKS = 30;

/** One line for the Web UI's workflow list and page: the DAG, its size and its description. */
export function staticSummary(spec: DagSpec): string {
  const n = spec.tasks.length;
  const line = `${spec.name} — DAG of ${n} task${n === 1 ? '' : 's'}${spec.description ? `: ${spec.description}` : ''}`;
  return line.replace(/\s+/g, ' ').slice(0, 400);
}

/** Markdown for the Web UI's User Metadata: the tasks and their gates, and where the pause state shows. */
export function staticDetails(spec: DagSpec): string {
  const tasks = spec.tasks.slice(0, MAX_LISTED_TASKS).map((t) => {
    const deps = t.dependencies.length ? ` ← ${t.dependencies.join(', ')}` : '';
    return `- \`${t.id}\`${deps}${t.pauseBefore ? ' (approval gate)' : ''}`;
  });
  if (spec.tasks.length > MAX_LISTED_TASKS)
    tasks.push(`- … and ${spec.tasks.length - MAX_LISTED_TASKS} more`);
  return [
    `**Cloacina DAG \`${spec.name}\`** — ${spec.tasks.length} tasks`,
    tasks.join('\n'),
    'Pause state, and how to resume, are in the current details; the audit trail is in the ' +
      '`cloacina.status` query (`npx cloacina-temporal status <workflowId>`).',
  ].join('\n\n');
}

const RECHECK_MS = 60_000;

/** Which of the optional search attributes the namespace has registered. */
export interface OptionalAttributes {
  /** `CloacinaLastRejection`. */
  lastRejection: boolean;
  /** `CloacinaAudit`. */
  audit: boolean;
}

const registered = new WeakMap<Client, { at: number; answer: Promise<OptionalAttributes> }>();

/**
 * Whether the client's namespace has the optional search attributes (`CloacinaLastRejection`,
 * `CloacinaAudit`) registered. An answer with both is kept for the client's life; any other (or a failed
 * look-up, e.g. no operator permission) is asked again after a minute. A run started without one never
 * upserts it.
 */
export function optionalAttributesRegistered(client: Client): Promise<OptionalAttributes> {
  const known = registered.get(client);
  if (known && Date.now() - known.at < RECHECK_MS) return known.answer;
  const answer = Promise.resolve()
    .then(() =>
      client.connection.operatorService.listSearchAttributes({ namespace: client.options.namespace }),
    )
    .then(
      (res) => {
        const names = res.customAttributes ?? {};
        return { lastRejection: CloacinaLastRejection.name in names, audit: CloacinaAudit.name in names };
      },
      () => ({ lastRejection: false, audit: false }),
    );
  // A complete answer never expires.
  void answer.then((a) => {
    if (a.lastRejection && a.audit) registered.set(client, { at: Infinity, answer });
  });
  registered.set(client, { at: Date.now(), answer });
  return answer;
}
