import { expect } from 'chai';
import * as net from 'node:net';
import probe from '../../../probes/cleartext/telnet';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { closedPort, resetServer, stallServer } from '../../../fixtures/servers';
import { handleSnapshot } from '../../helpers/leaks';
import { runProbe } from '../../helpers/probe-harness';
import { postureWith } from '../../helpers/postures';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const FAST = { connectTimeoutMs: 1000, quietMs: 300, promptWaitMs: 800 };

/** A console that negotiates telnet options and then drops straight into a shell (no login at all). */
async function openShellConsole(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.write(Buffer.from([0xff, 0xfd, 0x18, 0xff, 0xfb, 0x01])); // DO terminal-type, WILL echo
    s.write('Field switch FS-8 console\r\nFS-8# ');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()); }),
  };
}

describe('probe cleartext.telnet', () => {
  let weak: Emulator;
  before(async () => {
    weak = await startEmulator(postureWith('weak', ['telnet', 'debug']), { ephemeralPorts: true });
  });
  after(() => weak.close());

  it('weak posture: the maintenance console asks for a login over telnet: fail CR 1.5 and CR 4.1', async () => {
    const ep = weak.endpoint('telnet');
    const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'telnet' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations).to.include({ loginPrompt: true, shellPrompt: false, promptKind: 'login-prompt', promptRule: 'en.login' });
    expect(attempt.observations.banner).to.deep.equal(['EPLC-1 maintenance console', 'login:']);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['cleartext.telnet.login-offered']);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.5:fail', 'CR 4.1:fail']);
  });

  it('a service that prints a banner but no prompt (the weak device\'s debug agent, declared as telnet): nothing passes', async () => {
    const ep = weak.endpoint('tcp');
    const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'telnet' }, inputs: FAST });
    // "No login offered" is not something the probe saw: it could not tell, so no requirement is judged.
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.message).to.match(/prompt not recognised/);
    expect(attempt.observations).to.include({ promptKind: 'unknown', promptLine: 'EPLC-1 debug agent 0.3 ready', loginPrompt: false, shellPrompt: false });
    expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['cleartext.telnet.prompt-unknown', 'info']]);
  });

  it('hardened posture runs no telnet service', async () => {
    const hardened = await startEmulator('hardened', { ephemeralPorts: true });
    try {
      expect(hardened.services.map((s) => s.protocol)).to.not.include('telnet');
    } finally {
      await hardened.close();
    }
  });

  it('a shell prompt without any login: critical, fails CR 1.1; telnet options were refused and recorded', async () => {
    const handles = await handleSnapshot();
    const peer = await openShellConsole();
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'telnet' }, inputs: FAST });
      expect(attempt.status).to.equal('fail');
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['cleartext.telnet.no-auth', 'critical']]);
      expect(attempt.observations.negotiation).to.deep.equal(['DO terminal-type', 'WILL echo']);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.5:pass', 'CR 1.1:fail', 'CR 4.1:fail']);
    } finally {
      await peer.close();
    }
    await handles.check();
  });

  describe('misbehaving peers end as errors within the budget', () => {
    const cases: [string, () => Promise<{ port: number; close(): Promise<void> }>, string][] = [
      ['closed port', closedPort, 'unreachable'],
      ['accepts and says nothing', stallServer, 'protocol'],
      ['resets', resetServer, 'protocol'],
    ];
    for (const [name, make, reason] of cases) {
      it(`${name}: ${reason}`, async () => {
        const peer = await make();
        try {
          const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'telnet' }, inputs: FAST, timeoutMs: 5000 });
          expect(attempt, attempt.message).to.include({ status: 'error', reason });
        } finally {
          await peer.close();
        }
      });
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'telnet' }), timeoutMs: 1500, inputs: FAST,
    // A telnet service that says nothing is a protocol error for this probe; text that is no prompt it knows is not determined.
    reasons: { stall: 'protocol', halfOpen: 'protocol', banner: 'not_determined', garbage: 'not_determined', slowDrip: ['timeout', 'protocol', 'not_determined'], oversized: 'not_determined', rstMidHandshake: ['protocol', 'not_determined'] },
  });
});
