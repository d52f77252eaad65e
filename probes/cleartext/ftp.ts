import { defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import { readFtpGreeting } from '../../src/protocols/cleartext';

interface Inputs {
  connectTimeoutMs: number;
  /** How long to wait for each reply. */
  quietMs: number;
}

export default defineProbe<Inputs>({
  id: 'cleartext.ftp',
  protocol: 'cleartext',
  title: 'FTP: greeting and whether the login is offered only in cleartext',
  description: 'Connects to a declared FTP service, reads the greeting and, when it is 220 (ready for a login), sends FEAT '
    + '(RFC 2389) to see whether AUTH TLS (RFC 4217) is offered, then QUIT. A login offered without AUTH TLS means USER and '
    + 'PASS can only cross the network in cleartext (CR 4.1, CR 1.5). Sends no user name or password.',
  requirements: ['CR 1.5', 'CR 4.1'],
  findings: {
    'login-offered': 'an FTP login is offered without AUTH TLS: user names and passwords can only be sent in cleartext',
    'tls-optional': 'AUTH TLS is offered; whether a login before TLS is refused was not tested',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['ftp'],
  timeoutMs: 15_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: { connectTimeoutMs: { type: 'integer', minimum: 100 }, quietMs: { type: 'integer', minimum: 50 } },
    },
    defaults: { connectTimeoutMs: 5000, quietMs: 3000 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const result = await readFtpGreeting(service.host, service.port, {
      connectTimeoutMs: ctx.inputs.connectTimeoutMs, quietMs: ctx.inputs.quietMs, signal: ctx.signal,
    });
    const evidence = [ctx.evidence.save('ftp-greeting.json', result)];
    const loginOffered = result.greeting.code === 220;
    const tls = result.features.some((f) => /^AUTH\b.*\bTLS\b/.test(f) || /^AUTH\b.*\bSSL\b/.test(f));
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    if (loginOffered && !tls) {
      findings.push(finding({
        code: 'login-offered', severity: 'high', requirements: ['CR 1.5', 'CR 4.1'], evidence,
        message: `${service.name} offers an FTP login without AUTH TLS: user names, passwords and files cross the network in cleartext`,
      }));
      judgements.push(
        { requirement: 'CR 1.5', coverage: 'partial', passReason: '' },
        { requirement: 'CR 4.1', coverage: 'partial', passReason: '' },
      );
    } else if (loginOffered) {
      findings.push(finding({
        code: 'tls-optional', severity: 'info', requirements: [], evidence,
        message: `${service.name} offers AUTH TLS; whether it refuses a login before TLS was not tested (no credentials are sent)`,
      }));
      judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: 'the FTP service offers AUTH TLS (RFC 4217) for its login' });
    }
    return {
      observations: {
        greeting: result.greeting.lines, greetingCode: result.greeting.code, loginOffered,
        featCode: result.feat?.code ?? null, features: result.features, authTls: tls,
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
