// Modules a worker evaluates once per workflow thread, before any run, and shares among the runs it caches
// (the bundler's `preloadModules`). Their exports are frozen, so they hold nothing a run changes: zod's
// code, the map of values built once per thread (./thread-shared), and the workflow's own classes and pure
// functions (their instances, made per run, are not frozen).
import { z } from 'zod';
import { threadShared } from './thread-shared';
import { Run } from './run';
import { TaskDriver } from './task-driver';
import { Rejections, Visibility } from './visibility';
import { Resources } from './resources';

// zod sets its default locale and memoizer when it builds its first schema, which would otherwise happen in
// a run after this module is frozen.
z.object({ warm: z.array(z.string()) }).safeParse({ warm: ['up'] });

export { threadShared, Run, TaskDriver, Rejections, Visibility, Resources };
