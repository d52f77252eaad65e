/**
 * TLS server enumeration with raw hellos: which protocol versions the server accepts, which cipher suites
 * per version (offer a set, drop the suite the server chose, offer again: one round trip per accepted
 * suite plus one per failed offer), whether it enforces its own suite order, the key-exchange groups and
 * DH sizes it uses, TLS_FALLBACK_SCSV, secure renegotiation, compression, and the certificate chain and
 * CertificateRequest as sent (decrypting the TLS 1.3 flight to see them). Exchanges go through the Scanner
 * (scanner.ts), which retries what a slow or rate-limiting device leaves unanswered; whatever still stays
 * unanswered is named in `incomplete`, never counted as "not accepted".
 */
import { ProtocolViolation } from '../../sdk';
import type { HelloOutcome, TlsEndpoint } from './hello';
import { EC_GROUPS, Scanner, TLS13_GROUPS, type Answer, type NoAnswer, type ScanOptions } from './scanner';
import { PROTOCOLS, PROTOCOL_VERSION, TLS_FALLBACK_SCSV, suiteByCode, suiteCode, suiteName, suitesFor, type TlsProtocol } from './suites';
import { canDecrypt, canMakeKeyShare, makeKeyShare } from './tls13';
import { ExtensionType, groupName } from './wire';
import { dnToString } from '../x509';

export { HELLO_PACING_SCHEMA, helloPacing, type ExchangeRecord, type HelloPacing, type NoAnswer, type ScanOptions } from './scanner';

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

/** What a scan may fail to determine: a version (its support or its suite list) or one of the checks. */
export type ScanCheck =
  | TlsProtocol | `serverOrder.${TlsProtocol}` | 'groups.TLSv1.3' | 'groups.ECDHE' | 'fallbackScsv' | 'secureRenegotiation'
  | 'compression' | 'certificate';

export interface TlsScanResult {
  /** true: accepted; false: refused (or not tested); null: not determined, its offers stayed unanswered. */
  readonly protocols: Record<TlsProtocol, boolean | null>;
  /** Per version tested: true when its support and suite list are final (every offer was answered). */
  readonly complete: Partial<Record<TlsProtocol, boolean>>;
  /** What stayed undetermined, with why, e.g. { TLSv1: "support not determined: 2 of 2 suite offers unanswered
   * after 3 tries" }; empty when the scan is complete. */
  readonly incomplete: Partial<Record<ScanCheck, string>>;
  /** IANA names per accepted protocol, in server preference order when the server enforces one. */
  readonly ciphers: Partial<Record<TlsProtocol, string[]>>;
  readonly suites: Partial<Record<TlsProtocol, AcceptedSuite[]>>;
  /** true: the server picks by its own order; false: by the client's; null: fewer than two suites, or unknown. */
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
  /** Exchanges that needed retries, stayed unanswered, or were not sent, after the server had spoken TLS. */
  readonly notes: readonly string[];
  /** Hello exchanges sent, every try counted (one line each in the transcript). */
  readonly exchanges: number;
  /** Of those, tries that repeated a hello left unanswered. */
  readonly retries: number;
}

/** Order in which versions are probed: the likely one first, so a non-TLS peer is recognised at once. */
const PROBE_ORDER: readonly TlsProtocol[] = ['TLSv1.2', 'TLSv1.3', 'TLSv1.1', 'TLSv1', 'SSLv3'];

function chunks<T>(list: readonly T[], size: number): T[][] {
  const n = Math.max(1, Math.ceil(list.length / size));
  const per = Math.ceil(list.length / n);
  return Array.from({ length: n }, (_, i) => list.slice(i * per, (i + 1) * per)).filter((c) => c.length > 0);
}

interface VersionResult {
  accepted: AcceptedSuite[];
  codes: number[];
  multiChunk: boolean;
  firstFlight?: HelloOutcome;
  renegotiationInfo?: boolean;
  extendedMasterSecret?: boolean;
  /** Suite offers made, and those left without an answer (unanswered after every try, or not sent). */
  offers: number;
  lost: NoAnswer[];
  /** The server said it does not speak the version (alert protocol_version, or a ServerHello of another). */
  refused: boolean;
}

function accepts(out: Answer | undefined, protocol: TlsProtocol, offered: readonly number[]): boolean {
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

function addAccepted(result: VersionResult, out: HelloOutcome): number {
  const sh = out.serverHello!;
  if (result.codes.length === 0) {
    result.firstFlight = out;
    const exts = new Set(sh.extensions.map((e) => e.type));
    result.renegotiationInfo = exts.has(ExtensionType.renegotiationInfo);
    result.extendedMasterSecret = exts.has(ExtensionType.extendedMasterSecret);
  }
  result.accepted.push(acceptedSuite(out));
  result.codes.push(sh.suite);
  return sh.suite;
}

/** Enumerates the suites one protocol version accepts. */
async function enumerateVersion(s: Scanner, protocol: TlsProtocol, chunkSize: number): Promise<VersionResult> {
  const parts = chunks(suitesFor(protocol).map(suiteCode), chunkSize);
  const result: VersionResult = { accepted: [], codes: [], multiChunk: false, offers: 0, lost: [], refused: false };
  const chunkHits: number[] = [];
  for (const chunk of parts) {
    let remaining = [...chunk];
    let hits = 0;
    while (remaining.length > 0) {
      const out = await s.exchange(hits === 0 ? 'enumerate' : 'enumerate-next', protocol, s.request(protocol, remaining));
      result.offers++;
      if (out.kind === 'unanswered') {
        // The rest of this chunk stays unknown; later chunks may still be answered.
        result.lost.push(out);
        break;
      }
      if (!accepts(out, protocol, remaining)) {
        // A server that does not speak this version says so on its first answer: no need to try other chunks.
        const versionRefused = out.kind === 'alert' && out.alert?.description === 70;
        const otherVersion = out.kind === 'hello' && out.serverHello?.version !== PROTOCOL_VERSION[protocol];
        if (result.codes.length === 0 && (versionRefused || otherVersion)) {
          result.refused = true;
          return result;
        }
        break;
      }
      const chosen = addAccepted(result, out);
      remaining = remaining.filter((c) => c !== chosen);
      hits++;
    }
    chunkHits.push(hits);
  }
  result.multiChunk = chunkHits.filter((h) => h > 0).length > 1;
  return result;
}

function supportOf(v: VersionResult): boolean | null {
  if (v.codes.length > 0) return true;
  return v.refused || v.lost.length === 0 ? false : null;
}

/** "support not determined: 2 of 2 suite offers unanswered after 3 tries" */
function lostText(v: VersionResult): string {
  const what = v.codes.length > 0 ? `suite list incomplete (${v.codes.length} accepted so far)` : 'support not determined';
  const sent = v.lost.filter((l) => l.tries > 0);
  const notSent = v.lost.filter((l) => l.tries === 0);
  const parts: string[] = [];
  if (sent.length > 0) {
    const tries = [...new Set(sent.map((l) => l.tries))].sort().join(' or ');
    parts.push(`${sent.length} of ${v.offers} suite offers unanswered after ${tries} ${tries === '1' ? 'try' : 'tries'}`);
  }
  if (notSent.length > 0) parts.push(`${notSent.length} of ${v.offers} ${notSent[0].why}`);
  return `${what}: ${parts.join('; ')}`;
}

/** Whether the server enforces its order; when it does and the suites came from several offers, re-sorts
 * them into the server's order (one exchange per suite). */
async function serverOrder(s: Scanner, protocol: TlsProtocol, v: VersionResult): Promise<boolean | null> {
  if (v.codes.length < 2) return null;
  const lost = (out: NoAnswer, what: string) => {
    s.incomplete[`serverOrder.${protocol}`] = `${what}: ${out.why}`;
    return null;
  };
  let first = v.codes[0];
  if (v.multiChunk) {
    const out = await s.exchange('order-forward', protocol, s.request(protocol, v.codes));
    if (out.kind === 'unanswered') return lost(out, 'the forward offer');
    if (!accepts(out, protocol, v.codes)) return null;
    first = out.serverHello!.suite;
  }
  const reversed = [...v.codes].reverse();
  const out = await s.exchange('order-reverse', protocol, s.request(protocol, reversed));
  if (out.kind === 'unanswered') return lost(out, 'the reversed offer');
  if (!accepts(out, protocol, reversed)) return null;
  const enforced = out.serverHello!.suite === first;
  if (enforced && v.multiChunk) await sortByServer(s, protocol, v);
  return enforced;
}

async function sortByServer(s: Scanner, protocol: TlsProtocol, v: VersionResult): Promise<void> {
  const order: number[] = [];
  let remaining = [...v.codes];
  while (remaining.length > 1) {
    const next = await s.exchange('order-sort', protocol, s.request(protocol, remaining));
    if (next.kind === 'unanswered') s.incomplete[`serverOrder.${protocol}`] = `suites not sorted into the server's order: ${next.why}`;
    if (next.kind === 'unanswered' || !accepts(next, protocol, remaining)) break;
    order.push(next.serverHello!.suite);
    remaining = remaining.filter((c) => c !== next.serverHello!.suite);
  }
  order.push(...remaining);
  if (order.length === v.codes.length) {
    const byCode = new Map(v.codes.map((c, i) => [c, v.accepted[i]]));
    v.codes = order;
    v.accepted = order.map((c) => byCode.get(c)!);
  }
}

/** TLS 1.3 groups: an empty key_share makes the server name its choice in a HelloRetryRequest. */
async function groups13(s: Scanner, suites: readonly number[]): Promise<string[]> {
  let remaining = [...TLS13_GROUPS];
  const found: string[] = [];
  while (remaining.length > 0) {
    const out = await s.exchange('groups', 'TLSv1.3', s.request('TLSv1.3', suites, { groups: remaining, keyShares: [] }));
    if (out.kind === 'unanswered') {
      s.incomplete['groups.TLSv1.3'] = `${found.length} found, the offer of the other ${remaining.length} ${out.why}`;
      break;
    }
    const g = out.kind === 'hello' && out.serverHello?.version === 0x0304 ? out.serverHello.keyShareGroup : undefined;
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
    if (out.kind === 'unanswered') {
      s.incomplete['groups.ECDHE'] = `${found.length} found, the offer of the other ${remaining.length} (${protocol}) ${out.why}`;
      break;
    }
    const kx = out.kind === 'hello' ? out.keyExchange : undefined;
    if (kx?.kind !== 'ecdhe' || !remaining.includes(kx.group)) break;
    found.push(groupName(kx.group));
    remaining = remaining.filter((x) => x !== kx.group);
  }
  return found;
}

/** Full TLS 1.3 flight (decrypted) for the chain as sent and a CertificateRequest. */
async function flight13(s: Scanner, suites: readonly number[], group?: number): Promise<Answer | undefined> {
  const decryptable = suites.filter(canDecrypt);
  if (decryptable.length === 0) return undefined;
  const extra = group !== undefined ? { keyShares: [makeKeyShare(group)] } : {};
  const out = await s.exchange('certificate', 'TLSv1.3', s.request('TLSv1.3', decryptable, extra), true, true);
  const sh = out.kind === 'hello' ? out.serverHello : undefined;
  // A HelloRetryRequest names the group the server wants: ask again with a share of it, if we can make one.
  if (sh?.helloRetryRequest && group === undefined && sh.keyShareGroup !== undefined && canMakeKeyShare(sh.keyShareGroup)) {
    return flight13(s, suites, sh.keyShareGroup);
  }
  return out;
}

type Versions = Map<TlsProtocol, VersionResult>;

/** Every wanted version: the accepted ones with their suites, and support per version (null: undetermined). */
async function enumerateVersions(s: Scanner, endpoint: TlsEndpoint, options: ScanOptions): Promise<{ versions: Versions; protocols: TlsScanResult['protocols'] }> {
  const wanted = new Set(options.protocols ?? PROTOCOLS);
  const versions: Versions = new Map();
  const protocols = Object.fromEntries(PROTOCOLS.map((p) => [p, false])) as Record<TlsProtocol, boolean | null>;
  for (const protocol of PROBE_ORDER) {
    if (!wanted.has(protocol)) continue;
    const v = await enumerateVersion(s, protocol, options.chunkSize ?? 128);
    protocols[protocol] = supportOf(v);
    if (v.codes.length > 0) versions.set(protocol, v);
    if (!v.refused && v.lost.length > 0) s.incomplete[protocol] = lostText(v);
  }
  if (!s.sawTls) {
    throw new ProtocolViolation(`${endpoint.host}:${endpoint.port} closed the connection on every ClientHello without a TLS answer`);
  }
  return { versions, protocols };
}

const undetermined = (protocols: TlsScanResult['protocols'], among: readonly TlsProtocol[] = PROTOCOLS) => among.filter((p) => protocols[p] === null);
const LEGACY: readonly TlsProtocol[] = PROTOCOLS.filter((p) => p !== 'TLSv1.3');

/** TLS_FALLBACK_SCSV (RFC 7507): a hello below the best version, marked as a fallback, must be refused. */
async function fallbackScsv(s: Scanner, versions: Versions, protocols: TlsScanResult['protocols']): Promise<boolean | null> {
  const accepted = PROTOCOLS.filter((p) => versions.has(p));
  const lower = LEGACY.filter((p) => versions.has(p)).reverse().find((p) => p !== accepted[accepted.length - 1]);
  const unknown = undetermined(protocols);
  if (accepted.length < 2 || !lower) {
    if (unknown.length > 0) s.incomplete.fallbackScsv = `not tested: fewer than two versions known to be accepted while ${unknown.join(', ')} stayed undetermined`;
    return null;
  }
  const out = await s.exchange('fallback-scsv', lower, s.request(lower, [...versions.get(lower)!.codes, TLS_FALLBACK_SCSV]));
  if (out.kind === 'unanswered') {
    s.incomplete.fallbackScsv = `the ${lower} hello marked TLS_FALLBACK_SCSV ${out.why}`;
    return null;
  }
  if (out.kind === 'alert' && out.alert?.description === 86) return true;
  return out.kind === 'hello' ? false : null;
}

/** Compression (CRIME): offer DEFLATE before null at the best pre-1.3 version. */
async function compression(s: Scanner, best12: TlsProtocol | undefined, versions: Versions, protocols: TlsScanResult['protocols']): Promise<boolean | null> {
  if (!best12) {
    const unknown = undetermined(protocols, LEGACY);
    if (unknown.length > 0) s.incomplete.compression = `not tested: no version up to TLS 1.2 known to be accepted while ${unknown.join(', ')} stayed undetermined`;
    return null;
  }
  const out = await s.exchange('compression', best12, s.request(best12, versions.get(best12)!.codes, { compression: [1, 0] }), false);
  if (out.kind === 'unanswered') {
    s.incomplete.compression = `the ${best12} hello offering DEFLATE ${out.why}`;
    return null;
  }
  return out.kind === 'hello' && out.serverHello ? out.serverHello.compression !== 0 : null;
}

/** Key-exchange groups of TLS 1.3 and of the best version with ECDHE suites. */
async function keyGroups(s: Scanner, versions: Versions): Promise<TlsScanResult['groups']> {
  const groups: TlsScanResult['groups'] = {};
  const v13 = versions.get('TLSv1.3');
  if (v13) groups['TLSv1.3'] = await groups13(s, v13.codes);
  const ecdhe = (c: number) => suiteByCode(c)?.kex.startsWith('ECDHE') === true;
  const host = LEGACY.filter((p) => versions.has(p)).reverse().find((p) => versions.get(p)!.codes.some(ecdhe));
  if (host) groups.ECDHE = await groupsEcdhe(s, host, versions.get(host)!.codes.filter(ecdhe));
  return groups;
}

type Flights = Pick<TlsScanResult, 'certificates' | 'clientCertificate' | 'ocspStapling'>;

/** The certificate chain and CertificateRequest as sent: TLS 1.3 (decrypted) first, else the best older flight. */
async function flights(s: Scanner, versions: Versions, best12: TlsProtocol | undefined): Promise<Flights> {
  let clientCertificate: ClientCertificateRequest = { requested: null, authorities: [] };
  let certificates: TlsScanResult['certificates'] = null;
  let ocspStapling: boolean | null = null;
  const v13 = versions.get('TLSv1.3');
  const f13 = v13 ? await flight13(s, v13.codes) : undefined;
  if (f13?.kind === 'unanswered') s.incomplete.certificate = `the TLS 1.3 flight ${f13.why}${best12 ? `; the ${best12} flight is reported instead` : ''}`;
  if (f13?.kind === 'hello' && (f13.certificates || f13.certificateRequest !== undefined)) {
    if (f13.certificates) certificates = { protocol: 'TLSv1.3', chain: f13.certificates };
    if (f13.certificateRequest !== undefined) clientCertificate = requestOf(f13, 'TLSv1.3');
  }
  const flight12 = best12 ? versions.get(best12)!.firstFlight : undefined;
  if (flight12) {
    if (!certificates && flight12.certificates) certificates = { protocol: best12!, chain: flight12.certificates };
    if (clientCertificate.requested === null && flight12.certificateRequest !== undefined) clientCertificate = requestOf(flight12, best12!);
    if (flight12.certificateRequest !== undefined) ocspStapling = flight12.ocspStapled === true;
  }
  return { certificates, clientCertificate, ocspStapling };
}

function requestOf(out: HelloOutcome, protocol: TlsProtocol): ClientCertificateRequest {
  if (out.certificateRequest === undefined) return { requested: null, authorities: [] };
  return { requested: out.certificateRequest !== null, protocol, authorities: (out.certificateRequest?.authorities ?? []).map(dnToString) };
}

/** Scans one TLS endpoint. Throws the typed errors of src/sdk when the peer does not speak TLS at all. */
export async function scanTls(endpoint: TlsEndpoint, options: ScanOptions): Promise<TlsScanResult> {
  const s = new Scanner(endpoint, options);
  const { versions, protocols } = await enumerateVersions(s, endpoint, options);
  const serverOrderResult: Partial<Record<TlsProtocol, boolean | null>> = {};
  for (const [protocol, v] of PROTOCOLS.flatMap((p) => (versions.has(p) ? [[p, versions.get(p)!] as const] : []))) {
    serverOrderResult[protocol] = await serverOrder(s, protocol, v);
  }
  const best12 = LEGACY.filter((p) => versions.has(p)).pop();
  const groups = await keyGroups(s, versions);
  const fallback = await fallbackScsv(s, versions, protocols);
  const compressed = await compression(s, best12, versions, protocols);
  const flightsSeen = await flights(s, versions, best12);
  if (!best12 && undetermined(protocols, LEGACY).length > 0) {
    s.incomplete.secureRenegotiation = `not tested: no version up to TLS 1.2 known to be accepted while ${undetermined(protocols, LEGACY).join(', ')} stayed undetermined`;
  }

  const ordered = PROTOCOLS.filter((p) => versions.has(p)).map((p) => [p, versions.get(p)!] as const);
  const all = ordered.flatMap(([, v]) => v.codes);
  const fs = all.filter((c) => suiteByCode(c)?.flags.includes('FS')).length;
  const dh = [...versions.values()].flatMap((v) => v.accepted).flatMap((a) => (a.dhBits ? [a.dhBits] : []));
  const tested = PROBE_ORDER.filter((p) => (options.protocols ?? PROTOCOLS).includes(p));
  return {
    protocols,
    complete: Object.fromEntries(tested.map((p) => [p, s.incomplete[p] === undefined])),
    incomplete: { ...s.incomplete } as TlsScanResult['incomplete'],
    ciphers: Object.fromEntries(ordered.map(([p, v]) => [p, v.accepted.map((a) => a.name)])),
    suites: Object.fromEntries(ordered.map(([p, v]) => [p, v.accepted])),
    serverOrder: serverOrderResult,
    groups,
    minDhBits: dh.length ? Math.min(...dh) : null,
    forwardSecrecy: all.length === 0 ? null : fs === all.length ? 'all' : fs === 0 ? 'none' : 'some',
    fallbackScsv: fallback,
    secureRenegotiation: best12 ? versions.get(best12)!.renegotiationInfo ?? null : null,
    extendedMasterSecret: best12 ? versions.get(best12)!.extendedMasterSecret ?? null : null,
    compression: compressed,
    ...flightsSeen,
    notes: s.allNotes,
    exchanges: s.exchanges,
    retries: s.retries,
  };
}


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
  /** Hellos tried before the flight that was read that got no answer: a better version's flight may differ. */
  readonly unanswered: readonly string[];
  readonly exchanges: number;
  readonly notes: readonly string[];
}

/**
 * Reads one server flight at the best version the server speaks (TLS 1.3 decrypted, else 1.2 down to
 * SSLv3): the certificate chain as sent and whether a client certificate is requested, in a few exchanges.
 */
export async function inspectServer(endpoint: TlsEndpoint, options: Omit<ScanOptions, 'chunkSize' | 'protocols'>): Promise<ServerInspection> {
  const s = new Scanner(endpoint, options);
  const unanswered: string[] = [];
  const seen = (protocol: TlsProtocol, out: HelloOutcome): ServerInspection => ({
    protocol,
    suite: out.serverHello ? suiteName(out.serverHello.suite) : undefined,
    certificates: out.certificates ?? null,
    clientCertificate: requestOf(out, protocol),
    authoritiesDer: out.certificateRequest?.authorities ?? [],
    unanswered, exchanges: s.exchanges, notes: s.allNotes,
  });
  const f13 = await flight13(s, suitesFor('TLSv1.3').map(suiteCode));
  if (f13?.kind === 'unanswered') unanswered.push(`TLSv1.3 hello: ${f13.why}`);
  if (f13?.kind === 'hello' && f13.serverHello?.version === 0x0304) return seen('TLSv1.3', f13);
  for (const protocol of ['TLSv1.2', 'TLSv1.1', 'TLSv1', 'SSLv3'] as const) {
    for (const chunk of chunks(clientPreference(suitesFor(protocol).map(suiteCode)), 128)) {
      const out = await s.exchange('inspect', protocol, s.request(protocol, chunk));
      if (out.kind === 'unanswered') {
        unanswered.push(`${protocol} hello: ${out.why}`);
        continue;
      }
      if (accepts(out, protocol, chunk)) return seen(protocol, out);
      if (out.kind === 'alert' && out.alert?.description === 70) break;
      if (out.kind === 'hello') break;
    }
  }
  if (!s.sawTls) throw new ProtocolViolation(`${endpoint.host}:${endpoint.port} closed the connection on every ClientHello without a TLS answer`);
  return {
    protocol: null, certificates: null, clientCertificate: { requested: null, authorities: [] }, authoritiesDer: [],
    unanswered, exchanges: s.exchanges, notes: s.allNotes,
  };
}
