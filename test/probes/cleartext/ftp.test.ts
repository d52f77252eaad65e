import { expect } from 'chai';
import probe from '../../../probes/cleartext/ftp';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { bannerServer, closedPort, garbageServer, resetServer, stallServer } from '../../../fixtures/servers';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';
import { findPyftpdlib, startPyftpd, type RunningFtpd } from '../../helpers/pyftpd';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const FAST = { connectTimeoutMs: 1000, quietMs: 400 };

describe('probe cleartext.ftp', () => {
  describe('against the emulated PLC', () => {
    let weak: Emulator;
    before(async () => {
      weak = await startEmulator('weak', { ephemeralPorts: true });
    });
    after(() => weak.close());

    it('weak posture: a 220 greeting and no AUTH TLS in FEAT fail CR 1.5 and CR 4.1', async () => {
      const ep = weak.endpoint('ftp');
      const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'ftp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.observations).to.include({ greetingCode: 220, loginOffered: true, authTls: false, featCode: 211 });
      expect(attempt.observations.greeting).to.deep.equal(['220 EPLC-1 FTP server (firmware 1.0.0) ready']);
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['cleartext.ftp.login-offered']);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.5:fail', 'CR 4.1:fail']);
    });

    it('hardened posture runs no FTP service, so there is nothing for the probe to run against', async () => {
      const hardened = await startEmulator('hardened', { ephemeralPorts: true });
      try {
        expect(hardened.services.map((s) => s.protocol)).to.not.include('ftp');
      } finally {
        await hardened.close();
      }
    });
  });

  describe('against Debian pyftpdlib', () => {
    let ftpd: RunningFtpd | undefined;
    afterEach(async () => {
      await ftpd?.stop();
      ftpd = undefined;
    });

    it('plain FTPHandler: fail', async function () {
      ftpd = await startPyftpd(requirePeer(this, 'python3-pyftpdlib', findPyftpdlib()), false);
      const { attempt } = await runProbe(probe, { service: { port: ftpd.port, protocol: 'ftp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(attempt.observations).to.include({ authTls: false, loginOffered: true });
    });

    it('TLS_FTPHandler offers AUTH TLS: CR 4.1 passes (partial), and an info finding says the cleartext login was not tried', async function () {
      this.timeout(30_000);
      ftpd = await startPyftpd(requirePeer(this, 'python3-pyftpdlib', findPyftpdlib()), true);
      const { attempt } = await runProbe(probe, { service: { port: ftpd.port, protocol: 'ftp' }, inputs: FAST });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(attempt.observations).to.include({ authTls: true });
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['cleartext.ftp.tls-optional', 'info']]);
      expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 4.1:pass']);
    });
  });

  describe('misbehaving peers end as errors within the budget', () => {
    const cases: [string, () => Promise<{ port: number; close(): Promise<void> }>, string][] = [
      ['closed port', closedPort, 'unreachable'],
      ['accepts and stalls', stallServer, 'timeout'],
      ['resets', resetServer, 'protocol'],
      ['garbage', () => garbageServer(), 'protocol'],
      ['another line protocol', () => bannerServer('* OK IMAP4rev1 ready\r\n'), 'protocol'],
    ];
    for (const [name, make, reason] of cases) {
      it(`${name}: ${reason}`, async () => {
        const peer = await make();
        try {
          const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'ftp' }, inputs: FAST, timeoutMs: 5000 });
          expect(attempt, attempt.message).to.include({ status: 'error', reason });
        } finally {
          await peer.close();
        }
      });
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'ftp' }), timeoutMs: 1500, inputs: FAST,
    // FTP's server speaks first: a peer that waits for our first message never sends the greeting (timeout); an SMTP
    // greeting is an FTP '220' greeting in clear that refuses AUTH TLS, so judging it is right.
    reasons: { dropAfterHello: 'timeout', banner: ['protocol', 'verdict'] },
  });
});
