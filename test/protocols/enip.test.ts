import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import accessProbe from '../../probes/enip/access';
import identityProbe from '../../probes/enip/identity';
import securityProbe from '../../probes/enip/security';
import { startEmulator, type Emulator } from '../../src/emulator';
import {
  CIP_SERVICES, COMMANDS, decodePath, encodeCipRequest, encodeEncap, encodePath, parseCipRequest, parseEncap, sendRRDataPayload,
} from '../../src/protocols/enip';
import { decodeCapture, enipPosture, fieldValues, scriptedEnipServer, startCapture, type DecodedPacket } from '../helpers/enip';
import { requirePeer, requireRoot } from '../helpers/peers';
import { runProbe } from '../helpers/probe-harness';

const hex = (b: Buffer) => b.toString('hex');

describe('protocols/enip: frames', () => {
  it('ListIdentity is byte for byte what nmap enip-info sends, apart from the 8-byte sender context', () => {
    // enip-info.nse: stdnse.fromhex("63000000000000000000000000000000c1debed100000000"): context 00000000c1debed1.
    const ours = encodeEncap({ command: COMMANDS.listIdentity, context: Buffer.from('00000000c1debed1', 'hex') });
    expect(hex(ours)).to.equal('63000000000000000000000000000000c1debed100000000');
  });

  it('SendRRData carries a null address item and an unconnected data item with the CIP request, and parses back', () => {
    const cip = encodeCipRequest(CIP_SERVICES.getAttributesAll, { classId: 1, instance: 1 });
    expect(hex(cip)).to.equal('010220012401');
    // Interface handle 0, timeout 10 s, 2 items: null address (0x0000, length 0), unconnected data (0x00B2, length 6).
    expect(hex(sendRRDataPayload(cip))).to.equal('000000000a000200' + '00000000' + 'b2000600' + hex(cip));
    const frame = parseEncap(encodeEncap({ command: COMMANDS.sendRRData, session: 0x01020304, data: sendRRDataPayload(cip) }));
    expect(frame.kind).to.equal('frame');
    const request = parseCipRequest(cip)!;
    expect(request.service).to.equal(CIP_SERVICES.getAttributesAll);
    expect(decodePath(request.path)).to.deep.equal({ classId: 1, instance: 1 });
    // Above 255 the 16-bit segment with its pad byte: class 4, instance 300, attribute 3.
    expect(hex(encodePath({ classId: 4, instance: 300, attribute: 3 }))).to.equal('2004' + '25002c01' + '3003');
    expect(decodePath(encodePath({ classId: 4, instance: 300, attribute: 3 }))).to.deep.equal({ classId: 4, instance: 300, attribute: 3 });
  });
});

/** Packets with a decoding problem, as "frame n: marker" lines (empty when the dissectors took everything). */
const problems = (packets: readonly DecodedPacket[]) => packets.flatMap((p) => p.problems.map((m) => `frame ${p.frame}: ${m}`));

describe('protocols/enip: Wireshark\'s enip, cip and dtls dissectors decode every frame the probes and the emulator exchange (tshark)', function () {
  this.timeout(90_000);
  const secure = (e: Emulator, transport?: 'udp') => e.services.find((s) => s.protocol === 'tls' && s.transport === transport)!;

  it('weak: identity over TCP and UDP, access with the write/restore and the Reset; no malformed frame, the identity and the CIP services as we sent them', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    requireRoot(this, 'tshark captures on loopback');
    const emu = await startEmulator(enipPosture('weak', { resetDowntimeMs: 300 }), { ephemeralPorts: true });
    const port = emu.endpoint('enip').port;
    try {
      const capture = await startCapture(tshark, [port]);
      const attempts = [
        (await runProbe(identityProbe, { service: { port, protocol: 'enip' } })).attempt,
        (await runProbe(identityProbe, { service: { port, protocol: 'enip', transport: 'udp' } })).attempt,
        (await runProbe(accessProbe, {
          service: { port, protocol: 'enip' }, allow: ['passive', 'active', 'destructive'],
          inputs: { testAttribute: { class: 4, instance: 150, attribute: 3 }, testValue: '0a0b0c0d0e0f1011', reset: { type: 0 } },
        })).attempt,
      ];
      const file = await capture.stop();
      const packets = await decodeCapture(tshark, file, [{ port, transport: 'tcp', proto: 'enip' }, { port, transport: 'udp', proto: 'enip' }], ['enip', 'cip']);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      expect(attempts.map((a) => a.status), attempts.map((a) => a.message).join('; ')).to.deep.equal(['pass', 'pass', 'fail']);
      expect(problems(packets)).to.deep.equal([]);
      const commands = new Set(fieldValues(packets, 'enip.command'));
      for (const c of ['0x0063', '0x0004', '0x0064', '0x0065', '0x006f']) expect([...commands], `tshark saw command ${c}`).to.include(c);
      // The identity the dissector reads from our ListIdentity replies (TCP and UDP) is the one the probe reported.
      const identity = attempts[0].observations.identity as { productName: string; serialNumber: string };
      expect(new Set(fieldValues(packets, 'enip.lir.name'))).to.deep.equal(new Set([identity.productName]));
      expect(new Set(fieldValues(packets, 'enip.lir.serial'))).to.deep.equal(new Set([identity.serialNumber]));
      expect(fieldValues(packets, 'enip.lir.name').length, 'ListIdentity answered over TCP and UDP').to.be.at.least(2);
      // CIP requests (service codes without the reply bit): Get_Attributes_All, Get/Set_Attribute_Single, Reset.
      const services = new Set(fieldValues(packets, 'cip.sc').map((s) => Number(s)));
      for (const s of [0x01, 0x0e, 0x10, 0x05]) expect([...services], `CIP service 0x${s.toString(16)}`).to.include(s);
    } finally {
      await emu.close();
    }
  });

  it('hardened: the plain port\'s 0x006A refusals and the CIP Security item decode; the DTLS ClientHellos and the HelloVerifyRequest too', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    requireRoot(this, 'tshark captures on loopback');
    const emu = await startEmulator(enipPosture('hardened'), { ephemeralPorts: true });
    const port = emu.endpoint('enip').port;
    const dtls = secure(emu, 'udp').port;
    try {
      const capture = await startCapture(tshark, [port, dtls]);
      const { attempt } = await runProbe(securityProbe, {
        service: { port, protocol: 'enip' },
        services: [{ port: secure(emu).port, protocol: 'tls', options: { cipSecurity: true } }, { port: dtls, protocol: 'tls', transport: 'udp', options: { cipSecurity: true } }],
      });
      const file = await capture.stop();
      const packets = await decodeCapture(tshark, file, [{ port, transport: 'tcp', proto: 'enip' }, { port: dtls, transport: 'udp', proto: 'dtls' }], ['enip', 'cip', 'dtls']);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(problems(packets)).to.deep.equal([]);
      expect(fieldValues(packets, 'enip.status'), 'RegisterSession refused with 0x006A').to.include('0x0000006a');
      expect(fieldValues(packets, 'enip.lir.name')).to.have.length.greaterThan(0);
      // DTLS handshake types: ClientHello (1), HelloVerifyRequest (3), ClientHello with the cookie (1).
      expect(fieldValues(packets, 'dtls.handshake.type')).to.deep.equal(['1', '3', '1']);
      expect(fieldValues(packets, 'dtls.handshake.cookie_length')).to.include('20');
    } finally {
      await emu.close();
    }
  });

  it('the check can fail: a ListIdentity reply whose item overruns the message is flagged', async function () {
    const tshark = requirePeer(this, 'tshark', undefined, 'Debian package tshark');
    requireRoot(this, 'tshark captures on loopback');
    const peer = await scriptedEnipServer((r) => (r.command === COMMANDS.listIdentity ? { data: Buffer.from('01000c00ff00', 'hex') } : null));
    try {
      const capture = await startCapture(tshark, [peer.port]);
      await runProbe(identityProbe, { service: { port: peer.port, protocol: 'enip' }, inputs: { requestTimeoutMs: 200 } });
      const file = await capture.stop();
      const packets = await decodeCapture(tshark, file, [{ port: peer.port, transport: 'tcp', proto: 'enip' }], ['enip', 'cip']);
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
      expect(problems(packets)).to.have.length.greaterThan(0);
    } finally {
      await peer.close();
    }
  });
});
