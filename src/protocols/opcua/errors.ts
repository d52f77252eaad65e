import { MissingInput, OutOfScope, ProtocolViolation, TargetTimeout, TargetUnreachable, type ProbeError } from '../../sdk';

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

/**
 * The server ended the connection during the OpenSecureChannel without a status (TCP FIN or RST, no ERR
 * message, no fault). Not a refusal by itself: a server that validated and refused a certificate can say
 * so with a Bad status, and a hang-up is also what a crashing, overloaded or deceptive device does. A probe
 * that wants to read it as a refusal needs corroboration (see opcua.client-certificate); left uncaught, the
 * runner reports it as a protocol error.
 */
export class OpcuaChannelClosed extends ProtocolViolation {
  readonly stage = 'channel' as const;
}

export function isChannelClosed(err: unknown): err is OpcuaChannelClosed {
  return err instanceof OpcuaChannelClosed;
}

/**
 * For probes that need a channel the device accepts (logins): a refusal at the OpenSecureChannel, or a
 * hang-up there, asks the profile for a client certificate the device trusts. A hang-up is named as such:
 * it may be a refusal of the certificate, or a broken device.
 */
export function untrustedClientCertificate(err: unknown, where: string, source: string): MissingInput | undefined {
  const advice = 'put a certificate the device trusts in the profile (service options clientCertificate / clientPrivateKey)';
  if (isOpcuaStatusError(err, 'channel')) return new MissingInput(`${where}: the server refused the client certificate (${err.status}, source ${source}); ${advice}`);
  if (isChannelClosed(err)) {
    return new MissingInput(`${where}: the server closed the connection at the OpenSecureChannel without a status (client certificate source ${source}); `
      + `if the device hangs up on certificates it does not trust, ${advice}`);
  }
  return undefined;
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
  if (err instanceof OutOfScope || err instanceof OpcuaStatusError || err instanceof OpcuaChannelClosed) return err;
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
  if (stage === 'channel' && /disconnected by third party|Connection aborted|ECONNRESET|socket has been closed|Connection Break|may have been rejected by server/i.test(message)) {
    return new OpcuaChannelClosed(`${endpointUrl}: the server closed the connection at the OpenSecureChannel without a status (${message})`, { cause: err });
  }
  return new ProtocolViolation(`${endpointUrl}: not a working OPC UA exchange (${stage}): ${message}`, { cause: err });
}
