import { expect } from 'chai';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import probe from '../../../probes/robustness/network-storm';
import { startEmulator } from '../../../src/emulator';
import { packetsIn } from '../../../src/emulator/storm';
import { createLabnet, defaultDeviceCommand, labnetAvailability, type DeviceCommandInput, type Labnet } from '../../../src/labnet/netns';
import { hping3Args, npingArpArgs, parseHping3Statistics, parseNpingStatistics, rawSocketsAllowed, StormArgumentRefused } from '../../../src/protocols/storm';
import type { EssentialFunctionConfig } from '../../../src/sdk';
import { findExecutable, requirePeer, requireRoot } from '../../helpers/peers';
import { postureWith } from '../../helpers/postures';
import { requirePymodbus } from '../../helpers/pymodbus';
import { runProbe } from '../../helpers/probe-harness';
import { FAST_MODBUS } from './helpers';

type Step = { label: string; targetRate: number; achievedRate: number; sent: number; monitor: string; measuredBy: string; stoppedBy?: string; interfaceTx?: number };
type Storm = { storm: string; kind: string; status: string; reason?: string; steps?: Step[] };
const stormsOf = (o: Record<string, unknown>) => o.storms as Storm[];
const run = promisify(execFile);

describe('robustness.network-storm: argument builders and parsers', () => {
  const scope = ['198.18.4.2', '127.0.0.1'];

  it('hping3: only a profile host\'s address, paced by -i u<µs> with a packet count, never --flood or a spoofed source', () => {
    const argv = hping3Args({ kind: 'syn', address: '198.18.4.2', port: 502, rate: 1000, count: 5000 }, scope);
    expect(argv).to.deep.equal(['-q', '-n', '-S', '-p', '502', '-i', 'u1000', '-c', '5000', '198.18.4.2']);
    expect(hping3Args({ kind: 'icmp', address: '127.0.0.1', rate: 10_000, count: 1 }, scope)).to.include('u100');
    for (const a of [hping3Args({ kind: 'udp', address: '127.0.0.1', port: 9, rate: 3, count: 9 }, scope), argv]) {
      expect(a.join(' ')).not.to.match(/--flood|--faster|--rand|-a |--spoof/);
    }
  });

  it('refuses every address outside the host, names, broadcasts, and out-of-range ports, rates and counts', () => {
    const refused = (f: () => unknown, why: RegExp) => expect(f).to.throw(StormArgumentRefused, why);
    refused(() => hping3Args({ kind: 'syn', address: '198.18.4.3', port: 502, rate: 100, count: 10 }, scope), /not an address of the host/);
    refused(() => hping3Args({ kind: 'syn', address: 'device.example', port: 502, rate: 100, count: 10 }, [...scope, 'device.example']), /not an IPv4 address literal/);
    refused(() => hping3Args({ kind: 'icmp', address: '198.18.4.255', rate: 100, count: 10 }, ['198.18.4.255']), /not a unicast/);
    refused(() => hping3Args({ kind: 'icmp', address: '224.0.0.1', rate: 100, count: 10 }, ['224.0.0.1']), /not a unicast/);
    refused(() => hping3Args({ kind: 'icmp', address: '127.0.0.1 --flood', rate: 100, count: 10 }, ['127.0.0.1 --flood']), /literal/);
    refused(() => hping3Args({ kind: 'syn', address: '127.0.0.1', port: 0, rate: 100, count: 10 }, scope), /TCP port/);
    refused(() => hping3Args({ kind: 'syn', address: '127.0.0.1', port: 80, rate: 60_000, count: 10 }, scope), /storm rate/);
    refused(() => hping3Args({ kind: 'icmp', address: '127.0.0.1', rate: 100, count: 2_000_001 }, scope), /packet count/);
    refused(() => npingArpArgs({ kind: 'arp', address: '198.18.4.2', rate: 5000, count: 10, interface: 'eth0' }, scope), /nping ARP rate/);
    refused(() => npingArpArgs({ kind: 'arp', address: '198.18.4.2', rate: 100, count: 10, interface: 'eth0;reboot' }, scope), /interface/);
    expect(npingArpArgs({ kind: 'arp', address: '198.18.4.2', rate: 500, count: 10, interface: 'veth1' }, scope)).to.include.members(['--delay', '2ms', '-e', 'veth1']);
  });

  it('reads the tools\' statistics, CAP_NET_RAW and the kernel\'s packet counters', () => {
    expect(parseHping3Statistics('\n--- 10.0.0.2 hping statistic ---\n5000 packets transmitted, 4990 packets received, 0% packet loss\n')).to.deep.equal({ sent: 5000, received: 4990 });
    expect(parseNpingStatistics('Raw packets sent: 2000 (84.000KB) | Rcvd: 1999 (56.000KB) | Lost: 1 (0.05%)')).to.deep.equal({ sent: 2000, received: 1999 });
    expect(parseHping3Statistics('hping3: cannot open raw socket')).to.equal(undefined);
    expect(rawSocketsAllowed('Name:\tnode\nCapEff:\t0000000000000000\n')).to.equal(false);
    expect(rawSocketsAllowed('CapEff:\t0000000000002000\n')).to.equal(true);
    const snmp = 'Icmp: InMsgs InErrors\nIcmp: 7 0\nTcp: RtoAlgorithm InSegs\nTcp: 1 100\nUdp: InDatagrams NoPorts InErrors\nUdp: 10 20 3\n';
    expect(packetsIn(snmp)).to.equal(7 + 100 + 10 + 20 + 3);
  });

  it('the weak emulator outside a namespace of its own says its storm fault is off (it would count the machine\'s traffic)', async () => {
    const emulator = await startEmulator(postureWith('weak', ['modbus']), { ephemeralPorts: true });
    try {
      expect(emulator.notices.join('\n')).to.match(/storm fault \(stormStall\) is off: the emulator does not run in a network namespace of its own/);
    } finally {
      await emulator.close();
    }
  });

  it('without an essentialFunction block sends nothing and determines nothing', async () => {
    const dgram = await import('node:dgram');
    const socket = dgram.createSocket('udp4');
    let received = 0;
    socket.on('message', () => received++);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    try {
      const { attempt } = await runProbe(probe, {
        service: { port: socket.address().port, protocol: 'udp', transport: 'udp' }, inputs: { storms: ['udp', 'udp-closed'], rates: [500], stepSeconds: 1 },
      });
      expect(attempt.status).to.equal('not_determined');
      expect(attempt.outcomes).to.deep.equal([]);
      await new Promise((r) => setTimeout(r, 100));
      expect(received).to.equal(0);
    } finally {
      socket.close();
    }
  });

  it('without raw sockets (an unprivileged user) SYN and ICMP are not sent, ARP on loopback is skipped, the row stays not determined', async function () {
    this.timeout(60_000);
    requireRoot(this, 'runs the fixture as the user nobody');
    const setpriv = requirePeer(this, 'setpriv', findExecutable('setpriv'), 'Debian package util-linux');
    const fixture = path.join(__dirname, 'storm-unprivileged.ts');
    const { stdout } = await run(setpriv, ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--import', 'tsx', fixture], {
      cwd: path.join(__dirname, '..', '..', '..'), env: { ...process.env, HOME: os.tmpdir() }, timeout: 50_000,
    });
    const attempt = JSON.parse(stdout.trim().split('\n').at(-1)!) as { status: string; outcomes: unknown[]; observations: Record<string, unknown> };
    expect(attempt.status).to.equal('not_determined');
    expect(attempt.outcomes).to.deep.equal([]);
    expect(attempt.observations.rawSockets).to.equal(false);
    const storms = stormsOf(attempt.observations);
    expect(storms.find((s) => s.kind === 'syn')).to.include({ status: 'not-run', reason: 'raw sockets need root or CAP_NET_RAW, which this process lacks' });
    expect(storms.find((s) => s.kind === 'icmp')?.status).to.equal('not-run');
    expect(storms.find((s) => s.kind === 'arp')?.status).to.equal('not-applicable');
    expect(storms.find((s) => s.kind === 'arp')?.reason).to.match(/directly connected bench link: 127\.0\.0\.1 is a local address/);
    expect(storms.every((s) => !s.steps)).to.equal(true);
    expect(attempt.observations.notDetermined).to.match(/raw sockets need root/);
  });
});

/** A Modbus-only posture file (JSON is YAML) whose counter steps every 100 ms, for a device in the labnet. */
function modbusPostureFile(dir: string, name: 'weak' | 'hardened'): string {
  const base = postureWith(name, ['modbus']);
  const file = path.join(dir, `${name}.yaml`);
  fs.writeFileSync(file, JSON.stringify({ ...base, services: { modbus: { ...base.services.modbus!, enabled: true, port: 502, counter: { table: 'holding-registers', address: 0, periodMs: 100 } } } }));
  return file;
}

const PYMODBUS = 'pymodbus';
const PYMODBUS_SCRIPT = path.join(__dirname, '..', '..', '..', 'docker', 'sims', 'pymodbus', 'server.py');

/** The labnet's device command: our emulator, or Debian's pymodbus (announced as the emulator would once it is ready). */
function deviceCommand(python: string | undefined) {
  return (input: DeviceCommandInput): string[] => {
    if (path.basename(input.posture) !== PYMODBUS) return defaultDeviceCommand(input);
    const services = JSON.stringify({ services: [{ protocol: 'modbus', host: input.host, port: 502 }] });
    return ['/bin/sh', '-c', `"$0" -u "$1" "$2" 502 --unit 1 --model fixture --product storm --exit-on-stdin-eof | while read -r line; do case "$line" in ready*) echo '${services}';; esac; done`, python ?? 'python3', PYMODBUS_SCRIPT, input.host];
  };
}

/** tshark on the device's side of the link, in its namespace: captures what arrives until stopped. */
async function captureIn(netns: string, filter: string, file: string): Promise<{ stop(): Promise<void> }> {
  const child: ChildProcess = spawn('ip', ['netns', 'exec', netns, 'tshark', '-q', '-i', 'eth0', '-f', filter, '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  for (let i = 0; i < 100 && !/Capturing on/.test(err); i++) await new Promise((r) => setTimeout(r, 50));
  if (!/Capturing on/.test(err)) throw new Error(`tshark did not start: ${err}`);
  return {
    stop: () => new Promise((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGINT');
    }),
  };
}

/** One pass of tshark over the capture: how many hping3 SYNs, UDP datagrams to the closed port, echo requests and ARP requests it decoded. */
async function countIn(file: string): Promise<Record<'syn' | 'udp-closed' | 'icmp' | 'arp', number>> {
  const fields = ['tcp.flags.syn', 'tcp.flags.ack', 'tcp.window_size_value', 'udp.dstport', 'icmp.type', 'arp.opcode'];
  const { stdout } = await run('tshark', ['-r', file, '-T', 'fields', ...fields.flatMap((f) => ['-e', f]), '-E', 'separator=,'], { maxBuffer: 64 * 1024 * 1024 });
  const counts = { syn: 0, 'udp-closed': 0, icmp: 0, arp: 0 };
  for (const line of stdout.split('\n').filter(Boolean)) {
    const [syn, ack, win, udpPort, icmpType, arpOp] = line.split(',');
    if (/^(1|True)$/.test(syn) && /^(0|False)$/.test(ack) && win === '512') counts.syn++;
    else if (udpPort === '33434') counts['udp-closed']++;
    else if (icmpType === '8') counts.icmp++;
    else if (arpOp === '1') counts.arp++;
  }
  return counts;
}

const sentBy = (storm: Storm | undefined) => (storm?.steps ?? []).reduce((n, s) => n + s.sent, 0);

describe('robustness.network-storm in a labnet (root)', function () {
  this.timeout(60_000);
  let labnet: Labnet | undefined;
  let dir: string;
  const device = (name: string) => labnet!.devices.find((d) => d.name === name)!;
  const monitorOf = (kind: 'counter' | 'value'): EssentialFunctionConfig => ({ ...FAST_MODBUS, modbus: { register: 0, kind, periodMs: 100 } });

  before(async function () {
    this.timeout(90_000);
    requireRoot(this, 'network namespaces and raw sockets (hping3, nping)');
    const available = await labnetAvailability();
    if (!available.ok) throw new Error(`labnet: ${available.reason}`);
    requirePeer(this, 'hping3', findExecutable('hping3'), 'Debian package hping3');
    requirePeer(this, 'nping', findExecutable('nping'), 'Debian package nping');
    requirePeer(this, 'tshark', findExecutable('tshark'), 'Debian package tshark');
    const python = requirePymodbus(this);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-storm-'));
    labnet = await createLabnet({
      topology: 'root', deviceCommand: deviceCommand(python),
      devices: [{ name: 'weak', posture: modbusPostureFile(dir, 'weak') }, { name: 'hardened', posture: modbusPostureFile(dir, 'hardened') }, { name: PYMODBUS, posture: PYMODBUS }],
    });
  });

  after(async () => {
    await labnet?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('weak emulator: the counter stalls under a 5000/s SYN storm: CR 7.1 fails naming the storm and rate', async () => {
    const { address } = device('weak');
    const { attempt } = await runProbe(probe, {
      host: address, service: { port: 502, protocol: 'modbus', unitId: 1 }, monitor: monitorOf('counter'), inputs: { storms: ['syn', 'icmp'], rates: [100, 5000], stepSeconds: 4 },
    });
    expect(attempt.status, attempt.message).to.equal('fail');
    const lost = attempt.findings.find((f) => f.code === 'robustness.network-storm.function-lost-under-storm');
    expect(lost?.message).to.match(/At 5000 packets\/s \(TCP SYN to 502\/tcp/).and.to.match(/frozen/);
    const [syn, icmp] = stormsOf(attempt.observations);
    expect(syn.steps?.[0]).to.include({ targetRate: 100, monitor: 'maintained' });
    expect(syn.steps?.[1].stoppedBy).to.equal('function lost');
    expect(syn.steps?.[1].achievedRate).to.be.greaterThan(1500);
    expect(icmp).to.include({ status: 'not-run', reason: 'the function was lost at an earlier storm (stopOnLoss)' });
  });

  it('hardened emulator: every storm at 5000/s (ARP held at 1000/s), the counter keeps counting: pass; tshark in the namespace counts what we recorded as sent', async () => {
    const { address, namespace } = device('hardened');
    const pcap = path.join(dir, 'hardened.pcapng');
    // hping3's SYNs (window 512), the UDP storm's closed port, echo requests, ARP requests: not the monitor's own.
    const capture = await captureIn(namespace, `(tcp[tcpflags] == tcp-syn and tcp[14:2] == 512) or udp dst port 33434 or icmp[icmptype] == icmp-echo or (arp and arp[6:2] == 1)`, pcap);
    const { attempt } = await runProbe(probe, {
      host: address, service: { port: 502, protocol: 'modbus', unitId: 1 }, monitor: monitorOf('counter'), inputs: { rates: [5000], stepSeconds: 1 },
    });
    await new Promise((r) => setTimeout(r, 300)); // what is still in the capture buffer
    await capture.stop();
    expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
    const storms = stormsOf(attempt.observations);
    expect(storms.map((s) => s.status)).to.deep.equal(['run', 'not-applicable', 'run', 'run', 'run']);
    expect(storms.find((s) => s.kind === 'udp')?.reason).to.equal('the host declares no UDP service');
    expect((attempt.observations.clamped as string[]).join('; ')).to.match(/ARP steps above 1000\/s held at 1000\/s/);
    for (const s of storms.filter((x) => x.steps)) for (const step of s.steps!) expect(['maintained', 'degraded']).to.include(step.monitor);
    const syn = storms.find((s) => s.kind === 'syn')!;
    expect(syn.steps![0].measuredBy).to.equal('hping3 statistics');
    expect(syn.steps![0].achievedRate).to.be.within(2000, 5600);
    expect(syn.steps![0].interfaceTx).to.be.at.least(syn.steps![0].sent);
    const seen = await countIn(pcap);
    for (const kind of ['syn', 'udp-closed', 'icmp', 'arp'] as const) {
      const storm = storms.find((s) => s.kind === kind);
      const sent = sentBy(storm);
      expect(sent, kind).to.be.greaterThan(0);
      expect(Math.abs(seen[kind] - sent), `${kind}: sent ${sent}, tshark saw ${seen[kind]}, steps ${JSON.stringify(storm?.steps)}`).to.be.at.most(Math.max(3, sent * 0.02));
    }
  });

  it('pymodbus (independent server) keeps answering under the same SYN storm: pass', async () => {
    const { address } = device(PYMODBUS);
    const { attempt } = await runProbe(probe, {
      host: address, service: { port: 502, protocol: 'modbus', unitId: 1 }, monitor: monitorOf('value'), inputs: { storms: ['syn'], rates: [100, 5000], stepSeconds: 1 },
    });
    expect(attempt.status, `${attempt.message} ${JSON.stringify(attempt.findings)}`).to.equal('pass');
    expect(stormsOf(attempt.observations)[0].steps?.map((s) => s.targetRate)).to.deep.equal([100, 5000]);
  });

  it('clamps rates, step length and the total to the caps and says so; the measured rate stays under the cap', async () => {
    const { address } = device('hardened');
    const { attempt } = await runProbe(probe, {
      host: address, service: { port: 502, protocol: 'modbus', unitId: 1 }, monitor: monitorOf('counter'),
      robustness: { maxRate: 300, maxStepSeconds: 1, maxTotal: 350 }, inputs: { storms: ['icmp', 'syn'], rates: [100, 5000], stepSeconds: 30 },
    });
    const clamped = attempt.observations.clamped as string[];
    expect(clamped).to.include('step rate 5000/s lowered to maxRate 300/s');
    expect(clamped).to.include('step length 30 s lowered to maxStepSeconds 1 s');
    const [icmp, syn] = stormsOf(attempt.observations);
    expect(icmp.steps?.map((s) => s.targetRate)).to.deep.equal([100, 300]);
    expect(icmp.steps![1].achievedRate).to.be.at.most(330);
    expect(sentBy(icmp)).to.be.at.most(350);
    expect(icmp.steps![1].stoppedBy).to.equal('total cap');
    expect(syn).to.include({ status: 'not-run' });
    expect(syn.reason).to.match(/packet budget \(robustness\.maxTotal 350\) was spent/);
    expect(attempt.status).to.equal('not_determined');
  });

  it('Ctrl-C stops the generator within 1 s (error: cancelled), and no hping3 is left', async () => {
    const { address } = device('hardened');
    const ctrlC = new AbortController();
    const running = runProbe(probe, {
      host: address, service: { port: 502, protocol: 'modbus', unitId: 1 }, monitor: monitorOf('counter'), inputs: { storms: ['icmp'], rates: [1000], stepSeconds: 30 }, runSignal: ctrlC.signal,
    });
    await new Promise((r) => setTimeout(r, 1500));
    const children = async () => (await run('ps', ['-o', 'pid=,comm=', '--ppid', String(process.pid)]).catch(() => ({ stdout: '' }))).stdout;
    expect(await children()).to.match(/hping3/);
    const abortedAt = Date.now();
    ctrlC.abort(new Error('SIGINT'));
    const { attempt } = await running;
    expect(Date.now() - abortedAt).to.be.below(1000);
    expect(attempt).to.include({ status: 'error', reason: 'cancelled' });
    expect(await children()).not.to.match(/hping3/);
  });
});
