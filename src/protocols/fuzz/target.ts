import type { FrameTemplate } from './grammar';

/**
 * What a protocol gives the fuzz core: its grammar, how to send one case and read the device's reaction, and
 * how to check that the device still does its normal job. The campaign (src/protocols/fuzz/probe.ts) and
 * `iacs-probe replay` know nothing else about the protocol.
 */

/** How a device reacted to one case (or to the normal request). */
export type ReactionKind = 'reply' | 'exception' | 'invalid' | 'close' | 'reset' | 'timeout' | 'connect-failed';

/** One reaction, as recorded in the case's NDJSON line. */
export interface DeviceReaction {
  kind: ReactionKind;
  /** The bytes received (may be empty). */
  hex: string;
  detail: string;
  elapsedMs: number;
  /** For 'connect-failed': Node's error code (ECONNREFUSED, ECONNRESET...), when there was one. */
  code?: string;
  /**
   * Why the case's bytes never reached the device (no TCP connection, no answer to the Hello or identification
   * the case needs first): such a case tested nothing and does not count towards a pass.
   */
  notSent?: string;
}

/** The answer to the protocol's normal request: `ok` when it was answered as a healthy device answers. */
export interface NormalCheck {
  ok: boolean;
  kind: ReactionKind;
  detail: string;
  /** For 'connect-failed': Node's error code, which tells a refused port from a reset or a timeout. */
  code?: string;
}

export interface FuzzTarget {
  /** Recorded in the campaign line; replay finds the factory by it ("modbus", "http", "snmp", ...). */
  protocol: string;
  transport: 'tcp' | 'udp';
  /** JSON the factory needs to rebuild this target for replay (unitId, tls, community...). */
  params: Record<string, unknown>;
  templates: FrameTemplate[];
  /** The normal request, for records and findings (hex or words). */
  checkDescription: string;
  /**
   * Sends one case on a connection (or socket) of its own and waits up to `waitMs` for the reaction. A refused
   * connection is a reaction ('connect-failed': the previous case may have killed the device); an abort of
   * `signal` rejects with its reason.
   */
  sendCase(c: { bytes: Buffer; template: string }, waitMs: number, signal: AbortSignal): Promise<DeviceReaction>;
  /** The normal request, on a new connection; a refused connection is `{ok: false, kind: 'connect-failed'}`. */
  answersNormally(waitMs: number, signal: AbortSignal): Promise<NormalCheck>;
  /**
   * Profile secrets the case bytes carry (an SNMP community): the records show each as '*' bytes with its
   * offsets, the campaign line its SHA-256 only; replay asks for the value (and passes it as the param of
   * that name to the factory).
   */
  secrets?: { name: string; value: Buffer }[];
}

export type FuzzTargetFactory = (endpoint: { host: string; port: number }, params: Record<string, unknown>) => FuzzTarget;

/** Reads one typed param of a campaign line (replay) with a default, refusing a wrong type. */
export function param<T extends string | number | boolean>(params: Record<string, unknown>, name: string, fallback: T): T {
  const v = params[name];
  if (v === undefined) return fallback;
  if (typeof v !== typeof fallback) throw new TypeError(`fuzz target param ${name}: expected a ${typeof fallback}, got ${JSON.stringify(v)}`);
  return v as T;
}
