import { expect } from 'chai';
import { startEmulator, type Emulator } from '../../src/emulator';
import { systematicCases, type FrameTemplate } from '../../src/protocols/fuzz';
import { kexinitFields, sshFuzzTarget, sshTemplates } from '../../src/protocols/ssh/fuzz';
import { asCase, casesAround, dyingProxy, expectFieldsMutatedInPlace, runTargetCampaign } from '../helpers/fuzz-targets';
import { requirePeer } from '../helpers/peers';
import { postureWith } from '../helpers/postures';
import { HARDENED_SSHD, startSshd, type Sshd } from '../helpers/sshd';
import { tsharkFields } from '../helpers/fuzz';

const [IDENT, KEXINIT] = sshTemplates();
const caseOf = (t: FrameTemplate, prefix: string) => systematicCases(t).find((c) => c.mutation.startsWith(prefix))!;

describe('SSH fuzz grammar (identification and KEXINIT)', function () {
  this.timeout(60_000);

  it('tshark decodes the identification and the KEXINIT as the ones we meant, and a mutated length as mutated', function () {
    requirePeer(this, 'tshark');
    requirePeer(this, 'text2pcap');
    const fields = ['ssh.protocol', 'ssh.packet_length', 'ssh.padding_length', 'ssh.message_code', 'ssh.kex_algorithms_length', 'ssh.kex_algorithms',
      'ssh.server_host_key_algorithms_length', 'ssh.first_kex_packet_follows', '_ws.expert.message'];
    // The identification first: tshark's SSH dissector reads binary packets only after it.
    const [ident, kexinit] = tsharkFields([IDENT.bytes, KEXINIT.bytes], '-T', 22, fields);
    expect(ident[0]).to.equal('SSH-2.0-iacs_probe');
    const kexLength = KEXINIT.bytes.readUInt32BE(22);
    expect(kexinit.slice(1, 8)).to.deep.equal([
      String(KEXINIT.bytes.length - 4), String(KEXINIT.bytes[4]), '20', String(kexLength), KEXINIT.bytes.subarray(26, 26 + kexLength).toString(),
      String(KEXINIT.bytes.readUInt32BE(26 + kexLength)), '0',
    ]);
    expect(kexinit[8]).to.equal('');
    const mutated = tsharkFields([IDENT.bytes, caseOf(KEXINIT, 'first-kex-packet-follows = 1 ').bytes, caseOf(KEXINIT, 'message.code = 21 ').bytes], '-T', 22, fields);
    expect(mutated[1][7]).to.equal('1');
    expect(mutated[2][3]).to.equal('21');
  });

  it('mutations land at the grammar\'s offsets; the identification variants are cases of their own', () => {
    expectFieldsMutatedInPlace(IDENT);
    expectFieldsMutatedInPlace(KEXINIT);
    const names = kexinitFields(KEXINIT.bytes).map((f) => f.name);
    expect(names).to.include.members(['packet.length', 'packet.padding-length', 'message.code', 'kex.length', 'kex.first-char', 'languages-s2c.length', 'first-kex-packet-follows']);
    const variants = systematicCases(IDENT).filter((c) => c.field.startsWith('ident.') && !IDENT.fields.some((f) => f.name === c.field));
    expect(variants.map((c) => c.mutation)).to.include.members(['LF only (no CR)', 'no line end', 'overlong: 270 characters (at most 255 allowed)', 'SSH-1.5 (SSH-1 only)']);
    // A consistent cut rewrites the packet length to the bytes after it (the padding length is left to disagree).
    const cut = caseOf(KEXINIT, 'payload cut to 100 ');
    expect(cut.bytes.readUInt32BE(0)).to.equal(96);
  });

  describe('against OpenSSH (Debian sshd, not ours)', () => {
    let sshd: Sshd | undefined;
    before(async function () {
      sshd = await startSshd(this, HARDENED_SSHD);
    });
    after(async () => sshd?.close());

    it('answers the valid templates with its identification and KEXINIT, refuses broken ones, and survives a seeded campaign', async () => {
      const target = sshFuzzTarget(sshd!, {});
      const signal = new AbortController().signal;
      for (const t of [IDENT, KEXINIT]) {
        const reaction = await target.sendCase(asCase(t), 300, signal);
        expect(reaction, t.name).to.include({ kind: 'reply' });
        expect(reaction.detail).to.match(/identification "SSH-2\.0-OpenSSH_[^"]+", messages 20/);
      }
      const badVersion = await target.sendCase({ bytes: Buffer.from('SSH-3.0-x\r\n'), template: 'ident' }, 1000, signal);
      expect(badVersion.kind).to.equal('exception');
      expect(badVersion.detail).to.match(/Protocol major versions differ/);
      const campaign = await runTargetCampaign(target, { seed: 22, cases: 40, waitMs: 100 });
      expect(campaign.killer, `${JSON.stringify(campaign.killer)} ${sshd!.log().slice(-500)}`).to.equal(undefined);
      expect(campaign.cases).to.have.length(40);
      expect(campaign.cases.some((c) => c.reaction.kind === 'exception' || /closed/.test(c.reaction.detail))).to.equal(true);
    });

    it('a deceptive device that dies on one chosen KEXINIT case is caught at that case', async () => {
      const killer = caseOf(KEXINIT, 'kex.length = 0 ');
      const proxy = await dyingProxy(sshd!, killer.bytes);
      try {
        const target = sshFuzzTarget({ host: '127.0.0.1', port: proxy.port }, {});
        const campaign = await runTargetCampaign(target, { list: casesAround(KEXINIT, killer, 5), waitMs: 100, checkWaitMs: 1000 });
        expect(proxy.died()).to.equal(true);
        expect(campaign.killer?.c.bytes.equals(killer.bytes)).to.equal(true);
        expect(campaign.killer?.after).to.include({ ok: false, kind: 'connect-failed', code: 'ECONNREFUSED' });
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
        startEmulator(postureWith('weak', ['ssh']), { ephemeralPorts: true }), startEmulator(postureWith('hardened', ['ssh']), { ephemeralPorts: true }),
      ]);
    });
    after(async () => Promise.all(Object.values(devices).map((d) => d.close())));

    for (const posture of ['weak', 'hardened']) {
      it(`${posture}: the SSH service survives a seeded campaign`, async () => {
        const campaign = await runTargetCampaign(sshFuzzTarget(devices[posture].endpoint('ssh'), {}), { seed: 23, cases: 40, waitMs: 100 });
        expect(campaign.killer, JSON.stringify(campaign.killer)).to.equal(undefined);
        expect(campaign.cases).to.have.length(40);
        // Every case reached the service (none was refused at connect), and it reacted in more than one way.
        expect(campaign.cases.filter((c) => c.reaction.kind === 'connect-failed')).to.deep.equal([]);
        expect(new Set(campaign.cases.map((c) => c.reaction.kind)).size).to.be.above(1);
      });
    }
  });
});
