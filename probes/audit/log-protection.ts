import { randomBytes } from 'node:crypto';
import { defineProbe, finding, judge, notApplicable, type Finding, type ProbeContext, type ServiceUnderTest } from '../../src/sdk';
import { PHASE, accountLocks } from '../../src/protocols/auth/checks/common';
import {
  CR39_PARTS, auditLogInterface, compareLogs, identities, identityName, isSuccess, logRequest, readAsReader,
  type AuditLogHttp, type Identity, type LogChange, type LogSnapshot,
} from '../../src/protocols/audit/log-access';

const CR = 'CR 3.9';

/** The tries per identity, writes first: a DELETE that works leaves nothing to write to. */
const TRIES = [
  { method: 'POST', effect: 'alter' },
  { method: 'PATCH', effect: 'alter' },
  { method: 'PUT', effect: 'alter' },
  { method: 'DELETE', effect: 'delete' },
] as const;
type Try = (typeof TRIES)[number];

interface TryResult {
  identity: string;
  method: string;
  status?: number;
  /** What the authorised read afterwards showed; absent when the try was not made. */
  change?: LogChange;
  notTried?: string;
}

/** A forged record in the log's own shape, carrying a marker no genuine record has. */
function forgedBody(log: AuditLogHttp, before: LogSnapshot, marker: string, method: string): { body: string; contentType: string } {
  const json = before.format === 'json' || before.format === 'ndjson' || log.format === 'json' || log.format === 'ndjson';
  if (json) {
    const record = { time: new Date().toISOString(), user: 'admin', event: 'login-succeeded', message: `${marker} forged record` };
    return { body: method === 'PUT' && before.format === 'json' ? JSON.stringify([record]) : JSON.stringify(record), contentType: 'application/json' };
  }
  return { body: `<38>1 ${new Date().toISOString()} device audit - - - ${marker} forged record\n`, contentType: 'text/plain' };
}

/** One try as one identity, then the authorised read that shows what it did to the log. */
async function attempt(
  ctx: ProbeContext<unknown>, service: ServiceUnderTest, log: AuditLogHttp, who: Identity, reader: Identity, t: Try, before: LogSnapshot, marker: string,
): Promise<{ result: TryResult; after: LogSnapshot }> {
  const request = t.method === 'DELETE' ? { method: t.method } : { method: t.method, ...forgedBody(log, before, marker, t.method) };
  const response = await logRequest(ctx, service, log, who, request);
  const account = who.kind === 'anonymous' ? {} : { account: who.credential.username };
  ctx.actions.record(isSuccess(response.status)
    ? { kind: 'config-changed', ...account, detail: `audit log: ${t.method} ${log.path} answered ${response.status}` }
    : { kind: 'access-denied', ...account, detail: `audit log: ${t.method} ${log.path} answered ${response.status}` });
  const after = await readAsReader(ctx, service, log, reader);
  return { result: { identity: identityName(who), method: t.method, status: response.status, change: compareLogs(before, after, marker) }, after };
}

/** Whether a try changed the log in the way it aimed at (the status code does not count). */
function harmed(effect: Try['effect'], change: LogChange): boolean {
  if (effect === 'delete') return change.gone || change.missing > 0;
  return change.forged || change.missing > 0 || change.gone;
}

function describeChange(c: LogChange): string {
  if (c.gone) return 'the log is gone';
  const parts = [c.missing > 0 ? `${c.missing} record(s) missing` : '', c.forged ? 'the forged record is in the log' : ''].filter(Boolean);
  return parts.join(', ') || 'unchanged';
}

const FINDINGS = {
  'deletable-without-authentication': 'an unauthenticated DELETE removed audit records (CR 3.9)',
  'alterable-without-authentication': 'an unauthenticated write put a forged record into the audit log or replaced records (CR 3.9)',
  'deletable-by-unprivileged': 'the non-admin account deleted audit records (CR 3.9)',
  'alterable-by-unprivileged': 'the non-admin account put a forged record into the audit log or replaced records (CR 3.9)',
} as const;

/** The finding for who did what; typed against FINDINGS (the names come from this table, not from literals). */
const FINDING: Record<'anonymous' | 'unprivileged', Record<Try['effect'], keyof typeof FINDINGS>> = {
  anonymous: { delete: 'deletable-without-authentication', alter: 'alterable-without-authentication' },
  unprivileged: { delete: 'deletable-by-unprivileged', alter: 'alterable-by-unprivileged' },
};

export default defineProbe({
  id: 'audit.log-protection',
  protocol: 'audit',
  title: 'Neither a non-admin account nor an unauthenticated client can delete or alter the audit log (CR 3.9)',
  description: 'DESTRUCTIVE: on a non-compliant device the audit log is really deleted or altered (the authorised read before the '
    + 'first try is kept as evidence). Without credentials and then as the non-admin account (credentials.audit.unprivileged), sends '
    + 'POST, PATCH and PUT with a forged record carrying a random marker, then DELETE, to the declared log path (policy.auditLog.http); '
    + 'after each, reads the log as the authorised account (credentials.audit.reader) and compares the records: a record missing '
    + '(rotation of the oldest excepted), the marker present or the log gone is a finding whatever status the device answered. '
    + 'CR 3.9 passes only together with audit.log-access (reading).',
  requirements: [CR],
  findings: FINDINGS,

  safety: 'destructive',
  scope: 'service',
  appliesTo: ['http', 'https'],
  // After the phase-0 login probes (the log then holds their records), before lockout and the audit probes (which
  // check that the device logged these reads and refusals).
  phase: PHASE.sessions,
  timeoutMs: 90_000,
  locks: ({ host, credentials }) => [
    { key: `audit-log:${host.host}`, mode: 'exclusive' },
    ...accountLocks(host, undefined, ['audit.reader', 'audit.unprivileged'].flatMap((k) => credentials.get(k)?.username ?? []), 'shared'),
  ],
  async run(ctx) {
    const declared = auditLogInterface(ctx);
    if ('notApplicable' in declared) return { observations: {}, findings: [], outcomes: notApplicable([CR], declared.notApplicable) };
    if ('notDetermined' in declared) return { observations: { notDetermined: declared.notDetermined }, findings: [], outcomes: [] };
    const log = declared.http;
    const { reader, unprivileged } = identities(ctx);
    if (!reader) return { observations: { notDetermined: 'no authorised account (credentials.audit.reader): what a try did to the log cannot be verified' }, findings: [], outcomes: [] };
    const service = ctx.service!;
    let before = await readAsReader(ctx, service, log, reader);
    if (!isSuccess(before.status) || before.records.length === 0) {
      return { observations: { status: before.status, records: before.records.length, notDetermined: `the authorised read answered ${before.status} with ${before.records.length} record(s): nothing to compare a try against` }, findings: [], outcomes: [] };
    }
    const kept = ctx.evidence.save('audit-log-before.json', { path: log.path, account: reader.credential.username, ...before });
    const recordsBefore = before.records.length;
    const marker = `iacs-probe-forged-${randomBytes(6).toString('hex')}`;
    const results: (TryResult & { who: Identity['kind']; effect: Try['effect'] })[] = [];
    for (const who of [{ kind: 'anonymous' } as const, ...(unprivileged ? [unprivileged] : [])]) {
      for (const t of TRIES) {
        if (before.records.length === 0) {
          results.push({ who: who.kind, effect: t.effect, identity: identityName(who), method: t.method, notTried: 'the log was already gone or empty' });
          continue;
        }
        const { result, after } = await attempt(ctx, service, log, who, reader, t, before, marker);
        results.push({ ...result, who: who.kind, effect: t.effect });
        before = after;
      }
    }
    const tries = results.map(({ who: _w, effect: _e, ...r }) => r);
    const evidence = [kept, ctx.evidence.save('log-protection.json', { path: log.path, marker, tries })];
    const findings: Finding[] = [];
    for (const r of results) {
      const code = FINDING[r.who === 'anonymous' ? 'anonymous' : 'unprivileged'][r.effect];
      if (!r.change || !harmed(r.effect, r.change) || findings.some((f) => f.code === code)) continue;
      findings.push(finding({
        code, severity: 'high', requirements: [CR], evidence,
        message: `${r.who === 'anonymous' ? 'without credentials' : `as the non-admin ${r.identity}`}, ${r.method} ${log.path} answered ${r.status}: ${describeChange(r.change)}`,
      }));
    }
    const unverified = results.filter((r) => r.notTried || r.change?.unverifiable);
    const coverage = unprivileged && unverified.length === 0 ? 'full' : 'partial';
    // A device that answers 2xx and changes nothing misleads its users, but the log is intact: an observation, not a finding.
    const claimed = results.filter((r) => r.status !== undefined && isSuccess(r.status) && r.change && !r.change.unverifiable && !harmed(r.effect, r.change));
    return {
      observations: {
        path: log.path, recordsBefore, tries,
        ...(claimed.length > 0 ? { acceptedWithoutEffect: claimed.map((r) => `${r.identity} ${r.method}: ${r.status}`) } : {}),
        ...(coverage === 'partial' ? { partialBecause: [...(unprivileged ? [] : ['no non-admin account declared (credentials.audit.unprivileged)']), ...unverified.map((r) => `${r.identity} ${r.method}: ${r.notTried ?? r.change?.unverifiable}`)] } : {}),
      },
      findings,
      outcomes: judge([{
        requirement: CR, coverage, part: { name: 'modify', of: [...CR39_PARTS] },
        passReason: `${results.filter((r) => r.change).length} write and delete tries (${[...new Set(results.map((r) => r.identity))].join(', ')}) left every record of the log in place`,
      }], findings),
    };
  },
});
