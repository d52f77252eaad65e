import type { Transcript } from '../../sdk';
import { withDatagramChannel, type DatagramChannel } from '../datagram';
import {
  ABORT_REASON_NAMES, BVLC, BVLC_NAMES, CONFIRMED_SERVICE_NAMES, REJECT_REASON_NAMES, UNCONFIRMED_SERVICE, bvlcResultName, encodeBvlc,
  encodeConfirmedRequest, encodeUnconfirmedRequest, errorName, parseApdu, parseBvlc, parseNpdu, unicastDatagram, type Apdu,
} from './frames';
import { parseIAm, whoIsBody, type IAm } from './services';

export interface BacnetEndpoint {
  host: string;
  port: number;
}

/**
 * What came back for one request. Only the probe decides which of these are errors: `error`, `reject` and
 * `abort` are the device's own answers; `no-answer` is silence after the retries; `not-bacnet` bytes that are
 * not BACnet/IP at all; `invalid` a BACnet answer whose content does not parse.
 */
export type BacnetAnswer<T> =
  | { status: 'ack'; value: T }
  | { status: 'error'; errorClass: number; errorCode: number; name: string }
  | { status: 'reject'; reason: number; name: string }
  | { status: 'abort'; reason: number; name: string }
  | { status: 'nak'; resultCode: number; name: string }
  | { status: 'no-answer' }
  | { status: 'not-bacnet'; reason: string }
  | { status: 'invalid'; reason: string };

export interface BacnetClientOptions {
  signal: AbortSignal;
  /** Wait per try (default 1000 ms). */
  timeoutMs?: number;
  /** Tries after the first on silence (default 1); a confirmed request is resent with the same invoke id. */
  retries?: number;
  transcript?: Transcript;
}

export function describeAnswer(a: BacnetAnswer<unknown>): string {
  switch (a.status) {
    case 'ack': return 'acknowledged';
    case 'error': return `Error ${a.name}`;
    case 'reject': return `Reject (${a.name})`;
    case 'abort': return `Abort (${a.name})`;
    case 'nak': return `BVLC-Result ${a.name}`;
    case 'no-answer': return 'no answer';
    case 'not-bacnet': return `not BACnet/IP: ${a.reason}`;
    case 'invalid': return `malformed answer: ${a.reason}`;
  }
}

/** The APDU inside a B/IP datagram that carries an NPDU (unicast, broadcast or forwarded). */
export function apduOf(bytes: Buffer): Apdu | { error: string } {
  const bvlc = parseBvlc(bytes);
  if ('error' in bvlc) return bvlc;
  let npdu = bvlc.payload;
  if (bvlc.fn === BVLC.forwardedNpdu) npdu = npdu.subarray(6);
  else if (bvlc.fn !== BVLC.originalUnicast && bvlc.fn !== BVLC.originalBroadcast) return { error: `${BVLC_NAMES[bvlc.fn] ?? `BVLC function 0x${bvlc.fn.toString(16)}`} carries no NPDU` };
  const parsed = parseNpdu(npdu);
  if ('error' in parsed) return parsed;
  if (parsed.networkMessage) return { error: 'a network layer message' };
  return parseApdu(parsed.apdu);
}

/** True for a datagram that is BACnet/IP but not this request's answer (it is then ignored, not judged). */
function otherBacnet(bytes: Buffer, isAnswer: (bvlcFn: number, apdu: Apdu | undefined) => boolean): boolean {
  const bvlc = parseBvlc(bytes);
  if ('error' in bvlc) return false;
  const apdu = apduOf(bytes);
  return !isAnswer(bvlc.fn, 'error' in apdu ? undefined : apdu);
}

/**
 * BACnet/IP requests on one UDP socket connected to the declared host and port: unicast only, never a
 * broadcast (Who-Is too goes to the device itself). Confirmed requests are matched to their answer by invoke
 * id; other BACnet datagrams that arrive meanwhile are ignored and kept in the transcript.
 */
export class BacnetClient {
  private invokeId: number;

  constructor(private readonly channel: DatagramChannel, private readonly options: BacnetClientOptions) {
    this.invokeId = Math.floor(Math.random() * 256);
  }

  private exchange(datagram: Buffer, what: string, isAnswer: (bvlcFn: number, apdu: Apdu | undefined) => boolean, retries = this.options.retries) {
    return this.channel.exchange(datagram, {
      what, timeoutMs: this.options.timeoutMs, retries, transcript: this.options.transcript,
      accept: (bytes) => !otherBacnet(bytes, isAnswer),
    });
  }

  /** One confirmed request; `decode` reads a ComplexACK body (undefined: a SimpleACK is the expected answer). */
  async confirmed<T>(service: number, body: Buffer, note: string, decode?: (ackBody: Buffer) => T | string): Promise<BacnetAnswer<T | null>> {
    const invokeId = this.invokeId = (this.invokeId + 1) & 0xff;
    const datagram = unicastDatagram(encodeConfirmedRequest(invokeId, service, body), true);
    const answers = (apdu: Apdu | undefined) => apdu !== undefined && apdu.type !== 'confirmed' && apdu.type !== 'unconfirmed' && apdu.invokeId === invokeId;
    // A BVLC-Result (a NAK from the B/IP layer) answers too; other BACnet datagrams are not this request's answer.
    const reply = await this.exchange(datagram, `${note} (${CONFIRMED_SERVICE_NAMES[service] ?? `service ${service}`}, invoke id ${invokeId})`, (fn, apdu) => fn === BVLC.result || answers(apdu));
    if (reply.kind === 'no-answer') return { status: 'no-answer' };
    return this.judgeReply(reply.bytes, service, decode);
  }

  private judgeReply<T>(bytes: Buffer, service: number, decode?: (ackBody: Buffer) => T | string): BacnetAnswer<T | null> {
    const bvlc = parseBvlc(bytes);
    if ('error' in bvlc) return this.noted({ status: 'not-bacnet', reason: bvlc.error });
    if (bvlc.fn === BVLC.result) return this.noted(resultAnswer(bvlc.payload));
    const apdu = apduOf(bytes);
    if ('error' in apdu) return this.noted({ status: 'invalid', reason: apdu.error });
    switch (apdu.type) {
      case 'simple-ack': return apdu.service === service && !decode ? { status: 'ack', value: null } : this.noted({ status: 'invalid', reason: `SimpleACK for service ${apdu.service}` });
      case 'complex-ack': {
        if (apdu.service !== service || !decode) return this.noted({ status: 'invalid', reason: `ComplexACK for service ${apdu.service}` });
        if (apdu.segmented) return this.noted({ status: 'invalid', reason: 'a segmented ComplexACK (segmentation was not offered)' });
        const value = decode(apdu.body);
        return typeof value === 'string' ? this.noted({ status: 'invalid', reason: value }) : { status: 'ack', value };
      }
      case 'error': return this.noted({ status: 'error', errorClass: apdu.errorClass, errorCode: apdu.errorCode, name: errorName(apdu.errorClass, apdu.errorCode) });
      case 'reject': return this.noted({ status: 'reject', reason: apdu.reason, name: REJECT_REASON_NAMES[apdu.reason] ?? `reason ${apdu.reason}` });
      case 'abort': return this.noted({ status: 'abort', reason: apdu.reason, name: ABORT_REASON_NAMES[apdu.reason] ?? `reason ${apdu.reason}` });
      default: return this.noted({ status: 'invalid', reason: `${apdu.type} PDU in answer to a confirmed request` });
    }
  }

  private noted<T>(a: BacnetAnswer<T>): BacnetAnswer<T> {
    this.options.transcript?.note(`answer: ${describeAnswer(a)}`);
    return a;
  }

  /** Who-Is sent unicast to the device; its I-Am, when the device answers the sender rather than broadcasting it. */
  async whoIs(range?: { low: number; high: number }): Promise<BacnetAnswer<IAm>> {
    const datagram = unicastDatagram(encodeUnconfirmedRequest(UNCONFIRMED_SERVICE.whoIs, whoIsBody(range)), false);
    const isIAm = (apdu: Apdu | undefined) => apdu?.type === 'unconfirmed' && apdu.service === UNCONFIRMED_SERVICE.iAm;
    const reply = await this.exchange(datagram, `Who-Is${range ? ` ${range.low}-${range.high}` : ''} (unicast)`, (_fn, apdu) => isIAm(apdu));
    if (reply.kind === 'no-answer') return { status: 'no-answer' };
    const apdu = apduOf(reply.bytes);
    if ('error' in apdu) return this.noted('error' in parseBvlc(reply.bytes) ? { status: 'not-bacnet', reason: apdu.error } : { status: 'invalid', reason: apdu.error });
    const iam = apdu.type === 'unconfirmed' ? parseIAm(apdu.body) : 'not an I-Am';
    return typeof iam === 'string' ? this.noted({ status: 'invalid', reason: iam }) : { status: 'ack', value: iam };
  }

  /**
   * One BVLL request (Annex J) to the B/IP device itself: `expect` is the function of its positive answer
   * (Read-BDT-Ack, Read-FDT-Ack) or BVLC-Result for the others; a BVLC-Result with a NAK code is `nak`.
   */
  async bvll<T>(fn: number, payload: Buffer, expect: number, decode: (payload: Buffer) => T | string): Promise<BacnetAnswer<T>> {
    const reply = await this.exchange(encodeBvlc(fn, payload), BVLC_NAMES[fn] ?? `BVLC function 0x${fn.toString(16)}`, (bvlcFn) => bvlcFn === expect || bvlcFn === BVLC.result);
    if (reply.kind === 'no-answer') return { status: 'no-answer' };
    const bvlc = parseBvlc(reply.bytes);
    if ('error' in bvlc) return this.noted({ status: 'not-bacnet', reason: bvlc.error });
    if (bvlc.fn === BVLC.result) {
      const result = resultAnswer(bvlc.payload);
      if (result.status !== 'ack') return this.noted(result);
      if (expect !== BVLC.result) return this.noted({ status: 'invalid', reason: `BVLC-Result successful completion instead of ${BVLC_NAMES[expect]}` });
    }
    const value = decode(bvlc.payload);
    return typeof value === 'string' ? this.noted({ status: 'invalid', reason: value }) : { status: 'ack', value };
  }
}

/** A BVLC-Result: successful completion is an ack (of nothing), anything else the device's NAK. */
function resultAnswer(payload: Buffer): BacnetAnswer<null> {
  if (payload.length !== 2) return { status: 'invalid', reason: `BVLC-Result of ${payload.length} bytes (2 expected)` };
  const code = payload.readUInt16BE(0);
  return code === 0 ? { status: 'ack', value: null } : { status: 'nak', resultCode: code, name: bvlcResultName(code) };
}

/** Opens the connected UDP socket, runs `fn` with a client, and always closes the socket. */
export function withBacnet<T>(endpoint: BacnetEndpoint, options: BacnetClientOptions, fn: (client: BacnetClient) => Promise<T>): Promise<T> {
  return withDatagramChannel(endpoint, options.signal, (channel) => fn(new BacnetClient(channel, options)));
}
