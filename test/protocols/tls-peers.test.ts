import { expect } from 'chai';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PROTOCOLS, scanTls, type TlsScanResult } from '../../src/protocols/tls';
import { weakOpensslServer, type OpensslServer } from '../helpers/openssl-server';
import { nmapTlsSuites, ourTlsSuites, sslscanProtocols, sslscanSuites } from '../helpers/peer-output';
import { findExecutable, requirePeer } from '../helpers/peers';

const run = promisify(execFile);

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
    const theirs = nmapTlsSuites(stdout);
    expect(theirs.size).to.be.greaterThan(50);
    expect([...ourTlsSuites(ours.ciphers)].sort()).to.deep.equal([...theirs].sort());
  });

  it('sslscan: the same protocols and the same suites per protocol', async function () {
    const sslscan = requirePeer(this, 'sslscan', findExecutable('sslscan'));
    const { stdout } = await run(sslscan, ['--no-colour', '--xml=-', `127.0.0.1:${server!.port}`], { timeout: 60_000, maxBuffer: 16 << 20 });
    expect([...sslscanProtocols(stdout)].sort()).to.deep.equal(PROTOCOLS.filter((p) => ours.protocols[p]).sort());
    expect([...ourTlsSuites(ours.ciphers)].sort()).to.deep.equal([...sslscanSuites(stdout)].sort());
  });
});
