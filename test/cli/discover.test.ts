import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main';
import { loadProfile } from '../../src/profile';
import { passwordVariable } from '../../src/runner/discover';
import { loadPosture, startEmulator, type Emulator } from '../../src/emulator';

/**
 * `iacs-probe discover` against the emulator in both postures (ephemeral loopback ports): the draft validates,
 * `run` accepts it unchanged, and its services are the emulator's, port for port, with the two limits the
 * draft comments on (a TLS service that requires a client certificate stays `tls` off its registered port).
 */

async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const text = { out: '', err: '' };
  const sink = (key: 'out' | 'err') => new Writable({ write(chunk, _enc, done) { text[key] += String(chunk); done(); } });
  const code = await main(args, { out: sink('out'), err: sink('err') });
  return { code, stdout: text.out, stderr: text.err };
}

const UDP_PROTOCOLS = new Set(['snmp', 'tftp', 'bacnet']);
const transportOf = (s: { protocol: string; transport?: string }) => s.transport ?? (UDP_PROTOCOLS.has(s.protocol) ? 'udp' : 'tcp');
const key = (s: { port: number; protocol: string; transport?: string }) => `${transportOf(s)}/${s.port} ${s.protocol}`;

describe('cli discover', function () {
  this.timeout(40_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-discover-'));
  const emulators: Partial<Record<'weak' | 'hardened', Emulator>> = {};

  // The draft names its passwords by variable; the lab sets them before loading or running it.
  const variables = ['ssh', 'http', 'opcua', 'mqtt'].map(passwordVariable);
  before(async () => {
    for (const v of variables) process.env[v] = 'placeholder';
    [emulators.weak, emulators.hardened] = await Promise.all([
      startEmulator(loadPosture('weak'), { ephemeralPorts: true }), startEmulator(loadPosture('hardened'), { ephemeralPorts: true }),
    ]);
  });
  after(async () => {
    for (const v of variables) delete process.env[v];
    await Promise.all(Object.values(emulators).map((e) => e.close()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Runs discover on the emulator's own ports (plus a closed one) and returns the draft's file and the emulator's services. */
  async function discover(posture: 'weak' | 'hardened', extra: string[] = []) {
    const emulator = emulators[posture]!;
    const tcp = emulator.services.filter((s) => transportOf(s) === 'tcp').map((s) => s.port);
    const udp = emulator.services.filter((s) => transportOf(s) === 'udp').map((s) => s.port);
    const out = path.join(dir, `${posture}.yaml`);
    const result = await inProcess(['discover', '127.0.0.1', '--ports', [...tcp, 1].join(','), '--udp-ports', udp.join(','), '--timeout', '700', '--out', out, ...extra]);
    expect(result.code, result.stderr).to.equal(0);
    return { out, emulator };
  }

  it('weak: every service found with its protocol, the draft validates and run accepts it unchanged', async () => {
    // The weak agent speaks SNMP v1/v2c only: without --snmp-community (no "public" request) it stays silent.
    const { out, emulator } = await discover('weak', ['--snmp-community']);
    const profile = loadProfile(out);
    const found = profile.targets[0].services.map(key).sort();
    expect(found).to.deep.equal(emulator.services.map(key).sort());
    const text = fs.readFileSync(out, 'utf8');
    expect(text).to.match(/protocol: tcp \}\s+# unidentified; it greets with "EPLC-1 debug agent/);
    expect(text).to.include(`password: { env: ${passwordVariable('ssh')} }`).and.include('allow: [passive, active]');
    expect(text).to.include('enip.productName: Example Automation EPLC-1');

    const run = await inProcess(['run', out, '--only', 'ssh.algorithms', '--out', path.join(dir, 'run-weak')]);
    expect(run.code, run.stderr).to.be.oneOf([0, 1]);
    const report = JSON.parse(fs.readFileSync(path.join(dir, 'run-weak', 'report.json'), 'utf8')) as { attempts: { probe: string; status: string }[] };
    expect(report.attempts.map((a) => [a.probe, a.status])).to.deep.include(['ssh.algorithms', 'fail']);
  });

  it('hardened: every service found; mutual TLS off its registered port stays tls with a comment, DTLS found', async () => {
    const { out, emulator } = await discover('hardened');
    const found = new Set(loadProfile(out).targets[0].services.map(key));
    // Modbus/TLS is told from other mutual TLS only by its registered port 802 (test/cli/discover-verdicts.test.ts).
    const expected = emulator.services.map((s) => (s.protocol === 'modbus-tls' ? { ...s, protocol: 'tls' } : s)).map(key);
    expect([...found].sort()).to.deep.equal(expected.sort());
    const text = fs.readFileSync(out, 'utf8');
    expect(text).to.include('protocol: mqtt, tls: true').and.match(/protocol: tls, transport: udp \}\s+# dtls: HelloVerifyRequest/);
    expect(text).to.match(/protocol: tls \}\s+# TLS; the handshake without a client certificate ended with the alert certificate_required/);
    // The BACnet Device object names the device; its comment says so.
    expect(text).to.match(/vendor: "Example Automation"\s+# from BACnet Device object/).and.match(/firmware: "1\.0\.0"\s+# from BACnet/);
    // No SNMP community is sent by default; the v3-only agent answers the v3 discovery request.
    expect([...found].some((k) => / snmp$/.test(k))).to.equal(true);
  });

  it('refuses a CIDR without --bench and anything wider than /24 (exit 3, nothing written)', async () => {
    const out = path.join(dir, 'refused.yaml');
    const noBench = await inProcess(['discover', '127.0.0.0/30', '--out', out]);
    expect(noBench.code).to.equal(3);
    expect(noBench.stderr).to.include('only with --bench');
    const wide = await inProcess(['discover', '127.0.0.0/23', '--bench', '--out', out]);
    expect(wide.code).to.equal(3);
    expect(wide.stderr).to.include('wider than /24');
    expect(fs.existsSync(out)).to.equal(false);
  });

  it('scans a small bench CIDR and lists only hosts that answered', async () => {
    const port = emulators.weak!.services.find((s) => s.protocol === 'ssh')!.port;
    const result = await inProcess(['discover', '127.0.0.0/30', '--bench', '--ports', String(port), '--udp-ports', '1', '--timeout', '300']);
    expect(result.code, result.stderr).to.equal(0);
    expect(result.stdout).to.include('host: 127.0.0.1').and.include(`port: ${port}, protocol: ssh`).and.not.include('host: 127.0.0.2');
  });

  it('stops within a second on Ctrl-C and writes nothing', async () => {
    const out = path.join(dir, 'cancelled.yaml');
    const started = Date.now();
    const pending = inProcess(['discover', '127.0.0.1', '--ports', 'all', '--timeout', '300', '--out', out]);
    setTimeout(() => process.emit('SIGINT', 'SIGINT'), 300);
    const result = await pending;
    expect(result.code).to.equal(2);
    expect(result.stderr).to.include('cancelled');
    expect(Date.now() - started).to.be.below(1300 + 1000);
    expect(fs.existsSync(out)).to.equal(false);
  });
});
