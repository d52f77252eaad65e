/**
 * Text hygiene shared by the reporters. Report strings come from devices (banners, certificate subjects,
 * device names) and may hold anything: markup, CDATA terminators, control characters, lone surrogates.
 */
import type { Attempt, AttemptStatus, FrGap, FrReadiness, Report, RequirementVerdict, RequirementVerdictValue } from './model';

/**
 * Makes a string safe for XML 1.0 and HTML text while keeping what was there visible: C0 control
 * characters (other than tab, LF, CR) become their Unicode "control picture" (U+2400 + code, so ESC
 * shows as ␛), DEL becomes ␡, and what XML 1.0 forbids otherwise (lone surrogates, U+FFFE, U+FFFF, C1
 * controls are allowed but discouraged and invisible) becomes U+FFFD.
 */
export function visible(text: string): string {
  // The u flag makes lone surrogates single code points, so they match the last class. Matching control
  // characters is the point here.
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]|[\u0080-\u009F\uFFFE\uFFFF]|[\uD800-\uDFFF]/gu, (c) => {
    const code = c.codePointAt(0)!;
    if (code < 0x20) return String.fromCodePoint(0x2400 + code);
    if (code === 0x7f) return '\u2421';
    return '\uFFFD';
  });
}

/** Text or attribute content for HTML and XML: visible() plus the five markup characters. */
export function escapeMarkup(text: string): string {
  return visible(text).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** XML attribute value: like escapeMarkup, with line breaks and tabs kept as character references. */
export function escapeAttribute(text: string): string {
  return escapeMarkup(text).replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

/** A CDATA section holding any text: "]]>" inside is split across two sections. */
export function cdata(text: string): string {
  return `<![CDATA[${visible(text).replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

/** The verdict letters of IECEE test report forms. */
export const VERDICT_MARK: Record<RequirementVerdictValue, string> = {
  pass: 'P', fail: 'F', not_applicable: 'N/A', not_determined: 'N/D',
};

export const VERDICT_WORDS: Record<RequirementVerdictValue, string> = {
  pass: 'pass', fail: 'fail', not_applicable: 'not applicable', not_determined: 'not determined',
};

export const FR_SHORT: Record<string, string> = { FR1: 'IAC', FR2: 'UC', FR3: 'SI', FR4: 'DC', FR5: 'RDF', FR6: 'TRE', FR7: 'RA' };

export const FR_TITLES: Record<string, string> = {
  FR1: 'Identification and authentication control', FR2: 'Use control', FR3: 'System integrity',
  FR4: 'Data confidentiality', FR5: 'Restricted data flow', FR6: 'Timely response to events', FR7: 'Resource availability',
};

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;

/** "CR 1.1 is required at SL 2-4". */
export function levelsText(levels: readonly number[]): string {
  if (levels.length === 0) return 'no level';
  const sorted = [...levels].sort();
  return sorted.length === 1 ? `SL ${sorted[0]}` : `SL ${sorted[0]}-${sorted[sorted.length - 1]}`;
}

/** The host part of an attempt's target ("host:port", "[v6]:port", "host"), matched against the report's targets. */
export function hostOf(report: Report, attempt: Attempt): string {
  for (const t of report.targets) {
    if (attempt.target === t.host || attempt.target.startsWith(`${t.host}:`) || attempt.target.startsWith(`[${t.host}]`)) return t.host;
  }
  const bracket = /^\[([^\]]+)\]/.exec(attempt.target);
  if (bracket) return bracket[1];
  const colon = attempt.target.lastIndexOf(':');
  return colon > 0 && attempt.target.indexOf(':') === colon ? attempt.target.slice(0, colon) : attempt.target;
}

export const ATTEMPT_STATUSES: readonly AttemptStatus[] = ['pass', 'fail', 'not_applicable', 'not_determined', 'error', 'skipped'];

/** What happened on one target host: attempts by status, findings by severity, when its first attempt started and its last ended. */
export interface HostSummary {
  host: string;
  name: string;
  attempts: number;
  byStatus: Record<AttemptStatus, number>;
  findings: Record<(typeof SEVERITIES)[number], number>;
  /** ISO times of the host's first attempt start and last attempt end; null when it has no attempt. */
  firstStart: string | null;
  lastEnd: string | null;
}

/** One summary per target of the report, in the report's target order. */
export function hostSummaries(report: Report): HostSummary[] {
  const byHost = new Map<string, Attempt[]>(report.targets.map((t) => [t.host, []]));
  for (const a of report.attempts) byHost.get(hostOf(report, a))?.push(a);
  return report.targets.map((t) => {
    const attempts = byHost.get(t.host) ?? [];
    const byStatus = Object.fromEntries(ATTEMPT_STATUSES.map((s) => [s, attempts.filter((a) => a.status === s).length])) as Record<AttemptStatus, number>;
    const severities = attempts.flatMap((a) => a.findings.map((f) => f.severity));
    const findings = Object.fromEntries(SEVERITIES.map((s) => [s, severities.filter((x) => x === s).length])) as HostSummary['findings'];
    const starts = attempts.map((a) => Date.parse(a.startedAt)).filter(Number.isFinite);
    const ends = attempts.map((a) => Date.parse(a.startedAt) + a.durationMs).filter(Number.isFinite);
    return {
      host: t.host, name: t.name, attempts: attempts.length, byStatus, findings,
      firstStart: starts.length ? new Date(Math.min(...starts)).toISOString() : null,
      lastEnd: ends.length ? new Date(Math.max(...ends)).toISOString() : null,
    };
  });
}

/** The attempts a requirement's basis names ("probe@target"). */
export function basisAttempts(report: Report, basis: readonly string[]): Attempt[] {
  const keys = new Set(basis);
  return report.attempts.filter((a) => keys.has(`${a.probe}@${a.target}`));
}

/** Evidence files behind a requirement: of the attempts in its basis, and of the findings citing it. */
export function evidenceFor(report: Report, requirement: { id: string; basis: readonly string[] }): string[] {
  const files = new Set<string>();
  for (const a of basisAttempts(report, requirement.basis)) {
    for (const f of a.findings) if (f.requirements.includes(requirement.id)) f.evidence.forEach((e) => files.add(e));
    a.evidence.forEach((e) => files.add(e));
  }
  return [...files];
}

/** What was done for a requirement, in words for a test report form. */
export function testPerformed(requirement: RequirementVerdict): string {
  const probes = new Map<string, string[]>();
  for (const b of requirement.basis) {
    if (b === 'manual') continue;
    const at = b.indexOf('@');
    const probe = at === -1 ? b : b.slice(0, at);
    probes.set(probe, [...(probes.get(probe) ?? []), at === -1 ? '' : b.slice(at + 1)]);
  }
  const parts = [...probes].map(([probe, targets]) => `probe ${probe} on ${targets.filter(Boolean).join(', ')}`);
  const a = requirement.attestation;
  if (a && requirement.source === 'manual') {
    parts.push(`manual attestation (documentation review / manual test) by ${a.reviewer} on ${a.date}${a.evidence ? `, evidence: ${a.evidence}` : ''}`);
  }
  return parts.length > 0 ? parts.join('; ') : 'none performed';
}

function rowCount(n: number): string {
  return `${n} row${n === 1 ? '' : 's'}`;
}

/** What keeps an FR at its readiness level: "SL 3 blocked by 1 failing (CR 4.3), 2 not evidenced (CR 4.1, CR 4.2)". */
export function readinessBlockText(blocked: NonNullable<FrReadiness['blockedAt']>): string {
  const parts = [
    blocked.failing.length ? `${blocked.failing.length} failing (${blocked.failing.join(', ')})` : '',
    blocked.notEvidenced.length ? `${blocked.notEvidenced.length} not evidenced by probes (${blocked.notEvidenced.join(', ')})` : '',
  ].filter(Boolean);
  return `SL ${blocked.level} blocked by ${parts.join(', ')}`;
}

/**
 * One FR's readiness in a sentence: "no probe-testable row blocks SL 2; 5 rows evidenced by probes, 14 rows to attest for SL 2".
 * Undefined for a report written before readiness existed.
 */
export function readinessText(gap: FrGap): string | undefined {
  const r = gap.readiness;
  if (!r) return undefined;
  const head = r.level > 0 ? `no probe-testable row blocks SL ${r.level}` : 'probe-testable rows block SL 1';
  const block = r.blockedAt && r.blockedAt.level <= Math.max(gap.target, 1) ? `; ${readinessBlockText(r.blockedAt)}` : '';
  const attest = gap.target > 0
    ? `; ${rowCount(r.probeEvidenced.length)} evidenced by probes, ${rowCount(r.needAttestation.length)} to attest for SL ${gap.target}` : '';
  return `${head}${block}${attest}`;
}
