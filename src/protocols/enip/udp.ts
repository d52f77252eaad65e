import type { Transcript } from '../../sdk';
import { datagramExchange } from '../datagram';
import type { EnipEndpoint, EnipReply } from './connection';
import { COMMAND_NAMES, encodeEncap, parseEncap } from './frames';

export interface UdpRequestOptions {
  signal: AbortSignal;
  /** Wait per try (default 1000 ms). */
  timeoutMs?: number;
  /** Tries after the first (default 1). */
  retries?: number;
  transcript?: Transcript;
}

/**
 * One list command (ListIdentity, ListServices) as a unicast datagram to the declared host and port, never
 * a broadcast. ICMP port-unreachable is TargetUnreachable; a datagram that is not the command's reply is
 * `invalid`, silence after the retries `no-answer`.
 */
export async function udpListRequest(endpoint: EnipEndpoint, command: number, options: UdpRequestOptions): Promise<EnipReply> {
  const name = `${COMMAND_NAMES[command] ?? `command 0x${command.toString(16)}`} over UDP`;
  const request = encodeEncap({ command, context: Buffer.from('iacs-udp', 'latin1') });
  const answer = await datagramExchange(endpoint, request, { ...options, what: name });
  if (answer.kind === 'no-answer') return { kind: 'no-answer', bytes: Buffer.alloc(0), elapsedMs: answer.elapsedMs };
  const parsed = parseEncap(answer.bytes, [command]);
  if (parsed.kind === 'frame') return { kind: 'frame', header: parsed.header, data: parsed.data, bytes: answer.bytes, elapsedMs: answer.elapsedMs };
  const reason = parsed.kind === 'invalid' ? parsed.reason : `a ${answer.bytes.length}-byte datagram, shorter than an encapsulation header or than its length field says`;
  options.transcript?.note(`not an EtherNet/IP reply: ${reason}`);
  return { kind: 'invalid', reason, bytes: answer.bytes, elapsedMs: answer.elapsedMs };
}
