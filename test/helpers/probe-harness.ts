import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  FRS, type BoundaryDecl, type VlanDecl, type ComponentInfo, type ComponentType, type Credential, type DevicePolicy, type LabServices,
  resolveLoadLimits, type EssentialFunctionConfig, type LoadLimitsRequest,
  type ProbeDefinition, type RunLedger, type Safety, type ServiceProtocol, type ServiceUnderTest, type SlVector,
} from '../../src/sdk';
import { RunStore } from '../../src/evidence/store';
import { executeAttempt, type Attempt } from '../../src/runner/attempt';
import type { RunActionLog } from '../../src/runner/actions';
import { Vault, registerSecrets } from '../../src/runner/credentials';
import { enterScope } from '../../src/protocols/scope';
import { HostMonitor, watchesFor } from '../../src/runner/monitor';
import { FileCleanupJournal } from '../../src/runner/cleanup';
import type { HostMonitorSummary } from '../../src/report/model';

export interface ProbeRunOptions<I> {
  host?: string;
  /** The declared service; omit for host-scope probes. */
  service?: { port: number; protocol: ServiceProtocol; transport?: 'tcp' | 'udp'; tls?: boolean; unitId?: number; name?: string; options?: Record<string, unknown> };
  /** Other services of the host (ports.tcp compares against them). */
  services?: ProbeRunOptions<I>['service'][];
  inputs?: Partial<I>;
  credentials?: Record<string, Omit<Credential, 'source'>>;
  policy?: DevicePolicy;
  /** The profile's essentialFunction block. */
  essentialFunction?: Record<string, unknown>;
  /** Default: passive, active and the probe's own class. */
  allow?: Safety[];
  sl?: number;
  types?: ComponentType[];
  timeoutMs?: number;
  baselineFiles?: Record<string, string>;
  /** Share counters between several runProbe calls (as attempts of one run do). */
  ledger?: RunLedger;
  /** Share the action log between several runProbe calls (as attempts of one run do). */
  actions?: RunActionLog;
  /** The run's lab services (tests start them with startLab from src/runner/lab.ts). */
  lab?: LabServices;
  /** Cancels the run (Ctrl-C) when it aborts. */
  runSignal?: AbortSignal;
  /** Runs the essential-function monitor around the attempt, as the runner does (profile essentialFunction, defaults applied). */
  monitor?: EssentialFunctionConfig;
  /** The profile's `robustness` block (load caps). */
  robustness?: LoadLimitsRequest;
  /** The profile's state folder (cleanup journal) shared between runs; default: one in the run folder. */
  stateDir?: string;
  /** The profile's zones and conduits (network components). */
  boundary?: BoundaryDecl;
  /** The profile's VLANs (switches). */
  vlans?: VlanDecl;
}

export interface ProbeRun {
  attempt: Attempt;
  /** The monitor's summary (report.json targets[].monitor), when `monitor` was given. */
  monitor?: HostMonitorSummary;
  /** The temporary run folder (evidence paths in the attempt are relative to it). */
  dir: string;
  read(rel: string): string;
}

const UDP = new Set<ServiceProtocol>(['snmp', 'tftp', 'udp', 'bacnet']);

function toService(host: string, s: NonNullable<ProbeRunOptions<unknown>['service']>): ServiceUnderTest {
  return {
    host, port: s.port, protocol: s.protocol, transport: s.transport ?? (UDP.has(s.protocol) ? 'udp' : 'tcp'),
    name: s.name ?? `${s.protocol}/${s.port}`, tls: s.tls ?? (s.protocol === 'https' || s.protocol === 'modbus-tls' || s.protocol === 'tls'),
    unitId: s.unitId, options: s.options ?? {},
  };
}

/**
 * Runs one probe through the real attempt executor (context, deadline, error classification, scope
 * guard) against a device on loopback, with evidence in a temporary folder.
 */
export async function runProbe<I>(probe: ProbeDefinition<I>, options: ProbeRunOptions<I> = {}): Promise<ProbeRun> {
  const host = options.host ?? '127.0.0.1';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-probe-test-'));
  const store = RunStore.create(dir);
  const services = (options.services ?? (options.service ? [options.service] : [])).flatMap((s) => (s ? [toService(host, s)] : []));
  const service = options.service ? toService(host, options.service) : undefined;
  const sl = options.sl ?? 2;
  const slTarget = Object.fromEntries(FRS.map((fr) => [fr, sl])) as SlVector;
  const component: ComponentInfo = { name: 'test device', types: options.types ?? ['embedded'], slTarget };
  const vault = new Vault(Object.entries(options.credentials ?? {}).map(([k, c]) => [k, { ...c, source: `credentials.${k}` }] as const));
  registerSecrets(store, Object.values(options.credentials ?? {}).map((c) => ({ ...c, source: 'test' })));
  // By default the probe's own class is allowed too, so intrusive probes run in their tests.
  const allowed = new Set<Safety>(options.allow ?? ['passive', 'active', probe.safety]);
  const scope = enterScope([host]);
  const runController = new AbortController();
  const hostUnderTest = { host, name: host, addresses: [host], services: service && !services.some((s) => s.port === service.port) ? [service, ...services] : services };
  let monitor: HostMonitor | undefined;
  try {
    if (options.monitor) {
      monitor = new HostMonitor(host, options.monitor, watchesFor(hostUnderTest, options.monitor, { credentials: vault, resolvePath: (f) => f }), { runDir: dir, redact: (t) => store.redact(t) });
      await monitor.start();
    }
    const view = monitor?.forAttempt(`${probe.id}@test`);
    const defaults = (probe.inputs?.defaults ?? {}) as I;
    const attempt = await executeAttempt(
      {
        probe: probe as ProbeDefinition<unknown>,
        host: hostUnderTest,
        service,
        inputs: { ...defaults, ...(options.inputs ?? {}) },
        timeoutMs: options.timeoutMs ?? probe.timeoutMs,
      },
      {
        store, component, policy: options.policy ?? {}, essentialFunction: options.essentialFunction, credentials: vault, allowed,
        runSignal: options.runSignal ? AbortSignal.any([runController.signal, options.runSignal]) : runController.signal, isInScope: (h) => scope.isAllowed(h), baselineFiles: options.baselineFiles, ledger: options.ledger,
        actions: options.actions, lab: options.lab, ...(view ? { monitor: view.handle } : {}),
        ...(options.robustness ? { load: resolveLoadLimits(options.robustness) } : {}),
        ...(options.stateDir ? { cleanup: new FileCleanupJournal(options.stateDir, path.basename(dir)) } : {}),
        ...(options.boundary ? { boundary: options.boundary } : {}),
        ...(options.vlans ? { vlans: options.vlans } : {}),
      },
    );
    view?.release();
    await monitor?.stop();
    return { attempt, dir, read: (rel) => fs.readFileSync(path.join(dir, rel), 'utf8'), ...(monitor ? { monitor: monitor.summary() } : {}) };
  } finally {
    await monitor?.stop();
    scope.release();
    store.close();
  }
}
