import { ProbeError, ProtocolViolation, TargetTimeout, formatTarget, isAbort, type ServiceUnderTest } from '../../sdk';
import { BROADCAST_CA, IEC104_SECURE_PORT } from './frames';
import { Iec104Link, type Iec104Endpoint, type Iec104Tls, type LinkOptions } from './link';
import { interrogate, uOutcomeText, uRequest, type InterrogationResult, type UOutcome } from './requests';

/** JSON Schema of the inputs every iec104 probe shares. */
export const IEC104_COMMON_INPUTS = {
  requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
  /** Common address of the interrogation (default 65535, the broadcast address, as nmap iec-identify). */
  commonAddress: { type: 'integer', minimum: 1, maximum: 65535 },
  /** The IEC 62351-3 port looked for among the declared TLS services (default 19998). */
  securePort: { type: 'integer', minimum: 1, maximum: 65535 },
} as const;
export const IEC104_COMMON_DEFAULTS = { requestTimeoutMs: 2000, commonAddress: BROADCAST_CA, securePort: IEC104_SECURE_PORT };

/**
 * The declared IEC 62351-3 service of the host: a TLS service marked `options.iec62351: true`, or a TLS service
 * on the secure port. Only declared services are ever contacted.
 */
export function declaredSecureService(services: readonly ServiceUnderTest[], plain: ServiceUnderTest, securePort: number): ServiceUnderTest | undefined {
  return services.find((s) => s !== plain && s.port !== plain.port && s.transport === 'tcp' && s.tls && (s.options.iec62351 === true || s.port === securePort));
}

/** The client certificate the profile names for the secure service (options clientCertificate / clientPrivateKey). */
export function clientTlsOf(service: ServiceUnderTest, resolve: (file: string) => string): Iec104Tls | undefined {
  const { clientCertificate: cert, clientPrivateKey: key, serverName } = service.options;
  if (typeof cert !== 'string' || typeof key !== 'string') return undefined;
  return { certFile: resolve(cert), keyFile: resolve(key), ...(typeof serverName === 'string' ? { serverName } : {}) };
}

/** A connection after TESTFR and STARTDT: data transfer started (`link` open), or how STARTDT ended. */
export type DataTransfer =
  | { started: true; link: Iec104Link; testFrame: 'confirmed'; startDt: 'confirmed' }
  | { started: false; testFrame: 'confirmed'; startDt: Exclude<UOutcome, { kind: 'confirmed' }> };

/**
 * Connects, tests the link (TESTFR act, as nmap iec-identify does first) and asks for data transfer (STARTDT
 * act). A peer that does not confirm TESTFR has not shown that it speaks IEC 104: silence is a timeout, a
 * hang-up or other bytes a protocol violation. After a confirmed TESTFR, a hang-up on STARTDT is returned
 * (the caller decides what it proves); silence or foreign bytes there are errors too.
 */
export async function startDataTransfer(endpoint: Iec104Endpoint, options: LinkOptions): Promise<DataTransfer> {
  const link = await Iec104Link.open(endpoint, options);
  let keep = false;
  try {
    const test = await uRequest(link, 'testfrAct');
    if (test.kind === 'no-answer') throw new TargetTimeout(`no TESTFR con within ${options.waitMs} ms`);
    if (test.kind !== 'confirmed') throw new ProtocolViolation(`the peer does not speak IEC 60870-5-104: TESTFR act answered with ${uOutcomeText(test)}`);
    const start = await uRequest(link, 'startdtAct');
    if (start.kind === 'confirmed') {
      keep = true;
      return { started: true, link, testFrame: 'confirmed', startDt: 'confirmed' };
    }
    if (start.kind === 'no-answer') throw new TargetTimeout(`TESTFR confirmed, but no STARTDT con within ${options.waitMs} ms`);
    if (start.kind !== 'closed') throw new ProtocolViolation(`STARTDT act answered with ${uOutcomeText(start)}`);
    return { started: false, testFrame: 'confirmed', startDt: start };
  } finally {
    if (!keep) link.close();
  }
}

/** Stops data transfer politely (STOPDT act, its confirmation awaited) and closes the connection. */
export async function endDataTransfer(link: Iec104Link): Promise<string> {
  try {
    if (link.isClosed) return 'connection already closed';
    link.acknowledge();
    return uOutcomeText(await uRequest(link, 'stopdtAct'));
  } finally {
    link.close();
  }
}

/** What the IEC 62351-3 control connection (the profile's client certificate) showed. */
export type SecureControl =
  | { status: 'started'; target: string; interrogation?: InterrogationResult; stopDt: string }
  /** TLS up, but STARTDT not confirmed inside it. */
  | { status: 'refused'; target: string; startDt: string }
  /** No TLS session with the profile's certificate (handshake refused, port closed, silence). */
  | { status: 'failed'; target: string; reason: string };

/**
 * The control for a hang-up on the plain port: the same outstation, over IEC 62351-3 with the client
 * certificate the profile names, must confirm STARTDT (and, when asked, answer a general interrogation).
 */
export async function secureControl(service: ServiceUnderTest, config: Iec104Tls, options: LinkOptions, interrogation?: { commonAddress: number }): Promise<SecureControl> {
  const target = formatTarget(service.host, service.port);
  let transfer: DataTransfer;
  try {
    transfer = await startDataTransfer(service, { ...options, tls: config });
  } catch (err) {
    // A connection or TLS failure (Node's error code, or a typed probe error) is the control's answer; anything else is a bug.
    const answered = err instanceof ProbeError || typeof (err as NodeJS.ErrnoException | null)?.code === 'string';
    if (isAbort(err, options.signal) || !answered) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    options.transcript?.note(`IEC 62351-3 control failed: ${reason}`);
    return { status: 'failed', target, reason };
  }
  if (!transfer.started) return { status: 'refused', target, startDt: uOutcomeText(transfer.startDt) };
  let gi: InterrogationResult | undefined;
  let stopDt: string;
  try {
    if (interrogation) gi = await interrogate(transfer.link, interrogation.commonAddress);
  } finally {
    stopDt = await endDataTransfer(transfer.link);
  }
  return { status: 'started', target, ...(gi ? { interrogation: gi } : {}), stopDt };
}
