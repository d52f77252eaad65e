/**
 * compare-units: reads what the runs of several units of one model already observed (certificates, SSH host
 * keys, SNMP engine ids, default passwords that logged in) and finds the values two or more units share.
 * A kind of material that fewer than two units recorded is not determined, never a pass.
 */
import type { Attempt, Report } from '../report/model';
import type { ComparedUnit, SharedMaterial, UnitCheck, UnitMaterialKind, UnitVerdict, UnitsComparison } from '../report/units';

interface KindRule {
  title: string;
  code: string;
  severity: SharedMaterial['severity'];
  requirements: string[];
  /** What one attempt observed of this kind: values (with a label for the message), or undefined when it says nothing. */
  read(attempt: Attempt): { value: string; label?: string }[] | undefined;
  message(value: string, units: number, label?: string): string;
}

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj | undefined => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined);
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length > 0 ? v : undefined);
const probeIs = (a: Attempt, ...ids: string[]) => ids.includes(a.probe);

/** The certificate summaries of an observation: `certificate` and, for several, `certificates`. */
function certificatesOf(o: Obj): Obj[] {
  const list = Array.isArray(o.certificates) ? o.certificates.map(obj) : [obj(o.certificate)];
  return list.filter((c): c is Obj => c !== undefined);
}

function certificateField(field: 'sha256' | 'spkiSha256', probe: string) {
  return (a: Attempt) => {
    if (!probeIs(a, probe)) return undefined;
    const certs = certificatesOf(a.observations);
    if (certs.length === 0) return undefined;
    // A certificate summary without the SPKI digest (a run of an older version) says nothing about the key.
    const values = certs.map((c) => ({ value: str(c[field]), label: str(c.subject) }));
    return values.every((v) => v.value !== undefined) ? (values as { value: string; label?: string }[]) : undefined;
  };
}

const KEY_REQUIREMENTS = ['CR 1.2 RE(1)', 'CR 1.5'];

export const UNIT_RULES: Record<UnitMaterialKind, KindRule> = {
  'tls-key': {
    title: 'TLS server key (SPKI SHA-256)', code: 'shared-tls-key', severity: 'high', requirements: KEY_REQUIREMENTS,
    read: certificateField('spkiSha256', 'tls.certificate'),
    message: (v, n, label) => `${n} units serve TLS with the same private key (SPKI sha256 ${v}${label ? `, ${label}` : ''}): whoever extracts it from one unit can impersonate every unit`,
  },
  'tls-certificate': {
    title: 'TLS server certificate (SHA-256)', code: 'shared-tls-certificate', severity: 'high', requirements: KEY_REQUIREMENTS,
    read: certificateField('sha256', 'tls.certificate'),
    message: (v, n, label) => `${n} units present the same TLS certificate (sha256 ${v}${label ? `, ${label}` : ''}): the units cannot be told apart by their certificate`,
  },
  'ssh-host-key': {
    title: 'SSH host key (fingerprint)', code: 'shared-ssh-host-key', severity: 'high', requirements: KEY_REQUIREMENTS,
    read: (a) => {
      if (!probeIs(a, 'ssh.algorithms') || !Array.isArray(a.observations.hostKeys)) return undefined;
      const keys = a.observations.hostKeys.map(obj).filter((k): k is Obj => k !== undefined && str(k.fingerprint) !== undefined);
      return keys.length > 0 ? keys.map((k) => ({ value: str(k.fingerprint)!, label: str(k.algorithm) })) : undefined;
    },
    message: (v, n, label) => `${n} units have the same SSH host key (${label ? `${label} ` : ''}${v}): a client cannot tell one unit from another, and one leaked key opens all`,
  },
  'opcua-key': {
    title: 'OPC UA application key (SPKI SHA-256)', code: 'shared-opcua-key', severity: 'high', requirements: KEY_REQUIREMENTS,
    read: certificateField('spkiSha256', 'opcua.endpoints'),
    message: (v, n, label) => `${n} units' OPC UA application certificates carry the same key (SPKI sha256 ${v}${label ? `, ${label}` : ''})`,
  },
  'opcua-certificate': {
    title: 'OPC UA application certificate (SHA-256)', code: 'shared-opcua-certificate', severity: 'high', requirements: KEY_REQUIREMENTS,
    read: certificateField('sha256', 'opcua.endpoints'),
    message: (v, n, label) => `${n} units present the same OPC UA application instance certificate (sha256 ${v}${label ? `, ${label}` : ''})`,
  },
  'snmp-engine-id': {
    title: 'SNMP engine id', code: 'shared-snmp-engine-id', severity: 'medium', requirements: ['CR 1.2 RE(1)'],
    read: (a) => {
      const id = probeIs(a, 'snmp.communities') ? str(a.observations.engineId) : probeIs(a, 'snmp.v3') ? str(obj(a.observations.engine)?.id) : undefined;
      return id ? [{ value: id.toLowerCase() }] : undefined;
    },
    message: (v, n) => `${n} units answer with the same SNMP engine id ${v}: SNMPv3 (RFC 3414) requires it unique per agent, and USM keys localized to it are then the same on every unit`,
  },
  'default-password': {
    title: 'Default password that logs in', code: 'shared-default-password', severity: 'high', requirements: ['CR 1.5'],
    read: (a) => {
      // Only a default-credentials attempt that got verdicts tells whether a default works (an empty list: none did).
      if (!a.probe.endsWith('.default-credentials') || (a.status !== 'pass' && a.status !== 'fail') || !Array.isArray(a.observations.accepted)) return undefined;
      return a.observations.accepted.map(obj).filter((x): x is Obj => x !== undefined && str(x.passwordSha256) !== undefined)
        .map((x) => ({ value: `${str(x.username) ?? '?'} / sha256 ${str(x.passwordSha256)!}`, label: str(x.entry) }));
    },
    message: (v, n, label) => `the same default credential logs in on ${n} units (${v}${label ? `, list entry ${label}` : ''}): one published password opens every unit`,
  },
};

/** Per unit, per kind: value → where (probe@target). Undefined: the unit recorded nothing of this kind. */
type Seen = Map<string, { where: string[]; label?: string }>;

function observe(report: Report, rule: KindRule): Seen | undefined {
  let recorded = false;
  const seen: Seen = new Map();
  for (const a of report.attempts) {
    const values = rule.read(a);
    if (values === undefined) continue;
    recorded = true;
    for (const { value, label } of values) {
      const entry = seen.get(value) ?? { where: [], label };
      if (!entry.where.includes(`${a.probe}@${a.target}`)) entry.where.push(`${a.probe}@${a.target}`);
      seen.set(value, entry);
    }
  }
  return recorded ? seen : undefined;
}

function compareKind(kind: UnitMaterialKind, reports: readonly Report[]): { check: UnitCheck; shared: SharedMaterial[] } {
  const rule = UNIT_RULES[kind];
  const perUnit = reports.map((r) => observe(r, rule));
  const withEvidence = perUnit.flatMap((s, i) => (s ? [i] : []));
  const values = new Map<string, { unit: number; where: string[] }[]>();
  const labels = new Map<string, string | undefined>();
  perUnit.forEach((seen, unit) => seen?.forEach(({ where, label }, value) => {
    values.set(value, [...(values.get(value) ?? []), { unit, where }]);
    if (!labels.get(value)) labels.set(value, label);
  }));
  const shared = [...values].filter(([, on]) => on.length > 1).map(([value, seenOn]): SharedMaterial => ({
    kind, code: rule.code, severity: rule.severity, requirements: rule.requirements, value, seenOn,
    message: rule.message(value, seenOn.length, labels.get(value)),
  }));
  const missing = reports.length - withEvidence.length;
  const partly = missing > 0 ? `; ${missing} unit(s) recorded none` : '';
  const verdict: UnitVerdict = shared.length > 0 ? 'fail' : withEvidence.length >= 2 ? 'pass' : 'not_determined';
  const reason = verdict === 'fail'
    ? `${shared.length} value(s) seen on more than one unit${partly}`
    : verdict === 'pass'
      ? `${values.size} value(s) on ${withEvidence.length} units, none on two${partly}`
      : `fewer than two units recorded it (${withEvidence.length}): nothing to compare`;
  return { check: { kind, title: rule.title, requirements: rule.requirements, verdict, unitsWithEvidence: withEvidence, reason }, shared };
}

function unitOf(folder: string, r: Report): ComparedUnit {
  const c = r.component;
  return { folder, runId: r.run.id, name: c.name, ...(c.vendor ? { vendor: c.vendor } : {}), ...(c.model ? { model: c.model } : {}), ...(c.serial ? { serial: c.serial } : {}) };
}

/** Thrown for runs that cannot be compared as different units (the same run, the same serial). */
export class UnitsRefused extends Error {}

function noticesFor(units: readonly ComparedUnit[]): string[] {
  const notices: string[] = [];
  const models = new Set(units.map((u) => `${u.vendor ?? '?'} ${u.model ?? '?'}`));
  if (models.size > 1) notices.push(`the runs are of different models (${[...models].join('; ')}): compared anyway, but compare-units is meant for units of one model`);
  const unnamed = units.filter((u) => !u.serial);
  if (unnamed.length > 0) notices.push(`no serial number in the profile of ${unnamed.map((u) => u.folder).join(', ')}: if two runs are of the same unit, what they share is expected`);
  return notices;
}

function refuseSameUnit(units: readonly ComparedUnit[]): void {
  for (let i = 0; i < units.length; i++) {
    for (let j = i + 1; j < units.length; j++) {
      if (units[i].runId === units[j].runId) throw new UnitsRefused(`${units[i].folder} and ${units[j].folder} are the same run (${units[i].runId})`);
      if (units[i].serial && units[i].serial === units[j].serial) throw new UnitsRefused(`${units[i].folder} and ${units[j].folder} are runs of the same unit (serial ${units[i].serial}): compare runs of different units`);
    }
  }
}

/** Compares the runs of two or more units; `tool` and `now` go into the report. */
export function compareUnits(runs: readonly { folder: string; report: Report }[], tool: UnitsComparison['tool'], now = new Date()): UnitsComparison {
  if (runs.length < 2) throw new UnitsRefused('give the run folders of two or more units');
  const units = runs.map((r) => unitOf(r.folder, r.report));
  refuseSameUnit(units);
  const results = (Object.keys(UNIT_RULES) as UnitMaterialKind[]).map((k) => compareKind(k, runs.map((r) => r.report)));
  const checks = results.map((r) => r.check);
  const requirementIds = [...new Set(checks.flatMap((c) => c.requirements))].sort();
  const requirements = requirementIds.map((id) => {
    const basis = checks.filter((c) => c.requirements.includes(id));
    const failed = basis.filter((c) => c.verdict === 'fail');
    const passed = basis.filter((c) => c.verdict === 'pass');
    const verdict: UnitVerdict = failed.length > 0 ? 'fail' : passed.length > 0 ? 'pass' : 'not_determined';
    const names = (list: UnitCheck[]) => list.map((c) => c.title).join(', ');
    const reason = verdict === 'fail' ? `shared between units: ${names(failed)}`
      : verdict === 'pass' ? `unique per unit as far as compared: ${names(passed)}${passed.length < basis.length ? `; not compared: ${names(basis.filter((c) => c.verdict !== 'pass'))}` : ''}`
        : `nothing compared: ${names(basis)}`;
    return { id, verdict, basis: basis.map((c) => c.kind), reason };
  });
  return {
    schemaVersion: 1, tool, comparedAt: now.toISOString(), units, notices: noticesFor(units), checks,
    shared: results.flatMap((r) => r.shared), requirements,
  };
}
