import { expect } from 'chai';
import probe from '../../../probes/cleartext/tftp';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { garbageUdpServer, silentUdpServer } from '../../../fixtures/udp-servers';
import { handleSnapshot } from '../../helpers/leaks';
import { runProbe } from '../../helpers/probe-harness';
import { postureWith } from '../../helpers/postures';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';

const FAST = { requestTimeoutMs: 200, retries: 1 };

describe('probe cleartext.tftp', () => {
  let weak: Emulator;
  before(async () => {
    weak = await startEmulator(postureWith('weak', ['tftp']), { ephemeralPorts: true });
  });
  after(() => weak.close());

  it('weak posture: the TFTP responder answers a read request with File not found: fail CR 2.1 and CR 4.1, no requirement can pass', async () => {
    const ep = weak.endpoint('tftp');
    const { attempt } = await runProbe(probe, { service: { port: ep.port, protocol: 'tftp' }, inputs: FAST });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(attempt.observations.answer).to.include({ kind: 'error', code: 1, message: 'File not found' });
    expect(attempt.observations.filename).to.match(/^iacs-probe-[0-9a-f]{12}\.txt$/);
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['cleartext.tftp.answers']);
    expect(attempt.outcomes.map((o) => o.verdict)).to.not.include('pass');
  });

  it('hardened posture runs no TFTP service', async () => {
    const hardened = await startEmulator('hardened', { ephemeralPorts: true });
    try {
      expect(hardened.services.map((s) => s.protocol)).to.not.include('tftp');
    } finally {
      await hardened.close();
    }
  });

  it('silence: timeout after the retries, sockets closed', async () => {
    const peer = await silentUdpServer();
    try {
      const handles = await handleSnapshot();
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'tftp' }, inputs: FAST, timeoutMs: 5000 });
      expect(attempt).to.include({ status: 'error', reason: 'timeout' });
      expect(attempt.message).to.match(/2 tries of 200 ms/);
      await handles.check();
    } finally {
      await peer.close();
    }
  });

  it('garbage: protocol', async () => {
    const peer = await garbageUdpServer();
    try {
      const { attempt } = await runProbe(probe, { service: { port: peer.port, protocol: 'tftp' }, inputs: FAST, timeoutMs: 5000 });
      expect(attempt).to.include({ status: 'error', reason: 'protocol' });
    } finally {
      await peer.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'tftp' }), timeoutMs: 1500, inputs: FAST,
    // RFC 1350 §4: a TFTP server answers from a new port (its transfer id), so the client takes it and finds no TFTP.
    reasons: { udpOtherPort: 'protocol' },
  });
});
