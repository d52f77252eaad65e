import { expect } from 'chai';
import anonymous from '../../../probes/opcua/anonymous';
import clientCertificate from '../../../probes/opcua/client-certificate';
import endpoints from '../../../probes/opcua/endpoints';
import userLogin from '../../../probes/opcua/user-login';
import { startSampleServer } from '../../helpers/opcua';
import { runProbe } from '../../helpers/probe-harness';

/**
 * Against a server that is not ours: node-opcua's own sample server (node-opcua-samples simple_server,
 * its address space, its users user1/password1 and user2/password2, its default policies and its own
 * certificate), run as a separate process. It advertises the machine's host name, which the probes
 * must not follow.
 */
describe('OPC UA probes against node-opcua-samples simple_server (third-party peer)', function () {
  this.timeout(90_000);
  let server: { port: number; close(): Promise<void> } | undefined;
  before(async function () {
    server = await startSampleServer(this);
  });
  after(async () => {
    await server?.close();
  });
  const service = () => ({ port: server!.port, protocol: 'opcua' as const });

  it('opcua.endpoints reads its endpoints from the declared address and judges its defaults', async () => {
    const { attempt } = await runProbe(endpoints, { service: service() });
    expect(attempt.status).to.equal('fail');
    const eps = attempt.observations.endpoints as { securityMode: string; securityPolicy: string; endpointUrl: string }[];
    // node-opcua's defaults: None plus Basic256Sha256 / Aes128_Sha256_RsaOaep / Aes256_Sha256_RsaPss in Sign and SignAndEncrypt.
    expect(eps.map((e) => `${e.securityMode}/${e.securityPolicy}`)).to.include.members(['None/None', 'SignAndEncrypt/Aes256_Sha256_RsaPss']);
    expect(attempt.findings.map((f) => f.code)).to.include.members(['opcua.endpoints.security-mode-none', 'opcua.endpoints.anonymous-offered']);
    expect(attempt.findings.map((f) => f.code)).to.not.include('opcua.endpoints.deprecated-policy');
    expect(attempt.observations.connectedTo).to.equal(`127.0.0.1:${server!.port}`);
    expect(attempt.observations.certificate).to.deep.include({ keyType: 'RSA', keyBits: 2048 });
  });

  it('opcua.anonymous activates an anonymous session and reads its sample variables', async () => {
    const { attempt } = await runProbe(anonymous, { service: service() });
    expect(attempt.findings.map((f) => f.code)).to.deep.equal(['opcua.anonymous.session-activated']);
    expect((attempt.observations.session as { readable: number }).readable).to.be.greaterThan(3);
  });

  it('opcua.client-certificate: the sample server trusts unknown client certificates', async () => {
    const { attempt } = await runProbe(clientCertificate, { service: service() });
    expect(attempt.findings.map((f) => f.code)).to.include('opcua.client-certificate.untrusted-accepted');
  });

  it('opcua.user-login logs in as its sample user over SignAndEncrypt', async () => {
    const { attempt } = await runProbe(userLogin, { service: service(), credentials: { opcua: { username: 'user1', password: 'password1' } } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.observations.wrongPassword).to.deep.include({ outcome: 'refused' });
    expect(String(attempt.observations.endpoint)).to.match(/^SignAndEncrypt\//);
  });
});
