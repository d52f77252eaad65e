import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../src/emulator';
import { systematicCases, type FrameTemplate } from '../../src/protocols/fuzz';
import { clientHelloFields, tlsFuzzTarget, tlsTemplates } from '../../src/protocols/tls/fuzz';
import { asCase, casesAround, dyingProxy, expectFieldsMutatedInPlace, runTargetCampaign } from '../helpers/fuzz-targets';
import { hardenedOpensslServer, type OpensslServer } from '../helpers/openssl-server';
import { findExecutable, requirePeer } from '../helpers/peers';
import { postureWith } from '../helpers/postures';
import { tsharkFields } from '../helpers/fuzz';

const [TLS12, TLS13] = tlsTemplates('localhost');
const caseOf = (t: FrameTemplate, prefix: string) => systematicCases(t).find((c) => c.mutation.startsWith(prefix))!;

describe('TLS fuzz grammar (ClientHello)', function () {
  this.timeout(60_000);

  it('tshark decodes both valid hellos as the ClientHellos we meant, and a mutated field as mutated', function () {
    requirePeer(this, 'tshark');
    requirePeer(this, 'text2pcap');
    const fields = [
      'tls.record.content_type', 'tls.record.version', 'tls.record.length', 'tls.handshake.type', 'tls.handshake.length', 'tls.handshake.version',
      'tls.handshake.session_id_length', 'tls.handshake.cipher_suites_length', 'tls.handshake.comp_methods_length', 'tls.handshake.extensions_server_name',
      'tls.handshake.extensions.supported_version', 'tls.handshake.extensions_key_share_group', 'tls.handshake.extensions_key_share_key_exchange_length',
      '_ws.expert.message',
    ];
    // One TCP stream per ClientHello: tshark's TLS dissector keeps state per conversation.
    const rows = [TLS12, TLS13, caseOf(TLS13, 'handshake.length = 0 '), caseOf(TLS13, 'supported-versions[0] = 32540')].map((f) => tsharkFields([f.bytes], '-T', 443, fields)[0]);
    const recordLength = (t: FrameTemplate) => String(t.bytes.length - 5);
    const handshakeLength = (t: FrameTemplate) => String(t.bytes.length - 9);
    expect(rows[0].slice(0, 13)).to.deep.equal(['22', '0x0301', recordLength(TLS12), '1', handshakeLength(TLS12), '0x0303', '32', String(2 * 14), '1', 'localhost', '', '', '']);
    expect(rows[0][13]).to.equal('');
    expect(rows[1].slice(0, 13)).to.deep.equal(['22', '0x0301', recordLength(TLS13), '1', handshakeLength(TLS13), '0x0303', '32', String(2 * 17), '1', 'localhost', '0x0304,0x0303', '29', '32']);
    expect(rows[1][13]).to.equal('');
    // handshake.length 0 in an otherwise valid record: tshark reads an empty ClientHello.
    expect(rows[2].slice(0, 5)).to.deep.equal(['22', '0x0301', recordLength(TLS13), '1', '0']);
    // The first supported version turned into 0x7f1c (TLS 1.3 draft 28).
    expect(rows[3][10]).to.equal('0x7f1c,0x0303');
  });

  it('mutations land at the grammar\'s offsets; the walker finds every extension the brief names', () => {
    for (const t of [TLS12, TLS13]) expectFieldsMutatedInPlace(t);
    const names = clientHelloFields(TLS13.bytes).map((f) => f.name);
    expect(names).to.include.members([
      'record.length', 'handshake.length', 'client-version', 'session-id.length', 'cipher-suites.length', 'compression.length', 'extensions.length',
      'sni.length', 'sni.host-name-length', 'supported-versions.length', 'supported-versions.list-length', 'key-share.length', 'key-share.key-length',
      'signature-algorithms.length', 'signature-algorithms.list-length',
    ]);
    expect(clientHelloFields(TLS12.bytes).map((f) => f.name)).to.not.include('key-share.length');
    // A consistent cut rewrites the record length only (the handshake length is left to disagree).
    const cut = caseOf(TLS12, 'payload cut to 100 ');
    expect(cut.bytes.readUInt16BE(3)).to.equal(95);
    expect(cut.bytes.readUIntBE(6, 3)).to.equal(TLS12.bytes.length - 9);
  });

  describe('against openssl s_server (Debian, not ours)', () => {
    let server: OpensslServer | undefined;
    before(async function () {
      server = await hardenedOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')), 'ec:P-256');
    });
    after(async () => server?.close());

    it('answers both valid hellos with a ServerHello and survives a seeded campaign', async () => {
      const target = tlsFuzzTarget(server!, {});
      const signal = new AbortController().signal;
      expect((await target.sendCase(asCase(TLS12), 1000, signal)).detail).to.match(/^ServerHello TLSv1\.2 suite 0xc02b/);
      expect((await target.sendCase(asCase(TLS13), 1000, signal)).detail).to.match(/^ServerHello TLSv1\.3 suite 0x130/);
      const campaign = await runTargetCampaign(target, { seed: 20, cases: 50, waitMs: 100 });
      expect(campaign.killer, JSON.stringify(campaign.killer)).to.equal(undefined);
      expect(campaign.cases).to.have.length(50);
      const kinds = new Set(campaign.cases.map((c) => c.reaction.kind));
      // Malformed hellos are refused with an alert (decode_error, illegal_parameter, ...).
      expect(kinds).to.include('exception');
      expect(campaign.cases.some((c) => /fatal alert (decode_error|illegal_parameter|record_overflow|unexpected_message|protocol_version)/.test(c.reaction.detail))).to.equal(true);
    });

    it('a deceptive device that dies on one chosen case is caught at that case', async () => {
      const killer = caseOf(TLS13, 'key-share.key-length = 0 ');
      const proxy = await dyingProxy(server!, killer.bytes);
      try {
        const target = tlsFuzzTarget({ host: '127.0.0.1', port: proxy.port }, {});
        const campaign = await runTargetCampaign(target, { list: casesAround(TLS13, killer, 6), waitMs: 150, checkWaitMs: 1000 });
        expect(proxy.died()).to.equal(true);
        expect(campaign.killer?.c.bytes.equals(killer.bytes)).to.equal(true);
        expect(campaign.killer?.after.kind).to.equal('connect-failed');
        expect(campaign.cases.slice(0, -1).every((c) => c.after.ok)).to.equal(true);
      } finally {
        await proxy.close();
      }
    });
  });

  describe('against the emulator', () => {
    const devices: Record<string, Emulator> = {};
    before(async () => {
      [devices.weak, devices.hardened] = await Promise.all([
        startEmulator(postureWith('weak', ['https']), { ephemeralPorts: true }), startEmulator(postureWith('hardened', ['https']), { ephemeralPorts: true }),
      ]);
    });
    after(async () => Promise.all(Object.values(devices).map((d) => d.close())));

    for (const posture of ['weak', 'hardened']) {
      it(`${posture}: the HTTPS service survives a seeded campaign`, async () => {
        const target = tlsFuzzTarget(devices[posture].endpoint('https'), {});
        const campaign = await runTargetCampaign(target, { seed: 21, cases: 40, waitMs: 100 });
        expect(campaign.killer, JSON.stringify(campaign.killer)).to.equal(undefined);
        expect(campaign.cases).to.have.length(40);
        // Every case reached the service (none was refused at connect), and it reacted in more than one way.
        expect(campaign.cases.filter((c) => c.reaction.kind === 'connect-failed')).to.deep.equal([]);
        expect(new Set(campaign.cases.map((c) => c.reaction.kind)).size).to.be.above(1);
      });
    }
  });
});
