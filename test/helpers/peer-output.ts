/**
 * What third-party scanners print, read into our observation shapes, so tests and the benchmark compare
 * the same facts the same way ("the same work": equal lists, equal suite sets).
 */
import { suiteByCode } from '../../src/protocols/tls';

/** Our protocol names: nmap and sslscan say TLSv1.0, testssl says "TLS 1". */
const protocolName = (v: string) => (v === 'TLSv1.0' ? 'TLSv1' : v);

/** The SSH lists of `ssh-audit -j` (its JSON), in the server's order. */
export interface SshLists {
  banner: string;
  kex: string[];
  hostKey: string[];
  ciphers: string[];
  macs: string[];
  compression: string[];
  /** Host-key algorithm -> key size, where ssh-audit sized the key. */
  keySizes: Record<string, number>;
}

export function sshAuditLists(json: string): SshLists {
  const a = JSON.parse(json) as {
    banner: { raw: string }; kex: { algorithm: string }[]; key: { algorithm: string; keysize?: number }[];
    enc: string[]; mac: string[]; compression: string[];
  };
  return {
    banner: a.banner.raw, kex: a.kex.map((k) => k.algorithm), hostKey: a.key.map((k) => k.algorithm),
    ciphers: a.enc, macs: a.mac, compression: a.compression,
    keySizes: Object.fromEntries(a.key.filter((k) => k.keysize !== undefined).map((k) => [k.algorithm, k.keysize!])),
  };
}

/** The ssh2-enum-algos tables from nmap's XML output: table key -> list of names in order. */
export function nmapSshTables(xml: string): Record<string, string[]> {
  return nseTables(xml, 'ssh2-enum-algos');
}

/** "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" for every suite in a tls.protocols `ciphers` observation. */
export function ourTlsSuites(ciphers: Record<string, readonly string[] | undefined>): Set<string> {
  return new Set(Object.entries(ciphers).flatMap(([p, names]) => (names ?? []).map((n) => `${p} ${n}`)));
}

/** nmap's ssl-enum-ciphers XML: <table key="TLSv1.2"> ... <elem key="name">TLS_...</elem>. */
export function nmapTlsSuites(xml: string): Set<string> {
  const out = new Set<string>();
  let current = '';
  for (const m of xml.matchAll(/<table key="(SSLv3|TLSv1\.\d)">|<elem key="name">([^<]+)<\/elem>/g)) {
    if (m[1]) current = protocolName(m[1]);
    else if (current) out.add(`${current} ${m[2].replace(/^TLS_AKE_WITH_/, 'TLS_')}`); // nmap's draft-era TLS 1.3 names
  }
  return out;
}

/** sslscan --xml: <cipher status="accepted" sslversion="TLSv1.2" ... id="0xC030" .../>, names from our table by code. */
export function sslscanSuites(xml: string): Set<string> {
  const out = new Set<string>();
  for (const m of xml.matchAll(/<cipher status="(?:accepted|preferred)" sslversion="([^"]+)"[^>]*? id="0x([0-9a-fA-F]+)"/g)) {
    out.add(`${protocolName(m[1])} ${suiteByCode(Number.parseInt(m[2], 16))?.name ?? m[2]}`);
  }
  return out;
}

/** The protocol versions sslscan --xml reports enabled, in our names. */
export function sslscanProtocols(xml: string): Set<string> {
  return new Set([...xml.matchAll(/<protocol type="(ssl|tls)" version="([\d.]+)" enabled="1"/g)]
    .map((m) => (m[1] === 'ssl' ? `SSLv${m[2]}` : protocolName(`TLSv${m[2]}`))));
}

/**
 * testssl.sh -E (plain text, --color 0): a protocol heading ("TLS 1.2") followed by one line per accepted
 * suite that starts with its hex code (" xc030   ECDHE-RSA-AES256-GCM-SHA384 ..."); names from our table by code.
 */
export function testsslSuites(text: string): Set<string> {
  const out = new Set<string>();
  let current = '';
  for (const line of text.split('\n')) {
    const heading = /^(SSLv2|SSLv3|TLS 1(?:\.[0-3])?)\s*$/.exec(line);
    if (heading) {
      current = heading[1].startsWith('SSL') ? heading[1] : `TLSv${heading[1].slice(4)}`;
      continue;
    }
    const suite = /^\s+x([0-9a-f]{2,6})\s/.exec(line);
    if (suite && current) out.add(`${current} ${suiteByCode(Number.parseInt(suite[1], 16))?.name ?? suite[1]}`);
  }
  return out;
}

/** The elements of one NSE script's table in nmap's XML, by table key (the whole script when no tables). */
function nseTables(xml: string, script: string): Record<string, string[]> {
  const body = new RegExp(`<script id="${script}"[^]*?</script>`).exec(xml)?.[0] ?? '';
  const out: Record<string, string[]> = {};
  for (const m of body.matchAll(/<table key="([^"]+)">([^]*?)<\/table>/g)) out[m[1]] = [...m[2].matchAll(/<elem>([^<]*)<\/elem>/g)].map((e) => e[1]);
  return out;
}

/** nmap's SMB2 dialect keys -> our names. */
const SMB_DIALECTS: Record<string, string> = { 202: '2.0.2', 210: '2.1', 300: '3.0', 302: '3.0.2', 311: '3.1.1' };

/** smb-protocols: dialects in our names ("NT LM 0.12", "2.0.2" ... "3.1.1"). */
export function nmapSmbDialects(xml: string): string[] {
  return (nseTables(xml, 'smb-protocols').dialects ?? []).map((d) => (d.startsWith('NT LM 0.12') ? 'NT LM 0.12' : SMB_DIALECTS[d] ?? d));
}

/** smb2-security-mode: dialect (our name) -> whether nmap says signing is required. */
export function nmapSmbSigningRequired(xml: string): Record<string, boolean> {
  return Object.fromEntries(Object.entries(nseTables(xml, 'smb2-security-mode')).map(([k, v]) => [SMB_DIALECTS[k] ?? k, v.some((line) => /enabled and required/.test(line))]));
}

/** rdp-enum-encryption: the security-layer lines nmap marks SUCCESS ("Native RDP", "SSL", "CredSSP (NLA)", ...). */
export function nmapRdpSuccesses(xml: string): string[] {
  const output = /<script id="rdp-enum-encryption" output="([^"]*)"/.exec(xml)?.[1] ?? '';
  return [...output.replace(/&#xa;/g, '\n').matchAll(/^\s*([^:\n]+): SUCCESS$/gm)].map((m) => m[1].trim()).filter((n) => !/bit RC4|FIPS/.test(n)).sort();
}
