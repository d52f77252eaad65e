import { expect } from 'chai';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import probe from '../../../probes/audit/time-integrity';
import type { Posture } from '../../../src/emulator';
import { queryNtp } from '../../../src/protocols/ntp';
import { authPosture } from '../../helpers/auth-devices';
import { hardenedNtpKey, startAuditBench, type AuditBench } from '../../helpers/audit-bench';

/** Short windows for a device that polls every second (the defaults suit a real device polling every 64 s). */
const FAST = { observeSeconds: 4, readEverySeconds: 0.5, toleranceSeconds: 2, attackOffsetSeconds: 3600, controlOffsetSeconds: 600 };

const withPoll = (p: Posture): Posture => ({ ...p, audit: { ...p.audit, ntpPollSeconds: 1 } });
const outcome = (a: { outcomes: readonly { requirement: string }[] }) => a.outcomes.find((o) => o.requirement === 'CR 2.11 RE(2)');
type Phase = { phase: string; followed: boolean; requestMacs: Record<string, number>; lastOffsetMs: number | null };

/**
 * A deceptive device: a web server whose Date header states lab time + whatever the lab NTP server answers,
 * asked without a key and never checked (it follows an attacker as readily as the lab).
 */
async function credulousWebDevice(ntpPort: number): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => {
    queryNtp('127.0.0.1', ntpPort, { timeoutMs: 1000 }).then((s) => s.offsetMs, () => 0).then((offsetMs) => {
      res.sendDate = false;
      res.writeHead(200, { date: new Date(Date.now() + offsetMs).toUTCString() });
      res.end();
    }, () => res.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}

describe('probe audit.time-integrity (CR 2.11 RE(2))', function () {
  this.timeout(120_000);
  let bench: AuditBench | undefined;
  afterEach(async () => {
    await bench?.close();
    bench = undefined;
  });

  it('hardened emulator (SHA1 key): ignores +1 h without and with a wrong MAC, follows the signed control -> pass; offset 0 restored', async () => {
    bench = await startAuditBench({ posture: withPoll(authPosture('hardened', 'https')) });
    const https = { port: bench.emulator!.endpoint('https').port, protocol: 'https' as const };
    const { attempt, dir, read } = await bench.run(probe, { services: [https], inputs: FAST });
    expect(attempt.status, JSON.stringify(attempt.observations)).to.equal('pass');
    expect(outcome(attempt)).to.deep.include({ verdict: 'pass', coverage: 'full' });
    const phases = attempt.observations.phases as Phase[];
    expect(phases.map((p) => [p.phase, p.followed])).to.deep.equal([['attack-no-mac', false], ['attack-wrong-mac', false], ['control', true]]);
    for (const p of phases) expect(Object.keys(p.requestMacs)).to.deep.equal(['valid']);
    expect(Math.abs(phases[0].lastOffsetMs!)).to.be.below(2000);
    expect(attempt.observations.observable).to.match(/^https 127\.0\.0\.1:\d+ Date header$/);
    expect(attempt.observations.restored).to.include({ offsetMs: 0, deviceFollowed: true });
    expect(bench.lab.services.ntp!.mode).to.deep.equal({ offsetMs: 0, mac: 'auto' });
    // The NTP journal holds every switch, the restore last; no file of the run holds the key.
    const journal = fs.readFileSync(path.join(bench.dir, 'run', 'lab', 'ntp.ndjson'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const modes = journal.filter((l) => l.event === 'serve-mode').map((l) => [l.offsetMs, l.mac]);
    expect(modes).to.deep.equal([[3_600_000, 'none'], [3_600_000, 'wrong'], [600_000, 'valid'], [0, 'auto']]);
    const key = hardenedNtpKey().secret.toString('hex');
    expect(read(attempt.evidence.find((e) => e.endsWith('time-integrity.json'))!)).not.to.include(key);
    expect(fs.readdirSync(dir).length).to.be.greaterThan(0);
  });

  it('weak emulator (no key): follows +1 h served without a MAC -> fail (unauthenticated-time-accepted)', async () => {
    bench = await startAuditBench({ posture: withPoll(authPosture('weak', 'https')) });
    const https = { port: bench.emulator!.endpoint('https').port, protocol: 'https' as const };
    const { attempt } = await bench.run(probe, { services: [https], inputs: FAST });
    expect(attempt.status).to.equal('fail');
    expect(outcome(attempt)).to.deep.include({ verdict: 'fail' });
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['audit.time-integrity.unauthenticated-time-accepted', 'high']]);
    expect(attempt.findings[0].message).to.match(/followed lab time \+3600\.0 s served without a MAC/);
    const phases = attempt.observations.phases as Phase[];
    expect(phases.map((p) => [p.phase, p.followed])).to.deep.equal([['attack-no-mac', true]]);
    expect(phases[0].requestMacs).to.have.keys(['none']);
    expect(attempt.observations.restored).to.include({ offsetMs: 0, deviceFollowed: true });
  });

  it('deceptive device: a web server whose Date follows any NTP answer -> fail', async () => {
    bench = await startAuditBench();
    const device = await credulousWebDevice(bench.lab.services.ntp!.port);
    try {
      const { attempt } = await bench.run(probe, { services: [{ port: device.port, protocol: 'http' }], inputs: FAST });
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['audit.time-integrity.unauthenticated-time-accepted']);
    } finally {
      await device.close();
    }
  });

  it('a device that follows nothing (the control is not followed either) -> not determined, never pass', async () => {
    bench = await startAuditBench();
    const still = http.createServer((_req, res) => res.end());
    await new Promise<void>((resolve) => still.listen(0, '127.0.0.1', resolve));
    try {
      const port = (still.address() as AddressInfo).port;
      const { attempt } = await bench.run(probe, { services: [{ port, protocol: 'http' }], inputs: { ...FAST, observeSeconds: 2 } });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/never asked the lab NTP server/);
      expect((attempt.observations.phases as Phase[]).map((p) => p.phase)).to.deep.equal(['attack-no-mac', 'attack-wrong-mac', 'control']);
      expect(bench.lab.services.ntp!.mode.offsetMs).to.equal(0);
    } finally {
      still.closeAllConnections();
      await new Promise<void>((resolve) => still.close(() => resolve()));
    }
  });

  it('deceptive device: follows any answer but asks the NTP server only during the control -> not determined, never pass', async () => {
    bench = await startAuditBench();
    let offsetMs = 0;
    const ntpPort = bench.lab.services.ntp!.port;
    // Polls once, 7.5 s in: after both 3 s attack windows, inside the control window (as a device polling every 64 s may).
    const poll = setTimeout(() => void queryNtp('127.0.0.1', ntpPort, { timeoutMs: 1000 }).then((s) => { offsetMs = s.offsetMs; }, () => undefined), 7500);
    const slow = http.createServer((_req, res) => {
      res.sendDate = false;
      res.writeHead(200, { date: new Date(Date.now() + offsetMs).toUTCString() });
      res.end();
    });
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    try {
      const port = (slow.address() as AddressInfo).port;
      const { attempt } = await bench.run(probe, { services: [{ port, protocol: 'http' }], inputs: { ...FAST, observeSeconds: 3 } });
      const phases = attempt.observations.phases as Phase[];
      expect(phases.find((p) => p.phase === 'control')?.followed, JSON.stringify(phases)).to.equal(true);
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.notDetermined).to.match(/did not ask the lab NTP server during attack-no-mac, attack-wrong-mac/);
    } finally {
      clearTimeout(poll);
      slow.closeAllConnections();
      await new Promise<void>((resolve) => slow.close(() => resolve()));
    }
  });

  it('a device that answers once and then stalls: the attempt runs out of time -> error, and offset 0 is still restored', async () => {
    bench = await startAuditBench();
    let answered = 0;
    const stalling = http.createServer((_req, res) => {
      if (answered++ === 0) res.end();
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    try {
      const port = (stalling.address() as AddressInfo).port;
      const { attempt } = await bench.run(probe, { services: [{ port, protocol: 'http' }], inputs: { ...FAST, observeSeconds: 1 }, timeoutMs: 6000 });
      expect(attempt.status).to.equal('error');
      expect(bench.lab.services.ntp!.mode).to.deep.equal({ offsetMs: 0, mac: 'auto' });
    } finally {
      stalling.closeAllConnections();
      await new Promise<void>((resolve) => stalling.close(() => resolve()));
    }
  });

  it('without lab keys, or without an observable of the device clock -> not determined before touching the time source', async () => {
    bench = await startAuditBench({ ntpKeys: [] });
    const noKeys = await bench.run(probe, { services: [{ port: 1, protocol: 'http' }], inputs: FAST });
    expect(noKeys.attempt.status).to.equal('not_determined');
    expect(noKeys.attempt.observations.notDetermined).to.match(/no key \(lab\.ntp\.keys\)/);
    await bench.close();
    bench = await startAuditBench();
    const noWeb = await bench.run(probe, { services: [{ port: 22, protocol: 'ssh' }], inputs: FAST });
    // The collector is an observable, but the device sends nothing: no reading.
    expect(noWeb.attempt.status).to.equal('not_determined');
    expect(noWeb.attempt.observations.notDetermined).to.match(/could not be read \(syslog record timestamps\)/);
    expect(bench.lab.services.ntp!.requests).to.have.length(0);
    expect(bench.lab.services.ntp!.mode).to.deep.equal({ offsetMs: 0, mac: 'auto' });
  });
});
