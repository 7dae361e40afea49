// Unit tests of task(), resource(), defineWorkflow() and trigger.* in src/definitions.ts (no Temporal server).
import assert from 'node:assert/strict';
import { z } from 'zod';
import { defineWorkflow, resource, task, trigger, type TaskOptions } from '../../src/definitions';
import { CloacinaError, DefinitionError } from '../../src/errors';
import type { TriggerRule } from '../../workflows/dag';
import { MAX_IDENTITY_LENGTH } from '../../workflows/messages';

const noop = () => undefined;

/** The listed keys of `obj` (spec fields may grow; tests check the ones they are about). */
function pick<T extends object>(obj: T, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(
    keys.filter((k) => k in obj).map((k) => [k, (obj as Record<string, unknown>)[k]]),
  );
}

/** Runs `fn`, expects a DefinitionError, and checks every expected text is in one of its problems. */
function expectDefinitionError(fn: () => unknown, ...expected: (string | RegExp)[]): DefinitionError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof DefinitionError, `expected a DefinitionError, got ${String(caught)}`);
  assert.ok(caught instanceof CloacinaError);
  assert.equal(caught.name, 'DefinitionError');
  for (const e of expected) {
    const hit = caught.problems.some((p) => (typeof e === 'string' ? p.includes(e) : e.test(p)));
    assert.ok(hit, `no problem matches ${String(e)}; problems:\n${caught.problems.join('\n')}`);
    assert.ok(typeof e === 'string' ? caught.message.includes(e) : e.test(caught.message));
  }
  return caught;
}

describe('definitions: task() option checks', () => {
  const bad = (options: unknown) => () => task(options as TaskOptions, noop);

  it('names the field and the value: retry.attempts', () => {
    const err = expectDefinitionError(
      bad({ id: 't', retry: { attempts: 0 } }),
      'expected `retry.attempts` to be an integer from 1 and up, got `0` (number)',
    );
    assert.equal(
      err.message,
      'Task `t`: expected `retry.attempts` to be an integer from 1 and up, got `0` (number)',
    );
    assert.deepEqual(err.problems, [err.message]);
    expectDefinitionError(
      bad({ id: 't', retry: { attempts: 1.5 } }),
      'expected `retry.attempts` to be an integer from 1 and up, got `1.5` (number)',
    );
    expectDefinitionError(
      bad({ id: 't', retry: { attempts: '3' } }),
      'expected `retry.attempts` to be an integer from 1 and up, got `"3"` (string)',
    );
  });

  it('names the field and the value: retry.backoff and retry.condition', () => {
    expectDefinitionError(
      bad({ id: 't', retry: { backoff: 'quadratic' } }),
      "expected `retry.backoff` to be one of 'fixed', 'linear', 'exponential', got `\"quadratic\"` (string)",
    );
    expectDefinitionError(
      bad({ id: 't', retry: { condition: 'sometimes' } }),
      "expected `retry.condition` to be one of 'all', 'never', 'transient', got `\"sometimes\"` (string)",
    );
    expectDefinitionError(bad({ id: 't', retry: { condition: ['ok', ''] } }), 'expected `retry.condition`');
  });

  it('names the field and the value: durations', () => {
    expectDefinitionError(
      bad({ id: 't', timeout: 0 }),
      "expected `timeout` to be a duration from 1 ms to 315360000000 ms (ten years): a number of ms or a string like '30s', got `0` (number)",
    );
    expectDefinitionError(
      bad({ id: 't', timeout: 'soon' }),
      'expected `timeout` to be a duration',
      '`"soon"` (string)',
    );
    expectDefinitionError(
      bad({ id: 't', heartbeatTimeout: 500 }),
      'expected `heartbeatTimeout` to be a duration from 1000 ms',
    );
    expectDefinitionError(
      bad({ id: 't', retry: { delay: -1 } }),
      'expected `retry.delay` to be a duration from 0 ms',
    );
    // Every duration must fit a timer: a maxPause of 1e16 ms would wedge the run.
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [task({ id: 'a' }, noop)], pausePolicy: { maxPause: 1e16 } }),
      'expected `pausePolicy.maxPause` to be a duration from 1 ms to 315360000000 ms (ten years)',
    );
    expectDefinitionError(
      bad({ id: 't', timeout: Infinity }),
      'expected `timeout` to be a duration',
      '`Infinity`',
    );
    expectDefinitionError(
      bad({ id: 't', retry: { delay: '10s', maxDelay: '1s' } }),
      'expected `retry.maxDelay` to be at least retry.delay (10000 ms), got `"1s"` (string)',
    );
  });

  it('names the field and the value: id, fn, dependencies, onTaskFailure, pauseBefore', () => {
    expectDefinitionError(
      bad({ id: 'has space' }),
      'Task `has space`: expected `id` to be a non-empty id of letters, digits and `_.:-` (like \'deploy_app\'), got `"has space"` (string)',
    );
    expectDefinitionError(bad({ id: 42 }), 'task(): expected `id` to be a non-empty id', '`42` (number)');
    expectDefinitionError(
      () => task({ id: 't' }, 'not a function' as never),
      'expected `fn (the second argument)` to be an async function (ctx) => { ... }, got `"not a function"` (string)',
    );
    expectDefinitionError(
      bad({ id: 't', dependencies: 'a' }),
      'expected `dependencies` to be an array of tasks or task ids',
    );
    expectDefinitionError(
      bad({ id: 't', dependencies: [7] }),
      'expected `dependencies[]` to be a task or a task id, got `7` (number)',
    );
    expectDefinitionError(
      bad({ id: 't', onTaskFailure: 'explode' }),
      "expected `onTaskFailure` to be one of 'fail', 'pause', got `\"explode\"` (string)",
    );
    expectDefinitionError(bad({ id: 't', pauseBefore: 'yes' }), 'expected `pauseBefore` to be true or {');
    expectDefinitionError(
      bad({ id: 't', pauseBefore: { approvers: [] } }),
      'expected `pauseBefore.approvers` to be a non-empty array of identities, got `[]` (array)',
    );
    expectDefinitionError(
      bad({ id: 't', pauseBefore: { timeout: '1h', onTimeout: 'shrug' } }),
      "expected `pauseBefore.onTimeout` to be one of 'approve', 'reject', 'fail'",
    );
  });

  it('rejects non-object options', () => {
    expectDefinitionError(bad(null), 'task(): expected options to be an object, got `null` (null)');
  });

  it('collects every problem into one error', () => {
    const err = expectDefinitionError(
      bad({ id: 't', retry: { attempts: 0, backoff: 'nope' }, timeout: -5 }),
      '`retry.attempts`',
      '`retry.backoff`',
      '`timeout`',
    );
    assert.equal(err.problems.length, 3);
    assert.match(err.message, /^3 problems:\n- /);
  });
});

describe('definitions: task() specs and defaults', () => {
  it('applies defaults: 3 attempts, exponential from 1 s, 60 s cap, jitter, all errors, 5 min timeout', () => {
    const t = task({ id: 'build' }, noop);
    assert.equal(t.id, 'build');
    assert.equal(t.fn, noop);
    assert.ok(Object.isFrozen(t));
    const keys = ['id', 'dependencies', 'retry', 'timeoutMs', 'heartbeatTimeoutMs', 'triggerRule', 'uses'];
    assert.deepEqual(pick(t.spec, [...keys, 'pauseBefore', 'onTaskFailure']), {
      id: 'build',
      dependencies: [],
      retry: {
        attempts: 3,
        backoff: 'exponential',
        delayMs: 1000,
        maxDelayMs: 60_000,
        jitter: true,
        condition: 'all',
      },
      timeoutMs: 5 * 60_000,
      heartbeatTimeoutMs: 30_000,
      triggerRule: { kind: 'always' },
      uses: [],
    });
  });

  it('turns options into a spec (durations as strings or ms)', () => {
    const t = task(
      {
        id: 'deploy',
        retry: {
          attempts: 5,
          backoff: 'linear',
          delay: '2s',
          maxDelay: 10_000,
          jitter: false,
          condition: ['503'],
        },
        timeout: '1m',
        heartbeatTimeout: '5s',
        onTaskFailure: 'pause',
      },
      noop,
    );
    assert.deepEqual(t.spec.retry, {
      attempts: 5,
      backoff: 'linear',
      delayMs: 2000,
      maxDelayMs: 10_000,
      jitter: false,
      condition: ['503'],
    });
    assert.equal(t.spec.timeoutMs, 60_000);
    assert.equal(t.spec.heartbeatTimeoutMs, 5000);
    assert.equal(t.spec.onTaskFailure, 'pause');
  });

  it('gives the same spec for dependencies given as objects or ids (deduplicated)', () => {
    const a = task({ id: 'a' }, noop);
    const b = task({ id: 'b' }, noop);
    const byObject = task({ id: 'c', dependencies: [a, b] }, noop);
    const byId = task({ id: 'c', dependencies: ['a', 'b'] }, noop);
    const mixed = task({ id: 'c', dependencies: [a, 'b', 'a'] }, noop);
    assert.deepEqual(byObject.spec, byId.spec);
    assert.deepEqual(mixed.spec, byId.spec);
    assert.deepEqual(byId.spec.dependencies, ['a', 'b']);
    assert.deepEqual(
      defineWorkflow({ name: 'w', tasks: [a, b, byObject] }).spec,
      defineWorkflow({ name: 'w', tasks: [a, b, byId] }).spec,
    );
  });

  it('pauseBefore: true opens a default gate', () => {
    const t = task({ id: 'deploy', pauseBefore: true }, noop);
    assert.deepEqual(t.spec.pauseBefore, {
      reason: 'approval required before `deploy`',
      requiredApprovals: 1,
    });
    assert.equal(task({ id: 'x', pauseBefore: false }, noop).spec.pauseBefore, undefined);
  });

  it('pauseBefore object form: approvers, timeout in ms, onTimeout default fail', () => {
    const t = task(
      {
        id: 'deploy',
        pauseBefore: {
          reason: 'prod change',
          approvers: ['alice', 'bob'],
          requiredApprovals: 2,
          timeout: '1h',
        },
      },
      noop,
    );
    assert.deepEqual(t.spec.pauseBefore, {
      reason: 'prod change',
      approvers: ['alice', 'bob'],
      requiredApprovals: 2,
      timeoutMs: 3_600_000,
      onTimeout: 'fail',
    });
    const u = task({ id: 'u', pauseBefore: { timeout: 5000, onTimeout: 'approve' } }, noop);
    assert.deepEqual(u.spec.pauseBefore, {
      reason: 'approval required before `u`',
      requiredApprovals: 1,
      timeoutMs: 5000,
      onTimeout: 'approve',
    });
  });

  it('rejects requiredApprovals larger than the distinct approvers', () => {
    const err = expectDefinitionError(
      () => task({ id: 'deploy', pauseBefore: { approvers: ['alice', 'bob'], requiredApprovals: 3 } }, noop),
      'expected `pauseBefore.requiredApprovals` to be at most the number of distinct approvers (2), got `3` (number)',
    );
    assert.equal(err.problems.length, 1);
    expectDefinitionError(
      () => task({ id: 'deploy', pauseBefore: { requiredApprovals: 0 } }, noop),
      'expected `pauseBefore.requiredApprovals` to be an integer from 1 and up, got `0` (number)',
    );
    // Without approvers anyone may approve, so any count is allowed.
    assert.equal(
      task({ id: 'd', pauseBefore: { requiredApprovals: 3 } }, noop).spec.pauseBefore!.requiredApprovals,
      3,
    );
  });
});

describe("definitions: execution: 'local'", () => {
  it('marks the spec local and gives it the short default timeout; activity tasks stay as they were', () => {
    const local = task({ id: 'check', execution: 'local' }, noop).spec;
    assert.equal(local.execution, 'local');
    assert.equal(local.timeoutMs, 30_000);
    assert.equal(task({ id: 'check', execution: 'local', timeout: '2s' }, noop).spec.timeoutMs, 2_000);
    const activity = task({ id: 'load', execution: 'activity' }, noop).spec;
    assert.equal('execution' in activity, false, 'the default leaves the spec unchanged');
    assert.equal(activity.timeoutMs, 5 * 60_000);
    assert.deepEqual(task({ id: 'load' }, noop).spec, activity);
  });

  it('refuses an unknown execution and a heartbeatTimeout on a local task, saying what to do', () => {
    expectDefinitionError(
      () => task({ id: 'x', execution: 'remote' as 'local' }, noop),
      "expected `execution` to be one of 'activity', 'local', got `\"remote\"`",
    );
    expectDefinitionError(
      () => task({ id: 'x', execution: 'local', heartbeatTimeout: '10s' }, noop),
      /`heartbeatTimeout` to be nothing with `execution: 'local'` .*remove it, or run the task as an activity/,
    );
    expectDefinitionError(
      () => task({ id: 'x', exection: 'local' } as TaskOptions, noop),
      /did you mean `execution`/,
    );
  });
});

describe('definitions: uses, retry.jitter and retry.condition of the wrong type', () => {
  const bad = (options: unknown) => () => task(options as TaskOptions, noop);

  it('refuses `uses` given as a string with a DefinitionError, not a TypeError, and shows the array form', () => {
    expectDefinitionError(
      bad({ id: 't', uses: 'db' }),
      'Task `t`: expected `uses` to be an array of resources or resource ids (write `uses: ["db"]`), got `"db"` (string)',
    );
    expectDefinitionError(
      bad({ id: 't', uses: { id: 'db' } }),
      'expected `uses` to be an array of resources or resource ids, got `{"id":"db"}` (object)',
    );
  });

  it('refuses an entry of `uses` that is neither a resource nor an id', () => {
    expectDefinitionError(
      bad({ id: 't', uses: ['db', 42, null] }),
      'expected `uses[]` to be a resource() or a resource id, got `42` (number)',
      'expected `uses[]` to be a resource() or a resource id, got `null` (null)',
    );
  });

  it('refuses a non-boolean retry.jitter', () => {
    expectDefinitionError(
      bad({ id: 't', retry: { jitter: 'yes' } }),
      'Task `t`: expected `retry.jitter` to be true or false, got `"yes"` (string)',
    );
    expectDefinitionError(bad({ id: 't', retry: { jitter: 0 } }), 'got `0` (number)');
    assert.equal(task({ id: 't', retry: { jitter: false } }, noop).spec.retry.jitter, false);
  });

  it("refuses an empty retry.condition pattern list and points to 'never'", () => {
    expectDefinitionError(
      bad({ id: 't', retry: { condition: [] } }),
      "Task `t`: expected `retry.condition` to be a non-empty array of non-empty message patterns (use 'never' to retry no error), got `[]` (array)",
    );
    expectDefinitionError(
      bad({ id: 't', retry: { condition: ['503', 7] } }),
      'expected `retry.condition` to be a non-empty array of non-empty message patterns',
    );
  });

  it('refuses non-boolean releaseOnPause and pausePolicy.verifyTasksOnResume', () => {
    expectDefinitionError(
      () => resource({ id: 'db', setup: () => null, teardown: noop, releaseOnPause: 'true' as never }),
      'Resource `db`: expected `releaseOnPause` to be true or false, got `"true"` (string)',
    );
    expectDefinitionError(
      () =>
        defineWorkflow({
          name: 'w',
          tasks: [task({ id: 't' }, noop)],
          pausePolicy: { verifyTasksOnResume: 'no' as never },
        }),
      'Workflow `w`: expected `pausePolicy.verifyTasksOnResume` to be true or false, got `"no"` (string)',
    );
  });
});

describe('definitions: gate approvers that could never match a request', () => {
  const gate = (approvers: unknown, requiredApprovals?: number) => () =>
    task({ id: 'deploy', pauseBefore: { approvers: approvers as string[], requiredApprovals } }, noop);

  it('refuses an approver id with leading or trailing spaces, naming the trimmed id', () => {
    expectDefinitionError(
      gate([' alice']),
      'Task `deploy`: expected `pauseBefore.approvers[0]` to be an identity without leading or trailing spaces ' +
        '(approve and reject trim `by`, so it could never match): write `"alice"`, got `" alice"` (string)',
    );
    expectDefinitionError(gate(['bob', 'alice\n']), 'expected `pauseBefore.approvers[1]`', 'write `"alice"`');
  });

  it('refuses a blank or non-string approver id', () => {
    expectDefinitionError(
      gate(['   ']),
      'expected `pauseBefore.approvers[0]` to be a non-empty identity like \'alice\', got `"   "` (string)',
    );
    expectDefinitionError(
      gate(['alice', '']),
      'expected `pauseBefore.approvers[1]` to be a non-empty identity',
    );
    expectDefinitionError(gate(['alice', 7]), 'expected `pauseBefore.approvers[1]`', 'got `7` (number)');
  });

  it('refuses an approver id longer than MAX_IDENTITY_LENGTH and accepts exactly the limit', () => {
    const long = 'a'.repeat(MAX_IDENTITY_LENGTH + 100);
    expectDefinitionError(
      gate([long]),
      `expected \`pauseBefore.approvers[0]\` to be an identity of at most ${MAX_IDENTITY_LENGTH} characters, ` +
        `not ${MAX_IDENTITY_LENGTH + 100} (approve and reject refuse a longer \`by\`, so it could never match)`,
    );
    const limit = 'b'.repeat(MAX_IDENTITY_LENGTH);
    assert.deepEqual(
      task({ id: 'd', pauseBefore: { approvers: [limit] } }, noop).spec.pauseBefore!.approvers,
      [limit],
    );
  });

  it('refuses a repeated approver instead of dropping it', () => {
    const err = expectDefinitionError(
      gate(['alice', 'bob', 'alice']),
      'expected `pauseBefore.approvers[2]` to be listed once (approvals count distinct identities): ' +
        'remove the repeat, and raise `requiredApprovals` if more approvals are needed, got `"alice"` (string)',
    );
    assert.equal(err.problems.length, 1);
  });

  it('reports every bad approver, and requiredApprovals over the approvers, together', () => {
    const err = expectDefinitionError(
      gate([' alice', 'bob', 'bob', '  '], 4),
      '`pauseBefore.approvers[0]`',
      '`pauseBefore.approvers[2]`',
      '`pauseBefore.approvers[3]`',
      'expected `pauseBefore.requiredApprovals` to be at most the number of distinct approvers (3), got `4` (number)',
    );
    assert.equal(err.problems.length, 4);
  });

  it('accepts trimmed, distinct ids within the limit', () => {
    assert.deepEqual(task({ id: 'd', pauseBefore: { approvers: ['alice', 'bob'] } }, noop).spec.pauseBefore, {
      reason: 'approval required before `d`',
      approvers: ['alice', 'bob'],
      requiredApprovals: 1,
    });
  });
});

describe('definitions: trigger builders', () => {
  it('build rule data', () => {
    const a = task({ id: 'a' }, noop);
    assert.deepEqual(trigger.always(), { kind: 'always' });
    assert.deepEqual(trigger.taskSuccess(a), { kind: 'taskSuccess', task: 'a' });
    assert.deepEqual(trigger.taskSuccess('a'), { kind: 'taskSuccess', task: 'a' });
    assert.deepEqual(trigger.taskFailed(a), { kind: 'taskFailed', task: 'a' });
    assert.deepEqual(trigger.taskSkipped('a'), { kind: 'taskSkipped', task: 'a' });
    assert.deepEqual(trigger.contextValue('env', 'equals', 'prod'), {
      kind: 'contextValue',
      key: 'env',
      op: 'equals',
      value: 'prod',
    });
    assert.deepEqual(trigger.contextValue('n', 'greaterThan', 0), {
      kind: 'contextValue',
      key: 'n',
      op: 'greaterThan',
      value: 0,
    });
    const exists = trigger.contextValue('flag', 'exists');
    assert.deepEqual(exists, { kind: 'contextValue', key: 'flag', op: 'exists' });
    assert.ok(!('value' in exists));
    assert.deepEqual(trigger.all(), { kind: 'all', rules: [] });
    assert.deepEqual(trigger.any(trigger.always(), trigger.taskFailed('a')), {
      kind: 'any',
      rules: [{ kind: 'always' }, { kind: 'taskFailed', task: 'a' }],
    });
    assert.deepEqual(trigger.none(trigger.contextValue('x', 'notExists')), {
      kind: 'none',
      rules: [{ kind: 'contextValue', key: 'x', op: 'notExists' }],
    });
  });

  it('puts the rule in the task spec', () => {
    const a = task({ id: 'a' }, noop);
    const rule = trigger.all(trigger.taskSuccess(a), trigger.contextValue('go', 'equals', true));
    const b = task({ id: 'b', dependencies: [a], triggerRule: rule }, noop);
    assert.deepEqual(b.spec.triggerRule, rule);
    defineWorkflow({ name: 'w', tasks: [a, b] });
  });
});

describe('definitions: defineWorkflow()', () => {
  const a = task({ id: 'a' }, noop);

  it('builds the spec with defaults', () => {
    const b = task({ id: 'b', dependencies: [a] }, noop);
    const wf = defineWorkflow({ name: 'pipeline', description: 'two steps', tasks: [a, b] });
    assert.equal(wf.name, 'pipeline');
    assert.ok(Object.isFrozen(wf));
    assert.deepEqual(
      pick(wf.spec, ['name', 'description', 'tasks', 'resources', 'hasResumeValidator', 'deadlineMs']),
      {
        name: 'pipeline',
        description: 'two steps',
        tasks: [a.spec, b.spec],
        resources: [],
        hasResumeValidator: false,
      },
    );
    assert.deepEqual(
      pick(wf.spec.pausePolicy, ['drainTimeoutMs', 'onTaskFailure', 'maxPauseMs', 'onMaxPause']),
      {
        drainTimeoutMs: 30_000,
        onTaskFailure: 'fail',
      },
    );
    assert.deepEqual([...wf.tasks.keys()], ['a', 'b']);
    assert.equal(wf.tasks.get('b'), b);
  });

  it('turns the pause policy, deadline and validators into the spec', () => {
    const wf = defineWorkflow({
      name: 'w',
      tasks: [a],
      pausePolicy: { maxPause: '2h', onMaxPause: 'cancel', drainTimeout: '10s', onTaskFailure: 'pause' },
      deadline: '1d',
      validateResume: () => true,
    });
    assert.deepEqual(
      pick(wf.spec.pausePolicy, ['maxPauseMs', 'onMaxPause', 'drainTimeoutMs', 'onTaskFailure']),
      {
        maxPauseMs: 7_200_000,
        onMaxPause: 'cancel',
        drainTimeoutMs: 10_000,
        onTaskFailure: 'pause',
      },
    );
    assert.equal(wf.spec.deadlineMs, 86_400_000);
    assert.equal(wf.spec.hasResumeValidator, true);
    assert.equal(
      defineWorkflow({ name: 'w2', tasks: [a], resumeInput: z.object({}) }).spec.hasResumeValidator,
      true,
    );
  });

  it('rejects an empty workflow', () => {
    expectDefinitionError(
      () => defineWorkflow({ name: 'empty', tasks: [] }),
      'Workflow `empty` has no tasks',
    );
  });

  it('rejects duplicate task ids', () => {
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [a, task({ id: 'a' }, noop)] }),
      'Workflow `w` has two tasks with id `a`',
    );
  });

  it('rejects an unknown dependency and suggests the nearest id', () => {
    const build = task({ id: 'build' }, noop);
    const deploy = task({ id: 'deploy', dependencies: ['bulid'] }, noop);
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [build, deploy] }),
      'Task `deploy` depends on unknown task `bulid` — did you mean `build`?',
    );
  });

  it('rejects a cycle and names it', () => {
    const x = task({ id: 'x', dependencies: ['z'] }, noop);
    const y = task({ id: 'y', dependencies: ['x'] }, noop);
    const zz = task({ id: 'z', dependencies: ['y'] }, noop);
    expectDefinitionError(
      () => defineWorkflow({ name: 'loop', tasks: [x, y, zz] }),
      /Workflow `loop` has a dependency cycle: `[xyz]` → `[xyz]` → `[xyz]` → `[xyz]`/,
    );
  });

  it('rejects a self dependency', () => {
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [task({ id: 's', dependencies: ['s'] }, noop)] }),
      'Task `s` depends on itself',
    );
  });

  it('rejects a trigger rule on a task that is not a dependency', () => {
    const b = task({ id: 'b', triggerRule: trigger.taskSuccess(a) }, noop);
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [a, b] }),
      'Task `b` has a trigger rule on `a`, which is not one of its dependencies',
    );
  });

  it('rejects malformed trigger rules', () => {
    const noValue = task({ id: 'b', triggerRule: { kind: 'contextValue', key: 'k', op: 'equals' } }, noop);
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [noValue] }),
      'expected `tasks[0].triggerRule.value` to be a JSON value to compare with (`equals`)',
    );
    const badOp = task(
      {
        id: 'b',
        triggerRule: {
          kind: 'all',
          rules: [{ kind: 'contextValue', key: 'k', op: 'like' as never, value: 1 }],
        },
      },
      noop,
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [badOp] }),
      'expected `tasks[0].triggerRule.rules[0].op`',
    );
    const badKind = task({ id: 'b', triggerRule: { kind: 'sometimes' } as unknown as TriggerRule }, noop);
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [badKind] }),
      'expected `tasks[0].triggerRule` to be a rule built with trigger.*',
    );
  });

  it('rejects a bad name, non-task entries and bad policy options', () => {
    expectDefinitionError(
      () => defineWorkflow({ name: '', tasks: [a] }),
      'expected `name` to be a non-empty id',
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: 'a' as never }),
      'expected `tasks` to be an array of task() definitions, got `"a"` (string)',
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [{} as never] }),
      'expected `tasks[0]` to be a task() definition',
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [a], pausePolicy: { onMaxPause: 'explode' as never } }),
      "expected `pausePolicy.onMaxPause` to be one of 'resume', 'fail', 'cancel'",
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [a], validateResume: 'yes' as never }),
      'expected `validateResume` to be a function',
    );
  });

  it('reports several DAG problems together', () => {
    const err = expectDefinitionError(
      () =>
        defineWorkflow({
          name: 'w',
          tasks: [a, task({ id: 'a' }, noop), task({ id: 'b', dependencies: ['nope'] }, noop)],
        }),
      'two tasks with id `a`',
      'unknown task `nope`',
    );
    assert.equal(err.problems.length, 2);
  });
});

describe('definitions: resources', () => {
  const db = resource({ id: 'db', setup: () => ({ url: 'x' }), teardown: noop });

  it('rejects a task that uses an unknown resource id', () => {
    const t = task({ id: 't', uses: ['db'] }, noop);
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [t] }),
      'Task `t` uses unknown resource `db`: pass it in `resources` or as an object in `uses`',
    );
  });

  it('accepts resources given in `resources` or as objects in `uses`', () => {
    const byId = task({ id: 't', uses: ['db'] }, noop);
    const wf1 = defineWorkflow({ name: 'w', tasks: [byId], resources: [db] });
    assert.deepEqual(wf1.spec.resources, [
      { id: 'db', releaseOnPause: false, retry: { attempts: 5, delayMs: 1000 } },
    ]);
    assert.deepEqual(byId.spec.uses, ['db']);
    const byObject = task({ id: 't', uses: [db] }, noop);
    assert.deepEqual(byObject.spec.uses, ['db']);
    assert.deepEqual(byObject.resourceObjects, [db]);
    const wf2 = defineWorkflow({ name: 'w', tasks: [byObject] });
    assert.deepEqual(wf2.spec, wf1.spec);
    assert.equal(wf2.resources.get('db'), db);
  });

  it('rejects two different resources with one id', () => {
    const other = resource({ id: 'db', setup: () => null, teardown: noop, releaseOnPause: true });
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [task({ id: 't', uses: [other] }, noop)], resources: [db] }),
      'Workflow `w` has two different resources with id `db`',
    );
  });

  it('checks resource options', () => {
    assert.equal(
      resource({ id: 'r', setup: () => null, teardown: noop, releaseOnPause: true }).releaseOnPause,
      true,
    );
    expectDefinitionError(
      () => resource({ id: 'r', setup: 'x' as never, teardown: noop }),
      'Resource `r`: expected `setup` to be a function returning a JSON handle, got `"x"` (string)',
    );
    expectDefinitionError(
      () => resource({ id: 'bad id', setup: () => null, teardown: undefined as never }),
      'expected `id` to be a non-empty id',
      'expected `teardown` to be a function (handle) => void, got `undefined` (undefined)',
    );
  });
});

describe('definitions: unknown option keys', () => {
  const a = task({ id: 'a' }, noop);
  const setup = () => null;
  const workflow = (options: object) => () => defineWorkflow({ name: 'deploy', tasks: [a], ...options });
  const taskWith = (options: object) => () => task({ id: 't', ...options }, noop);
  const resourceWith = (options: object) => () => resource({ id: 'db', setup, teardown: noop, ...options });

  it('defineWorkflow: a pause-policy key at the top level points to pausePolicy', () => {
    const err = expectDefinitionError(workflow({ onTaskFailure: 'pause' }));
    assert.equal(
      err.message,
      'Workflow `deploy`: unknown option `onTaskFailure` — `onTaskFailure` belongs in `pausePolicy`: ' +
        'did you mean `pausePolicy.onTaskFailure`?',
    );
    for (const key of ['maxPause', 'onMaxPause', 'drainTimeout', 'verifyTasksOnResume']) {
      expectDefinitionError(
        workflow({ [key]: undefined }),
        `Workflow \`deploy\`: unknown option \`${key}\` — \`${key}\` belongs in \`pausePolicy\`: ` +
          `did you mean \`pausePolicy.${key}\`?`,
      );
    }
    // A typo of a key that belongs elsewhere gets the same hint.
    expectDefinitionError(
      workflow({ onTaskFailur: 'pause' }),
      'unknown option `onTaskFailur` — `onTaskFailure` belongs in `pausePolicy`',
    );
  });

  it('defineWorkflow: a task key at the top level points to task()', () => {
    expectDefinitionError(
      workflow({ dependencies: ['a'] }),
      'Workflow `deploy`: unknown option `dependencies` — `dependencies` belongs to task(): ' +
        'set it on each task, task({ id, dependencies }, fn)',
    );
    expectDefinitionError(workflow({ id: 'deploy' }), 'unknown option `id` — did you mean `name`?');
    expectDefinitionError(
      workflow({ timeout: '1h' }),
      'unknown option `timeout` — ',
      'did you mean `deadline`?',
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'deploy', tasks: 'a', onTaskFailure: 'pause' } as never),
      'unknown option `onTaskFailure`',
      'expected `tasks` to be an array',
    );
  });

  it('task(): a typo suggests the nearest key', () => {
    const err = expectDefinitionError(taskWith({ dependecies: [a] }));
    assert.equal(err.message, 'Task `t`: unknown option `dependecies` — did you mean `dependencies`?');
    expectDefinitionError(
      () => task({ dependecies: [] } as never, noop),
      'task(): unknown option `dependecies` — did you mean `dependencies`?',
    );
  });

  it('task(): a retry or gate key at task level points to retry or pauseBefore', () => {
    const err = expectDefinitionError(taskWith({ attempts: 5 }));
    assert.equal(
      err.message,
      'Task `t`: unknown option `attempts` — `attempts` belongs in `retry`: did you mean `retry.attempts`?',
    );
    for (const key of ['backoff', 'delay', 'maxDelay', 'jitter', 'condition']) {
      expectDefinitionError(
        taskWith({ [key]: undefined }),
        `Task \`t\`: unknown option \`${key}\` — \`${key}\` belongs in \`retry\`: did you mean \`retry.${key}\`?`,
      );
    }
    for (const key of ['approvers', 'requiredApprovals']) {
      expectDefinitionError(
        taskWith({ pauseBefore: true, [key]: undefined }),
        `Task \`t\`: unknown option \`${key}\` — \`${key}\` belongs in \`pauseBefore\`: ` +
          `did you mean \`pauseBefore.${key}\`?`,
      );
    }
    expectDefinitionError(
      taskWith({ fn: noop }),
      'unknown option `fn` — the task function is the second argument: task({ id, ... }, fn)',
    );
  });

  it('task(): rejects an unknown key in retry', () => {
    const err = expectDefinitionError(taskWith({ retry: { attempt: 5 } }));
    assert.equal(err.message, 'Task `t`: unknown option `retry.attempt` — did you mean `retry.attempts`?');
  });

  it('task(): rejects an unknown key in pauseBefore', () => {
    const err = expectDefinitionError(taskWith({ pauseBefore: { approver: ['alice'] } }));
    assert.equal(
      err.message,
      'Task `t`: unknown option `pauseBefore.approver` — did you mean `pauseBefore.approvers`?',
    );
  });

  it('defineWorkflow: rejects an unknown key in pausePolicy', () => {
    const err = expectDefinitionError(workflow({ pausePolicy: { maxPauses: '1h' } }));
    assert.equal(
      err.message,
      'Workflow `deploy`: unknown option `pausePolicy.maxPauses` — did you mean `pausePolicy.maxPause`?',
    );
  });

  it('resource(): rejects unknown keys, at the top level and in retry', () => {
    expectDefinitionError(
      resourceWith({ teardwon: noop }),
      'Resource `db`: unknown option `teardwon` — did you mean `teardown`?',
    );
    expectDefinitionError(
      resourceWith({ attempts: 3 }),
      'Resource `db`: unknown option `attempts` — `attempts` belongs in `retry`: did you mean `retry.attempts`?',
    );
    const err = expectDefinitionError(resourceWith({ retry: { atempts: 3 } }));
    assert.equal(
      err.message,
      'Resource `db`: unknown option `retry.atempts` — did you mean `retry.attempts`?',
    );
  });

  it('an unknown key with no close match names the key and lists the known options, suggesting none', () => {
    const messages = [
      expectDefinitionError(taskWith({ colour: 'red' })).message,
      expectDefinitionError(taskWith({ retry: { colour: 'red' } })).message,
      expectDefinitionError(workflow({ owner: 'ops' })).message,
      expectDefinitionError(resourceWith({ retry: { backoff: 'linear' } })).message,
    ];
    assert.deepEqual(messages, [
      'Task `t`: unknown option `colour` — the options are { id, dependencies, retry, timeout, ' +
        'heartbeatTimeout, execution, triggerRule, onSuccess, onFailure, pauseBefore, uses, onTaskFailure }',
      'Task `t`: unknown option `retry.colour` — the options of `retry` are ' +
        '{ attempts, backoff, delay, maxDelay, jitter, condition }',
      'Workflow `deploy`: unknown option `owner` — the options are { name, description, tasks, input, ' +
        'resumeInput, resources, pausePolicy, validateResume, deadline }',
      'Resource `db`: unknown option `retry.backoff` — the options of `retry` are { attempts, delay }',
    ]);
    for (const m of messages) {
      assert.doesNotMatch(m, /did you mean|belongs/);
    }
  });

  it('reports unknown keys together with the other problems', () => {
    const err = expectDefinitionError(
      taskWith({ dependecies: [], retry: { attempts: 0, delays: 5 } }),
      'unknown option `dependecies`',
      'unknown option `retry.delays` — did you mean `retry.delay`?',
      'expected `retry.attempts` to be an integer',
    );
    assert.equal(err.problems.length, 3);
  });

  it('accepts every known key (undefined values included)', () => {
    const db = resource({
      id: 'db',
      setup,
      teardown: noop,
      releaseOnPause: true,
      retry: { attempts: 2, delay: '1s' },
    });
    const b = task(
      {
        id: 'b',
        dependencies: [a],
        retry: {
          attempts: 2,
          backoff: 'fixed',
          delay: 10,
          maxDelay: 20,
          jitter: false,
          condition: 'transient',
        },
        timeout: '1m',
        heartbeatTimeout: '10s',
        triggerRule: trigger.always(),
        onSuccess: noop,
        onFailure: noop,
        pauseBefore: {
          reason: 'r',
          approvers: ['alice'],
          requiredApprovals: 1,
          timeout: '1h',
          onTimeout: 'reject',
        },
        uses: [db],
        onTaskFailure: 'pause',
      },
      noop,
    );
    const wf = defineWorkflow({
      name: 'w',
      description: 'd',
      tasks: [a, b],
      input: z.object({}),
      resumeInput: z.object({}),
      resources: [db],
      pausePolicy: {
        maxPause: '1d',
        onMaxPause: 'resume',
        drainTimeout: '5s',
        onTaskFailure: 'fail',
        verifyTasksOnResume: false,
      },
      validateResume: () => true,
      deadline: '2d',
    });
    assert.equal(wf.spec.pausePolicy.verifyTasksOnResume, false);
    assert.equal(
      task({ id: 'u', retry: undefined, pauseBefore: undefined }, noop).spec.pauseBefore,
      undefined,
    );
  });
});

describe('definitions: undefined and non-object options', () => {
  it('defineWorkflow(), task() and resource() reject undefined, null, arrays and primitives', () => {
    const cases: [unknown, string][] = [
      [undefined, '`undefined` (undefined)'],
      [null, '`null` (null)'],
      [[], '`[]` (array)'],
      ['deploy', '`"deploy"` (string)'],
      [42, '`42` (number)'],
    ];
    for (const [value, shown] of cases) {
      for (const [fn, call] of [
        ['defineWorkflow()', () => defineWorkflow(value as never)],
        ['task()', () => task(value as never, noop)],
        ['resource()', () => resource(value as never)],
      ] as const) {
        const err = expectDefinitionError(call);
        assert.equal(err.message, `${fn}: expected options to be an object, got ${shown}`);
      }
    }
  });

  it('nested option objects must be objects', () => {
    expectDefinitionError(
      () => task({ id: 't', retry: 3 as never }, noop),
      'Task `t`: expected `retry` to be an object { attempts, backoff, delay, maxDelay, jitter, condition }, ' +
        'got `3` (number)',
    );
    expectDefinitionError(
      () => defineWorkflow({ name: 'w', tasks: [task({ id: 'a' }, noop)], pausePolicy: 'pause' as never }),
      'Workflow `w`: expected `pausePolicy` to be an object { maxPause, onMaxPause, drainTimeout, ' +
        'onTaskFailure, verifyTasksOnResume }, got `"pause"` (string)',
    );
    expectDefinitionError(
      () => resource({ id: 'db', setup: () => null, teardown: noop, retry: null as never }),
      'Resource `db`: expected `retry` to be an object { attempts, delay }, got `null` (null)',
    );
    expectDefinitionError(
      () => task({ id: 't', pauseBefore: ['alice'] as never }, noop),
      'Task `t`: expected `pauseBefore` to be true or { reason, approvers, requiredApprovals, timeout, onTimeout }',
    );
  });
});

describe('defineWorkflow: a DAG a run can carry', () => {
  const fanOut = (n: number, id = (i: number) => `t${i}`) =>
    defineWorkflow({ name: 'wide', tasks: Array.from({ length: n }, (_, i) => task({ id: id(i) }, noop)) });

  it('accepts 5,000 tasks at the default settings', () => {
    assert.equal(fanOut(5000).spec.tasks.length, 5000);
  });

  it('refuses a DAG whose spec and task records would not fit in one continue-as-new payload', () => {
    assert.throws(
      () => fanOut(5200),
      (err: unknown) => {
        assert.ok(err instanceof DefinitionError);
        assert.match(
          err.message,
          /Workflow `wide` is too large for one run: its spec is 1215846 bytes of JSON for 5200 tasks, and a run carries it, with a record per task \(its id and about 140 bytes\), into each continue-as-new: about 1979136 bytes, over 1966080 \(the server refuses payloads over 2 MiB\)\. Split it into smaller workflows/,
        );
        return true;
      },
    );
    // Long ids count twice: in the spec and as the key of each record.
    assert.throws(() => fanOut(3000, (i) => `${'x'.repeat(190)}${i}`), /too large for one run/);
    assert.equal(fanOut(2000, (i) => `${'x'.repeat(190)}${i}`).spec.tasks.length, 2000);
  });

  it('refuses a workflow name or task id over 200 characters (search attribute values), naming the limit', () => {
    const long = 'n'.repeat(201);
    assert.throws(
      () => defineWorkflow({ name: long, tasks: [task({ id: 'a' }, () => undefined)] }),
      (err: unknown) => {
        assert.ok(err instanceof DefinitionError);
        assert.match(
          err.message,
          /expected `name` to be an id of at most 200 characters, not 201, got `"n{40}…"`/,
        );
        return true;
      },
    );
    assert.throws(
      () => defineWorkflow({ name: 'ok', tasks: [task({ id: long }, () => undefined)] }),
      /expected `id` to be an id of at most 200 characters, not 201/,
    );
    const fits = 'n'.repeat(200);
    assert.equal(defineWorkflow({ name: fits, tasks: [task({ id: fits }, () => undefined)] }).name, fits);
  });
});
