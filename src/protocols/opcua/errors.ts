import { OutOfScope, ProtocolViolation, TargetTimeout, TargetUnreachable, type ProbeError } from '../../sdk';

/** Where in the exchange a server answered with a Bad status. */
export type OpcuaStage = 'channel' | 'session' | 'browse' | 'read' | 'write';

/**
 * The server answered with a Bad status code (it refused something). A probe catches this one type when
 * a refusal is the observation it wants (e.g. an untrusted client certificate refused); left uncaught,
 * the runner reports it as a protocol error.
 */
export class OpcuaStatusError extends ProtocolViolation {
  constructor(readonly stage: OpcuaStage, readonly status: string, message: string) {
    super(message);
  }
}

export function isOpcuaStatusError(err: unknown, stage?: OpcuaStage): err is OpcuaStatusError {
  return err instanceof OpcuaStatusError && (stage === undefined || err.stage === stage);
}

/** "BadSecurityChecksFailed (0x80130000)" -> "BadSecurityChecksFailed". */
export function statusName(text: string): string {
  return /\b(Bad[A-Za-z]+|Good[A-Za-z]*|Uncertain[A-Za-z]*)\b/.exec(text)?.[1] ?? text;
}

interface WithStatus { statusCode?: { name?: string; toString(): string } }

/**
 * Turns what node-opcua throws into the SDK's typed errors. node-opcua wraps socket errors into plain
 * Errors whose message keeps the cause ("connect ECONNREFUSED ..."), so the message is what we read.
 */
export function toProbeError(err: unknown, stage: OpcuaStage, endpointUrl: string, signal?: AbortSignal): ProbeError {
  if (err instanceof OutOfScope || err instanceof OpcuaStatusError) return err;
  const message = err instanceof Error ? err.message.replace(/\s*\n\s*/g, ' ') : String(err);
  if (signal?.aborted) return new TargetTimeout(`${endpointUrl}: aborted at the attempt's deadline (${stage})`, { cause: err });
  if (/not a host of the profile|outside the declared scope/.test(message)) {
    return new OutOfScope(`${endpointUrl}: ${message}`, { cause: err });
  }
  const status = (err as WithStatus | null)?.statusCode;
  if (status && /^Bad/.test(statusName(status.name ?? status.toString()))) {
    const name = statusName(status.name ?? status.toString());
    if (name === 'BadTimeout' || name === 'BadRequestTimeout') return new TargetTimeout(`${endpointUrl}: ${name} (${stage})`, { cause: err });
    return new OpcuaStatusError(stage, name, `${endpointUrl}: the server answered ${name} (${stage})`);
  }
  if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EADDRNOTAVAIL|EHOSTDOWN/.test(message)) {
    return new TargetUnreachable(`${endpointUrl}: ${message}`, { cause: err });
  }
  if (/Timeout|timed? ?out|ETIMEDOUT|BadTimeout/i.test(message) && !/hadError ?true/.test(message)) {
    return new TargetTimeout(`${endpointUrl}: ${message}`, { cause: err });
  }
  const bad = /\b(Bad[A-Za-z]+)\b/.exec(message)?.[1];
  // At the channel stage only statuses a server gives when it refuses the security settings count as
  // its answer (a TCP ERR message, a fault); anything else there is a broken exchange.
  if (bad && (stage !== 'channel' || /^Bad(Security|Certificate|Nonce)/.test(bad))) {
    return new OpcuaStatusError(stage, bad, `${endpointUrl}: the server answered ${bad} (${stage})`);
  }
  if (stage === 'channel' && /disconnected by third party|Connection aborted|ECONNRESET|socket has been closed/i.test(message)) {
    // The server hung up without a status: on a secure channel, how some servers refuse a certificate.
    return new OpcuaStatusError(stage, 'ConnectionClosed', `${endpointUrl}: the server closed the connection without an answer (${message})`);
  }
  return new ProtocolViolation(`${endpointUrl}: not a working OPC UA exchange (${stage}): ${message}`, { cause: err });
}
