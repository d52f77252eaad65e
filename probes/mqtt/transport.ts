import { MissingInput, ProtocolViolation, Transcript, defineProbe, finding, formatTarget, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import { connectSession, declaredTlsServices, probeClientId, type ConnectAnswer, type Credentials } from '../../src/protocols/mqtt';

export interface TransportInputs {
  requestTimeoutMs: number;
  protocolLevel: 'auto' | 4 | 5;
}

const connackOf = (a: ConnectAnswer) => (a.status === 'closed' ? `connection ${a.reset ? 'reset' : 'closed'} without CONNACK` : `CONNACK ${a.text}`);

export default defineProbe<TransportInputs>({
  id: 'mqtt.transport',
  protocol: 'mqtt',
  title: 'MQTT in cleartext: sessions and logins on the plain port, and whether MQTT over TLS is declared',
  description:
    'On a plain (non-TLS) MQTT port: sends an anonymous CONNECT and, with credentials.mqtt, a CONNECT with the account\'s '
    + 'user name and password (the password crosses the network in cleartext, as any client\'s would). When the plain port '
    + 'refuses the account, the same CONNECT on the declared MQTT-over-TLS service tells a policy ("logins over TLS only") '
    + 'from wrong credentials. Sessions or logins accepted in cleartext, and no MQTT over TLS in the profile, fail CR 4.1 '
    + '(logins also CR 1.5); the TLS service itself is assessed by the tls.* probes.',
  requirements: ['CR 4.1', 'CR 1.5'],
  findings: {
    'cleartext-credentials': 'the plain port accepts a login: user name and password cross the network in cleartext',
    'cleartext-sessions': 'the plain port accepts anonymous sessions: topics and payloads cross the network in cleartext',
    'no-tls': 'the profile declares no MQTT-over-TLS service for this host: MQTT traffic has no confidentiality protection',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['mqtt'],
  when: (service) => !service.tls,
  locks: (plan) => (plan.service ? [{ key: `mqtt:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 20_000,
  inputs: {
    schema: inputsSchema({ requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 }, protocolLevel: { enum: ['auto', 4, 5] } }),
    defaults: { requestTimeoutMs: 3000, protocolLevel: 'auto' },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('mqtt.transport needs a declared mqtt service');
    const transcript = new Transcript(ctx.evidence, 'mqtt-transport.txt');
    const base = { signal: ctx.signal, waitMs: ctx.inputs.requestTimeoutMs, transcript };
    const plain = { host: service.host, port: service.port };
    const connect = async (endpoint: typeof plain & { tls?: boolean }, level: ConnectAnswer['level'] | 'auto', credentials?: Credentials) => {
      const answer = await connectSession(endpoint, { ...base, clientId: probeClientId(), level, ...(credentials ? { credentials } : {}) });
      if (answer.status === 'accepted') answer.session.close();
      return answer;
    };
    const anonymous = await connect(plain, ctx.inputs.protocolLevel);
    if (anonymous.status === 'closed') throw new ProtocolViolation(`the peer ${anonymous.reset ? 'reset' : 'closed'} the connection without answering CONNECT (MQTT 5.0 and 3.1.1)`);
    const secure = declaredTlsServices(ctx.host.services);
    const credential = ctx.credentials.get('mqtt');
    const login = credential ? await connect(plain, anonymous.level, credential) : undefined;
    // A refusal on the plain port proves a policy only when the same account logs in over TLS.
    const overTls = credential && login?.status === 'refused' && login.refusal === 'authentication' && secure[0]
      ? await connect({ host: secure[0].host, port: secure[0].port, tls: true }, anonymous.level, credential) : undefined;
    const record = {
      plainPort: formatTarget(service.host, service.port), anonymous: connackOf(anonymous),
      login: login ? { account: credential!.source, answer: connackOf(login) } : null,
      declaredTls: secure.map((s) => formatTarget(s.host, s.port)),
      loginOverTls: overTls ? { service: formatTarget(secure[0].host, secure[0].port), answer: connackOf(overTls) } : null,
    };
    const evidence = [transcript.path, ctx.evidence.save('transport.json', record)];
    const findings: Finding[] = [];
    if (login?.status === 'accepted') {
      findings.push(finding({
        code: 'cleartext-credentials', severity: 'high', requirements: ['CR 4.1', 'CR 1.5'], evidence,
        message: `${record.plainPort} accepts ${credential!.source} (${connackOf(login)}) on the plain port: user names and passwords cross the network in cleartext.`,
      }));
    }
    if (anonymous.status === 'accepted') {
      findings.push(finding({
        code: 'cleartext-sessions', severity: 'medium', requirements: ['CR 4.1'], evidence,
        message: `${record.plainPort} accepts anonymous sessions (${connackOf(anonymous)}): topics and payloads cross the network in cleartext.`,
      }));
    }
    if (secure.length === 0) {
      findings.push(finding({
        code: 'no-tls', severity: 'medium', requirements: ['CR 4.1'], evidence,
        message: `The profile declares no MQTT-over-TLS service (protocol mqtt with tls: true, e.g. on 8883) for ${service.host}: MQTT to this device is cleartext only.`,
      }));
    }
    const tlsOnly = anonymous.status === 'refused' && anonymous.refusal === 'authentication' && overTls?.status === 'accepted';
    const judgements: Judgement[] = [];
    if (findings.length > 0 || tlsOnly) {
      const reason = `the plain port refuses anonymous clients (${connackOf(anonymous)}) and the account (${login ? connackOf(login) : ''}), which logs in over TLS on ${record.loginOverTls?.service}`;
      judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: reason });
      if (login && (login.status === 'accepted' || tlsOnly)) judgements.push({ requirement: 'CR 1.5', coverage: 'partial', passReason: reason });
    }
    return {
      observations: {
        ...record,
        ...(judgements.length === 0 ? { notDetermined: notDeterminedReason(anonymous, login, overTls, credential !== undefined) } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});

function notDeterminedReason(anonymous: ConnectAnswer, login: ConnectAnswer | undefined, overTls: ConnectAnswer | undefined, hasCredential: boolean): string {
  if (!hasCredential) return `the plain port refuses anonymous clients (${connackOf(anonymous)}) and the profile gives no credentials.mqtt: whether it takes logins in cleartext is not known`;
  if (login && login.status !== 'accepted' && login.status !== 'closed' && login.refusal !== 'authentication') return `the plain port answered the login with ${connackOf(login)}, which is no authentication verdict`;
  if (overTls && overTls.status !== 'accepted') return `the account is refused over TLS as well (${connackOf(overTls)}): the credentials may be wrong, so the plain port's refusal proves no policy`;
  return `the plain port's answers prove nothing about cleartext logins (anonymous: ${connackOf(anonymous)}${login ? `, login: ${connackOf(login)}` : ''})`;
}
