import type { AccountConfig, AccountStore, LockoutConfig } from './accounts';
import type { AuditPosture, DeviceAuditLog } from './audit';
import type { AuditRecordStore } from './audit-store';
import type { ConnectionMeter } from './connections';

/** What the emulated device says about itself (Modbus 43/14, OPC UA BuildInfo, SNMP sysDescr, banners). */
export interface DeviceIdentity {
  vendor: string;
  model: string;
  productCode: string;
  firmware: string;
  serial: string;
}

/** A posture file (profiles/postures/*.yaml): the configuration of one emulated device. */
export interface Posture {
  name: string;
  description?: string;
  /** Bind address of every service; 127.0.0.1 unless a bench namespace gives the device its own. */
  host?: string;
  identity?: Partial<DeviceIdentity>;
  accounts?: AccountConfig[];
  /** Device-wide lockout shared by all services; null or absent: no lockout. */
  lockout?: LockoutConfig | null;
  /** Folder for generated keys, certificates and the OPC UA PKI; a temporary folder by default. */
  workDir?: string;
  /** How the device logs security events to a collector (src/emulator/audit.ts); absent: the secure defaults. */
  audit?: AuditPosture;
  /** One section per service; a missing section or `enabled: false` switches it off. */
  services: Record<string, ServicePosture | undefined>;
}

export interface ServicePosture {
  enabled?: boolean;
  /** 0 (default): an OS-chosen free port. */
  port?: number;
  [key: string]: unknown;
}

/** One listening endpoint, as printed by `iacs-probe emulate`. */
export interface ServiceEndpoint {
  protocol: string;
  host: string;
  port: number;
  /** Set for TLS-wrapped services. */
  tls?: boolean;
  /** Set for a UDP endpoint of a protocol that is TCP by default (EtherNet/IP list commands, DTLS). */
  transport?: 'udp';
}

export interface DeviceContext {
  readonly host: string;
  readonly identity: DeviceIdentity;
  /** Device-wide account store (with the device-wide lockout). */
  readonly accounts: AccountStore;
  /** An account store over the same accounts with a service-specific lockout, when a section overrides it. */
  accountsFor(lockout: LockoutConfig | null | undefined): AccountStore;
  /** A folder the service may write keys and certificates to (per emulator instance). */
  readonly workDir: string;
  readonly posture: Posture;
  /** The port to bind for a configured port: 0 when the emulator runs with ephemeral ports. Use it for
   * every port a service opens (a service's secondary ports too, e.g. plain HTTP beside HTTPS). */
  portFor(configured: number | undefined): number;
  /** Counts the device's TCP connections at once; services pass `connections.counter(key)` to listenTcp. */
  readonly connections: ConnectionMeter;
  /** The device's security log: services report sessions here (logins come from the account store). */
  readonly audit: DeviceAuditLog;
  /** The device's own bounded copy of what it logs (served by the web UI's audit-log resource). */
  readonly auditRecords: AuditRecordStore;
  log(message: string): void;
}

export interface RunningService {
  readonly endpoints: readonly ServiceEndpoint[];
  /** What the operator should know at start-up (a fault mode that cannot work here, and why). */
  readonly notices?: readonly string[];
  close(): Promise<void>;
}

/** A service the emulator can start; `key` is its section name under `services:` in a posture. */
export interface ServiceModule<C extends ServicePosture = ServicePosture> {
  readonly key: string;
  start(config: C, device: DeviceContext): Promise<RunningService>;
}
