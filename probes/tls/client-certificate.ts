import { defineProbe, finding, judge, notApplicable, type Finding } from '../../src/sdk';
import {
  HELLO_PACING_SCHEMA, TLS_CAPABLE_PROTOCOLS, fullHandshake, generateKey, helloPacing, inspectServer, isTlsService,
  issueCertificate, issuerNameDer, readHoldingRequest, readIssuer, tlsEndpoint, type FullHandshakeResult, type HelloPacing,
  type IssuedCertificate, type ServerVerdict,
} from '../../src/protocols/tls';

export interface ClientCertificateInputs extends HelloPacing {
  /** A CA the device trusts for client certificates (lab test PKI): enables the expired and valid cases. */
  trustedCaCertFile?: string;
  trustedCaKeyFile?: string;
  /** How long to wait after a TLS 1.3 handshake for the server to reject the certificate (ms). */
  settleMs?: number;
}

type Case = 'self-signed' | 'untrusted-ca' | 'bad-signature' | 'expired' | 'valid';
const BAD_CASES: readonly Exclude<Case, 'valid'>[] = ['self-signed', 'untrusted-ca', 'bad-signature', 'expired'];

const CASE_TEXT: Readonly<Record<Case, string>> = {
  'self-signed': 'a self-signed client certificate',
  'untrusted-ca': 'a client certificate issued by a CA the device cannot know',
  'bad-signature': 'a client certificate that names the trusted CA as issuer but whose signature is not that CA\'s',
  expired: 'an expired client certificate',
  valid: 'a valid client certificate from the trusted CA',
};

/** The finding name of a certificate the device should have refused: self-signed-accepted, expired-accepted, ... */
const acceptedFinding = (c: Exclude<Case, 'valid'>) => `${c}-accepted`;
const FINDINGS: Readonly<Record<string, string>> = Object.fromEntries(
  BAD_CASES.map((c) => [acceptedFinding(c), `the service accepted ${CASE_TEXT[c]}`]),
);

const DAY = 86_400_000;

/** An application request that makes an accepting server answer (so acceptance is seen at once). */
function payloadFor(protocol: string, host: string, unitId: number | undefined): Buffer | undefined {
  if (protocol === 'https') return Buffer.from(`HEAD / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
  if (protocol === 'modbus-tls') return readHoldingRequest(unitId ?? 1);
  return undefined;
}

function client(commonName: string, o: { issuer?: IssuedCertificate; issuerName?: Buffer; expired?: boolean; signWith?: boolean }): IssuedCertificate {
  const now = Date.now();
  return issueCertificate({
    commonName, organization: 'iacs-probe CR 1.9 test', key: generateKey({ type: 'ec', curve: 'P-256' }),
    issuer: o.issuer, issuerName: o.issuerName, authorityKeyId: o.issuerName ? false : undefined,
    signWith: o.signWith ? generateKey({ type: 'ec', curve: 'P-256' }).privateKey : undefined,
    notBefore: new Date(now - (o.expired ? 400 : 1) * DAY), notAfter: new Date(now + (o.expired ? -30 : 30) * DAY),
    extendedKeyUsage: ['clientAuth'],
  });
}

function verdictOf(r: FullHandshakeResult): ServerVerdict {
  if (!r.ok) return { accepted: false, evidence: 'alert', ...(r.alert ? { alert: r.alert } : {}) };
  return r.verdict ?? { accepted: true, evidence: 'handshake' };
}

export default defineProbe<ClientCertificateInputs>({
  id: 'tls.client-certificate',
  protocol: 'tls',
  title: 'Validation of client certificates by the device',
  description:
    'When the service asks for a client certificate, presents certificates made at run time that a correct relying party '
    + 'must refuse: self-signed, issued by an unknown CA, carrying the trusted CA\'s name with a wrong signature, and (with a '
    + 'trusted test CA in the profile) expired, plus a valid one as control. Each is one full node:tls handshake; in TLS 1.3 '
    + 'the server\'s verdict is read after the handshake (alert or close: refused; answer, session ticket or an open '
    + 'connection: accepted). Not applicable when the service requests no client certificate.',
  requirements: ['CR 1.9'],
  findings: FINDINGS,
  safety: 'active',
  scope: 'service',
  appliesTo: TLS_CAPABLE_PROTOCOLS,
  when: isTlsService,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        trustedCaCertFile: { type: 'string', description: 'PEM certificate of a CA the device trusts for client certificates' },
        trustedCaKeyFile: { type: 'string', description: 'PEM private key of that CA (a lab test CA, never a production one)' },
        settleMs: { type: 'integer', minimum: 50, maximum: 30000 },
        ...HELLO_PACING_SCHEMA,
      },
    },
    defaults: { settleMs: 1500 },
  },
  timeoutMs: 60_000,
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = tlsEndpoint(service);
    const trustedCa = ctx.inputs.trustedCaCertFile && ctx.inputs.trustedCaKeyFile
      ? readIssuer(ctx.resolvePath(ctx.inputs.trustedCaCertFile), ctx.resolvePath(ctx.inputs.trustedCaKeyFile)) : undefined;
    const inspection = await inspectServer(endpoint, { signal: ctx.signal, deadline: ctx.deadline, wait: ctx.wait, ...helloPacing(ctx.inputs) });
    const payload = payloadFor(service.protocol, service.host, service.unitId);
    const attempt = (cert?: IssuedCertificate, chain: IssuedCertificate[] = []) => fullHandshake(endpoint, {
      signal: ctx.signal,
      timeoutMs: Math.max(1, Math.min(15_000, ctx.deadline - Date.now())),
      ...(cert ? { cert: [cert, ...chain].map((c) => c.pem).join(''), key: cert.keyPem } : {}),
      settle: { ms: Math.max(1, Math.min(ctx.inputs.settleMs ?? 1500, ctx.deadline - Date.now() - 1000)), ...(payload ? { payload } : {}) },
    });

    const control = verdictOf(await attempt());
    const requested = inspection.clientCertificate.requested ?? (control.accepted ? null : true);
    const observations: Record<string, unknown> = {
      requested, requestSeenIn: inspection.clientCertificate.protocol ?? null,
      acceptableCas: inspection.clientCertificate.authorities, withoutCertificate: control,
    };
    if (requested === false && inspection.unanswered.length > 0) {
      // Not seen in a lower version's flight proves nothing about the better version that stayed unanswered.
      observations.note = `no client certificate request in the ${inspection.clientCertificate.protocol} flight, but ${inspection.unanswered.join('; ')}: not judged`;
      return { observations: { ...observations, unanswered: inspection.unanswered }, findings: [], outcomes: [] };
    }
    if (requested === false) {
      return {
        observations, findings: [],
        outcomes: notApplicable(['CR 1.9'], 'the service does not request a client certificate, so it validates none on this interface'),
      };
    }
    if (requested === null) {
      observations.note = 'whether the server requests a client certificate could not be read (TLS 1.3 flight not decryptable) and it accepts clients without one';
      return { observations, findings: [], outcomes: [] };
    }
    const mode = control.accepted ? 'optional' : 'required';

    // The CA the device is expected to trust: the profile's test CA, else the first CA the server asks for, else its own issuer.
    const trustedName = inspection.authoritiesDer[0] ?? (inspection.certificates?.[0] ? issuerNameDer(inspection.certificates[0]) : undefined);
    const rogueCa = issueCertificate({
      commonName: 'iacs-probe untrusted test CA', key: generateKey({ type: 'ec', curve: 'P-256' }), isCa: true,
      notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY),
    });
    const certs: Partial<Record<Case, { cert: IssuedCertificate; chain: IssuedCertificate[] }>> = {
      'self-signed': { cert: client('iacs-probe self-signed client', {}), chain: [] },
      'untrusted-ca': { cert: client('iacs-probe client of an unknown CA', { issuer: rogueCa }), chain: [rogueCa] },
    };
    const skipped: Partial<Record<Case, string>> = {};
    if (trustedCa) {
      certs['bad-signature'] = { cert: client('iacs-probe forged client', { issuer: trustedCa, signWith: true }), chain: [] };
      certs.expired = { cert: client('iacs-probe expired client', { issuer: trustedCa, expired: true }), chain: [] };
      certs.valid = { cert: client('iacs-probe valid client', { issuer: trustedCa }), chain: [] };
    } else {
      if (trustedName) certs['bad-signature'] = { cert: client('iacs-probe forged client', { issuerName: trustedName, signWith: true }), chain: [] };
      else skipped['bad-signature'] = 'no CA name to forge: the server lists no acceptable CA and sent no certificate';
      skipped.expired = 'needs a CA the device trusts (inputs trustedCaCertFile/trustedCaKeyFile): an expired certificate from an untrusted issuer proves nothing';
    }

    const results: Partial<Record<Case, ServerVerdict>> = {};
    const pems: Partial<Record<Case, string>> = {};
    for (const c of [...BAD_CASES, 'valid'] as const) {
      const entry = certs[c];
      if (!entry) continue;
      pems[c] = ctx.evidence.save(`client-${c}.pem`, [entry.cert, ...entry.chain].map((x) => x.pem).join(''));
      results[c] = verdictOf(await attempt(entry.cert, entry.chain));
    }
    const resultsPath = ctx.evidence.save('client-certificates.json', { mode, control, results, skipped });
    const findings: Finding[] = [];
    for (const c of BAD_CASES) {
      if (!results[c]?.accepted) continue;
      findings.push(finding({
        code: acceptedFinding(c),
        severity: mode === 'required' ? 'high' : 'medium',
        requirements: ['CR 1.9'],
        message: `the service accepted ${CASE_TEXT[c]} (${results[c]!.evidence}; client certificates ${mode})`,
        evidence: [resultsPath, pems[c]!],
      }));
    }
    if (results.valid && !results.valid.accepted) {
      observations.note = 'the device refused the valid control certificate too: it may require other subject attributes, so refusals are less telling';
    }
    return {
      observations: { ...observations, mode, results, skipped },
      findings,
      outcomes: judge([{
        requirement: 'CR 1.9', coverage: 'partial',
        passReason: `the service refused ${Object.keys(results).filter((c) => c !== 'valid').map((c) => CASE_TEXT[c as Case]).join(', ')} (revocation checking and the mapping of identities to users are not tested)`,
      }], findings),
    };
  },
});
