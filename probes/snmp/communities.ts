import {
  TargetTimeout, defineProbe, finding, judge, type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  discoverV3, withSnmp, type CommunityVersion, type SnmpEndpoint, type SnmpOptions,
  type SnmpSetValue, type SnmpValue,
} from '../../src/protocols/snmp';
import {
  SNMP_INPUT_PROPERTIES, communityCandidates, communityRef, describeCommunity, profileCommunities,
  type CommunityCandidate, type CommunityRef,
} from '../../src/protocols/snmp-access';
import { sweepAccess, type SweepEvent } from '../../src/protocols/snmp-sweep';

interface Inputs {
  /** Communities the profile knows (in addition to credentials snmp.community and the service option). */
  communities?: string[];
  /** Also try the well-known communities of profiles/baselines/snmp.yaml. */
  tryDefaults: boolean;
  versions: CommunityVersion[];
  /** How long one request (one window of requests) waits for its answer. */
  requestTimeoutMs: number;
  /** Further windows for the guesses that stayed silent, each only when it fits the attempt's budget. */
  retries: number;
  /** Most requests in flight at once toward the agent (lower it for a device that rate-limits). */
  parallel: number;
  /** The object the SET check may write (destructive runs only); also the service option setOid. */
  setOid?: string;
  /** The test value to write; default: a marker string for OctetString, the current value + 1 for integers. */
  setValue?: string | number;
}

interface SnmpBaseline {
  defaultCommunities: { community: string; source: string }[];
}

interface Answer {
  version: CommunityVersion;
  ref: CommunityRef;
  candidate: CommunityCandidate;
  /** The GET of sysDescr.0 came back without error-status and with a value. */
  readable: boolean;
  errorStatus: string;
  sysDescr?: string;
}

type SetRecord =
  | { tried: false; reason: string }
  | {
    tried: true; oid: string; attempts: SetAttempt[];
    /** A SET was answered with noError. */
    written: boolean; readBackMatches?: boolean; restored?: boolean;
  };

interface SetAttempt {
  version: CommunityVersion;
  community: CommunityRef;
  before?: SnmpValue;
  testValue?: string | number;
  setStatus?: string;
  afterSet?: SnmpValue;
  restoreStatus?: string;
  afterRestore?: SnmpValue;
  note?: string;
}

const SETTABLE: Record<string, SnmpSetValue['type'] | undefined> = {
  OctetString: 'OctetString', Integer: 'Integer', Gauge: 'Gauge', Unsigned32: 'Unsigned32', TimeTicks: 'TimeTicks',
};

function testValueFor(before: SnmpValue, given: string | number | undefined): string | number | undefined {
  if (given !== undefined) return given;
  if (before.type === 'OctetString') return `iacs-probe-set-test-${Date.now().toString(36)}`;
  if (typeof before.value === 'number') return before.value + 1;
  return undefined;
}

/** Writes the named object with one answering community after another until a write is accepted,
 * reading it back and restoring the original value each time. */
async function trySet(endpoint: SnmpEndpoint, options: SnmpOptions, oid: string, answers: Answer[], given: string | number | undefined): Promise<SetRecord> {
  const attempts: SetAttempt[] = [];
  for (const a of answers) {
    const attempt: SetAttempt = { version: a.version, community: a.ref };
    attempts.push(attempt);
    const access = { version: a.version, community: a.candidate.community };
    const outcome = await withSnmp(endpoint, access, options, async (client) => {
      const read = await client.get([oid]);
      const before = read.varbinds[0];
      if (read.errorStatus !== 'NoError' || !before || before.value === null) {
        attempt.note = `could not read ${oid} (${read.errorStatus}${before ? ` ${before.type}` : ''})`;
        return 'skip';
      }
      attempt.before = before;
      const type = SETTABLE[before.type];
      const testValue = testValueFor(before, given);
      if (!type || testValue === undefined) {
        attempt.note = `${before.type} values are not written by this check; give setValue`;
        return 'skip';
      }
      attempt.testValue = testValue;
      const set = await client.set([{ oid, type, value: testValue }]);
      attempt.setStatus = set.errorStatus;
      if (set.errorStatus !== 'NoError') return 'refused';
      attempt.afterSet = (await client.get([oid])).varbinds[0];
      const restore = await client.set([{ oid, type, value: before.value as string | number }]);
      attempt.restoreStatus = restore.errorStatus;
      attempt.afterRestore = (await client.get([oid])).varbinds[0];
      return 'written';
    });
    if (outcome === 'written') {
      const restored = attempt.restoreStatus === 'NoError' && attempt.afterRestore?.value === attempt.before?.value;
      const readBackMatches = String(attempt.afterSet?.value) === String(attempt.testValue);
      return { tried: true, oid, attempts, written: true, readBackMatches, restored };
    }
  }
  return { tried: true, oid, attempts, written: false };
}

interface Trial {
  candidate: CommunityCandidate;
  version: CommunityVersion;
}

/**
 * All guesses through one sweep; every request and its end is a line of requests.ndjson (t: ms since the
 * sweep began), in the order it happened. Retry windows keep room for the SNMPv3 discovery that may follow.
 */
async function sweepCommunities(ctx: ProbeContext<Inputs>, endpoint: SnmpEndpoint, trials: readonly Trial[]) {
  const started = Date.now();
  const { requestTimeoutMs, retries, parallel } = ctx.inputs;
  const line = ({ event, index, round }: SweepEvent) => {
    const { candidate, version } = trials[index];
    ctx.evidence.append('requests.ndjson', JSON.stringify({ t: Date.now() - started, event, round, version, ...communityRef(candidate) }));
  };
  return sweepAccess(endpoint, trials.map(({ candidate, version }) => ({ version, community: candidate.community })), {
    timeoutMs: requestTimeoutMs, retries, parallel, signal: ctx.signal, onEvent: line,
    finishBy: ctx.deadline - (retries + 1) * requestTimeoutMs - 500,
  });
}

export default defineProbe<Inputs>({
  id: 'snmp.communities',
  protocol: 'snmp',
  title: 'SNMP v1/v2c communities that answer (well-known defaults and the profile\'s own)',
  description: 'Sends one SNMP GET of sysDescr.0 per community and version (v1, v2c) for the profile\'s communities and the '
    + 'well-known defaults of profiles/baselines/snmp.yaml, all in flight at once (at most `parallel`), then waits one timeout '
    + 'window; the silent ones are sent again once per retry while the budget allows. A community that answers is recorded by name '
    + '(defaults) or by list index and SHA-256 (profile ones). A default community that answers fails CR 1.5 and CR 2.1; any '
    + 'community answering over v1/v2c fails CR 4.1 (cleartext). When nothing answers, an SNMPv3 discovery request tells a '
    + 'silent agent from a dead one. Only in destructive runs and on an OID the profile names: reads it, writes a test value '
    + 'with each answering community until one is accepted, reads it back, restores and re-reads it.',
  requirements: ['CR 1.5', 'CR 2.1', 'CR 4.1'],
  findings: {
    'default-community': 'a well-known community answers over SNMP v1/v2c',
    'cleartext-community': 'a community answers over v1/v2c: the only authenticator and all data cross the network in cleartext',
    'default-community-write': '(destructive runs) a SET succeeded with a well-known community',
    'community-write': '(destructive runs) a SET succeeded with a profile community over v1/v2c',
    'set-not-restored': 'the original value of the written object could not be restored: restore it by hand',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['snmp'],
  timeoutMs: 60_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        communities: SNMP_INPUT_PROPERTIES.communities, tryDefaults: SNMP_INPUT_PROPERTIES.tryDefaults,
        requestTimeoutMs: SNMP_INPUT_PROPERTIES.requestTimeoutMs, retries: SNMP_INPUT_PROPERTIES.retries,
        versions: { type: 'array', minItems: 1, uniqueItems: true, items: { enum: ['v1', 'v2c'] } },
        parallel: { type: 'integer', minimum: 1, maximum: 64 },
        setOid: { type: 'string', pattern: '^[0-2](\\.[0-9]+)+$' },
        setValue: { type: ['string', 'integer'] },
      },
    },
    defaults: { tryDefaults: true, versions: ['v1', 'v2c'], requestTimeoutMs: 1000, retries: 1, parallel: 32 },
  },
  async run(ctx: ProbeContext<Inputs>) {
    const service = ctx.service!;
    const endpoint = { host: service.host, port: service.port };
    const options = { timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.retries, signal: ctx.signal };
    const baseline = ctx.baseline<SnmpBaseline>('snmp');
    const defaults = ctx.inputs.tryDefaults ? baseline.defaultCommunities.map((d) => d.community) : [];
    const profile = profileCommunities(service, ctx.inputs.communities, ctx.credentials);
    const candidates = communityCandidates(profile, defaults);
    const trials = candidates.flatMap((candidate) => ctx.inputs.versions.map((version) => ({ candidate, version })));

    const sweep = await sweepCommunities(ctx, endpoint, trials);
    const answers: Answer[] = trials.flatMap(({ candidate, version }, i) => {
      const trial = sweep.trials[i];
      if (trial.result !== 'response') return [];
      const vb = trial.response.varbinds[0];
      const readable = trial.response.errorStatus === 'NoError' && vb !== undefined && vb.value !== null;
      return [{
        version, ref: communityRef(candidate), candidate, readable, errorStatus: trial.response.errorStatus,
        ...(readable && typeof vb.value === 'string' ? { sysDescr: vb.value } : {}),
      }];
    });

    // Silence to every community is what a v3-only agent and a dead host both show: ask v3 which.
    let aliveBy: 'community' | 'v3-discovery' = 'community';
    let engineId: string | undefined;
    if (answers.length === 0) {
      try {
        engineId = (await discoverV3(endpoint, options)).engine.id;
        aliveBy = 'v3-discovery';
      } catch (err) {
        if (err instanceof TargetTimeout) {
          throw new TargetTimeout(`${service.name}: no answer to ${trials.length} community requests nor to SNMPv3 discovery; `
            + 'cannot tell an agent that drops every community from one that is not there', { cause: err });
        }
        throw err;
      }
    }

    const tried = {
      versions: ctx.inputs.versions,
      profileCommunities: profile.length,
      defaultCommunities: defaults,
      requests: trials.length,
      parallel: ctx.inputs.parallel,
      rounds: sweep.rounds,
      resent: sweep.resent,
      ...(sweep.retriesSkipped ? { retriesSkipped: sweep.retriesSkipped } : {}),
    };
    const answered = answers.map((a) => ({
      version: a.version, ...a.ref, readable: a.readable, errorStatus: a.errorStatus, ...(a.sysDescr ? { sysDescr: a.sysDescr } : {}),
    }));
    const evidence = [ctx.evidence.save('communities.json', { endpoint: `${service.host}:${service.port}/udp`, tried, answered, aliveBy, engineId })];

    // SET: destructive runs only, on an object the profile names.
    const setOid = ctx.inputs.setOid ?? (typeof service.options.setOid === 'string' ? service.options.setOid : undefined);
    let set: SetRecord;
    if (!ctx.allowed.has('destructive')) set = { tried: false, reason: 'destructive probes are not allowed in this run (--allow destructive and the profile\'s allow list)' };
    else if (!setOid) set = { tried: false, reason: 'the profile names no object to write (input setOid or service option setOid)' };
    else if (answers.length === 0) set = { tried: false, reason: 'no community answered' };
    else {
      // Each community once, v2c before v1 (same access rights; v2c reports errors per RFC 3416).
      const byCommunity = new Map<string, Answer>();
      for (const a of [...answers].sort((x, y) => (x.version === 'v2c' ? -1 : 1) - (y.version === 'v2c' ? -1 : 1))) {
        if (!byCommunity.has(a.candidate.community)) byCommunity.set(a.candidate.community, a);
      }
      set = await trySet(endpoint, options, setOid, [...byCommunity.values()], ctx.inputs.setValue);
      evidence.push(ctx.evidence.save('set.json', set));
    }

    const findings: Finding[] = [];
    const defaultsAnswering = new Map<string, CommunityVersion[]>();
    for (const a of answers.filter((x) => x.ref.source === 'default')) {
      defaultsAnswering.set(a.candidate.community, [...(defaultsAnswering.get(a.candidate.community) ?? []), a.version]);
    }
    for (const [community, versions] of defaultsAnswering) {
      findings.push(finding({
        code: 'default-community', severity: 'high', requirements: ['CR 1.5', 'CR 2.1'], evidence,
        message: `the well-known community "${community}" is accepted over SNMP ${versions.join(' and ')}`,
      }));
    }
    if (answers.length > 0) {
      const versions = [...new Set(answers.map((a) => a.version))];
      findings.push(finding({
        code: 'cleartext-community', severity: 'medium', requirements: ['CR 4.1'], evidence,
        message: `SNMP ${versions.join(' and ')} answer${versions.length === 1 ? 's' : ''} (${answers.length} community/version pair(s)): the community, the only authenticator, and all data cross the network in cleartext`,
      }));
    }
    if (set.tried && set.written) {
      const used = set.attempts[set.attempts.length - 1];
      const candidate = answers.find((a) => a.ref.index === used.community.index && a.ref.source === used.community.source)!.candidate;
      findings.push(used.community.source === 'default'
        ? finding({
          code: 'default-community-write', severity: 'critical', requirements: ['CR 1.5', 'CR 2.1'], evidence,
          message: `SNMP ${used.version} SET of ${set.oid} succeeded with the ${describeCommunity(candidate)}`,
        })
        : finding({
          code: 'community-write', severity: 'high', requirements: ['CR 4.1'], evidence,
          message: `SNMP ${used.version} SET of ${set.oid} succeeded with ${describeCommunity(candidate)}: writes are authorised by a cleartext community`,
        }));
      if (!set.restored) {
        findings.push(finding({
          code: 'set-not-restored', severity: 'info', requirements: [], evidence,
          message: `the original value of ${set.oid} could not be restored (restore status ${used.restoreStatus ?? 'none'}); restore it by hand`,
        }));
      }
    }

    const judgements: Judgement[] = [
      { requirement: 'CR 1.5', coverage: 'partial', passReason: `none of ${defaults.length} well-known communities answered over ${ctx.inputs.versions.join('/')}` },
      { requirement: 'CR 2.1', coverage: 'partial', passReason: 'no well-known community gives access over SNMP v1/v2c' },
    ];
    // Silence proves nothing about CR 4.1: a community we do not know may still work in cleartext.
    if (answers.length > 0) judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: '' });
    // Without defaults tried there is nothing to say about CR 1.5 / CR 2.1 either.
    const evaluated = judgements.filter((j) => j.requirement === 'CR 4.1' || ctx.inputs.tryDefaults
      || findings.some((f) => f.requirements.includes(j.requirement)));

    return {
      observations: { tried, answered, aliveBy, ...(engineId ? { engineId } : {}), set },
      findings,
      outcomes: judge(evaluated, findings),
    };
  },
});
