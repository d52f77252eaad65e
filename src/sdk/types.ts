/**
 * Vocabulary shared by probes, the runner, the assessment and the reporters.
 * Everything here is serialisable data except the probe context (which carries live objects).
 */

export const SAFETY_CLASSES = ['passive', 'active', 'intrusive', 'destructive'] as const;
/** passive: reads what is offered; active: authenticates/negotiates/enumerates; intrusive: may change
 * device state that heals by itself (lockout, session exhaustion, load); destructive: writes process
 * values, floods, fuzzes. */
export type Safety = (typeof SAFETY_CLASSES)[number];

export const SERVICE_PROTOCOLS = [
  'ssh', 'tls', 'https', 'http', 'opcua', 'modbus', 'modbus-tls', 'snmp', 'telnet', 'ftp', 'tftp',
  's7', 'enip', 'dnp3', 'iec104', 'bacnet', 'mqtt', 'smb', 'rdp', 'winrm', 'tcp', 'udp',
] as const;
export type ServiceProtocol = (typeof SERVICE_PROTOCOLS)[number];

/** Protocols whose declared services run over UDP unless the profile says otherwise. */
export const UDP_PROTOCOLS: ReadonlySet<ServiceProtocol> = new Set(['snmp', 'tftp', 'udp', 'bacnet']);

export const COMPONENT_TYPES = ['embedded', 'network', 'host', 'application'] as const;
/** embedded = EDR, network = NDR, host = HDR, application = SAR. */
export type ComponentType = (typeof COMPONENT_TYPES)[number];

export const FRS = ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'] as const;
export type FrId = (typeof FRS)[number];
export type SecurityLevel = 0 | 1 | 2 | 3 | 4;
export type SlVector = Record<FrId, SecurityLevel>;

export type Verdict = 'pass' | 'fail' | 'not_applicable';
export type Severity = 'critical' | 'high' | 'medium' | 'low' | 'info';
/** full: the probe examined everything the requirement asks of this interface; partial: it saw part of
 * the evidence (the rest needs documentation review or a manual test). */
export type Coverage = 'full' | 'partial';

export interface Finding {
  /** Stable identifier, e.g. "ssh.weak-kex". Scripts and baselines key on it. */
  readonly code: string;
  readonly severity: Severity;
  readonly requirements: readonly string[];
  readonly message: string;
  /** Relative paths inside the run folder. */
  readonly evidence: readonly string[];
}

/**
 * The part of a requirement an outcome covers on its interface, where several probes examine one requirement
 * in parts (CR 7.7 on a host: its TCP ports and its UDP ports). The interface is covered in full only when
 * every part in `of` has a full-coverage pass there.
 */
export interface CoveragePart {
  /** This outcome's part, e.g. "udp"; one of `of`. */
  readonly name: string;
  /** Every part the requirement needs on the interface, e.g. ["tcp", "udp"]. */
  readonly of: readonly string[];
}

export interface RequirementOutcome {
  readonly requirement: string;
  readonly verdict: Verdict;
  /** For a `part`: the coverage of that part. */
  readonly coverage: Coverage;
  /** Set when the outcome covers one part of the requirement on its interface (see CoveragePart). */
  readonly part?: CoveragePart;
  /** Why this verdict; shown in the requirement matrix and the TRF "result - remark" column. */
  readonly reason: string;
}

/** What a probe returns. The runner wraps it into an attempt with status, timing and evidence. */
export interface ProbeResult {
  readonly observations: Record<string, unknown>;
  readonly findings: readonly Finding[];
  readonly outcomes: readonly RequirementOutcome[];
}

/** One declared service of a target host: one row of the communication matrix. */
export interface ServiceUnderTest {
  readonly host: string;
  readonly port: number;
  readonly protocol: ServiceProtocol;
  readonly transport: 'tcp' | 'udp';
  /** Human name from the profile, or "<protocol>/<port>". */
  readonly name: string;
  /** The service is wrapped in TLS (https, modbus-tls, or `tls: true`). */
  readonly tls: boolean;
  readonly unitId?: number;
  /** Other per-service keys from the profile (path, communities, ...), passed through unvalidated. */
  readonly options: Readonly<Record<string, unknown>>;
}

export interface HostUnderTest {
  readonly host: string;
  readonly name: string;
  /** Addresses the host name resolved to at plan time; the scope guard allows exactly these. */
  readonly addresses: readonly string[];
  readonly services: readonly ServiceUnderTest[];
}

export interface ComponentInfo {
  readonly name: string;
  readonly vendor?: string;
  readonly model?: string;
  readonly firmware?: string;
  readonly serial?: string;
  readonly types: readonly ComponentType[];
  readonly slTarget: SlVector;
}

/** A username/password pair resolved from the profile. The password never reaches the evidence. */
export interface Credential {
  readonly username: string;
  readonly password: string;
  /** Profile location it came from, e.g. "credentials.ssh", for evidence without the secret. */
  readonly source: string;
}

export interface LockoutPolicy {
  /** Failed attempts after which the device documents it locks the account. */
  readonly threshold: number;
  readonly durationSeconds?: number;
  readonly scope?: 'user' | 'source';
}

export interface SessionPolicy {
  readonly maxConcurrent?: number;
  readonly idleTimeoutSeconds?: number;
}

/** The configured values the vendor documents (the <cfg> values of 4-2 criteria). */
export interface DevicePolicy {
  readonly lockout?: LockoutPolicy;
  readonly sessions?: SessionPolicy;
  readonly [key: string]: unknown;
}
