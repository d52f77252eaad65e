import * as dgram from 'node:dgram';
import * as net from 'node:net';
import {
  BVLC, UNCONFIRMED_SERVICE, apduOf, encodeAbort, encodeBdt, encodeBvlc, encodeFdt, encodeUnconfirmedRequest, iAmBody,
  parseBvlc, parseNpdu, parseWhoIs, unicastDatagram, decodeBip, type BdtEntry, type BipAddress, type FdtEntry,
} from '../../protocols/bacnet';
import type { ServiceModule, ServicePosture } from '../types';
import { EmulatedBacnetDevice, type BacnetDeviceConfig } from './bacnet-device';

export interface BbmdPosture {
  /** Peer BBMDs of the broadcast distribution table (the device itself is always its first entry). */
  peers?: { address: string; port?: number; mask?: string }[];
  /** Foreign devices registered when the device starts (what Read-FDT discloses). */
  foreignDevices?: { address: string; port?: number; ttl?: number }[];
}

export interface BacnetPosture extends ServicePosture, BacnetDeviceConfig {
  /** BACnet Broadcast Management Device (Annex J.4): tables readable, foreign devices accepted. Default off (NAKs). */
  bbmd?: BbmdPosture | null;
}

/** Extra time a BBMD keeps a foreign device beyond the TTL it registered with (J.5.2.3). */
const FDT_GRACE_SECONDS = 30;

interface ForeignDevice extends BipAddress {
  ttl: number;
  expiresAt: number;
}

/**
 * The B/IP side of the emulated device (Annex J): BVLC on one UDP port, confirmed requests to the device object
 * model (bacnet-device.ts), Who-Is answered with an I-Am unicast to the sender, and - with `bbmd` - Read-BDT,
 * Read-FDT, Register-Foreign-Device and Delete-FDT-Entry; without it each of those is NAKed as J.2 prescribes
 * for a device that is no BBMD.
 */
class BipPort {
  private readonly fdt = new Map<string, ForeignDevice>();

  constructor(private readonly device: EmulatedBacnetDevice, private readonly bbmd: BbmdPosture | undefined, private readonly self: BipAddress, private readonly log: (m: string) => void) {
    for (const fd of bbmd?.foreignDevices ?? []) {
      const ttl = fd.ttl ?? 300;
      this.fdt.set(`${fd.address}:${fd.port ?? 47808}`, { address: fd.address, port: fd.port ?? 47808, ttl, expiresAt: Number.MAX_SAFE_INTEGER });
    }
  }

  /** The answer to one datagram, or null (garbage and what a device does not answer are dropped). */
  handle(msg: Buffer, from: dgram.RemoteInfo): Buffer | null {
    const bvlc = parseBvlc(msg);
    if ('error' in bvlc) return null;
    switch (bvlc.fn) {
      case BVLC.originalUnicast: case BVLC.originalBroadcast: case BVLC.forwardedNpdu: return this.npdu(msg);
      case BVLC.readBdt: return this.bbmd ? encodeBvlc(BVLC.readBdtAck, encodeBdt(this.bdt())) : result(0x0020);
      case BVLC.readFdt: return this.bbmd ? encodeBvlc(BVLC.readFdtAck, encodeFdt(this.fdtEntries())) : result(0x0040);
      case BVLC.registerForeignDevice: return this.register(bvlc.payload, from);
      case BVLC.deleteFdtEntry: return this.deleteEntry(bvlc.payload);
      case BVLC.writeBdt: return result(0x0010);
      case BVLC.distributeBroadcast: return this.bbmd ? null : result(0x0060);
      default: return null;
    }
  }

  private bdt(): BdtEntry[] {
    return [{ ...this.self, mask: '255.255.255.255' }, ...(this.bbmd?.peers ?? []).map((p) => ({ address: p.address, port: p.port ?? 47808, mask: p.mask ?? '255.255.255.255' }))];
  }

  private fdtEntries(): FdtEntry[] {
    const now = Date.now();
    for (const [key, fd] of this.fdt) if (fd.expiresAt <= now) this.fdt.delete(key);
    return [...this.fdt.values()].map((fd) => ({ address: fd.address, port: fd.port, ttl: fd.ttl, remaining: Math.min(0xffff, Math.ceil((Math.min(fd.expiresAt, now + (fd.ttl + FDT_GRACE_SECONDS) * 1000) - now) / 1000)) }));
  }

  private register(payload: Buffer, from: dgram.RemoteInfo): Buffer {
    if (!this.bbmd || payload.length !== 2 || !net.isIPv4(from.address)) return result(0x0030);
    const ttl = payload.readUInt16BE(0);
    this.fdt.set(`${from.address}:${from.port}`, { address: from.address, port: from.port, ttl, expiresAt: Date.now() + (ttl + FDT_GRACE_SECONDS) * 1000 });
    this.log(`bacnet: foreign device ${from.address}:${from.port} registered for ${ttl} s`);
    return result(0);
  }

  private deleteEntry(payload: Buffer): Buffer {
    if (!this.bbmd || payload.length !== 6) return result(0x0050);
    const { address, port } = decodeBip(payload);
    return this.fdt.delete(`${address}:${port}`) ? result(0) : result(0x0050);
  }

  private npdu(msg: Buffer): Buffer | null {
    if (this.device.isDown) return null;
    const bvlc = parseBvlc(msg);
    const npdu = 'error' in bvlc ? undefined : parseNpdu(bvlc.fn === BVLC.forwardedNpdu ? bvlc.payload.subarray(6) : bvlc.payload);
    if (!npdu || 'error' in npdu || npdu.networkMessage) return null;
    const apdu = apduOf(msg);
    if ('error' in apdu) return null;
    if (apdu.type === 'confirmed') {
      const answer = apdu.segmented ? encodeAbort(apdu.invokeId, 4) : this.device.confirmed(apdu.invokeId, apdu.service, apdu.body);
      return answer ? unicastDatagram(answer, false) : null;
    }
    if (apdu.type === 'unconfirmed' && apdu.service === UNCONFIRMED_SERVICE.whoIs && !this.device.communicationDisabled) {
      const range = parseWhoIs(apdu.body);
      if (typeof range === 'string' || (range && (this.device.instance < range.low || this.device.instance > range.high))) return null;
      const iAm = iAmBody({ device: { objectType: 8, instance: this.device.instance }, maxApdu: 1476, segmentation: 3, vendorId: this.device.vendorId });
      return unicastDatagram(encodeUnconfirmedRequest(UNCONFIRMED_SERVICE.iAm, iAm), false);
    }
    return null;
  }
}

function result(code: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code, 0);
  return encodeBvlc(BVLC.result, b);
}

/** Emulated BACnet/IP device (ASHRAE 135 Annex J) on one UDP port; nmap bacnet-info and tshark check both sides in the tests. */
export const bacnetService: ServiceModule<BacnetPosture> = {
  key: 'bacnet',
  async start(config, device) {
    const bacnet = new EmulatedBacnetDevice(config, device.identity, device.log);
    const socket = dgram.createSocket(net.isIPv6(device.host) ? 'udp6' : 'udp4');
    socket.on('error', (err) => device.log(`bacnet: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(device.portFor(config.port), device.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const port = socket.address().port;
    const self = { address: net.isIPv4(device.host) ? device.host : '0.0.0.0', port };
    const bip = new BipPort(bacnet, config.bbmd ?? undefined, self, device.log);
    socket.on('message', (msg, rinfo) => {
      const reply = bip.handle(msg, rinfo);
      if (reply) socket.send(reply, rinfo.port, rinfo.address);
    });
    device.log(`bacnet: device ${bacnet.instance} on udp/${port}${config.bbmd ? ' (BBMD)' : ''}`);
    return {
      endpoints: [{ protocol: 'bacnet', host: device.host, port }],
      close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
    };
  },
};
