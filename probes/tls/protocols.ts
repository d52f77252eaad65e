import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import {
  FORBIDDABLE_SUITE_FLAGS, HELLO_PACING_SCHEMA, PROTOCOLS, SUITE_TABLE, TLS_CAPABLE_PROTOCOLS, checkTlsPolicy, helloPacing, isTlsService,
  namedGroupByName, scanTls, suiteByName, tlsEndpoint, type HelloPacing, type ScanCheck, type SuiteFlag, type TlsProtocol,
  type TlsScanResult,
} from '../../src/protocols/tls';

/** Finding name and severity per protocol version a policy may disallow. */
const PROTOCOL_RULES: Readonly<Record<TlsProtocol, { name: string; severity: Finding['severity'] }>> = {
  SSLv3: { name: 'sslv3', severity: 'high' },
  TLSv1: { name: 'tls1-0', severity: 'medium' },
  'TLSv1.1': { name: 'tls1-1', severity: 'medium' },
  'TLSv1.2': { name: 'tls1-2', severity: 'low' },
  'TLSv1.3': { name: 'tls1-3', severity: 'low' },
};
const PROTOCOL_REQS = ['CR 4.3', 'CR 4.1', 'CR 3.1 RE(1)'];
/** Every requirement this probe judges: a version whose support or suite list is unknown could hide a finding of any. */
const JUDGED = ['CR 4.3', 'CR 4.1', 'CR 3.1', 'CR 3.1 RE(1)'];

/** Finding per forbidden suite category; the name is suite-<flag in lower case> (suiteFinding). */
const SUITE_RULES: Partial<Record<SuiteFlag, { severity: Finding['severity']; requirements: string[]; what: string }>> = {
  NULL: { severity: 'critical', requirements: ['CR 4.1', 'CR 4.3'], what: 'no encryption (NULL)' },
  anon: { severity: 'high', requirements: ['CR 4.3', 'CR 4.1', 'CR 3.1'], what: 'no server authentication (anonymous, open to man-in-the-middle)' },
  EXPORT: { severity: 'high', requirements: ['CR 4.3', 'CR 4.1'], what: 'export-grade keys' },
  RC4: { severity: 'high', requirements: ['CR 4.3', 'CR 4.1'], what: 'RC4 (RFC 7465)' },
  RC2: { severity: 'high', requirements: ['CR 4.3', 'CR 4.1'], what: 'RC2' },
  DES: { severity: 'high', requirements: ['CR 4.3', 'CR 4.1'], what: 'single DES' },
  '3DES': { severity: 'medium', requirements: ['CR 4.3', 'CR 4.1'], what: '3DES (64-bit block, Sweet32)' },
  IDEA: { severity: 'medium', requirements: ['CR 4.3'], what: 'IDEA (64-bit block)' },
  MD5: { severity: 'medium', requirements: ['CR 4.3', 'CR 3.1 RE(1)'], what: 'HMAC-MD5 record integrity' },
  SHA1: { severity: 'low', requirements: ['CR 4.3', 'CR 3.1 RE(1)'], what: 'HMAC-SHA1 record integrity' },
  CBC: { severity: 'low', requirements: ['CR 4.3'], what: 'CBC mode (not AEAD)' },
};
const OTHER_SUITE_RULE = { severity: 'low' as const, requirements: ['CR 4.3'] };

/** The finding name of an accepted suite with a forbidden flag: suite-rc4, suite-3des, suite-non-iana. */
function suiteFinding(flag: SuiteFlag): string {
  return `suite-${flag.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
}

/**
 * Every finding tls.protocols can report, built from the same tables the judgement uses: one per protocol
 * version, one per suite flag a policy may forbid (FORBIDDABLE_SUITE_FLAGS, so a profile's own policy
 * raises only declared names), and the key-exchange and extension checks.
 */
const FINDINGS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(PROTOCOLS.map((p) => [PROTOCOL_RULES[p].name, `${p} is accepted although the policy does not allow it`])),
  ...Object.fromEntries(FORBIDDABLE_SUITE_FLAGS.map((f) => [
    suiteFinding(f), `an accepted suite with ${SUITE_RULES[f]?.what ?? `the ${f} flag (${SUITE_TABLE.flags[f]})`}, which the policy forbids`,
  ])),
  'no-forward-secrecy': 'a static RSA/DH suite (no forward secrecy) is accepted while the policy requires forward secrecy',
  'weak-dh': 'a DHE prime below the policy minimum is used',
  'weak-group': 'an ECDHE or TLS 1.3 group below the policy minimum is accepted',
  'no-secure-renegotiation': 'the server does not support secure renegotiation (RFC 5746)',
  compression: 'the server accepts TLS compression (CRIME)',
  'no-fallback-scsv': 'a TLS_FALLBACK_SCSV downgrade is not refused (RFC 7507)',
};

/** Turns a scan into findings (by name) under one policy level. Exported for the policy tests. */
export function tlsFindings(r: TlsScanResult, policyRaw: unknown, evidence: string[]): Finding[] {
  const policy = checkTlsPolicy(policyRaw);
  const out: Finding[] = [];
  const add = (code: string, severity: Finding['severity'], requirements: string[], message: string) => {
    out.push(finding({ code, severity, requirements, message, evidence }));
  };
  for (const p of PROTOCOLS) {
    if (r.protocols[p] && !policy.protocols.allowed.includes(p)) {
      add(PROTOCOL_RULES[p].name, PROTOCOL_RULES[p].severity, PROTOCOL_REQS, `${p} is accepted (policy allows ${policy.protocols.allowed.join(', ')})`);
    }
  }
  const accepted = PROTOCOLS.flatMap((p) => (r.suites[p] ?? []).map((s) => ({ protocol: p, ...s })));
  const list = (items: { name: string; protocol: string }[]) => {
    const byName = new Map<string, string[]>();
    for (const i of items) byName.set(i.name, [...(byName.get(i.name) ?? []), i.protocol]);
    return [...byName].map(([n, ps]) => `${n} (${ps.join(', ')})`).join(', ');
  };
  for (const flag of policy.suites.forbidden) {
    const hits = accepted.filter((s) => suiteByName(s.name)?.flags.includes(flag));
    if (hits.length === 0) continue;
    const rule = SUITE_RULES[flag];
    add(suiteFinding(flag), rule?.severity ?? OTHER_SUITE_RULE.severity, rule?.requirements ?? OTHER_SUITE_RULE.requirements,
      `${new Set(hits.map((h) => h.name)).size} accepted suite(s) with ${rule?.what ?? flag}: ${list(hits)}`);
  }
  if (policy.suites.requireForwardSecrecy) {
    const noFs = accepted.filter((s) => !suiteByName(s.name)?.flags.includes('FS'));
    if (noFs.length > 0) {
      add('no-forward-secrecy', 'medium', ['CR 4.3', 'CR 4.1'],
        `${new Set(noFs.map((s) => s.name)).size} accepted suite(s) without forward secrecy (static RSA/DH key exchange): ${list(noFs)}`);
    }
  }
  const weakDh = accepted.filter((s) => s.dhBits !== undefined && s.dhBits < policy.keyExchange.minDhBits);
  if (weakDh.length > 0) {
    add('weak-dh', 'medium', ['CR 4.3'],
      `DHE with a ${Math.min(...weakDh.map((s) => s.dhBits!))}-bit prime (policy minimum ${policy.keyExchange.minDhBits}): ${list(weakDh)}`);
  }
  const groupNames = new Set([...(r.groups['TLSv1.3'] ?? []), ...(r.groups.ECDHE ?? []), ...accepted.flatMap((s) => (s.group ? [s.group] : []))]);
  const weakGroups = [...groupNames].filter((name) => {
    const g = namedGroupByName(name);
    if (!g) return false;
    return g.kind === 'ffdhe' ? g.bits < policy.keyExchange.minDhBits : g.bits < policy.keyExchange.minEcBits;
  });
  if (weakGroups.length > 0) {
    add('weak-group', 'medium', ['CR 4.3'],
      `key-exchange group(s) below the policy (EC ${policy.keyExchange.minEcBits} bit, DH ${policy.keyExchange.minDhBits} bit): ${weakGroups.join(', ')}`);
  }
  if (policy.requireSecureRenegotiation && r.secureRenegotiation === false) {
    add('no-secure-renegotiation', 'medium', ['CR 3.1'], 'the server does not support secure renegotiation (RFC 5746 renegotiation_info)');
  }
  if (policy.forbidCompression && r.compression === true) {
    add('compression', 'medium', ['CR 4.1'], 'the server accepts TLS compression (CRIME)');
  }
  if (policy.requireFallbackScsv && r.fallbackScsv === false) {
    add('no-fallback-scsv', 'low', ['CR 3.1 RE(1)'], 'the server accepts a downgraded hello marked TLS_FALLBACK_SCSV (RFC 7507): version fallback is not prevented');
  }
  return out;
}

/** The requirements each undetermined part of a scan leaves without a pass under the policy (null: none). */
function affected(check: ScanCheck, policy: ReturnType<typeof checkTlsPolicy>): readonly string[] | null {
  if ((PROTOCOLS as readonly string[]).includes(check)) return JUDGED;
  switch (check) {
    case 'groups.TLSv1.3':
    case 'groups.ECDHE': return ['CR 4.3'];
    case 'fallbackScsv': return policy.requireFallbackScsv ? ['CR 3.1 RE(1)'] : null;
    case 'compression': return policy.forbidCompression ? ['CR 4.1'] : null;
    case 'secureRenegotiation': return policy.requireSecureRenegotiation ? ['CR 3.1'] : null;
    default: return null; // server order and the certificate flight are observations, not judged here
  }
}

/**
 * Requirements whose pass the scan cannot support, each with what stayed unanswered. A finding that was observed
 * still fails its requirement; only the pass is withheld, which leaves the row not_determined. Exported for tests.
 */
export function undeterminedRequirements(r: TlsScanResult, policyRaw: unknown): Map<string, string[]> {
  const policy = checkTlsPolicy(policyRaw);
  const out = new Map<string, string[]>();
  for (const [check, why] of Object.entries(r.incomplete) as [ScanCheck, string][]) {
    for (const requirement of affected(check, policy) ?? []) out.set(requirement, [...(out.get(requirement) ?? []), `${check}: ${why}`]);
  }
  return out;
}

export default defineProbe<HelloPacing>({
  id: 'tls.protocols',
  protocol: 'tls',
  title: 'TLS protocol versions, cipher suites and key exchange',
  description:
    'Sends hand-built ClientHellos (no handshake is completed) to learn which of SSLv3, TLS 1.0-1.3 the service accepts and '
    + 'which cipher suites per version, including NULL, anonymous, EXPORT, RC4 and 3DES suites that no modern TLS library can '
    + 'negotiate: it offers a set, removes the suite the server chose and offers again. Also records whether the server '
    + 'enforces its suite order, the ECDHE/TLS 1.3 groups and DHE sizes, TLS_FALLBACK_SCSV, secure renegotiation and '
    + 'compression, and judges them against the TLS baseline of the target SL. A hello that a slow or rate-limiting device '
    + 'leaves unanswered is sent again after a pause; what stays unanswered is named and gets no pass.',
  requirements: ['CR 4.3', 'CR 4.1', 'CR 3.1', 'CR 3.1 RE(1)'],
  findings: FINDINGS,
  safety: 'active',
  scope: 'service',
  appliesTo: TLS_CAPABLE_PROTOCOLS,
  when: isTlsService,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: { ...HELLO_PACING_SCHEMA },
    },
    defaults: {},
  },
  timeoutMs: 120_000,
  async run(ctx) {
    const service = ctx.service!;
    const transcript = 'handshakes.ndjson';
    let transcriptPath: string | undefined;
    const result = await scanTls(tlsEndpoint(service), {
      signal: ctx.signal,
      deadline: ctx.deadline,
      wait: ctx.wait,
      ...helloPacing(ctx.inputs),
      onExchange: (entry) => {
        transcriptPath = ctx.evidence.append(transcript, JSON.stringify(entry));
      },
    });
    const { certificates, ...rest } = result;
    const scanPath = ctx.evidence.save('scan.json', {
      ...rest, certificatesSeen: certificates ? { protocol: certificates.protocol, count: certificates.chain.length } : null,
    });
    const evidence = [scanPath, ...(transcriptPath ? [transcriptPath] : [])];
    const findings = tlsFindings(result, ctx.baseline('tls'), evidence);
    const undetermined = undeterminedRequirements(result, ctx.baseline('tls'));
    const notDetermined = Object.fromEntries([...undetermined].map(([requirement, why]) => [requirement, why.join('; ')]));
    return {
      observations: {
        protocols: result.protocols,
        complete: result.complete,
        incomplete: result.incomplete,
        ciphers: result.ciphers,
        serverOrder: result.serverOrder,
        keyExchange: { forwardSecrecy: result.forwardSecrecy, groups: result.groups, minDhBits: result.minDhBits, suites: result.suites },
        fallbackScsv: result.fallbackScsv,
        secureRenegotiation: result.secureRenegotiation,
        extendedMasterSecret: result.extendedMasterSecret,
        compression: result.compression,
        ocspStapling: result.ocspStapling,
        clientCertificate: result.clientCertificate,
        exchanges: result.exchanges,
        retries: result.retries,
        ...(result.notes.length ? { notes: result.notes } : {}),
        ...(undetermined.size > 0 ? {
          notDetermined,
          note: `no pass for ${[...undetermined.keys()].join(', ')}: the service left parts of the scan unanswered (${Object.entries(result.incomplete).map(([k, v]) => `${k}: ${v}`).join('; ')})`,
        } : {}),
      },
      findings,
      outcomes: judge([
        { requirement: 'CR 4.3', coverage: 'partial', passReason: 'protocol versions, cipher suites and key exchange of this TLS service follow the baseline; its certificate is judged by tls.certificate' },
        { requirement: 'CR 4.1', coverage: 'partial', passReason: 'no deprecated protocol version and no suite without strong encryption on this service (other interfaces and data at rest not examined)' },
        { requirement: 'CR 3.1', coverage: 'partial', passReason: 'every accepted suite authenticates the server and protects integrity; secure renegotiation supported' },
        { requirement: 'CR 3.1 RE(1)', coverage: 'partial', passReason: 'no legacy protocol, no MD5 record MAC, and downgrade protection where several versions are accepted' },
      ], findings).filter((o) => o.verdict !== 'pass' || !undetermined.has(o.requirement)),
    };
  },
});
