/**
 * TLS server enumeration with raw hellos: which protocol versions the server accepts, which cipher suites
 * per version (offer a set, drop the suite the server chose, offer again: one round trip per accepted
 * suite plus one per failed offer), whether it enforces its own suite order, the key-exchange groups and
 * DH sizes it uses, TLS_FALLBACK_SCSV, secure renegotiation, compression, and the certificate chain and
 * CertificateRequest as sent (decrypting the TLS 1.3 flight to see them).
 */
import { ProtocolViolation, TargetTimeout, isAbort } from '../../sdk';
import { helloExchange, type HelloOutcome, type HelloRequest, type TlsEndpoint } from './hello';
import {
  PROTOCOLS, PROTOCOL_VERSION, TLS_EMPTY_RENEGOTIATION_INFO_SCSV, TLS_FALLBACK_SCSV, suiteByCode, suiteCode, suiteName,
  suitesFor, type TlsProtocol,
} from './suites';
import { canDecrypt, canMakeKeyShare, makeKeyShare, type KeyShare } from './tls13';
import { ExtensionType, NAMED_GROUPS, SIGNATURE_SCHEMES, groupName } from './wire';
import { dnToString } from '../x509';

export interface ScanOptions {
  readonly signal: AbortSignal;
  /** Epoch ms by which the scan must be over (the attempt's deadline). */
  readonly deadline: number;
  /** Budget for one hello exchange (default 5000 ms, never past the deadline). */
  readonly helloTimeoutMs?: number;
  /** Most suites offered in one ClientHello (default 128; some stacks fail on longer lists). */
  readonly chunkSize?: number;
  /** Protocols to test (default all). */
  readonly protocols?: readonly TlsProtocol[];
  /** Called after every exchange, for the evidence transcript. */
  readonly onExchange?: (entry: ExchangeRecord) => void;
}

export interface ExchangeRecord {
  readonly purpose: string;
  readonly protocol: TlsProtocol;
  readonly offered: number;
  /** "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 x25519", "alert handshake_failure", "closed", "timeout" */
  readonly result: string;
  readonly clientHello: string;
  readonly serverResponse: string;
}

export interface AcceptedSuite {
  readonly name: string;
  readonly code: string;
  /** ECDHE group the server used. */
  readonly group?: string;
  /** DHE prime size. */
  readonly dhBits?: number;
  /** Temporary RSA key of an export suite. */
  readonly exportRsaBits?: number;
}

export interface ClientCertificateRequest {
  /** Whether the server asked for a client certificate; null when it could not be seen. */
  readonly requested: boolean | null;
  readonly protocol?: TlsProtocol;
  /** Acceptable CA names the server listed. */
  readonly authorities: readonly string[];
}

export interface TlsScanResult {
  readonly protocols: Record<TlsProtocol, boolean>;
  /** IANA names per accepted protocol, in server preference order when the server enforces one. */
  readonly ciphers: Partial<Record<TlsProtocol, string[]>>;
  readonly suites: Partial<Record<TlsProtocol, AcceptedSuite[]>>;
  /** true: the server picks by its own order; false: by the client's; null: fewer than two suites. */
  readonly serverOrder: Partial<Record<TlsProtocol, boolean | null>>;
  /** Key-exchange groups the server accepts (TLS 1.3 and, for ECDHE suites, TLS 1.2 and below). */
  readonly groups: Partial<Record<'TLSv1.3' | 'ECDHE', string[]>>;
  /** Smallest DHE prime seen, in bits. */
  readonly minDhBits: number | null;
  readonly forwardSecrecy: 'all' | 'some' | 'none' | null;
  /** The server refuses a TLS_FALLBACK_SCSV hello below its best version; null when not testable. */
  readonly fallbackScsv: boolean | null;
  readonly secureRenegotiation: boolean | null;
  readonly extendedMasterSecret: boolean | null;
  /** TLS compression (CRIME) accepted. */
  readonly compression: boolean | null;
  readonly ocspStapling: boolean | null;
  readonly clientCertificate: ClientCertificateRequest;
  /** The chain exactly as sent, from the best protocol where it could be read. */
  readonly certificates: { readonly protocol: TlsProtocol; readonly chain: readonly Buffer[] } | null;
  /** Exchanges that ended abnormally after the server had spoken TLS (timeouts, garbage). */
  readonly notes: readonly string[];
  readonly exchanges: number;
}

/** Order in which versions are probed: the likely one first, so a non-TLS peer is recognised at once. */
const PROBE_ORDER: readonly TlsProtocol[] = ['TLSv1.2', 'TLSv1.3', 'TLSv1.1', 'TLSv1', 'SSLv3'];

/** EC groups offered with TLS ≤ 1.2: strong first, then every legacy curve (FFDHE is left out on purpose:
 * RFC 7919 would make servers without it hide their DHE suites, or use a better group than real clients get). */
const EC_GROUPS: readonly number[] = [29, 23, 30, 24, 25, 26, 27, 28, 22, 21, 20, 19, 18, 17, 16, 15, ...Array.from({ length: 14 }, (_, i) => i + 1)];
const TLS13_GROUPS: readonly number[] = [29, 23, 30, 24, 25, 31, 32, 33, 256, 257, 258, 259, 260, 0x11ec, 0x11eb, 0x11ed];

function chunks<T>(list: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.ceil(list.length / size));
  const per = Math.ceil(list.length / n);
  return Array.from({ length: n }, (_, i) => list.slice(i * per, (i + 1) * per)).filter((c) => c.length > 0);
}

function describe(out: HelloOutcome): string {
  if (out.kind === 'alert') return `alert ${out.alert?.name ?? ''}`;
  if (out.kind === 'closed') return out.reset ? 'reset' : 'closed';
  const sh = out.serverHello;
  if (!sh) return 'hello';
  const parts = [`0x${sh.version.toString(16)}`, suiteName(sh.suite)];
  const v = PROTOCOLS.find((p) => PROTOCOL_VERSION[p] === sh.version);
  if (v) parts[0] = v;
  if (sh.helloRetryRequest) parts.push('HelloRetryRequest');
  if (sh.keyShareGroup !== undefined) parts.push(groupName(sh.keyShareGroup));
  if (out.keyExchange?.kind === 'ecdhe') parts.push(groupName(out.keyExchange.group));
  if (out.keyExchange?.kind === 'dhe') parts.push(`DH ${out.keyExchange.primeBits}`);
  return parts.join(' ');
}

/** Everything the scan learns, built up as exchanges come in. */
class Scanner {
  exchanges = 0;
  sawTls = false;
  readonly notes: string[] = [];
  private readonly shares: KeyShare[];

  constructor(private readonly endpoint: TlsEndpoint, private readonly options: ScanOptions) {
    this.shares = [makeKeyShare(29), makeKeyShare(23)];
  }

  /** One exchange. Before the server has ever answered TLS, timeouts and garbage end the scan (it is not
   * TLS, or it hangs); afterwards they are noted and count as "not accepted". */
  async exchange(purpose: string, protocol: TlsProtocol, request: HelloRequest, flight = true, decrypt = false): Promise<HelloOutcome | undefined> {
    const { signal, deadline } = this.options;
    const remaining = deadline - Date.now();
    if (remaining <= 0) throw new TargetTimeout(`TLS scan of ${this.endpoint.host}:${this.endpoint.port} ran out of time`);
    let out: HelloOutcome;
    try {
      out = await helloExchange(this.endpoint, request, {
        signal, timeoutMs: Math.min(this.options.helloTimeoutMs ?? 5000, remaining), flight, decrypt,
      });
    } catch (err) {
      if (isAbort(err, signal) || !this.sawTls || !(err instanceof TargetTimeout || err instanceof ProtocolViolation)) throw err;
      this.exchanges++;
      this.notes.push(`${purpose} (${protocol}): ${err.message}`);
      this.options.onExchange?.({ purpose, protocol, offered: request.suites.length, result: err instanceof TargetTimeout ? 'timeout' : 'not TLS', clientHello: '', serverResponse: '' });
      return undefined;
    }
    this.exchanges++;
    if (out.kind !== 'closed') this.sawTls = true;
    this.options.onExchange?.({
      purpose, protocol, offered: request.suites.length, result: describe(out),
      clientHello: out.sent.toString('hex'), serverResponse: out.received.toString('hex'),
    });
    return out;
  }

  request(protocol: TlsProtocol, suites: readonly number[], extra: Partial<HelloRequest> = {}): HelloRequest {
    const base = { signatureSchemes: SIGNATURE_SCHEMES, serverName: this.endpoint.serverName, statusRequest: true };
    if (protocol === 'TLSv1.3') {
      return { ...base, version: 0x0303, suites, supportedVersions: [0x0304], groups: TLS13_GROUPS, keyShares: this.shares, ...extra };
    }
    return {
      ...base, version: PROTOCOL_VERSION[protocol], suites: [...suites, TLS_EMPTY_RENEGOTIATION_INFO_SCSV], groups: EC_GROUPS,
      sessionId: Buffer.alloc(0), ...extra,
    };
  }
}

interface VersionResult {
  accepted: AcceptedSuite[];
  codes: number[];
  multiChunk: boolean;
  firstFlight?: HelloOutcome;
  renegotiationInfo?: boolean;
  extendedMasterSecret?: boolean;
}

function accepts(out: HelloOutcome | undefined, protocol: TlsProtocol, offered: readonly number[]): boolean {
  const sh = out?.kind === 'hello' ? out.serverHello : undefined;
  return sh !== undefined && sh.version === PROTOCOL_VERSION[protocol] && offered.includes(sh.suite);
}

function acceptedSuite(out: HelloOutcome): AcceptedSuite {
  const sh = out.serverHello!;
  const suite = suiteByCode(sh.suite);
  const base = { name: suiteName(sh.suite), code: suite?.code ?? `0x${sh.suite.toString(16).padStart(4, '0')}` };
  if (sh.version >= 0x0304) return sh.keyShareGroup !== undefined ? { ...base, group: groupName(sh.keyShareGroup) } : base;
  const kx = out.keyExchange;
  if (kx?.kind === 'ecdhe') return { ...base, group: groupName(kx.group) };
  if (kx?.kind === 'dhe') return { ...base, dhBits: kx.primeBits };
  if (kx?.kind === 'rsa' && suite?.flags.includes('EXPORT')) return { ...base, exportRsaBits: kx.modulusBits };
  return base;
}

/** Enumerates the suites one protocol version accepts. */
async function enumerateVersion(s: Scanner, protocol: TlsProtocol, chunkSize: number): Promise<VersionResult> {
  const candidates = suitesFor(protocol).map(suiteCode);
  const parts = chunks(candidates, chunkSize);
  const result: VersionResult = { accepted: [], codes: [], multiChunk: false };
  const chunkHits: number[] = [];
  for (const [i, chunk] of parts.entries()) {
    let remaining = [...chunk];
    let hits = 0;
    while (remaining.length > 0) {
      const out = await s.exchange(hits === 0 ? 'enumerate' : 'enumerate-next', protocol, s.request(protocol, remaining));
      if (!out || !accepts(out, protocol, remaining)) {
        // A server that does not speak this version says so on the first offer: no need to try other chunks.
        const versionRefused = out?.kind === 'alert' && out.alert?.description === 70;
        const otherVersion = out?.kind === 'hello' && out.serverHello?.version !== PROTOCOL_VERSION[protocol];
        if (i === 0 && hits === 0 && (versionRefused || otherVersion)) return result;
        break;
      }
      const sh = out.serverHello!;
      if (result.codes.length === 0) {
        result.firstFlight = out;
        const exts = new Set(sh.extensions.map((e) => e.type));
        result.renegotiationInfo = exts.has(ExtensionType.renegotiationInfo);
        result.extendedMasterSecret = exts.has(ExtensionType.extendedMasterSecret);
      }
      result.accepted.push(acceptedSuite(out));
      result.codes.push(sh.suite);
      remaining = remaining.filter((c) => c !== sh.suite);
      hits++;
    }
    chunkHits.push(hits);
  }
  result.multiChunk = chunkHits.filter((h) => h > 0).length > 1;
  return result;
}

/** Whether the server enforces its order; when it does and the suites came from several offers, re-sorts
 * them into the server's order (one exchange per suite). */
async function serverOrder(s: Scanner, protocol: TlsProtocol, v: VersionResult): Promise<boolean | null> {
  if (v.codes.length < 2) return null;
  let first = v.codes[0];
  if (v.multiChunk) {
    const out = await s.exchange('order-forward', protocol, s.request(protocol, v.codes));
    if (!accepts(out, protocol, v.codes)) return null;
    first = out!.serverHello!.suite;
  }
  const reversed = [...v.codes].reverse();
  const out = await s.exchange('order-reverse', protocol, s.request(protocol, reversed));
  if (!accepts(out, protocol, reversed)) return null;
  const enforced = out!.serverHello!.suite === first;
  if (enforced && v.multiChunk) {
    const order: number[] = [];
    let remaining = [...v.codes];
    while (remaining.length > 1) {
      const next = await s.exchange('order-sort', protocol, s.request(protocol, remaining));
      if (!accepts(next, protocol, remaining)) break;
      order.push(next!.serverHello!.suite);
      remaining = remaining.filter((c) => c !== next!.serverHello!.suite);
    }
    order.push(...remaining);
    if (order.length === v.codes.length) {
      const byCode = new Map(v.codes.map((c, i) => [c, v.accepted[i]]));
      v.codes = order;
      v.accepted = order.map((c) => byCode.get(c)!);
    }
  }
  return enforced;
}

/** TLS 1.3 groups: an empty key_share makes the server name its choice in a HelloRetryRequest. */
async function groups13(s: Scanner, suites: readonly number[]): Promise<string[]> {
  let remaining = [...TLS13_GROUPS];
  const found: string[] = [];
  while (remaining.length > 0) {
    const out = await s.exchange('groups', 'TLSv1.3', s.request('TLSv1.3', suites, { groups: remaining, keyShares: [] }));
    const g = out?.kind === 'hello' && out.serverHello?.version === 0x0304 ? out.serverHello.keyShareGroup : undefined;
    if (g === undefined || !remaining.includes(g)) break;
    found.push(groupName(g));
    remaining = remaining.filter((x) => x !== g);
  }
  return found;
}

/** ECDHE curves of TLS ≤ 1.2, read from the ServerKeyExchange. */
async function groupsEcdhe(s: Scanner, protocol: TlsProtocol, suites: readonly number[]): Promise<string[]> {
  let remaining = [...EC_GROUPS];
  const found: string[] = [];
  while (remaining.length > 0) {
    const out = await s.exchange('groups', protocol, s.request(protocol, suites, { groups: remaining }));
    const kx = out?.kind === 'hello' ? out.keyExchange : undefined;
    if (kx?.kind !== 'ecdhe' || !remaining.includes(kx.group)) break;
    found.push(groupName(kx.group));
    remaining = remaining.filter((x) => x !== kx.group);
  }
  return found;
}

/** Full TLS 1.3 flight (decrypted) for the chain as sent and a CertificateRequest. */
async function flight13(s: Scanner, suites: readonly number[], group?: number): Promise<HelloOutcome | undefined> {
  const decryptable = suites.filter(canDecrypt);
  if (decryptable.length === 0) return undefined;
  const extra = group !== undefined ? { keyShares: [makeKeyShare(group)] } : {};
  const out = await s.exchange('certificate', 'TLSv1.3', s.request('TLSv1.3', decryptable, extra), true, true);
  const sh = out?.kind === 'hello' ? out.serverHello : undefined;
  // A HelloRetryRequest names the group the server wants: ask again with a share of it, if we can make one.
  if (sh?.helloRetryRequest && group === undefined && sh.keyShareGroup !== undefined && canMakeKeyShare(sh.keyShareGroup)) {
    return flight13(s, suites, sh.keyShareGroup);
  }
  return out;
}

/** Scans one TLS endpoint. Throws the typed errors of src/sdk when the peer does not speak TLS at all. */
export async function scanTls(endpoint: TlsEndpoint, options: ScanOptions): Promise<TlsScanResult> {
  const s = new Scanner(endpoint, options);
  const chunkSize = options.chunkSize ?? 128;
  const wanted = new Set(options.protocols ?? PROTOCOLS);
  const versions = new Map<TlsProtocol, VersionResult>();
  let closedEverywhere = true;
  for (const protocol of PROBE_ORDER) {
    if (!wanted.has(protocol)) continue;
    const v = await enumerateVersion(s, protocol, chunkSize);
    if (s.sawTls) closedEverywhere = false;
    if (v.codes.length > 0) versions.set(protocol, v);
  }
  if (closedEverywhere) {
    throw new ProtocolViolation(`${endpoint.host}:${endpoint.port} closed the connection on every ClientHello without a TLS answer`);
  }

  const protocols = Object.fromEntries(PROTOCOLS.map((p) => [p, versions.has(p)])) as Record<TlsProtocol, boolean>;
  const serverOrderResult: Partial<Record<TlsProtocol, boolean | null>> = {};
  for (const protocol of PROTOCOLS) {
    const v = versions.get(protocol);
    if (v) serverOrderResult[protocol] = await serverOrder(s, protocol, v);
  }

  const legacy = PROTOCOLS.filter((p) => p !== 'TLSv1.3' && versions.has(p));
  const best12 = legacy[legacy.length - 1];
  const groups: TlsScanResult['groups'] = {};
  const v13 = versions.get('TLSv1.3');
  if (v13) groups['TLSv1.3'] = await groups13(s, v13.codes);
  const ecdheHost = [...legacy].reverse().find((p) => versions.get(p)!.codes.some((c) => suiteByCode(c)?.kex.startsWith('ECDHE')));
  if (ecdheHost) {
    groups.ECDHE = await groupsEcdhe(s, ecdheHost, versions.get(ecdheHost)!.codes.filter((c) => suiteByCode(c)?.kex.startsWith('ECDHE')));
  }

  // TLS_FALLBACK_SCSV (RFC 7507): a hello below the best version, marked as a fallback, must be refused.
  let fallbackScsv: boolean | null = null;
  const accepted = PROTOCOLS.filter((p) => versions.has(p));
  const lower = [...legacy].reverse().find((p) => p !== accepted[accepted.length - 1]);
  if (accepted.length >= 2 && lower) {
    const codes = versions.get(lower)!.codes;
    const out = await s.exchange('fallback-scsv', lower, s.request(lower, [...codes, TLS_FALLBACK_SCSV]));
    if (out?.kind === 'alert' && out.alert?.description === 86) fallbackScsv = true;
    else if (out?.kind === 'hello') fallbackScsv = false;
  }

  // Compression (CRIME): offer DEFLATE before null at the best pre-1.3 version.
  let compression: boolean | null = null;
  if (best12) {
    const out = await s.exchange('compression', best12, s.request(best12, versions.get(best12)!.codes, { compression: [1, 0] }), false);
    if (out?.kind === 'hello' && out.serverHello) compression = out.serverHello.compression !== 0;
  }

  // The certificate chain and CertificateRequest as sent: TLS 1.3 (decrypted) first, else the best older flight.
  let clientCertificate: ClientCertificateRequest = { requested: null, authorities: [] };
  let certificates: TlsScanResult['certificates'] = null;
  let ocspStapling: boolean | null = null;
  const f13 = v13 ? await flight13(s, v13.codes) : undefined;
  if (f13?.certificates || f13?.certificateRequest !== undefined) {
    if (f13.certificates) certificates = { protocol: 'TLSv1.3', chain: f13.certificates };
    if (f13.certificateRequest !== undefined) {
      clientCertificate = {
        requested: f13.certificateRequest !== null, protocol: 'TLSv1.3',
        authorities: (f13.certificateRequest?.authorities ?? []).map(dnToString),
      };
    }
  }
  const flight12 = best12 ? versions.get(best12)!.firstFlight : undefined;
  if (flight12) {
    if (!certificates && flight12.certificates) certificates = { protocol: best12!, chain: flight12.certificates };
    if (clientCertificate.requested === null && flight12.certificateRequest !== undefined) {
      clientCertificate = {
        requested: flight12.certificateRequest !== null, protocol: best12,
        authorities: (flight12.certificateRequest?.authorities ?? []).map(dnToString),
      };
    }
    if (flight12.certificateRequest !== undefined) ocspStapling = flight12.ocspStapled === true;
  }

  const ordered = PROTOCOLS.filter((p) => versions.has(p)).map((p) => [p, versions.get(p)!] as const);
  const all = ordered.flatMap(([, v]) => v.codes);
  const fs = all.filter((c) => suiteByCode(c)?.flags.includes('FS')).length;
  const dh = [...versions.values()].flatMap((v) => v.accepted).flatMap((a) => (a.dhBits ? [a.dhBits] : []));
  return {
    protocols,
    ciphers: Object.fromEntries(ordered.map(([p, v]) => [p, v.accepted.map((a) => a.name)])),
    suites: Object.fromEntries(ordered.map(([p, v]) => [p, v.accepted])),
    serverOrder: serverOrderResult,
    groups,
    minDhBits: dh.length ? Math.min(...dh) : null,
    forwardSecrecy: all.length === 0 ? null : fs === all.length ? 'all' : fs === 0 ? 'none' : 'some',
    fallbackScsv,
    secureRenegotiation: best12 ? versions.get(best12)!.renegotiationInfo ?? null : null,
    extendedMasterSecret: best12 ? versions.get(best12)!.extendedMasterSecret ?? null : null,
    compression,
    ocspStapling,
    clientCertificate,
    certificates,
    notes: s.notes,
    exchanges: s.exchanges,
  };
}

/** Names of the groups in NAMED_GROUPS (for documentation and tests). */
export const KNOWN_GROUPS = NAMED_GROUPS.map((g) => g.name);

/** What a client that offers everything would get: strongest suites first (the order real clients use). */
function clientPreference(codes: readonly number[]): number[] {
  const score = (code: number) => {
    const f = suiteByCode(code)?.flags ?? [];
    const kex = suiteByCode(code)?.kex ?? '';
    return (f.includes('FS') ? 0 : 4) + (f.includes('AEAD') ? 0 : 2) + (kex.startsWith('ECDHE') ? 0 : 1)
      + (['NULL', 'EXPORT', 'anon', 'RC4', 'DES', 'RC2', 'PSK', 'SRP', 'KRB5'].some((x) => f.includes(x as never)) ? 8 : 0);
  };
  return [...codes].sort((a, b) => score(a) - score(b));
}

export interface ServerInspection {
  /** Protocol of the flight that was read; null when no version answered with a ServerHello. */
  readonly protocol: TlsProtocol | null;
  readonly suite?: string;
  /** Certificate chain exactly as sent (DER, leaf first); null when it could not be read. */
  readonly certificates: readonly Buffer[] | null;
  readonly clientCertificate: ClientCertificateRequest;
  /** DER names of the acceptable CAs the server listed (to name the same CA in a test certificate). */
  readonly authoritiesDer: readonly Buffer[];
  readonly exchanges: number;
  readonly notes: readonly string[];
}

/**
 * Reads one server flight at the best version the server speaks (TLS 1.3 decrypted, else 1.2 down to
 * SSLv3): the certificate chain as sent and whether a client certificate is requested, in a few exchanges.
 */
export async function inspectServer(endpoint: TlsEndpoint, options: Omit<ScanOptions, 'chunkSize' | 'protocols'>): Promise<ServerInspection> {
  const s = new Scanner(endpoint, options);
  const seen = (protocol: TlsProtocol, out: HelloOutcome): ServerInspection => ({
    protocol,
    suite: out.serverHello ? suiteName(out.serverHello.suite) : undefined,
    certificates: out.certificates ?? null,
    clientCertificate: out.certificateRequest === undefined
      ? { requested: null, authorities: [] }
      : { requested: out.certificateRequest !== null, protocol, authorities: (out.certificateRequest?.authorities ?? []).map(dnToString) },
    authoritiesDer: out.certificateRequest?.authorities ?? [],
    exchanges: s.exchanges,
    notes: s.notes,
  });
  const f13 = await flight13(s, suitesFor('TLSv1.3').map(suiteCode));
  if (f13?.kind === 'hello' && f13.serverHello?.version === 0x0304) return seen('TLSv1.3', f13);
  for (const protocol of ['TLSv1.2', 'TLSv1.1', 'TLSv1', 'SSLv3'] as const) {
    for (const chunk of chunks(clientPreference(suitesFor(protocol).map(suiteCode)), 128)) {
      const out = await s.exchange('inspect', protocol, s.request(protocol, chunk));
      if (accepts(out, protocol, chunk)) return seen(protocol, out!);
      if (out?.kind === 'alert' && out.alert?.description === 70) break;
      if (out?.kind === 'hello') break;
    }
  }
  if (!s.sawTls) throw new ProtocolViolation(`${endpoint.host}:${endpoint.port} closed the connection on every ClientHello without a TLS answer`);
  return { protocol: null, certificates: null, clientCertificate: { requested: null, authorities: [] }, authoritiesDer: [], exchanges: s.exchanges, notes: s.notes };
}
