import { expect } from 'chai';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import probe from '../../probes/ports/tcp';
import { assess } from '../../src/assess';
import { labnetAvailability, createLabnet, defaultDeviceCommand, findIp, ip, type Labnet, type LabnetDevice } from '../../src/labnet/netns';
import { loadCatalog } from '../../src/catalog';
import { startEmulator, type Emulator } from '../../src/emulator';
import type { Attempt } from '../../src/runner/attempt';
import { FRS, type SecurityLevel, type ServiceProtocol, type SlVector } from '../../src/sdk';
import { portStates, runNmap } from '../../src/protocols/nmap';
import { formatPortSpec } from '../../src/protocols/tcp';
import { debianPython, requirePeer } from '../helpers/peers';
import { runProbe, type ProbeRunOptions } from '../helpers/probe-harness';

/*
 * Deceptive peers for ports.tcp (issue 15, item 3): hosts and ports that do not answer must never make
 * "no undeclared port open" a pass of CR 7.7 (or CR 4.1). Every case runs with both scanners.
 * - On loopback: ports whose listener never accepts and whose accept queue is full, so the kernel drops
 *   every further SYN (no handshake, no reset): what a firewall dropping those ports looks like.
 * - In a network namespace (root only): a device whose interface carries no address, reached over a
 *   veth with a permanent neighbour entry, so every SYN arrives and is dropped silently; the route check
 *   of src/labnet/netns shows the address goes over the labnet link before anything is sent to it.
 */

type Scanner = 'nmap' | 'connect';
const SCANNERS: readonly Scanner[] = ['nmap', 'connect'];
type Declared = NonNullable<ProbeRunOptions<unknown>['service']>;

/** Requires nmap for the nmap variant (skips, or fails under IACS_REQUIRE_PEERS=1, when it is missing). */
function scannerInputs(ctx: Mocha.Context, scanner: Scanner, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (scanner === 'nmap') requirePeer(ctx, 'nmap');
  return { scanner, serviceDetection: false, connectTimeoutMs: 1000, ...extra };
}

/** The CR 7.7 and CR 4.1 rows the assessment makes of this one attempt. */
function rows(attempt: Attempt): Record<string, string> {
  const slTarget = Object.fromEntries(FRS.map((fr) => [fr, 2 as SecurityLevel])) as SlVector;
  const { requirements } = assess({
    catalog: loadCatalog(), component: { name: 'dut', types: ['embedded'], slTarget }, attempts: [attempt],
    probeRequirements: new Map([['ports.tcp', probe.requirements]]),
  });
  return Object.fromEntries(requirements.filter((r) => probe.requirements.includes(r.id)).map((r) => [r.id, r.verdict]));
}

/** Asserts the attempt carries no pass outcome, states why, and leaves both rows not determined. */
function expectNotDetermined(attempt: Attempt, why: RegExp): void {
  expect(attempt.outcomes.filter((o) => o.verdict === 'pass'), 'no pass outcome').to.deep.equal([]);
  expect(attempt.observations.note).to.match(why);
  expect(rows(attempt)).to.deep.equal({ 'CR 4.1': 'not_determined', 'CR 7.7': 'not_determined' });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

/**
 * Python (Debian's) holds `count` listening sockets on 127.0.0.1 with backlog 0 and never accepts; one
 * completed connection fills each accept queue, after which Linux drops every SYN to the port. Node's
 * net.Server always accepts, hence the helper process. It ends when its stdin closes (our exit) or is killed.
 */
const DROPPING_LISTENERS = `
import json, socket, sys
held, ports = [], []
for _ in range(int(sys.argv[1])):
    listener = socket.socket()
    listener.bind(('127.0.0.1', 0))
    listener.listen(0)
    held += [listener, socket.create_connection(listener.getsockname(), timeout=5)]
    ports.append(listener.getsockname()[1])
print(json.dumps(ports), flush=True)
sys.stdin.read()
`;

async function droppingPorts(ctx: Mocha.Context, count: number): Promise<{ ports: number[]; close: () => Promise<void> }> {
  const python = requirePeer(ctx, 'python3', debianPython());
  const child = spawn(python, ['-c', DROPPING_LISTENERS, String(count)], { stdio: ['pipe', 'pipe', 'pipe'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    let err = '';
    const timer = setTimeout(() => reject(new Error(`no port list within 10 s: ${err}`)), 10_000);
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) {
        clearTimeout(timer);
        resolve(out.split('\n')[0]);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}: ${err}`));
    });
  });
  return { ports: JSON.parse(line) as number[], close: () => stopChild(child) };
}

/** A listener that accepts and hangs up, on an OS-chosen port below the ephemeral range the dropping ports use. */
async function openPortBelow(limit: number): Promise<{ port: number; close: () => Promise<void> }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 10_000 + Math.floor(Math.random() * (limit - 10_000));
    const server = net.createServer((c) => c.destroy());
    const ok = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (ok) return { port, close: () => new Promise((r) => server.close(() => r())) };
  }
  throw new Error('no free port');
}

/** `count` consecutive loopback ports nothing listens on (each refused a connection just now). */
async function closedWindow(count: number): Promise<number[]> {
  const refused = (port: number) => new Promise<boolean>((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => { s.destroy(); resolve(false); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 10_000 + Math.floor(Math.random() * 20_000);
    const ports = Array.from({ length: count }, (_, i) => base + i);
    if ((await Promise.all(ports.map(refused))).every(Boolean)) return ports;
  }
  throw new Error('no closed port window');
}

describe('ports.tcp integrity: a scan that saw no answers never passes CR 7.7', function () {
  this.timeout(60_000);

  describe('on loopback: declared services behind ports that drop every SYN', () => {
    let dropping: { ports: number[]; close: () => Promise<void> } | undefined;
    let closed: number[] = [];
    let open: { port: number; close: () => Promise<void> } | undefined;
    before(async function () {
      dropping = await droppingPorts(this, 8);
      open = await openPortBelow(Math.min(...dropping.ports));
      closed = await closedWindow(30); // over nmap's 25: summarised in <extraports state="closed">
    });
    after(async () => {
      await dropping?.close();
      await open?.close();
    });
    const declaredDropping = (): Declared[] => [{ port: dropping!.ports[0], protocol: 'ssh' }, { port: dropping!.ports[1], protocol: 'opcua' }];

    for (const scanner of SCANNERS) {
      it(`${scanner}: every declared service filtered, the other ports closed: not determined, filtered reported`, async function () {
        const [a, b] = dropping!.ports;
        const { attempt, read } = await runProbe(probe, {
          services: declaredDropping(), inputs: scannerInputs(this, scanner, { ports: formatPortSpec(closed) }),
        });
        expectNotDetermined(attempt, /every declared TCP service port .* went unanswered \(filtered\)/);
        expect(attempt.status).to.equal('not_determined');
        expect(attempt.message).to.equal(attempt.observations.note);
        expect(attempt.observations).to.deep.include({ complete: true, closed: 30, filtered: { count: 2, ports: formatPortSpec([a, b]) }, open: [] });
        expect(attempt.observations.declaredNotOpen).to.deep.equal([{ port: a, protocol: 'ssh', state: 'filtered' }, { port: b, protocol: 'opcua', state: 'filtered' }]);
        expect(attempt.findings.map((f) => f.message)).to.deep.equal([a, b].map((p, i) => `declared ${['ssh', 'opcua'][i]} service tcp/${p} is not open (filtered: no answer)`));
        if (scanner === 'nmap') {
          const xml = read(attempt.evidence.find((e) => e.endsWith('nmap-tcp.xml'))!);
          expect(xml).to.contain(`portid="${a}"><state state="filtered" reason="no-response"`).and.contain('<extraports state="closed" count="30">');
        }
      });

      it(`${scanner}: one declared service open, one filtered: CR 7.7 passes only partially, with the filtered port as the reason`, async function () {
        const { attempt } = await runProbe(probe, {
          services: [{ port: open!.port, protocol: 'tcp' }, { port: dropping!.ports[0], protocol: 'ssh' }],
          inputs: scannerInputs(this, scanner, { ports: formatPortSpec(closed) }),
        });
        expect(attempt.status).to.equal('pass');
        expect(attempt.observations).to.deep.include({ complete: true, filtered: { count: 1, ports: String(dropping!.ports[0]) } });
        expect(attempt.observations).to.not.have.property('note');
        const cr77 = attempt.outcomes.find((o) => o.requirement === 'CR 7.7')!;
        expect(cr77).to.include({ verdict: 'pass', coverage: 'partial' });
        expect(cr77.reason).to.contain('; TCP coverage partial: ').and.contain('1 scanned port(s) gave no answer (filtered)').and.not.contain('UDP');
        expect(cr77.part).to.deep.equal({ name: 'tcp', of: ['tcp', 'udp'] });
        expect(rows(attempt)['CR 7.7']).to.equal('not_determined');
      });

      it(`${scanner}: an undeclared open port still fails CR 7.7 when every declared service is filtered`, async function () {
        const { attempt } = await runProbe(probe, {
          services: declaredDropping(), inputs: scannerInputs(this, scanner, { ports: formatPortSpec([...closed, open!.port]) }),
        });
        expect(attempt.status).to.equal('fail');
        expect(attempt.findings.filter((f) => f.severity !== 'info').map((f) => f.code)).to.deep.equal(['ports.tcp.undeclared-open']);
        expect(attempt.outcomes).to.have.length(1);
        expect(attempt.outcomes[0]).to.include({ requirement: 'CR 7.7', verdict: 'fail' });
        expect(attempt.observations.note).to.match(/every declared TCP service port/);
        expect(rows(attempt)).to.deep.equal({ 'CR 4.1': 'not_determined', 'CR 7.7': 'fail' });
      });
    }

    it('connect: a scan cut off by its budget is not determined, yet the undeclared port it saw open fails CR 7.7', async function () {
      // One port at a time: the open port (lowest) first, then dropping ports at 1 s each until the scan stops at 5 s.
      const ports = [open!.port, ...dropping!.ports];
      const { attempt, read } = await runProbe(probe, {
        inputs: scannerInputs(this, 'connect', { ports: formatPortSpec(ports), maxParallel: 1 }), timeoutMs: 7500,
      });
      expect(attempt.status).to.equal('fail');
      expect(attempt.outcomes.map((o) => [o.requirement, o.verdict])).to.deep.equal([['CR 7.7', 'fail']]);
      expect(attempt.observations.complete).to.equal(false);
      expect(attempt.observations.incomplete).to.match(/stopped at the end of its budget with [1-9]\d* of 9 ports not scanned/);
      expect(attempt.observations.note).to.match(/^the scan did not complete/);
      const evidence = JSON.parse(read(attempt.evidence.find((e) => e.endsWith('connect-scan.json'))!)) as { complete: boolean; notScanned: string };
      expect(evidence.complete).to.equal(false);
      expect(evidence.notScanned).to.not.equal('');
    });
  });

  describe('in a network namespace: a host that answers nothing', () => {
    let labnet: Labnet | undefined;
    let silent: LabnetDevice;
    let healthy: LabnetDevice;
    let tmp = '';
    before(async function () {
      this.timeout(90_000);
      const available = await labnetAvailability();
      if (!available.ok) {
        if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`namespace tests must run here: ${available.reason}`);
        this.skip();
      }
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-ports-integrity-'));
      const quiet = path.join(tmp, 'quiet.yaml');
      fs.writeFileSync(quiet, 'name: quiet\naccounts: [{ username: admin, password: admin }]\nservices: { debug: { port: 4999 } }\n');
      const silentPosture = path.join(tmp, 'silent.yaml');
      fs.writeFileSync(silentPosture, 'name: silent\n');
      const ipPath = findIp()!;
      labnet = await createLabnet({
        topology: 'root',
        devices: [{ posture: silentPosture, name: 'silent' }, { posture: quiet, name: 'healthy' }],
        // The silent device takes its address off its interface: SYNs still arrive and are dropped unanswered.
        deviceCommand: (input) => (input.posture === silentPosture
          ? ['/bin/sh', '-c', `"${ipPath}" addr flush dev eth0 && echo '{"services":[]}' && exec cat >/dev/null`]
          : defaultDeviceCommand(input)),
      });
      [silent, healthy] = labnet.devices;
      const [link] = JSON.parse(await ip(['-n', silent.namespace, '-j', 'link', 'show', 'eth0'])) as { address: string }[];
      await ip(['neigh', 'replace', silent.address, 'lladdr', link.address, 'dev', labnet.scanner.interface, 'nud', 'permanent']);
    });
    after(async () => {
      await labnet?.close();
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    for (const scanner of SCANNERS) {
      it(`${scanner}: nothing open, nothing closed: "the host answered nothing", not determined`, async function () {
        await labnet!.verifyRoutes(silent.address);
        const ports = '1-30,80,443,502,4840'; // over nmap's 25: summarised in <extraports state="filtered">
        const { attempt, read } = await runProbe(probe, {
          host: silent.address, services: [{ port: 502, protocol: 'modbus' }, { port: 4840, protocol: 'opcua' }],
          inputs: scannerInputs(this, scanner, { ports, maxParallel: 32 }),
        });
        expectNotDetermined(attempt, /^the host answered nothing: none of the 34 TCP ports scanned answered/);
        expect(attempt.status).to.equal('not_determined');
        expect(attempt.findings.filter((f) => f.severity !== 'info')).to.deep.equal([]);
        expect(attempt.observations).to.deep.include({ complete: true, open: [], closed: 0, filtered: { count: 34, ports } });
        if (scanner === 'nmap') {
          expect(attempt.observations.host).to.deep.equal({ state: 'up', reason: 'user-set', timedOut: false });
          expect(read(attempt.evidence.find((e) => e.endsWith('nmap-tcp.xml'))!)).to.contain('<extraports state="filtered" count="34">');
        }
      });
    }

    it('nmap: its host timeout expires on a dropping host: "did not complete", not determined', async function () {
      await labnet!.verifyRoutes(silent.address);
      const { attempt, read } = await runProbe(probe, {
        host: silent.address, services: [{ port: 502, protocol: 'modbus' }],
        inputs: scannerInputs(this, 'nmap', { ports: '1-2000', maxParallel: 4 }), timeoutMs: 9000,
      });
      expectNotDetermined(attempt, /^the scan did not complete \(nmap's --host-timeout expired/);
      expect(attempt.observations.host).to.deep.include({ timedOut: true });
      expect(attempt.observations.complete).to.equal(false);
      expect(read(attempt.evidence.find((e) => e.endsWith('nmap-tcp.xml'))!)).to.match(/<host [^>]*timedout="true"/);
      expect(attempt.observations.declaredNotOpen).to.deep.equal([{ port: 502, protocol: 'modbus', state: 'not scanned' }]);
    });

    it('nmap adapter: a scan without -Pn that finds the host down is an incomplete report', async function () {
      const nmap = requirePeer(this, 'nmap');
      await labnet!.verifyRoutes(silent.address);
      const scan = await runNmap(nmap, ['-sT', '-n', '--max-retries', '1', '-p', '502'], silent.address, AbortSignal.timeout(30_000));
      expect(scan.hostUp).to.equal(false);
      expect(scan.finished?.exit).to.equal('success');
      expect(portStates(scan).incomplete).to.match(/^nmap (reported nothing about the host|reports the host down)/);
    });

    it('connect: its budget runs out on a dropping host: "did not complete", not determined', async function () {
      await labnet!.verifyRoutes(silent.address);
      const { attempt } = await runProbe(probe, {
        host: silent.address, services: [{ port: 502, protocol: 'modbus' }],
        inputs: scannerInputs(this, 'connect', { ports: '1-2000', maxParallel: 4 }), timeoutMs: 8000,
      });
      expectNotDetermined(attempt, /^the scan did not complete \(the scan stopped at the end of its budget/);
      expect(attempt.observations.complete).to.equal(false);
    });

    for (const scanner of SCANNERS) {
      it(`${scanner}: a healthy device scanned over all 65535 ports passes the TCP part of CR 7.7 in full; the row still needs the UDP part`, async function () {
        await labnet!.verifyRoutes(healthy.address);
        const debug = healthy.services.find((s) => s.protocol === 'tcp')!;
        const { attempt } = await runProbe(probe, {
          host: healthy.address, services: [{ port: debug.port, protocol: debug.protocol as ServiceProtocol }],
          inputs: scannerInputs(this, scanner, { ports: 'all', maxParallel: 64 }),
        });
        expect(attempt.status, attempt.message).to.equal('pass');
        expect(attempt.observations).to.deep.include({ complete: true, fullRange: true, closed: 65534, filtered: { count: 0, ports: '' } });
        const cr77 = attempt.outcomes.find((o) => o.requirement === 'CR 7.7')!;
        expect(cr77).to.deep.include({ verdict: 'pass', coverage: 'full', part: { name: 'tcp', of: ['tcp', 'udp'] } });
        expect(cr77.reason).to.equal('every open port among all 65535 TCP ports is declared');
        // Without a UDP scan of the host the row is not a pass: "CR 7.7 full" means both transports were examined.
        expect(rows(attempt)['CR 7.7']).to.equal('not_determined');
      });
    }
  });

  describe('a healthy emulated device on loopback judges as before', () => {
    let weak: Emulator;
    let quiet: Emulator;
    before(async () => {
      weak = await startEmulator('weak', { ephemeralPorts: true });
      quiet = await startEmulator({ name: 'quiet', services: { debug: {} } }, { ephemeralPorts: true });
    });
    after(async () => {
      await weak?.close();
      await quiet?.close();
    });

    for (const scanner of SCANNERS) {
      it(`${scanner}: the weak device fails CR 7.7 (undeclared debug agent) and CR 4.1 (telnet)`, async function () {
        const telnet = weak.endpoint('telnet');
        const debug = weak.endpoint('tcp');
        const { attempt } = await runProbe(probe, {
          services: [{ port: telnet.port, protocol: 'telnet' }],
          inputs: scannerInputs(this, scanner, { ports: formatPortSpec([telnet.port, debug.port]) }),
        });
        expect(attempt.status).to.equal('fail');
        expect(attempt.outcomes.map((o) => [o.requirement, o.verdict])).to.deep.equal([['CR 7.7', 'fail'], ['CR 4.1', 'fail']]);
        expect(attempt.observations).to.deep.include({ complete: true });
      });

      it(`${scanner}: the quiet device passes both requirements (partial coverage)`, async function () {
        const svc = quiet.endpoint('tcp');
        const window = await closedWindow(3);
        const { attempt } = await runProbe(probe, {
          services: [{ port: svc.port, protocol: 'tcp' }], inputs: scannerInputs(this, scanner, { ports: formatPortSpec([svc.port, ...window]) }),
        });
        expect(attempt.status).to.equal('pass');
        expect(attempt.outcomes.map((o) => [o.requirement, o.verdict, o.coverage])).to.deep.equal([['CR 7.7', 'pass', 'partial'], ['CR 4.1', 'pass', 'partial']]);
        expect(attempt.observations).to.deep.include({ complete: true, closed: 3, filtered: { count: 0, ports: '' } });
      });
    }
  });
});
