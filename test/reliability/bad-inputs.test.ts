// Reliability: a corpus of bad inputs through the three doors — definitions, the SDK and the `temporal`
// CLI. Each is refused with the right error class and a message that names the value and what to do;
// runs that received bad inputs keep answering and complete with the right context.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import {
  DefinitionError,
  InvalidInputError,
  RequestRejectedError,
  WorkflowClosedError,
  WorkflowNotFoundError,
  defineWorkflow,
  resource,
  task,
  trigger,
  type ExecutionHandle,
  type UnifiedExecutor,
} from '../../src';
import type { RefusalCode } from '../../workflows/pause-machine';
import { signalCli, temporalCli, withWorker, type TestEnv } from '../helpers';

type Door = 'definitions' | 'SDK' | 'CLI';
type Outcome = 'clear' | 'unclear' | 'wedged';

/** One bad input: where it goes in, what it is, and what the refusal must say. */
interface BadInput<I> {
  door: Door;
  name: string;
  input: I;
  /** The refusal's message must match. */
  expect: RegExp;
}

/** An SDK case also names the error class and, for a refusal by the workflow, its code. */
interface SdkCase extends BadInput<(ex: UnifiedExecutor, workflowId: string) => Promise<unknown>> {
  error: typeof InvalidInputError | typeof RequestRejectedError | typeof WorkflowNotFoundError;
  code?: RefusalCode;
}

/** A CLI case: a raw JSON payload (or a file holding it) sent as an update or a signal. */
interface CliCase extends BadInput<string | { file: string }> {
  via: 'update' | 'signal';
  message: 'cloacina.pause' | 'cloacina.resume' | 'cloacina.approve' | 'cloacina.reject';
}

const definitions = (cases: Omit<BadInput<() => unknown>, 'door'>[]): BadInput<() => unknown>[] =>
  cases.map((c) => ({ door: 'definitions', ...c }));
const sdk = (cases: Omit<SdkCase, 'door'>[]): SdkCase[] => cases.map((c) => ({ door: 'SDK', ...c }));

const tally = { clear: 0, unclear: 0, wedged: 0 };
const perDoor: Record<Door, number> = { SDK: 0, CLI: 0, definitions: 0 };

/**
 * Every refusal names what was wrong — a field or value in backticks, what it got, or the path into a
 * JSON value (`contextPatch.n is NaN`) — and says what to do about it.
 */
const NAMES_SOMETHING = /`[^`]+`|\bgot\b|\b(contextPatch|input)[\w.[\]]* (is|nests)\b/;
const SAYS_WHAT_TO_DO =
  /expected|did you mean|must|remove|pass|give|send|use|write|wait|schedule|check|belongs|second argument|flatten|the (fields|options) are|tasks are|approvers are|waiting|which no failure pause holds|JSON cannot hold/i;

/** Classifies one case's outcome and asserts it is clear; `detail` says why it is not. */
function record(c: BadInput<unknown>, outcome: Outcome, detail: string): void {
  tally[outcome]++;
  perDoor[c.door]++;
  assert.equal(outcome, 'clear', `${c.door} / ${c.name}: ${outcome}: ${detail}`);
}

/** Whether a message is a clear refusal for `c`: its own pattern, something named, something to do. */
function clearMessage(c: BadInput<unknown>, message: string): string | undefined {
  if (!c.expect.test(message)) return `message does not match ${String(c.expect)}: ${message}`;
  if (!NAMES_SOMETHING.test(message)) return `message names nothing: ${message}`;
  if (!SAYS_WHAT_TO_DO.test(message)) return `message says nothing to do: ${message}`;
  return undefined;
}

/** Rejects after `ms`: a request that takes longer is wedged, not slow. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Wedged(`no answer within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

class Wedged extends Error {}

// ---------------------------------------------------------------------------------------------------
// Door 1: definitions (no server).

const noop = () => undefined;
const ok = task({ id: 'ok' }, noop);
const db = resource({ id: 'db', setup: () => ({ url: 'x' }), teardown: noop });
const wf = (options: Record<string, unknown>) => () => defineWorkflow({ name: 'w', tasks: [ok], ...options });
/** `task(options, fn)`, with a no-op function unless one (even undefined) is given. */
const t =
  (options: Record<string, unknown>, ...fn: unknown[]) =>
  () =>
    task(options as never, (fn.length ? fn[0] : noop) as never);
const r = (options: Record<string, unknown> | null | undefined) => () =>
  resource(
    options === null || options === undefined
      ? (options as never)
      : ({ id: 'db', setup: noop, teardown: noop, ...options } as never),
  );

const DURATION = /a duration from \d+ ms to 315360000000 ms \(ten years\)/;
const definitionCases: BadInput<() => unknown>[] = definitions([
  // task(): the options argument and the id
  {
    name: 'task(undefined)',
    input: t(undefined as never),
    expect: /task\(\): expected options to be an object, got `undefined`/,
  },
  {
    name: 'task(null)',
    input: t(null as never),
    expect: /task\(\): expected options to be an object, got `null` \(null\)/,
  },
  {
    name: 'task([])',
    input: t([] as never),
    expect: /expected options to be an object, got `\[\]` \(array\)/,
  },
  {
    name: "task('build')",
    input: t('build' as never),
    expect: /expected options to be an object, got `"build"` \(string\)/,
  },
  {
    name: 'no task function',
    input: t({ id: 'a' }, undefined),
    expect: /expected `fn \(the second argument\)` to be an async function/,
  },
  {
    name: 'task function is a string',
    input: t({ id: 'a' }, 'run'),
    expect: /`fn \(the second argument\)`.*got `"run"`/,
  },
  {
    name: 'id a number',
    input: t({ id: 5 }),
    expect: /expected `id` to be a non-empty id .*got `5` \(number\)/,
  },
  {
    name: 'id empty',
    input: t({ id: '' }),
    expect:
      /expected `id` to be a non-empty id of letters, digits and `_.:-` \(like 'deploy_app'\), got `""`/,
  },
  { name: 'id with a space', input: t({ id: 'a b' }), expect: /expected `id` .*got `"a b"`/ },
  { name: 'id missing', input: t({}), expect: /task\(\): expected `id` .*got `undefined`/ },
  // unknown keys
  {
    name: 'unknown key `retries`',
    input: t({ id: 'a', retries: 3 }),
    expect: /unknown option `retries` — the options are \{ id, dependencies, retry/,
  },
  {
    name: '`attempts` at the top',
    input: t({ id: 'a', attempts: 3 }),
    expect: /unknown option `attempts` — .*did you mean `retry.attempts`\?/,
  },
  {
    name: '`approvers` at the top',
    input: t({ id: 'a', approvers: ['alice'] }),
    expect: /did you mean `pauseBefore.approvers`\?/,
  },
  {
    name: '`fn` as an option',
    input: t({ id: 'a', fn: noop }),
    expect: /unknown option `fn` — the task function is the second argument/,
  },
  {
    name: 'misspelt `retry.attempt`',
    input: t({ id: 'a', retry: { attempt: 3 } }),
    expect: /unknown option `retry.attempt` — did you mean `retry.attempts`\?/,
  },
  {
    name: 'misspelt `pauseBefore.approver`',
    input: t({ id: 'a', pauseBefore: { approver: ['a'] } }),
    expect: /did you mean `pauseBefore.approvers`\?/,
  },
  // retry numbers and durations
  {
    name: 'retry.attempts NaN',
    input: t({ id: 'a', retry: { attempts: NaN } }),
    expect: /`retry.attempts` to be an integer from 1 and up, got `NaN` \(number\)/,
  },
  {
    name: 'retry.attempts Infinity',
    input: t({ id: 'a', retry: { attempts: Infinity } }),
    expect: /`retry.attempts` .*got `Infinity` \(number\)/,
  },
  {
    name: 'retry.attempts -1',
    input: t({ id: 'a', retry: { attempts: -1 } }),
    expect: /`retry.attempts` .*got `-1`/,
  },
  {
    name: 'retry.attempts 0',
    input: t({ id: 'a', retry: { attempts: 0 } }),
    expect: /`retry.attempts` to be an integer from 1 and up, got `0`/,
  },
  {
    name: 'retry.attempts 1.5',
    input: t({ id: 'a', retry: { attempts: 1.5 } }),
    expect: /`retry.attempts` .*got `1.5`/,
  },
  {
    name: "retry.attempts '3'",
    input: t({ id: 'a', retry: { attempts: '3' } }),
    expect: /`retry.attempts` .*got `"3"` \(string\)/,
  },
  {
    name: 'retry.delay NaN',
    input: t({ id: 'a', retry: { delay: NaN } }),
    expect: new RegExp(`\`retry.delay\` to be ${DURATION.source}.*got \`NaN\``),
  },
  {
    name: 'retry.delay Infinity',
    input: t({ id: 'a', retry: { delay: Infinity } }),
    expect: /`retry.delay` .*got `Infinity`/,
  },
  { name: 'retry.delay -5', input: t({ id: 'a', retry: { delay: -5 } }), expect: /`retry.delay` .*got `-5`/ },
  {
    name: 'retry.maxDelay 1e16',
    input: t({ id: 'a', retry: { maxDelay: 1e16 } }),
    expect: /`retry.maxDelay` .*ten years.*got `10000000000000000`/,
  },
  {
    name: "retry.delay 'soon'",
    input: t({ id: 'a', retry: { delay: 'soon' } }),
    expect: /`retry.delay` .*a string like '30s', got `"soon"`/,
  },
  {
    name: 'retry.maxDelay below delay',
    input: t({ id: 'a', retry: { delay: 5000, maxDelay: 1000 } }),
    expect: /`retry.maxDelay` to be at least retry.delay \(5000 ms\), got `1000`/,
  },
  {
    name: "retry.jitter 'yes'",
    input: t({ id: 'a', retry: { jitter: 'yes' } }),
    expect: /`retry.jitter` to be true or false, got `"yes"`/,
  },
  {
    name: 'retry.condition []',
    input: t({ id: 'a', retry: { condition: [] } }),
    expect: /`retry.condition` .*use 'never' to retry no error.*got `\[\]`/,
  },
  {
    name: "retry.condition 'sometimes'",
    input: t({ id: 'a', retry: { condition: 'sometimes' } }),
    expect: /`retry.condition` to be one of 'all', 'never', 'transient', got `"sometimes"`/,
  },
  {
    name: "retry.backoff 'quadratic'",
    input: t({ id: 'a', retry: { backoff: 'quadratic' } }),
    expect: /`retry.backoff` to be one of 'fixed', 'linear', 'exponential', got `"quadratic"`/,
  },
  {
    name: 'retry null',
    input: t({ id: 'a', retry: null }),
    expect: /`retry` to be an object \{ attempts, .*got `null`/,
  },
  { name: 'timeout NaN', input: t({ id: 'a', timeout: NaN }), expect: /`timeout` .*got `NaN`/ },
  {
    name: 'timeout Infinity',
    input: t({ id: 'a', timeout: Infinity }),
    expect: /`timeout` .*got `Infinity`/,
  },
  {
    name: 'timeout 0',
    input: t({ id: 'a', timeout: 0 }),
    expect: /`timeout` to be a duration from 1 ms.*got `0`/,
  },
  {
    name: "timeout '5 fortnights'",
    input: t({ id: 'a', timeout: '5 fortnights' }),
    expect: /`timeout` .*got `"5 fortnights"`/,
  },
  {
    name: 'heartbeatTimeout 10 ms',
    input: t({ id: 'a', heartbeatTimeout: 10 }),
    expect: /`heartbeatTimeout` to be a duration from 1000 ms.*got `10`/,
  },
  // dependencies, uses, hooks
  {
    name: "dependencies 'b'",
    input: t({ id: 'a', dependencies: 'b' }),
    expect: /`dependencies` to be an array of tasks or task ids, got `"b"`/,
  },
  {
    name: 'dependencies [null]',
    input: t({ id: 'a', dependencies: [null] }),
    expect: /`dependencies\[\]` to be a task or a task id, got `null`/,
  },
  {
    name: "uses 'db'",
    input: t({ id: 'a', uses: 'db' }),
    expect: /`uses` .*\(write `uses: \["db"\]`\), got `"db"`/,
  },
  {
    name: 'uses [5]',
    input: t({ id: 'a', uses: [5] }),
    expect: /`uses\[\]` to be a resource\(\) or a resource id, got `5`/,
  },
  {
    name: "onSuccess 'x'",
    input: t({ id: 'a', onSuccess: 'x' }),
    expect: /`onSuccess` to be a function .*got `"x"`/,
  },
  {
    name: 'onFailure 1',
    input: t({ id: 'a', onFailure: 1 }),
    expect: /`onFailure` to be a function .*got `1`/,
  },
  {
    name: "onTaskFailure 'retry'",
    input: t({ id: 'a', onTaskFailure: 'retry' }),
    expect: /`onTaskFailure` to be one of 'fail', 'pause', got `"retry"`/,
  },
  // pauseBefore
  {
    name: "pauseBefore 'yes'",
    input: t({ id: 'a', pauseBefore: 'yes' }),
    expect: /`pauseBefore` to be true or \{ reason, approvers.*got `"yes"`/,
  },
  {
    name: "approver ' alice'",
    input: t({ id: 'a', pauseBefore: { approvers: [' alice'] } }),
    expect:
      /`pauseBefore.approvers\[0\]` .*without leading or trailing spaces.*write `"alice"`, got `" alice"`/,
  },
  {
    name: "approver '   '",
    input: t({ id: 'a', pauseBefore: { approvers: ['   '] } }),
    expect: /`pauseBefore.approvers\[0\]` to be a non-empty identity like 'alice', got `" {3}"`/,
  },
  {
    name: 'approver of 300 characters',
    input: t({ id: 'a', pauseBefore: { approvers: ['x'.repeat(300)] } }),
    expect: /`pauseBefore.approvers\[0\]` to be an identity of at most 200 characters, not 300/,
  },
  {
    name: 'approver listed twice',
    input: t({ id: 'a', pauseBefore: { approvers: ['al', 'al'] } }),
    expect: /`pauseBefore.approvers\[1\]` to be listed once .*remove the repeat.*got `"al"`/,
  },
  {
    name: 'approvers []',
    input: t({ id: 'a', pauseBefore: { approvers: [] } }),
    expect: /`pauseBefore.approvers` to be a non-empty array of identities, got `\[\]`/,
  },
  {
    name: "approvers 'alice'",
    input: t({ id: 'a', pauseBefore: { approvers: 'alice' } }),
    expect: /`pauseBefore.approvers` .*got `"alice"` \(string\)/,
  },
  {
    name: 'approver 7',
    input: t({ id: 'a', pauseBefore: { approvers: [7] } }),
    expect: /`pauseBefore.approvers\[0\]` .*got `7` \(number\)/,
  },
  {
    name: 'requiredApprovals over the approvers',
    input: t({ id: 'a', pauseBefore: { approvers: ['a'], requiredApprovals: 2 } }),
    expect: /`pauseBefore.requiredApprovals` to be at most the number of distinct approvers \(1\), got `2`/,
  },
  {
    name: 'requiredApprovals NaN',
    input: t({ id: 'a', pauseBefore: { requiredApprovals: NaN } }),
    expect: /`pauseBefore.requiredApprovals` .*got `NaN`/,
  },
  {
    name: 'gate timeout -1',
    input: t({ id: 'a', pauseBefore: { timeout: -1 } }),
    expect: /`pauseBefore.timeout` .*got `-1`/,
  },
  {
    name: "gate onTimeout 'explode'",
    input: t({ id: 'a', pauseBefore: { timeout: 1000, onTimeout: 'explode' } }),
    expect: /`pauseBefore.onTimeout` to be one of 'approve', 'reject', 'fail', got `"explode"`/,
  },
  {
    name: 'gate onTimeout without timeout',
    input: t({ id: 'a', pauseBefore: { onTimeout: 'approve' } }),
    expect:
      /`pauseBefore.timeout` to be a duration for `onTimeout: 'approve'` to apply after, got `undefined`/,
  },
  {
    name: 'gate reason 5',
    input: t({ id: 'a', pauseBefore: { reason: 5 } }),
    expect: /`pauseBefore.reason` to be a string, got `5`/,
  },
  // resource()
  {
    name: 'resource(undefined)',
    input: r(undefined),
    expect: /resource\(\): expected options to be an object, got `undefined`/,
  },
  {
    name: 'resource(null)',
    input: r(null),
    expect: /resource\(\): expected options to be an object, got `null`/,
  },
  {
    name: 'resource without setup',
    input: r({ setup: undefined }),
    expect: /`setup` to be a function returning a JSON handle, got `undefined`/,
  },
  { name: 'resource id with a space', input: r({ id: 'd b' }), expect: /`id` .*got `"d b"`/ },
  {
    name: 'resource retry.attempts NaN',
    input: r({ retry: { attempts: NaN } }),
    expect: /Resource `db`: expected `retry.attempts` .*got `NaN`/,
  },
  {
    name: 'resource retry.delay Infinity',
    input: r({ retry: { delay: Infinity } }),
    expect: /Resource `db`: expected `retry.delay` .*got `Infinity`/,
  },
  {
    name: "resource releaseOnPause 'yes'",
    input: r({ releaseOnPause: 'yes' }),
    expect: /`releaseOnPause` to be true or false, got `"yes"`/,
  },
  {
    name: 'resource `attempts` at the top',
    input: r({ attempts: 3 }),
    expect: /unknown option `attempts` — `attempts` belongs in `retry`: did you mean `retry.attempts`\?/,
  },
  // defineWorkflow()
  {
    name: 'defineWorkflow(undefined)',
    input: () => defineWorkflow(undefined as never),
    expect: /defineWorkflow\(\): expected options to be an object, got `undefined`/,
  },
  {
    name: 'defineWorkflow(null)',
    input: () => defineWorkflow(null as never),
    expect: /defineWorkflow\(\): expected options to be an object, got `null`/,
  },
  {
    name: 'no name',
    input: wf({ name: undefined }),
    expect: /expected `name` to be a non-empty id .*got `undefined`/,
  },
  { name: "name 'my wf'", input: wf({ name: 'my wf' }), expect: /expected `name` .*got `"my wf"`/ },
  {
    name: 'tasks null',
    input: wf({ tasks: null }),
    expect: /`tasks` to be an array of task\(\) definitions, got `null`/,
  },
  {
    name: 'tasks []',
    input: wf({ tasks: [] }),
    expect: /Workflow `w` has no tasks: pass at least one task in `tasks`/,
  },
  {
    name: 'a task that is not task()',
    input: wf({ tasks: [{ id: 'x' }] }),
    expect: /`tasks\[0\]` to be a task\(\) definition, got `\{"id":"x"\}`/,
  },
  {
    name: 'duplicate task ids',
    input: wf({ tasks: [ok, task({ id: 'ok' }, noop)] }),
    expect: /Workflow `w` has two tasks with id `ok`: task ids must be unique/,
  },
  {
    name: 'a cycle',
    input: wf({
      tasks: [task({ id: 'x', dependencies: ['y'] }, noop), task({ id: 'y', dependencies: ['x'] }, noop)],
    }),
    expect: /has a dependency cycle: `y` → `x` → `y`: remove one of these dependencies/,
  },
  {
    name: 'a task depending on itself',
    input: wf({ tasks: [task({ id: 'x', dependencies: ['x'] }, noop)] }),
    expect: /Task `x` depends on itself: remove `x` from its dependencies/,
  },
  {
    name: 'a missing dependency',
    input: wf({ tasks: [task({ id: 'x', dependencies: ['buld'] }, noop), task({ id: 'build' }, noop)] }),
    expect: /Task `x` depends on unknown task `buld` — did you mean `build`\?/,
  },
  {
    name: 'a trigger rule on an unknown task',
    input: wf({
      tasks: [
        task({ id: 'x', triggerRule: trigger.taskSuccess('deploi') }, noop),
        task({ id: 'deploy' }, noop),
      ],
    }),
    expect: /trigger rule on unknown task `deploi` — did you mean `deploy`\?/,
  },
  {
    name: "triggerRule 'always'",
    input: wf({ tasks: [task({ id: 'x', triggerRule: 'always' as never }, noop)] }),
    expect: /`tasks\[0\].triggerRule` to be a rule built with trigger\.\*.*got `"always"`/,
  },
  {
    name: "contextValue op 'like'",
    input: wf({
      tasks: [task({ id: 'x', triggerRule: trigger.contextValue('k', 'like' as never, 1) }, noop)],
    }),
    expect: /`tasks\[0\].triggerRule.op` to be one of equals, .*got `"like"`/,
  },
  {
    name: 'trigger.all rules 5',
    input: wf({ tasks: [task({ id: 'x', triggerRule: { kind: 'all', rules: 5 } as never }, noop)] }),
    expect: /`tasks\[0\].triggerRule.rules` to be an array of rules: trigger.all\(rule, ...\), got `5`/,
  },
  {
    name: '`onTaskFailure` at the top',
    input: wf({ onTaskFailure: 'pause' }),
    expect: /unknown option `onTaskFailure` — .*did you mean `pausePolicy.onTaskFailure`\?/,
  },
  { name: '`id` for `name`', input: wf({ id: 'w' }), expect: /unknown option `id` — did you mean `name`\?/ },
  {
    name: 'a workflow `timeout`',
    input: wf({ timeout: 5 }),
    expect: /unknown option `timeout` — .*did you mean `deadline`\?/,
  },
  {
    name: 'misspelt `pausePolicyy`',
    input: wf({ pausePolicyy: {} }),
    expect: /unknown option `pausePolicyy` — did you mean `pausePolicy`\?/,
  },
  {
    name: 'pausePolicy.maxPause 1e16',
    input: wf({ pausePolicy: { maxPause: 1e16 } }),
    expect: /`pausePolicy.maxPause` .*ten years.*got `10000000000000000`/,
  },
  {
    name: 'pausePolicy.maxPause NaN',
    input: wf({ pausePolicy: { maxPause: NaN } }),
    expect: /`pausePolicy.maxPause` .*got `NaN` \(number\)/,
  },
  {
    name: 'pausePolicy.maxPause Infinity',
    input: wf({ pausePolicy: { maxPause: Infinity } }),
    expect: /`pausePolicy.maxPause` .*got `Infinity` \(number\)/,
  },
  {
    name: 'pausePolicy.maxPause -1',
    input: wf({ pausePolicy: { maxPause: -1 } }),
    expect: /`pausePolicy.maxPause` .*got `-1`/,
  },
  {
    name: "pausePolicy.onMaxPause 'ignore'",
    input: wf({ pausePolicy: { onMaxPause: 'ignore' } }),
    expect: /`pausePolicy.onMaxPause` to be one of 'resume', 'fail', 'cancel', got `"ignore"`/,
  },
  {
    name: "pausePolicy.drainTimeout 'forever'",
    input: wf({ pausePolicy: { drainTimeout: 'forever' } }),
    expect: /`pausePolicy.drainTimeout` .*got `"forever"`/,
  },
  {
    name: "pausePolicy.verifyTasksOnResume 'no'",
    input: wf({ pausePolicy: { verifyTasksOnResume: 'no' } }),
    expect: /`pausePolicy.verifyTasksOnResume` to be true or false, got `"no"`/,
  },
  {
    name: 'pausePolicy.maxPauseMs',
    input: wf({ pausePolicy: { maxPauseMs: 1000 } }),
    expect: /unknown option `pausePolicy.maxPauseMs` — did you mean `pausePolicy.maxPause`\?/,
  },
  {
    name: "pausePolicy 'strict'",
    input: wf({ pausePolicy: 'strict' }),
    expect: /`pausePolicy` to be an object \{ maxPause, .*got `"strict"`/,
  },
  { name: 'deadline Infinity', input: wf({ deadline: Infinity }), expect: /`deadline` .*got `Infinity`/ },
  {
    name: 'validateResume true',
    input: wf({ validateResume: true }),
    expect: /`validateResume` to be a function .*got `true`/,
  },
  {
    name: "resources 'db'",
    input: wf({ resources: 'db' }),
    expect: /`resources` to be an array of resource\(\) definitions, got `"db"`/,
  },
  {
    name: 'resources [null]',
    input: wf({ resources: [null] }),
    expect: /`resources\[0\]` to be a resource\(\) definition, got `null`/,
  },
  {
    name: 'a task using an unknown resource',
    input: wf({ tasks: [task({ id: 'x', uses: ['dbb'] }, noop)], resources: [db] }),
    expect: /Task `x` uses unknown resource `dbb`: pass it in `resources`/,
  },
  { name: 'description 5', input: wf({ description: 5 }), expect: /`description` to be a string, got `5`/ },
  {
    name: 'input not a zod schema',
    input: wf({ input: { type: 'object' } }),
    expect: /`input` to be a zod schema, like z.object/,
  },
  {
    name: "resumeInput 'string'",
    input: wf({ resumeInput: 'string' }),
    expect: /`resumeInput` to be a zod schema.*got `"string"`/,
  },
]);

describe('bad inputs: definitions', () => {
  for (const c of definitionCases) {
    it(c.name, () => {
      let thrown: unknown;
      try {
        c.input();
      } catch (err) {
        thrown = err;
      }
      if (thrown === undefined) return record(c, 'unclear', 'accepted');
      if (!(thrown instanceof DefinitionError))
        return record(c, 'unclear', `a ${(thrown as Error)?.name}: ${(thrown as Error)?.message}`);
      const why = clearMessage(c, thrown.message);
      record(c, why ? 'unclear' : 'clear', why ?? '');
    });
  }
});

// ---------------------------------------------------------------------------------------------------
// The runs the SDK and CLI doors steer: a gate with two approvers on `a`, a task `hold` that runs until
// the test lets it finish, and `b` after both, which reads what a resume patched into the context.

const holds = new Map<string, () => void>();
const held = new Map<string, Promise<void>>();
function holdFor(workflowId: string): Promise<void> {
  let p = held.get(workflowId);
  if (!p) {
    p = new Promise<void>((resolve) => holds.set(workflowId, resolve));
    held.set(workflowId, p);
  }
  return p;
}
const release = (workflowId: string) => {
  void holdFor(workflowId);
  holds.get(workflowId)!();
};

const target = defineWorkflow({
  name: 'bad_inputs',
  input: z.object({ version: z.string() }),
  tasks: [
    task({ id: 'hold' }, async (ctx) => {
      await holdFor(ctx.workflowId);
      ctx.set('hold', true);
    }),
    task({ id: 'a', pauseBefore: { approvers: ['alice', 'bob'], requiredApprovals: 2 } }, (ctx) =>
      ctx.set('a', true),
    ),
    task({ id: 'b', dependencies: ['a', 'hold'] }, (ctx) => ctx.set('b', ctx.get('patched') ?? null)),
  ],
});

let env: TestEnv | undefined;
let stopWorker: (() => void) | undefined;
let workerDone: Promise<void> | undefined;

/** One worker for both doors, kept polling between tests. */
async function startWorker(): Promise<TestEnv> {
  if (env) return env;
  await new Promise<void>((ready, fail) => {
    workerDone = withWorker([target], async (e) => {
      env = e;
      ready();
      await new Promise<void>((stop) => (stopWorker = stop));
    });
    workerDone.catch(fail);
  });
  return env!;
}

/** A run waiting at the gate on `a` with `hold` running. */
async function startRun(ex: UnifiedExecutor): Promise<ExecutionHandle> {
  const h = await ex.executeAsync(target, { version: '1' });
  await h.waitUntil((s) => s.gates.some((g) => g.taskId === 'a') && s.tasks.hold?.state === 'running', {
    timeout: 20_000,
  });
  return h;
}

/** The run still answers its status query, promptly, and has not closed. */
async function healthy(ex: UnifiedExecutor, workflowId: string): Promise<string | undefined> {
  try {
    const s = await within(5000, ex.getStatus(workflowId));
    return s.closedAt ? `the run ${s.state}` : undefined;
  } catch (err) {
    return `status: ${(err as Error).message}`;
  }
}

after(async () => {
  stopWorker?.();
  await workerDone;
  const total = tally.clear + tally.unclear + tally.wedged;
  console.log(
    `bad inputs: ${total} (clear ${tally.clear}, unclear ${tally.unclear}, wedged ${tally.wedged}) — ` +
      `SDK ${perDoor.SDK}, CLI ${perDoor.CLI}, definitions ${perDoor.definitions}`,
  );
});

// ---------------------------------------------------------------------------------------------------
// Door 2: the SDK, against a real run.

const deep = (levels: number): Record<string, unknown> => {
  const root: Record<string, unknown> = {};
  let o = root;
  for (let i = 0; i < levels; i++) {
    const next: Record<string, unknown> = {};
    o.k = next;
    o = next;
  }
  return root;
};
const circular = () => {
  const o: Record<string, unknown> = { a: 1 };
  o.self = o;
  return o;
};
const opts = <T>(o: Record<string, unknown>) => o as T;

const EXPIRES = /`expiresAfter` to be a whole number of ms from 1 to 315360000000 \(ten years\)/;
const RESUME_AT = /`resumeAt` to be a valid Date or an ISO-8601 instant like 2030-01-01T02:00:00Z/;

/** Bad inputs while the run waits at its gate (not paused). */
const sdkAtGate: SdkCase[] = sdk([
  {
    name: 'expiresAfter 8.7e15',
    input: (ex, id) => ex.pauseWorkflow(id, { expiresAfter: 8.7e15 }),
    error: InvalidInputError,
    expect: new RegExp(`${EXPIRES.source}, got \`8700000000000000\``),
  },
  {
    name: 'expiresAfter NaN',
    input: (ex, id) => ex.pauseWorkflow(id, { expiresAfter: NaN }),
    error: InvalidInputError,
    expect: /`expiresAfter` .*got `NaN`/,
  },
  {
    name: 'expiresAfter Infinity',
    input: (ex, id) => ex.pauseWorkflow(id, { expiresAfter: Infinity }),
    error: InvalidInputError,
    expect: /`expiresAfter` .*got `Infinity`/,
  },
  {
    name: 'expiresAfter -1',
    input: (ex, id) => ex.pauseWorkflow(id, { expiresAfter: -1 }),
    error: InvalidInputError,
    expect: /`expiresAfter` .*got `-1`/,
  },
  {
    name: 'expiresAfter 1.5',
    input: (ex, id) => ex.pauseWorkflow(id, { expiresAfter: 1.5 }),
    error: InvalidInputError,
    expect: /`expiresAfter` .*got `1.5`/,
  },
  {
    name: "expiresAfter '1h'",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ expiresAfter: '1h' })),
    error: InvalidInputError,
    expect: /`expiresAfter` .*got `"1h"`/,
  },
  {
    name: 'expiresAfterMs (the request field, not the option)',
    input: (ex, id) => ex.pauseWorkflow(id, opts({ expiresAfterMs: 8.7e15 })),
    error: InvalidInputError,
    expect: /Unknown option `expiresAfterMs` of pauseWorkflow: did you mean `expiresAfter`\?/,
  },
  {
    name: 'onExpiry without expiresAfter',
    input: (ex, id) => ex.pauseWorkflow(id, { onExpiry: 'fail' }),
    error: InvalidInputError,
    expect: /`onExpiry` \(`"fail"`\) .*give `expiresAfter` \(ms\) too/,
  },
  {
    name: "onExpiry 'explode'",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ expiresAfter: 1000, onExpiry: 'explode' })),
    error: InvalidInputError,
    expect: /`onExpiry`: .*expected one of "resume"\|"fail"\|"cancel", got `"explode"`/,
  },
  {
    name: 'resumeAt new Date(NaN)',
    input: (ex, id) => ex.pauseWorkflow(id, { resumeAt: new Date(NaN) }),
    error: InvalidInputError,
    expect: new RegExp(`${RESUME_AT.source}, got \`Invalid Date\``),
  },
  {
    name: 'resumeAt in 9999',
    input: (ex, id) => ex.pauseWorkflow(id, { resumeAt: new Date('9999-01-01T00:00:00Z') }),
    error: InvalidInputError,
    expect:
      /`resumeAt` to be before 2200-01-01T00:00:00Z, got `9999-01-01T00:00:00.000Z`: schedule the resume sooner/,
  },
  {
    name: "resumeAt '9999-01-01T00:00:00Z'",
    input: (ex, id) => ex.pauseWorkflow(id, { resumeAt: '9999-01-01T00:00:00Z' }),
    error: InvalidInputError,
    expect: /`resumeAt` to be before 2200/,
  },
  {
    name: 'resumeAt a year ago (a mistyped year)',
    input: (ex, id) => ex.pauseWorkflow(id, { resumeAt: new Date(Date.now() - 365 * 86_400_000) }),
    error: InvalidInputError,
    expect:
      /`resumeAt` to be in the future, got `\d{4}-.*Z` \(it is .* by this machine's clock\): give a later time/,
  },
  {
    name: "resumeAt 'tomorrow'",
    input: (ex, id) => ex.pauseWorkflow(id, { resumeAt: 'tomorrow' }),
    error: InvalidInputError,
    expect: new RegExp(`${RESUME_AT.source}, got \`"tomorrow"\``),
  },
  {
    name: "resumeAt '2030-01-01' (a date, not an instant)",
    input: (ex, id) => ex.pauseWorkflow(id, { resumeAt: '2030-01-01' }),
    error: InvalidInputError,
    expect: /`resumeAt`: must be an ISO-8601 instant like 2030-01-01T02:00:00Z, got `"2030-01-01"`/,
  },
  {
    name: 'resumeAt as epoch ms',
    input: (ex, id) => ex.pauseWorkflow(id, opts({ resumeAt: 1893456000000 })),
    error: InvalidInputError,
    expect: /`resumeAt` .*got `1893456000000`/,
  },
  {
    name: "mode 'now'",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ mode: 'now' })),
    error: InvalidInputError,
    expect: /`mode` to be graceful, immediate or freeze, got `"now"`/,
  },
  {
    name: 'reason of 100,000 characters',
    input: (ex, id) => ex.pauseWorkflow(id, { reason: 'r'.repeat(100_000) }),
    error: InvalidInputError,
    expect: /`reason`: must be at most 1000 characters, got `"r+"… \(100000 characters\)`/,
  },
  {
    name: "by '   '",
    input: (ex, id) => ex.pauseWorkflow(id, { by: '   ' }),
    error: InvalidInputError,
    expect: /`by`: must not be empty, got `" {3}"`/,
  },
  {
    name: 'by of 201 characters',
    input: (ex, id) => ex.pauseWorkflow(id, { by: 'b'.repeat(201) }),
    error: InvalidInputError,
    expect: /`by`: must be at most 200 characters, got .*\(201 characters\)/,
  },
  {
    name: 'requestId 42',
    input: (ex, id) => ex.pauseWorkflow(id, opts({ requestId: 42 })),
    error: InvalidInputError,
    expect: /`requestId`: .*expected string.*got `42`/,
  },
  {
    name: 'misspelt option `resason`',
    input: (ex, id) => ex.pauseWorkflow(id, opts({ resason: 'x' })),
    error: InvalidInputError,
    expect: /Unknown option `resason` of pauseWorkflow: did you mean `reason`\?/,
  },
  {
    name: 'option `proof`',
    input: (ex, id) => ex.pauseWorkflow(id, opts({ proof: 'x' })),
    error: InvalidInputError,
    expect: /Unknown option `proof` of pauseWorkflow: the options are \{ reason, by, mode/,
  },
  {
    name: 'pause options null',
    input: (ex, id) => ex.pauseWorkflow(id, null as never),
    error: InvalidInputError,
    expect: /options of pauseWorkflow to be an object \{ reason, .*got `null`/,
  },
  {
    name: "kind 'task' from the SDK",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ kind: 'task' })),
    error: RequestRejectedError,
    code: 'InvalidRequest',
    expect: /Kind `task` is sent only by ctx.pauseWorkflow from a running task .*send kind `manual`/,
  },
  {
    name: "kind 'task' posing as task:hold",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ kind: 'task', by: 'task:hold' })),
    error: RequestRejectedError,
    code: 'InvalidRequest',
    expect: /Kind `task` needs the proof given to the running attempt of `hold`.*send kind `manual`/,
  },
  {
    name: "kind 'bulk' with a custom requestId",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ kind: 'bulk', requestId: 'my-bulk' })),
    error: RequestRejectedError,
    code: 'InvalidRequest',
    expect:
      /Kind `bulk` is sent only by pauseAll, with the request id `bulk:<bulkId>:bad_inputs-[^`]+` \(got `my-bulk`\): use pauseAll/,
  },
  {
    name: "kind 'bulk' with another workflow's bulk id",
    input: (ex, id) => ex.pauseWorkflow(id, opts({ kind: 'bulk', requestId: 'bulk:b1:other-workflow' })),
    error: RequestRejectedError,
    code: 'InvalidRequest',
    expect: /\(got `bulk:b1:other-workflow`\): use pauseAll, or send kind `manual`/,
  },
  {
    name: 'resume when not paused',
    input: (ex, id) => ex.resumeWorkflow(id, { by: 'ops' }),
    error: RequestRejectedError,
    code: 'NotPaused',
    expect: /The run is not paused; gates `a` need approvals: use approve/,
  },
  {
    name: 'approve an unknown task (near a real one)',
    input: (ex, id) => ex.approve(id, 'aa', { by: 'alice' }),
    error: RequestRejectedError,
    code: 'UnknownTask',
    expect: /has no task `aa` — did you mean `a`\?/,
  },
  {
    name: 'approve an unknown task',
    input: (ex, id) => ex.approve(id, 'deploy_prod', { by: 'alice' }),
    error: RequestRejectedError,
    code: 'UnknownTask',
    expect: /has no task `deploy_prod`: its tasks are `hold`, `a`, `b`/,
  },
  {
    name: 'approve a task id of 5,000 characters',
    input: (ex, id) => ex.approve(id, 'z'.repeat(5000), { by: 'alice' }),
    error: RequestRejectedError,
    code: 'UnknownTask',
    expect: /has no task `z{200}`: its tasks are/,
  },
  {
    name: 'approve by a non-approver',
    input: (ex, id) => ex.approve(id, 'a', { by: 'mallory' }),
    error: RequestRejectedError,
    code: 'NotAnApprover',
    expect: /`mallory` may not approve `a`: approvers are `alice`, `bob`/,
  },
  {
    name: 'reject by a non-approver',
    input: (ex, id) => ex.reject(id, 'a', { by: 'mallory' }),
    error: RequestRejectedError,
    code: 'NotAnApprover',
    expect: /`mallory` may not reject `a`: approvers are `alice`, `bob`/,
  },
  {
    name: 'approve a task no gate holds',
    input: (ex, id) => ex.approve(id, 'b', { by: 'alice' }),
    error: RequestRejectedError,
    code: 'GateNotWaiting',
    expect: /Task `b` is not waiting at a gate; waiting: `a`/,
  },
  {
    name: "approve taskId ''",
    input: (ex, id) => ex.approve(id, '', { by: 'alice' }),
    error: InvalidInputError,
    expect: /`taskId`: must name the gated task, got `""`/,
  },
  {
    name: 'approve taskId 7',
    input: (ex, id) => ex.approve(id, 7 as never, { by: 'alice' }),
    error: InvalidInputError,
    expect: /`taskId`: .*expected string.*got `7`/,
  },
  {
    name: "approve by ' '",
    input: (ex, id) => ex.approve(id, 'a', { by: ' ' }),
    error: InvalidInputError,
    expect: /`by`: must not be empty, got `" "`/,
  },
  {
    name: 'approve with a comment of 5,000 characters',
    input: (ex, id) => ex.approve(id, 'a', { by: 'alice', comment: 'c'.repeat(5000) }),
    error: InvalidInputError,
    expect: /`comment`: must be at most 1000 characters, got .*\(5000 characters\)/,
  },
  {
    name: 'approve with option `reason`',
    input: (ex, id) => ex.approve(id, 'a', opts({ by: 'alice', reason: 'lgtm' })),
    error: InvalidInputError,
    expect: /Unknown option `reason` of approve: the options are \{ by, comment, requestId \}/,
  },
  {
    name: 'reject with option `comments`',
    input: (ex, id) => ex.reject(id, 'a', opts({ by: 'alice', comments: 'no' })),
    error: InvalidInputError,
    expect: /Unknown option `comments` of reject: did you mean `comment`\?/,
  },
  {
    name: 'approve options a string',
    input: (ex, id) => ex.approve(id, 'a', 'alice' as never),
    error: InvalidInputError,
    expect: /options of approve to be an object \{ by, comment, requestId \}, got `"alice"`/,
  },
  {
    name: 'pause an unknown workflow id',
    input: (ex, id) => ex.pauseWorkflow(`${id}-nope`, { by: 'ops' }),
    error: WorkflowNotFoundError,
    expect: /No workflow execution `bad_inputs-[^`]+-nope` in this namespace: check the id/,
  },
]);

/** Bad inputs while the run is paused. */
const sdkPaused: SdkCase[] = sdk([
  {
    name: 'contextPatch nested 5,000 deep',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: deep(5000) as never }),
    error: InvalidInputError,
    expect: /contextPatch nests arrays and objects more than 64 levels deep.*flatten it/,
  },
  {
    name: 'input nested 64 deep (one level too many under `resumeInput`)',
    input: (ex, id) => ex.resumeWorkflow(id, { input: deep(64) as never }),
    error: InvalidInputError,
    expect: /input nests arrays and objects more than 63 levels deep/,
  },
  {
    name: "contextPatch 'x'",
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: 'x' as never }),
    error: InvalidInputError,
    expect: /`contextPatch`: .*expected record, received string, got `"x"`/,
  },
  {
    name: 'contextPatch [1, 2]',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: [1, 2] as never }),
    error: InvalidInputError,
    expect: /`contextPatch`: .*got `an array of 2`/,
  },
  {
    name: 'contextPatch null',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: null as never }),
    error: InvalidInputError,
    expect: /`contextPatch`: .*got `null`/,
  },
  {
    name: 'contextPatch of 300 KB',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: { s: 'x'.repeat(300_000) } }),
    error: InvalidInputError,
    expect: /`contextPatch`: must be at most 262144 bytes of JSON, got 300008/,
  },
  {
    name: 'input of 300 KB',
    input: (ex, id) => ex.resumeWorkflow(id, { input: 'x'.repeat(300_000) }),
    error: InvalidInputError,
    expect: /`input`: must be at most 262144 bytes of JSON, got 300002/,
  },
  {
    name: 'contextPatch holding NaN',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: { n: NaN } }),
    error: InvalidInputError,
    expect: /contextPatch.n is NaN, which JSON cannot hold/,
  },
  {
    name: 'contextPatch holding Infinity',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: { n: [Infinity] } }),
    error: InvalidInputError,
    expect: /contextPatch.n\[0\] is Infinity, which JSON cannot hold/,
  },
  {
    name: 'contextPatch holding a Date',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: { d: new Date() as never } }),
    error: InvalidInputError,
    expect: /contextPatch.d is a Date, not a JSON value .*store dates as ISO strings/,
  },
  {
    name: 'contextPatch holding undefined',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: { u: undefined as never } }),
    error: InvalidInputError,
    expect: /contextPatch.u is undefined, not a JSON value: remove the key or use null/,
  },
  {
    name: 'contextPatch holding a bigint',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: { b: 1n as never } }),
    error: InvalidInputError,
    expect: /contextPatch.b is a bigint, not a JSON value \(use strings, numbers/,
  },
  {
    name: 'contextPatch circular',
    input: (ex, id) => ex.resumeWorkflow(id, { contextPatch: circular() as never }),
    error: InvalidInputError,
    expect: /contextPatch.self is a circular reference, which JSON cannot hold: break the cycle/,
  },
  {
    name: "force 'yes'",
    input: (ex, id) => ex.resumeWorkflow(id, { force: 'yes' as never }),
    error: InvalidInputError,
    expect: /`force`: .*expected boolean.*got `"yes"`/,
  },
  {
    name: "skip 'a'",
    input: (ex, id) => ex.resumeWorkflow(id, { skip: 'a' as never }),
    error: InvalidInputError,
    expect: /`skip`: .*expected array.*got `"a"`/,
  },
  {
    name: "skip ['']",
    input: (ex, id) => ex.resumeWorkflow(id, { skip: [''] }),
    error: InvalidInputError,
    expect: /`skip.0`: .*got `""`/,
  },
  {
    name: 'skip a task no failure pause holds',
    input: (ex, id) => ex.resumeWorkflow(id, { by: 'ops', skip: ['b'] }),
    error: RequestRejectedError,
    code: 'UnknownTask',
    expect: /`skip` names `b`, which no failure pause holds/,
  },
  {
    name: 'resume option `mode`',
    input: (ex, id) => ex.resumeWorkflow(id, opts({ mode: 'immediate' })),
    error: InvalidInputError,
    expect:
      /Unknown option `mode` of resumeWorkflow: the options are \{ by, reason, requestId, force, input, contextPatch, skip \}/,
  },
  {
    name: 'misspelt `contextPatchh`',
    input: (ex, id) => ex.resumeWorkflow(id, opts({ contextPatchh: {} })),
    error: InvalidInputError,
    expect: /Unknown option `contextPatchh` of resumeWorkflow: did you mean `contextPatch`\?/,
  },
  {
    name: 'resume options null',
    input: (ex, id) => ex.resumeWorkflow(id, null as never),
    error: InvalidInputError,
    expect: /options of resumeWorkflow to be an object \{ by, .*got `null`/,
  },
  {
    name: 'resume by 5',
    input: (ex, id) => ex.resumeWorkflow(id, { by: 5 as never }),
    error: InvalidInputError,
    expect: /`by`: .*expected string.*got `5`/,
  },
]);

/** Runs one SDK case against a run and classifies it. */
async function runSdkCase(ex: UnifiedExecutor, workflowId: string, c: SdkCase): Promise<void> {
  let thrown: unknown;
  try {
    await within(10_000, c.input(ex, workflowId));
  } catch (err) {
    thrown = err;
  }
  const sick = await healthy(ex, workflowId);
  if (thrown instanceof Wedged || sick) return record(c, 'wedged', sick ?? (thrown as Error).message);
  if (thrown === undefined) return record(c, 'unclear', 'accepted');
  if (!(thrown instanceof c.error))
    return record(c, 'unclear', `a ${(thrown as Error)?.name}: ${(thrown as Error)?.message}`);
  if (c.code && (thrown as RequestRejectedError).code !== c.code)
    return record(c, 'unclear', `code ${(thrown as RequestRejectedError).code}, not ${c.code}`);
  const why = clearMessage(c, thrown.message);
  record(c, why ? 'unclear' : 'clear', why ?? '');
}

describe('bad inputs: the SDK, against a real run', function () {
  this.timeout(60_000);
  let h: ExecutionHandle;
  let ex: UnifiedExecutor;

  before(async () => {
    ex = (await startWorker()).executor;
    h = await startRun(ex);
  });

  describe('while the run waits at a gate', () => {
    for (const c of sdkAtGate) it(c.name, () => runSdkCase(ex, h.workflowId, c));
  });

  describe('while the run is paused', () => {
    before(async () => {
      release(h.workflowId);
      await h.waitUntil((s) => s.tasks.hold?.state === 'completed', { timeout: 20_000 });
      assert.equal((await h.pause({ by: 'ops', reason: 'bad inputs' })).state, 'paused');
    });
    for (const c of sdkPaused) it(c.name, () => runSdkCase(ex, h.workflowId, c));
  });

  describe('afterwards', () => {
    it('the run then resumes, passes its gate and completes with the right context', async () => {
      const st = await h.status();
      assert.equal(st.state, 'paused');
      assert.equal(st.pause?.kind, 'manual', 'no bad request changed the pause');
      assert.equal(st.pause?.by, 'ops');
      assert.equal(st.pause?.expiresAt, undefined, 'no bad request set an expiry');
      await h.resume({ by: 'ops', contextPatch: { patched: 'sdk' } });
      await h.approve('a', { by: 'alice' });
      await h.approve('a', { by: 'bob' });
      assert.deepEqual(await within(30_000, h.result()), {
        version: '1',
        hold: true,
        patched: 'sdk',
        a: true,
        b: 'sdk',
      });
    });

    it('a closed run refuses requests as closed', async () => {
      await assert.rejects(h.pause({ by: 'ops' }), (err: Error) => {
        assert.ok(err instanceof WorkflowClosedError, `${err.name}: ${err.message}`);
        assert.match(
          err.message,
          /has already closed \(COMPLETED\): it cannot be paused, resumed or approved/,
        );
        return true;
      });
    });
  });
});

// ---------------------------------------------------------------------------------------------------
// Door 3: the `temporal` CLI with raw JSON.

const nestedJson = (levels: number) => '{"k":'.repeat(levels) + '{}' + '}'.repeat(levels);
const payloadDir = mkdtempSync(join(tmpdir(), 'bad-inputs-'));
/** A payload too large for a command-line argument, passed to the CLI as a file. */
function payloadFile(name: string, json: string): { file: string } {
  const file = join(payloadDir, name);
  writeFileSync(file, json);
  return { file };
}

const PAUSE_FIELDS =
  /the fields are \{ requestId, reason, by, mode, kind, proof, resumeAt, expiresAfterMs, onExpiry \}/;
const pauseUpdate = (name: string, input: CliCase['input'], expect: RegExp): CliCase => ({
  door: 'CLI',
  via: 'update',
  message: 'cloacina.pause',
  name: `pause update: ${name}`,
  input,
  expect,
});
const update =
  (message: CliCase['message']) =>
  (name: string, input: CliCase['input'], expect: RegExp): CliCase => ({
    door: 'CLI',
    via: 'update',
    message,
    name: `${message.slice('cloacina.'.length)} update: ${name}`,
    input,
    expect,
  });
const signal =
  (message: CliCase['message']) =>
  (name: string, input: CliCase['input'], expect: RegExp): CliCase => ({
    door: 'CLI',
    via: 'signal',
    message,
    name: `${message.slice('cloacina.'.length)} signal: ${name}`,
    input,
    expect,
  });

/** Bad inputs while the run waits at its gate with `hold` running (not paused). */
const cliAtGate: CliCase[] = [
  pauseUpdate('an array', '[1,2]', /payload: must be a JSON object \{ requestId, .*\}, got `an array of 2`/),
  pauseUpdate('null', 'null', /payload: must be a JSON object \{ requestId, .*\}, got `null`/),
  pauseUpdate('a string', '"pause"', /payload: must be a JSON object .*got `"pause"`/),
  pauseUpdate('a number', '42', /payload: must be a JSON object .*got `42`/),
  pauseUpdate(
    'misspelt `reson`',
    '{"reson":"x","by":"ops"}',
    /unknown field `reson` — did you mean `reason`\?/,
  ),
  pauseUpdate('`Mode`', '{"Mode":"immediate"}', /unknown field `Mode` — did you mean `mode`\?/),
  pauseUpdate(
    'unknown `priority`',
    '{"by":"ops","priority":1}',
    new RegExp(`unknown field \`priority\` — ${PAUSE_FIELDS.source}`),
  ),
  pauseUpdate(
    '`__proto__`',
    '{"__proto__":{"by":"root"},"by":"ops"}',
    /unknown field `__proto__` — the fields are/,
  ),
  pauseUpdate(
    "mode 'IMMEDIATE'",
    '{"mode":"IMMEDIATE"}',
    /`mode`: .*expected one of "graceful"\|"immediate", got `"IMMEDIATE"`/,
  ),
  pauseUpdate(
    "kind 'gate'",
    '{"kind":"gate"}',
    /`kind`: .*expected one of "manual"\|"task"\|"bulk", got `"gate"`/,
  ),
  pauseUpdate(
    'expiresAfterMs 8.7e15',
    '{"expiresAfterMs":8.7e15}',
    /`expiresAfterMs`: must be at most 315360000000 ms \(ten years\), got `8700000000000000`/,
  ),
  pauseUpdate('expiresAfterMs 1e400', '{"expiresAfterMs":1e400}', /`expiresAfterMs`: .*got `Infinity`/),
  pauseUpdate('expiresAfterMs -5', '{"expiresAfterMs":-5}', /`expiresAfterMs`: .*>0, got `-5`/),
  pauseUpdate('expiresAfterMs 1.5', '{"expiresAfterMs":1.5}', /`expiresAfterMs`: .*expected int.*got `1.5`/),
  pauseUpdate(
    "expiresAfterMs '1000'",
    '{"expiresAfterMs":"1000"}',
    /`expiresAfterMs`: .*received string, got `"1000"`/,
  ),
  pauseUpdate(
    'resumeAt in 9999',
    '{"resumeAt":"9999-01-01T00:00:00Z"}',
    /`resumeAt`: must be before 2200-01-01T00:00:00Z, got `"9999-01-01T00:00:00Z"`/,
  ),
  pauseUpdate(
    'resumeAt month 13',
    '{"resumeAt":"2030-13-45T00:00:00Z"}',
    /`resumeAt`: must be an ISO-8601 instant like 2030-01-01T02:00:00Z.*got `"2030-13-45T00:00:00Z"`/,
  ),
  pauseUpdate(
    'resumeAt epoch ms',
    '{"resumeAt":1893456000000}',
    /`resumeAt`: must be an ISO-8601 instant .*got `1893456000000`/,
  ),
  pauseUpdate('by an array', '{"by":["ops"]}', /`by`: .*got `an array of 1`/),
  pauseUpdate('by an object', '{"by":{"name":"ops"}}', /`by`: .*got `an object`/),
  pauseUpdate(
    'a reason of 100,000 characters',
    `{"reason":"${'r'.repeat(100_000)}"}`,
    /`reason`: must be at most 1000 characters, got .*\(100000 characters\)/,
  ),
  pauseUpdate(
    'a proof of 200 characters',
    `{"kind":"task","by":"task:hold","proof":"${'p'.repeat(200)}"}`,
    /`proof`: must be at most 100 characters, got .*\(200 characters\)/,
  ),
  pauseUpdate(
    "kind 'task' by task:hold without proof",
    '{"kind":"task","by":"task:hold"}',
    /Kind `task` needs the proof given to the running attempt of `hold`.*send kind `manual`/,
  ),
  pauseUpdate(
    "kind 'task' by task:hold with a wrong proof",
    '{"kind":"task","by":"task:hold","proof":"00000000-0000-4000-8000-000000000000"}',
    /Kind `task` needs the proof given to the running attempt of `hold`, and this request's proof does not match/,
  ),
  pauseUpdate(
    "kind 'task' by task:a (not running)",
    '{"kind":"task","by":"task:a","proof":"x"}',
    /Kind `task` is sent only by ctx.pauseWorkflow from a running task \(by `task:a` names no running task\): send kind `manual`/,
  ),
  pauseUpdate(
    "kind 'task' by ops",
    '{"kind":"task","by":"ops"}',
    /\(by `ops` names no running task\): send kind `manual`/,
  ),
  pauseUpdate(
    "kind 'bulk' without a request id",
    '{"kind":"bulk","by":"ops"}',
    /Kind `bulk` is sent only by pauseAll, with the request id `bulk:<bulkId>:bad_inputs-[^`]+` \(got ``\)/,
  ),
  pauseUpdate(
    "kind 'bulk' with request id 'bulk:'",
    '{"kind":"bulk","requestId":"bulk:","by":"ops"}',
    /Kind `bulk` is sent only by pauseAll.*\(got `bulk:`\): use pauseAll/,
  ),
  signal('cloacina.pause')(
    "kind 'task' by task:hold without proof",
    '{"kind":"task","by":"task:hold"}',
    /Kind `task` needs the proof given to the running attempt of `hold`.*send kind `manual`/,
  ),
  signal('cloacina.pause')(
    "kind 'task' by ops",
    '{"kind":"task","by":"ops"}',
    /\(by `ops` names no running task\): send kind `manual`/,
  ),
  signal('cloacina.pause')(
    "kind 'bulk' with a request id of its own",
    '{"kind":"bulk","requestId":"my-bulk","by":"ops"}',
    /Kind `bulk` is sent only by pauseAll.*\(got `my-bulk`\): use pauseAll/,
  ),
  update('cloacina.resume')(
    'when not paused',
    '{"by":"ops"}',
    /The run is not paused; gates `a` need approvals: use approve/,
  ),
  update('cloacina.approve')('no taskId', '{"by":"alice"}', /`taskId`: .*got `undefined`/),
  update('cloacina.approve')(
    'misspelt `task`',
    '{"task":"a","by":"alice"}',
    /unknown field `task` — did you mean `taskId`\?/,
  ),
  update('cloacina.approve')('no by', '{"taskId":"a"}', /`by`: .*got `undefined`/),
  update('cloacina.approve')(
    'an unknown task',
    '{"taskId":"deploy_prod","by":"alice"}',
    /has no task `deploy_prod`: its tasks are `hold`, `a`, `b`/,
  ),
  update('cloacina.approve')(
    'a non-approver',
    '{"taskId":"a","by":"mallory"}',
    /`mallory` may not approve `a`: approvers are `alice`, `bob`/,
  ),
  update('cloacina.approve')(
    'a task no gate holds',
    '{"taskId":"hold","by":"alice"}',
    /Task `hold` is not waiting at a gate; waiting: `a`/,
  ),
  update('cloacina.approve')('taskId 7', '{"taskId":7,"by":"alice"}', /`taskId`: .*got `7`/),
  update('cloacina.reject')(
    '`reason` for `comment`',
    '{"taskId":"a","by":"alice","reason":"no"}',
    /unknown field `reason` — the fields are \{ requestId, taskId, by, comment \}/,
  ),
  update('cloacina.reject')(
    '`__proto__`',
    '{"taskId":"a","by":"alice","__proto__":{"admin":true}}',
    /unknown field `__proto__` — the fields are \{ requestId, taskId, by, comment \}/,
  ),
  // Signals have no caller: each refusal must show as an audit line.
  signal('cloacina.pause')('an array', '[1]', /payload: must be a JSON object .*got `an array of 1`/),
  signal('cloacina.pause')(
    'misspelt `reson`',
    '{"reson":"x","by":"ops"}',
    /unknown field `reson` — did you mean `reason`\?/,
  ),
  signal('cloacina.pause')(
    '`__proto__`',
    '{"__proto__":{"by":"root"}}',
    /unknown field `__proto__` — the fields are/,
  ),
  signal('cloacina.pause')(
    'expiresAfterMs 1e400',
    '{"expiresAfterMs":1e400,"by":"ops"}',
    /`expiresAfterMs`: .*got `Infinity`/,
  ),
  signal('cloacina.pause')(
    'resumeAt in 9999',
    '{"resumeAt":"9999-12-31T00:00:00Z","by":"ops"}',
    /`resumeAt`: must be before 2200-01-01T00:00:00Z/,
  ),
  signal('cloacina.resume')(
    'when not paused',
    '{"by":"ops"}',
    /The run is not paused; gates `a` need approvals: use approve/,
  ),
  signal('cloacina.approve')(
    'an unknown task',
    '{"taskId":"deploi","by":"alice"}',
    /has no task `deploi`: its tasks are/,
  ),
  signal('cloacina.approve')(
    'a non-approver',
    '{"taskId":"a","by":"mallory"}',
    /`mallory` may not approve `a`: approvers are `alice`, `bob`/,
  ),
  signal('cloacina.approve')(
    'a task no gate holds',
    '{"taskId":"b","by":"alice"}',
    /Task `b` is not waiting at a gate; waiting: `a`/,
  ),
  signal('cloacina.reject')('no by', '{"taskId":"a"}', /`by`: .*got `undefined`/),
];

/** Bad inputs while the run is paused. */
const cliPaused: CliCase[] = [
  update('cloacina.resume')(
    'contextPatch nested 5,000 deep',
    `{"by":"ops","contextPatch":${nestedJson(5000)}}`,
    /`contextPatch`: must nest at most 64 levels/,
  ),
  update('cloacina.resume')(
    'contextPatch of 300 KB (from a file)',
    payloadFile('big.json', `{"by":"ops","contextPatch":{"s":"${'x'.repeat(300_000)}"}}`),
    /`contextPatch`: must be at most 262144 bytes of JSON/,
  ),
  update('cloacina.resume')(
    'contextPatch an array',
    '{"by":"ops","contextPatch":[1,2]}',
    /`contextPatch`: .*got `an array of 2`/,
  ),
  update('cloacina.resume')(
    'contextPatch a string',
    '{"by":"ops","contextPatch":"x"}',
    /`contextPatch`: .*got `"x"`/,
  ),
  update('cloacina.resume')(
    'contextPatch holding 1e400',
    '{"by":"ops","contextPatch":{"a":1e400}}',
    /`contextPatch.a`: must be a number JSON can hold .*send a finite number, or a string, got `Infinity`/,
  ),
  update('cloacina.resume')(
    "force 'true'",
    '{"by":"ops","force":"true"}',
    /`force`: .*expected boolean.*got `"true"`/,
  ),
  update('cloacina.resume')('skip [1]', '{"by":"ops","skip":[1]}', /`skip.0`: .*got `1`/),
  update('cloacina.resume')(
    'skip a task no failure pause holds',
    '{"by":"ops","skip":["b"]}',
    /`skip` names `b`, which no failure pause holds/,
  ),
  update('cloacina.resume')(
    'misspelt `contextpatch`',
    '{"by":"ops","contextpatch":{"a":1}}',
    /unknown field `contextpatch` — did you mean `contextPatch`\?/,
  ),
  update('cloacina.resume')("by ''", '{"by":""}', /`by`: must not be empty, got `""`/),
  signal('cloacina.resume')(
    'contextPatch nested 5,000 deep',
    `{"by":"ops","contextPatch":${nestedJson(5000)}}`,
    /`contextPatch`: must nest at most 64 levels/,
  ),
  signal('cloacina.resume')(
    'contextPatch an array',
    '{"by":"ops","contextPatch":[1]}',
    /`contextPatch`: .*got `an array of 1`/,
  ),
  signal('cloacina.resume')(
    'skip a task no failure pause holds',
    '{"by":"ops","skip":["a"]}',
    /`skip` names `a`, which no failure pause holds/,
  ),
  signal('cloacina.resume')(
    '`mode`',
    '{"by":"ops","mode":"immediate"}',
    /unknown field `mode` — the fields are \{ requestId, reason, by, force, skip, contextPatch, input \}/,
  ),
];

/** The CLI's own output of a failed command (not its command line, which echoes the payload). */
const output = (err: unknown) => {
  const e = err as { stderr?: string; stdout?: string; message?: string };
  return `${e.stderr ?? ''}${e.stdout ?? ''}` || (e.message ?? String(err));
};

async function runCliCase(ex: UnifiedExecutor, workflowId: string, c: CliCase): Promise<void> {
  const input = typeof c.input === 'string' ? ['--input', c.input] : ['--input-file', c.input.file];
  if (c.via === 'update') {
    let failure: string | undefined;
    try {
      await within(
        20_000,
        temporalCli([
          'workflow',
          'update',
          'execute',
          '--workflow-id',
          workflowId,
          '--name',
          c.message,
          ...input,
        ]),
      );
    } catch (err) {
      failure = err instanceof Wedged ? undefined : output(err);
      if (err instanceof Wedged) return record(c, 'wedged', err.message);
    }
    const sick = await healthy(ex, workflowId);
    if (sick) return record(c, 'wedged', sick);
    if (failure === undefined) return record(c, 'unclear', 'accepted');
    const why = clearMessage(c, failure);
    return record(c, why ? 'unclear' : 'clear', why ?? '');
  }
  if (typeof c.input !== 'string') throw new Error('signal payloads are passed inline');
  const before = (await ex.getStatus(workflowId)).auditCount;
  const request = c.message.slice('cloacina.'.length);
  try {
    await within(20_000, signalCli(workflowId, c.message, c.input));
  } catch (err) {
    return record(c, err instanceof Wedged ? 'wedged' : 'unclear', output(err));
  }
  let line: { message?: string } | undefined;
  const deadline = Date.now() + 10_000;
  while (!line && Date.now() < deadline) {
    const sick = await healthy(ex, workflowId);
    if (sick) return record(c, 'wedged', sick);
    const st = await ex.getStatus(workflowId);
    line = st.audit.find((a) => a.seq > before && a.action === 'rejected' && a.request === request);
    if (!line) await new Promise((res) => setTimeout(res, 100));
  }
  if (!line) return record(c, 'unclear', 'no `rejected` audit line within 10 s');
  const why = clearMessage(c, line.message ?? '');
  record(c, why ? 'unclear' : 'clear', why ?? '');
}

describe('bad inputs: the temporal CLI, against a real run', function () {
  this.timeout(60_000);
  let h: ExecutionHandle;
  let ex: UnifiedExecutor;

  before(async () => {
    ex = (await startWorker()).executor;
    h = await startRun(ex);
  });

  describe('while the run waits at a gate with a task running', () => {
    for (const c of cliAtGate) it(c.name, () => runCliCase(ex, h.workflowId, c));
  });

  describe('while the run is paused', () => {
    before(async () => {
      release(h.workflowId);
      await h.waitUntil((s) => s.tasks.hold?.state === 'completed', { timeout: 20_000 });
      await temporalCli([
        'workflow',
        'update',
        'execute',
        '--workflow-id',
        h.workflowId,
        '--name',
        'cloacina.pause',
        '--input',
        '{"by":"ops","reason":"bad inputs"}',
      ]);
      await h.waitUntil('paused', { timeout: 10_000 });
    });
    for (const c of cliPaused) it(c.name, () => runCliCase(ex, h.workflowId, c));
  });

  describe('afterwards', () => {
    it('the run then resumes and completes through the CLI with the right context', async () => {
      const st = await h.status();
      assert.equal(st.state, 'paused');
      assert.equal(st.pause?.kind, 'manual');
      assert.equal(st.pause?.by, 'ops');
      const cli = (name: string, input: string) =>
        temporalCli([
          'workflow',
          'update',
          'execute',
          '--workflow-id',
          h.workflowId,
          '--name',
          name,
          '--input',
          input,
        ]);
      await cli('cloacina.resume', '{"by":"ops","contextPatch":{"patched":"cli"}}');
      await cli('cloacina.approve', '{"taskId":"a","by":"alice"}');
      await cli('cloacina.approve', '{"taskId":"a","by":"bob"}');
      assert.deepEqual(await within(30_000, h.result()), {
        version: '1',
        hold: true,
        patched: 'cli',
        a: true,
        b: 'cli',
      });
      // Every refused signal left its line in the whole trail too, read from the history.
      const audit = await h.audit();
      const rejected = audit.entries.filter((a) => a.action === 'rejected').length;
      assert.ok(
        rejected >= [...cliAtGate, ...cliPaused].filter((c) => c.via === 'signal').length,
        `${rejected} rejected lines`,
      );
    });
  });
});

describe('bad inputs: the corpus', () => {
  it('has at least 120 cases, every one clear, none unclear or wedged', () => {
    const total = tally.clear + tally.unclear + tally.wedged;
    assert.ok(total >= 120, `only ${total} cases ran`);
    assert.equal(tally.unclear, 0);
    assert.equal(tally.wedged, 0);
  });
});
