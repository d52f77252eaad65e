/**
 * Typed errors a probe (or a protocol adapter) throws. Only the runner turns them into an attempt
 * status; a probe never catches everything.
 */

export type ErrorKind = 'unreachable' | 'timeout' | 'protocol' | 'auth' | 'scope' | 'input' | 'instrument';

export abstract class ProbeError extends Error {
  abstract readonly kind: ErrorKind;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Nothing answered: connection refused, no route, host down, DNS failure. */
export class TargetUnreachable extends ProbeError {
  readonly kind = 'unreachable';
}

/** The target accepted but did not answer within the budget. */
export class TargetTimeout extends ProbeError {
  readonly kind = 'timeout';
}

/** The peer answered something that is not the expected protocol, or broke it. */
export class ProtocolViolation extends ProbeError {
  readonly kind = 'protocol';
}

/** The credentials the profile gave were refused, so the probe could not do its job. */
export class AuthRejected extends ProbeError {
  readonly kind = 'auth';
}

/** A connection to a host that is not declared in the profile was attempted and refused. */
export class OutOfScope extends ProbeError {
  readonly kind = 'scope';
}

/** The profile does not give the probe what it needs (e.g. no credentials). */
export class MissingInput extends ProbeError {
  readonly kind = 'input';
}

/** A profile input the probe was given cannot be used (a malformed port list, a tool it names is missing). */
export class InvalidInput extends ProbeError {
  readonly kind = 'input';
}

/**
 * The harness's own instrument failed or cannot vouch for what it recorded: a capture that dropped packets or
 * lacks its own marker, a packet sender that sent fewer packets than asked. The attempt judges nothing; this is
 * neither the device's fault nor a defect in the probe (which `bug` would say), and a repeat may succeed.
 */
export class InstrumentFailure extends ProbeError {
  readonly kind = 'instrument';
}

/**
 * Something the user gave cannot be used — a profile, an attestation file, a key, an evidence folder, a
 * posture, a host outside the profile: the command prints `heading` (if any) and the message, and exits 3
 * before anything is contacted or written. Not a probe error: nothing ran.
 */
export class InputRejected extends Error {
  constructor(message: string, readonly heading?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** True when `err` is the abort reason of `signal` or an AbortError raised because of it. */
export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  if (signal?.aborted && err === signal.reason) return true;
  return err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError');
}
