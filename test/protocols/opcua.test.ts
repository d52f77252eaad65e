import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { InvalidInput, MissingInput, TargetTimeout } from '../../src/sdk';
import {
  describeCertificate, endpointPath, firstCertificate, harnessIdentity, identityFromFiles, isOpcuaStatusError, makeApplicationCertificate,
  policyShortName, targetUrl, toProbeError, withOpcuaClient, type OpcuaStage, channelFor, discoverEndpoints, throwawayIdentity,
} from '../../src/protocols/opcua';
import { enterScope } from '../../src/protocols/scope';
import { stallServer } from '../../fixtures/servers';
import { handleSnapshot } from '../helpers/leaks';
import { startOpcua } from '../helpers/opcua';

describe('protocols/opcua adapter', function () {
  this.timeout(30_000);

  it('connects to the declared host and port with the advertised resource path only', () => {
    expect(targetUrl({ host: '127.0.0.1', port: 4840 }, endpointPath('opc.tcp://plc.example.invalid:4841/UA/Server'))).to.equal('opc.tcp://127.0.0.1:4840/UA/Server');
    expect(targetUrl({ host: '::1', port: 4840 }, endpointPath('opc.tcp://[fe80::1]:4840'))).to.equal('opc.tcp://[::1]:4840');
    expect(endpointPath('opc.tcp://plc:4840/')).to.equal('');
    expect(policyShortName('http://opcfoundation.org/UA/SecurityPolicy#Aes256_Sha256_RsaPss')).to.equal('Aes256_Sha256_RsaPss');
    expect(policyShortName(null)).to.equal(null);
  });

  it('maps what node-opcua throws onto the typed errors', () => {
    const url = 'opc.tcp://127.0.0.1:4840';
    const map = (message: string, stage: OpcuaStage = 'channel', extra: object = {}) => {
      const e = toProbeError(Object.assign(new Error(message), extra), stage, url);
      return isOpcuaStatusError(e) ? `${e.name}:${e.stage}:${e.status}` : e.name;
    };
    expect(map('connect ECONNREFUSED 127.0.0.1:4840')).to.equal('TargetUnreachable');
    expect(map('Timeout(A) in waiting for data on socket(timeout was = 1500 ms)')).to.equal('TargetTimeout');
    expect(map('ERROR in waiting for data on socket(timeout was = 1500 ms) hadErrortrue ')).to.equal('ProtocolViolation');
    expect(map('rejected', 'channel', { statusCode: { name: 'BadSecurityChecksFailed' } })).to.equal('OpcuaStatusError:channel:BadSecurityChecksFailed');
    expect(map('ERR received: BadCertificateUntrusted (0x801a0000)')).to.equal('OpcuaStatusError:channel:BadCertificateUntrusted');
    expect(map('BadTcpMessageTypeInvalid')).to.equal('ProtocolViolation');
    // A hang-up at the OpenSecureChannel is its own type, not a status: no probe may read it as a refusal unchecked.
    expect(map('socket has been disconnected by third party')).to.equal('OpcuaChannelClosed');
    expect(map('The connection may have been rejected by server, Err = (Connection Break)')).to.equal('OpcuaChannelClosed');
    expect(isOpcuaStatusError(toProbeError(new Error('read ECONNRESET'), 'channel', url))).to.equal(false);
    expect(map('read ECONNRESET', 'session')).to.equal('ProtocolViolation');
    expect(map('ERR received: BadTcpServerTooBusy (0x807d0000)')).to.equal('ProtocolViolation');
    expect(map('activate failed: BadUserAccessDenied (0x801f0000)', 'session')).to.equal('OpcuaStatusError:session:BadUserAccessDenied');
    expect(map('x', 'read', { statusCode: { name: 'BadTimeout' } })).to.equal('TargetTimeout');
  });

  it('describes certificates: key, hash, validity, self-signed, ApplicationUri, also from a chain', () => {
    const pair = makeApplicationCertificate({ applicationUri: 'urn:test:x', commonName: 'x', keyBits: 1024, hash: 'sha1' });
    const chain = Buffer.concat([pair.certificate, makeApplicationCertificate({ applicationUri: 'urn:test:ca', commonName: 'ca' }).certificate]);
    expect(firstCertificate(chain).equals(pair.certificate)).to.equal(true);
    expect(describeCertificate(chain)).to.deep.include({
      keyType: 'RSA', keyBits: 1024, signatureAlgorithm: 'sha1WithRSAEncryption', signatureHash: 'sha1', selfSigned: true, applicationUri: 'urn:test:x',
    });
  });

  it('keeps the harness client PKI in the temp folder, made once per process', () => {
    const a = harnessIdentity();
    expect(harnessIdentity()).to.equal(a);
    const folders = fs.readdirSync(os.tmpdir()).filter((f) => f.startsWith(`iacs-probe-opcua-${process.pid}-`));
    expect(folders).to.have.length(1);
    const pem = fs.readFileSync(path.join(os.tmpdir(), folders[0], 'own', 'certs', 'client_certificate.pem'), 'utf8');
    expect(pem).to.equal(a.certificatePem);
    expect(fs.existsSync(path.join(process.cwd(), 'PKI'))).to.equal(false);
  });

  it('a client certificate from the profile must come with its own unencrypted key', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-opcua-id-'));
    try {
      const a = makeApplicationCertificate({ applicationUri: 'urn:test:a', commonName: 'a' });
      const b = makeApplicationCertificate({ applicationUri: 'urn:test:b', commonName: 'b' });
      fs.writeFileSync(path.join(dir, 'a.pem'), a.certificatePem);
      fs.writeFileSync(path.join(dir, 'a.key'), a.privateKeyPem);
      fs.writeFileSync(path.join(dir, 'b.key'), b.privateKeyPem);
      expect(identityFromFiles(path.join(dir, 'a.pem'), path.join(dir, 'a.key'))).to.deep.include({ applicationUri: 'urn:test:a' });
      expect(() => identityFromFiles(path.join(dir, 'a.pem'), path.join(dir, 'b.key'))).to.throw(MissingInput, /does not belong/);
      // Read with the bounded reader of named files (test/integrity/named-files.test.ts): an input error naming the key.
      expect(() => identityFromFiles(path.join(dir, 'a.pem'), path.join(dir, 'missing.key'))).to.throw(InvalidInput, /OPC UA client private key \(clientPrivateKey\): .*file not found/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an abort while connecting to a hung server ends at once, before the operation timeout, leaving nothing behind', async () => {
    const handles = await handleSnapshot();
    const server = await stallServer();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(new TargetTimeout('test deadline')), 200);
    try {
      const err = await withOpcuaClient({ host: server.host, port: server.port }, { signal: controller.signal, timeoutMs: 20_000 }, () => Promise.resolve('connected'))
        .then(() => undefined, (e: Error) => e);
      expect(err).to.be.instanceOf(TargetTimeout);
    } finally {
      clearTimeout(timer);
      await server.close();
    }
    await handles.check();
  });

  it('an abort in the middle of a session breaks the connection; nothing keeps running afterwards', async () => {
    // The snapshot spans the device: the server keeps the orphaned session (and its timer) until the
    // device closes; a client that kept retrying would still hold a timer or socket after that.
    const handles = await handleSnapshot();
    const defaultPki = path.join(os.homedir(), '.config', 'node-opcua-default-nodejs');
    const hadDefaultPki = fs.existsSync(defaultPki);
    const device = await startOpcua('weak');
    try {
      const controller = new AbortController();
      const err = await withOpcuaClient({ host: '127.0.0.1', port: device.port }, { signal: controller.signal, timeoutMs: 20_000 }, (c) =>
        c.withSession({ type: 'anonymous' }, async (s) => {
          await s.read(['ns=1;s=Counter']);
          controller.abort(new TargetTimeout('test deadline'));
          return s.read(['ns=1;s=Counter']);
        })).then(() => undefined, (e: Error) => e);
      expect(err).to.be.instanceOf(TargetTimeout);
    } finally {
      await device.emulator.close();
    }
    await handles.check();
    // node-opcua's client makes a PKI under ~/.config unless it is given a certificate: we always give one.
    if (!hadDefaultPki) expect(fs.existsSync(defaultPki), defaultPki).to.equal(false);
  });

  it('a Basic128Rsa15 channel to a host *name* works inside the run\'s scope: the helper process gets the plan-time addresses', async () => {
    const device = await startOpcua('weak');
    const scope = enterScope(['localhost', '127.0.0.1']);
    try {
      const target = { host: 'localhost', port: device.port };
      const signal = new AbortController().signal;
      const legacy = (await discoverEndpoints(target, { signal })).find((e) => e.securityMode === 'SignAndEncrypt' && e.securityPolicy === 'Basic128Rsa15')!;
      const status = await withOpcuaClient(target, { signal, path: endpointPath(legacy.endpointUrl), security: channelFor(legacy, throwawayIdentity('fresh')) },
        (c) => c.withSession({ type: 'anonymous' }, async (s) => (await s.read(['ns=1;s=Counter']))[0].status));
      expect(status).to.equal('Good');
      expect(scope.violations).to.deep.equal([]);
    } finally {
      scope.release();
      await device.emulator.close();
    }
  });
});
