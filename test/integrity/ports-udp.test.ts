import { expect } from 'chai';
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { stringify as toYaml } from 'yaml';
import tcpProbe from '../../probes/ports/tcp';
import udpProbe from '../../probes/ports/udp';
import { assess } from '../../src/assess';
import { loadCatalog } from '../../src/catalog';
import { createLabnet, defaultDeviceCommand, findIp, ip, labnetAvailability, type Labnet, type LabnetDevice } from '../../src/labnet/netns';
import { namedPortStates, parseNmapXml } from '../../src/protocols/nmap';
import { parsePortSpec } from '../../src/protocols/tcp';
import { EMPTY_PAYLOAD, udpScan } from '../../src/protocols/udp';
import type { Attempt } from '../../src/runner/attempt';
import { FRS, type SecurityLevel, type SlVector } from '../../src/sdk';
import { requirePeer } from '../helpers/peers';
import { postureWith } from '../helpers/postures';
import { findSnmpd, startSnmpd, type RunningSnmpd } from '../helpers/snmpd';
import { runProbe } from '../helpers/probe-harness';

/*
 * ports.udp against devices on addresses of their own (labnet network namespaces, root only), where the
 * services sit on their standard port numbers (so nmap -sU sends them its own payloads) and the device's
 * kernel rate-limits ICMP errors as a Linux device does (a burst of 6, then one per second per destination):
 * - our open, closed and open|filtered UDP ports equal nmap -sU's on the weak and hardened emulator and on
 *   Debian's snmpd;
 * - a fast round alone reads rate-limited closed ports as silence; the paced re-probe finds them closed;
 * - a host that answers nothing is not determined, with either scanner;
 * - ports.tcp and ports.udp both over 1-65535 on a device that answers every port make CR 7.7 a full pass.
 */

const STANDARD_PORTS = '53,69,123,161,500,1900,5353,20000,44818,47808';
/** Linux's ICMP error bucket: 6 tokens, one more per second (net.ipv4.icmp_ratelimit = 1000 ms). */
const ICMP_REFILL_MS = 7000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const run = promisify(execFile);

/**
 * The UDP port states nmap -sU (its own payloads) reports for `ports` of `host`. With its adaptive timing alone,
 * nmap gives up on some rate-limited closed ports within a short list (which ones varies from run to run) and
 * calls them open|filtered; `--scan-delay 1100ms`, nmap's own remedy for a device that sends one ICMP error a
 * second, makes it a stable reference.
 */
async function nmapUdp(nmap: string, host: string, ports: string): Promise<Map<number, string>> {
  const args = ['-sU', '-Pn', '-n', '--reason', '--scan-delay', '1100ms', '-p', ports, '-oX', '-', host];
  const { stdout } = await run(nmap, args, { encoding: 'utf8', timeout: 120_000 });
  return new Map([...namedPortStates(parseNmapXml(stdout), 'udp')].map(([port, s]) => [port, s.state]));
}

/** Our ports.udp attempt's port states, in nmap's words. */
function ourStates(attempt: Attempt, ports: string): Map<number, string> {
  const o = attempt.observations as { open: { port: number }[]; openFiltered: { ports: string }; filtered: { ports: string } };
  const states = new Map(parsePortSpec(ports).map((p) => [p, 'closed']));
  for (const p of o.open) states.set(p.port, 'open');
  if (o.openFiltered.ports) for (const p of parsePortSpec(o.openFiltered.ports)) states.set(p, 'open|filtered');
  if (o.filtered.ports) for (const p of parsePortSpec(o.filtered.ports)) states.set(p, 'filtered');
  return states;
}

const sorted = (m: Map<number, string>) => [...m].sort(([a], [b]) => a - b);

/** A built-in posture with only its UDP services, on their standard ports (a namespace has ports of its own). */
function standardPortPosture(dir: string, name: 'weak' | 'hardened'): string {
  const services = name === 'weak' ? ['snmp', 'tftp'] : ['snmp'];
  const posture = postureWith(name, services);
  const standard: Record<string, number> = { snmp: 161, tftp: 69 };
  for (const s of services) posture.services[s] = { ...posture.services[s], port: standard[s] };
  const file = path.join(dir, `${name}-udp.yaml`);
  fs.writeFileSync(file, toYaml(posture));
  return file;
}

describe('ports.udp integrity: devices on their own addresses (network namespaces)', function () {
  this.timeout(300_000);
  let labnet: Labnet | undefined;
  let snmpd: RunningSnmpd | undefined;
  let weak: LabnetDevice;
  let hardened: LabnetDevice;
  let snmpdHost: LabnetDevice;
  let silent: LabnetDevice;
  let unlimited: LabnetDevice;
  let tmp = '';

  before(async function () {
    this.timeout(120_000);
    const available = await labnetAvailability();
    if (!available.ok) {
      if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`namespace tests must run here: ${available.reason}`);
      this.skip();
    }
    const snmpdBinary = requirePeer(this, 'snmpd', findSnmpd());
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-ports-udp-'));
    const plain = path.join(tmp, 'plain.yaml');
    fs.writeFileSync(plain, 'name: plain\nservices: {}\n');
    const silentPosture = path.join(tmp, 'silent.yaml');
    fs.writeFileSync(silentPosture, 'name: silent\nservices: {}\n');
    const weakFile = standardPortPosture(tmp, 'weak');
    const ipPath = findIp()!;
    labnet = await createLabnet({
      topology: 'root',
      devices: [
        { posture: weakFile, name: 'weak' }, { posture: standardPortPosture(tmp, 'hardened'), name: 'hardened' },
        { posture: plain, name: 'snmpd' }, { posture: silentPosture, name: 'silent' }, { posture: weakFile, name: 'unlimited' },
      ],
      // The silent device takes its address off its interface: datagrams still arrive and are dropped unanswered.
      deviceCommand: (input) => (input.posture === silentPosture
        ? ['/bin/sh', '-c', `"${ipPath}" addr flush dev eth0 && echo '{"services":[]}' && exec cat >/dev/null`]
        : defaultDeviceCommand(input)),
    });
    [weak, hardened, snmpdHost, silent, unlimited] = labnet.devices;
    const [link] = JSON.parse(await ip(['-n', silent.namespace, '-j', 'link', 'show', 'eth0'])) as { address: string }[];
    await ip(['neigh', 'replace', silent.address, 'lladdr', link.address, 'dev', labnet.scanner.interface, 'nud', 'permanent']);
    // A device that sends every ICMP error (none rate-limited), so that a full-range UDP scan takes seconds.
    await run(ipPath, ['netns', 'exec', unlimited.namespace, 'sysctl', '-q', '-w', 'net.ipv4.icmp_ratemask=0']);
    snmpd = await startSnmpd(snmpdBinary, 'rocommunity public\nsysDescr snmpd in a labnet namespace', {
      ip: ipPath, netns: snmpdHost.namespace, address: snmpdHost.address, port: 161,
    });
  });
  after(async () => {
    await snmpd?.stop();
    await labnet?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const cases: { name: string; device: () => LabnetDevice; open: number[]; status: string }[] = [
    { name: 'weak emulator (SNMP v1/v2c on 161, TFTP on 69, only SNMP declared)', device: () => weak, open: [69, 161], status: 'fail' },
    { name: 'hardened emulator (SNMPv3 only on 161)', device: () => hardened, open: [161], status: 'pass' },
    { name: 'Debian snmpd on 161', device: () => snmpdHost, open: [161], status: 'pass' },
  ];
  for (const c of cases) {
    it(`${c.name}: our open, closed and open|filtered ports equal nmap -sU's, though the device rate-limits ICMP errors`, async function () {
      const nmap = requirePeer(this, 'nmap');
      const device = c.device();
      await labnet!.verifyRoutes(device.address);
      const theirs = await nmapUdp(nmap, device.address, STANDARD_PORTS);
      // Both scanners start with the device's full burst of ICMP errors: it refills at one per second.
      await sleep(ICMP_REFILL_MS);
      const { attempt } = await runProbe(udpProbe, {
        host: device.address, services: [{ port: 161, protocol: 'snmp' }], inputs: { scanner: 'builtin', ports: STANDARD_PORTS },
      });
      expect(attempt.status, attempt.message).to.equal(c.status);
      const ours = ourStates(attempt, STANDARD_PORTS);
      expect(sorted(ours)).to.deep.equal(sorted(theirs));
      expect([...ours].filter(([, s]) => s === 'open').map(([p]) => p)).to.deep.equal(c.open);
      // More closed ports than the kernel's ICMP burst of 6: the fast round cannot see them all.
      const pacing = attempt.observations.pacing as { closedOnlyWhenPaced: number[] };
      expect(pacing.closedOnlyWhenPaced.length, 'closed ports found only by the paced re-probe').to.be.at.least(1);
      if (c.status === 'fail') expect(attempt.findings.filter((f) => f.severity !== 'info').map((f) => f.message)).to.deep.equal([`udp/69 is open but not declared in the communication matrix (answered tftp-read-random with 19 bytes)`]);
    });
  }

  it('rate-limited ICMP errors: a fast round alone reads closed ports as silence; the paced re-probe finds every one closed', async () => {
    await labnet!.verifyRoutes(hardened.address);
    const ports = parsePortSpec('40000-40019').map((port) => ({ port, payloads: [EMPTY_PAYLOAD] }));
    const fastOnly = await udpScan(hardened.address, ports, { parallel: 20, responseTimeoutMs: 1000, retries: 0, retryIntervalMs: 0, signal: AbortSignal.timeout(30_000) });
    const misread = fastOnly.ports.filter((p) => p.state === 'open|filtered').length;
    expect(misread, 'closed ports that looked silent without pacing').to.be.at.least(10);
    const paced = await udpScan(hardened.address, ports, { parallel: 20, responseTimeoutMs: 1000, retries: 2, retryIntervalMs: 1100, signal: AbortSignal.timeout(60_000) });
    expect(paced.ports.map((p) => p.state)).to.deep.equal(ports.map(() => 'closed'));
    expect(paced.closedOnlyWhenPaced.length).to.be.at.least(10);
    expect(paced.rounds[1]).to.include({ round: 1, intervalMs: 1100 });
  });

  for (const scanner of ['builtin', 'nmap'] as const) {
    it(`${scanner}: a host that answers nothing: "the host answered nothing", not determined`, async function () {
      if (scanner === 'nmap') requirePeer(this, 'nmap');
      await labnet!.verifyRoutes(silent.address);
      const ports = '53,69,161,500,47808';
      const { attempt } = await runProbe(udpProbe, {
        host: silent.address, services: [{ port: 161, protocol: 'snmp' }], inputs: { scanner, ports },
      });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      expect(attempt.observations.note, JSON.stringify(attempt.observations)).to.match(/^the host answered nothing: none of the 5 UDP ports scanned answered/);
      expect(attempt.observations.openFiltered).to.deep.equal({ count: 5, ports });
    });
  }

  it('ports.tcp and ports.udp over 1-65535 on a device that answers every port: CR 7.7 passes in full; a UDP list scan leaves it undetermined', async () => {
    await labnet!.verifyRoutes(unlimited.address);
    const services = [{ port: 161, protocol: 'snmp' as const }, { port: 69, protocol: 'tftp' as const }];
    const tcp = await runProbe(tcpProbe, { host: unlimited.address, services, inputs: { scanner: 'connect', ports: 'all', maxParallel: 64 } });
    const udp = await runProbe(udpProbe, { host: unlimited.address, services, inputs: { scanner: 'builtin', ports: 'all', maxParallel: 64 } });
    expect(tcp.attempt.outcomes.find((o) => o.requirement === 'CR 7.7')).to.include({ verdict: 'pass', coverage: 'full' });
    expect(udp.attempt.outcomes).to.have.length(1);
    expect(udp.attempt.outcomes[0]).to.include({ verdict: 'pass', coverage: 'full', reason: 'every UDP port that answered among all 65535 UDP ports is declared' });
    expect(udp.attempt.observations).to.deep.include({ fullRange: true, complete: true, closed: 65533, openFiltered: { count: 0, ports: '' } });
    expect(cr77([tcp.attempt, udp.attempt])).to.include({ verdict: 'pass', coverage: 'full' });
    const listScan = await runProbe(udpProbe, { host: unlimited.address, services, inputs: { scanner: 'builtin', ports: STANDARD_PORTS } });
    const row = cr77([tcp.attempt, listScan.attempt]);
    expect(row.verdict).to.equal('not_determined');
    expect(row.reason).to.contain('its udp part has partial coverage only (ports.udp)');
  });
});

function cr77(attempts: Attempt[]) {
  const slTarget = Object.fromEntries(FRS.map((fr) => [fr, 2 as SecurityLevel])) as SlVector;
  const { requirements } = assess({
    catalog: loadCatalog(), component: { name: 'dut', types: ['embedded'], slTarget }, attempts,
    probeRequirements: new Map([['ports.tcp', tcpProbe.requirements], ['ports.udp', udpProbe.requirements]]),
  });
  return requirements.find((r) => r.id === 'CR 7.7')!;
}
