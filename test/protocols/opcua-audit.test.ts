import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { correlate, opcuaAuditRecords } from '../../src/protocols/audit';
import { channelFor, discoverEndpoints, endpointPath, harnessIdentity, subscribeOpcuaAudit, usableSecureEndpoints, withOpcuaClient, type OpcuaAuditSubscriber } from '../../src/protocols/opcua';
import { RunActionLog } from '../../src/runner/actions';
import type { OpcuaAuditEvent } from '../../src/sdk';
import { stallServer } from '../../fixtures/servers';
import { PEER_USERS, startAuditPeer, type AuditPeer } from '../helpers/opcua-audit-peer';

describe('protocols/opcua audit subscriber (Part 5 AuditEventType on the Server object)', function () {
  this.timeout(60_000);
  let dir: string;
  let peer: AuditPeer | undefined;
  let subscriber: OpcuaAuditSubscriber | undefined;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-opcua-audit-')); });
  afterEach(async () => {
    await subscriber?.close();
    await peer?.close();
    subscriber = undefined;
    peer = undefined;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  let seq = 0;
  const subscribe = (port: number, credential = { username: 'auditor', password: PEER_USERS.auditor }, extra: { signal?: AbortSignal; timeoutMs?: number } = {}) => subscribeOpcuaAudit({
    target: { host: '127.0.0.1', port }, credential, identity: harnessIdentity(), journalFile: path.join(dir, 'opcua-audit.ndjson'),
    nextSeq: () => ++seq, signal: extra.signal ?? new AbortController().signal, ...(extra.timeoutMs ? { timeoutMs: extra.timeoutMs } : {}),
  });
  const journal = () => fs.readFileSync(path.join(dir, 'opcua-audit.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

  async function login(port: number, username: string, password: string): Promise<string> {
    const signal = new AbortController().signal;
    const ep = usableSecureEndpoints(await discoverEndpoints({ host: '127.0.0.1', port }, { signal })).usable[0];
    try {
      await withOpcuaClient({ host: '127.0.0.1', port }, { signal, path: endpointPath(ep.endpointUrl), security: channelFor(ep, harnessIdentity()) }, (c) => c.withSession({ type: 'username', username, password }, async () => undefined));
      return 'accepted';
    } catch (err) {
      return (err as Error).message;
    }
  }

  it('journals every event raw before decoding, and decodes what the server raised (node-opcua\'s own server, isAuditing)', async () => {
    peer = await startAuditPeer({ isAuditing: true });
    subscriber = await subscribe(peer.port);
    expect(subscriber.subscription).to.deep.include({ state: 'subscribed', serverAuditing: true, endpoint: 'SignAndEncrypt/Basic256Sha256', account: 'auditor' });
    const before = peer.raised.length;
    expect(await login(peer.port, 'operator', PEER_USERS.operator)).to.equal('accepted');
    expect(await login(peer.port, 'operator', 'wrong')).to.match(/BadUserAccessDenied/);
    const deadline = Date.now() + 5000;
    while (subscriber.events.length < peer.raised.length - before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    // The server-side truth: what node-opcua handed to raiseEvent after we subscribed, field by field.
    expect(subscriber.events.map((e) => [e.eventType, e.clientUserId, e.status, e.sourceName]))
      .to.deep.equal(peer.raised.slice(before).map((r) => [r.eventType, r.clientUserId, r.status, r.sourceName]));
    // node-opcua 2.182.2: the accepted login is audited with ClientUserId "cc"; the refused one raises no ActivateSession event.
    const activations = subscriber.events.filter((e) => e.eventType === 'AuditActivateSessionEventType');
    expect(activations.map((e) => [e.status, e.clientUserId, e.tokenUserName])).to.deep.equal([[true, 'cc', 'operator']]);
    const raw = journal().filter((j) => j.type === 'event');
    expect(raw).to.have.length(subscriber.events.length);
    const first = raw[0].fields as Record<string, { dataType: string; value: unknown }>;
    expect(first.EventType).to.deep.equal({ dataType: 'NodeId', value: subscriber.events[0].eventTypeId });
    expect(first.Time.dataType).to.equal('DateTime');
    expect(JSON.stringify(raw)).to.not.contain(PEER_USERS.operator);
  });

  it('a server without auditing: subscribed, Server_Auditing false, no event', async () => {
    peer = await startAuditPeer({ isAuditing: false });
    subscriber = await subscribe(peer.port);
    expect(subscriber.subscription).to.deep.include({ state: 'subscribed', serverAuditing: false });
    expect(await login(peer.port, 'operator', PEER_USERS.operator)).to.equal('accepted');
    await new Promise((r) => setTimeout(r, 800));
    expect(subscriber.events).to.deep.equal([]);
  });

  it('refused audit account, no account, silent server, aborted: unavailable with the reason, never a throw', async () => {
    peer = await startAuditPeer({ isAuditing: true });
    expect((await subscribe(peer.port, { username: 'auditor', password: 'wrong' })).subscription).to.deep.include({ state: 'unavailable' });
    expect((await subscribe(peer.port, { username: 'auditor', password: 'wrong' })).subscription.reason).to.match(/could not log in.*BadUserAccessDenied/);
    const none = await subscribeOpcuaAudit({ target: { host: '127.0.0.1', port: peer.port }, identity: harnessIdentity(), journalFile: path.join(dir, 'j'), nextSeq: () => 0, signal: new AbortController().signal });
    expect(none.subscription.reason).to.match(/no account/);
    const stall = await stallServer();
    try {
      const started = Date.now();
      const silent = await subscribe(stall.port, undefined, { timeoutMs: 500 });
      expect(silent.subscription.state).to.equal('unavailable');
      expect(Date.now() - started).to.be.below(5000);
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      const aborted = await subscribe(stall.port, undefined, { signal: controller.signal });
      expect(aborted.subscription.state).to.equal('unavailable');
    } finally {
      await stall.close();
    }
  });

  describe('correlation rules for OPC UA records', () => {
    const event = (over: Partial<OpcuaAuditEvent>): OpcuaAuditEvent => ({
      seq: 1, receivedAt: Date.now(), host: '127.0.0.1', port: 4840, eventType: 'AuditActivateSessionEventType', eventTypeId: 'ns=0;i=2075',
      time: Date.now(), receiveTime: Date.now(), actionTimeStamp: Date.now(), sourceName: 'Session/ActivateSession', message: null, severity: 0,
      status: false, clientUserId: 'operator', serverId: '', clientAuditEntryId: '', sessionId: 'ns=1;i=7', tokenUserName: null, own: false, ...over,
    });
    const actions = (iface: string, port: number, kind: 'login-failed' | 'login-succeeded' | 'session-opened') => {
      const log = new RunActionLog();
      log.forAttempt({ probe: 'x', host: '127.0.0.1', port, interface: iface as 'opcua' }).record({ kind, account: 'operator', at: Date.now() - 10 });
      return log.list();
    };
    const match = (a: ReturnType<typeof actions>, e: OpcuaAuditEvent[]) => correlate(a, opcuaAuditRecords(e), { deviceAddresses: ['127.0.0.1'], windowMs: 5000 })[0];

    it('matches only opcua actions on the subscription\'s host and port, by event type and Status', () => {
      expect(match(actions('opcua', 4840, 'login-failed'), [event({})]).record).to.not.equal(undefined);
      expect(match(actions('ssh', 4840, 'login-failed'), [event({})]).record).to.equal(undefined);
      expect(match(actions('opcua', 4841, 'login-failed'), [event({})]).record).to.equal(undefined);
      expect(match(actions('opcua', 4840, 'login-succeeded'), [event({})]).record).to.equal(undefined);
      expect(opcuaAuditRecords([event({})])[0].peer).to.equal('opcua://127.0.0.1:4840');
    });

    it('leaves out the subscriber\'s own session; attributes a session\'s events through its activation', () => {
      expect(match(actions('opcua', 4840, 'login-failed'), [event({ own: true })]).record).to.equal(undefined);
      const created = event({ seq: 1, eventType: 'AuditCreateSessionEventType', status: true, clientUserId: '', sessionId: 'ns=1;i=9' });
      const activated = event({ seq: 2, status: true, clientUserId: 'operator', sessionId: 'ns=1;i=9' });
      expect(match(actions('opcua', 4840, 'session-opened'), [created, activated])).to.deep.include({ userPresent: true });
      expect(match(actions('opcua', 4840, 'session-opened'), [{ ...created, sessionId: 'ns=1;i=10' }, activated])).to.deep.include({ userPresent: false });
    });
  });
});
