// Modules a worker evaluates once per workflow thread, before any run, and shares among the runs it caches
// (the bundler's `preloadModules`): zod and the workflows' own modules. The SDK freezes their exports, so
// these hold only functions, classes and constants; what a run makes from them is its own. The request
// schemas, which must stay extensible, live in ./thread-shared's map, which no export reaches.
import { z } from 'zod';
import { cloacinaDag, cloacinaPauseWindow } from './index';

// zod sets its default locale and memoizer when it builds its first schema, which would otherwise happen in
// a run after this module is frozen.
z.object({ warm: z.array(z.string()) }).safeParse({ warm: ['up'] });

export { cloacinaDag, cloacinaPauseWindow };
