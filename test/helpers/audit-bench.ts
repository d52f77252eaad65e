import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadPosture, postureNtpKey, startEmulator, type Emulator, type Posture } from '../../src/emulator';
import type { LabConfig } from '../../src/profile';
import { makeLabPki, type LabPki } from '../../src/protocols/lab';
import { RunActionLog } from '../../src/runner/actions';
import { startLab, type RunningLab } from '../../src/runner/lab';
import { startOpcuaAudit, type RunningOpcuaAudit } from '../../src/runner/lab-opcua';
import { Vault } from '../../src/runner/credentials';
import type { LabServices, NtpKey, ProbeDefinition, Safety } from '../../src/sdk';
import { runProbe, type ProbeRun, type ProbeRunOptions } from './probe-harness';

/**
 * A lab bench for the audit probes: the run's lab services as the runner starts them (collector on UDP, TCP
 * and TLS with a lab PKI, NTP server), one shared action log, and optionally an emulated device that logs to
 * them. `provoke` runs real login/lockout probes (their actions go to the shared log); `audit` runs an
 * audit probe with the same log and lab.
 */
export interface AuditBench {
  readonly dir: string;
  readonly pki: LabPki;
  readonly lab: RunningLab;
  readonly actions: RunActionLog;
  readonly emulator?: Emulator;
  /** The OPC UA audit subscription on the emulator's opcua service (option `opcuaAudit`). */
  readonly opcuaAudit?: RunningOpcuaAudit;
  run<I>(probe: ProbeDefinition<I>, options?: ProbeRunOptions<I>): Promise<ProbeRun>;
  close(): Promise<void>;
}

/** The symmetric NTP key of the hardened posture (and of the example hardened profile's lab.ntp.keys). */
export function hardenedNtpKey(): NtpKey {
  return postureNtpKey(loadPosture('hardened').audit!)!;
}

export async function startAuditBench(options: {
  posture?: Posture; ntpOffsetSeconds?: number; allow?: Safety[]; settleSeconds?: number; outage?: LabConfig['outage'];
  /** The lab NTP server's keys (default: the hardened posture's, as a lab engineer would configure them). */
  ntpKeys?: NtpKey[];
  /** Subscribe to the emulator's OPC UA audit events as the runner does (lab.opcuaAudit), with this account and service options. */
  opcuaAudit?: { account: { username: string; password: string }; options?: Record<string, unknown> };
} = {}): Promise<AuditBench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-audit-bench-'));
  const pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
  const controller = new AbortController();
  const allowed = new Set<Safety>(options.allow ?? ['passive', 'active', 'intrusive']);
  const lab = await startLab({
    address: '127.0.0.1', syslog: { udp: 0, tcp: 0, tls: 0 }, tls: { ca: pki.files.caFile, cert: pki.files.collectorCert, key: pki.files.collectorKey },
    ntp: { port: 0, offsetSeconds: options.ntpOffsetSeconds ?? 0 }, settleSeconds: options.settleSeconds ?? 0.5,
    ...(options.outage ? { outage: options.outage } : {}),
  }, path.join(dir, 'run'), allowed, controller.signal, { ntpKeys: options.ntpKeys ?? [hardenedNtpKey()] });
  let s: LabServices = lab.services;
  let emulator: Emulator | undefined;
  let opcuaAudit: RunningOpcuaAudit | undefined;
  try {
    emulator = options.posture ? await startEmulator(options.posture, {
      ephemeralPorts: true,
      auditSink: { address: '127.0.0.1', udpPort: s.syslog!.ports.udp, tcpPort: s.syslog!.ports.tcp, tlsPort: s.syslog!.ports.tls, caPem: pki.ca.pem, ntpPort: s.ntp!.port },
    }) : undefined;
    if (emulator && options.opcuaAudit) {
      const port = emulator.endpoint('opcua').port;
      const service = { host: '127.0.0.1', port, protocol: 'opcua' as const, transport: 'tcp' as const, name: `opcua/${port}`, tls: false, options: options.opcuaAudit.options ?? {} };
      opcuaAudit = await startOpcuaAudit([{ host: '127.0.0.1', name: '127.0.0.1', addresses: ['127.0.0.1'], services: [service] }],
        new Vault([['audit.opcua', { ...options.opcuaAudit.account, source: 'credentials.audit.opcua' }]]), { runDir: path.join(dir, 'run'), signal: controller.signal });
      s = { ...s, opcuaAudit: opcuaAudit.services };
    }
  } catch (err) {
    await emulator?.close();
    await lab.close();
    throw err;
  }
  const actions = new RunActionLog();
  return {
    dir, pki, lab, actions, emulator, opcuaAudit,
    run: (probe, o = {}) => runProbe(probe, { allow: [...allowed], ...o, actions, lab: o.lab ?? s }),
    async close() {
      await opcuaAudit?.close();
      await emulator?.close();
      await lab.close();
      controller.abort();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
