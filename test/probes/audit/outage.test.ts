import { expect } from 'chai';
import * as net from 'node:net';
import * as fs from 'node:fs';
import * as path from 'node:path';
import probe from '../../../probes/audit/outage';
import { loadPosture, startEmulator, type Emulator, type Posture } from '../../../src/emulator';
import { authPosture } from '../../helpers/auth-devices';
import { startAuditBench, type AuditBench } from '../../helpers/audit-bench';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);
/** The emulator's alarm (src/emulator/audit.ts), as the example profiles give it. */
const ALARM = 'AUDIT_FAIL';
/** A short outage for tests; the device retries every second. */
const OUTAGE = { seconds: 3, reconnectSeconds: 8, alarm: ALARM };
const COUNTER = { modbus: { unitId: 1, register: 0, kind: 'counter', periodMs: 200 } };

/** An emulated device with its SSH login and, for the essential function, plain Modbus/TCP with a counter. */
function devicePosture(name: 'weak' | 'hardened', audit: Record<string, unknown> = {}): Posture {
  const ssh = authPosture(name, 'ssh');
  const modbus = loadPosture(name).services.modbus;
  return { ...ssh, audit: { ...ssh.audit, ...audit }, services: { ...ssh.services, modbus: { ...modbus, enabled: true, counter: { periodMs: 200 } } } };
}

function servicesOf(emulator: Emulator) {
  return [{ port: emulator.endpoint('ssh').port, protocol: 'ssh' as const }, { port: emulator.endpoint('modbus').port, protocol: 'modbus' as const, unitId: 1 }];
}

describe('probe audit.outage (CR 2.10)', function () {
  this.timeout(90_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  it('hardened device (TLS): the outage\'s failed logins arrive afterwards, the AUDIT_FAIL alarm too, the counter keeps counting -> pass, full', async () => {
    bench = await startAuditBench({ posture: devicePosture('hardened'), outage: OUTAGE });
    const { attempt, read } = await bench.run(probe, { services: servicesOf(bench.emulator!), essentialFunction: COUNTER });
    expect(attempt.status, JSON.stringify([attempt.findings, attempt.observations])).to.equal('pass');
    expect(attempt.outcomes).to.deep.equal([{ requirement: 'CR 2.10', verdict: 'pass', coverage: 'full', reason: attempt.outcomes[0].reason }]);
    expect(attempt.observations).to.deep.include({ senderTransport: 'tls', namesUsers: true, provoked: 3, delivered: 3 });
    expect((attempt.observations.alarm as { text: string }).text).to.contain('AUDIT_FAIL');
    expect(attempt.observations.essentialFunction).to.deep.include({ degraded: false });
    const evidence = JSON.parse(read('evidence/audit.outage/127.0.0.1/outage.json')) as { events: { record: unknown }[]; timeline: { event: string }[] };
    expect(evidence.events.every((e) => e.record !== null)).to.equal(true);
    expect(evidence.timeline.map((t) => t.event)).to.include.members(['collector listening again', 'alarm record received']);
    const journal = labJournal(bench);
    expect(journal).to.contain('"type":"outage-start"').and.to.contain('"type":"outage-end"');
    // Each provoked login is in the action log as the SSH interface's, with the unknown user.
    const actions = bench.actions.list().filter((a) => a.probe === 'audit.outage');
    expect(actions.map((a) => [a.interface, a.account])).to.deep.equal(['0', '1', '2', '3'].map((n) => ['ssh', `iacs-outage-${n}`]));
  });

  it('weak device (UDP, no alarm): loss not determined and said so; the alarm is missing -> fail no-alarm; the counter part passes', async () => {
    bench = await startAuditBench({ posture: devicePosture('weak', { services: ['ssh'] }), outage: OUTAGE });
    const { attempt } = await bench.run(probe, { services: servicesOf(bench.emulator!), essentialFunction: COUNTER });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['audit.outage.no-alarm']);
    expect(attempt.outcomes[0]).to.deep.include({ requirement: 'CR 2.10', verdict: 'fail', coverage: 'partial' });
    expect(attempt.observations).to.deep.include({ senderTransport: 'udp', delivered: 0 });
    expect(attempt.observations.lossNotDetermined).to.match(/logs over UDP \(RFC 5426\).*0 of 3 event\(s\) from the outage arrived/);
  });

  it('weak device, no alarm pattern in the profile, no essential function: nothing can be judged -> not determined, never pass', async () => {
    bench = await startAuditBench({ posture: devicePosture('weak', { services: ['ssh'] }), outage: { seconds: 2, reconnectSeconds: 1 } });
    const { attempt } = await bench.run(probe, { services: [servicesOf(bench.emulator!)[0]] });
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.status).to.not.equal('pass');
    expect(attempt.observations.notDetermined).to.match(/no part of CR 2.10 could be judged/);
    expect(attempt.observations.alarmNotDetermined).to.match(/no alarm pattern/);
    expect(attempt.observations.functionNotDetermined).to.match(/no essential function/);
  });

  it('hardened over TCP without the alarm knob: nothing lost, but no alarm -> fail no-alarm; without a pattern: pass, partial', async () => {
    bench = await startAuditBench({ posture: devicePosture('hardened', { transport: 'tcp', alarmOnFailure: false }), outage: OUTAGE });
    const services = [servicesOf(bench.emulator!)[0]];
    const withPattern = (await bench.run(probe, { services })).attempt;
    expect(withPattern.status, JSON.stringify(withPattern.observations)).to.equal('fail');
    expect(codes(withPattern)).to.deep.equal(['audit.outage.no-alarm']);
    expect(withPattern.observations).to.deep.include({ senderTransport: 'tcp', delivered: 3 });
    await bench.close();
    bench = await startAuditBench({ posture: devicePosture('hardened', { transport: 'tcp', alarmOnFailure: false }), outage: { ...OUTAGE, alarm: undefined } });
    const without = (await bench.run(probe, { services: [servicesOf(bench.emulator!)[0]] })).attempt;
    expect(without.status).to.equal('pass');
    expect(without.outcomes[0]).to.deep.include({ verdict: 'pass', coverage: 'partial' });
    expect(without.outcomes[0].reason).to.match(/not determined: the profile gives no alarm pattern/);
  });

  it('an interface whose logins the device never logs is left out of the outage (audit.events judges it), the others are judged', async () => {
    const posture = devicePosture('hardened', { services: ['ssh'] });
    const https = loadPosture('hardened').services.https;
    bench = await startAuditBench({ posture: { ...posture, services: { ...posture.services, https } }, outage: { ...OUTAGE, alarm: undefined } });
    const e = bench.emulator!;
    const { attempt } = await bench.run(probe, { services: [servicesOf(e)[0], { port: e.endpoint('https').port, protocol: 'https' as const }] });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(attempt.observations).to.deep.include({ provoked: 3, delivered: 3 });
    expect(attempt.observations.interfacesNotLogged).to.have.length(1);
    expect((attempt.observations.interfacesNotLogged as string[])[0]).to.match(/^https\/\d+: the device did not log iacs-outage-1's failed login/);
  });

  it('a device that names no users: records are matched by kind, interface and time, copies removed -> pass', async () => {
    bench = await startAuditBench({ posture: devicePosture('hardened', { transport: 'tcp', includeUser: false }), outage: OUTAGE });
    const { attempt } = await bench.run(probe, { services: [servicesOf(bench.emulator!)[0]] });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(attempt.observations).to.deep.include({ senderTransport: 'tcp', namesUsers: false, provoked: 3, delivered: 3 });
  });

  describe('deceptive peer', () => {
    it('a sender that reconnects and raises the alarm but drops what it could not send -> fail events-lost', async () => {
      bench = await startAuditBench({ outage: OUTAGE });
      const device = await startEmulator(devicePosture('hardened'), { ephemeralPorts: true }); // logs nothing itself
      const sender = forgetfulSender(bench);
      try {
        const { attempt } = await bench.run(probe, { services: [servicesOf(device)[0]] });
        expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('fail');
        expect(codes(attempt)).to.deep.equal(['audit.outage.events-lost']);
        expect(attempt.findings[0].message).to.match(/^3 of 3 failed login\(s\) provoked while the collector was unreachable never arrived/);
        expect(attempt.observations).to.deep.include({ senderTransport: 'tcp', delivered: 0 });
        expect(attempt.observations.alarm).to.not.equal(null);
      } finally {
        sender.stop();
        await device.close();
      }
    });

    it('a sender that resends the control record over and over: copies are no evidence of the lost events -> fail events-lost', async () => {
      bench = await startAuditBench({ outage: OUTAGE });
      const device = await startEmulator(devicePosture('hardened'), { ephemeralPorts: true });
      const sender = forgetfulSender(bench, { repeatFirst: true });
      try {
        const { attempt } = await bench.run(probe, { services: [servicesOf(device)[0]] });
        expect(attempt.status).to.equal('fail');
        expect(codes(attempt)).to.deep.equal(['audit.outage.events-lost']);
      } finally {
        sender.stop();
        await device.close();
      }
    });
  });

  describe('nothing to judge: not determined, never pass', () => {
    it('no lab block', async () => {
      const { attempt } = await runProbe(probe, { services: [{ port: 22, protocol: 'ssh' }] });
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/no lab syslog collector/);
    });

    it('the device does not log the control event: the outage is not even started', async () => {
      bench = await startAuditBench({ outage: OUTAGE, settleSeconds: 0.5 });
      const device = await startEmulator(devicePosture('hardened'), { ephemeralPorts: true });
      try {
        const { attempt } = await bench.run(probe, { services: [servicesOf(device)[0]] });
        expect(attempt.outcomes).to.deep.equal([]);
        expect(attempt.observations.notDetermined).to.match(/did not log the failed logins of iacs-outage-0 via ssh/);
        expect(labJournal(bench!)).to.not.contain('outage-start');
      } finally {
        await device.close();
      }
    });
  });

  it('the attempt\'s budget ends during the outage: error (timeout), and the collector listens again at once', async () => {
    bench = await startAuditBench({ posture: devicePosture('hardened'), outage: { ...OUTAGE, seconds: 30 } });
    const { attempt } = await bench.run(probe, { services: [servicesOf(bench.emulator!)[0]], timeoutMs: 5000 });
    expect(attempt.status).to.equal('error');
    expect(attempt.outcomes).to.deep.equal([]);
    const journal = labJournal(bench);
    expect(journal).to.contain('"type":"outage-start"').and.to.contain('"endedBy":"resume"');
    const socket = net.connect({ host: '127.0.0.1', port: bench.lab.services.syslog!.ports.tcp! });
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.destroy();
  });
});

const labJournal = (bench: AuditBench) => fs.readFileSync(path.join(bench.dir, 'run', 'lab', 'syslog.ndjson'), 'utf8');

/**
 * A deceptive device log: for every failed login the action log shows (what the device saw), it sends a
 * well-formed record naming the user over TCP; when its connection breaks it reconnects (retrying each 200 ms)
 * and even sends an AUDIT_FAIL alarm, but what happened while it was disconnected is dropped. `repeatFirst`
 * sends the first record again instead of each lost one.
 */
function forgetfulSender(bench: AuditBench, o: { repeatFirst?: boolean } = {}) {
  const port = bench.lab.services.syslog!.ports.tcp!;
  let socket: net.Socket | undefined;
  let seen = 0;
  let lostConnection = false;
  let first: string | undefined;
  let stopped = false;
  const frame = (text: string) => `${Buffer.byteLength(text)} ${text}`;
  const connect = () => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.on('connect', () => {
      socket = s;
      if (lostConnection) s.write(frame(`<82>1 ${new Date().toISOString()} plc1 audit - AUDIT_FAIL - audit collector unreachable`));
      lostConnection = false;
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (socket === s) socket = undefined;
      lostConnection = true;
      if (!stopped) setTimeout(connect, 200);
    });
  };
  connect();
  const timer = setInterval(() => {
    const actions = bench.actions.list();
    for (; seen < actions.length; seen++) {
      const a = actions[seen];
      const text = `<84>1 ${new Date().toISOString()} plc1 ssh - AUTH_FAIL - login failed for user ${a.account} from 127.0.0.1 via ssh`;
      first ??= text;
      if (socket) socket.write(frame(text));
      else if (o.repeatFirst) setTimeout(() => socket?.write(frame(first!)), 3000);
    }
  }, 50);
  return {
    stop() {
      stopped = true;
      clearInterval(timer);
      socket?.destroy();
    },
  };
}
