import { dnp3Crc } from '../udp/payloads';

export { dnp3Crc };

/** Link-layer control octet bits and function codes (IEEE 1815-2012 clause 9.2.4.1). */
export const LINK = {
  dir: 0x80,
  prm: 0x40,
  fcb: 0x20,
  fcv: 0x10,
  /** Primary functions (PRM = 1). */
  resetLinkStates: 0x0,
  testLinkStates: 0x2,
  confirmedUserData: 0x3,
  unconfirmedUserData: 0x4,
  requestLinkStatus: 0x9,
  /** Secondary functions (PRM = 0). */
  ack: 0x0,
  nack: 0x1,
  linkStatus: 0xb,
  notSupported: 0xf,
} as const;

/** User data per link frame: the length octet counts control, addresses and data (5 + at most 250). */
export const MAX_LINK_USER_DATA = 250;

export interface LinkFrame {
  /** The whole control octet (DIR, PRM, FCB/DFC, FCV, function). */
  control: number;
  destination: number;
  source: number;
  userData: Buffer;
}

export const linkFunction = (control: number) => control & 0x0f;
export const isPrimary = (control: number) => (control & LINK.prm) !== 0;

function withCrc(block: Buffer): Buffer {
  const crc = Buffer.alloc(2);
  crc.writeUInt16LE(dnp3Crc(block), 0);
  return Buffer.concat([block, crc]);
}

/** A link frame: 0x05 0x64, length, control, destination, source (little-endian), header CRC, then the user
 * data in blocks of 16 octets, each followed by its CRC. */
export function encodeLinkFrame(frame: LinkFrame): Buffer {
  if (frame.userData.length > MAX_LINK_USER_DATA) throw new RangeError(`link user data of ${frame.userData.length} octets (at most ${MAX_LINK_USER_DATA})`);
  const header = Buffer.from([0x05, 0x64, 5 + frame.userData.length, frame.control, frame.destination & 0xff, (frame.destination >> 8) & 0xff, frame.source & 0xff, (frame.source >> 8) & 0xff]);
  const blocks = [withCrc(header)];
  for (let at = 0; at < frame.userData.length; at += 16) blocks.push(withCrc(frame.userData.subarray(at, at + 16)));
  return Buffer.concat(blocks);
}

export type LinkParse =
  | { kind: 'frame'; frame: LinkFrame; bytes: number }
  | { kind: 'incomplete' }
  | { kind: 'invalid'; reason: string };

/** The first link frame in `buffer`, with every CRC checked. */
export function parseLinkFrame(buffer: Buffer): LinkParse {
  if (buffer.length >= 1 && buffer[0] !== 0x05) return { kind: 'invalid', reason: `first octet 0x${buffer[0].toString(16).padStart(2, '0')} is not the DNP3 start 0x0564` };
  if (buffer.length >= 2 && buffer[1] !== 0x64) return { kind: 'invalid', reason: `second octet 0x${buffer[1].toString(16).padStart(2, '0')} is not the DNP3 start 0x0564` };
  if (buffer.length < 10) return { kind: 'incomplete' };
  if (buffer.readUInt16LE(8) !== dnp3Crc(buffer.subarray(0, 8))) return { kind: 'invalid', reason: 'header CRC does not match' };
  const length = buffer[2];
  if (length < 5) return { kind: 'invalid', reason: `length octet ${length} is below 5` };
  const dataLength = length - 5;
  const total = 10 + dataLength + 2 * Math.ceil(dataLength / 16);
  if (buffer.length < total) return { kind: 'incomplete' };
  const parts: Buffer[] = [];
  for (let at = 10, left = dataLength; left > 0; left -= 16) {
    const size = Math.min(16, left);
    const block = buffer.subarray(at, at + size);
    if (buffer.readUInt16LE(at + size) !== dnp3Crc(block)) return { kind: 'invalid', reason: `CRC of the data block at octet ${at} does not match` };
    parts.push(block);
    at += size + 2;
  }
  return {
    kind: 'frame', bytes: total,
    frame: { control: buffer[3], destination: buffer.readUInt16LE(4), source: buffer.readUInt16LE(6), userData: Buffer.concat(parts) },
  };
}

/** Transport header (one octet before each segment): FIN, FIR and a 6-bit sequence number. */
export const TRANSPORT = { fin: 0x80, fir: 0x40 } as const;

/** Splits an application fragment into transport segments (each fits one link frame). */
export function segment(fragment: Buffer, firstSeq: number): Buffer[] {
  const size = MAX_LINK_USER_DATA - 1;
  const out: Buffer[] = [];
  const count = Math.max(1, Math.ceil(fragment.length / size));
  for (let i = 0; i < count; i++) {
    const header = (i === 0 ? TRANSPORT.fir : 0) | (i === count - 1 ? TRANSPORT.fin : 0) | ((firstSeq + i) & 0x3f);
    out.push(Buffer.concat([Buffer.from([header]), fragment.subarray(i * size, (i + 1) * size)]));
  }
  return out;
}

/**
 * Joins transport segments into application fragments: a FIR segment starts one, a FIN ends it, a segment
 * out of sequence drops what was gathered (clause 8.2). Returns a fragment when one is complete.
 */
export class Reassembler {
  private parts: Buffer[] = [];
  private nextSeq = -1;

  push(segmentBytes: Buffer): Buffer | undefined {
    if (segmentBytes.length < 1) return undefined;
    const header = segmentBytes[0];
    const seq = header & 0x3f;
    if (header & TRANSPORT.fir) this.parts = [];
    else if (seq !== this.nextSeq || this.parts.length === 0) {
      this.parts = [];
      return undefined;
    }
    this.parts.push(segmentBytes.subarray(1));
    this.nextSeq = (seq + 1) & 0x3f;
    if (!(header & TRANSPORT.fin)) return undefined;
    const fragment = Buffer.concat(this.parts);
    this.parts = [];
    return fragment;
  }
}
