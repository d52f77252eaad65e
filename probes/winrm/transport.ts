import { ProtocolViolation, defineProbe, finding, inputsSchema, judge, notApplicable, type Finding, type ServiceUnderTest } from '../../src/sdk';
import { httpRequest } from '../../src/protocols/http/request';
import { WINRM_PORTS, WSMAN_REQUEST, recogniseWsman } from '../../src/protocols/http/wsman';

interface Inputs {
  timeoutMs: number;
}

const isWinrmCandidate = (s: ServiceUnderTest) => s.protocol === 'winrm' || s.port === WINRM_PORTS.http || s.port === WINRM_PORTS.https;

export default defineProbe<Inputs>({
  id: 'winrm.transport',
  protocol: 'winrm',
  title: 'WinRM: answered over plain HTTP or over HTTPS',
  description: 'On a service declared as winrm, or any HTTP(S)/TCP service declared on 5985 or 5986, sends one unauthenticated '
    + '`POST /wsman` (SOAP content type, no body) over the declared transport (TLS when the service is declared with TLS) and '
    + 'recognises WinRM by its answer: a 401 challenging Negotiate/Kerberos/CredSSP, a Microsoft-HTTPAPI server or a WS-Man '
    + 'SOAP body. WinRM over plain HTTP fails CR 4.1 (Basic offered there: high); over HTTPS CR 4.1 passes in part (the tls.* '
    + 'probes judge that TLS). A service that is not WinRM is not applicable on 5985/5986 and a protocol violation when declared winrm.',
  requirements: ['CR 4.1'],
  findings: {
    'cleartext-winrm': 'WinRM answers over plain HTTP (SOAP and, with Basic, credentials in cleartext)',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['winrm', 'http', 'https', 'tls', 'tcp'],
  when: isWinrmCandidate,
  timeoutMs: 15_000,
  inputs: { schema: inputsSchema({ timeoutMs: { type: 'integer', minimum: 100 } }), defaults: { timeoutMs: 5000 } },
  async run(ctx) {
    const service = ctx.service!;
    const tls = service.tls || service.protocol === 'https';
    const response = await httpRequest({ host: service.host, port: service.port, tls }, { ...WSMAN_REQUEST, headers: { ...WSMAN_REQUEST.headers }, signal: ctx.signal, timeoutMs: ctx.inputs.timeoutMs, maxBodyBytes: 8192 });
    const answer = recogniseWsman(response);
    const evidence = [ctx.evidence.save('wsman-answer.json', { request: `POST /wsman over ${tls ? 'HTTPS' : 'HTTP'}`, status: response.status, headers: response.rawHeaders, body: response.body.toString('utf8', 0, 2048), answer })];
    const observations = { transport: tls ? 'https' : 'http', ...answer };
    if (!answer.wsman) {
      if (service.protocol === 'winrm') throw new ProtocolViolation(`${service.name} is declared as WinRM but its answer to POST /wsman is not (${answer.why})`);
      return { observations, findings: [], outcomes: notApplicable(['CR 4.1'], `${service.name} is not WinRM (${answer.why})`) };
    }
    const findings: Finding[] = [];
    if (!tls) {
      const basic = answer.schemes.some((s) => /^basic$/i.test(s));
      findings.push(finding({
        code: 'cleartext-winrm', severity: basic ? 'high' : 'medium', requirements: ['CR 4.1'], evidence,
        message: `${service.name}: WinRM answers over plain HTTP (${answer.why})${basic ? '; Basic authentication is offered, so passwords would cross in cleartext' : ''}`,
      }));
    }
    return {
      observations,
      findings,
      outcomes: judge([{ requirement: 'CR 4.1', coverage: 'partial', passReason: 'WinRM answers only over HTTPS on this service (its TLS is judged by the tls.* probes)' }], findings),
    };
  },
});
