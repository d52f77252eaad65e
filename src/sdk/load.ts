/**
 * Caps on the load that destructive probes (floods, connection exhaustion) may put on a device. The profile's
 * `robustness` block sets them; the ceilings below are absolute (a profile asking for more is clamped, and the
 * clamping is reported). The runner hands the clamped limits to every attempt as `ctx.loadLimits`; the load
 * framework (src/protocols/load) takes its caps from there, never from a probe's own inputs.
 */

export interface LoadLimits {
  /** Requests, packets or connection attempts per second, at most (the highest step is clamped to it). */
  readonly maxRate: number;
  /** Seconds one load step may last. */
  readonly maxStepSeconds: number;
  /** Requests, packets or connection attempts one attempt may send in all its steps together. */
  readonly maxTotal: number;
  /** Connections one attempt may hold open at once (connection exhaustion, flood sockets). */
  readonly maxConnections: number;
}

/** Our own defaults for a lab run (docs/robustness.md, "Load caps"); no standard fixes them. */
export const LOAD_DEFAULTS: LoadLimits = { maxRate: 10_000, maxStepSeconds: 10, maxTotal: 500_000, maxConnections: 500 };

/** What no profile can raise: the harness's own ceilings. */
export const LOAD_CEILINGS: LoadLimits = { maxRate: 50_000, maxStepSeconds: 60, maxTotal: 2_000_000, maxConnections: 4000 };

/** The profile's `robustness` block as written (every field optional). */
export type LoadLimitsRequest = Partial<Record<keyof LoadLimits, number>>;

/** The limits a run uses: the profile's values (else the defaults), clamped to the ceilings; `clamped` says what was lowered. */
export function resolveLoadLimits(requested: LoadLimitsRequest = {}): { limits: LoadLimits; clamped: string[] } {
  const clamped: string[] = [];
  const pick = (key: keyof LoadLimits): number => {
    const asked = requested[key];
    if (asked === undefined) return LOAD_DEFAULTS[key];
    if (asked > LOAD_CEILINGS[key]) {
      clamped.push(`robustness.${key} ${asked} lowered to the ceiling ${LOAD_CEILINGS[key]}`);
      return LOAD_CEILINGS[key];
    }
    return asked;
  };
  return {
    limits: { maxRate: pick('maxRate'), maxStepSeconds: pick('maxStepSeconds'), maxTotal: pick('maxTotal'), maxConnections: pick('maxConnections') },
    clamped,
  };
}
