import type { FieldSpec, FrameTemplate } from '../fuzz/grammar';
import { failedCheck } from '../fuzz/normal-check';
import { param, type FuzzTarget, type FuzzTargetFactory, type NormalCheck } from '../fuzz/target';
import { plain, sendStreamCase, type Classification } from '../fuzz/transport';
import { discoverEndpoints, targetUrl } from './client';
import { POLICY_URI_PREFIX } from './names';

/**
 * The OPC UA grammar of the fuzzer (OPC 10000-6, UA TCP §7.1 and UA Secure Conversation §6.7): the Hello
 * message (§7.1.2.3) and an OpenSecureChannel request with SecurityPolicy None (§6.7.2 asymmetric security
 * header, §6.7.3 sequence header, the OpenSecureChannelRequest of Part 4 §5.5.2 in the binary encoding of
 * §5.2). Every number is little-endian; strings and byte strings are an Int32 length (-1 null) and the bytes.
 * An OPN case is sent after a valid Hello has been acknowledged.
 */

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n >>> 0);
  return b;
};
const i32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(n);
  return b;
};
const uaString = (s: string | null) => (s === null ? i32(-1) : Buffer.concat([i32(Buffer.byteLength(s)), Buffer.from(s, 'utf8')]));

/** 'HEL' + 'F' + MessageSize, the size counting the whole message. */
function message(type: string, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${type}F`, 'ascii'), u32(8 + body.length), body]);
}

/** Little-endian UInt32 fields, and the message header every UA TCP message starts with. */
const field = (name: string, offset: number, kind: FieldSpec['kind'], extra: Partial<FieldSpec> = {}): FieldSpec => ({ name, offset, size: 4, littleEndian: true, kind, ...extra });
const ascii = (s: string) => s.charCodeAt(0);
function headerFields(prefix: string): FieldSpec[] {
  return [
    // The first letter of the type turns HEL into ACK, ERR, OPN, MSG, CLO or RHE.
    { name: `${prefix}.message-type`, offset: 0, size: 1, kind: 'code', extra: ['A', 'E', 'O', 'M', 'C', 'R'].map(ascii) },
    // 'F' final chunk; 'C' intermediate, 'A' abort (only for MSG).
    { name: `${prefix}.chunk-type`, offset: 3, size: 1, kind: 'code', extra: ['C', 'A', 'f'].map(ascii) },
    field(`${prefix}.message-size`, 4, 'length', { min: 8 }),
  ];
}
const LENGTH_COVERS = (prefix: string) => ({ field: `${prefix}.message-size`, from: 0 });

export function helloMessage(endpointUrl: string): Buffer {
  // ProtocolVersion 0, buffers of 64 KiB, no message size or chunk count limit (0), the endpoint URL.
  return message('HEL', Buffer.concat([u32(0), u32(65535), u32(65535), u32(0), u32(0), uaString(endpointUrl)]));
}

function helloTemplate(endpointUrl: string): FrameTemplate {
  const bytes = helloMessage(endpointUrl);
  return {
    name: 'hel', bytes, lengthCovers: LENGTH_COVERS('hel'),
    fields: [
      ...headerFields('hel'),
      field('hel.protocol-version', 8, 'value', { extra: [1] }),
      // Buffers must be at least 8192 bytes (§7.1.2.3).
      field('hel.receive-buffer-size', 12, 'count', { min: 8192 }),
      field('hel.send-buffer-size', 16, 'count', { min: 8192 }),
      field('hel.max-message-size', 20, 'count', { extra: [8192, 8191] }),
      field('hel.max-chunk-count', 24, 'count', { extra: [1] }),
      // The EndpointUrl is at most 4096 bytes (§7.1.2.3); -1 is a null string.
      field('hel.endpoint-url-length', 28, 'length', { max: 4096, extra: [Buffer.byteLength(endpointUrl) + 1] }),
    ],
  };
}

/** 2026-01-01T00:00:00Z as a DateTime (100 ns ticks since 1601): fixed, so the same seed gives the same bytes. */
const FIXED_TIMESTAMP = (BigInt(Date.UTC(2026, 0, 1)) + 11_644_473_600_000n) * 10_000n;
/** OpenSecureChannelRequest_Encoding_DefaultBinary (i=446) as a four-byte NodeId. */
const OPN_REQUEST_TYPE_ID = Buffer.from([0x01, 0x00, 0xbe, 0x01]);

/** The OPN with SecurityPolicy None and the offsets of its fields. */
function openTemplate(): FrameTemplate {
  const policy = `${POLICY_URI_PREFIX}None`;
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigInt64LE(FIXED_TIMESTAMP);
  const parts: [string | null, Buffer][] = [
    ['opn.secure-channel-id', u32(0)],
    ['opn.policy-uri-length', uaString(policy)],
    ['opn.sender-certificate-length', i32(-1)],
    ['opn.receiver-thumbprint-length', i32(-1)],
    ['opn.sequence-number', u32(1)],
    ['opn.request-id', u32(1)],
    ['opn.type-id', OPN_REQUEST_TYPE_ID],
    // RequestHeader (Part 4 §7.33): null authentication token, timestamp, handle, diagnostics, audit id, timeout, no additional header.
    [null, Buffer.from([0x00, 0x00])],
    [null, timestamp],
    ['opn.request-handle', u32(1)],
    ['opn.return-diagnostics', u32(0)],
    ['opn.audit-entry-id-length', i32(-1)],
    ['opn.timeout-hint', u32(10_000)],
    [null, Buffer.from([0x00, 0x00, 0x00])],
    ['opn.client-protocol-version', u32(0)],
    ['opn.request-type', u32(0)], // Issue
    ['opn.security-mode', u32(1)], // None
    ['opn.client-nonce-length', i32(0)],
    ['opn.requested-lifetime', u32(600_000)],
  ];
  const extras: Record<string, Partial<FieldSpec>> = {
    'opn.secure-channel-id': { extra: [1] },
    'opn.policy-uri-length': { extra: [Buffer.byteLength(policy) - 1, Buffer.byteLength(policy) + 1] },
    'opn.sender-certificate-length': { extra: [0, 4096] },
    'opn.receiver-thumbprint-length': { extra: [0, 20] },
    'opn.request-type': { min: 0, max: 1 },
    'opn.security-mode': { min: 1, max: 3 },
    'opn.client-nonce-length': { extra: [32, 0xffffffff] },
    'opn.return-diagnostics': { extra: [0x3ff] },
  };
  const kinds: Record<string, FieldSpec['kind']> = { 'opn.request-type': 'code', 'opn.security-mode': 'code', 'opn.type-id': 'code' };
  const fields = headerFields('opn');
  let offset = 8;
  for (const [name, bytes] of parts) {
    if (name === 'opn.type-id') {
      // The encoding byte and the numeric id of the request's type (GetEndpoints 428, CloseSecureChannel 452, ...).
      fields.push({ name: 'opn.type-id.encoding', offset, size: 1, kind: 'code', extra: [0x00, 0x02, 0x03, 0x04, 0x05] });
      fields.push({ name: 'opn.type-id.id', offset: offset + 2, size: 2, littleEndian: true, kind: 'code', extra: [428, 452, 461, 449] });
    } else if (name) {
      const kind = kinds[name] ?? (name.endsWith('-length') ? 'length' : name.includes('id') || name.includes('number') ? 'id' : 'value');
      fields.push(field(name, offset, kind, extras[name] ?? {}));
    }
    offset += bytes.length;
  }
  return { name: 'opn-none', bytes: message('OPN', Buffer.concat(parts.map(([, b]) => b))), fields, lengthCovers: LENGTH_COVERS('opn') };
}

export function opcuaTemplates(endpointUrl: string): FrameTemplate[] {
  return [helloTemplate(endpointUrl), openTemplate()];
}

const MESSAGE_TYPES = new Set(['HEL', 'ACK', 'ERR', 'OPN', 'MSG', 'CLO', 'RHE']);

/** The UA TCP messages in `buf` (whole ones), and whether bytes that cannot be one follow. */
function readMessages(buf: Buffer): { messages: { type: string; body: Buffer }[]; invalid: boolean } {
  const messages: { type: string; body: Buffer }[] = [];
  let pos = 0;
  while (buf.length - pos >= 3) {
    if (!MESSAGE_TYPES.has(buf.subarray(pos, pos + 3).toString('latin1'))) return { messages, invalid: true };
    if (buf.length - pos < 8) break;
    const size = buf.readUInt32LE(pos + 4);
    if (size < 8) return { messages, invalid: true };
    if (buf.length - pos < size) break;
    messages.push({ type: buf.subarray(pos, pos + 3).toString('latin1'), body: buf.subarray(pos + 8, pos + size) });
    pos += size;
  }
  return { messages, invalid: false };
}

function describeError(body: Buffer): string {
  if (body.length < 4) return 'ERR (truncated)';
  const status = `0x${body.readUInt32LE(0).toString(16).padStart(8, '0')}`;
  const length = body.length >= 8 ? body.readInt32LE(4) : -1;
  const reason = length > 0 ? body.subarray(8, 8 + Math.min(length, 200)).toString('utf8') : '';
  return `ERR ${status}${reason ? ` ${JSON.stringify(reason)}` : ''}`;
}

/** What the server's messages mean: an ERR is its refusal; ACK or OPN answers are replies. */
function classifyOpcua(received: Buffer): Classification {
  const { messages, invalid } = readMessages(received);
  const error = messages.find((m) => m.type === 'ERR');
  if (error) return { kind: 'exception', detail: describeError(error.body) };
  if (invalid) return { kind: 'invalid', detail: `not a UA TCP message${messages.length ? ` after ${messages.map((m) => m.type).join(', ')}` : ''}` };
  if (messages.length === 0) return { kind: 'invalid', detail: `an incomplete UA TCP message (${received.length} bytes)` };
  return { kind: 'reply', detail: messages.map((m) => `${m.type} (${m.body.length + 8} bytes)`).join(', ') };
}

/** The answer is complete at an ERR, at bytes that are not UA TCP, or at the `n`th message. */
const answered = (n: number) => (received: Buffer) => {
  const { messages, invalid } = readMessages(received);
  return invalid || messages.length >= n || messages.some((m) => m.type === 'ERR');
};

const isAck = (received: Buffer) => readMessages(received).messages[0]?.type === 'ACK';

/**
 * The OPC UA fuzz target: Hello and OpenSecureChannel cases; the normal check is Hello/ACK, OPN and GetEndpoints
 * (node-opcua). Params: `path`, the resource path of the endpoint URL ("/UA/Server"; default none).
 */
export const opcuaFuzzTarget: FuzzTargetFactory = (endpoint, params): FuzzTarget => {
  const path = param(params, 'path', '') || undefined;
  const url = targetUrl(endpoint, path ?? '');
  return {
    protocol: 'opcua',
    transport: 'tcp',
    params: path ? { path } : {},
    templates: opcuaTemplates(url),
    checkDescription: `(Hello/Acknowledge, OpenSecureChannel with SecurityPolicy None, GetEndpoints on ${url}; node-opcua client)`,
    sendCase: (c, waitMs, signal) => {
      // An OPN means something only on a connection whose Hello was acknowledged.
      const opn = c.template.startsWith('opn');
      return sendStreamCase(plain(endpoint), c.bytes, {
        waitMs, signal, classify: classifyOpcua, complete: answered(opn ? 2 : 1),
        ...(opn ? { preamble: { bytes: helloMessage(url), answered: isAck, what: 'Hello' } } : {}),
      });
    },
    async answersNormally(waitMs, signal): Promise<NormalCheck> {
      try {
        const endpoints = await discoverEndpoints(endpoint, { signal, timeoutMs: waitMs, ...(path ? { path } : {}) });
        return endpoints.length > 0
          ? { ok: true, kind: 'reply', detail: `GetEndpoints answered (${endpoints.length} endpoints)` }
          : { ok: false, kind: 'reply', detail: 'GetEndpoints answered with no endpoint' };
      } catch (err) {
        return failedCheck(err, signal);
      }
    },
  };
};
