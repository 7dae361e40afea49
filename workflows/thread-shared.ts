// Values every run on a workflow thread may share because no run can change them (the message schemas).
// The worker's bundle preloads this module (`preloadModules`), so the map below is created once per thread,
// outside any run, instead of once per cached run. In a bundle built without the preload each run gets its
// own map: the same values, only more memory.
const values = new Map<string, unknown>();

/** The value stored under `key`, built by `build` on first use. `build` must return something never mutated. */
export function threadShared<T>(key: string, build: () => T): T {
  if (!values.has(key)) values.set(key, build());
  return values.get(key) as T;
}
