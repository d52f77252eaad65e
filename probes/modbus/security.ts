import {
  ProtocolViolation, TargetTimeout, defineProbe, finding, formatTarget, judge, notApplicable, type Finding, type ServiceUnderTest,
} from '../../src/sdk';
import {
  MODBUS_ROLE_OID, MODBUS_SECURITY_PORT, fullHandshake, generateKey, inspectServer, isModbusResponse, issueCertificate,
  readHoldingRequest, readIssuer, speaksPlainModbus, tlsEndpoint, utf8StringDer, type FullHandshakeResult,
  type IssuedCertificate,
} from '../../src/protocols/tls';

export interface ModbusSecurityInputs {
  /** A CA the device trusts for Modbus/TCP Security clients (lab test PKI): enables the role check. */
  trustedCaCertFile?: string;
  trustedCaKeyFile?: string;
  /** Port looked for among the declared services when only plain Modbus is declared (default 802). */
  securePort?: number;
  /** Role written into the control certificate (default Operator). */
  role?: string;
  settleMs?: number;
}

const REQS = ['CR 1.2', 'CR 3.1', 'CR 4.1'];
const DAY = 86_400_000;

/** Accepted = the handshake completed and the server neither refused nor closed the session after it
 * (it answered the Modbus request, sent a session ticket, or kept the session open). */
function accepted(r: FullHandshakeResult): boolean {
  return r.ok && r.verdict?.accepted === true;
}

function describe(r: FullHandshakeResult): Record<string, unknown> {
  if (!r.ok) return { accepted: false, alert: r.alert ?? null, message: r.message };
  return { accepted: accepted(r), protocol: r.protocol, evidence: r.verdict?.evidence ?? 'handshake', modbusAnswer: r.response ? isModbusResponse(r.response) : false };
}

/** The secure endpoint to examine for this attempt, or why there is none. */
function secureEndpoint(service: ServiceUnderTest, services: readonly ServiceUnderTest[], securePort: number): { target?: ServiceUnderTest; reason?: 'elsewhere' | 'none' } {
  if (service.protocol === 'modbus-tls') return { target: service };
  if (services.some((s) => s.protocol === 'modbus-tls')) return { reason: 'elsewhere' };
  // Only a declared port may be contacted: the scope is the declared communication matrix.
  const declared802 = services.find((s) => s.port === securePort && s.transport === 'tcp' && s.port !== service.port);
  return declared802 ? { target: declared802 } : { reason: 'none' };
}

export default defineProbe<ModbusSecurityInputs>({
  id: 'modbus.security',
  protocol: 'modbus',
  title: 'Modbus/TCP Security (TLS with X.509 client certificates and roles)',
  description:
    'Examines the declared Modbus/TCP Security endpoint (a modbus-tls service, or a declared port 802 when only plain Modbus '
    + '(securePort) is declared; undeclared ports are never contacted): whether it speaks TLS, whether it requires a client certificate '
    + '(a TLS session without one must carry no Modbus traffic), and, with a test CA the device trusts, whether it accepts '
    + 'a certificate without the Modbus role extension 1.3.6.1.4.1.50316.802.1. Sends one Read Holding Registers request '
    + '(address 0, one register) inside each accepted session.',
  requirements: REQS,
  findings: {
    unavailable: 'only plain Modbus/TCP is declared: no Modbus/TCP Security endpoint',
    'not-tls': 'the declared Modbus/TCP Security endpoint answers plain Modbus/TCP without TLS',
    'client-cert-not-required': 'Modbus traffic is carried over TLS without a client certificate',
    'role-not-required': 'a trusted client certificate without the Modbus role extension is accepted',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['modbus-tls', 'modbus'],
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        trustedCaCertFile: { type: 'string' }, trustedCaKeyFile: { type: 'string' },
        securePort: { type: 'integer', minimum: 1, maximum: 65535 },
        role: { type: 'string', minLength: 1 }, settleMs: { type: 'integer', minimum: 50, maximum: 30000 },
      },
    },
    defaults: { securePort: MODBUS_SECURITY_PORT, role: 'Operator', settleMs: 1500 },
  },
  timeoutMs: 60_000,
  async run(ctx) {
    const service = ctx.service!;
    const { target, reason } = secureEndpoint(service, ctx.host.services, ctx.inputs.securePort ?? MODBUS_SECURITY_PORT);
    if (reason === 'elsewhere') {
      return {
        observations: { secureEndpoint: 'declared as a modbus-tls service of this host (assessed in its own attempt)' }, findings: [],
        outcomes: notApplicable(REQS, 'the host declares a Modbus/TCP Security service; that attempt assesses it'),
      };
    }
    if (!target) {
      const findings = [finding({
        code: 'unavailable', severity: 'medium', requirements: REQS,
        message: `only plain Modbus/TCP is declared (${formatTarget(service.host, service.port)}): no Modbus/TCP Security endpoint, so Modbus peers are neither authenticated nor protected in transit`,
      })];
      return {
        observations: { secureEndpoint: null, plainModbus: formatTarget(service.host, service.port) },
        findings,
        outcomes: judge(REQS.map((requirement) => ({ requirement, coverage: 'partial' as const, passReason: 'a Modbus/TCP Security endpoint is declared' })), findings),
      };
    }

    const endpoint = tlsEndpoint(target);
    const unitId = target.unitId ?? service.unitId ?? 1;
    const observations: Record<string, unknown> = { secureEndpoint: formatTarget(target.host, target.port) };
    let inspection: Awaited<ReturnType<typeof inspectServer>>;
    try {
      inspection = await inspectServer(endpoint, { signal: ctx.signal, deadline: ctx.deadline, wait: ctx.wait });
    } catch (err) {
      // A closed connection, or silence (a plain Modbus stack may wait for the rest of the "frame" a ClientHello
      // starts, as the emulator sometimes does): not TLS. Say what it is if it answers plain Modbus.
      if (!(err instanceof ProtocolViolation) && !(err instanceof TargetTimeout)) throw err;
      if (!(await speaksPlainModbus(target.host, target.port, unitId, ctx.signal, Math.max(1, Math.min(5000, ctx.deadline - Date.now()))))) throw err;
      const path = ctx.evidence.save('endpoint.json', { ...observations, tls: false, plainModbus: true, tlsError: err.message });
      const findings = [finding({
        code: 'not-tls', severity: 'high', requirements: REQS, evidence: [path],
        message: `${formatTarget(target.host, target.port)} is declared as Modbus/TCP Security but answers plain Modbus/TCP without TLS`,
      })];
      return {
        observations: { ...observations, tls: false, plainModbus: true }, findings,
        outcomes: judge(REQS.map((requirement) => ({ requirement, coverage: 'partial' as const, passReason: 'the endpoint speaks TLS' })), findings),
      };
    }

    const settle = { ms: Math.max(1, Math.min(ctx.inputs.settleMs ?? 1500, ctx.deadline - Date.now() - 1000)), payload: readHoldingRequest(unitId) };
    const attempt = (cert?: IssuedCertificate) => fullHandshake(endpoint, {
      signal: ctx.signal, timeoutMs: Math.max(1, Math.min(15_000, ctx.deadline - Date.now())), minVersion: 'TLSv1', settle,
      ...(cert ? { cert: cert.pem, key: cert.keyPem } : {}),
    });
    const withoutCert = await attempt();
    const results: Record<string, unknown> = { withoutCertificate: describe(withoutCert) };
    let roleRequired: boolean | null = null;
    let roleNote: string | undefined;
    const ca = ctx.inputs.trustedCaCertFile && ctx.inputs.trustedCaKeyFile
      ? readIssuer(ctx.resolvePath(ctx.inputs.trustedCaCertFile), ctx.resolvePath(ctx.inputs.trustedCaKeyFile)) : undefined;
    if (ca) {
      const make = (role?: string) => issueCertificate({
        commonName: `iacs-probe modbus client${role ? ` (${role})` : ''}`, key: generateKey({ type: 'ec', curve: 'P-256' }), issuer: ca,
        notBefore: new Date(Date.now() - DAY), notAfter: new Date(Date.now() + 30 * DAY), extendedKeyUsage: ['clientAuth'],
        extensions: role ? [{ id: MODBUS_ROLE_OID, value: utf8StringDer(role) }] : [],
      });
      const withRole = await attempt(make(ctx.inputs.role ?? 'Operator'));
      const noRole = await attempt(make());
      results.withRole = describe(withRole);
      results.withoutRole = describe(noRole);
      if (accepted(withRole)) roleRequired = !accepted(noRole);
      else roleNote = 'the device refused a certificate from the trusted CA that carries the role, so the role check could not be judged';
    } else {
      roleNote = 'needs a CA the device trusts (inputs trustedCaCertFile/trustedCaKeyFile) to issue test certificates with and without a role';
    }
    const path = ctx.evidence.save('endpoint.json', { ...observations, inspection: { protocol: inspection.protocol, clientCertificate: inspection.clientCertificate }, results, roleRequired, roleNote });
    const findings: Finding[] = [];
    if (accepted(withoutCert)) {
      findings.push(finding({
        code: 'client-cert-not-required', severity: 'high', requirements: ['CR 1.2', 'CR 3.1'], evidence: [path],
        message: `${formatTarget(target.host, target.port)} carries Modbus traffic over TLS without a client certificate: Modbus clients are not authenticated`,
      }));
    }
    if (roleRequired === false) {
      findings.push(finding({
        code: 'role-not-required', severity: 'medium', requirements: ['CR 1.2'], evidence: [path],
        message: `${formatTarget(target.host, target.port)} accepts a client certificate without the Modbus role extension (${MODBUS_ROLE_OID})`,
      }));
    }
    return {
      observations: {
        ...observations, tls: true, protocol: inspection.protocol,
        clientCertificateRequested: inspection.clientCertificate.requested,
        // Observations only: the judgements below rest on full handshakes, not on the inspection.
        ...(inspection.unanswered.length > 0 ? { inspectionUnanswered: inspection.unanswered } : {}),
        clientCertificateRequired: !accepted(withoutCert), roleRequired, ...(roleNote ? { roleNote } : {}), results,
      },
      findings,
      outcomes: judge([
        { requirement: 'CR 1.2', coverage: 'partial', passReason: 'the Modbus/TCP Security endpoint authenticates itself with a certificate and requires client certificates' + (roleRequired ? ' carrying a Modbus role' : '') },
        { requirement: 'CR 3.1', coverage: 'partial', passReason: 'Modbus traffic is carried only inside mutually authenticated TLS (suite strength is judged by tls.protocols)' },
        { requirement: 'CR 4.1', coverage: 'partial', passReason: 'Modbus traffic on this endpoint is encrypted by TLS (suite strength is judged by tls.protocols)' },
      ], findings),
    };
  },
});
