import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packagePath } from '../paths';
import { AccountStore, type LockoutConfig } from './accounts';
import { AUDIT_CATEGORIES, NO_AUDIT_LOG, postureNtpKey, startAuditLog, type AuditPosture, type AuditSink, type DeviceAuditLog } from './audit';
import { AuditRecordStore } from './audit-store';
import { ConnectionMeter, type ConnectionStats } from './connections';
import { bacnetService } from './services/bacnet';
import { debugService } from './services/debug';
import { dnp3Service } from './services/dnp3';
import { enipService } from './services/enip';
import { ftpService } from './services/ftp';
import { httpsService } from './services/https';
import { iec104Service } from './services/iec104';
import { modbusService } from './services/modbus';
import { modbusTlsService } from './services/modbus-tls';
import { mqttService } from './services/mqtt';
import { opcuaService } from './services/opcua';
import { s7Service } from './services/s7';
import { snmpService } from './services/snmp';
import { sshService } from './services/ssh';
import { telnetService } from './services/telnet';
import { tftpService } from './services/tftp';
import type {
  DeviceContext, DeviceIdentity, Posture, RunningService, ServiceEndpoint, ServiceModule, ServicePosture,
} from './types';
import { PostureError } from './errors';
import { formatIssues, issuesAs, loadInputYaml, locateIn, type InputIssue } from '../sdk/input-file';

export type { Posture, ServiceEndpoint } from './types';
export type { ConnectionStats } from './connections';
export type { AuditCategory, AuditPosture, AuditSink } from './audit';
export { postureNtpKey } from './audit';

/** Every service the emulator knows, in start order. */
export const SERVICE_MODULES: readonly ServiceModule[] = [
  telnetService as ServiceModule,
  opcuaService as ServiceModule,
  debugService as ServiceModule,
  modbusService as ServiceModule,
  sshService as ServiceModule,
  httpsService as ServiceModule,
  modbusTlsService as ServiceModule,
  snmpService as ServiceModule,
  ftpService as ServiceModule,
  tftpService as ServiceModule,
  s7Service as ServiceModule,
  enipService as ServiceModule,
  iec104Service as ServiceModule,
  bacnetService as ServiceModule,
  dnp3Service as ServiceModule,
  mqttService as ServiceModule,
];

export const BUILTIN_POSTURES = ['weak', 'hardened'] as const;

export { PostureError } from './errors';

const DEFAULT_IDENTITY: DeviceIdentity = {
  vendor: 'Example Automation', model: 'EPLC-1', productCode: 'EPLC1', firmware: '1.0.0', serial: 'SN-0001',
};

/** Loads a posture by built-in name ("weak", "hardened") or from a YAML file. */
export function loadPosture(nameOrFile: string): Posture {
  const file = (BUILTIN_POSTURES as readonly string[]).includes(nameOrFile)
    ? packagePath('profiles', 'postures', `${nameOrFile}.yaml`)
    : path.resolve(nameOrFile);
  if (!fs.existsSync(file)) throw new PostureError(`posture ${nameOrFile}: no such built-in posture or file`);
  const shownAs = path.relative(process.cwd(), file) || file;
  const invalid = (issues: readonly InputIssue[]) => new PostureError(formatIssues(issues), 'invalid posture (nothing was started)');
  const parsed = issuesAs(invalid, () => loadInputYaml(file, shownAs));
  try {
    return checkPosture(parsed.value, shownAs);
  } catch (err) {
    if (!(err instanceof PostureError)) throw err;
    // checkPosture says "<origin>: <field>: <message>": locate the field in the file.
    const rest = err.message.slice(shownAs.length + 2);
    const field = /^([\w.-]+): /.exec(rest)?.[1];
    const where = field ? field.split('.') : [];
    throw invalid([{ file: shownAs, ...locateIn(parsed.doc, parsed.lines, where), field: field ?? '', message: field ? rest.slice(field.length + 2) : rest }]);
  }
}

export function checkPosture(doc: unknown, origin = 'posture'): Posture {
  if (doc === null || typeof doc !== 'object') throw new PostureError(`${origin}: not a YAML mapping`);
  const p = doc as Partial<Posture>;
  if (typeof p.name !== 'string') throw new PostureError(`${origin}: "name" is required`);
  if (p.services === null || typeof p.services !== 'object') throw new PostureError(`${origin}: "services" is required`);
  const known = new Set(SERVICE_MODULES.map((m) => m.key));
  for (const key of Object.keys(p.services)) {
    if (!known.has(key)) throw new PostureError(`${origin}: services.${key}: unknown service (known: ${[...known].join(', ')})`);
    const section = (p.services as Record<string, unknown>)[key];
    if (section !== null && (typeof section !== 'object' || Array.isArray(section))) {
      throw new PostureError(`${origin}: services.${key}: a service section is a mapping (or empty, to leave the service out)`);
    }
  }
  if (p.audit !== undefined) checkAuditPosture(p.audit, origin);
  for (const account of p.accounts ?? []) {
    if (typeof account.username !== 'string' || typeof account.password !== 'string') {
      throw new PostureError(`${origin}: accounts: each needs a username and a password`);
    }
  }
  return p as Posture;
}

function checkAuditPosture(audit: unknown, origin: string): void {
  if (audit === null || typeof audit !== 'object') throw new PostureError(`${origin}: audit: must be a mapping`);
  const a = audit as Record<string, unknown>;
  if (typeof a.format === 'number') a.format = String(a.format); // YAML reads `format: 5424` as a number
  const oneOf = (key: string, values: readonly unknown[]) => {
    if (a[key] !== undefined && !values.includes(a[key])) throw new PostureError(`${origin}: audit.${key}: one of ${values.join(', ')}`);
  };
  oneOf('format', ['5424', '3164']);
  oneOf('transport', ['tls', 'tcp', 'udp']);
  oneOf('alarmOnFailure', [true, false]);
  const percent = a.capacityWarningPercent;
  if (percent !== undefined && (typeof percent !== 'number' || !(percent > 0 && percent <= 100))) throw new PostureError(`${origin}: audit.capacityWarningPercent: a number above 0 and at most 100`);
  const unknown = ((a.categories as unknown[] | undefined) ?? []).filter((c) => !(AUDIT_CATEGORIES as readonly unknown[]).includes(c));
  if (unknown.length > 0) throw new PostureError(`${origin}: audit.categories: unknown ${unknown.join(', ')} (known: ${AUDIT_CATEGORIES.join(', ')})`);
  try {
    postureNtpKey(a as AuditPosture);
  } catch (err) {
    throw new PostureError(`${origin}: ${(err as Error).message}`);
  }
}

const LISTEN_ERRORS: Record<string, string> = {
  EADDRINUSE: 'the port is in use (another emulator or service?); stop it, or run with --ephemeral',
  EACCES: 'binding the port needs privileges',
  EADDRNOTAVAIL: 'the address is not one of this machine\'s',
};

/** A service that did not start, named by its posture section; a configuration or port problem is a PostureError. */
function startFailure(key: string, config: ServicePosture, device: DeviceContext, err: unknown): Error {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code && LISTEN_ERRORS[code]) {
    return new PostureError(`services.${key}: cannot listen on ${device.host}:${device.portFor(config.port)}: ${LISTEN_ERRORS[code]}`, undefined, { cause: err });
  }
  if (err instanceof PostureError) return new PostureError(err.message.startsWith('services.') ? err.message : `services.${key}: ${err.message}`, undefined, { cause: err });
  return err instanceof Error ? err : new Error(String(err));
}

export interface Emulator {
  readonly posture: Posture;
  /** Where the device keeps its keys and certificates (its CA: pki/ca.crt and pki/ca.key). */
  readonly workDir: string;
  readonly services: readonly ServiceEndpoint[];
  /** Endpoint of the first service with this protocol; throws if there is none. */
  endpoint(protocol: string): ServiceEndpoint;
  /** TCP connections held at once so far, every TCP service together (not OPC UA, whose server node-opcua owns). */
  connections(): ConnectionStats;
  /** Start-up notices of the services (e.g. a fault mode that is off here, and why); `emulate` prints them on stderr. */
  readonly notices: readonly string[];
  /** The security log: `flush()` resolves when every event so far was handed to the transport. */
  readonly audit: Pick<DeviceAuditLog, 'flush' | 'clockOffsetMs' | 'now'>;
  close(): Promise<void>;
}

/**
 * Starts an emulated device: every enabled service of the posture on its own port (0 = OS-chosen).
 * If one service fails to start, the ones already running are closed before the error propagates.
 */
export interface EmulatorOptions {
  /** Bind address for every service (overrides the posture's). */
  host?: string;
  /** Ignore the posture's fixed ports and let the OS choose (tests, the demo). */
  ephemeralPorts?: boolean;
  /** The lab collector (and NTP server) the device sends its security log to; without it nothing is sent. */
  auditSink?: AuditSink;
}

export async function startEmulator(postureOrName: Posture | string, overrides: EmulatorOptions = {}): Promise<Emulator> {
  const posture = typeof postureOrName === 'string' ? loadPosture(postureOrName) : checkPosture(postureOrName);
  const host = overrides.host ?? posture.host ?? '127.0.0.1';
  const ownWorkDir = posture.workDir === undefined;
  const workDir = posture.workDir ?? fs.mkdtempSync(path.join(os.tmpdir(), `iacs-emulator-${process.pid}-`));
  fs.mkdirSync(workDir, { recursive: true });
  const identity = { ...DEFAULT_IDENTITY, ...posture.identity };
  const accountList = posture.accounts ?? [];
  const debugLog = (message: string) => {
    if (process.env.IACS_EMULATOR_DEBUG) process.stderr.write(`[emulator] ${message}\n`);
  };
  const hostname = posture.audit?.hostname ?? identity.productCode.toLowerCase();
  const sender: DeviceAuditLog = overrides.auditSink ? startAuditLog(posture.audit ?? {}, overrides.auditSink, hostname, debugLog) : NO_AUDIT_LOG;
  // The device keeps what it logs (the web UI's audit-log resource serves it), with or without a collector.
  const auditRecords = new AuditRecordStore(posture.audit ?? {}, hostname, undefined, (_fill, line) => sender.notice?.(line));
  const audit: DeviceAuditLog = { ...sender, event: (e) => { auditRecords.add(e, Date.now() + sender.clockOffsetMs()); sender.event(e); } };
  const report = (e: Parameters<DeviceAuditLog['event']>[0]) => audit.event(e);
  const device: DeviceContext = {
    host,
    identity,
    accounts: new AccountStore(accountList, posture.lockout ?? null, Date.now, report),
    accountsFor: (lockout: LockoutConfig | null | undefined) => (lockout === undefined ? device.accounts : new AccountStore(accountList, lockout, Date.now, report)),
    workDir,
    posture,
    portFor: (configured) => (overrides.ephemeralPorts ? 0 : configured ?? 0),
    connections: new ConnectionMeter(),
    audit,
    auditRecords,
    log: debugLog,
  };
  const running: RunningService[] = [];
  const closeAll = async () => {
    await Promise.allSettled(running.reverse().map((s) => s.close()));
    await audit.close();
    if (ownWorkDir) fs.rmSync(workDir, { recursive: true, force: true });
  };
  // The services start at once (the OPC UA server alone takes seconds: node-opcua, keys, a helper process);
  // they are listed in SERVICE_MODULES order. If one fails, the others are closed and the first failure reported.
  const enabled = SERVICE_MODULES.flatMap((module) => {
    const config = posture.services[module.key] as ServicePosture | undefined;
    return config && config.enabled !== false ? [{ module, config }] : [];
  });
  const started = await Promise.allSettled(enabled.map(({ module, config }) => module.start(config, device)));
  for (const result of started) if (result.status === 'fulfilled') running.push(result.value);
  const failed = started.findIndex((r) => r.status === 'rejected');
  if (failed !== -1) {
    await closeAll();
    const { module, config } = enabled[failed];
    throw startFailure(module.key, config, device, (started[failed] as PromiseRejectedResult).reason);
  }
  const services = running.flatMap((s) => s.endpoints);
  let closed: Promise<void> | undefined;
  return {
    posture,
    workDir,
    services,
    endpoint(protocol) {
      const found = services.find((s) => s.protocol === protocol);
      if (!found) throw new Error(`the emulated device runs no ${protocol} service`);
      return found;
    },
    connections: () => device.connections.stats(),
    notices: running.flatMap((s) => s.notices ?? []),
    audit,
    close: () => (closed ??= closeAll()),
  };
}
