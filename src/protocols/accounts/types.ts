/**
 * The account-management interface a component declares (`policy.accountManagement`, docs/accounts.md) as the
 * probes see it: the same five operations over SSH commands or web/REST request templates.
 */

/** Who performs an operation: the profile's accounts (credentials.accounts.admin / .operator). */
export type Actor = 'admin' | 'operator';

/** What the device answered to one operation, without any secret. */
export interface Step {
  /** The operation, e.g. "create as operator". */
  readonly step: string;
  /** The device did it (2xx of the declared success statuses, exit 0). */
  readonly accepted: boolean;
  /** `DELETE /api/users/x -> 404` or `/usr/sbin/userdel x: exit 6 (userdel: user 'x' does not exist)`; secrets scrubbed. */
  readonly detail: string;
  /** The object was already absent (delete only): a declared "absent" status, or the device saying so. */
  readonly absent?: boolean;
}

export interface OperationOptions {
  /** Overrides the attempt's signal (cleanup runs on its own budget, also after Ctrl-C). */
  readonly signal?: AbortSignal;
}

export interface AccountInterface {
  /** "ssh:<host>:<port>" or "https:<host>:<port>": the cleanup journal's `where`. */
  readonly where: string;
  readonly kind: 'ssh' | 'http';
  /** Creates `user` with `password` as `actor`. */
  create(actor: Actor, user: string, password: string): Promise<Step>;
  /** The user changes their own password (or the admin does, where the template says so). */
  setPassword(user: string, oldPassword: string, newPassword: string): Promise<Step>;
  /** The admin disables the account. */
  disable(user: string): Promise<Step>;
  /** The admin deletes the account. */
  remove(user: string, options?: OperationOptions): Promise<Step>;
  /** One login as the user: accepted or refused. */
  login(user: string, password: string): Promise<Step>;
}

/** Replaces every secret in a text the device sent or we describe (a body that echoes a password). */
export function scrub(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of [...secrets].filter((x) => x.length > 0).sort((a, b) => b.length - a.length)) out = out.split(s).join('«redacted»');
  return out;
}

/** A short single-line excerpt of device output for a step's detail: its end, where tools print their verdict. */
export function excerpt(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > max ? `…${line.slice(-max)}` : line;
}
