// Workflows of the crash tests. The same definitions run in a worker process the test kills (role
// `doomed`: each step announces itself on stdout and then never ends, ignoring cancellation) and in the
// worker that takes over (the steps finish at once).
import { defineWorkflow, resource, task, type WorkflowDefinition } from '../../src';

const doomed = process.env.CLOACINA_CRASH_ROLE === 'doomed';

/** In the doomed worker: says where it is, then hangs until the process is killed. */
async function hangIfDoomed(where: string): Promise<void> {
  if (!doomed) return;
  process.stdout.write(`@@ ${where}\n`);
  await new Promise<never>(() => undefined);
}

export const midTask = defineWorkflow({
  name: 'crash-mid-task',
  tasks: [
    task({ id: 'prep' }, (ctx) => void ctx.set('prep', true)),
    task(
      { id: 'slow', dependencies: ['prep'], heartbeatTimeout: '5s', retry: { attempts: 2, delay: '100ms' } },
      async (ctx) => {
        await hangIfDoomed(`slow ${ctx.attempt}`);
        ctx.set('slowAttempt', ctx.attempt);
      },
    ),
    task({ id: 'after', dependencies: ['slow'] }, (ctx) => void ctx.set('after', true)),
  ],
});

export const immediateDrain = defineWorkflow({
  name: 'crash-immediate-drain',
  // The drain waits for the attempt far longer than the test: only the dead worker can end it.
  pausePolicy: { drainTimeout: '10m' },
  tasks: [
    task({ id: 'slow', heartbeatTimeout: '5s', retry: { attempts: 1 } }, async (ctx) => {
      await hangIfDoomed(`slow ${ctx.attempt}`);
      ctx.set('slowAttempt', ctx.attempt);
    }),
    task({ id: 'after', dependencies: ['slow'] }, (ctx) => void ctx.set('after', true)),
  ],
});

export const validation = defineWorkflow({
  name: 'crash-validation',
  validateResume: async (ctx) => {
    await hangIfDoomed(`validate ${String(ctx.get('n'))}`);
    return true;
  },
  tasks: [
    task({ id: 'gated', pauseBefore: true }, (ctx) => void ctx.set('gated', true)),
    task({ id: 'after', dependencies: ['gated'] }, (ctx) => void ctx.set('after', true)),
  ],
});

const db = resource({
  id: 'db',
  setup: async ({ reason }) => {
    await hangIfDoomed(`setup ${reason}`);
    return { connection: 'db-1' };
  },
  teardown: () => undefined,
});

export const resourceSetup = defineWorkflow({
  name: 'crash-resource-setup',
  resources: [db],
  tasks: [
    task({ id: 'query', uses: ['db'] }, (ctx) => {
      const handle = ctx.resource<{ connection: string }>('db');
      ctx.set('connection', handle.connection);
    }),
  ],
});

export const crashWorkflows: WorkflowDefinition[] = [midTask, immediateDrain, validation, resourceSetup];
