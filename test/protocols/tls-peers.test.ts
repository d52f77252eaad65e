import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROTOCOLS, scanTls, suiteByCode, type TlsScanResult } from '../../src/protocols/tls';
import { weakOpensslServer, type OpensslServer } from '../helpers/openssl-server';
import { findExecutable, requirePeer } from '../helpers/peers';

const run = promisify(execFile);
const proto = (v: string) => (v === 'TLSv1.0' ? 'TLSv1' : v);

/** "TLSv1.2 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" for every accepted suite. */
function ourSet(r: TlsScanResult): Set<string> {
  return new Set(PROTOCOLS.flatMap((p) => (r.ciphers[p] ?? []).map((n) => `${p} ${n}`)));
}

/** nmap's ssl-enum-ciphers XML: <table key="TLSv1.2"> ... <elem key="name">TLS_...</elem>. */
function nmapSet(xml: string): Set<string> {
  const out = new Set<string>();
  let current = '';
  for (const m of xml.matchAll(/<table key="(SSLv3|TLSv1\.\d)">|<elem key="name">([^<]+)<\/elem>/g)) {
    if (m[1]) current = proto(m[1]);
    else if (current) out.add(`${current} ${m[2].replace(/^TLS_AKE_WITH_/, 'TLS_')}`); // nmap's draft-era TLS 1.3 names
  }
  return out;
}

/** sslscan --xml: <cipher status="accepted" sslversion="TLSv1.2" ... id="0xC030" .../>, names from our table by code. */
function sslscanSet(xml: string): Set<string> {
  const out = new Set<string>();
  for (const m of xml.matchAll(/<cipher status="(?:accepted|preferred)" sslversion="([^"]+)"[^>]*? id="0x([0-9a-fA-F]+)"/g)) {
    const code = Number.parseInt(m[2], 16);
    out.add(`${proto(m[1])} ${suiteByCode(code)?.name ?? m[2]}`);
  }
  return out;
}

describe('TLS enumeration equals nmap ssl-enum-ciphers and sslscan on the same openssl s_server', function () {
  this.timeout(60_000);
  let server: OpensslServer | undefined;
  let ours: TlsScanResult;
  before(async function () {
    server = await weakOpensslServer(requirePeer(this, 'openssl', findExecutable('openssl')));
    ours = await scanTls({ host: server.host, port: server.port }, { signal: new AbortController().signal, deadline: Date.now() + 30_000 });
  });
  after(async () => {
    await server?.close();
  });

  it('nmap: the same protocols and the same suites per protocol', async function () {
    const nmap = requirePeer(this, 'nmap', findExecutable('nmap'));
    const { stdout } = await run(nmap, ['-Pn', '-n', '-p', String(server!.port), '--script', 'ssl-enum-ciphers', '127.0.0.1', '-oX', '-'], { timeout: 60_000, maxBuffer: 16 << 20 });
    const theirs = nmapSet(stdout);
    expect(theirs.size).to.be.greaterThan(50);
    expect([...ourSet(ours)].sort()).to.deep.equal([...theirs].sort());
  });

  it('sslscan: the same protocols and the same suites per protocol', async function () {
    const sslscan = requirePeer(this, 'sslscan', findExecutable('sslscan'));
    const { stdout } = await run(sslscan, ['--no-colour', '--xml=-', `127.0.0.1:${server!.port}`], { timeout: 60_000, maxBuffer: 16 << 20 });
    const enabled = new Set([...stdout.matchAll(/<protocol type="(ssl|tls)" version="([\d.]+)" enabled="1"/g)].map((m) => (m[1] === 'ssl' ? `SSLv${m[2]}` : proto(`TLSv${m[2]}`))));
    expect([...enabled].sort()).to.deep.equal(PROTOCOLS.filter((p) => ours.protocols[p]).sort());
    expect([...ourSet(ours)].sort()).to.deep.equal([...sslscanSet(stdout)].sort());
  });
});
