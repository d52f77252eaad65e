import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import Ajv, { type ErrorObject } from 'ajv';
import type { Document, LineCounter } from 'yaml';
import {
  resolveLoadLimits, type LoadLimits, type LoadLimitsRequest,
  FRS, InputRejected, UDP_PROTOCOLS, type ComponentInfo, type ComponentType, type Credential, type DevicePolicy,
  type Safety, type SecurityLevel, type ServiceProtocol, type SlVector, type NtpKey, type NtpKeyType, ntpKeyMaterial, ntpKeyProblem,
  MONITOR_DEFAULTS, WATCH_KINDS, type EssentialFunctionConfig, type WatchKind, type DeclaredOutput,
  type BoundaryDecl, type VlanDecl,
} from '../sdk';
import {
  INPUT_LIMITS, InputFileError, confinedFile, decodeInputText, fieldName, formatIssue, formatIssues, issuesAs, loadInputYaml, locateIn,
  parseInputYaml, readInputFile, type InputIssue,
} from '../sdk/input-file';
import { packagePath } from '../paths';
import { boundaryOf, type RawConduit, type RawZone } from './boundary';
import { boundaryHooksOf, type RawBoundaryHooks } from './boundary-hooks';
import { vlansOf, type RawVlans } from './vlans';

export const PROFILE_SCHEMA_FILE = packagePath('schema', 'profile.schema.json');

/** One problem in a profile, located by file, line and field. */
export type ProfileIssue = InputIssue;
export { fieldName, formatIssue };

export class ProfileError extends InputRejected {
  constructor(readonly issues: readonly ProfileIssue[]) {
    super(formatIssues(issues), 'invalid profile (nothing was run or written)');
  }
}

export interface ServiceDecl {
  port: number;
  protocol: ServiceProtocol;
  name?: string;
  transport?: 'tcp' | 'udp';
  tls?: boolean;
  unitId?: number;
  options?: Record<string, unknown>;
}

export interface TargetDecl {
  host: string;
  name?: string;
  services: ServiceDecl[];
}

export interface ProbeSettings {
  enabled?: boolean;
  timeoutMs?: number;
  [input: string]: unknown;
}

/** The profile's `lab` block: lab services started for the run (syslog collector, NTP server). */
export interface LabConfig {
  address: string;
  syslog?: { udp?: number; tcp?: number; tls?: number; mutualTls?: boolean };
  /** Absolute paths (resolved against the profile's folder). */
  tls?: { ca: string; cert: string; key: string };
  ntp?: { port: number; offsetSeconds?: number; keys?: LabNtpKeyConfig[] };
  settleSeconds?: number;
  /** Subscribe to the OPC UA audit events of every declared opcua service for the run. */
  opcuaAudit?: boolean;
  /** The collector outage of `audit.outage` (CR 2.10); absent: the defaults (docs/audit.md). */
  outage?: { seconds?: number; alarm?: string; provoke?: boolean; reconnectSeconds?: number; transports?: ('udp' | 'tcp' | 'tls')[] };
}

/** A symmetric NTP key of the lab server (CR 2.11 RE(2)): the secret is referenced like a password. */
export interface LabNtpKeyConfig {
  id: number;
  type: NtpKeyType;
  /** Key text as chrony's keyfile has it: ASCII, or `HEX:` followed by hexadecimal. */
  secret: SecretRef;
}

export interface Limits {
  perHost: number;
  global: number;
  unhealthyAfter: number;
}

/** A validated profile with secrets resolved (the secrets live only in `credentials`). */
export interface Profile {
  file: string;
  /** The folder relative paths of the profile (secrets, baselines, probe inputs) resolve against. */
  dir: string;
  /** sha256 of the profile file's bytes, recorded in the report. */
  sha256: string;
  component: ComponentInfo;
  targets: TargetDecl[];
  credentials: Map<string, Credential>;
  policy: DevicePolicy;
  /** name -> absolute file, from policy.baselines. */
  baselineFiles: Record<string, string>;
  essentialFunction: Record<string, unknown>;
  /** The `essentialFunction` block with defaults applied: what the runner's monitor watches (absent: no monitor). */
  monitor?: EssentialFunctionConfig;
  allow: Safety[];
  probes: Record<string, ProbeSettings>;
  limits: Limits;
  /** Load caps for destructive probes (`robustness`), clamped to LOAD_CEILINGS; `clamped` lists what was lowered. */
  robustness: { limits: LoadLimits; clamped: string[] };
  operator?: string;
  /** Lab services for the audit probes (absent: none are started). */
  lab?: LabConfig;
  /** lab.ntp.keys with their secrets resolved (empty without keys); like credentials, never serialised. */
  ntpKeys: NtpKey[];
  /** The zones and conduits of a network component (docs/boundary.md); absent when the profile has none. */
  boundary?: BoundaryDecl;
  /** The VLANs of a switch and the bench endpoints on its ports (docs/boundary.md); absent when the profile has none. */
  vlans?: VlanDecl;
  /** Locates a field of the profile file, for messages about it found after loading. */
  issueAt(field: readonly (string | number)[], message: string): ProfileIssue;
}

interface RawProfile {
  component: {
    name: string; vendor?: string; model?: string; firmware?: string | number; serial?: string;
    types: ComponentType[]; slTarget: number | Partial<Record<string, number>>;
  };
  targets: TargetDecl[];
  credentials?: Record<string, { username: string; password: SecretRef }>;
  secretsFile?: string;
  policy?: DevicePolicy & { baselines?: Record<string, string> };
  essentialFunction?: Record<string, unknown>;
  allow?: Safety[];
  probes?: Record<string, ProbeSettings>;
  limits?: Partial<Limits>;
  robustness?: LoadLimitsRequest;
  operator?: string;
  lab?: LabConfig;
  zones?: RawZone[];
  conduits?: RawConduit[];
  boundaryHooks?: RawBoundaryHooks;
  vlans?: RawVlans;
}

type SecretRef = { env: string } | { file: string } | { secret: string };

let validator: ReturnType<Ajv['compile']> | undefined;
function validate(doc: unknown): ErrorObject[] {
  if (!validator) {
    const ajv = new Ajv({ allErrors: true, strict: false });
    validator = ajv.compile(JSON.parse(fs.readFileSync(PROFILE_SCHEMA_FILE, 'utf8')) as object);
  }
  return validator(doc) ? [] : [...(validator.errors ?? [])];
}

/** JSON pointer "/targets/0/port" -> ["targets", 0, "port"] */
function pointerToPath(pointer: string): (string | number)[] {
  if (!pointer) return [];
  return pointer.slice(1).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/**
 * Parses YAML within the input limits (src/sdk/input-file.ts) keeping positions, so issues found in the parsed
 * data name the file, line and field. `problems` lists what kept the text from parsing (then `value` is undefined).
 */
export class Locator {
  private readonly lines: LineCounter;
  readonly doc: Document.Parsed;
  readonly value: unknown;
  readonly problems: readonly ProfileIssue[];

  constructor(readonly file: string, text: string) {
    const parsed = parseInputYaml(text, file);
    this.lines = parsed.lines;
    this.doc = parsed.doc;
    this.value = parsed.value;
    this.problems = parsed.problems;
  }

  /** Position of the deepest existing node on the path (the key itself when the path ends at a key). */
  locate(pathParts: readonly (string | number)[]): { line?: number; column?: number } {
    return locateIn(this.doc, this.lines, pathParts);
  }

  issue(pathParts: readonly (string | number)[], message: string): ProfileIssue {
    return { file: this.file, ...this.locate(pathParts), field: fieldName(pathParts), message };
  }
}

const ONE_OF_HINTS: [RegExp, string][] = [
  [/\/password$/, 'passwords are never written inline: use { env: NAME }, { file: path } or { secret: key }'],
  [/\/keys\/\d+\/secret$/, 'NTP keys are never written inline: use { env: NAME }, { file: path } or { secret: key }'],
  [/\/slTarget$/, 'must be a level 1..4, or per FR like { FR1: 2, FR2: 2 }'],
];

/** Turns ajv's errors into one message per field, in words an engineer understands. */
function schemaIssues(errors: ErrorObject[], loc: Locator): ProfileIssue[] {
  const oneOfPaths = new Set(errors.filter((e) => e.keyword === 'oneOf').map((e) => e.instancePath));
  const out: ProfileIssue[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (out.length >= INPUT_LIMITS.maxIssues) break; // locating each is a walk: bound the work, not only the message
    const underOneOf = [...oneOfPaths].some((p) => e.instancePath === p || e.instancePath.startsWith(`${p}/`));
    let parts = pointerToPath(e.instancePath);
    let message: string;
    if (underOneOf) {
      const p = [...oneOfPaths].find((q) => e.instancePath === q || e.instancePath.startsWith(`${q}/`))!;
      parts = pointerToPath(p);
      message = ONE_OF_HINTS.find(([re]) => re.test(p))?.[1] ?? 'does not match any allowed form';
    } else if (e.keyword === 'additionalProperties') {
      const prop = (e.params as { additionalProperty: string }).additionalProperty;
      parts = [...parts, prop];
      message = 'unknown field (check the spelling; see schema/profile.schema.json)';
    } else if (e.keyword === 'required') {
      message = `missing required field "${(e.params as { missingProperty: string }).missingProperty}"`;
    } else if (e.keyword === 'enum') {
      message = `must be one of: ${((e.params as { allowedValues: unknown[] }).allowedValues).join(', ')}`;
    } else if (e.keyword === 'const') {
      message = `must be ${JSON.stringify((e.params as { allowedValue: unknown }).allowedValue)}`;
    } else if (e.keyword === 'propertyNames') {
      continue; // reported by the pattern error on the name itself
    } else if (e.keyword === 'pattern' && e.propertyName !== undefined) {
      parts = [...parts, e.propertyName];
      message = 'invalid key';
    } else {
      message = e.message ?? 'invalid';
    }
    const key = `${fieldName(parts)}|${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(loc.issue(parts, message));
  }
  return out;
}

/**
 * Reads a file the profile names (a secret, the secrets file, a baseline) with `read`: a symlink out of its
 * folder, a missing file or one beyond the input limits is reported through `issue` (with the file's own
 * located issues), and yields undefined.
 */
function readReferenced<T>(
  baseDir: string, name: string, missing: string, read: (file: string, shownAs: string) => T,
  issue: (message: string, more?: readonly ProfileIssue[]) => void,
): T | undefined {
  const { file, problem } = confinedFile(baseDir, name);
  if (problem) return void issue(problem);
  if (!fs.existsSync(file)) return void issue(missing);
  try {
    return read(file, path.relative(process.cwd(), file) || file);
  } catch (err) {
    if (!(err instanceof InputFileError)) throw err;
    return void issue(`${name} cannot be used:`, err.issues);
  }
}

function resolveSecret(
  ref: SecretRef, where: (string | number)[], loc: Locator, baseDir: string,
  secrets: () => Record<string, unknown>, issues: ProfileIssue[],
): string | undefined {
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value === '') issues.push(loc.issue(where, `environment variable ${ref.env} is not set`));
    return value;
  }
  if ('file' in ref) {
    const text = readReferenced(baseDir, ref.file, `secret file ${ref.file} does not exist`, (file, name) => decodeInputText(readInputFile(file, name), name),
      (message, more = []) => issues.push(loc.issue(where, message), ...more));
    return text?.replace(/\r?\n$/, '');
  }
  const value = secrets()[ref.secret];
  if (typeof value !== 'string' && typeof value !== 'number') {
    issues.push(loc.issue(where, `secret "${ref.secret}" is not in the secrets file`));
    return undefined;
  }
  return String(value);
}

/** A baseline's policy levels (profiles/baselines): a mapping from level 1..4 to that level's thresholds. */
export interface BaselineLevels {
  levels: Record<string, Record<string, unknown>>;
  basis: unknown;
}

/**
 * Checks the shape every baseline shares (`levels: { 1..4: mapping }`, optional `basis`); what the thresholds
 * mean is the probe's business. Throws InputFileError located in the baseline file.
 */
export function baselineLevels(parsed: { doc: Document.Parsed; lines: LineCounter; value: unknown }, file: string): BaselineLevels {
  const issue = (where: (string | number)[], message: string): never => {
    throw new InputFileError([{ file, ...locateIn(parsed.doc, parsed.lines, where), field: fieldName(where), message }]);
  };
  const isMapping = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  const doc = parsed.value;
  if (!isMapping(doc)) return issue([], 'a baseline is a mapping with `levels: { 1: ..., 2: ... }` (see profiles/baselines)');
  if (!isMapping(doc.levels)) return issue(['levels'], 'must be a mapping from security level (1..4) to that level\'s thresholds');
  for (const [level, thresholds] of Object.entries(doc.levels)) {
    if (!/^[1-4]$/.test(level)) issue(['levels', level], 'unknown security level (1..4)');
    if (!isMapping(thresholds)) issue(['levels', level], 'the thresholds of a level are a mapping');
  }
  return { levels: doc.levels as BaselineLevels['levels'], basis: doc.basis ?? [] };
}

function slVector(target: number | Partial<Record<string, number>>): SlVector {
  return Object.fromEntries(FRS.map((fr) => [fr, (typeof target === 'number' ? target : target[fr] ?? 0) as SecurityLevel])) as SlVector;
}

/** Reads, validates and resolves a profile. Throws ProfileError listing every problem found. */
export function loadProfile(file: string): Profile {
  const abs = path.resolve(file);
  return parseProfile(issuesAs((issues) => new ProfileError(issues), () => readInputFile(abs, file)), file, path.dirname(abs));
}

/** Builds a profile from an in-memory object (the demo knows its ports only at run time). */
export function profileFromObject(object: unknown, name: string, baseDir = process.cwd()): Profile {
  return parseProfile(Buffer.from(JSON.stringify(object, null, 2)), name, baseDir);
}

/**
 * Validates profile text (YAML or JSON). `file` names it in messages; relative paths (secrets,
 * baselines) resolve against `baseDir`.
 */
export function parseProfile(bytes: Buffer, file: string, baseDir: string): Profile {
  const abs = path.resolve(baseDir, path.basename(file));
  const loc = new Locator(file, issuesAs((issues) => new ProfileError(issues), () => decodeInputText(bytes, file)));
  if (loc.problems.length > 0) throw new ProfileError(loc.problems);
  const raw = loc.value;
  const errors = validate(raw);
  if (errors.length > 0) throw new ProfileError(schemaIssues(errors, loc));
  const p = raw as RawProfile;
  const issues: ProfileIssue[] = [];

  p.targets.forEach((t, ti) => {
    const seen = new Map<string, number>();
    t.services.forEach((s, si) => {
      const key = `${s.transport ?? (UDP_PROTOCOLS.has(s.protocol) ? 'udp' : 'tcp')}/${s.port}`;
      if (seen.has(key)) issues.push(loc.issue(['targets', ti, 'services', si, 'port'], `${key} is declared twice for ${t.host} (also services[${seen.get(key)}])`));
      seen.set(key, si);
    });
  });
  const hosts = p.targets.map((t) => t.host.toLowerCase());
  hosts.forEach((h, i) => {
    if (hosts.indexOf(h) !== i) issues.push(loc.issue(['targets', i, 'host'], `host ${h} is listed twice; merge its services into one target`));
  });

  let secretsCache: Record<string, unknown> | undefined;
  const secrets = (): Record<string, unknown> => {
    if (secretsCache) return secretsCache;
    secretsCache = {};
    if (!p.secretsFile) {
      issues.push(loc.issue(['secretsFile'], '{ secret: ... } is used but no secretsFile is set'));
      return secretsCache;
    }
    const issue = (message: string, more: readonly ProfileIssue[] = []) => issues.push(loc.issue(['secretsFile'], message), ...more);
    const parsed = readReferenced(baseDir, p.secretsFile, `${p.secretsFile} does not exist`, (file, name) => loadInputYaml(file, name).value, issue);
    if (parsed === undefined) return secretsCache;
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) issue(`${p.secretsFile} is not a YAML mapping`);
    else secretsCache = parsed as Record<string, unknown>;
    return secretsCache;
  };
  const credentials = new Map<string, Credential>();
  for (const [key, c] of Object.entries(p.credentials ?? {})) {
    const password = resolveSecret(c.password, ['credentials', key, 'password'], loc, baseDir, secrets, issues);
    if (password !== undefined) credentials.set(key, { username: c.username, password, source: `credentials.${key}` });
  }

  const { baselines, ...policy } = p.policy ?? {};
  const baselineFiles: Record<string, string> = {};
  for (const [name, f] of Object.entries(baselines ?? {})) {
    // Read now, not when a probe needs it: a broken baseline is a profile error (exit 3), not an error mid-run.
    readReferenced(baseDir, f, `${f} does not exist`, (file, shownAs) => baselineLevels(loadInputYaml(file, shownAs), shownAs),
      (message, more = []) => issues.push(loc.issue(['policy', 'baselines', name], message), ...more));
    baselineFiles[name] = path.resolve(baseDir, f);
  }
  const capacityWarning = (policy.auditLog as { capacity?: { warning?: string } } | undefined)?.capacity?.warning;
  if (capacityWarning !== undefined) {
    try {
      new RegExp(capacityWarning, 'i');
    } catch (err) {
      issues.push(loc.issue(['policy', 'auditLog', 'capacity', 'warning'], `not a regular expression: ${(err as Error).message}`));
    }
  }
  const allow = p.allow ?? ['passive', 'active'];
  const lab = p.lab ? labOf(p.lab, baseDir, (field, message) => issues.push(loc.issue(['lab', ...field], message))) : undefined;
  const ntpKeys = (p.lab?.ntp?.keys ?? []).flatMap((k, i): NtpKey[] => {
    const where = ['lab', 'ntp', 'keys', i];
    const text = resolveSecret(k.secret, [...where, 'secret'], loc, baseDir, secrets, issues);
    if (text === undefined) return [];
    const key: NtpKey = { id: k.id, type: k.type, secret: ntpKeyMaterial(text) };
    const problem = ntpKeyProblem(key) ?? (p.lab!.ntp!.keys!.findIndex((o) => o.id === k.id) !== i ? `key id ${k.id} is listed twice` : undefined);
    if (problem) issues.push(loc.issue(where, problem));
    return [key];
  });
  const functionIssue = (field: (string | number)[], message: string) => issues.push(loc.issue(['essentialFunction', ...field], message));
  // A block that only names outputs (CR 3.6) starts no monitor; one without either is an error in monitorOf.
  const watched = p.essentialFunction !== undefined && (WATCH_KINDS.some((k) => p.essentialFunction?.[k] !== undefined) || p.essentialFunction.outputs === undefined);
  const monitor = watched ? monitorOf(p.essentialFunction!, p.targets, functionIssue) : undefined;
  if (p.essentialFunction?.outputs !== undefined) checkOutputs(p.essentialFunction.outputs as DeclaredOutput[], p.targets, functionIssue);
  const zonesAndConduits = boundaryOf(p.zones, p.conduits, p.component.types, (field, message) => issues.push(loc.issue(field, message)));
  const boundaryHooks = boundaryHooksOf(p.boundaryHooks, zonesAndConduits, (field, message) => issues.push(loc.issue(field, message)));
  const boundary = zonesAndConduits && boundaryHooks ? { ...zonesAndConduits, hooks: boundaryHooks } : zonesAndConduits;
  const vlans = vlansOf(p.vlans, p.component.types, (field, message) => issues.push(loc.issue(field, message)));
  if (issues.length > 0) throw new ProfileError(issues);

  const c = p.component;
  return {
    file: abs,
    dir: baseDir,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    component: {
      name: c.name, vendor: c.vendor, model: c.model, firmware: c.firmware === undefined ? undefined : String(c.firmware),
      serial: c.serial, types: c.types, slTarget: slVector(c.slTarget),
    },
    targets: p.targets,
    credentials,
    policy,
    baselineFiles,
    essentialFunction: p.essentialFunction ?? {},
    ...(monitor ? { monitor } : {}),
    allow,
    probes: p.probes ?? {},
    robustness: resolveLoadLimits(p.robustness),
    limits: { perHost: p.limits?.perHost ?? 2, global: p.limits?.global ?? 4, unhealthyAfter: p.limits?.unhealthyAfter ?? 3 },
    operator: p.operator,
    ...(lab ? { lab } : {}),
    ntpKeys,
    ...(boundary ? { boundary } : {}),
    ...(vlans ? { vlans } : {}),
    issueAt: (field, message) => loc.issue(field, message),
  };
}

/** The lab block with files resolved; a wildcard address or a missing file is a profile issue. */
function labOf(raw: LabConfig, baseDir: string, issue: (field: string[], message: string) => void): LabConfig {
  if (net.isIP(raw.address) === 0) issue(['address'], `${raw.address} is not an IP address (the lab services bind one address)`);
  else if (raw.address === '0.0.0.0' || /^[0:]+$/.test(raw.address)) issue(['address'], `${raw.address} would listen on every interface; give the lab interface's own address`);
  let tls: LabConfig['tls'];
  if (raw.tls) {
    tls = { ca: path.resolve(baseDir, raw.tls.ca), cert: path.resolve(baseDir, raw.tls.cert), key: path.resolve(baseDir, raw.tls.key) };
    for (const [field, file] of Object.entries(tls)) {
      const { problem } = confinedFile(baseDir, raw.tls[field as keyof typeof tls]);
      if (problem) issue(['tls', field], problem);
      else if (!fs.existsSync(file)) issue(['tls', field], `${file} does not exist`);
      else {
        try {
          readInputFile(file);
        } catch (err) {
          if (!(err instanceof InputFileError)) throw err;
          issue(['tls', field], `${raw.tls[field as keyof typeof tls]} cannot be used: ${err.issues.map((i) => i.message).join('; ')}`);
        }
      }
    }
  }
  if (raw.outage?.alarm !== undefined) {
    try {
      new RegExp(raw.outage.alarm, 'i');
    } catch (err) {
      issue(['outage', 'alarm'], `not a regular expression: ${(err as Error).message}`);
    }
  }
  return { ...raw, ...(tls ? { tls } : {}) };
}

/** Which declared services a watch may use: the service protocols it speaks. */
const WATCH_SERVICES: Record<WatchKind, (s: ServiceDecl) => boolean> = {
  modbus: (s) => s.protocol === 'modbus',
  opcua: (s) => s.protocol === 'opcua',
  tcp: (s) => (s.transport ?? (UDP_PROTOCOLS.has(s.protocol) ? 'udp' : 'tcp')) === 'tcp',
  tls: (s) => s.protocol === 'tls' || s.protocol === 'https' || s.protocol === 'modbus-tls' || s.tls === true,
  https: (s) => s.protocol === 'https' || (s.protocol === 'http' && s.tls === true),
  http: (s) => s.protocol === 'http' && s.tls !== true,
};

/** Whether a declared service can carry the watch (and is the one it names by port). */
export function watchMatches(kind: WatchKind, service: ServiceDecl, port: number | undefined): boolean {
  return WATCH_SERVICES[kind](service) && (port === undefined || service.port === port);
}

/**
 * The essentialFunction block with our defaults (MONITOR_DEFAULTS), checked beyond the schema: at least one
 * watch, a loss window of at least two samples, a tolerance below it, and each watch has a declared service.
 */
function monitorOf(raw: Record<string, unknown>, targets: readonly TargetDecl[], issue: (field: string[], message: string) => void): EssentialFunctionConfig {
  const config = { ...MONITOR_DEFAULTS, ...raw } as EssentialFunctionConfig & typeof MONITOR_DEFAULTS;
  const kinds = WATCH_KINDS.filter((k) => raw[k] !== undefined);
  if (kinds.length === 0) issue([], `names no watch: give at least one of ${WATCH_KINDS.join(', ')}`);
  if (config.lossAfterMs < 2 * config.periodMs) {
    issue([raw.lossAfterMs !== undefined ? 'lossAfterMs' : 'periodMs'], `lossAfterMs (${config.lossAfterMs}) must be at least twice periodMs (${config.periodMs}): a loss must rest on more than one sample`);
  }
  if (config.latencyToleranceMs >= config.lossAfterMs) {
    issue(['latencyToleranceMs'], `latencyToleranceMs (${config.latencyToleranceMs}) must be below lossAfterMs (${config.lossAfterMs}): a late answer is degraded, not lost`);
  }
  for (const kind of kinds) {
    const port = (raw[kind] as { port?: number }).port;
    if (!targets.some((t) => t.services.some((s) => watchMatches(kind, s, port)))) {
      issue([kind, ...(port !== undefined ? ['port'] : [])], port !== undefined
        ? `no target declares a ${kind === 'tcp' ? 'TCP' : kind} service on port ${port}`
        : `no target declares a service the ${kind} watch can use`);
    }
  }
  // The outputs are CR 3.6's (modbus.fail-safe reads them from the raw block): the monitor does not watch them.
  const { opcuaPublishingIntervalMs: _o, counterStallMs: _c, outputs: _out, ...rest } = config as typeof config & { outputs?: unknown };
  return rest;
}

/**
 * essentialFunction.outputs beyond the schema: one address (coil or holding register), one heartbeat kind, a
 * safe value the active value differs from, coil values 0/1, a heartbeat that comes more often than the
 * timeout and is not the output itself, and a declared modbus service to reach it on.
 */
function checkOutputs(outputs: readonly DeclaredOutput[], targets: readonly TargetDecl[], issue: (field: (string | number)[], message: string) => void): void {
  outputs.forEach((o, i) => {
    const at = (...field: string[]) => ['outputs', i, ...field];
    if ((o.coil === undefined) === (o.holdingRegister === undefined)) issue(at(), 'give exactly one of coil or holdingRegister: the output the device must set to its safe state');
    const hb = o.heartbeat as { register?: number; anyTraffic?: boolean; periodMs: number };
    if ((hb.register === undefined) === (hb.anyTraffic === undefined)) issue(at('heartbeat'), 'give exactly one of register (the master writes it every periodMs) or anyTraffic: true (any request keeps the watchdog alive)');
    if (o.safeValue === o.activeValue) issue(at('activeValue'), `must differ from safeValue (${o.safeValue}): otherwise a change to the safe state cannot be seen`);
    if (o.coil !== undefined) {
      for (const field of ['safeValue', 'activeValue', 'restoreValue'] as const) {
        const v = o[field];
        if (v !== undefined && v !== 0 && v !== 1) issue(at(field), `a coil is 0 or 1, not ${v}`);
      }
    }
    if (hb.periodMs >= o.timeoutMs) issue(at('heartbeat', 'periodMs'), `must be below timeoutMs (${o.timeoutMs}): a master this slow would trip the watchdog itself`);
    if (hb.register !== undefined && hb.register === o.holdingRegister) issue(at('heartbeat', 'register'), 'is the output itself: the heartbeat needs a register of its own');
    if (!targets.some((t) => t.services.some((s) => watchMatches('modbus', s, o.port)))) {
      issue(o.port !== undefined ? at('port') : at(), o.port !== undefined ? `no target declares a modbus service on port ${o.port}` : 'no target declares a modbus service to reach the output on');
    }
  });
}
