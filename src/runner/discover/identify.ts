import { alertFromError } from '../../protocols/tls/handshake';
import { parseHtml } from '../../protocols/http/html';
import { encodeFrame, parseFrame, parseDeviceIdPdu, DEVICE_ID_CATEGORIES, DEVICE_ID_OBJECTS, FUNCTION_CODES, MEI_READ_DEVICE_ID } from '../../protocols/modbus';
import { encodeConnectionRequest, parseTpkt, parseCotp, COTP, DEFAULT_TSAPS } from '../../protocols/s7';
import { COMMANDS, encodeEncap, parseEncap, parseCpf, parseIdentityItem, CPF } from '../../protocols/enip';
import { encodeU, parseApdu } from '../../protocols/iec104';
import { LINK, encodeLinkFrame, parseLinkFrame } from '../../protocols/dnp3';
import { PACKET, encodeConnect, readPacket } from '../../protocols/mqtt';
import { exchange, type ExchangeResult } from './exchange';

/** What identification found on one open TCP port. */
export interface TcpIdentity {
  port: number;
  /** A profile protocol; `tcp`/`tls` when nothing more specific answered. */
  protocol: string;
  tls?: boolean;
  /** True when a request of that protocol was answered; false when the protocol is a guess (then `note` says why). */
  identified: boolean;
  note?: string;
  /** Facts for the component (vendor, model, firmware, product) and the evidence. */
  facts: Record<string, string>;
  /** Fields of the service line (`unitId`) or, where the key says so, its `options`. */
  options?: Record<string, number | boolean>;
}

interface Endpoint { host: string; port: number; timeoutMs: number; signal: AbortSignal; tls?: boolean }

/** One protocol's identification request and how its answer is read (undefined: not this protocol). */
interface Recogniser {
  protocol: string;
  request: () => Buffer;
  enough?: (bytes: Buffer) => boolean;
  recognise: (answer: ExchangeResult) => Omit<TcpIdentity, 'port' | 'protocol' | 'identified'> | undefined;
  /** A second request (on a new connection) when the first answer named the protocol but not its facts. */
  retry?: (answer: ExchangeResult) => Recogniser | undefined;
}

const text = (b: Buffer) => b.toString('latin1');
const printable = (s: string) => s.replace(/[^\x20-\x7e]+/g, ' ').trim().slice(0, 80);

const http: Recogniser = {
  protocol: 'http',
  request: () => Buffer.from('GET / HTTP/1.0\r\nUser-Agent: iacs-probe discover\r\nAccept: */*\r\n\r\n'),
  enough: (b) => /<\/title>/i.test(text(b)),
  recognise: ({ bytes }) => {
    const s = text(bytes);
    if (!/^HTTP\/\d/.test(s)) return undefined;
    const facts: Record<string, string> = {};
    const server = /^server:\s*(.+)$/im.exec(s.split('\r\n\r\n')[0]);
    if (server) facts.httpServer = printable(server[1]);
    const title = parseHtml(s.slice(s.indexOf('\r\n\r\n') + 4)).title;
    if (title) facts.httpTitle = printable(title);
    return { facts };
  },
};

/** OPC UA TCP Hello (OPC 10000-6 §7.1.2.3): a server answers ACK or ERR. */
function opcuaHello(endpointUrl: string): Buffer {
  const url = Buffer.from(endpointUrl);
  const body = Buffer.alloc(20 + 4 + url.length);
  [0, 65536, 65536, 0, 0].forEach((v, i) => body.writeUInt32LE(v, i * 4));
  body.writeInt32LE(url.length, 20);
  url.copy(body, 24);
  const header = Buffer.alloc(8);
  header.write('HELF', 0, 'latin1');
  header.writeUInt32LE(8 + body.length, 4);
  return Buffer.concat([header, body]);
}

/**
 * Modbus 43/14 for the regular objects (the model name is one), and when that gets an exception, once more for the
 * basic ones (vendor, product code, revision): the spec has a basic-only device answer a regular request at its
 * own level, but some firmware refuses it instead.
 */
function modbusDeviceId(category: 'regular' | 'basic' = 'regular'): Recogniser {
  return {
    protocol: 'modbus',
    request: () => encodeFrame({ transactionId: 0x4d44, unitId: 1, pdu: Buffer.from([FUNCTION_CODES.encapsulatedInterface, MEI_READ_DEVICE_ID, DEVICE_ID_CATEGORIES[category], 0]) }),
    enough: (b) => parseFrame(b).kind !== 'incomplete',
    recognise: ({ bytes }) => {
      const parsed = parseFrame(bytes);
      if (parsed.kind !== 'frame' || parsed.frame.transactionId !== 0x4d44) return undefined;
      const facts: Record<string, string> = {};
      const pdu = parsed.frame.pdu;
      if (pdu[0] === FUNCTION_CODES.encapsulatedInterface) {
        const id = parseDeviceIdPdu(pdu);
        if (typeof id !== 'string') for (const o of id.objects) facts[`modbus.${DEVICE_ID_OBJECTS[o.id] ?? o.name}`] = printable(o.text);
      }
      return { facts, options: { unitId: 1 } };
    },
    retry: ({ bytes }) => {
      const parsed = parseFrame(bytes);
      // Exception 01 (illegal function): no 43/14 at all, so no basic objects either.
      const refused = parsed.kind === 'frame' && parsed.frame.pdu[0] === (FUNCTION_CODES.encapsulatedInterface | 0x80) && parsed.frame.pdu[1] !== 0x01;
      return category === 'regular' && refused ? modbusDeviceId('basic') : undefined;
    },
  };
}

const s7: Recogniser = {
  protocol: 's7',
  request: () => encodeConnectionRequest({ srcTsap: 0x0100, dstTsap: DEFAULT_TSAPS[0] }),
  enough: (b) => parseTpkt(b).kind !== 'incomplete',
  recognise: ({ bytes }) => {
    const tpkt = parseTpkt(bytes);
    if (tpkt.kind !== 'frame') return undefined;
    const cotp = parseCotp(tpkt.tpdu);
    return typeof cotp !== 'string' && (cotp.code === COTP.CC || cotp.code === COTP.DR) ? { facts: {} } : undefined;
  },
};

const enip: Recogniser = {
  protocol: 'enip',
  request: () => encodeEncap({ command: COMMANDS.listIdentity }),
  enough: (b) => parseEncap(b, [COMMANDS.listIdentity]).kind !== 'incomplete',
  recognise: ({ bytes }) => {
    const parsed = parseEncap(bytes, [COMMANDS.listIdentity]);
    if (parsed.kind !== 'frame') return undefined;
    const cpf = parseCpf(parsed.data);
    const item = 'error' in cpf ? undefined : cpf.items.find((i) => i.typeId === CPF.cipIdentity);
    const identity = item ? parseIdentityItem(item.data) : undefined;
    const facts: Record<string, string> = {};
    if (!identity || 'error' in identity) return { facts };
    return { facts: { 'enip.productName': printable(identity.productName), 'enip.revision': `${identity.revision.major}.${identity.revision.minor}`, 'enip.vendorId': String(identity.vendorId) } };
  },
};

const iec104: Recogniser = {
  protocol: 'iec104',
  request: () => encodeU('testfrAct'),
  enough: (b) => parseApdu(b).kind !== 'incomplete',
  recognise: ({ bytes }) => {
    const parsed = parseApdu(bytes);
    return parsed.kind === 'apdu' ? { facts: {} } : undefined;
  },
};

/** Request Link Status to the common outstation addresses 1 and 1024 (no application data). */
const dnp3: Recogniser = {
  protocol: 'dnp3',
  request: () => Buffer.concat([1, 1024].map((destination) => encodeLinkFrame({ control: LINK.dir | LINK.prm | LINK.requestLinkStatus, destination, source: 3, userData: Buffer.alloc(0) }))),
  enough: (b) => parseLinkFrame(b).kind !== 'incomplete',
  recognise: ({ bytes }) => {
    const parsed = parseLinkFrame(bytes);
    return parsed.kind === 'frame' ? { facts: {}, options: { outstationAddress: parsed.frame.source } } : undefined;
  },
};

/** CONNECT without credentials: a broker answers CONNACK (accepting or refusing); nothing is subscribed or published. */
const mqtt: Recogniser = {
  protocol: 'mqtt',
  request: () => encodeConnect({ level: 4, clientId: 'iacs-probe-discover', keepAliveSeconds: 10 }),
  enough: (b) => readPacket(b).kind !== 'incomplete',
  recognise: ({ bytes }) => {
    const parsed = readPacket(bytes);
    return parsed.kind === 'packet' && parsed.packet.type === PACKET.connack ? { facts: {} } : undefined;
  },
};

/** The requests tried on a port that sent no banner, in this order, each on a connection of its own. */
function recognisers(host: string, port: number): Recogniser[] {
  const opcua: Recogniser = {
    protocol: 'opcua',
    request: () => opcuaHello(`opc.tcp://${host}:${port}`),
    enough: (b) => b.length >= 8,
    recognise: ({ bytes }) => (/^(ACKF|ERRF)/.test(text(bytes.subarray(0, 4))) ? { facts: {} } : undefined),
  };
  return [http, opcua, modbusDeviceId(), s7, enip, iec104, dnp3, mqtt];
}

/** Server-first protocols, read from the greeting. */
function fromBanner(banner: Buffer): Omit<TcpIdentity, 'port'> {
  const s = text(banner);
  if (s.startsWith('SSH-')) return { protocol: 'ssh', identified: true, facts: { sshBanner: printable(s.split('\n')[0]) } };
  if (/^220[ -]/.test(s)) return { protocol: 'ftp', identified: true, facts: { ftpBanner: printable(s.split('\n')[0]) } };
  if (banner[0] === 0xff || /(login|username)\s*:\s*$/i.test(s)) return { protocol: 'telnet', identified: true, facts: { telnetBanner: printable(s.split('\n')[0]) } };
  return { protocol: 'tcp', identified: false, note: `unidentified; it greets with "${printable(s)}"`, facts: { banner: printable(s) } };
}

/** The first recogniser answered, or undefined; `alerts` collects the TLS alerts that ended an attempt. */
async function firstAnswer(endpoint: Endpoint, list: readonly Recogniser[], alerts: string[] = []): Promise<Omit<TcpIdentity, 'port'> | undefined> {
  for (const r of list) {
    const answer = await exchange({ ...endpoint, request: r.request(), enough: r.enough });
    if (answer.failed) {
      const alert = alertFromError({ code: answer.failed });
      if (alert) alerts.push(alert);
      continue;
    }
    const seen = r.recognise(answer);
    if (!seen) continue;
    const again = r.retry?.(answer);
    const second = again ? await exchange({ ...endpoint, request: again.request(), enough: again.enough }) : undefined;
    const more = again && second && !second.failed ? again.recognise(second) : undefined;
    return { protocol: r.protocol, identified: true, ...seen, ...(more ? { facts: { ...seen.facts, ...more.facts } } : {}) };
  }
  return undefined;
}

/** What protocol a TLS port carries: HTTP, MQTT or Modbus inside; plain `tls` otherwise. */
async function insideTls(endpoint: Endpoint): Promise<Omit<TcpIdentity, 'port'>> {
  const tlsEndpoint = { ...endpoint, tls: true };
  const alerts: string[] = [];
  const inner = await firstAnswer(tlsEndpoint, [http, mqtt, modbusDeviceId()], alerts);
  if (inner?.protocol === 'http') return { ...inner, protocol: 'https', tls: true };
  if (inner?.protocol === 'modbus') return { ...inner, protocol: 'modbus-tls', tls: true };
  if (inner) return { ...inner, tls: true };
  // TLS 1.3: the client's handshake completes before the server asks for the certificate it then refuses.
  if (alerts.length > 0) return mutualTls(endpoint.port, alerts[0]);
  return { protocol: 'tls', tls: true, identified: true, note: 'TLS; the protocol inside did not answer an HTTP, MQTT or Modbus request', facts: {} };
}

/** TLS handshake outcome: ok, an alert (the server speaks TLS but wants something: a client certificate), or not TLS. */
async function tlsHandshake(endpoint: Endpoint): Promise<'ok' | { alert: string } | 'no'> {
  const result = await exchange({ ...endpoint, tls: true, request: Buffer.alloc(0), enough: () => true, timeoutMs: endpoint.timeoutMs });
  if (result.secured) return 'ok';
  if (result.failed === undefined) return 'no';
  const alert = alertFromError({ code: result.failed });
  return alert ? { alert } : 'no';
}

/**
 * Registered ports of TLS services that require a client certificate, so the protocol inside cannot be asked:
 * Modbus/TCP Security (802), CIP Security (2221), IEC 60870-5-104 and DNP3 over TLS (IEC 62351-3: 19998, 19999).
 * Declared as the example profiles declare them; the draft's comment says it is a guess from the port.
 */
export const MUTUAL_TLS_PORTS: Readonly<Record<number, { name: string; protocol: string; options?: Record<string, boolean> }>> = {
  802: { name: 'Modbus/TCP Security', protocol: 'modbus-tls' },
  2221: { name: 'CIP Security (EtherNet/IP over TLS)', protocol: 'tls', options: { cipSecurity: true } },
  19998: { name: 'IEC 60870-5-104 over TLS (IEC 62351-3)', protocol: 'tls', options: { iec62351: true } },
  19999: { name: 'DNP3 over TLS (IEC 62351-3)', protocol: 'tls', options: { dnp3: true } },
};

/**
 * A TLS service that ended a certificate-less handshake with an alert (it wants the lab's client certificate):
 * the protocol inside cannot be asked. On a registered port of such a service it is declared as that service,
 * a guess from the port, which the note says; elsewhere it stays `tls`.
 */
function mutualTls(port: number, alert: string): Omit<TcpIdentity, 'port'> {
  const refused = `the handshake without a client certificate ended with the alert ${alert}`;
  const known = MUTUAL_TLS_PORTS[port];
  if (known) {
    return {
      protocol: known.protocol, tls: true, identified: false, facts: {}, ...(known.options ? { options: known.options } : {}),
      note: `guessed ${known.name}: ${port} is its registered port and ${refused} (a client certificate is required), so nothing was asked inside`,
    };
  }
  return { protocol: 'tls', tls: true, identified: true, facts: {}, note: `TLS; ${refused} (a client certificate required?), so the protocol inside was not identified` };
}

/**
 * Identifies the protocol on one open TCP port with the requests a client of that protocol sends first
 * (passive banner read, TLS ClientHello, HTTP GET, OPC UA Hello, Modbus 43/14, COTP CR, ListIdentity,
 * TESTFR, Request Link Status, MQTT CONNECT): identification only, nothing written to the device.
 */
export async function identifyTcpPort(host: string, port: number, timeoutMs: number, signal: AbortSignal): Promise<TcpIdentity> {
  const endpoint: Endpoint = { host, port, timeoutMs, signal };
  const greeting = await exchange({ ...endpoint, timeoutMs: Math.min(timeoutMs, 800) });
  if (greeting.bytes.length > 0) return { port, ...fromBanner(greeting.bytes) };
  const handshake = await tlsHandshake(endpoint);
  if (handshake === 'ok') return { port, ...(await insideTls(endpoint)) };
  if (typeof handshake === 'object') return { port, ...mutualTls(port, handshake.alert) };
  const plain = await firstAnswer(endpoint, recognisers(host, port));
  if (plain) return { port, ...plain };
  return { port, protocol: 'tcp', identified: false, note: 'unidentified: no banner and no answer to the identification requests', facts: {} };
}
