import { MissingInput, ProtocolViolation, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ProbeContext } from '../../src/sdk';
import {
  clientIdTakeover, connectSession, probeClientId, randomToken, summariseTopics, type ConnectAnswer, type MqttEndpoint, type MqttSession,
  type ProtocolLevel, type SeenTopic, type SubscribeOutcome, type TakeoverResult,
} from '../../src/protocols/mqtt';

export interface AccessInputs {
  requestTimeoutMs: number;
  /** How long deliveries on '#' and '$SYS/#' are read (ms). */
  windowMs: number;
  /** Distinct topics recorded at most. */
  maxTopics: number;
  /** Bytes of each topic's first payload kept (hex), never more. */
  previewBytes: number;
  /** The test message goes to `<topicPrefix>/<random>` (QoS 0, retain off). */
  topicPrefix: string;
  /** Connect twice with one client id (anonymous only): does the second push the first off? */
  takeover: boolean;
  takeoverWaitMs: number;
  /** 'auto': MQTT 5.0, falling back to 3.1.1. */
  protocolLevel: 'auto' | 4 | 5;
}

/** What one session (anonymous or with the profile's account) was allowed to do. */
interface SessionRecord {
  as: string;
  level: ProtocolLevel;
  subscriptions: SubscribeOutcome[];
  testTopic: string;
  /** The test message came back on the subscription to its topic: the broker routed it. */
  publish: 'delivered' | 'not-delivered' | 'not-observable';
  topics: SeenTopic[];
  messages: number;
  truncated: boolean;
  /** $SYS/broker/version, as published (at most 100 characters). */
  version?: string;
  ended?: string;
}

const VERSION_TOPIC = '$SYS/broker/version';

async function exerciseSession(ctx: ProbeContext<AccessInputs>, session: MqttSession, as: string): Promise<SessionRecord> {
  const { inputs } = ctx;
  const testTopic = `${inputs.topicPrefix}/${randomToken(6)}`;
  try {
    const subscriptions = await session.subscribe(['#', '$SYS/#', testTopic]);
    const echoWatched = subscriptions[2].granted;
    const marker = Buffer.from(`iacs-probe ${randomToken(4)}`, 'utf8');
    session.publish(testTopic, marker);
    const delivered = await session.collect(inputs.windowMs);
    const echoed = delivered.some((m) => m.topic === testTopic && m.payload.equals(marker));
    const others = delivered.filter((m) => m.topic !== testTopic);
    const version = others.find((m) => m.topic === VERSION_TOPIC)?.payload.toString('utf8').slice(0, 100);
    return {
      as, level: session.level, subscriptions, testTopic, publish: echoed ? 'delivered' : echoWatched ? 'not-delivered' : 'not-observable',
      ...summariseTopics(others, inputs.maxTopics, inputs.previewBytes), ...(version !== undefined ? { version } : {}),
      ...(session.end ? { ended: `${session.end.how}${session.end.reason ? ` ${session.end.reason}` : ''} after ${session.end.afterMs} ms` } : {}),
    };
  } finally {
    session.close();
  }
}

const refused = (r: SessionRecord, filter: string) => r.subscriptions.find((s) => s.filter === filter)?.granted === false;
const connackOf = (a: ConnectAnswer) => (a.status === 'closed' ? `connection ${a.reset ? 'reset' : 'closed'} without CONNACK` : `CONNACK ${a.text}`);

export default defineProbe<AccessInputs>({
  id: 'mqtt.access',
  protocol: 'mqtt',
  title: 'Unauthenticated MQTT access: anonymous CONNECT, subscriptions to # and $SYS/#, a test publish, client-id takeover',
  description:
    'Sends an anonymous CONNECT (MQTT 5.0, falling back to 3.1.1) with a random client id. When the broker accepts it, subscribes '
    + 'to #, $SYS/# and a random test topic under topicPrefix, publishes one QoS 0 message (retain off) to the test topic, and '
    + 'reads deliveries for windowMs, recording topic names, message counts and payload sizes (at most previewBytes of each '
    + 'payload; the broker version from $SYS/broker/version); then connects twice with one client id to see whether the '
    + 'second connection pushes the first off. When anonymous clients are refused and the profile gives credentials.mqtt, '
    + 'the same subscriptions and publish show what the account may do (ACLs). Anonymous sessions and what they may read '
    + 'and write fail CR 1.1 and CR 2.1; the broker\'s own refusal (CONNACK 5, 0x86/0x87; SUBACK failure) is partial '
    + 'evidence for them.',
  requirements: ['CR 1.1', 'CR 1.2', 'CR 2.1'],
  findings: {
    'anonymous-access': 'the broker accepts MQTT clients (users, devices, processes) that present no user name or password',
    'read-all': 'an anonymous client subscribed to # was sent application topics (it reads what the plant publishes)',
    'sys-readable': 'an anonymous client subscribed to $SYS/# was sent broker internals (version, clients, load)',
    'publish-accepted': 'an anonymous client\'s message to an arbitrary topic was delivered to subscribers',
    'client-id-takeover': 'an anonymous client with another client\'s identifier pushes that client off the broker',
    'version-disclosed': 'the broker publishes its product and version in $SYS/broker/version to the probing client',
    'account-wildcard': 'the profile\'s account subscribed to # was sent application topics: the lab checks them against the account\'s role',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['mqtt'],
  locks: (plan) => (plan.service ? [{ key: `mqtt:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 30_000,
  inputs: {
    schema: inputsSchema({
      requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 },
      windowMs: { type: 'integer', minimum: 0, maximum: 60_000 },
      maxTopics: { type: 'integer', minimum: 1, maximum: 10_000 },
      previewBytes: { type: 'integer', minimum: 0, maximum: 16 },
      topicPrefix: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^#+$][^#+]*$' },
      takeover: { type: 'boolean' },
      takeoverWaitMs: { type: 'integer', minimum: 100, maximum: 30_000 },
      protocolLevel: { enum: ['auto', 4, 5] },
    }),
    defaults: { requestTimeoutMs: 3000, windowMs: 2000, maxTopics: 200, previewBytes: 4, topicPrefix: 'iacs-probe/test', takeover: true, takeoverWaitMs: 1500, protocolLevel: 'auto' },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('mqtt.access needs a declared mqtt service');
    const endpoint: MqttEndpoint = { host: service.host, port: service.port, tls: service.tls };
    const transcript = new Transcript(ctx.evidence, 'mqtt-access.txt');
    const base = { signal: ctx.signal, waitMs: ctx.inputs.requestTimeoutMs, transcript };
    const anonymous = await connectSession(endpoint, { ...base, clientId: probeClientId(), level: ctx.inputs.protocolLevel });
    if (anonymous.status === 'closed') throw new ProtocolViolation(`the peer ${anonymous.reset ? 'reset' : 'closed'} the connection without answering CONNECT (MQTT 5.0 and 3.1.1)`);
    let session: SessionRecord | undefined;
    let takeover: TakeoverResult | undefined;
    let account: SessionRecord | { refused: string } | undefined;
    if (anonymous.status === 'accepted') {
      session = await exerciseSession(ctx, anonymous.session, 'anonymous');
      if (ctx.inputs.takeover) takeover = await clientIdTakeover(endpoint, { ...base, clientId: probeClientId(), level: anonymous.level, takeoverWaitMs: ctx.inputs.takeoverWaitMs });
    } else if (anonymous.refusal === 'authentication') {
      const credential = ctx.credentials.get('mqtt');
      if (credential) {
        const answer = await connectSession(endpoint, { ...base, clientId: probeClientId(), level: anonymous.level, credentials: credential });
        account = answer.status === 'accepted' ? await exerciseSession(ctx, answer.session, `user ${credential.username} (${credential.source})`) : { refused: connackOf(answer) };
      }
    }
    const record = { anonymous: connackOf(anonymous), protocolLevel: anonymous.level, session: session ?? null, takeover: takeover ?? null, account: account ?? null };
    const evidence = [transcript.path, ctx.evidence.save('access.json', record)];
    const findings = accessFindings(anonymous, session, takeover, account, evidence);
    const judgements = accessJudgements(anonymous, session, takeover, account);
    return {
      observations: {
        anonymous: connackOf(anonymous), protocolLevel: anonymous.level === 5 ? '5.0' : '3.1.1',
        ...(session ? { session: summaryOf(session) } : {}),
        ...(takeover ? { takeover } : {}),
        ...(account ? { account: 'refused' in account ? account : summaryOf(account) } : {}),
        ...(judgements.length === 0 ? { notDetermined: `the broker refused the anonymous CONNECT for another reason than authentication (${connackOf(anonymous)}): no evidence about access control` } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});

function summaryOf(r: SessionRecord) {
  return {
    as: r.as, subscriptions: Object.fromEntries(r.subscriptions.map((s) => [s.filter === r.testTopic ? 'testTopic' : s.filter, s.text])),
    publish: r.publish, topicsSeen: r.topics.length, messages: r.messages, ...(r.version !== undefined ? { brokerVersion: r.version } : {}),
    topics: r.topics.slice(0, 20).map((t) => t.topic), ...(r.ended ? { ended: r.ended } : {}),
  };
}

function accessFindings(anonymous: ConnectAnswer, session: SessionRecord | undefined, takeover: TakeoverResult | undefined, account: SessionRecord | { refused: string } | undefined, evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  if (anonymous.status === 'accepted' && session) {
    findings.push(finding({
      code: 'anonymous-access', severity: 'high', requirements: ['CR 1.1', 'CR 1.2'], evidence,
      message: `The broker accepts an MQTT client with no user name or password (${connackOf(anonymous)}, MQTT ${anonymous.level === 5 ? '5.0' : '3.1.1'}).`,
    }));
    // A SUBACK grant alone proves nothing: mosquitto grants # and filters deliveries by its ACL. Deliveries do.
    const application = session.topics.filter((t) => !t.topic.startsWith('$'));
    if (application.length > 0) {
      findings.push(finding({
        code: 'read-all', severity: 'high', requirements: ['CR 2.1'], evidence,
        message: `An anonymous client subscribed to # (SUBACK ${session.subscriptions[0].text}) and was sent ${application.length} application topic(s) within the window, e.g. ${application.slice(0, 3).map((t) => t.topic).join(', ')}.`,
      }));
    }
    const sys = session.topics.filter((t) => t.topic.startsWith('$SYS/'));
    if (sys.length > 0) {
      findings.push(finding({
        code: 'sys-readable', severity: 'medium', requirements: ['CR 2.1'], evidence,
        message: `An anonymous client subscribed to $SYS/# and was sent ${sys.length} broker-internal topic(s) (e.g. ${sys.slice(0, 3).map((t) => t.topic).join(', ')}).`,
      }));
    }
    if (session.publish === 'delivered') {
      findings.push(finding({
        code: 'publish-accepted', severity: 'high', requirements: ['CR 2.1'], evidence,
        message: `An anonymous client's QoS 0 message to ${session.testTopic} was delivered to subscribers: anyone may publish to arbitrary topics.`,
      }));
    }
  }
  if (takeover?.taken) {
    findings.push(finding({
      code: 'client-id-takeover', severity: 'medium', requirements: ['CR 1.2', 'CR 2.1'], evidence,
      message: `A second anonymous connection with client id ${takeover.clientId} ended the first one (${takeover.firstEnded?.how}${takeover.firstEnded?.reason ? ` ${takeover.firstEnded.reason}` : ''}): any peer can push a client off and take its session by its identifier.`,
    }));
  }
  const versions = [session?.version, account && !('refused' in account) ? account.version : undefined].filter((v): v is string => v !== undefined);
  if (versions.length > 0) {
    findings.push(finding({
      code: 'version-disclosed', severity: 'info', requirements: [], evidence,
      message: `${VERSION_TOPIC} reads "${versions[0]}" to the ${session?.version !== undefined ? 'anonymous' : 'authenticated'} probing client.`,
    }));
  }
  const accountTopics = account && !('refused' in account) ? account.topics.filter((t) => !t.topic.startsWith('$')) : [];
  if (accountTopics.length > 0) {
    findings.push(finding({
      code: 'account-wildcard', severity: 'info', requirements: [], evidence,
      message: `The profile's account (${(account as SessionRecord).as}) subscribed to # and was sent ${accountTopics.length} application topic(s) (e.g. ${accountTopics.slice(0, 3).map((t) => t.topic).join(', ')}): check them against the account's role.`,
    }));
  }
  return findings;
}

/**
 * Which requirements the probe examined. A pass needs the broker's own refusal: a CONNACK refusing the
 * anonymous client for authentication (CR 1.1, CR 1.2, CR 2.1), or, for an anonymous session, SUBACK
 * refusals of # and $SYS/# and a test message that did not come back while its topic was subscribed (CR 2.1).
 */
function accessJudgements(anonymous: ConnectAnswer, session: SessionRecord | undefined, takeover: TakeoverResult | undefined, account: SessionRecord | { refused: string } | undefined): Judgement[] {
  if (anonymous.status === 'refused') {
    if (anonymous.refusal !== 'authentication') return [];
    const acl = account && !('refused' in account) && refused(account, '#') ? `; the profile's account is refused # (SUBACK ${account.subscriptions[0].text})` : '';
    const reason = `the broker refuses anonymous clients (${connackOf(anonymous)})${acl}`;
    return ['CR 1.1', 'CR 1.2', 'CR 2.1'].map((requirement) => ({ requirement, coverage: 'partial' as const, passReason: reason }));
  }
  if (!session) return [];
  // The anonymous session itself fails CR 1.1 and CR 1.2 (anonymous-access); CR 2.1 depends on what it may do.
  const out: Judgement[] = ['CR 1.1', 'CR 1.2'].map((requirement) => ({ requirement, coverage: 'partial' as const, passReason: 'clients authenticate' }));
  const aclHolds = refused(session, '#') && refused(session, '$SYS/#') && session.publish === 'not-delivered';
  const delivered = session.topics.length > 0;
  if (delivered || session.publish === 'delivered' || takeover?.taken || aclHolds) {
    out.push({ requirement: 'CR 2.1', coverage: 'partial', passReason: 'anonymous clients connect, but the broker refuses them # and $SYS/# (SUBACK) and does not route their messages' });
  }
  return out;
}
