import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../../probes/modbus/security';
import { loadPosture, startEmulator, type Emulator } from '../../../src/emulator';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { closedPort } from '../../../fixtures/servers';
import { runProbe } from '../../helpers/probe-harness';
import { postureWith } from '../../helpers/postures';
import { requirePymodbus, startPymodbus } from '../../helpers/pymodbus';

const codes = (a: { findings: { code: string }[] }) => a.findings.map((f) => f.code).sort();

describe('modbus.security', () => {
  const dirs: string[] = [];
  const started: Emulator[] = [];
  /** The hardened device with its Modbus/TCP Security endpoint changed by `knobs`. */
  const device = async (knobs: Record<string, unknown> = {}) => {
    const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'modbus-sec-'));
    dirs.push(workDir);
    const base = loadPosture('hardened');
    const emu = await startEmulator({ ...base, workDir, services: { 'modbus-tls': { ...base.services['modbus-tls'], ...knobs } } }, { ephemeralPorts: true });
    started.push(emu);
    const inputs = { trustedCaCertFile: path.join(workDir, 'pki/ca.crt'), trustedCaKeyFile: path.join(workDir, 'pki/ca.key'), settleMs: 300 };
    return { port: emu.endpoint('modbus-tls').port, inputs };
  };
  after(async () => {
    await Promise.all(started.map((e) => e.close()));
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it('hardened posture: TLS, client certificate required, role required', async () => {
    const { port, inputs } = await device();
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus-tls' }, inputs });
    expect(attempt.status, JSON.stringify(attempt.findings)).to.equal('pass');
    expect(attempt.observations).to.include({ tls: true, clientCertificateRequested: true, clientCertificateRequired: true, roleRequired: true });
    const results = (attempt.observations as { results: Record<string, { accepted: boolean; modbusAnswer?: boolean }> }).results;
    expect(results.withRole).to.include({ accepted: true, modbusAnswer: true });
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.2:pass', 'CR 3.1:pass', 'CR 4.1:pass']);
  });

  it('certificate without the role extension accepted: role-not-required', async () => {
    const { port, inputs } = await device({ requireRole: false });
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus-tls' }, inputs });
    expect(codes(attempt)).to.deep.equal(['modbus.security.role-not-required']);
  });

  it('no client certificate asked for: client-cert-not-required', async () => {
    const { port, inputs } = await device({ requireClientCertificate: false });
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus-tls' }, inputs });
    expect(codes(attempt)).to.include('modbus.security.client-cert-not-required');
    expect(attempt.observations).to.include({ clientCertificateRequested: false, clientCertificateRequired: false });
  });

  it('the declared secure port speaks plain Modbus: not-tls', async () => {
    const { port } = await device({ tls: false });
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus-tls' } });
    expect(codes(attempt)).to.deep.equal(['modbus.security.not-tls']);
    expect(attempt.outcomes.every((o) => o.verdict === 'fail')).to.equal(true);
  });

  it('pymodbus (not ours) on a port declared secure: plain Modbus, not-tls, whether it closes or stays silent on a ClientHello', async function () {
    const server = await startPymodbus(requirePymodbus(this));
    try {
      const { attempt } = await runProbe(probe, { service: { port: server.port, protocol: 'modbus-tls' } });
      expect(codes(attempt), JSON.stringify([attempt.status, attempt.reason, attempt.message])).to.deep.equal(['modbus.security.not-tls']);
      expect(attempt.outcomes.every((o) => o.verdict === 'fail')).to.equal(true);
    } finally {
      await server.close();
    }
  });

  it('without a trusted test CA the role check is reported as not evaluated', async () => {
    const { port } = await device();
    const { attempt } = await runProbe(probe, { service: { port, protocol: 'modbus-tls' }, inputs: { settleMs: 300 } });
    expect(attempt.status).to.equal('pass');
    expect(attempt.observations).to.include({ roleRequired: null });
    expect((attempt.observations as { roleNote: string }).roleNote).to.match(/trustedCaCertFile/);
  });

  it('weak posture (plain Modbus only): unavailable, fails CR 1.2, CR 3.1, CR 4.1', async () => {
    const weak = await startEmulator(postureWith('weak', ['modbus']), { ephemeralPorts: true });
    started.push(weak);
    const { attempt } = await runProbe(probe, { service: { port: weak.endpoint('modbus').port, protocol: 'modbus', unitId: 1 } });
    expect(attempt.status).to.equal('fail');
    expect(codes(attempt)).to.deep.equal(['modbus.security.unavailable']);
  });

  it('only plain Modbus declared: unavailable, without contacting any port', async () => {
    const closed = await closedPort();
    const { attempt } = await runProbe(probe, { service: { port: closed.port, protocol: 'modbus' } });
    expect(codes(attempt)).to.deep.equal(['modbus.security.unavailable']);
    expect(attempt.outcomes.map((o) => `${o.requirement}:${o.verdict}`)).to.deep.equal(['CR 1.2:fail', 'CR 3.1:fail', 'CR 4.1:fail']);
  });

  it('plain Modbus next to a declared modbus-tls service: not applicable for the plain attempt', async () => {
    const closed = await closedPort();
    const { attempt } = await runProbe(probe, { service: { port: closed.port, protocol: 'modbus' }, services: [{ port: closed.port, protocol: 'modbus' }, { port: 1, protocol: 'modbus-tls' }] });
    expect(attempt.status).to.equal('not_applicable');
  });

  it('plain Modbus with the secure port declared as a TCP service: that port is examined', async () => {
    const { port, inputs } = await device();
    const closed = await closedPort();
    const { attempt } = await runProbe(probe, {
      service: { port: closed.port, protocol: 'modbus' }, services: [{ port: closed.port, protocol: 'modbus' }, { port, protocol: 'tcp' }],
      inputs: { ...inputs, securePort: port },
    });
    expect(attempt.status, JSON.stringify(attempt)).to.equal('pass');
    expect((attempt.observations as { secureEndpoint: string }).secureEndpoint).to.equal(`127.0.0.1:${port}`);
  });

  describeMisbehavingPeers(probe, { service: (port) => ({ port, protocol: 'modbus-tls' }), timeoutMs: 2000, stallTimeoutMs: 300,
    reasons: { tlsLargeChain: 'verdict' }, // a valid TLS server with a long chain: the TLS layer is judged
  });
});
