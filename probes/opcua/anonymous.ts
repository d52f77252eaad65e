import { defineProbe, finding, judge, type Finding } from '../../src/sdk';
import {
  channelFor, clientIdentityFor, discoverEndpoints, endpointPath, isChannelClosed, isOpcuaStatusError, policyTestable, targetOf,
  usableSecureEndpoints, withOpcuaClient, type BrowsedNode, type DiscoveredEndpoint, type OpcuaSession, type ReadValue, type WriteCheck,
} from '../../src/protocols/opcua';

export interface AnonymousInputs {
  /** NodeId of a variable the write check may change and restore (only with `destructive` allowed). */
  testNode?: string;
  /** Upper bound on nodes browsed and values read. */
  maxNodes: number;
}

interface Exploration {
  browsed: BrowsedNode[];
  read: ReadValue[];
  write: WriteCheck | { attempted: false; reason: string } | { attempted: true; error: string };
}

interface AttemptRecord {
  endpoint: string;
  /** false: the endpoint offers no Anonymous token and one was sent anyway. */
  advertised: boolean;
  /** channel-closed: the server hung up at the OpenSecureChannel without a status (no answer about anonymous). */
  outcome: 'activated' | 'refused' | 'channel-refused' | 'channel-closed' | 'not-tested';
  status?: string;
  reason?: string;
}

const SERVER_STATUS = 'i=2256';

async function explore(session: OpcuaSession, inputs: AnonymousInputs, destructive: boolean): Promise<Exploration> {
  const browsed: BrowsedNode[] = [];
  const queue = ['i=85']; // ObjectsFolder
  while (queue.length > 0 && browsed.length < inputs.maxNodes) {
    const children = await session.browse(queue.shift()!, inputs.maxNodes - browsed.length);
    for (const c of children) {
      browsed.push(c);
      if (c.nodeClass === 'Object' && c.nodeId !== 'ns=0;i=2253') queue.push(c.nodeId); // not into the Server object's diagnostics tree
    }
  }
  const variables = browsed.filter((n) => n.nodeClass === 'Variable').map((n) => n.nodeId);
  const read = await session.read([SERVER_STATUS, ...variables].slice(0, inputs.maxNodes));
  let write: Exploration['write'];
  if (!inputs.testNode) write = { attempted: false, reason: 'the profile names no testNode for this probe' };
  else if (!destructive) write = { attempted: false, reason: 'writing needs the destructive safety class (profile and --allow destructive)' };
  else {
    try {
      write = await session.writeReadRestore(inputs.testNode);
    } catch (err) {
      if (!isOpcuaStatusError(err)) throw err;
      write = { attempted: true, error: `${err.stage}: ${err.status}` };
    }
  }
  return { browsed, read, write };
}

export default defineProbe<AnonymousInputs>({
  id: 'opcua.anonymous',
  protocol: 'opcua',
  title: 'OPC UA anonymous session: activation, browse, read (and write when allowed)',
  description:
    'On every endpoint that offers the Anonymous user token (unsecured ones first; secure ones with the ' +
    "harness's client certificate), creates and activates a session with an AnonymousIdentityToken. Where no " +
    'endpoint offers it, sends one anyway (policy id "anonymous") on the least protected endpoint the harness ' +
    'can open: the server must refuse it. If a session activates, browses the Objects folder (bounded), reads ' +
    'the ServerStatus and the variables found and, only with the destructive class allowed and a testNode ' +
    'named in the profile, writes a different value, reads it back and writes the original again.',
  requirements: ['CR 1.1', 'CR 2.1'],
  findings: {
    'session-activated': 'an anonymous session activated (whether or not the endpoint advertises Anonymous)',
    'write-accepted': 'an anonymous session wrote the test node and the value read back changed',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['opcua'],
  timeoutMs: 30_000,
  inputs: {
    schema: {
      type: 'object',
      properties: {
        testNode: { type: 'string', description: 'NodeId of a variable the write check may change and restore (destructive only), e.g. ns=1;s=TestSetpoint' },
        maxNodes: { type: 'integer', minimum: 1, maximum: 1000 },
      },
      additionalProperties: false,
    },
    defaults: { maxNodes: 50 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const target = targetOf(service);
    const endpoints = await discoverEndpoints(target, { signal: ctx.signal, deadline: ctx.deadline });
    const offering = endpoints.filter((e) => e.userTokens.includes('Anonymous'));
    const candidates: { endpoint: DiscoveredEndpoint; advertised: boolean }[] = [];
    if (offering.length > 0) {
      for (const e of offering) if (e.securityMode === 'None') candidates.push({ endpoint: e, advertised: true });
      for (const e of offering) if (e.securityMode !== 'None') candidates.push({ endpoint: e, advertised: true });
    } else {
      const { usable } = usableSecureEndpoints(endpoints);
      const weakest = endpoints.find((e) => e.securityMode === 'None') ?? usable[usable.length - 1];
      if (weakest) candidates.push({ endpoint: weakest, advertised: false });
    }
    const attempts: AttemptRecord[] = [];
    let activated: { endpoint: DiscoveredEndpoint; advertised: boolean; exploration: Exploration } | undefined;
    for (const { endpoint, advertised } of candidates) {
      const label = `${endpoint.securityMode}/${endpoint.securityPolicy}`;
      const testable = endpoint.securityMode === 'None' ? { testable: true } : policyTestable(endpoint.securityPolicy);
      if (!testable.testable) {
        attempts.push({ endpoint: label, advertised, outcome: 'not-tested', reason: testable.reason });
        continue;
      }
      const security = endpoint.securityMode === 'None' ? undefined : channelFor(endpoint, clientIdentityFor(service, ctx.resolvePath));
      const who = advertised ? { type: 'anonymous' as const } : { type: 'anonymous' as const, unadvertisedPolicyId: 'anonymous' };
      try {
        const exploration = await withOpcuaClient(
          target, { signal: ctx.signal, deadline: ctx.deadline, path: endpointPath(endpoint.endpointUrl), security },
          (c) => c.withSession(who, (s) => explore(s, ctx.inputs, ctx.allowed.has('destructive'))),
        );
        attempts.push({ endpoint: label, advertised, outcome: 'activated' });
        activated = { endpoint, advertised, exploration };
        break;
      } catch (err) {
        if (isOpcuaStatusError(err, 'channel')) attempts.push({ endpoint: label, advertised, outcome: 'channel-refused', status: err.status });
        else if (isChannelClosed(err)) attempts.push({ endpoint: label, advertised, outcome: 'channel-closed', reason: err.message });
        else if (isOpcuaStatusError(err, 'session')) attempts.push({ endpoint: label, advertised, outcome: 'refused', status: err.status });
        else throw err;
      }
    }
    // A pass needs a refusal on every endpoint tried: one that hung up, refused the channel or could not be
    // tested leaves its answer unknown, and a refusal elsewhere does not speak for it.
    const unanswered = attempts.filter((a) => a.outcome !== 'activated' && a.outcome !== 'refused');
    const decisive = activated !== undefined || (attempts.length > 0 && unanswered.length === 0);
    const observations: Record<string, unknown> = { anonymousOffered: offering.length > 0, attempts };
    const findings: Finding[] = [];
    if (activated) {
      const { endpoint, exploration } = activated;
      const label = `${endpoint.securityMode}/${endpoint.securityPolicy}`;
      const path = ctx.evidence.save('anonymous-session.json', { endpoint: endpoint.endpointUrl, connectedTo: `${target.host}:${target.port}`, ...exploration });
      const readable = exploration.read.filter((r) => r.status === 'Good');
      observations.session = {
        endpoint: label, browsed: exploration.browsed.length, readable: readable.length, values: readable.slice(0, 10), write: exploration.write,
      };
      findings.push(finding({
        code: 'session-activated', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence: [path],
        message: `an anonymous session activated on ${label}${activated.advertised ? '' : ' although no endpoint advertises the Anonymous token'}; ` +
          `it browsed ${exploration.browsed.length} node(s) and read ${readable.length} value(s)`,
      }));
      const w = exploration.write;
      if ('writeStatus' in w && w.writeStatus === 'Good' && w.changed) {
        findings.push(finding({
          code: 'write-accepted', severity: 'critical', requirements: ['CR 2.1'], evidence: [path],
          message: `an anonymous session wrote ${w.nodeId} (${w.original} -> ${w.written}, read back ${w.readBack}; restored: ${w.restored})`,
        }));
      }
    } else if (!decisive) {
      observations.reason = candidates.length === 0
        ? 'no endpoint the harness can open (no None endpoint, no usable secure one)'
        : `no answer about anonymous activation on ${unanswered.map((a) => `${a.endpoint} (${a.outcome})`).join(', ')} (see attempts); `
          + 'a refused client certificate needs a trusted one named in the profile';
    }
    const refused = attempts.filter((a) => a.outcome === 'refused').map((a) => `${a.endpoint}: ${a.status}${a.advertised ? '' : ', not advertised'}`);
    const outcomes = decisive ? judge([
      { requirement: 'CR 1.1', coverage: 'partial', passReason: `anonymous activation refused (${refused.join('; ')})` },
      { requirement: 'CR 2.1', coverage: 'partial', passReason: 'no anonymous session, so no unauthorised read or write' },
    ], findings) : [];
    return { observations, findings, outcomes };
  },
});
