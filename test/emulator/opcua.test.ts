import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as net from 'node:net';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';
import {
  channelFor, describeCertificate, discoverEndpoints, identityFromFiles, isOpcuaStatusError, throwawayIdentity,
  pkcs1v15InProcess, withOpcuaClient, type ClientIdentity, type DiscoveredEndpoint, type OpcuaTarget, type UserIdentity,
} from '../../src/protocols/opcua';
import { packagePath } from '../../src/paths';
import { enterScope } from '../../src/protocols/scope';
import { handleSnapshot } from '../helpers/leaks';
import { opcuaPosture, startOpcua } from '../helpers/opcua';

const signal = new AbortController().signal;

/** Child processes of this one started with --security-revert (pid and command line, from /proc). */
function revertProcesses(): { pid: string; cmdline: string }[] {
  return fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).flatMap((pid) => {
    try {
      const ppid = Number(fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '').split(' ')[1]);
      if (ppid !== process.pid) return [];
      const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      return cmdline.includes('--security-revert') ? [{ pid, cmdline }] : [];
    } catch {
      return []; // ended meanwhile
    }
  });
}

/** One login on the emulated console: user name and password at its prompts, then hang up. */
function consoleLogin(port: number, username: string, password: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let step = 0;
    socket.setTimeout(5000, () => socket.destroy(new Error(`console: no prompt (${text})`)));
    socket.on('data', (d: Buffer) => {
      text += d.toString('latin1');
      if (step === 0 && /login: ?$|username: ?$/i.test(text)) { step = 1; socket.write(`${username}\r\n`); }
      else if (step === 1 && /password: ?$/i.test(text)) { step = 2; socket.write(`${password}\r\n`); }
      else if (step === 2 && /incorrect|denied|failed|locked|[>#$] ?$/i.test(text.slice(-80))) { socket.end(); resolve(text); }
    });
    socket.on('error', reject);
  });
}

function modesAndPolicies(endpoints: DiscoveredEndpoint[]): string[] {
  return endpoints.map((e) => `${e.securityMode}/${e.securityPolicy}`).sort();
}

async function session(target: OpcuaTarget, endpoint: DiscoveredEndpoint | undefined, who: UserIdentity, identity?: ClientIdentity): Promise<string> {
  const security = endpoint && endpoint.securityMode !== 'None' ? channelFor(endpoint, identity ?? throwawayIdentity('fresh')) : undefined;
  try {
    return await withOpcuaClient(target, { signal, security }, (c) => c.withSession(who, async (s) => (await s.read(['ns=1;s=Counter']))[0].status));
  } catch (err) {
    if (isOpcuaStatusError(err)) return `${err.stage}:${err.status}`;
    throw err;
  }
}

describe('emulator: OPC UA service (each posture knob as a real OPCUAClient sees it)', function () {
  this.timeout(60_000);
  let weak: { emulator: Emulator; port: number };
  let hardened: { emulator: Emulator; port: number };
  let custom: { emulator: Emulator; port: number };
  let weakEps: DiscoveredEndpoint[];
  let hardEps: DiscoveredEndpoint[];
  let customEps: DiscoveredEndpoint[];
  const t = (x: { port: number }): OpcuaTarget => ({ host: '127.0.0.1', port: x.port });

  before(async () => {
    [weak, hardened, custom] = await Promise.all([
      startOpcua('weak'),
      startOpcua('hardened'),
      // Hardened with single knobs flipped, to isolate them from the weak posture's other choices.
      startOpcua('hardened', {
        securityModes: ['None', 'SignAndEncrypt'], securityPolicies: ['None', 'Basic256Sha256'], advertisedHostname: 'plc.example.invalid',
        maxSessions: 1, maxConnectionsPerEndpoint: 2, lockout: { threshold: 2, durationSeconds: 60 }, counterPeriodMs: 50,
        acceptUnknownCertificates: true,
      }),
    ]);
    [weakEps, hardEps, customEps] = await Promise.all([t(weak), t(hardened), t(custom)].map((x) => discoverEndpoints(x, { signal })));
  });
  after(async () => {
    await Promise.all([weak, hardened, custom].map((x) => x?.emulator.close()));
  });

  it('securityPolicies x securityModes: the endpoints offered are exactly the posture\'s', () => {
    expect(modesAndPolicies(weakEps)).to.deep.equal([
      'None/None', 'Sign/Basic128Rsa15', 'Sign/Basic256Sha256', 'SignAndEncrypt/Basic128Rsa15', 'SignAndEncrypt/Basic256Sha256',
    ]);
    expect(modesAndPolicies(hardEps)).to.deep.equal([
      'Sign/Aes128_Sha256_RsaOaep', 'Sign/Basic256Sha256', 'SignAndEncrypt/Aes128_Sha256_RsaOaep', 'SignAndEncrypt/Basic256Sha256',
    ]);
    expect(modesAndPolicies(customEps)).to.deep.equal(['None/None', 'SignAndEncrypt/Basic256Sha256']);
  });

  it('allowAnonymous: on, an anonymous session activates and reads; off, no endpoint offers the token', async () => {
    expect(weakEps.every((e) => e.userTokens.includes('Anonymous'))).to.equal(true);
    expect(await session(t(weak), undefined, { type: 'anonymous' })).to.equal('Good');
    expect(hardEps.some((e) => e.userTokens.includes('Anonymous'))).to.equal(false);
    expect(customEps.some((e) => e.userTokens.includes('Anonymous'))).to.equal(false);
  });

  it('cleartextPasswordOnNone: on, the None endpoint takes an unencrypted UserName token (and logs in with it); off, every token is encrypted', async () => {
    const weakNone = weakEps.find((e) => e.securityMode === 'None')!;
    expect(weakNone.userTokenPolicies[0]).to.deep.include({ tokenType: 'UserName', securityPolicy: null, policyId: 'username_unsecure' });
    expect(await session(t(weak), undefined, { type: 'username', username: 'admin', password: 'admin' })).to.equal('Good');
    const customNone = customEps.find((e) => e.securityMode === 'None')!;
    const userPolicies = customNone.userTokenPolicies.filter((p) => p.tokenType === 'UserName');
    expect(userPolicies).to.not.be.empty;
    expect(userPolicies.every((p) => p.securityPolicy !== null && p.securityPolicy !== 'None')).to.equal(true);
  });

  it('acceptUnknownCertificates and trustedClientCertificates: unknown certificates pass on weak, only the commissioned one on hardened', async () => {
    const weakSecure = weakEps.find((e) => e.securityMode === 'SignAndEncrypt' && e.securityPolicy === 'Basic256Sha256')!;
    const hardSecure = hardEps.find((e) => e.securityMode === 'SignAndEncrypt' && e.securityPolicy === 'Basic256Sha256')!;
    expect(await session(t(weak), weakSecure, { type: 'anonymous' })).to.equal('Good');
    expect(await session(t(hardened), hardSecure, { type: 'username', username: 'operator', password: 'Op3rator!Bench-2026' }))
      .to.equal('channel:BadSecurityChecksFailed');
    const bench = identityFromFiles(packagePath('profiles/pki/bench-opcua-client.pem'), packagePath('profiles/pki/bench-opcua-client.key'));
    expect(await session(t(hardened), hardSecure, { type: 'username', username: 'operator', password: 'Op3rator!Bench-2026' }, bench)).to.equal('Good');
  });

  it('users come from the device accounts; a wrong password is refused; acceptAnyPassword breaks that', async () => {
    const hardSecure = hardEps.find((e) => e.securityMode === 'SignAndEncrypt')!;
    const bench = identityFromFiles(packagePath('profiles/pki/bench-opcua-client.pem'), packagePath('profiles/pki/bench-opcua-client.key'));
    expect(await session(t(hardened), hardSecure, { type: 'username', username: 'engineer', password: 'wrong' }, bench)).to.equal('session:BadUserAccessDenied');
    expect(await session(t(hardened), hardSecure, { type: 'username', username: 'engineer', password: 'Eng1neer!Bench-2026' }, bench)).to.equal('Good');
    const broken = await startOpcua('hardened', { acceptAnyPassword: true });
    try {
      const eps = await discoverEndpoints(t(broken), { signal });
      const secure = eps.find((e) => e.securityMode === 'SignAndEncrypt')!;
      expect(await session(t(broken), secure, { type: 'username', username: 'engineer', password: 'wrong' }, bench)).to.equal('Good');
      expect(await session(t(broken), secure, { type: 'username', username: 'nobody', password: 'wrong' }, bench)).to.equal('session:BadUserAccessDenied');
    } finally {
      await broken.emulator.close();
    }
  });

  it('lockout (section override): after 2 failures the right password is refused too', async () => {
    const secure = customEps.find((e) => e.securityMode === 'SignAndEncrypt')!;
    const op = (password: string) => session(t(custom), secure, { type: 'username', username: 'operator', password });
    expect(await op('bad-1')).to.equal('session:BadUserAccessDenied');
    expect(await op('bad-2')).to.equal('session:BadUserAccessDenied');
    expect(await op('Op3rator!Bench-2026')).to.equal('session:BadUserAccessDenied');
  });

  it('certificate: weak is RSA 1024 / SHA-1, hardened RSA 2048 / SHA-256, both carrying the ApplicationUri', () => {
    const w = describeCertificate(weakEps[0].serverCertificate!);
    const h = describeCertificate(hardEps[0].serverCertificate!);
    expect([w.keyBits, w.signatureHash, w.selfSigned]).to.deep.equal([1024, 'sha1', true]);
    expect([h.keyBits, h.signatureHash]).to.deep.equal([2048, 'sha256']);
    expect(h.applicationUri).to.equal(hardEps[0].server.applicationUri);
  });

  it('advertisedHostname: endpoints name another host, and a client that connects to the declared address works inside the scope guard', async () => {
    expect(customEps.every((e) => e.endpointUrl.startsWith('opc.tcp://plc.example.invalid:'))).to.equal(true);
    const scope = enterScope(['127.0.0.1']);
    try {
      const secure = customEps.find((e) => e.securityMode === 'SignAndEncrypt')!;
      expect(await session(t(custom), secure, { type: 'username', username: 'engineer', password: 'Eng1neer!Bench-2026' })).to.equal('Good');
      expect(scope.violations).to.deep.equal([]);
    } finally {
      scope.release();
    }
  });

  it('maxSessions and maxConnectionsPerEndpoint: the session and connection beyond the limit are refused', async () => {
    const secure = customEps.find((e) => e.securityMode === 'SignAndEncrypt')!;
    const who: UserIdentity = { type: 'username', username: 'engineer', password: 'Eng1neer!Bench-2026' };
    const inner = await withOpcuaClient(t(custom), { signal, security: channelFor(secure, throwawayIdentity('fresh')) }, (c) =>
      c.withSession(who, () => session(t(custom), secure, who)));
    expect(inner).to.equal('session:BadTooManySessions');
    // node-opcua makes room for a new channel by closing the oldest one that has no session.
    const crowd = (x: { port: number }) => withOpcuaClient(t(x), { signal }, async (first) => {
      await withOpcuaClient(t(x), { signal }, () => discoverEndpoints(t(x), { signal }));
      return first.getEndpoints().then(() => 'first still open', () => 'first closed');
    });
    expect(await crowd(custom)).to.equal('first closed');
    expect(await crowd(weak)).to.equal('first still open');
  });

  it('address space: BuildInfo from the identity, a running Counter, a writable TestSetpoint', async () => {
    const result = await withOpcuaClient(t(weak), { signal }, (c) => c.withSession({ type: 'anonymous' }, async (s) => {
      const [buildInfo, first] = await s.read(['i=2260', 'ns=1;s=Counter']); // ServerStatus.BuildInfo
      await new Promise((r) => setTimeout(r, 1100));
      const [second] = await s.read(['ns=1;s=Counter']);
      return { buildInfo: buildInfo.value ?? '', first: Number(first.value), second: Number(second.value), write: await s.writeReadRestore('ns=1;s=TestSetpoint') };
    }));
    expect(result.buildInfo).to.contain('Example Automation').and.to.contain('EPLC-1').and.to.contain('1.0.0');
    expect(result.second).to.be.greaterThan(result.first);
    expect(result.write).to.deep.include({ writeStatus: 'Good', changed: true, restored: true });
  });

  it('Basic128Rsa15: only that server runs in a helper process with --security-revert; the device-wide lockout still counts every interface', async () => {
    const before = revertProcesses().map((p) => p.pid);
    const posture = { ...loadPosture('weak'), lockout: { threshold: 2, durationSeconds: 60 } };
    posture.services = { opcua: posture.services.opcua, telnet: posture.services.telnet };
    const emu = await startEmulator(posture, { ephemeralPorts: true });
    try {
      const helpers = revertProcesses().filter((p) => !before.includes(p.pid));
      expect(helpers.map((p) => p.cmdline), 'one helper, the OPC UA server').to.have.length(1);
      expect(helpers[0].cmdline).to.match(/opcua-process/);
      expect(pkcs1v15InProcess()).to.equal(false);
      const target = { host: '127.0.0.1', port: emu.endpoint('opcua').port };
      const legacy = (await discoverEndpoints(target, { signal })).find((e) => e.securityMode === 'SignAndEncrypt' && e.securityPolicy === 'Basic128Rsa15')!;
      expect(await session(target, legacy, { type: 'anonymous' })).to.equal('Good');
      // Two wrong passwords on the console (this process's account store), then the right one over OPC UA
      // (answered by the helper, which asks this process): refused, the account is locked device-wide.
      const telnet = emu.endpoint('telnet');
      for (const password of ['bad-1', 'bad-2']) await consoleLogin(telnet.port, 'admin', password);
      expect(await session(target, legacy, { type: 'username', username: 'admin', password: 'admin' })).to.equal('session:BadUserAccessDenied');
    } finally {
      await emu.close();
    }
    expect(revertProcesses().filter((p) => !before.includes(p.pid)), 'the helper ends with the emulator').to.deep.equal([]);
  });

  it('close() leaves no socket or timer, and the PKI stays in the work folder', async () => {
    const handles = await handleSnapshot();
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-opcua-emu-'));
    const before = fs.readdirSync(process.cwd());
    const home = fs.existsSync(path.join(os.homedir(), '.config')) ? fs.readdirSync(path.join(os.homedir(), '.config')) : [];
    const emu = await startEmulator({ ...opcuaPosture('weak'), workDir }, { ephemeralPorts: true });
    const target = { host: '127.0.0.1', port: emu.endpoint('opcua').port };
    const eps = await discoverEndpoints(target, { signal });
    const secure = eps.find((e) => e.securityMode === 'SignAndEncrypt' && e.securityPolicy === 'Basic256Sha256')!;
    expect(await session(target, secure, { type: 'anonymous' })).to.equal('Good');
    await emu.close();
    await handles.check();
    expect(fs.readdirSync(workDir).some((f) => fs.existsSync(path.join(workDir, f, 'pki')))).to.equal(true);
    expect(fs.readdirSync(process.cwd())).to.deep.equal(before);
    expect(fs.existsSync(path.join(os.homedir(), '.config')) ? fs.readdirSync(path.join(os.homedir(), '.config')) : []).to.deep.equal(home);
    fs.rmSync(workDir, { recursive: true, force: true });
  });
});
