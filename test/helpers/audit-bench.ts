import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startEmulator, type Emulator, type Posture } from '../../src/emulator';
import type { LabConfig } from '../../src/profile';
import { makeLabPki, type LabPki } from '../../src/protocols/lab';
import { RunActionLog } from '../../src/runner/actions';
import { startLab, type RunningLab } from '../../src/runner/lab';
import type { ProbeDefinition, Safety } from '../../src/sdk';
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
  run<I>(probe: ProbeDefinition<I>, options?: ProbeRunOptions<I>): Promise<ProbeRun>;
  close(): Promise<void>;
}

export async function startAuditBench(options: {
  posture?: Posture; ntpOffsetSeconds?: number; allow?: Safety[]; settleSeconds?: number; outage?: LabConfig['outage'];
} = {}): Promise<AuditBench> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-audit-bench-'));
  const pki = makeLabPki(path.join(dir, 'pki'), { address: '127.0.0.1' });
  const controller = new AbortController();
  const allowed = new Set<Safety>(options.allow ?? ['passive', 'active', 'intrusive']);
  const lab = await startLab({
    address: '127.0.0.1', syslog: { udp: 0, tcp: 0, tls: 0 }, tls: { ca: pki.files.caFile, cert: pki.files.collectorCert, key: pki.files.collectorKey },
    ntp: { port: 0, offsetSeconds: options.ntpOffsetSeconds ?? 0 }, settleSeconds: options.settleSeconds ?? 0.5,
    ...(options.outage ? { outage: options.outage } : {}),
  }, path.join(dir, 'run'), allowed, controller.signal);
  const s = lab.services;
  let emulator: Emulator | undefined;
  try {
    emulator = options.posture ? await startEmulator(options.posture, {
      ephemeralPorts: true,
      auditSink: { address: '127.0.0.1', udpPort: s.syslog!.ports.udp, tcpPort: s.syslog!.ports.tcp, tlsPort: s.syslog!.ports.tls, caPem: pki.ca.pem, ntpPort: s.ntp!.port },
    }) : undefined;
  } catch (err) {
    await lab.close();
    throw err;
  }
  const actions = new RunActionLog();
  return {
    dir, pki, lab, actions, emulator,
    run: (probe, o = {}) => runProbe(probe, { allow: [...allowed], ...o, actions, lab: s }),
    async close() {
      await emulator?.close();
      await lab.close();
      controller.abort();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
