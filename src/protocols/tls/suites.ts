import table from './cipher-suites.json';

/** Protocol versions by the names the observations use (ARCHITECTURE.md `tls.*`). */
export const PROTOCOLS = ['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsProtocol = (typeof PROTOCOLS)[number];

/** Wire version numbers (ProtocolVersion) of each protocol. */
export const PROTOCOL_VERSION: Readonly<Record<TlsProtocol, number>> = {
  SSLv3: 0x0300, TLSv1: 0x0301, 'TLSv1.1': 0x0302, 'TLSv1.2': 0x0303, 'TLSv1.3': 0x0304,
};

export const SUITE_FLAGS = [
  'NULL', 'EXPORT', 'anon', 'RC4', 'RC2', 'DES', '3DES', 'IDEA', 'CBC', 'AEAD', 'MD5', 'SHA1', 'FS', 'PSK', 'SRP',
  'KRB5', 'SCSV', 'non-IANA',
] as const;
export type SuiteFlag = (typeof SUITE_FLAGS)[number];

/** One row of cipher-suites.json: what a two-byte cipher suite code means. */
export interface CipherSuite {
  /** "0xC02F" */
  readonly code: string;
  /** IANA name (or the conventional name of a non-IANA code). */
  readonly name: string;
  /** OpenSSL's name, where OpenSSL knows the suite (sslscan prints these). */
  readonly openssl?: string;
  /** Key exchange: RSA, DH, DHE, ECDH, ECDHE, PSK, DHE_PSK, RSA_PSK, ECDHE_PSK, SRP, KRB5, NULL; "any" for TLS 1.3. */
  readonly kex: string;
  /** Server authentication: RSA, DSS, ECDSA, PSK, SRP, KRB5, anon, NULL; "any" for TLS 1.3. */
  readonly auth: string;
  /** Bulk cipher and mode as in the IANA name, e.g. AES_128_GCM, 3DES_EDE_CBC, NULL. */
  readonly enc: string;
  /** Nominal key bits of the bulk cipher (3DES: 112, its effective strength). */
  readonly encBits: number;
  /** Record MAC: MD5, SHA1, SHA256, SHA384, AEAD, NULL. */
  readonly mac: string;
  /** Lowest version that may negotiate it: SSLv3 (any pre-1.2 suite), TLSv1.2, or TLSv1.3. */
  readonly since: 'SSLv3' | 'TLSv1.2' | 'TLSv1.3';
  readonly flags: readonly SuiteFlag[];
}

interface SuiteTable {
  readonly description: string;
  readonly sources: readonly string[];
  readonly flags: Readonly<Record<string, string>>;
  readonly suites: readonly CipherSuite[];
}

export const SUITE_TABLE = table as SuiteTable;
export const CIPHER_SUITES: readonly CipherSuite[] = SUITE_TABLE.suites;

const byCode = new Map<number, CipherSuite>(CIPHER_SUITES.map((s) => [Number.parseInt(s.code, 16), s]));
const byName = new Map<string, CipherSuite>(CIPHER_SUITES.map((s) => [s.name, s]));

export function suiteByCode(code: number): CipherSuite | undefined {
  return byCode.get(code);
}

export function suiteByName(name: string): CipherSuite | undefined {
  return byName.get(name);
}

export function suiteCode(suite: CipherSuite): number {
  return Number.parseInt(suite.code, 16);
}

/** The name to report for a code, "0xXXXX" when the table does not know it. */
export function suiteName(code: number): string {
  return byCode.get(code)?.name ?? `0x${code.toString(16).toUpperCase().padStart(4, '0')}`;
}

export const TLS_EMPTY_RENEGOTIATION_INFO_SCSV = 0x00ff;
export const TLS_FALLBACK_SCSV = 0x5600;

/** Suites a client may offer at a protocol version (signalling values excluded). */
export function suitesFor(protocol: TlsProtocol): CipherSuite[] {
  return CIPHER_SUITES.filter((s) => {
    if (s.flags.includes('SCSV')) return false;
    if (protocol === 'TLSv1.3') return s.since === 'TLSv1.3';
    if (s.since === 'TLSv1.3') return false;
    return protocol === 'TLSv1.2' || s.since === 'SSLv3';
  });
}
