import { OutOfScope, TargetTimeout, TargetUnreachable, isAbort } from '../../sdk';
import type { NormalCheck } from './target';

/** Node's error code of `err` or of its cause ("ECONNREFUSED"), also when a library kept it only in the message. */
function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 3; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return /\b(E(?:CONNREFUSED|CONNRESET|HOSTUNREACH|NETUNREACH|TIMEDOUT|PIPE))\b/.exec(err instanceof Error ? err.message : '')?.[1];
}

/**
 * The normal request of a target whose client library throws instead of answering (a full TLS handshake, the
 * SSH banner exchange, OPC UA GetEndpoints): the error as a failed check — a timeout, a refused connection
 * (with Node's code, so the baseline can tell unreachable from broken), a reset, a broken exchange. An abort
 * of `signal` and a scope refusal are rethrown: they are not the device's answer.
 */
export function failedCheck(err: unknown, signal: AbortSignal): NormalCheck {
  if (signal.aborted || isAbort(err, signal) || err instanceof OutOfScope) throw err;
  const detail = err instanceof Error ? err.message : String(err);
  const code = errorCode(err);
  if (err instanceof TargetTimeout || code === 'ETIMEDOUT') return { ok: false, kind: 'timeout', detail };
  if (err instanceof TargetUnreachable || code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
    return { ok: false, kind: 'connect-failed', detail, code: code ?? 'ECONNREFUSED' };
  }
  if (code === 'ECONNRESET' || code === 'EPIPE') return { ok: false, kind: 'reset', detail };
  return { ok: false, kind: 'invalid', detail };
}
