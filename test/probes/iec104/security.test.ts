import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/iec104/security';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { generateKey, issueCertificate } from '../../../src/protocols/x509';
import { iec104Posture, iec104Services } from '../../helpers/iec104';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));

describe('probe iec104.security', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(iec104Posture('weak'), { ephemeralPorts: true }), startEmulator(iec104Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: no IEC 62351-3 service and data transfer in clear on the plain port (fail CR 3.1, 4.1)', async () => {
    const { attempt } = await runProbe(probe, iec104Services(weak));
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['iec104.security.unprotected']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 3.1': 'fail', 'CR 4.1': 'fail' });
    expect(attempt.observations).to.deep.include({ plainStartDt: 'confirmed', stopDt: 'confirmed', declaredIec62351: null, secureControl: null });
  });

  it('hardened: IEC 104 verified behind IEC 62351-3 with the bench client certificate, plain port hangs up on STARTDT (partial pass)', async () => {
    const { attempt } = await runProbe(probe, iec104Services(hardened));
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 3.1', 'pass', 'partial'], ['CR 4.1', 'pass', 'partial']]);
    expect(attempt.observations).to.deep.include({ plainStartDt: 'connection closed' });
    expect(attempt.observations.secureControl).to.deep.include({ status: 'started', stopDt: 'confirmed' });
  });

  it('hardened, IEC 62351-3 declared without a client certificate: not verified, not determined', async () => {
    const { attempt } = await runProbe(probe, iec104Services(hardened, false));
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.notDetermined).to.match(/names no client certificate/);
  });

  it('a declared IEC 62351-3 service that refuses the profile\'s certificate: an info finding and no pass', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-iec104-cert-'));
    try {
      const now = Date.now();
      const stranger = issueCertificate({ commonName: 'not commissioned', key: generateKey({ type: 'ec', curve: 'P-256' }), notBefore: new Date(now - 86_400_000), notAfter: new Date(now + 86_400_000), extendedKeyUsage: ['clientAuth'] });
      fs.writeFileSync(path.join(dir, 'c.pem'), stranger.pem);
      fs.writeFileSync(path.join(dir, 'c.key'), stranger.keyPem);
      const declared = iec104Services(hardened, false);
      const services = declared.services.map((s) => (s.protocol === 'tls' ? { ...s, options: { iec62351: true, clientCertificate: path.join(dir, 'c.pem'), clientPrivateKey: path.join(dir, 'c.key') } } : s));
      const { attempt } = await runProbe(probe, { service: declared.service, services });
      expect(attempt.status, attempt.message).to.equal('not_determined');
      expect(codes(attempt)).to.deep.equal(['iec104.security.secure-control-failed']);
      expect(attempt.outcomes).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('IEC 62351-3 declared but the plain port still serves data transfer: the protection can be bypassed (fail)', async () => {
    const both = await startEmulator(iec104Posture('hardened', { allowedClients: 'any' }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, iec104Services(both));
      expect(attempt.status).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['iec104.security.plain-port-open']);
      expect(attempt.observations.secureControl).to.deep.include({ status: 'started' });
    } finally {
      await both.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'iec104' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
