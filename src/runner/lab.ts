import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { LabConfig } from '../profile';
import type { LabOutageSettings, LabServices, NtpKey, Safety } from '../sdk';
import { readInputText } from '../sdk/input-file';
import { makeLabPki } from '../protocols/lab';
import { startNtpServer, type NtpServer } from '../protocols/ntp';
import { startSyslogCollector, type SyslogCollector } from '../protocols/syslog';

/** Lab services of one run: what probes see as `ctx.lab`, and how the runner stops them. */
export interface RunningLab {
  readonly services: LabServices;
  /** What was started, for the journal (ports, served offset, CA file in the folder). */
  readonly summary: Record<string, unknown>;
  close(): Promise<void>;
}

const DEFAULT_SETTLE_S = 5;
/** lab.outage defaults (docs/audit.md): long enough for a device to notice and queue, short enough for a bench run. */
export const OUTAGE_DEFAULTS = { seconds: 20, reconnectSeconds: 30, provoke: true } as const;

/** The profile's lab.outage with its defaults (the alarm pattern only when given). */
export function outageSettings(config: LabConfig): LabOutageSettings {
  const o = config.outage ?? {};
  return {
    durationMs: (o.seconds ?? OUTAGE_DEFAULTS.seconds) * 1000,
    reconnectMs: (o.reconnectSeconds ?? OUTAGE_DEFAULTS.reconnectSeconds) * 1000,
    provoke: o.provoke ?? OUTAGE_DEFAULTS.provoke,
    ...(o.alarm !== undefined ? { alarm: new RegExp(o.alarm, 'i') } : {}),
    ...(o.transports ? { transports: o.transports } : {}),
  };
}

/** The collector's certificate: the profile's files, or a lab PKI made for this run (only the CA certificate is kept in the folder). */
function collectorTls(config: LabConfig, dir: string): { certPem: string; keyPem: string; caPem: string; generated: boolean } {
  if (config.tls) {
    return { certPem: readInputText(config.tls.cert), keyPem: readInputText(config.tls.key), caPem: readInputText(config.tls.ca), generated: false };
  }
  // Keys stay out of the evidence folder (no secret reaches it); they live only while the run does.
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-lab-pki-'));
  try {
    const pki = makeLabPki(tmp, { address: config.address });
    fs.writeFileSync(path.join(dir, 'lab-ca.crt'), pki.ca.pem);
    return { certPem: pki.collector.pem, keyPem: pki.collector.keyPem, caPem: pki.ca.pem, generated: true };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * Starts the profile's lab services with their raw journals under `<runDir>/lab/`. The NTP offset is served
 * only when intrusive probes are allowed (shifting a device's clock changes its state); otherwise 0. The NTP
 * keys (lab.ntp.keys, resolved like credentials) are held by the server only; the journal names their ids. A
 * wildcard address or a port in use throws LabSetupError, with whatever had started closed again.
 * `journal` receives the run-journal lines of lab events (a collector outage's start and end).
 */
export async function startLab(
  config: LabConfig, runDir: string, allowed: ReadonlySet<Safety>, signal: AbortSignal, secrets: { ntpKeys?: readonly NtpKey[] } = {},
  journal: (entry: Record<string, unknown>) => void = () => undefined,
): Promise<RunningLab> {
  const dir = path.join(runDir, 'lab');
  fs.mkdirSync(dir, { recursive: true });
  let syslog: SyslogCollector | undefined;
  let ntp: NtpServer | undefined;
  const close = async () => {
    await syslog?.close();
    await ntp?.close();
  };
  const summary: Record<string, unknown> = { address: config.address };
  try {
    if (config.syslog) {
      const s = config.syslog;
      const tls = s.tls !== undefined ? collectorTls(config, dir) : undefined;
      syslog = await startSyslogCollector({
        address: config.address, udpPort: s.udp, tcpPort: s.tcp, journalFile: path.join(dir, 'syslog.ndjson'), signal,
        ...(tls ? { tls: { port: s.tls!, certPem: tls.certPem, keyPem: tls.keyPem, caPem: tls.caPem, requireClientCert: s.mutualTls ?? false } } : {}),
      });
      summary.syslog = { ports: syslog.ports, mutualTls: s.mutualTls ?? false, ...(tls?.generated ? { generatedCa: 'lab/lab-ca.crt' } : {}) };
    }
    if (config.ntp) {
      const offsetMs = allowed.has('intrusive') ? (config.ntp.offsetSeconds ?? 0) * 1000 : 0;
      ntp = await startNtpServer({ address: config.address, port: config.ntp.port, offsetMs, keys: secrets.ntpKeys, journalFile: path.join(dir, 'ntp.ndjson'), signal });
      summary.ntp = { port: ntp.port, offsetMs, keys: (secrets.ntpKeys ?? []).map((k) => ({ id: k.id, type: k.type })), ...(offsetMs === 0 && config.ntp.offsetSeconds ? { offsetNotApplied: 'intrusive probes are not allowed' } : {}) };
    }
  } catch (err) {
    await close();
    throw err;
  }
  const collector = syslog;
  const server = ntp;
  const services: LabServices = {
    address: config.address, settleMs: (config.settleSeconds ?? DEFAULT_SETTLE_S) * 1000, outage: outageSettings(config),
    ...(collector ? {
      syslog: {
        ports: collector.ports, journal: 'lab/syslog.ndjson',
        get records() { return collector.records; },
        waitFor: (match, timeoutMs, s) => collector.waitFor(match, timeoutMs, s),
        suspend: async (options) => {
          const outage = await collector.suspend(options);
          journal({ type: 'lab-outage-start', at: new Date(outage.startedAt).toISOString(), transports: outage.transports, connectionsDestroyed: outage.connectionsDestroyed, reason: outage.reason });
          return outage;
        },
        resume: async () => {
          const outage = await collector.resume();
          if (outage) journal({ type: 'lab-outage-end', at: new Date(outage.endedAt!).toISOString(), startedAt: new Date(outage.startedAt).toISOString(), transports: outage.transports, durationMs: outage.endedAt! - outage.startedAt });
          return outage;
        },
      },
    } : {}),
    ...(server ? {
      ntp: {
        port: server.port, journal: 'lab/ntp.ndjson', keyIds: server.keyIds,
        get offsetMs() { return server.offsetMs; }, get requests() { return server.requests; }, get mode() { return server.mode; },
        setMode: (mode, why) => server.setMode(mode, why),
      },
    } : {}),
  };
  return { services, summary, close };
}
