import {
  AuthRejected, TargetTimeout, defineProbe, finding, judge, type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  SECURITY_LEVELS, discoverV3, tryAccess, type AccessTrial, type SecurityLevelName, type V3Discovery,
} from '../../src/protocols/snmp';
import {
  SNMP_INPUT_PROPERTIES, communityCandidates, mapLimited, profileCommunities, profileV3User,
} from '../../src/protocols/snmp-access';

interface Inputs {
  requestTimeoutMs: number;
  retries: number;
  /** USM protocols of the profile's user (credentials `snmp`); also the service options of the same name. */
  authProtocol?: string;
  privProtocol?: string;
}

interface SnmpBaseline {
  defaultCommunities: { community: string }[];
  weakAuthProtocols: string[];
  weakPrivProtocols: string[];
}

type LevelResult =
  | { result: 'accepted' }
  | { result: 'refused'; by: string }
  | { result: 'no-answer' };

function levelResult(trial: AccessTrial): LevelResult {
  if (trial.result === 'no-answer') return { result: 'no-answer' };
  if (trial.result === 'report') return { result: 'refused', by: `report ${trial.report}` };
  const { errorStatus, varbinds } = trial.response;
  if (errorStatus === 'NoError' && varbinds.some((v) => v.value !== null)) return { result: 'accepted' };
  return { result: 'refused', by: errorStatus === 'NoError' ? `response ${varbinds[0]?.type ?? 'without value'}` : `response ${errorStatus}` };
}

/** Is anything there that answers SNMP v1/v2c? (tells "v3 not offered" from "nothing listens"). */
async function communityAnswers(ctx: ProbeContext<Inputs>, options: { timeoutMs: number; retries: number; signal: AbortSignal }): Promise<boolean> {
  const service = ctx.service!;
  const baseline = ctx.baseline<SnmpBaseline>('snmp');
  const candidates = communityCandidates(profileCommunities(service, undefined, ctx.credentials), baseline.defaultCommunities.map((d) => d.community));
  const trials = candidates.flatMap((c) => (['v2c', 'v1'] as const).map((version) => ({ community: c.community, version })));
  // Stop at the first answer: one is enough to know an agent listens (and the defaults come first).
  const found = new AbortController();
  const signal = AbortSignal.any([options.signal, found.signal]);
  const results = await mapLimited(trials, 4, async (t) => {
    if (found.signal.aborted) return false;
    try {
      const answered = (await tryAccess({ host: service.host, port: service.port }, t, { ...options, signal })).result === 'response';
      if (answered) found.abort();
      return answered;
    } catch (err) {
      if (found.signal.aborted && !options.signal.aborted) return false;
      throw err;
    }
  });
  return results.some(Boolean);
}

export default defineProbe<Inputs>({
  id: 'snmp.v3',
  protocol: 'snmp',
  title: 'SNMPv3: offered or not, engine ID, and the security levels the agent accepts for the profile\'s user',
  description: 'Sends the SNMPv3 engine discovery request (RFC 3414 §4: empty user, no engine ID) and records the agent\'s '
    + 'snmpEngineID, boots and time, then a noAuthNoPriv GET as a random unknown user (which must be refused with '
    + 'usmStatsUnknownUserNames). With credentials `snmp` it GETs sysDescr.0 as that user at noAuthNoPriv, authNoPriv and '
    + 'authPriv (auth/priv protocols from the inputs or service options, default SHA/AES): a level below authPriv that '
    + 'is served fails CR 2.1 or CR 4.1, and protocols on the baseline\'s weak lists fail CR 4.3. When v3 gets no answer, '
    + 'a v1/v2c GET with the profile\'s and the well-known communities tells "v3 not offered" from "nothing there".',
  requirements: ['CR 2.1', 'CR 4.1', 'CR 4.3'],
  findings: {
    'not-offered': 'the agent answers v1/v2c but not SNMPv3: no SNMP version with privacy is available',
    'unknown-user-accepted': 'a random unknown SNMPv3 user is served at noAuthNoPriv',
    'noauth-accepted': "the profile's SNMPv3 user is served at noAuthNoPriv",
    'nopriv-accepted': "the profile's SNMPv3 user is served at authNoPriv (no privacy)",
    'weak-auth': "the user's authentication protocol is on the baseline's weakAuthProtocols",
    'weak-priv': "the user's privacy protocol is on the baseline's weakPrivProtocols",
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['snmp'],
  timeoutMs: 30_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        requestTimeoutMs: SNMP_INPUT_PROPERTIES.requestTimeoutMs, retries: SNMP_INPUT_PROPERTIES.retries,
        authProtocol: SNMP_INPUT_PROPERTIES.authProtocol, privProtocol: SNMP_INPUT_PROPERTIES.privProtocol,
      },
    },
    defaults: { requestTimeoutMs: 1000, retries: 1 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = { host: service.host, port: service.port };
    const options = { timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.retries, signal: ctx.signal };
    const user = profileV3User(ctx.credentials, service, ctx.inputs);

    let discovery: V3Discovery | undefined;
    try {
      discovery = await discoverV3(endpoint, options);
    } catch (err) {
      if (!(err instanceof TargetTimeout)) throw err;
      if (!(await communityAnswers(ctx, options))) {
        throw new TargetTimeout(`${service.name}: no answer to SNMPv3 discovery nor to v1/v2c with the known communities`, { cause: err });
      }
    }

    const findings: Finding[] = [];
    if (!discovery) {
      const evidence = [ctx.evidence.save('v3.json', { offered: false, reason: 'no answer to discovery; v1/v2c answered' })];
      findings.push(finding({
        code: 'not-offered', severity: 'medium', requirements: ['CR 4.1'], evidence,
        message: 'the agent answers SNMP v1/v2c but not SNMPv3: no SNMP version with authentication and privacy is available',
      }));
      return {
        observations: { offered: false },
        findings,
        outcomes: judge([{ requirement: 'CR 4.1', coverage: 'partial', passReason: '' }], findings),
      };
    }

    const { engine } = discovery;
    const levels: Partial<Record<SecurityLevelName, LevelResult>> = {};
    if (user) {
      for (const level of SECURITY_LEVELS) {
        levels[level] = levelResult(await tryAccess(endpoint, { version: 'v3', user: { ...user, level } }, options));
      }
    }
    const observations = {
      offered: true,
      engine,
      unknownUser: discovery.unknownUser,
      ...(user ? { user: { name: user.name, authProtocol: user.authProtocol, privProtocol: user.privProtocol }, levels } : {}),
    };
    const evidence = [ctx.evidence.save('v3.json', observations)];

    if (discovery.unknownUser === 'answered') {
      findings.push(finding({
        code: 'unknown-user-accepted', severity: 'high', requirements: ['CR 2.1'], evidence,
        message: 'the agent served a GET from a user name it cannot know, without authentication (noAuthNoPriv)',
      }));
    }
    const judgements: Judgement[] = [
      { requirement: 'CR 2.1', coverage: 'partial', passReason: 'an unknown SNMPv3 user is refused' },
    ];
    if (user) {
      const accepted = SECURITY_LEVELS.filter((l) => levels[l]?.result === 'accepted');
      if (accepted.length === 0) {
        const why = SECURITY_LEVELS.map((l) => {
          const r = levels[l]!;
          return `${l}: ${r.result === 'refused' ? r.by : r.result}`;
        }).join('; ');
        throw new AuthRejected(`the profile's SNMPv3 user was not served at any security level (${why})`);
      }
      if (accepted.includes('noAuthNoPriv')) {
        findings.push(finding({
          code: 'noauth-accepted', severity: 'high', requirements: ['CR 2.1', 'CR 4.1'], evidence,
          message: `the SNMPv3 user "${user.name}" is served at noAuthNoPriv: no authentication, no privacy`,
        }));
      }
      if (accepted.includes('authNoPriv')) {
        findings.push(finding({
          code: 'nopriv-accepted', severity: 'medium', requirements: ['CR 4.1'], evidence,
          message: `the SNMPv3 user "${user.name}" is served at authNoPriv: management data crosses the network in cleartext`,
        }));
      }
      const baseline = ctx.baseline<SnmpBaseline>('snmp');
      const usesAuth = accepted.some((l) => l !== 'noAuthNoPriv');
      if (usesAuth && user.authProtocol && baseline.weakAuthProtocols.includes(user.authProtocol)) {
        findings.push(finding({
          code: 'weak-auth', severity: 'medium', requirements: ['CR 4.3'], evidence,
          message: `the SNMPv3 user "${user.name}" authenticates with ${user.authProtocol.toUpperCase()}, which the SNMP baseline lists as weak at this SL`,
        }));
      }
      if (accepted.includes('authPriv') && user.privProtocol && baseline.weakPrivProtocols.includes(user.privProtocol)) {
        findings.push(finding({
          code: 'weak-priv', severity: 'medium', requirements: ['CR 4.3'], evidence,
          message: `the SNMPv3 user "${user.name}" encrypts with ${user.privProtocol.toUpperCase()}, which the SNMP baseline lists as weak`,
        }));
      }
      judgements[0].passReason = `an unknown user and the profile's user without authentication are refused (noAuthNoPriv: ${levels.noAuthNoPriv?.result})`;
      judgements.push(
        { requirement: 'CR 4.1', coverage: 'partial', passReason: `the profile's user "${user.name}" is served only with privacy (authPriv)` },
        { requirement: 'CR 4.3', coverage: 'partial', passReason: `${user.authProtocol?.toUpperCase()}/${user.privProtocol?.toUpperCase()} are not on the baseline's weak lists` },
      );
    }
    return { observations, findings, outcomes: judge(judgements, findings) };
  },
});
