import * as dgram from 'node:dgram';
import * as net from 'node:net';
import type * as Snmp from 'net-snmp';
import { lazyModule } from './lazy';

const snmp = lazyModule<typeof Snmp>('net-snmp');
import { AuthRejected, InvalidInput, ProtocolViolation, TargetTimeout, TargetUnreachable } from '../sdk';

/**
 * Thin adapter over net-snmp for probes: v1/v2c/v3 sessions with a bounded timeout and retry count,
 * an AbortSignal that closes the socket, typed errors, and decoded values. Each session uses a
 * *connected* UDP socket so that an ICMP port-unreachable from the target surfaces as ECONNREFUSED
 * (TargetUnreachable) instead of a silent timeout.
 */

export type CommunityVersion = 'v1' | 'v2c';
export type SecurityLevelName = 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';
export const SECURITY_LEVELS: readonly SecurityLevelName[] = ['noAuthNoPriv', 'authNoPriv', 'authPriv'];
export const AUTH_PROTOCOLS = ['md5', 'sha', 'sha224', 'sha256', 'sha384', 'sha512'] as const;
export type AuthProtocolName = (typeof AUTH_PROTOCOLS)[number];
export const PRIV_PROTOCOLS = ['des', 'aes', 'aes256b', 'aes256r'] as const;
export type PrivProtocolName = (typeof PRIV_PROTOCOLS)[number];

export interface V3User {
  name: string;
  level: SecurityLevelName;
  authProtocol?: AuthProtocolName;
  authKey?: string;
  privProtocol?: PrivProtocolName;
  privKey?: string;
}

export type SnmpAccess =
  | { version: CommunityVersion; community: string }
  | { version: 'v3'; user: V3User };

export interface SnmpEndpoint {
  host: string;
  port: number;
}

export interface SnmpOptions {
  /** Wait for one answer before re-sending (per try). */
  timeoutMs: number;
  /** Re-sends after the first try (net-snmp's default is 1; ours is always explicit). */
  retries: number;
  signal: AbortSignal;
}

/** One decoded variable binding. OctetStrings that are not printable text come back as "0x<hex>". */
export interface SnmpValue {
  oid: string;
  /** net-snmp's ObjectType name: OctetString, Integer, OID, TimeTicks, NoSuchObject, ... */
  type: string;
  value: string | number | boolean | null;
}

export interface SnmpResponse {
  /** "NoError" or the error-status name the agent answered with (NoSuchName, NoAccess, ...). */
  errorStatus: string;
  varbinds: SnmpValue[];
}

export const USM_REPORTS = {
  unsupportedSecLevel: 'Unsupported Security Level',
  notInTimeWindow: 'Not In Time Window',
  unknownUserName: 'Unknown User Name',
  unknownEngineID: 'Unknown Engine ID',
  wrongDigest: 'Wrong Digest (incorrect password, community or key)',
  decryptionError: 'Decryption Error',
} as const;
export type UsmReportName = keyof typeof USM_REPORTS;

/** The agent answered an SNMPv3 request with a USM report (RFC 3414 §3.2) instead of a response. */
export class UsmReportError extends AuthRejected {
  constructor(readonly report: UsmReportName, message: string) {
    super(message);
  }
}

/** The authoritative SNMP engine of the agent, learnt from the v3 discovery report. */
export interface EngineInfo {
  /** snmpEngineID in hex. */
  id: string;
  boots: number;
  time: number;
  /** The engine ID decoded per RFC 3411 §5 (SnmpEngineID). */
  enterprise: number;
  format: 'ipv4' | 'ipv6' | 'mac' | 'text' | 'octets' | 'enterprise-specific' | 'reserved' | 'rfc1910';
  /** The bytes after the format octet: hex, or text/address when the format says so. */
  data: string;
  dataHex: string;
}

export function describeEngineId(id: Buffer): Pick<EngineInfo, 'id' | 'enterprise' | 'format' | 'data' | 'dataHex'> {
  const hex = id.toString('hex');
  if (id.length < 5) return { id: hex, enterprise: 0, format: 'reserved', data: hex, dataHex: hex };
  const enterprise = id.readUInt32BE(0) & 0x7fffffff;
  if ((id[0] & 0x80) === 0) {
    // RFC 1910 style: 4 octets enterprise, 8 octets of enterprise-specific data.
    const rest = id.subarray(4).toString('hex');
    return { id: hex, enterprise, format: 'rfc1910', data: rest, dataHex: rest };
  }
  const formatOctet = id[4];
  const body = id.subarray(5);
  const dataHex = body.toString('hex');
  const base = { id: hex, enterprise, dataHex };
  switch (formatOctet) {
    case 1: return { ...base, format: 'ipv4', data: body.length === 4 ? [...body].join('.') : dataHex };
    case 2: return { ...base, format: 'ipv6', data: body.length === 16 ? (body.toString('hex').match(/.{4}/g) ?? []).join(':') : dataHex };
    case 3: return { ...base, format: 'mac', data: (dataHex.match(/../g) ?? []).join(':') };
    case 4: return { ...base, format: 'text', data: body.toString('utf8') };
    case 5: return { ...base, format: 'octets', data: dataHex };
    default: return { ...base, format: formatOctet >= 128 ? 'enterprise-specific' : 'reserved', data: dataHex };
  }
}

function objectTypeName(type: number | undefined): string {
  const name = type === undefined ? undefined : (snmp.ObjectType as Record<string, unknown>)[String(type)];
  return typeof name === 'string' ? name : `type-${type}`;
}

function errorStatusName(status: number): string {
  const name = (snmp.ErrorStatus as Record<string, unknown>)[String(status)];
  return typeof name === 'string' ? name : `GeneralError(${status})`;
}

const PRINTABLE = /^[\t\n\r\x20-\x7e\u00a0-\uffff]*$/;

export function decodeVarbind(vb: Snmp.Varbind): SnmpValue {
  const type = objectTypeName(vb.type);
  const v = vb.value;
  let value: SnmpValue['value'];
  if (snmp.isVarbindError(vb)) value = null;
  else if (Buffer.isBuffer(v)) {
    if (type === 'Counter64') value = v.length === 0 ? 0 : BigInt(`0x${v.toString('hex')}`).toString();
    else {
      const text = v.toString('utf8');
      value = type === 'OctetString' && PRINTABLE.test(text) && !text.includes('\ufffd') ? text : `0x${v.toString('hex')}`;
    }
  } else if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') value = v;
  else if (typeof v === 'bigint') value = v.toString();
  else value = v === null || v === undefined ? null : String(v);
  return { oid: vb.oid, type, value };
}

/** A value to SET: the type names of net-snmp's ObjectType. */
export interface SnmpSetValue {
  oid: string;
  type: 'OctetString' | 'Integer' | 'Gauge' | 'Unsigned32' | 'TimeTicks' | 'OID' | 'IpAddress';
  value: string | number;
}

function toLibraryUser(user: V3User): Snmp.User {
  const u: Snmp.User = { name: user.name, level: snmp.SecurityLevel[user.level] };
  if (user.level !== 'noAuthNoPriv') {
    if (!user.authProtocol || user.authKey === undefined) throw new InvalidInput(`SNMPv3 ${user.level} needs an auth protocol and key`);
    u.authProtocol = snmp.AuthProtocols[user.authProtocol];
    u.authKey = user.authKey;
  }
  if (user.level === 'authPriv') {
    if (!user.privProtocol || user.privKey === undefined) throw new InvalidInput('SNMPv3 authPriv needs a privacy protocol and key');
    u.privProtocol = snmp.PrivProtocols[user.privProtocol];
    u.privKey = user.privKey;
  }
  return u;
}

/** A dgram module whose sockets are connected to the target, so ICMP unreachables become errors. */
function connectedDgram(endpoint: SnmpEndpoint, onSocket: (s: dgram.Socket) => void, onSent?: () => void): Snmp.DgramModule {
  return {
    createSocket(type) {
      const socket = dgram.createSocket(type);
      onSocket(socket);
      let connected = false;
      const queue: (() => void)[] = [];
      socket.connect(endpoint.port, endpoint.host, () => {
        connected = true;
        for (const send of queue.splice(0)) send();
      });
      const rawSend = socket.send.bind(socket) as (b: Buffer, o: number, l: number, cb: (e: Error | null) => void) => void;
      // net-snmp calls send(buffer, offset, length, port, address, cb); a connected socket takes no address.
      (socket as unknown as { send: unknown }).send = (buf: Buffer, offset: number, length: number, _p: number, _a: string, cb: (e: Error | null) => void) => {
        // onSent runs before net-snmp's callback starts the request's timer: "sent" precedes its timeout.
        const go = () => rawSend(buf, offset, length, (err) => {
          if (!err) onSent?.();
          cb(err);
        });
        if (connected) go();
        else queue.push(go);
      };
      return socket;
    },
  };
}

function describe(endpoint: SnmpEndpoint): string {
  return `${endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}/udp`;
}

/** For clients of a batch (sweepAccess): one abort listener for the whole batch instead of one per request. */
export interface BatchHooks {
  /** The client adds no abort listener of its own: the batch watches the signal and calls cancel(). */
  readonly cancelledByBatch?: boolean;
  /** Called when a request datagram has left the socket (before its timeout starts). */
  readonly onDatagramSent?: () => void;
}

/** One open SNMP session. Create it with withSnmp(); it is closed when the callback settles. */
export class SnmpClient {
  private readonly session: Snmp.Session;
  private readonly pending = new Set<(err: unknown) => void>();
  private failure: Error | undefined;
  private closed = false;

  constructor(
    readonly endpoint: SnmpEndpoint, readonly access: SnmpAccess, private readonly options: SnmpOptions, private readonly hooks: BatchHooks = {},
  ) {
    const libraryOptions: Snmp.SessionOptions = {
      port: endpoint.port,
      retries: options.retries,
      timeout: options.timeoutMs,
      backoff: 1,
      transport: net.isIPv6(endpoint.host) ? 'udp6' : 'udp4',
      backwardsGetNexts: false,
      reportOidMismatchErrors: false,
      dgramModule: connectedDgram(endpoint, (s) => {
        s.on('error', (err: NodeJS.ErrnoException) => this.fail(err.code === 'ECONNREFUSED'
          ? new TargetUnreachable(`${describe(endpoint)}: port unreachable (ICMP): nothing listens for SNMP`, { cause: err })
          : err));
      }, hooks.onDatagramSent),
    };
    if (access.version === 'v3') {
      this.session = snmp.createV3Session(endpoint.host, toLibraryUser(access.user), { ...libraryOptions, version: snmp.Version3 });
    } else {
      this.session = snmp.createSession(endpoint.host, access.community, {
        ...libraryOptions, version: access.version === 'v1' ? snmp.Version1 : snmp.Version2c,
      });
    }
    // net-snmp emits "error" when a datagram does not parse as SNMP: the peer speaks something else.
    this.session.on('error', (err: unknown) => this.fail(new ProtocolViolation(
      `${describe(endpoint)} answered with a datagram that is not SNMP (${err instanceof Error ? err.message : String(err)})`,
    )));
  }

  /** The agent's engine (v3 sessions, after the first request). */
  engine(): EngineInfo | undefined {
    const p = this.session.msgSecurityParameters;
    if (!p?.msgAuthoritativeEngineID || p.msgAuthoritativeEngineID.length === 0) return undefined;
    return {
      ...describeEngineId(Buffer.from(p.msgAuthoritativeEngineID)),
      boots: p.msgAuthoritativeEngineBoots ?? 0,
      time: p.msgAuthoritativeEngineTime ?? 0,
    };
  }

  get(oids: string[]): Promise<SnmpResponse> {
    return this.request((cb) => this.session.get(oids, cb));
  }

  getNext(oids: string[]): Promise<SnmpResponse> {
    return this.request((cb) => this.session.getNext(oids, cb));
  }

  set(values: SnmpSetValue[]): Promise<SnmpResponse> {
    const varbinds = values.map((v) => ({ oid: v.oid, type: snmp.ObjectType[v.type], value: v.value }));
    return this.request((cb) => this.session.set(varbinds, cb));
  }

  /**
   * Walks a subtree with GetNext, at most `maxVarbinds` values; stops at the end of the subtree, at
   * endOfMibView, or at an error-status (v1 signals the end with noSuchName). Rejects an agent whose
   * OIDs do not increase (a loop).
   */
  async walk(baseOid: string, maxVarbinds: number): Promise<{ values: SnmpValue[]; truncated: boolean; endStatus: string }> {
    const values: SnmpValue[] = [];
    let current = baseOid;
    while (values.length < maxVarbinds) {
      const res = await this.getNext([current]);
      if (res.errorStatus !== 'NoError') return { values, truncated: false, endStatus: res.errorStatus };
      const vb = res.varbinds[0];
      if (!vb || vb.type === 'EndOfMibView' || !oidInSubtree(baseOid, vb.oid)) return { values, truncated: false, endStatus: vb?.type ?? 'NoError' };
      if (compareOids(vb.oid, current) <= 0) throw new ProtocolViolation(`${describe(this.endpoint)}: GetNext(${current}) answered ${vb.oid}, which does not follow it`);
      values.push(vb);
      current = vb.oid;
    }
    return { values, truncated: true, endStatus: 'NoError' };
  }

  /** Rejects every pending request with `reason` and closes the socket (the batch's abort listener calls it). */
  cancel(reason: unknown): void {
    for (const reject of [...this.pending]) reject(reason);
    this.close();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.session.close();
    } catch {
      // already closed by the library (socket error)
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const reject of [...this.pending]) reject(err);
  }

  private request(start: (cb: Snmp.ResponseCallback) => void): Promise<SnmpResponse> {
    const { signal } = this.options;
    const watch = !this.hooks.cancelledByBatch;
    return new Promise<SnmpResponse>((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      if (this.failure) return reject(this.failure);
      let settled = false;
      const finish = (fn: () => void) => {
        if (settled) return;
        settled = true;
        this.pending.delete(rejectNow);
        if (watch) signal.removeEventListener('abort', onAbort);
        fn();
      };
      const rejectNow = (err: unknown) => finish(() => reject(err));
      const onAbort = () => {
        rejectNow(signal.reason);
        this.close();
      };
      this.pending.add(rejectNow);
      if (watch) signal.addEventListener('abort', onAbort, { once: true });
      try {
        start((error, varbinds) => {
          if (!error) return finish(() => resolve({ errorStatus: 'NoError', varbinds: (varbinds ?? []).map(decodeVarbind) }));
          if (error instanceof snmp.RequestFailedError) {
            return finish(() => resolve({ errorStatus: errorStatusName(error.status), varbinds: [] }));
          }
          rejectNow(this.classify(error));
        });
      } catch (error) {
        rejectNow(this.classify(error));
      }
    });
  }

  private classify(error: unknown): unknown {
    if (this.options.signal.aborted) return this.options.signal.reason;
    if (this.failure) return this.failure;
    const where = describe(this.endpoint);
    if (error instanceof snmp.RequestTimedOutError) {
      const tries = this.options.retries + 1;
      return new TargetTimeout(`${where}: no SNMP answer (${tries} ${tries === 1 ? 'try' : 'tries'} of ${this.options.timeoutMs} ms)`);
    }
    if (error instanceof snmp.ResponseInvalidError) {
      const report = (Object.keys(USM_REPORTS) as UsmReportName[]).find((k) => USM_REPORTS[k] === error.message);
      if (report) return new UsmReportError(report, `${where}: USM report ${report}`);
      return new ProtocolViolation(`${where}: invalid SNMP response: ${error.message}`);
    }
    const code = (error as NodeJS.ErrnoException | null)?.code;
    if (code === 'ECONNREFUSED') return new TargetUnreachable(`${where}: port unreachable (ICMP)`, { cause: error });
    if (code === 'ERR_OSSL_EVP_UNSUPPORTED') {
      return new InvalidInput('this Node.js build cannot run the requested SNMPv3 cipher (DES needs --openssl-legacy-provider)', { cause: error });
    }
    if (error instanceof Error && /Socket forcibly closed/.test(error.message)) return new TargetUnreachable(`${where}: socket closed`, { cause: error });
    return error;
  }
}

/**
 * Opens a session, runs `fn`, and closes the session in every case (the socket is released before the
 * returned promise settles). Aborting the signal rejects pending requests and closes the socket now.
 */
export async function withSnmp<T>(endpoint: SnmpEndpoint, access: SnmpAccess, options: SnmpOptions, fn: (client: SnmpClient) => Promise<T>): Promise<T> {
  if (options.signal.aborted) throw options.signal.reason;
  const client = new SnmpClient(endpoint, access, options);
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

export function oidInSubtree(base: string, oid: string): boolean {
  return oid === base || oid.startsWith(`${base}.`);
}

export function compareOids(a: string, b: string): number {
  const x = a.split('.').map(Number);
  const y = b.split('.').map(Number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

export const OIDS = {
  sysDescr: '1.3.6.1.2.1.1.1.0',
  sysObjectID: '1.3.6.1.2.1.1.2.0',
  sysUpTime: '1.3.6.1.2.1.1.3.0',
  sysContact: '1.3.6.1.2.1.1.4.0',
  sysName: '1.3.6.1.2.1.1.5.0',
  sysLocation: '1.3.6.1.2.1.1.6.0',
  /** ENTITY-MIB entPhysicalEntry (RFC 6933). */
  entPhysicalEntry: '1.3.6.1.2.1.47.1.1.1.1',
} as const;

/** Outcome of trying one access (community or v3 user/level) with a GET of sysDescr.0. */
export type AccessTrial =
  | { result: 'response'; response: SnmpResponse }
  | { result: 'report'; report: UsmReportName }
  | { result: 'no-answer' };

/**
 * GETs sysDescr.0 with the given access. A wrong community is normally dropped in silence (RFC 3584
 * §5.2.1 step 4 counts it in snmpInBadCommunityNames), so silence is an answer here, not an error;
 * unreachable ports, garbage and aborts still throw.
 */
export async function tryAccess(endpoint: SnmpEndpoint, access: SnmpAccess, options: SnmpOptions): Promise<AccessTrial & { engine?: EngineInfo }> {
  return withSnmp(endpoint, access, options, async (client) => {
    try {
      const response = await client.get([OIDS.sysDescr]);
      return { result: 'response', response, engine: client.engine() };
    } catch (err) {
      if (err instanceof TargetTimeout) return { result: 'no-answer', engine: client.engine() };
      if (err instanceof UsmReportError) return { result: 'report', report: err.report, engine: client.engine() };
      throw err;
    }
  });
}

/** Result of SNMPv3 engine discovery (RFC 3414 §4) with a user name the agent does not know. */
export interface V3Discovery {
  engine: EngineInfo;
  /** How the agent treated a noAuthNoPriv request from an unknown user after discovery: a USM report
   * (RFC 3414 §3.2 step 4: usmStatsUnknownUserNames), another report, a response with data
   * ("answered"), a response with an error-status ("refused"), or silence. */
  unknownUser: 'report-unknown-user' | 'other-report' | 'answered' | 'refused' | 'no-answer';
  report?: UsmReportName;
}

/**
 * Discovers the agent's SNMPv3 engine: net-snmp sends the RFC 3414 §4 discovery request (empty user,
 * no engine ID); the agent's report carries its snmpEngineID, boots and time. The follow-up request
 * names a random user the agent cannot know. Throws TargetTimeout when nothing answers v3.
 */
export async function discoverV3(endpoint: SnmpEndpoint, options: SnmpOptions): Promise<V3Discovery> {
  const name = `iacs-probe-${Math.random().toString(36).slice(2, 10)}`;
  return withSnmp(endpoint, { version: 'v3', user: { name, level: 'noAuthNoPriv' } }, options, async (client) => {
    let unknownUser: V3Discovery['unknownUser'];
    let report: UsmReportName | undefined;
    try {
      const res = await client.get([OIDS.sysDescr]);
      unknownUser = res.errorStatus === 'NoError' && res.varbinds.some((v) => v.value !== null) ? 'answered' : 'refused';
    } catch (err) {
      if (err instanceof UsmReportError) {
        report = err.report;
        unknownUser = err.report === 'unknownUserName' ? 'report-unknown-user' : 'other-report';
      } else if (err instanceof TargetTimeout && client.engine()) {
        unknownUser = 'no-answer';
      } else throw err;
    }
    const engine = client.engine();
    if (!engine) throw new ProtocolViolation(`${describe(endpoint)} answered SNMPv3 without an engine ID`);
    return { engine, unknownUser, ...(report ? { report } : {}) };
  });
}
