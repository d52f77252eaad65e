import { createHmac, randomBytes } from 'node:crypto';
import { dtlsRecord } from '../../protocols/dtls';

/**
 * The DTLS side of CIP Security on UDP 2221, as far as the emulator goes: RFC 6347's stateless cookie
 * exchange. A ClientHello without a valid cookie gets a HelloVerifyRequest; one with a valid cookie gets a
 * fatal handshake_failure alert, because Node has no DTLS to continue with (docs/enip.md says so). Enough for
 * a scanner to see a DTLS server, and honest about going no further.
 */
export class DtlsCookieResponder {
  private readonly secret = randomBytes(32);

  /** The answer to one datagram, or null for anything that is not a DTLS ClientHello. */
  answer(msg: Buffer, peer: string): Buffer | null {
    const hello = readClientHello(msg);
    if (!hello) return null;
    const cookie = createHmac('sha256', this.secret).update(peer).update(hello.random).digest().subarray(0, 20);
    if (hello.cookie.length > 0 && hello.cookie.equals(cookie)) {
      return dtlsRecord(21, 0xfefd, hello.sequence, Buffer.from([2, 40]));
    }
    const body = Buffer.concat([Buffer.from([0xfe, 0xff, cookie.length]), cookie]);
    const header = Buffer.alloc(12);
    header.writeUInt8(3, 0); // hello_verify_request
    header.writeUIntBE(body.length, 1, 3);
    header.writeUInt16BE(0, 4); // message_seq
    header.writeUIntBE(0, 6, 3); // fragment_offset
    header.writeUIntBE(body.length, 9, 3);
    // RFC 6347 4.2.1: version DTLS 1.0 in the HelloVerifyRequest; the record sequence number echoes the client's.
    return dtlsRecord(22, 0xfeff, hello.sequence, Buffer.concat([header, body]));
  }
}

function readClientHello(msg: Buffer): { random: Buffer; cookie: Buffer; sequence: number } | undefined {
  if (msg.length < 13 + 12 + 35 || msg[0] !== 22 || (msg[1] !== 0xfe)) return undefined;
  const handshake = msg.subarray(13, 13 + msg.readUInt16BE(11));
  if (handshake.length < 12 + 35 || handshake[0] !== 1) return undefined;
  const body = handshake.subarray(12);
  const sessionIdLength = body[34];
  const cookieAt = 35 + sessionIdLength;
  if (body.length < cookieAt + 1 || body.length < cookieAt + 1 + body[cookieAt]) return undefined;
  return { random: body.subarray(2, 34), cookie: Buffer.from(body.subarray(cookieAt + 1, cookieAt + 1 + body[cookieAt])), sequence: msg.readUIntBE(5, 6) };
}
