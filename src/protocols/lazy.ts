/**
 * A protocol library loaded on its first use, not when its adapter is imported: discovering the probes (or
 * listing them) must not load every library, only a run that talks that protocol pays for it. The property
 * reads of the returned object go to the library (`lib.Client`, `lib.ObjectType.Integer`, `instanceof`).
 */
export function lazyModule<T extends object>(name: string): T {
  let loaded: T | undefined;
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the point: require on first use
  const load = (): T => (loaded ??= require(name) as T);
  return new Proxy({} as T, {
    get: (_target, property) => (load() as Record<string | symbol, unknown>)[property],
    has: (_target, property) => property in load(),
  });
}
