/**
 * Readings of a device's clock from outside (CR 2.11 RE(2)): what the device states as the time, minus lab
 * time. Sources, best first: the `Date` header of a declared http/https service (RFC 9110 §6.6.1, whole
 * seconds), and the timestamps of syslog records the lab collector receives from the device (only while it
 * logs something).
 */
import type { HostUnderTest, LabSyslog, ServiceUnderTest } from '../../sdk';
import { httpEndpoint, httpRequest } from '../http/request';

export interface ClockReading {
  /** Lab time at the reading (epoch ms). */
  readonly at: number;
  /** Device clock − lab clock (ms). */
  readonly offsetMs: number;
  readonly source: string;
}

export interface ClockObservable {
  /** e.g. `https 127.0.0.1:8443 Date header` */
  readonly name: string;
  /** Zero or more new readings; a failed request is no reading (the device may be busy stepping its clock). */
  read(signal: AbortSignal): Promise<ClockReading[]>;
}

const HTTP_TIMEOUT_MS = 3000;

/** The Date header of one HTTP(S) service: its whole second is taken at its middle (±0.5 s + round trip). */
export function httpDateObservable(service: ServiceUnderTest): ClockObservable {
  const name = `${service.protocol} ${service.host}:${service.port} Date header`;
  return {
    name,
    async read(signal) {
      const sent = Date.now();
      try {
        const res = await httpRequest(httpEndpoint(service), { method: 'HEAD', path: '/', signal, timeoutMs: HTTP_TIMEOUT_MS, maxBodyBytes: 0 });
        const date = Date.parse(String(res.headers.date ?? ''));
        if (Number.isNaN(date)) return [];
        const mid = (sent + Date.now()) / 2;
        return [{ at: mid, offsetMs: date + 500 - mid, source: name }];
      } catch (err) {
        if (signal.aborted) throw err;
        return [];
      }
    },
  };
}

/** Timestamps (with a zone) of records the collector gets from the device's addresses after the observable was made. */
export function syslogObservable(syslog: LabSyslog, addresses: ReadonlySet<string>): ClockObservable {
  let seen = syslog.records.length;
  const name = 'syslog record timestamps';
  return {
    name,
    read() {
      const fresh = syslog.records.slice(seen);
      seen = syslog.records.length;
      return Promise.resolve(fresh.flatMap((r) => {
        const t = r.message.timestamp;
        if (!addresses.has(r.peer) || !t?.hasZone || t.epochMs === undefined) return [];
        return [{ at: r.receivedAt, offsetMs: t.epochMs - r.receivedAt, source: name }];
      }));
    },
  };
}

/** The observables of a host, best first: every declared http/https service, then the lab collector. */
export function clockObservables(host: HostUnderTest, syslog: LabSyslog | undefined): ClockObservable[] {
  const web = host.services.filter((s) => s.transport === 'tcp' && (s.protocol === 'http' || s.protocol === 'https')).map(httpDateObservable);
  const addresses = new Set([host.host, ...host.addresses]);
  return [...web, ...(syslog ? [syslogObservable(syslog, addresses)] : [])];
}
