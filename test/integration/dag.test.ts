import assert from 'node:assert/strict';
import {
  defineWorkflow,
  task,
  trigger,
  TaskError,
  WorkflowExecutionError,
  type JsonObject,
  type WorkflowDefinition,
} from '../../src';
import { eventually, sleep, temporalCli, withWorker } from '../helpers';

/** Runs a workflow to its end and returns the final context, or the WorkflowExecutionError. */
async function runToEnd(wf: WorkflowDefinition, input: JsonObject = {}) {
  return withWorker([wf], async ({ executor }) => {
    const h = await executor.executeAsync(wf, input);
    try {
      const context = await h.result();
      return { context, status: await h.status(), error: undefined };
    } catch (err) {
      assert.ok(err instanceof WorkflowExecutionError, `expected WorkflowExecutionError, got ${String(err)}`);
      return { context: undefined, status: err.status!, error: err };
    }
  });
}

const fast = { delay: 10, jitter: false } as const;

describe('DAG execution (Cloacina parity) on a real server', () => {
  it('runs a sequential chain passing the context along', async () => {
    const wf = defineWorkflow({
      name: 'chain',
      tasks: [
        task({ id: 'a' }, (ctx) => {
          ctx.insert('order', ['a']);
        }),
        task({ id: 'b', dependencies: ['a'] }, (ctx) => {
          ctx.update('order', [...ctx.get<string[]>('order')!, 'b']);
        }),
        task({ id: 'c', dependencies: ['b'] }, (ctx) => {
          ctx.update('order', [...ctx.get<string[]>('order')!, 'c']);
          ctx.set('input', ctx.get('seed') ?? null);
        }),
      ],
    });
    const { context, status } = await runToEnd(wf, { seed: 42 });
    assert.deepEqual(context, { seed: 42, order: ['a', 'b', 'c'], input: 42 });
    assert.equal(status.state, 'completed');
    for (const id of ['a', 'b', 'c']) {
      assert.equal(status.tasks[id]?.state, 'completed');
      assert.equal(status.tasks[id]?.attempts, 1);
      assert.ok(status.tasks[id]?.startedAt && status.tasks[id]?.finishedAt);
    }
  });

  it('runs independent branches in parallel and merges their contexts at the join', async () => {
    const started: Record<string, number> = {};
    const ended: Record<string, number> = {};
    const branch = (id: string, extra: JsonObject) =>
      task({ id, dependencies: ['root'] }, async (ctx) => {
        started[id] = Date.now();
        await sleep(400);
        ended[id] = Date.now();
        for (const [k, v] of Object.entries(extra)) ctx.set(k, v);
      });
    const wf = defineWorkflow({
      name: 'fan_in',
      tasks: [
        task({ id: 'root' }, (ctx) => {
          ctx.set('tags', ['root']);
          ctx.set('config', { region: 'eu', limits: { cpu: 1 } });
          ctx.set('winner', 'root');
        }),
        branch('left', { tags: ['left', 'root'], config: { limits: { memory: 2 } }, winner: 'left' }),
        branch('right', { tags: ['right'], config: { replicas: 3 }, winner: 'right' }),
        task({ id: 'join', dependencies: ['left', 'right'] }, (ctx) => {
          ctx.set('joined', true);
        }),
      ],
    });
    const { context } = await runToEnd(wf);
    // Both branches were running at once: each started before the other ended.
    assert.ok(
      started.left! < ended.right! && started.right! < ended.left!,
      `left ran ${started.left}–${ended.left}, right ${started.right}–${ended.right}: one after the other`,
    );
    assert.deepEqual(context, {
      tags: ['left', 'root', 'right'],
      config: { limits: { memory: 2 }, replicas: 3 },
      winner: 'right',
      joined: true,
    });
  });

  for (const backoff of ['fixed', 'linear', 'exponential'] as const) {
    it(`retries with ${backoff} back-off until the task succeeds`, async () => {
      let calls = 0;
      const wf = defineWorkflow({
        name: `retry_${backoff}`,
        tasks: [
          task({ id: 'flaky', retry: { attempts: 4, backoff, ...fast } }, (ctx) => {
            calls++;
            if (calls < 3) throw new Error(`boom ${calls}`);
            ctx.set('attempt', ctx.attempt);
          }),
        ],
      });
      const { context, status } = await runToEnd(wf);
      assert.equal(calls, 3);
      assert.deepEqual(context, { attempt: 3 });
      assert.equal(status.tasks.flaky?.attempts, 3);
    });
  }

  it('retries transient failures under the transient condition', async () => {
    let calls = 0;
    const wf = defineWorkflow({
      name: 'retry_transient',
      tasks: [
        task({ id: 'net', retry: { attempts: 3, condition: 'transient', ...fast } }, () => {
          calls++;
          if (calls === 1) throw new Error('connection reset by peer');
        }),
      ],
    });
    const { status } = await runToEnd(wf);
    assert.equal(calls, 2);
    assert.equal(status.state, 'completed');
  });

  it('does not retry a permanent failure under the transient condition', async () => {
    let calls = 0;
    const wf = defineWorkflow({
      name: 'retry_transient_permanent',
      tasks: [
        task({ id: 'bad', retry: { attempts: 3, condition: 'transient', ...fast } }, () => {
          calls++;
          throw new Error('invalid configuration');
        }),
      ],
    });
    const { error, status } = await runToEnd(wf);
    assert.equal(calls, 1);
    assert.equal(error?.type, 'TaskFailed');
    assert.equal(status.tasks.bad?.state, 'failed');
    assert.equal(status.tasks.bad?.error?.message, 'invalid configuration');
  });

  it('never retries under the never condition', async () => {
    let calls = 0;
    const wf = defineWorkflow({
      name: 'retry_never',
      tasks: [
        task({ id: 'once', retry: { attempts: 5, condition: 'never', ...fast } }, () => {
          calls++;
          throw new Error('nope');
        }),
      ],
    });
    const { status } = await runToEnd(wf);
    assert.equal(calls, 1);
    assert.equal(status.tasks.once?.attempts, 1);
    assert.equal(status.state, 'failed');
  });

  it('retries only failures whose message matches a pattern', async () => {
    const seen: string[] = [];
    const messages = ['HTTP 503 from upstream', 'HTTP 503 from upstream', 'schema mismatch'];
    const wf = defineWorkflow({
      name: 'retry_pattern',
      tasks: [
        task({ id: 'call', retry: { attempts: 5, condition: ['503', 'throttled'], ...fast } }, () => {
          const m = messages[seen.length]!;
          seen.push(m);
          throw new Error(m);
        }),
      ],
    });
    const { status } = await runToEnd(wf);
    assert.deepEqual(seen, messages);
    assert.equal(status.tasks.call?.attempts, 3);
    assert.equal(status.tasks.call?.error?.message, 'schema mismatch');
  });

  it('carries TaskError kinds across the wire: ValidationFailed is not retried', async () => {
    let calls = 0;
    const wf = defineWorkflow({
      name: 'task_error_kind',
      tasks: [
        task({ id: 'validate', retry: { attempts: 3, ...fast } }, () => {
          calls++;
          throw new TaskError('ValidationFailed', 'order total must be positive');
        }),
      ],
    });
    const { status, error } = await runToEnd(wf);
    assert.equal(calls, 1);
    assert.deepEqual(status.tasks.validate?.error, {
      type: 'ValidationFailed',
      message: 'order total must be positive',
    });
    assert.match(error!.message, /`validate` failed: order total must be positive/);
  });

  it('fails an attempt that exceeds the task timeout', async () => {
    const wf = defineWorkflow({
      name: 'task_timeout',
      tasks: [
        task({ id: 'slow', timeout: 1000, retry: { attempts: 1 } }, async (ctx) => {
          await new Promise((resolve) => {
            const t = setTimeout(resolve, 10_000);
            ctx.signal.addEventListener('abort', () => {
              clearTimeout(t);
              resolve(undefined);
            });
          });
        }),
      ],
    });
    const { status } = await runToEnd(wf);
    assert.equal(status.tasks.slow?.state, 'failed');
    assert.equal(status.tasks.slow?.error?.type, 'Timeout');
  });

  it('fails the run when a task fails, but still runs downstream tasks and skips by trigger rule', async () => {
    const ran: string[] = [];
    const wf = defineWorkflow({
      name: 'failure_downstream',
      tasks: [
        task({ id: 'build' }, () => {
          ran.push('build');
        }),
        task({ id: 'test', dependencies: ['build'], retry: { attempts: 1 } }, () => {
          ran.push('test');
          throw new Error('3 tests failed');
        }),
        task({ id: 'cleanup', dependencies: ['test'] }, () => {
          ran.push('cleanup');
        }),
        task(
          { id: 'notify_failure', dependencies: ['test'], triggerRule: trigger.taskFailed('test') },
          (ctx) => {
            ran.push('notify_failure');
            ctx.set('notified', true);
          },
        ),
        task({ id: 'deploy', dependencies: ['test'], triggerRule: trigger.taskSuccess('test') }, () => {
          ran.push('deploy');
        }),
        task(
          { id: 'after_deploy', dependencies: ['deploy'], triggerRule: trigger.taskSkipped('deploy') },
          () => {
            ran.push('after_deploy');
          },
        ),
      ],
    });
    const { status, error } = await runToEnd(wf);
    assert.ok(error);
    assert.equal(status.state, 'failed');
    assert.deepEqual([...ran].sort(), ['after_deploy', 'build', 'cleanup', 'notify_failure', 'test']);
    assert.equal(status.tasks.deploy?.state, 'skipped');
    assert.match(status.tasks.deploy?.skipReason ?? '', /taskSuccess\(test\)/);
    assert.equal(status.tasks.after_deploy?.state, 'completed');
    assert.equal(status.tasks.test?.state, 'failed');
  });

  it('evaluates context-value and composite trigger rules against the input context', async () => {
    const wf = defineWorkflow({
      name: 'trigger_rules',
      tasks: [
        task({ id: 'check' }, (ctx) => {
          ctx.set('env', 'prod');
          ctx.set('replicas', 3);
          ctx.set('features', ['canary']);
        }),
        ...(
          [
            ['eq_pass', trigger.contextValue('env', 'equals', 'prod'), true],
            ['eq_fail', trigger.contextValue('env', 'equals', 'dev'), false],
            ['exists_pass', trigger.contextValue('replicas', 'exists'), true],
            ['exists_fail', trigger.contextValue('missing', 'exists'), false],
            ['gt_pass', trigger.contextValue('replicas', 'greaterThan', 2), true],
            ['contains_pass', trigger.contextValue('features', 'contains', 'canary'), true],
            ['all_empty', trigger.all(), true],
            ['any_empty', trigger.any(), false],
            ['none_empty', trigger.none(), true],
            [
              'composite',
              trigger.all(
                trigger.taskSuccess('check'),
                trigger.any(
                  trigger.contextValue('env', 'notEquals', 'prod'),
                  trigger.contextValue('replicas', 'lessThan', 5),
                ),
              ),
              true,
            ],
          ] as const
        ).map(([id, rule]) =>
          task({ id, dependencies: ['check'], triggerRule: rule }, (ctx) => {
            ctx.set(`ran_${id}`, true);
          }),
        ),
      ],
    });
    const { status } = await runToEnd(wf);
    const expected: Record<string, boolean> = {
      eq_pass: true,
      eq_fail: false,
      exists_pass: true,
      exists_fail: false,
      gt_pass: true,
      contains_pass: true,
      all_empty: true,
      any_empty: false,
      none_empty: true,
      composite: true,
    };
    for (const [id, runs] of Object.entries(expected)) {
      assert.equal(status.tasks[id]?.state, runs ? 'completed' : 'skipped', `task ${id}`);
    }
    assert.equal(status.state, 'completed');
  });

  it('fails a task that inserts an existing key or updates a missing one, without retrying', async () => {
    let calls = 0;
    const wf = defineWorkflow({
      name: 'context_errors',
      tasks: [
        task({ id: 'dup', retry: { attempts: 3, ...fast } }, (ctx) => {
          calls++;
          ctx.insert('k', 1);
          ctx.insert('k', 2);
        }),
        task({ id: 'missing', retry: { attempts: 3, ...fast } }, (ctx) => {
          ctx.update('nope', 1);
        }),
      ],
    });
    const { status } = await runToEnd(wf);
    assert.equal(calls, 1);
    assert.equal(status.tasks.dup?.error?.type, 'ContextError');
    assert.match(status.tasks.dup?.error?.message ?? '', /`k` already exists/);
    assert.equal(status.tasks.missing?.error?.type, 'ContextError');
    assert.match(status.tasks.missing?.error?.message ?? '', /`nope` does not exist/);
  });

  it('calls onSuccess and onFailure callbacks', async () => {
    const events: string[] = [];
    const wf = defineWorkflow({
      name: 'callbacks',
      tasks: [
        task({ id: 'ok', onSuccess: (ctx) => void events.push(`success:${ctx.taskId}`) }, () => undefined),
        task(
          {
            id: 'ko',
            retry: { attempts: 2, ...fast },
            onFailure: (err, _ctx, info) => void events.push(`failure:${info.attempt}:${err.message}`),
          },
          () => {
            throw new Error('bad');
          },
        ),
      ],
    });
    await runToEnd(wf);
    assert.deepEqual(events.sort(), ['failure:1:bad', 'failure:2:bad', 'success:ok']);
  });

  it('cancels a run: in-flight tasks see ctx.signal abort and the state is cancelled', async () => {
    let aborted = false;
    const wf = defineWorkflow({
      name: 'cancel_run',
      tasks: [
        task({ id: 'long' }, async (ctx) => {
          await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve()));
          aborted = true;
          throw new Error('aborted');
        }),
        task({ id: 'after', dependencies: ['long'] }, () => undefined),
      ],
    });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await eventually(async () => (await h.status()).tasks.long?.state === 'running');
      await h.cancel();
      await assert.rejects(
        h.result(),
        (err: unknown) => err instanceof WorkflowExecutionError && /cancelled/.test(err.message),
      );
      const st = await h.status();
      assert.equal(st.state, 'cancelled');
      assert.equal(st.tasks.after?.state, 'pending');
      await eventually(async () => aborted, 10_000, 'the task to see its abort signal');
    });
  });

  it('shows run state in search attributes: listWorkflows and temporal workflow list find it', async () => {
    const wf = defineWorkflow({ name: 'visible', tasks: [task({ id: 'only' }, () => undefined)] });
    await withWorker([wf], async ({ executor }) => {
      const h = await executor.executeAsync(wf, {});
      await h.result();
      const rows = await eventually(async () => {
        const r = await executor.listWorkflows({
          workflow: 'visible',
          state: 'completed',
          query: `WorkflowId = '${h.workflowId}'`,
        });
        return r.length ? r : undefined;
      });
      assert.equal(rows[0]?.workflowId, h.workflowId);
      assert.equal(rows[0]?.state, 'completed');
      assert.equal(rows[0]?.paused, false);
      const out = await temporalCli([
        'workflow',
        'list',
        '--query',
        `CloacinaState="completed" AND CloacinaWorkflow="visible"`,
        '-o',
        'json',
      ]);
      assert.ok(out.includes(h.workflowId));
    });
  });

  it('refuses bad input before a run starts', async () => {
    const { z } = await import('zod');
    const wf = defineWorkflow({
      name: 'typed_input',
      input: z.object({ version: z.string() }),
      tasks: [task({ id: 'x' }, () => undefined)],
    });
    const untyped = defineWorkflow({ name: 'untyped_input', tasks: [task({ id: 'x' }, () => undefined)] });
    await withWorker([wf, untyped], async ({ executor }) => {
      await assert.rejects(
        executor.executeAsync(wf, { version: 3 }),
        /Invalid input for workflow `typed_input`: `version`/,
      );
      await assert.rejects(
        executor.executeAsync(untyped, { when: new Date() } as never),
        /input\.when is a Date, not a JSON value/,
      );
    });
  });

  describe('contexts near the payload limit', () => {
    /** Three tasks that each add a 400 KiB value (each output is within the limit; their merge is not). */
    const blobs = (n: number) =>
      Array.from({ length: n }, (_, i) =>
        task({ id: `w${i}` }, (ctx) => void ctx.set(`blob${i}`, String(i).repeat(400 * 1024))),
      );
    const failedWorkflowTasks = async (client: import('@temporalio/client').Client, id: string) => {
      const { temporal } = await import('@temporalio/proto');
      const T = temporal.api.enums.v1.EventType;
      const history = await client.workflow.getHandle(id).fetchHistory();
      return (history.events ?? [])
        .filter((e) => e.eventType === T.EVENT_TYPE_WORKFLOW_TASK_FAILED)
        .map(
          (e) =>
            e.workflowTaskFailedEventAttributes?.failure?.message ??
            String(e.workflowTaskFailedEventAttributes?.cause),
        );
    };

    it('a fan-in whose merged input outgrows the limit fails the task, never a workflow task', async function () {
      this.timeout(60_000);
      let ran = false;
      const wf = defineWorkflow({
        name: 'merge_too_large',
        tasks: [...blobs(3), task({ id: 'join', dependencies: ['w0', 'w1', 'w2'] }, () => void (ran = true))],
      });
      await withWorker([wf], async ({ executor, client }) => {
        const h = await executor.executeAsync(wf, {});
        const err = await h.result().then(
          () => assert.fail('the run should fail'),
          (e: unknown) => e,
        );
        assert.ok(err instanceof WorkflowExecutionError, String(err));
        const join = err.status!.tasks.join!;
        assert.equal(join.state, 'failed');
        assert.equal(join.error?.type, 'ContextTooLarge');
        // Not retried (the retry policy allows 3 attempts): the same merge would fail again.
        assert.equal(join.attempts, 1);
        const bytes = 3 * (400 * 1024 + '"blob0":"",'.length) + 1;
        assert.equal(
          join.error?.message,
          `the input of \`join\` (the merge of the outputs of \`w0\`, \`w1\`, \`w2\`) is ${bytes} bytes of JSON, ` +
            'over the limit of 1048576: keep large data in external storage and put a reference in the context ' +
            '(a run paused on the failure can be resumed with a contextPatch that replaces the large keys)',
        );
        assert.equal(ran, false, 'the task never ran');
        assert.deepEqual(await failedWorkflowTasks(client, h.workflowId), []);
      });
    });

    it('paused on that failure, a resume whose contextPatch shrinks the merge runs the task', async function () {
      this.timeout(60_000);
      const wf = defineWorkflow({
        name: 'merge_too_large_patched',
        pausePolicy: { onTaskFailure: 'pause' },
        tasks: [
          ...blobs(3),
          task({ id: 'join', dependencies: ['w0', 'w1', 'w2'] }, (ctx) => {
            ctx.set(
              'sizes',
              [0, 1, 2].map((i) => String(ctx.get(`blob${i}`)).length),
            );
          }),
        ],
      });
      await withWorker([wf], async ({ executor, client }) => {
        const h = await executor.executeAsync(wf, {});
        const st = await eventually(async () => {
          const s = await h.status();
          assert.equal(s.state, 'paused');
          return s;
        });
        assert.equal(st.pause?.kind, 'failure');
        assert.deepEqual(st.pause?.failedTasks, ['join']);
        assert.equal(st.tasks.join?.state, 'held');
        await h.resume({ contextPatch: { blob1: 'ref:1', blob2: 'ref:2' }, reason: 'moved to storage' });
        const out = await h.result();
        assert.deepEqual(out.sizes, [400 * 1024, 5, 5]);
        assert.deepEqual(await failedWorkflowTasks(client, h.workflowId), []);
      });
    });
  });
});
