import { expect } from 'chai';
import probe from '../../../probes/http/sessions';
import { startEmulator } from '../../../src/emulator';
import { OPERATOR, POLICY, WEAK_ADMIN, authPosture, serviceOf, useAuthDevices } from '../../helpers/auth-devices';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

interface Observations {
  concurrent?: { opened: number; refused: { index: number; status: string | null }[]; openedAfterOneClosed?: boolean; aliveAtEnd: number };
  idle?: { endedByDevice: boolean };
  notDetermined?: string;
}

/** The weak device ends no idle session: a short documented idle time is enough to show it. */
const WEAK_POLICY = { ...POLICY, sessions: { maxConcurrent: 2, idleTimeoutSeconds: 0.5 } };

const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));

describe('probe http.sessions', function () {
  this.timeout(30_000);
  const devices = useAuthDevices('https');

  it('hardened posture, login form: a third web session is refused (429), an idle session expires -> pass', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.hardened(), 'http-form'), credentials: { http: OPERATOR }, policy: POLICY, inputs: { idleGraceSeconds: 0.5 } });
    expect(attempt.status, JSON.stringify([attempt.message, attempt.findings])).to.equal('pass');
    const o = attempt.observations as unknown as Observations;
    expect(o.concurrent).to.deep.include({ opened: 2, aliveAtEnd: 2, openedAfterOneClosed: true });
    expect(o.concurrent!.refused).to.deep.equal([{ index: 3, status: '429' }]);
    expect(o.idle?.endedByDevice).to.equal(true);
  });

  it('weak posture, login form: unlimited sessions that outlive the documented idle time -> limit-exceeded, idle-not-closed', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.weak(), 'http-form'), credentials: { http: WEAK_ADMIN }, policy: WEAK_POLICY, inputs: { idleGraceSeconds: 0.5 } });
    expect(attempt.status).to.equal('fail');
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['http.sessions.limit-exceeded', 'http.sessions.idle-not-closed']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 2.7': 'fail', 'CR 2.6': 'fail' });
  });

  it('sessions that end before session 3 opens (no limit; a 1 s session, logins that take 2.5 s): CR 2.7 not determined, not a pass', async () => {
    // Three sessions open, but never three at once: the limit is not exercised, and a device without one looks the same.
    const device = await startEmulator(authPosture('hardened', 'https', { maxSessionsPerUser: undefined, sessionSeconds: 1, knownUserDelayMs: 2500 }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: serviceOf(device, 'http-form'), credentials: { http: OPERATOR }, policy: { ...POLICY, sessions: { maxConcurrent: 2 } } });
      expect(attempt.status, JSON.stringify([attempt.message, attempt.observations])).to.equal('not_determined');
      expect((attempt.observations as unknown as Observations).concurrent).to.deep.include({ opened: 3, aliveAtEnd: 1 });
      expect(attempt.message).to.match(/^session 3 opened, but only 1 of the 3 opened sessions were still alive: .* the limit was not exercised/);
    } finally {
      await device.close();
    }
  });

  it('basic authentication keeps no session: not determined, with the reason', async () => {
    const { attempt } = await runProbe(probe, { service: serviceOf(devices.hardened(), 'http-basic'), credentials: { http: OPERATOR }, policy: POLICY });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect((attempt.observations as unknown as Observations).notDetermined).to.match(/keeps no session/);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'http' }), timeoutMs: 1500, stallTimeoutMs: 400, credentials: { http: OPERATOR } });
});
