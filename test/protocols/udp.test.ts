import { expect } from 'chai';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  closedUdpPort, garbageUdpServer, otherPortUdpServer, silentUdpServer,
} from '../../fixtures/udp-servers';
import type { TestServer } from '../../fixtures/servers';
import {
  EMPTY_PAYLOAD, PAYLOAD_PORTS, buildPayloads, dnp3Crc, udpScan, type PayloadKind, type UdpScanOptions, type UdpTarget,
} from '../../src/protocols/udp';
import { requirePeer, requireRoot } from '../helpers/peers';

const FAST: Omit<UdpScanOptions, 'signal'> = { parallel: 8, responseTimeoutMs: 300, retries: 2, retryIntervalMs: 50 };
const scanOptions = (extra: Partial<UdpScanOptions> = {}): UdpScanOptions => ({ ...FAST, signal: AbortSignal.timeout(20_000), ...extra });
const empty = (port: number): UdpTarget => ({ port, payloads: [EMPTY_PAYLOAD] });

/** The layer tshark names for each payload's protocol when it decodes the request. */
const DISSECTOR: Record<PayloadKind, string> = {
  snmp: 'snmp', ntp: 'ntp', tftp: 'tftp', bacnet: 'bacapp', enip: 'enip', dns: 'dns', mdns: 'mdns', ssdp: 'ssdp', ike: 'isakmp', dnp3: 'dnp3',
};

/** tshark on loopback, capturing UDP to `ports` of 127.0.0.1 into a file until stop(). */
async function capture(tshark: string, ports: readonly number[], file: string): Promise<{ stop(): Promise<void> }> {
  const filter = `udp and dst host 127.0.0.1 and (${ports.map((p) => `dst port ${p}`).join(' or ')})`;
  const child: ChildProcess = spawn(tshark, ['-i', 'lo', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const timer = setTimeout(() => reject(new Error(`tshark did not start capturing: ${err}`)), 15_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      // "Capturing on" comes a little before the capture filter is in place: give it a second.
      if (/Capturing on/.test(err)) {
        clearTimeout(timer);
        setTimeout(resolve, 1000);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`tshark exited ${code}: ${err}`));
    });
  });
  return {
    stop: () => new Promise<void>((resolve) => {
      // Give the last frames a moment to reach the capture before it stops.
      setTimeout(() => {
        child.once('exit', () => resolve());
        child.kill('SIGINT');
      }, 500);
    }),
  };
}

interface TsharkFrame { _source: { layers: Record<string, unknown> } }

/** Every `_ws.expert` entry of a decoded frame whose severity is error (tshark's severity 8388608). */
function expertErrors(layers: unknown): string[] {
  const out: string[] = [];
  const walk = (node: unknown) => {
    if (!node || typeof node !== 'object') return;
    for (const [key, value] of Object.entries(node as Record<string, unknown>)) {
      if (key === '_ws.expert' && value && typeof value === 'object' && (value as Record<string, unknown>)['_ws.expert.severity'] === '8388608') {
        out.push(JSON.stringify(value));
      }
      walk(value);
    }
  };
  walk(layers);
  return out;
}

describe('protocols/udp: payloads and the UDP scanner', function () {
  this.timeout(60_000);

  it('DNP3 CRC: the link-header check value of IEEE 1815 (05 64 05 C0 01 00 00 04 -> E9 21)', () => {
    // A RESET_LINK_STATES header from the DNP3 conformance examples; the CRC goes on the wire little-endian.
    expect(dnp3Crc(Buffer.from('056405c001000004', 'hex'))).to.equal(0x21e9);
  });

  it('tshark decodes every request as its protocol, without malformed or expert-error markers', async function () {
    const tshark = requirePeer(this, 'tshark');
    requireRoot(this, 'tshark captures on loopback');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-udp-payloads-'));
    try {
      const payloads = buildPayloads({ host: '127.0.0.1', dnp3Address: 10 });
      // TFTP last: tshark follows a TFTP request's client port as a TFTP conversation, so a later request that the
      // OS sends from the same (reused) ephemeral port would be decoded as TFTP (seen once: SNMP read as tftp).
      const kinds = (Object.keys(PAYLOAD_PORTS) as PayloadKind[]).sort((a, b) => Number(a === 'tftp') - Number(b === 'tftp'));
      const file = path.join(dir, 'payloads.pcap');
      const cap = await capture(tshark, kinds.map((k) => PAYLOAD_PORTS[k][0]), file);
      // One request per scan: on a closed port the ICMP error of the first request would cancel the second send.
      for (const kind of kinds) {
        for (const payload of payloads[kind]) await udpScan('127.0.0.1', [{ port: PAYLOAD_PORTS[kind][0], payloads: [payload] }], scanOptions({ retries: 1 }));
      }
      await cap.stop();
      const frames = JSON.parse(execFileSync(tshark, ['-r', file, '-T', 'json'], { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] })) as TsharkFrame[];
      for (const kind of kinds) {
        const port = String(PAYLOAD_PORTS[kind][0]);
        const sent = frames.filter((f) => (f._source.layers.udp as Record<string, string> | undefined)?.['udp.dstport'] === port);
        expect(sent.length, `${kind}: frames to udp/${port}`).to.be.at.least(payloads[kind].length);
        for (const frame of sent) {
          const { layers } = frame._source;
          expect(Object.keys(layers), `${kind}: decoded as ${DISSECTOR[kind]}`).to.include(DISSECTOR[kind]);
          expect(JSON.stringify(layers), `${kind}: malformed`).to.not.contain('_ws.malformed');
          expect(expertErrors(layers), `${kind}: expert errors`).to.deep.equal([]);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('port states on loopback', () => {
    const servers: TestServer[] = [];
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((s) => s.close()));
    });
    const keep = <T extends TestServer>(s: T) => {
      servers.push(s);
      return s;
    };

    it('answer: open; ICMP port unreachable: closed; silence after the paced re-probe: open|filtered', async () => {
      const answering = keep(await garbageUdpServer());
      const silent = keep(await silentUdpServer());
      const closed = await closedUdpPort();
      const result = await udpScan('127.0.0.1', [answering.port, silent.port, closed.port].map(empty), scanOptions());
      const byPort = new Map(result.ports.map((p) => [p.port, p]));
      expect(byPort.get(answering.port)).to.deep.include({ state: 'open', reason: 'udp-response', probes: 1 });
      expect(byPort.get(answering.port)!.answer!.hex).to.match(/^00ff47415242414745/);
      expect(byPort.get(closed.port)).to.deep.include({ state: 'closed', reason: 'port-unreach', probes: 1 });
      // Silent in the fast round, silent again when re-probed at the paced interval: only then open|filtered.
      expect(byPort.get(silent.port)).to.deep.include({ state: 'open|filtered', reason: 'no-response', probes: 2 });
      expect(result.rounds.map((r) => [r.round, r.probed, r.resolved])).to.deep.equal([[0, 3, 0], [1, 1, 0]]);
      expect(result).to.deep.include({ complete: true, notScanned: [], notReprobed: [], closedOnlyWhenPaced: [] });
    });

    it('an answer from another port of the host is recorded but does not make the probed port open', async () => {
      const peer = keep(await otherPortUdpServer());
      const result = await udpScan('127.0.0.1', [empty(peer.port)], scanOptions());
      expect(result.ports[0]).to.deep.include({ state: 'open|filtered', reason: 'no-response' });
      expect(result.ports[0].otherPortAnswers?.[0]).to.deep.include({ port: peer.otherPort, hex: Buffer.from('other port').toString('hex') });
    });

    it('TFTP only: an ERROR from a new port (a new transfer id, RFC 1350) answers the read request, so the port is open', async () => {
      const tftpError = Buffer.concat([Buffer.from([0, 5, 0, 1]), Buffer.from('File not found\0', 'ascii')]);
      const peer = keep(await otherPortUdpServer(() => tftpError));
      const { tftp } = buildPayloads({ host: '127.0.0.1' });
      const result = await udpScan('127.0.0.1', [{ port: peer.port, payloads: tftp }], scanOptions());
      expect(result.ports[0]).to.deep.include({ state: 'open', reason: 'tftp-tid' });
      // Garbage from another port is no TFTP answer: the port stays open|filtered.
      const garbage = keep(await otherPortUdpServer());
      const other = await udpScan('127.0.0.1', [{ port: garbage.port, payloads: tftp }], scanOptions());
      expect(other.ports[0].state).to.equal('open|filtered');
    });

    it('stopAt: the ports not probed and the silent ones not re-probed are listed, and the scan is incomplete', async () => {
      const silent = await Promise.all([1, 2, 3].map(() => silentUdpServer().then(keep)));
      const result = await udpScan('127.0.0.1', silent.map((s) => empty(s.port)), scanOptions({
        parallel: 1, responseTimeoutMs: 400, retryIntervalMs: 1000, stopAt: Date.now() + 1000,
      }));
      expect(result.complete).to.equal(false);
      expect([...result.notScanned, ...result.notReprobed].sort()).to.deep.equal(silent.map((s) => s.port).sort());
      expect(result.notReprobed.length, 'the ports probed once in the fast round').to.be.at.least(1);
    });

    it('an aborted signal rejects and closes every socket', async () => {
      const silent = keep(await silentUdpServer());
      const controller = new AbortController();
      const scan = udpScan('127.0.0.1', [empty(silent.port)], { ...FAST, responseTimeoutMs: 5000, signal: controller.signal });
      setTimeout(() => controller.abort(new Error('cancelled by the test')), 100);
      let error: unknown;
      try {
        await scan;
      } catch (err) {
        error = err;
      }
      expect((error as Error | undefined)?.message).to.equal('cancelled by the test');
    });
  });
});
