import { defineProbe, finding, judge, notApplicable, type Finding, type Judgement, type ProbeContext, type ServiceUnderTest } from '../../src/sdk';
import { PHASE, accountLocks } from '../../src/protocols/auth/checks/common';
import {
  CR39_PARTS, MACHINE_READABLE, auditLogInterface, commonRecords, identities, identityName, isSuccess, logRequest, readAsReader, recognisedRecords, snapshotOf,
  type AuditLogHttp, type Identity, type LogSnapshot,
} from '../../src/protocols/audit/log-access';

const ACCESS = 'CR 6.1';
const PROGRAMMATIC = 'CR 6.1 RE(1)';
const PROTECTION = 'CR 3.9';

interface OtherRead {
  identity: string;
  status: number;
  format: string;
  records: number;
  /** Records it shares with the authorised read: more than none is the log itself. */
  shared: number;
}

/** Reads the log as a non-authorised identity; records the refusal (or the read) in the action log. */
async function readAs(ctx: ProbeContext<unknown>, service: ServiceUnderTest, log: AuditLogHttp, identity: Identity, authorised: LogSnapshot): Promise<OtherRead> {
  const response = await logRequest(ctx, service, log, identity);
  const snapshot = snapshotOf(response);
  // A 2xx holding the log in another rendering (HTML view, fields added per viewer) is a read too.
  const shared = isSuccess(snapshot.status) ? Math.max(commonRecords(authorised, snapshot), recognisedRecords(authorised, response.body)) : 0;
  const account = identity.kind === 'anonymous' ? {} : { account: identity.credential.username };
  ctx.actions.record(shared > 0
    ? { kind: 'config-read', ...account, detail: `audit log read: GET ${log.path} answered ${snapshot.status}` }
    : { kind: 'access-denied', ...account, detail: `audit log: GET ${log.path} answered ${snapshot.status}` });
  return { identity: identityName(identity), status: snapshot.status, format: snapshot.format, records: snapshot.records.length, shared };
}

/** The documentation promises a format a program reads (json, ndjson, syslog). */
const promisesMachineReadable = (log: AuditLogHttp) => log.format !== undefined && MACHINE_READABLE.has(log.format);

/** CR 6.1 and RE(1) from the authorised read. */
function accessFindings(log: AuditLogHttp, read: LogSnapshot, evidence: string[]): Finding[] {
  if (!isSuccess(read.status)) {
    return [finding({ code: 'not-readable', severity: 'high', requirements: [ACCESS], evidence, message: `the authorised account cannot read the audit log: GET ${log.path} answered ${read.status}` })];
  }
  if (read.records.length === 0) {
    return [finding({ code: 'log-empty', severity: 'medium', requirements: [ACCESS], evidence, message: `GET ${log.path} answered ${read.status} without any audit record (${read.bytes} bytes)` })];
  }
  if (!MACHINE_READABLE.has(read.format) && promisesMachineReadable(log)) {
    return [finding({
      code: 'not-machine-readable', severity: 'medium', requirements: [PROGRAMMATIC], evidence,
      message: `the interface documented as ${log.format} returns ${read.format === 'html' ? 'an HTML page' : 'unstructured text lines'}: records cannot be read by a program without scraping`,
    })];
  }
  return [];
}

export default defineProbe({
  id: 'audit.log-access',
  protocol: 'audit',
  title: 'The audit log is readable by the authorised account, in a machine-readable form, and by no one else (CR 6.1, 6.1 RE(1), 3.9)',
  description: 'Reads the audit log at the declared HTTP(S) path (policy.auditLog.http) with basic authentication: as the authorised '
    + 'account (credentials.audit.reader: must answer 2xx with records: JSON array, NDJSON or syslog lines make it machine-readable; '
    + 'an HTML page or unstructured text is readable by people only), then as the non-admin account (credentials.audit.unprivileged) and '
    + 'without credentials: a response that holds records of the log is a read CR 3.9 forbids. Reads only (GET); records each read '
    + 'or refusal in the action log. CR 3.9 passes only together with audit.log-protection (deleting and altering).',
  requirements: [ACCESS, PROGRAMMATIC, PROTECTION],
  findings: {
    'not-readable': 'the authorised account cannot read the audit log at the documented path (CR 6.1)',
    'log-empty': 'the documented path answers without any audit record (CR 6.1)',
    'not-machine-readable': 'the interface documented as machine-readable returns HTML or unstructured text (CR 6.1 RE(1))',
    'readable-by-unprivileged': 'the non-admin account reads the audit log (CR 3.9)',
    'readable-without-authentication': 'the audit log is read without any credentials (CR 3.9)',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['http', 'https'],
  // After the phase-0 login probes (the log then holds their records), before lockout and the audit probes (which
  // check that the device logged these reads and refusals).
  phase: PHASE.sessions,
  timeoutMs: 60_000,
  locks: ({ host, credentials }) => accountLocks(host, undefined, ['audit.reader', 'audit.unprivileged'].flatMap((k) => credentials.get(k)?.username ?? []), 'shared'),
  async run(ctx) {
    const declared = auditLogInterface(ctx);
    if ('notApplicable' in declared) return { observations: {}, findings: [], outcomes: notApplicable([ACCESS, PROGRAMMATIC, PROTECTION], declared.notApplicable) };
    if ('notDetermined' in declared) return { observations: { notDetermined: declared.notDetermined }, findings: [], outcomes: [] };
    const log = declared.http;
    const { reader, unprivileged } = identities(ctx);
    if (!reader) return { observations: { notDetermined: 'no authorised account (credentials.audit.reader): the log cannot be read' }, findings: [], outcomes: [] };
    const service = ctx.service!;

    const authorised = await readAsReader(ctx, service, log, reader);
    if (isSuccess(authorised.status)) ctx.actions.record({ kind: 'config-read', account: reader.credential.username, detail: `audit log read: GET ${log.path}` });
    const others: OtherRead[] = [];
    if (isSuccess(authorised.status) && authorised.records.length > 0) {
      others.push(await readAs(ctx, service, log, { kind: 'anonymous' }, authorised));
      if (unprivileged) others.push(await readAs(ctx, service, log, unprivileged, authorised));
    }
    const evidence = [ctx.evidence.save('log-access.json', {
      path: log.path, declaredFormat: log.format ?? null,
      authorised: { account: reader.credential.username, ...authorised },
      others,
    })];

    const findings = accessFindings(log, authorised, evidence);
    for (const o of others.filter((x) => isSuccess(x.status) && x.shared > 0)) {
      const anonymous = o.identity === 'unauthenticated';
      findings.push(finding({
        code: anonymous ? 'readable-without-authentication' : 'readable-by-unprivileged', severity: 'high', requirements: [PROTECTION], evidence,
        message: `${anonymous ? 'without credentials' : `as the non-admin ${o.identity}`}, GET ${log.path} answered ${o.status} with ${o.records} record(s), ${o.shared} of them in the authorised read`,
      }));
    }
    const judgements: Judgement[] = [];
    if (isSuccess(authorised.status)) {
      if (authorised.records.length > 0 || findings.length > 0) {
        judgements.push({ requirement: ACCESS, coverage: 'full', passReason: `the authorised account ${reader.credential.username} read ${authorised.records.length} record(s) (${authorised.format}) at ${log.path}` });
      }
      // RE(1) fails only where a machine-readable format was promised; an HTML page alone leaves it open.
      if (authorised.records.length > 0 && (MACHINE_READABLE.has(authorised.format) || promisesMachineReadable(log))) {
        judgements.push({ requirement: PROGRAMMATIC, coverage: 'full', passReason: `the records come as ${authorised.format}, readable by a program` });
      }
    } else {
      judgements.push({ requirement: ACCESS, coverage: 'full', passReason: '' });
    }
    if (others.length > 0) {
      judgements.push({
        requirement: PROTECTION, coverage: unprivileged ? 'full' : 'partial', part: { name: 'read', of: [...CR39_PARTS] },
        passReason: `${others.map((o) => `${o.identity}: ${o.status}`).join(', ')}: no record of the log read by anyone but the authorised account`
          + (unprivileged ? '' : ' (no non-admin account declared: credentials.audit.unprivileged)'),
      });
    }
    const notJudged = [
      ...(authorised.records.length === 0 ? ['CR 3.9: the authorised read held no record to recognise in the others\' answers'] : []),
      ...(isSuccess(authorised.status) && authorised.records.length > 0 && !MACHINE_READABLE.has(authorised.format) && !promisesMachineReadable(log)
        ? [`CR 6.1 RE(1): the declared interface returns ${authorised.format} for people; declare the device's API (format json, ndjson or syslog) if it has one`]
        : []),
    ];
    return {
      observations: {
        path: log.path, declaredFormat: log.format ?? null, status: authorised.status, format: authorised.format, records: authorised.records.length,
        others, ...(notJudged.length > 0 ? { notDetermined: notJudged.join('; ') } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
