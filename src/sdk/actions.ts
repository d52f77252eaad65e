/**
 * The action log: security-relevant things probes do to a device (failed and successful logins, an expected
 * lockout, sessions, denied access, configuration reads), recorded run-wide so that the audit probes can check
 * that the device logged them (CR 2.8, 2.11, 2.12). One writer API (`ctx.actions.record`), one reader
 * (`ctx.actions.list()`); the runner adds time, probe, target, interface and our source address, and keeps the
 * log as actions.ndjson in the evidence folder.
 */

/** What happened, in the vocabulary of the CR 2.8 categories (access control, request errors, configuration). */
export const ACTION_KINDS = [
  'login-failed', 'login-succeeded', 'login-refused', 'lockout-expected', 'session-opened', 'session-closed',
  'session-limit-hit', 'access-denied', 'config-read', 'config-changed',
] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

/** What a probe (or the login layer on its behalf) tells the log. */
export interface SecurityAction {
  readonly kind: ActionKind;
  /** The account the action used or concerned (a user name, never a password). */
  readonly account?: string;
  /** One short phrase: the object read, the status the device answered. */
  readonly detail?: string;
  /** Epoch ms when it happened, when not now (e.g. the start of a login exchange). */
  readonly at?: number;
  /**
   * The declared service it went through, when not the attempt's own: a host-scope probe acting on several
   * interfaces (audit.outage) names each, so the action's `interface` and `port` are the service's.
   */
  readonly via?: { readonly protocol: string; readonly port: number };
}

/** One line of actions.ndjson. */
export interface ActionRecord {
  readonly seq: number;
  /** ISO time (harness clock) and the same as epoch ms. */
  readonly at: string;
  readonly atMs: number;
  readonly kind: ActionKind;
  readonly probe: string;
  /** The device (profile host) and the port of the interface used. */
  readonly host: string;
  readonly port?: number;
  /** The interface: the declared service protocol ("ssh", "https", ...), or "host". */
  readonly interface: string;
  /** Our address as the device sees it (the source of the connection), where known. */
  readonly source?: string;
  readonly account?: string;
  readonly detail?: string;
}

export interface ActionLog {
  record(action: SecurityAction): void;
  /** Every action of the run so far (all probes, all hosts), in order. */
  list(): readonly ActionRecord[];
}
