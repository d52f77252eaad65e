import { expect } from 'chai';
import probe from '../../../probes/audit/opcua-events';
import eventsProbe from '../../../probes/audit/events';
import identityProbe from '../../../probes/audit/identity';
import opcuaDefaults from '../../../probes/opcua/default-credentials';
import opcuaLockout from '../../../probes/opcua/lockout';
import { startOpcuaAudit, type RunningOpcuaAudit } from '../../../src/runner/lab-opcua';
import { Vault } from '../../../src/runner/credentials';
import { ENGINEER, OPERATOR, POLICY, WEAK_ADMIN, authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { BENCH_CLIENT } from '../../helpers/opcua';
import { PEER_USERS, startAuditPeer, type AuditPeer } from '../../helpers/opcua-audit-peer';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);

/** The hardened device with only OPC UA, its syslog leaving OPC UA out: OPC UA logins reach the lab only as audit events. */
function hardenedOpcuaOnlyAudit() {
  const posture = authPosture('hardened', 'opcua');
  return { ...posture, audit: { ...(posture.audit ?? {}), services: ['ssh'] } };
}

describe('probe audit.opcua-events (CR 6.1 RE(1)) and OPC UA audit events as evidence for CR 2.8/2.12', function () {
  this.timeout(90_000);
  let bench: AuditBench | undefined;
  let peer: AuditPeer | undefined;
  let audit: RunningOpcuaAudit | undefined;
  afterEach(async () => {
    await audit?.close();
    await peer?.close();
    await bench?.close();
    bench = undefined;
    peer = undefined;
    audit = undefined;
  });

  /** Subscribes to a peer's audit events the way the runner does, for the bench's probes. */
  async function subscribePeer(p: AuditPeer, account: { username: string; password: string }) {
    const service = { host: '127.0.0.1', port: p.port, protocol: 'opcua' as const, transport: 'tcp' as const, name: 'opcua', tls: false, options: {} };
    audit = await startOpcuaAudit([{ host: '127.0.0.1', name: '127.0.0.1', addresses: ['127.0.0.1'], services: [service] }],
      new Vault([['audit.opcua', { ...account, source: 'test' }]]), { runDir: bench!.dir, signal: new AbortController().signal });
    return { ...bench!.lab.services, opcuaAudit: audit.services };
  }

  it('hardened device (auditing on): failed logins, the lock and the login after it arrive as audit events with the user -> CR 6.1 RE(1), CR 2.8 and CR 2.12 pass', async () => {
    // The audit account is the one the login probes use: its own session's events must not count.
    bench = await startAuditBench({ posture: hardenedOpcuaOnlyAudit(), opcuaAudit: { account: OPERATOR, options: BENCH_CLIENT } });
    expect(bench.opcuaAudit!.services.subscriptions[0]).to.deep.include({ state: 'subscribed', serverAuditing: true, account: 'operator' });
    const opcua = { port: bench.emulator!.endpoint('opcua').port, protocol: 'opcua' as const, options: BENCH_CLIENT };
    await bench.run(opcuaDefaults, { service: opcua, policy: POLICY });
    await bench.run(opcuaLockout, { service: opcua, policy: POLICY, credentials: { opcua: OPERATOR, 'lockout.opcua.second': ENGINEER } });
    const { attempt, read } = await bench.run(probe, { services: [opcua] });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(attempt.outcomes).to.deep.equal([{ requirement: 'CR 6.1 RE(1)', verdict: 'pass', coverage: 'full', reason: attempt.outcomes[0].reason }]);
    expect(attempt.observations.eventTypes).to.include.keys('AuditActivateSessionEventType', 'AuditCreateSessionEventType');
    const correlation = JSON.parse(read('evidence/audit.opcua-events/127.0.0.1/opcua-correlation.json')) as { matches: { event: { own: boolean } | null }[] };
    expect(correlation.matches.filter((m) => m.event).every((m) => m.event!.own === false)).to.equal(true);
    expect(attempt.evidence).to.include('evidence/audit.opcua-events/127.0.0.1/opcua-correlation.json');

    const events = (await bench.run(eventsProbe, { services: [opcua] })).attempt;
    expect(events.status, JSON.stringify(events.findings)).to.equal('pass');
    expect((events.observations.kinds as { kind: string; interface: string }[]).map((k) => `${k.kind} via ${k.interface}`))
      .to.include.members(['login-failed via opcua', 'login-succeeded via opcua', 'lockout-expected via opcua']);
    const identity = (await bench.run(identityProbe, { services: [opcua] })).attempt;
    expect(identity.status, JSON.stringify(identity.findings)).to.equal('pass');
  });

  it('weak device (no auditing): Server_Auditing false, no event -> CR 6.1 RE(1) not determined; the OPC UA logins fail CR 2.8', async () => {
    bench = await startAuditBench({ posture: authPosture('weak', 'opcua'), opcuaAudit: { account: WEAK_ADMIN } });
    expect(bench.opcuaAudit!.services.subscriptions[0]).to.deep.include({ state: 'subscribed', serverAuditing: false });
    const opcua = { port: bench.emulator!.endpoint('opcua').port, protocol: 'opcua' as const };
    await bench.run(opcuaDefaults, { service: opcua, policy: POLICY, inputs: { lists: ['generic'] } });
    const { attempt } = await bench.run(probe, { services: [opcua] });
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.notDetermined).to.match(/Server_Auditing false/);
    expect(attempt.observations.eventsReceived).to.equal(0);
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['audit.opcua-events.no-audit-access', 'info']]);
    const events = (await bench.run(eventsProbe, { services: [opcua] })).attempt;
    expect(events.status).to.equal('fail');
    expect(codes(events)).to.include('audit.events.category-not-logged');
  });

  describe('independent and deceptive peers (node-opcua\'s own server, configured here)', () => {
    it('node-opcua 2.182.2 with isAuditing: events obtained (CR 6.1 RE(1) pass), but ClientUserId "cc" for every user and no event for a failed activation -> CR 2.12 and CR 2.8 fail', async () => {
      bench = await startAuditBench();
      peer = await startAuditPeer({ isAuditing: true });
      const lab = await subscribePeer(peer, { username: 'auditor', password: PEER_USERS.auditor });
      const opcua = { port: peer.port, protocol: 'opcua' as const };
      const operator = { username: 'operator', password: PEER_USERS.operator };
      await bench.run(opcuaLockout, { service: opcua, policy: POLICY, credentials: { opcua: operator }, lab });
      const { attempt } = await bench.run(probe, { services: [opcua], lab });
      expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
      const identity = (await bench.run(identityProbe, { services: [opcua], lab })).attempt;
      expect(identity.status).to.equal('fail');
      expect(identity.findings.map((f) => f.message).join('\n')).to.match(/login-succeeded via opcua: \d+ of \d+ record\(s\) do not name the account \(operator\)/);
      const events = (await bench.run(eventsProbe, { services: [opcua], lab })).attempt;
      expect(events.status).to.equal('fail');
      expect(events.findings.map((f) => f.message).join('\n')).to.match(/login-failed via opcua: none of \d+ provoked event\(s\) was logged/);
      // What the subscriber decoded is what the server raised (server-side record, not our decoder).
      const seen = audit!.services.events.map((e) => [e.eventType, e.clientUserId, e.status, e.sourceName]);
      const raised = peer.raised.map((r) => [r.eventType, r.clientUserId, r.status, r.sourceName]);
      expect(seen).to.deep.equal(raised.slice(raised.length - seen.length));
    });

    it('a deceptive server whose audit events carry no ClientUserId at all -> CR 2.12 fail', async () => {
      bench = await startAuditBench();
      peer = await startAuditPeer({ isAuditing: true, rewrite: (_type, fields) => { fields.clientUserId = { value: '' }; } });
      const lab = await subscribePeer(peer, { username: 'auditor', password: PEER_USERS.auditor });
      const opcua = { port: peer.port, protocol: 'opcua' as const };
      await bench.run(opcuaLockout, { service: opcua, policy: POLICY, credentials: { opcua: { username: 'operator', password: PEER_USERS.operator } }, lab });
      const identity = (await bench.run(identityProbe, { services: [opcua], lab })).attempt;
      expect(identity.status).to.equal('fail');
      expect(codes(identity)).to.deep.equal(['audit.identity.user-missing']);
    });

    it('a server without auditing: the subscription stands, nothing arrives -> not determined, never pass', async () => {
      bench = await startAuditBench();
      peer = await startAuditPeer({ isAuditing: false });
      const lab = await subscribePeer(peer, { username: 'auditor', password: PEER_USERS.auditor });
      const opcua = { port: peer.port, protocol: 'opcua' as const };
      await bench.run(opcuaLockout, { service: opcua, policy: POLICY, credentials: { opcua: { username: 'operator', password: PEER_USERS.operator } }, lab });
      const { attempt } = await bench.run(probe, { services: [opcua], lab });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/Server_Auditing false/);
    });

    it('the audit account is refused: the subscription is unavailable with the reason -> not determined', async () => {
      bench = await startAuditBench();
      peer = await startAuditPeer({ isAuditing: true });
      const lab = await subscribePeer(peer, { username: 'auditor', password: 'not-the-password' });
      expect(audit!.services.subscriptions[0]).to.deep.include({ state: 'unavailable' });
      bench.actions.forAttempt({ probe: 'opcua.lockout', host: '127.0.0.1', port: peer.port, interface: 'opcua' }).record({ kind: 'login-failed', account: 'operator' });
      const { attempt } = await bench.run(probe, { services: [{ port: peer.port, protocol: 'opcua' }], lab });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/no audit subscription: port \d+: the audit account could not log in/);
    });
  });

  describe('nothing to judge: not determined, never pass', () => {
    it('no lab.opcuaAudit', async () => {
      const { attempt } = await runProbe(probe, { services: [{ port: 4840, protocol: 'opcua' }] });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/does not subscribe to OPC UA audit events/);
    });
  });

  it('a settle time longer than the attempt budget -> error (timeout), nothing judged', async () => {
    bench = await startAuditBench({ settleSeconds: 30 });
    peer = await startAuditPeer({ isAuditing: true });
    const lab = await subscribePeer(peer, { username: 'auditor', password: PEER_USERS.auditor });
    bench.actions.forAttempt({ probe: 'opcua.lockout', host: '127.0.0.1', port: peer.port, interface: 'opcua' }).record({ kind: 'login-failed', account: 'operator' });
    const { attempt } = await bench.run(probe, { services: [{ port: peer.port, protocol: 'opcua' }], timeoutMs: 500, lab: { ...lab, settleMs: 30_000 } });
    expect(attempt.status).to.equal('error');
    expect(attempt.outcomes).to.deep.equal([]);
  });
});
