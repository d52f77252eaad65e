import { createHash } from 'node:crypto';
import type { FieldSpec, FrameTemplate } from '../fuzz/grammar';
import type { TemplateCase } from '../fuzz/grammar';
import { failedCheck } from '../fuzz/normal-check';
import type { FuzzTarget, FuzzTargetFactory, NormalCheck } from '../fuzz/target';
import { plain, sendStreamCase, type Classification } from '../fuzz/transport';
import { CLIENT_OFFER, CLIENT_SOFTWARE, MSG, encodeKexInit, exchangeHello } from './kexinit';
import { WireReader, packet } from './wire';

/**
 * The SSH grammar of the fuzzer (RFC 4253): the identification line (§4.2: "SSH-protoversion-softwareversion"
 * ending in CR LF, at most 255 characters) with its variants — another protocol version, an overlong line, a
 * line ending in LF only, a line without its end — and the client's SSH_MSG_KEXINIT (§7.1) in an unencrypted
 * binary packet (§6): packet length, padding length, message code, cookie, the ten name-lists (length and
 * first character) and first_kex_packet_follows. KEXINIT cases are sent after a valid identification, once
 * the server's own has arrived.
 */

const IDENT = `SSH-2.0-${CLIENT_SOFTWARE}`;
const KEXINIT = 'kexinit';
const LIST_NAMES = ['kex', 'host-key', 'ciphers-c2s', 'ciphers-s2c', 'macs-c2s', 'macs-s2c', 'compression-c2s', 'compression-s2c', 'languages-c2s', 'languages-s2c'];

const ascii = (s: string) => s.charCodeAt(0);

/** The version digits, the separators and the line end of an identification line. */
function identFields(line: string): FieldSpec[] {
  const end = Buffer.byteLength(line);
  const code = (name: string, offset: number, extra: readonly number[]): FieldSpec => ({ name, offset, size: 1, kind: 'code', extra });
  const fields = [
    code('ident.dash', 3, [ascii(' '), ascii('_')]),
    code('ident.major', 4, [ascii('0'), ascii('1'), ascii('3'), ascii('9')]),
    code('ident.dot', 5, [ascii(','), ascii('-')]),
    code('ident.minor', 6, [ascii('9'), ascii('5')]),
  ];
  if (line.endsWith('\r\n')) fields.push(code('ident.cr', end - 2, [0x0a, ascii(' ')]), code('ident.lf', end - 1, [0x0d, ascii(' ')]));
  return fields;
}

/** Identification lines the field mutations cannot make: other lengths, line ends and versions (RFC 4253 §4.2, §5). */
function identVariants(): TemplateCase[] {
  const line = (field: string, mutation: string, text: string): TemplateCase => ({ field, mutation, bytes: Buffer.from(text, 'latin1') });
  return [
    line('ident.line-end', 'LF only (no CR)', `${IDENT}\n`),
    line('ident.line-end', 'no line end', IDENT),
    line('ident.length', 'overlong: 270 characters (at most 255 allowed)', `SSH-2.0-${'x'.repeat(260)}\r\n`),
    line('ident.length', 'overlong: 8 KiB without a line end', `SSH-2.0-${'x'.repeat(8192)}`),
    line('ident.software', 'empty software version', 'SSH-2.0-\r\n'),
    line('ident.software', 'NUL and a space in the software version', `SSH-2.0-iacs\u0000probe x\r\n`),
    line('ident.version', 'SSH-1.99 (SSH-1 and SSH-2)', `SSH-1.99-${CLIENT_SOFTWARE}\r\n`),
    line('ident.version', 'SSH-1.5 (SSH-1 only)', `SSH-1.5-${CLIENT_SOFTWARE}\r\n`),
    line('ident.version', 'SSH-3.0 (no such version)', `SSH-3.0-${CLIENT_SOFTWARE}\r\n`),
    line('ident.version', 'SSH-2 without a minor version', `SSH-2-${CLIENT_SOFTWARE}\r\n`),
    line('ident.pre-banner', 'text lines before the identification (only servers may send them)', `hello\r\nworld\r\n${IDENT}\r\n`),
  ];
}

/** The fields of a KEXINIT packet, found by walking it: the packet header, the message, each name-list. */
export function kexinitFields(b: Buffer): FieldSpec[] {
  const fields: FieldSpec[] = [
    // Implementations must accept packets of 35000 bytes (§6.1); a packet is at least 16 bytes (§6).
    { name: 'packet.length', offset: 0, size: 4, kind: 'length', min: 12, max: 35000 },
    { name: 'packet.padding-length', offset: 4, size: 1, kind: 'length', min: 4, max: 255 },
    { name: 'message.code', offset: 5, size: 1, kind: 'code', extra: [MSG.DISCONNECT, MSG.IGNORE, MSG.UNIMPLEMENTED, 21, 30, 50, 0xff] },
    { name: 'cookie', offset: 6, size: 4, kind: 'value' },
  ];
  let p = 22;
  for (const list of LIST_NAMES) {
    const length = b.readUInt32BE(p);
    fields.push({ name: `${list}.length`, offset: p, size: 4, kind: 'length', extra: [length + 1, length + 4096] });
    // A NUL, a leading comma (an empty name), a space and a non-ASCII byte in a name (RFC 4251 §5: US-ASCII, no commas).
    if (length > 0) fields.push({ name: `${list}.first-char`, offset: p + 4, size: 1, kind: 'value', extra: [0x00, ascii(','), ascii(' '), 0x7f, 0xc3] });
    p += 4 + length;
  }
  fields.push({ name: 'first-kex-packet-follows', offset: p, size: 1, kind: 'value', extra: [1, 2] });
  fields.push({ name: 'reserved', offset: p + 1, size: 4, kind: 'value' });
  return fields;
}

/** The identification (with its variants) and the KEXINIT the cases start from. */
export function sshTemplates(): FrameTemplate[] {
  const cookie = createHash('sha256').update('iacs-probe ssh fuzz cookie').digest().subarray(0, 16);
  const kexinit = packet(encodeKexInit(CLIENT_OFFER, cookie));
  const ident = `${IDENT}\r\n`;
  return [
    { name: 'ident', bytes: Buffer.from(ident, 'latin1'), fields: identFields(ident), cases: identVariants() },
    { name: KEXINIT, bytes: kexinit, fields: kexinitFields(kexinit), lengthCovers: { field: 'packet.length', from: 4 } },
  ];
}

/** What the server sent: its identification, the messages after it, a DISCONNECT, or bytes that are not SSH. */
interface ServerStream {
  identification?: string;
  text: string[];
  messages: number[];
  disconnect?: { reason: number; description: string };
  /** A text line where a binary packet belongs: the server's refusal in words. */
  refusal?: string;
  invalid?: string;
}

const MAX_PACKET = 256 * 1024;

function readServerStream(buf: Buffer): ServerStream {
  const out: ServerStream = { text: [], messages: [] };
  let pos = 0;
  while (!out.identification) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl === -1) return out;
    const line = buf.subarray(pos, nl).toString('latin1').replace(/\r$/, '');
    pos = nl + 1;
    if (line.startsWith('SSH-')) out.identification = line;
    else out.text.push(line);
  }
  while (buf.length - pos >= 5) {
    const length = buf.readUInt32BE(pos);
    if (length < 5 || length > MAX_PACKET) {
      // OpenSSH answers a bad identification with a text line instead of a packet ("Protocol major versions differ.").
      const rest = buf.subarray(pos, Math.min(buf.length, pos + 200));
      if (rest.every((b) => b === 0x09 || b === 0x0a || b === 0x0d || (b >= 0x20 && b < 0x7f))) out.refusal = rest.toString('latin1').trim();
      else out.invalid = `packet length ${length}`;
      return out;
    }
    if (buf.length - pos < 4 + length) return out;
    const payload = buf.subarray(pos + 5, pos + 4 + length - buf[pos + 4]);
    pos += 4 + length;
    out.messages.push(payload[0]);
    if (payload[0] === MSG.DISCONNECT) {
      try {
        const r = new WireReader(payload, 1);
        out.disconnect = { reason: r.uint32(), description: r.string().toString('utf8').slice(0, 200) };
      } catch {
        out.disconnect = { reason: -1, description: 'truncated SSH_MSG_DISCONNECT' };
      }
      return out;
    }
  }
  return out;
}

function summary(s: ServerStream): string {
  const parts = [
    ...(s.text.length ? [`text ${JSON.stringify(s.text.join(' | ').slice(0, 120))}`] : []),
    ...(s.identification ? [`identification ${JSON.stringify(s.identification.slice(0, 80))}`] : []),
    ...(s.messages.length ? [`messages ${s.messages.join(',')}`] : []),
  ];
  return parts.join(', ');
}

/** What the server's bytes mean: a DISCONNECT is its refusal, anything else an SSH answer (or not SSH). */
function classifySsh(received: Buffer): Classification {
  const stream = readServerStream(received);
  if (stream.invalid) return { kind: 'invalid', detail: `not an SSH binary packet: ${stream.invalid}` };
  if (stream.disconnect) return { kind: 'exception', detail: `SSH_MSG_DISCONNECT reason ${stream.disconnect.reason}: ${stream.disconnect.description}` };
  if (stream.refusal) return { kind: 'exception', detail: `text after the identification: ${JSON.stringify(stream.refusal)}` };
  if (!stream.identification && stream.text.length === 0) return { kind: 'invalid', detail: `no identification line (${received.length} bytes)` };
  return { kind: 'reply', detail: summary(stream) };
}

const settled = (r: Buffer) => {
  const s = readServerStream(r);
  return Boolean(s.disconnect ?? s.invalid);
};

/** The SSH fuzz target: identification and KEXINIT cases; the normal check reads the server's banner and KEXINIT. */
export const sshFuzzTarget: FuzzTargetFactory = (endpoint): FuzzTarget => ({
  protocol: 'ssh',
  transport: 'tcp',
  params: {},
  templates: sshTemplates(),
  checkDescription: `(${IDENT} and a KEXINIT; the server's identification and KEXINIT expected)`,
  sendCase: (c, waitMs, signal) => sendStreamCase(plain(endpoint), c.bytes, {
    waitMs, signal, classify: classifySsh, complete: settled,
    // A KEXINIT means something only after the identification exchange.
    ...(c.template === KEXINIT ? { preamble: { bytes: Buffer.from(`${IDENT}\r\n`), answered: (r: Buffer) => Boolean(readServerStream(r).identification), what: 'identification' } } : {}),
  }),
  async answersNormally(waitMs, signal): Promise<NormalCheck> {
    const deadline = AbortSignal.timeout(waitMs);
    try {
      // Text that is not an identification ends the check before the deadline: another protocol, not a slow server.
      const hello = await exchangeHello({ host: endpoint.host, port: endpoint.port, signal: AbortSignal.any([signal, deadline]), preBannerGraceMs: Math.max(50, waitMs / 2) });
      if (hello.kexinit) return { ok: true, kind: 'reply', detail: `${hello.identification.raw} with KEXINIT (${hello.kexinit.kex.length} kex methods)` };
      return { ok: false, kind: 'reply', detail: `${hello.identification.raw} sent no KEXINIT (SSH-1 only)` };
    } catch (err) {
      if (deadline.aborted && !signal.aborted) return { ok: false, kind: 'timeout', detail: `no identification and KEXINIT within ${waitMs} ms` };
      return failedCheck(err, signal);
    }
  },
});
