// Modules a worker evaluates once per workflow thread, before any run, and shares among the runs it caches
// (the bundler's `preloadModules`). Their exports are frozen, so they hold nothing a run changes: zod's
// code, the map of values built once per thread (./thread-shared), and the workflows' own code: functions,
// classes and constants (the instances a run makes are its own and not frozen).
import { z } from 'zod';
import { threadShared } from './thread-shared';
import { cloacinaDag, cloacinaPauseWindow } from './index';

// zod sets its default locale and memoizer when it builds its first schema, which would otherwise happen in
// a run after this module is frozen.
z.object({ warm: z.array(z.string()) }).safeParse({ warm: ['up'] });

export { threadShared, cloacinaDag, cloacinaPauseWindow };
