import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import probe from '../../../probes/ports/tcp';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { parseNmapXml } from '../../../src/protocols/nmap';
import { formatPortSpec } from '../../../src/protocols/tcp';
import { requirePeer } from '../../helpers/peers';
import { runProbe } from '../../helpers/probe-harness';

/** Listens on a few ports inside a 10-port window nothing else uses, so scans of the window are deterministic. */
async function portWindow(offsets: number[]): Promise<{ base: number; servers: net.Server[] }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * 30000);
    const servers: net.Server[] = [];
    try {
      for (const off of offsets) {
        const s = net.createServer((c) => c.destroy());
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.listen(base + off, '127.0.0.1', () => resolve());
        });
        servers.push(s);
      }
      return { base, servers };
    } catch {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  }
  throw new Error('no free port window');
}

describe('probe ports.tcp', () => {
  describe('against the emulated PLC', () => {
    let weak: Emulator;
    let hardenedLike: Emulator;
    before(async () => {
      weak = await startEmulator('weak', { ephemeralPorts: true });
      hardenedLike = await startEmulator({ name: 'quiet', services: { debug: {} } }, { ephemeralPorts: true });
    });
    after(async () => {
      await weak.close();
      await hardenedLike.close();
    });

    it('weak posture: the undeclared debug agent fails CR 7.7 and the declared telnet console fails CR 4.1', async () => {
      const telnet = weak.endpoint('telnet');
      const debug = weak.endpoint('tcp');
      const { attempt } = await runProbe(probe, {
        services: [{ port: telnet.port, protocol: 'telnet' }],
        inputs: { scanner: 'connect', ports: formatPortSpec([telnet.port, debug.port]) },
      });
      expect(attempt.status).to.equal('fail');
      expect(attempt.observations.scanner).to.equal('connect');
      const codes = attempt.findings.map((f) => `${f.code}:${f.message.match(/tcp\/(\d+)/)?.[1]}`);
      expect(codes).to.include.members([`ports.tcp.undeclared-open:${debug.port}`, `ports.tcp.cleartext-service:${telnet.port}`]);
      expect(attempt.outcomes.find((o) => o.requirement === 'CR 7.7')).to.include({ verdict: 'fail', coverage: 'partial' });
      expect(attempt.evidence.map((e) => e.split('/').pop())).to.deep.equal(['baseline-ports.json', 'connect-scan.json']);
    });

    it('compliant: every open port declared and none cleartext passes both requirements', async () => {
      const svc = hardenedLike.endpoint('tcp');
      const { attempt } = await runProbe(probe, {
        services: [{ port: svc.port, protocol: 'tcp' }],
        inputs: { scanner: 'connect', ports: `${svc.port}` },
      });
      expect(attempt.status).to.equal('pass');
      expect(attempt.findings).to.deep.equal([]);
      expect(attempt.outcomes.map((o) => o.verdict)).to.deep.equal(['pass', 'pass']);
    });

    it('a declared service that is not open is reported as info, not as a failure', async () => {
      const svc = hardenedLike.endpoint('tcp');
      const { attempt } = await runProbe(probe, {
        services: [{ port: svc.port, protocol: 'tcp' }, { port: 1, protocol: 'ssh' }],
        inputs: { scanner: 'connect', ports: `${svc.port}` },
      });
      expect(attempt.status).to.equal('pass');
      expect(attempt.findings.map((f) => [f.code, f.severity])).to.deep.equal([['ports.tcp.declared-not-open', 'info']]);
    });

    it('uses nmap when installed, records its version and XML, and finds the same ports', async function () {
      requirePeer(this, 'nmap');
      const telnet = weak.endpoint('telnet');
      const debug = weak.endpoint('tcp');
      const { attempt, read } = await runProbe(probe, {
        services: [{ port: telnet.port, protocol: 'telnet' }],
        inputs: { ports: formatPortSpec([telnet.port, debug.port]), serviceDetection: false },
      });
      expect(attempt.observations.scanner).to.match(/^nmap \d+\.\d+/);
      const open = (attempt.observations.open as { port: number }[]).map((p) => p.port).sort();
      expect(open).to.deep.equal([telnet.port, debug.port].sort());
      expect(read(attempt.evidence.find((e) => e.endsWith('nmap-tcp.xml'))!)).to.contain('<nmaprun');
      expect(attempt.status).to.equal('fail');
    });
  });

  it('agrees with nmap -sT on the same host and port range', async function () {
    const nmap = requirePeer(this, 'nmap');
    const { base, servers } = await portWindow([1, 4, 7]);
    try {
      const range = `${base}-${base + 9}`;
      const { attempt } = await runProbe(probe, { inputs: { scanner: 'connect', ports: range } });
      const ours = (attempt.observations.open as { port: number }[]).map((p) => p.port);
      const xml = execFileSync(nmap, ['-sT', '-Pn', '-n', '-p', range, '-oX', '-', '127.0.0.1'], { encoding: 'utf8', timeout: 60_000 });
      const theirs = parseNmapXml(xml).ports.filter((p) => p.state === 'open').map((p) => p.port);
      expect(ours).to.deep.equal(theirs);
      expect(ours).to.deep.equal([base + 1, base + 4, base + 7]);
    } finally {
      await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    }
  });

  it('a scan that outlives its budget ends as timeout and stops scanning', async () => {
    const { attempt } = await runProbe(probe, { inputs: { scanner: 'connect', ports: 'all', maxParallel: 1 }, timeoutMs: 300 });
    expect(attempt).to.include({ status: 'error', reason: 'timeout' });
  });

  it('refuses a malformed port list in its inputs', async () => {
    const { attempt } = await runProbe(probe, { inputs: { scanner: 'connect', ports: '80-70' } });
    expect(attempt).to.include({ status: 'error', reason: 'input' });
    expect(attempt.message).to.match(/invalid port range/);
  });
});
