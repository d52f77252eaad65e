import * as crypto from 'node:crypto';
import { AuthRejected, MissingInput, defineProbe, finding, judge, type Finding } from '../../src/sdk';
import {
  channelFor, clientIdentityFor, describeCertificate, discoverEndpoints, endpointPath, isOpcuaStatusError,
  targetOf, untrustedClientCertificate, usableSecureEndpoints, withOpcuaClient, type OpcuaConnection,
} from '../../src/protocols/opcua';
import { LoginBudget } from '../../src/protocols/auth/ledger';

type SessionResult = { outcome: 'activated'; detail: string } | { outcome: 'refused'; status: string };

export default defineProbe({
  id: 'opcua.user-login',
  protocol: 'opcua',
  title: "OPC UA user login with the profile's credentials on a secure endpoint",
  description:
    'On the strongest Sign/SignAndEncrypt endpoint that offers the UserName token, opens a secure channel with ' +
    "the client certificate the profile names (or the harness's own) and activates two sessions: first with " +
    "the profile's user name and a random wrong password (must be refused), then with the profile's " +
    'credentials (must be accepted; reads the ServerStatus). The password is only ever sent encrypted and ' +
    'never recorded. One failed login is counted by the device; the successful one resets most counters.',
  requirements: ['CR 1.1'],
  findings: {
    'wrong-password-accepted': "a session for the profile's user activated with a random wrong password",
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['opcua'],
  timeoutMs: 30_000,
  locks: ({ host, credentials }) => {
    const user = credentials.get('opcua')?.username;
    return user ? [{ key: `account:${host.host}:${user}`, mode: 'exclusive' }] : [];
  },
  async run(ctx) {
    const service = ctx.service!;
    const credential = ctx.credentials.get('opcua');
    if (!credential) throw new MissingInput('the profile gives no credentials.opcua (user name and password) for the login check');
    const target = targetOf(service);
    const endpoints = await discoverEndpoints(target, { signal: ctx.signal, deadline: ctx.deadline });
    const offering = endpoints.filter((e) => e.userTokens.includes('UserName'));
    const { usable, untestable } = usableSecureEndpoints(offering);
    if (usable.length === 0) {
      const reason = offering.length === 0
        ? 'no endpoint offers the UserName token'
        : untestable.length > 0
          ? `the UserName token is offered only on endpoints this process cannot open: ${untestable.map((u) => u.reason).join('; ')}`
          : 'the UserName token is offered only on unsecured endpoints; the harness does not send passwords there';
      return { observations: { reason }, findings: [], outcomes: [] };
    }
    const endpoint = usable[0];
    const identity = clientIdentityFor(service, ctx.resolvePath);
    const label = `${endpoint.securityMode}/${endpoint.securityPolicy}`;
    const attempt = async (c: OpcuaConnection, password: string): Promise<SessionResult> => {
      try {
        return await c.withSession({ type: 'username', username: credential.username, password }, async (s) => {
          const [status] = await s.read(['i=2259']); // Server_ServerStatus_State
          return { outcome: 'activated', detail: `ServerStatus.State ${status.status === 'Good' ? status.value : status.status}` };
        });
      } catch (err) {
        if (isOpcuaStatusError(err, 'session')) return { outcome: 'refused', status: err.status };
        throw err;
      }
    };
    // Both checks are booked in the run ledger, shared with the credential-guessing probes; the wrong password is
    // tried only while the lockout budget allows one more failure (earlier probes may have spent it).
    const budget = new LoginBudget(ctx.ledger, ctx.policy, ctx.host.host);
    const spent = budget.remaining(credential.username) === 0
      ? `no failed login left in the lockout budget for ${credential.username} (threshold ${budget.threshold.value}${budget.threshold.source === 'assumed' ? ', assumed' : ''}; earlier checks of this run used it)`
      : undefined;
    let results: { wrong: SessionResult | { outcome: 'skipped'; reason: string }; right: SessionResult };
    try {
      results = await withOpcuaClient(
        target, { signal: ctx.signal, deadline: ctx.deadline, path: endpointPath(endpoint.endpointUrl), security: channelFor(endpoint, identity) },
        async (c) => {
          const book = (r: SessionResult) => budget.record(credential.username, r.outcome === 'activated' ? 'accepted' : 'rejected');
          let wrong: SessionResult | { outcome: 'skipped'; reason: string } = { outcome: 'skipped', reason: spent ?? '' };
          if (!spent) {
            wrong = await attempt(c, `iacs-probe-wrong-${crypto.randomBytes(6).toString('hex')}`);
            book(wrong);
          }
          const right = await attempt(c, credential.password);
          book(right);
          return { wrong, right };
        },
      );
    } catch (err) {
      throw untrustedClientCertificate(err, label, identity.source) ?? err;
    }
    const observations = {
      endpoint: label, username: credential.username, credentialSource: credential.source,
      clientCertificate: { source: identity.source, sha1: describeCertificate(identity.certificate).sha1, applicationUri: identity.applicationUri },
      wrongPassword: results.wrong, login: results.right,
    };
    const path = ctx.evidence.save('user-login.json', observations);
    if (results.right.outcome === 'refused') {
      throw new AuthRejected(`${label}: the server refused credentials.opcua (${credential.username}): ${results.right.status}`);
    }
    const findings: Finding[] = [];
    if (results.wrong.outcome === 'activated') {
      findings.push(finding({
        code: 'wrong-password-accepted', severity: 'critical', requirements: ['CR 1.1'], evidence: [path],
        message: `${label}: a session for ${credential.username} activated with a wrong password`,
      }));
    }
    // Without the wrong-password check there is nothing to judge CR 1.1 on (not determined, the reason says why).
    if (results.wrong.outcome === 'skipped') return { observations: { ...observations, notDetermined: results.wrong.reason }, findings, outcomes: [] };
    const refusedWith = results.wrong.outcome === 'refused' ? results.wrong.status : '';
    return {
      observations,
      findings,
      outcomes: judge([{
        requirement: 'CR 1.1', coverage: 'partial',
        passReason: `${label}: a wrong password for ${credential.username} was refused (${refusedWith}) and the profile's credentials were accepted`,
      }], findings),
    };
  },
});
