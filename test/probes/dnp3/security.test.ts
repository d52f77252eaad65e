import { expect } from 'chai';
import probe from '../../../probes/dnp3/security';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { FUNCTION, IIN, keyStatusObject } from '../../../src/protocols/dnp3';
import { listenTestServer } from '../../../fixtures/servers';
import * as net from 'node:net';
import { dnp3Posture, scriptedDnp3Server } from '../../helpers/dnp3';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const service = (port: number) => ({ port, protocol: 'dnp3' as const, options: { outstationAddress: 1024 } });
const tlsService = (port: number) => ({ port, protocol: 'tls' as const, tls: true, options: { dnp3: true } });

describe('probe dnp3.security', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(dnp3Posture('weak'), { ephemeralPorts: true }), startEmulator(dnp3Posture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });

  it('weak: no SAv5 (function not supported), the critical write executed, no TLS declared (fail CR 1.2, 3.1)', async () => {
    const { attempt, read } = await runProbe(probe, { service: service(weak.endpoint('dnp3').port) });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['dnp3.security.critical-request-unauthenticated', 'dnp3.security.no-tls', 'dnp3.security.sav5-not-supported']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.2': 'fail', 'CR 3.1': 'fail' });
    expect(attempt.observations.sav5).to.deep.equal({ keyStatusAnswered: false, criticalChallenged: false });
    const transcript = read(attempt.evidence.find((e) => e.endsWith('dnp3-security.txt'))!);
    // AUTHENTICATION_REQUEST g120v4 (count 1, user 1), then WRITE g80v1 7..7 = 0.
    expect(transcript).to.match(/> 05 64 0e c4 00 04 01 00 .. .. c0 c0 20 78 04 07 01 01 00 .. ..\n/).and.match(/> .* c1 c1 02 50 01 00 07 07 00 .. ..\n/);
  });

  it('hardened with its DNP3-over-TLS port declared: key status g120v5, the write challenged with g120v1, TLS answers (partial pass)', async () => {
    const tlsPort = hardened.services.find((s) => s.protocol === 'tls')!.port;
    const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('dnp3').port), services: [service(hardened.endpoint('dnp3').port), tlsService(tlsPort)] });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.2', 'pass', 'partial'], ['CR 3.1', 'pass', 'partial']]);
    expect((attempt.observations.keyStatus as { object: unknown }).object).to.deep.include({
      kind: 'key-status', user: 1, keyWrapAlgorithm: 'AES-256 key wrap', keyStatus: 'NOT_INIT', macAlgorithm: 'HMAC-SHA-256 truncated to 16 octets', challengeOctets: 16, macOctets: 0,
    });
    expect(attempt.observations.sav5).to.deep.equal({ keyStatusAnswered: true, criticalChallenged: true });
    const tls = attempt.observations.tls as { declared: number[]; answers: { port: number; answer: { status: string } }[] };
    expect(tls.declared).to.deep.equal([tlsPort]);
    expect(tls.answers[0].answer.status).to.equal('tls');
  });

  it('hardened without a TLS service declared: SAv5 passes CR 1.2, no-tls fails CR 3.1', async () => {
    const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('dnp3').port) });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['dnp3.security.no-tls']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.2': 'pass', 'CR 3.1': 'fail' });
  });

  it('a declared DNP3-over-TLS port that answers in clear: tls-not-answering', async () => {
    const plain = await listenTestServer(net.createServer((s) => s.end('not tls\r\n')));
    try {
      const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('dnp3').port), services: [service(hardened.endpoint('dnp3').port), tlsService(plain.port)] });
      expect(codes(attempt)).to.deep.equal(['dnp3.security.tls-not-answering']);
      expect(verdicts(attempt)).to.deep.equal({ 'CR 1.2': 'pass', 'CR 3.1': 'fail' });
    } finally {
      await plain.close();
    }
  });

  it('key status answered but no critical request sent: SAv5 is implemented, not shown to be enforced: not determined', async () => {
    const { attempt } = await runProbe(probe, { service: service(hardened.endpoint('dnp3').port), services: [service(hardened.endpoint('dnp3').port), tlsService(hardened.services.find((s) => s.protocol === 'tls')!.port)], inputs: { criticalCheck: false } });
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.criticalRequest).to.deep.equal({ sent: false });
  });

  it('an outstation that answers key status yet executes the write: critical-request-unauthenticated', async () => {
    const peer = await scriptedDnp3Server((r) => (r.fn === FUNCTION.authRequest
      ? { fn: FUNCTION.authResponse, objects: keyStatusObject({ sequence: 0, user: 1, keyWrapAlgorithm: 2, keyStatus: 2, macAlgorithm: 4, challengeData: Buffer.alloc(4), mac: Buffer.alloc(0) }) }
      : { iin: 0 }));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port) });
      expect(codes(attempt)).to.deep.equal(['dnp3.security.critical-request-unauthenticated', 'dnp3.security.no-tls']);
      expect(attempt.observations.sav5).to.deep.equal({ keyStatusAnswered: true, criticalChallenged: false });
    } finally {
      await peer.close();
    }
  });

  it('a write refused with "parameter error" is neither a challenge nor an execution: CR 1.2 not determined', async () => {
    const peer = await scriptedDnp3Server((r) => ({ iin: r.fn === FUNCTION.write ? IIN['parameter-error'] : IIN['no-func-code-support'] }));
    try {
      const { attempt } = await runProbe(probe, { service: service(peer.port), services: [service(peer.port)] });
      expect(codes(attempt)).to.deep.equal(['dnp3.security.no-tls', 'dnp3.security.sav5-not-supported']);
      expect(verdicts(attempt)).to.deep.equal({ 'CR 1.2': 'fail', 'CR 3.1': 'fail' });
      expect((attempt.observations.criticalRequest as { answer: string }).answer).to.equal('not processed, IIN parameter-error');
    } finally {
      await peer.close();
    }
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'dnp3' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
