import { expect } from 'chai';
import probe, { secureServices } from '../../../probes/enip/security';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { silentUdpServer } from '../../../fixtures/udp-servers';
import type { ServiceUnderTest } from '../../../src/sdk';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { enipPosture } from '../../helpers/enip';
import { opensslPki, startOpensslServer } from '../../helpers/openssl-server';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));

/** The emulator's CIP Security services, declared as the example profile declares them. */
function secureDeclarations(e: Emulator) {
  const tls = e.services.find((s) => s.protocol === 'tls' && s.transport === undefined)!;
  const dtls = e.services.find((s) => s.protocol === 'tls' && s.transport === 'udp')!;
  return [
    { port: tls.port, protocol: 'tls' as const, options: { cipSecurity: true } },
    { port: dtls.port, protocol: 'tls' as const, transport: 'udp' as const, options: { cipSecurity: true } },
  ];
}

describe('probe enip.security', () => {
  let weak: Emulator;
  let hardened: Emulator;
  before(async () => {
    [weak, hardened] = await Promise.all([startEmulator(enipPosture('weak'), { ephemeralPorts: true }), startEmulator(enipPosture('hardened'), { ephemeralPorts: true })]);
  });
  after(async () => {
    await Promise.all([weak?.close(), hardened?.close()]);
  });
  const plain = (e: Emulator) => ({ port: e.endpoint('enip').port, protocol: 'enip' as const });

  it('weak: no CIP Security anywhere and explicit messaging on the plain port: unavailable (CR 1.2, 3.1, 4.1 fail)', async () => {
    const { attempt } = await runProbe(probe, { service: plain(weak) });
    expect(attempt.status, attempt.message).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['enip.security.unavailable']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.2': 'fail', 'CR 3.1': 'fail', 'CR 4.1': 'fail' });
    expect(attempt.observations).to.include({ explicitMessaging: 'served', cipSecurityItem: null, securityObjectState: 'general status 0x5', declaredTls: null });
    expect(attempt.observations.claimedBy).to.deep.equal([]);
  });

  it('hardened with its TLS and DTLS services declared: CIP Security claimed three ways, the plain port refuses; pass with partial coverage', async () => {
    const { attempt, read } = await runProbe(probe, { service: plain(hardened), services: secureDeclarations(hardened) });
    expect(attempt.status, attempt.message).to.equal('pass');
    expect(attempt.findings).to.deep.equal([]);
    expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 1.2', 'pass', 'partial'], ['CR 3.1', 'pass', 'partial'], ['CR 4.1', 'pass', 'partial']]);
    expect(attempt.observations.claimedBy).to.have.length(3);
    expect(attempt.observations.explicitMessaging).to.equal('session-refused');
    // The emulator implements only the cookie exchange: a HelloVerifyRequest, then an alert.
    expect(attempt.observations.dtls).to.deep.include({ kind: 'dtls', first: 'HelloVerifyRequest', cookieBytes: 20, afterCookie: 'alert handshake_failure (level 2)' });
    expect(read(attempt.evidence.find((e) => e.endsWith('.txt'))!)).to.match(/DTLS 1\.2 ClientHello to 127\.0\.0\.1:\d+\/udp/);
  });

  it('hardened without its TLS service declared: claimed by ListIdentity, but nothing assesses the TLS: not determined', async () => {
    const { attempt } = await runProbe(probe, { service: plain(hardened) });
    expect(attempt.status, attempt.message).to.equal('not_determined');
    expect(codes(attempt)).to.deep.equal(['enip.security.secure-port-undeclared']);
    expect(attempt.observations.notDetermined).to.equal('CIP Security is claimed but its TLS service is not declared');
  });

  it('a device that claims CIP Security and still serves explicit messages on the plain port: plain-port-open', async () => {
    const emu = await startEmulator(enipPosture('hardened', { plainCommands: 'all' }), { ephemeralPorts: true });
    try {
      const { attempt } = await runProbe(probe, { service: plain(emu), services: secureDeclarations(emu) });
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(codes(attempt)).to.deep.equal(['enip.security.plain-port-open']);
      expect(attempt.observations).to.include({ explicitMessaging: 'served', securityObjectState: 2 });
      expect(attempt.observations.claimedBy).to.include('the CIP Security object (0x5D) reports state configured');
    } finally {
      await emu.close();
    }
  });

  it('the profile alone claiming CIP Security is enough for plain-port-open on a device that serves the plain port', async () => {
    const { attempt } = await runProbe(probe, { service: plain(weak), services: secureDeclarations(hardened) });
    expect(codes(attempt)).to.deep.equal(['enip.security.plain-port-open']);
    expect(verdicts(attempt)).to.deep.equal({ 'CR 1.2': 'fail', 'CR 3.1': 'fail', 'CR 4.1': 'fail' });
  });

  it('a declared DTLS port that stays silent: dtls-not-detected (info), the rest judged as usual', async () => {
    const silent = await silentUdpServer();
    try {
      const services = [secureDeclarations(hardened)[0], { port: silent.port, protocol: 'tls' as const, transport: 'udp' as const, options: { cipSecurity: true } }];
      const { attempt } = await runProbe(probe, { service: plain(hardened), services, inputs: { dtlsTimeoutMs: 200, dtlsRetries: 0 } });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(codes(attempt)).to.deep.equal(['enip.security.dtls-not-detected']);
      expect(attempt.observations.dtls).to.deep.equal({ kind: 'no-answer', tries: 1 });
    } finally {
      await silent.close();
    }
  });

  it('DTLS detection agrees with openssl s_server -dtls1_2 (not ours): cookie exchange, then a DTLS 1.2 ServerHello', async function () {
    const openssl = requirePeer(this, 'openssl');
    const pki = opensslPki(openssl);
    pki.selfSigned('dtls', 'ec:P-256', 'sha256');
    const server = await startOpensslServer(openssl, ['-dtls1_2', '-cert', pki.file('dtls.crt'), '-key', pki.file('dtls.key')], pki.dir);
    try {
      const services = [secureDeclarations(hardened)[0], { port: server.port, protocol: 'tls' as const, transport: 'udp' as const, options: { cipSecurity: true } }];
      const { attempt } = await runProbe(probe, { service: plain(hardened), services });
      expect(attempt.observations.dtls).to.deep.equal({
        kind: 'dtls', first: 'HelloVerifyRequest', version: 'DTLS 1.2', cookieBytes: 20, afterCookie: 'ServerHello (DTLS 1.2, suite 0xc02b)', cipherSuite: '0xc02b',
      });
    } finally {
      await server.close();
      pki.remove();
    }
  });

  it('finds the secure services by marker or by the secure port, TLS on TCP and DTLS on UDP only', () => {
    const s = (port: number, protocol: ServiceUnderTest['protocol'], transport: 'tcp' | 'udp', tls: boolean, options = {}): ServiceUnderTest => ({ host: 'h', port, protocol, transport, tls, name: '', options });
    expect(secureServices([s(2221, 'tls', 'tcp', true), s(2221, 'tls', 'udp', true)], 2221)).to.deep.equal({ tls: s(2221, 'tls', 'tcp', true), dtls: s(2221, 'tls', 'udp', true) });
    expect(secureServices([s(3000, 'tls', 'tcp', true, { cipSecurity: true })], 2221).tls?.port).to.equal(3000);
    expect(secureServices([s(2221, 'tcp', 'tcp', false), s(443, 'https', 'tcp', true)], 2221)).to.deep.equal({ tls: undefined, dtls: undefined });
  });

  describeMisbehavingPeers(probe, { service: (p) => ({ port: p, protocol: 'enip' }), timeoutMs: 3000, inputs: { requestTimeoutMs: 300 } });
});
