import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { TargetTimeout, ProtocolViolation } from '../../sdk';
import { appendMac, checkMac, type NtpKey, type NtpMacStatus } from './auth';
import { buildNtp, offsetAndDelay, parseNtp, type NtpHeader } from './packet';
import { labClockMs } from './server';

export interface NtpSample {
  readonly offsetMs: number;
  readonly delayMs: number;
  readonly server: NtpHeader;
  /** The answer's MAC checked with the request's key (`none` when the request had no key and the answer no MAC). */
  readonly mac: NtpMacStatus;
}

/**
 * One SNTP exchange (RFC 5905 client mode) with host:port; bounded by timeoutMs and the signal. With `key`
 * the request carries its MAC and the answer's MAC is checked (`mac`): whether to trust it is the caller's
 * decision.
 */
export function queryNtp(host: string, port: number, options: { timeoutMs: number; signal?: AbortSignal; key?: NtpKey }): Promise<NtpSample> {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  return new Promise<NtpSample>((resolve, reject) => {
    const t1 = labClockMs();
    const header = buildNtp({
      version: 4, mode: 'client', stratum: 0, poll: 4, precision: -20, refId: Buffer.alloc(4),
      referenceMs: 0, originMs: 0, receiveMs: 0, transmitMs: t1,
    });
    const request = options.key ? appendMac(header, options.key) : header;
    const finish = (err?: Error, sample?: NtpSample) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      socket.close();
      if (err) reject(err);
      else resolve(sample!);
    };
    const onAbort = () => finish(options.signal!.reason instanceof Error ? options.signal!.reason : new Error('aborted'));
    const timer = setTimeout(() => finish(new TargetTimeout(`no NTP answer from ${host}:${port} within ${options.timeoutMs} ms`)), options.timeoutMs);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (err) => finish(err));
    socket.on('message', (msg) => {
      const t4 = labClockMs();
      const reply = parseNtp(msg);
      if (!reply || reply.mode !== 'server') return finish(new ProtocolViolation(`${host}:${port} answered something that is no NTP server reply`));
      if (!msg.subarray(24, 32).equals(request.subarray(40, 48))) return; // not the answer to our request
      finish(undefined, { ...offsetAndDelay(t1, reply.receiveMs, reply.transmitMs, t4), server: reply, mac: checkMac(msg, options.key ? [options.key] : []).status });
    });
    socket.send(request, port, host);
  });
}
