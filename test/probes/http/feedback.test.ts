import { expect } from 'chai';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import probe from '../../../probes/http/feedback';
import { OPERATOR, POLICY, WEAK_ADMIN, serviceOf, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Batch { samples: [number, number]; distinguishable: boolean; stoppedBy: string; level: number; p: number }
interface Observations {
  features: { feature: string; distinguishes: boolean; unknownUser: unknown[]; wrongPassword: unknown[] }[];
  timing: (Batch & { confirmation?: Batch }) | null;
  timingNotDetermined?: string;
  samples: { unknownUser: number; wrongPassword: number };
  passwordEchoed: boolean;
}

/**
 * A deceptive peer (HTTP basic authentication on /admin): the same 401 for everybody, but the first
 * `slowRefusals` refusals of `user` come 150 ms late, as if the machine were briefly loaded while the known
 * user was being tried. A difference that does not last must not become a finding.
 */
async function transientlySlowDevice(user: { username: string; password: string }, slowRefusals: number): Promise<{ port: number; close(): Promise<void> }> {
  let slowLeft = slowRefusals;
  const server = http.createServer((req, res) => {
    const [name, password] = Buffer.from(String(req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8').split(':');
    if (name === user.username && password === user.password) return res.writeHead(200).end('welcome');
    const refuse = () => res.writeHead(401, { 'www-authenticate': 'Basic realm="device"' }).end('login failed');
    if (name === user.username && slowLeft-- > 0) setTimeout(refuse, 150);
    else refuse();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as AddressInfo).port, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code);

describe('probe http.feedback', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('https');

  it('weak posture, login form: "Unknown user name." vs "Wrong password." and a slower refusal for real users -> user enumeration and timing (CR 1.10, CR 3.7 fail)', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), 'http-form'), credentials: { http: WEAK_ADMIN }, policy: POLICY });
    expect(attempt.status).to.equal('fail');
    const o = attempt.observations as unknown as Observations;
    const message = o.features.find((f) => f.feature === 'message')!;
    expect(message.distinguishes).to.equal(true);
    expect(String(message.unknownUser[0])).to.contain('Unknown user name.');
    expect(String(message.wrongPassword[0])).to.contain('Wrong password.');
    expect(codes(attempt)).to.deep.equal(['http.feedback.user-enumeration', 'http.feedback.timing']);
    expect(Object.fromEntries(attempt.outcomes.map((x) => [x.requirement, x.verdict]))).to.deep.equal({ 'CR 1.10': 'fail', 'CR 3.7': 'fail', 'CR 1.1': 'pass' });
  });

  it('weak posture, basic authentication: the same 401 page, only the timing tells -> http.feedback.timing', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), 'http-basic'), credentials: { http: WEAK_ADMIN }, policy: POLICY });
    expect(codes(attempt)).to.deep.equal(['http.feedback.timing']);
    expect(Object.fromEntries(attempt.outcomes.map((x) => [x.requirement, x.verdict]))).to.deep.equal({ 'CR 1.10': 'fail', 'CR 3.7': 'pass', 'CR 1.1': 'pass' });
  });

  for (const iface of ['http-form', 'http-basic'] as const) {
    it(`hardened posture, ${iface}: one message, one status, one size, the same time -> pass`, async () => {
      const { attempt } = await runProbe(probe, { service: serviceOf(devices.hardened(), iface), credentials: { http: OPERATOR }, policy: POLICY });
      expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
      const o = attempt.observations as unknown as Observations;
      expect(o.features.every((f) => !f.distinguishes)).to.equal(true);
      expect(o.passwordEchoed).to.equal(false);
    });
  }

  it('a difference that shows in the first batch only (a transient, like a loaded machine) is not confirmed by the second: no finding', async () => {
    // 6 slow refusals: as many as the first batch needs to see the difference (it stops at its first decisive look).
    const device = await transientlySlowDevice(OPERATOR, 6);
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: device.port, protocol: 'http', options: { auth: { mode: 'basic', path: '/admin' } } }, credentials: { http: OPERATOR }, policy: POLICY,
      });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(codes(attempt)).to.deep.equal([]);
      const o = attempt.observations as unknown as Observations;
      // The first batch stopped on a clear difference (significant at the level its look spent) ...
      expect(o.timing).to.deep.include({ stoppedBy: 'difference', samples: [6, 6], distinguishable: false });
      expect(o.timing!.p).to.be.below(o.timing!.level);
      // ... and the independent second batch did not show it again.
      expect(o.timing!.confirmation?.distinguishable).to.equal(false);
      expect(o.timing!.confirmation?.stoppedBy).to.be.oneOf(['no-difference', 'cap']);
    } finally {
      await device.close();
    }
  });

  it('sequential batches: the weak form stops each batch long before its cap of 12 once the difference is clear, the hardened one as soon as it is excluded; features still see 8 answers per class', async () => {
    const weak = await runProbe(probe, { service: serviceOf(devices.weak(), 'http-form'), credentials: { http: WEAK_ADMIN }, policy: POLICY });
    const w = weak.attempt.observations as unknown as Observations;
    expect(w.timing).to.deep.include({ stoppedBy: 'difference' });
    expect(w.timing!.confirmation).to.deep.include({ stoppedBy: 'difference', distinguishable: true });
    // Two fixed batches of 8 took 16 per class; the first decisive look comes at 6 pairs (12 in all when both stop there).
    expect(w.samples.unknownUser).to.be.at.least(12).and.below(16);
    expect(w.timing!.samples[0]).to.be.below(12);
    const hardened = await runProbe(probe, { service: serviceOf(devices.hardened(), 'http-basic'), credentials: { http: OPERATOR }, policy: POLICY });
    const h = hardened.attempt.observations as unknown as Observations;
    // 8 per class on a quiet machine; under load a batch may take more looks before the difference is excluded (up to its cap).
    expect(h.samples.unknownUser).to.equal(h.samples.wrongPassword);
    expect(h.samples.unknownUser).to.be.within(8, 12);
    expect(h.timing?.distinguishable).to.equal(false);
    // On a quiet loopback the difference is excluded early; under load the batch may run to its cap instead, and says so.
    if (h.timing?.stoppedBy === 'no-difference') expect(h.timingNotDetermined).to.equal(undefined);
    else expect(h.timingNotDetermined).to.match(/neither significant .* nor excluded/);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { http: OPERATOR } });
});
