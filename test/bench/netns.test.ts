import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BenchRefused, benchNetAvailability, checkRoute, createBench, findIp, ip, listNamespaces, listRootLinks, pidAlive, sweepStale, type Bench,
} from '../../src/bench/netns';
import { requirePeer } from '../helpers/peers';

/*
 * These tests create network namespaces, so they need root and iproute2. Where that is missing they skip
 * with the reason; under IACS_REQUIRE_PEERS=1 (CI, which runs as root) they fail instead.
 * Every connection below goes to a bench address only after checkRoute()/verifyRoutes() has shown that
 * it routes over the bench link; the refusal tests only ask `ip route get`, which sends nothing.
 */

const BANNER = 'BENCH PLC console';
const PORT = 2323; // fixed: each device namespace has its own ports
let postureFile = '';
let tmp = '';

/** Reads the console banner, logs in and returns everything printed up to the shell prompt. */
function telnetLogin(host: string, port: number): Promise<{ text: string; localAddress: string }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port, timeout: 5000 });
    let text = '';
    let step = 0;
    socket.on('data', (d) => {
      text += d.toString('latin1');
      if (step === 0 && text.endsWith('login: ')) socket.write(`${['admin', 'admin'][step++]}\r\n`);
      else if (step === 1 && text.endsWith('Password: ')) socket.write(`${['admin', 'admin'][step++]}\r\n`);
      else if (text.endsWith('> ')) {
        const localAddress = socket.localAddress ?? '';
        socket.destroy();
        resolve({ text, localAddress });
      }
    });
    socket.on('timeout', () => socket.destroy(new Error(`timeout; got ${JSON.stringify(text)}`)));
    socket.on('error', reject);
  });
}

/** The namespaces and root links with this bench's names that still exist. */
async function leftovers(owned: Bench['owned']): Promise<string[]> {
  const namespaces = new Set(await listNamespaces());
  const links = new Set(await listRootLinks());
  return [...owned.namespaces.filter((n) => namespaces.has(n)), ...owned.links.filter((l) => links.has(l))];
}

async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing; stderr: ${err}`)));
  });
}

describe('bench network: devices in network namespaces', function () {
  this.timeout(30_000);

  before(async function () {
    const available = await benchNetAvailability();
    if (!available.ok) {
      if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`bench network tests must run here: ${available.reason}`);
      console.warn(`      bench network tests skipped: ${available.reason}`);
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-bench-test-'));
    postureFile = path.join(tmp, 'bench.yaml');
    fs.writeFileSync(postureFile, [
      'name: bench-test',
      'accounts: [{ username: admin, password: admin }]',
      `services: { telnet: { port: ${PORT}, banner: "${BANNER}" } }`,
      '',
    ].join('\n'));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('topology "root": the root-namespace end of the veth carries a bench address', () => {
    let bench: Bench;
    before(async () => {
      bench = await createBench({ topology: 'root', devices: [{ posture: postureFile, name: 'plc' }] });
    });
    after(async () => {
      await bench?.close();
    });

    it('gives the device its own address, on which its console answers over the bench link', async () => {
      const [device] = bench.devices;
      expect(device.services).to.deep.equal([{ protocol: 'telnet', host: device.address, port: PORT }]);
      expect(bench.scanner.namespace).to.equal(null);
      const route = await checkRoute(device.address, { dev: bench.scanner.interface });
      expect(route).to.include({ dev: bench.scanner.interface, prefsrc: bench.scanner.address });
      expect(route.gateway).to.equal(undefined);

      const { text, localAddress } = await telnetLogin(device.address, PORT);
      expect(text).to.match(new RegExp(`^${BANNER}`)).and.to.contain('Welcome admin');
      expect(localAddress, 'left from the bench address, not loopback').to.equal(bench.scanner.address);
    });

    it('refuses a second bench on a subnet the machine already routes, and leaves nothing of it', async () => {
      const before = new Set([...await listNamespaces(), ...await listRootLinks()]);
      let refused: unknown;
      try {
        await createBench({ topology: 'root', subnet: bench.subnet, devices: [{ posture: postureFile }] });
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(BenchRefused);
      expect((refused as Error).message).to.contain('already routed').and.contain(bench.scanner.interface);
      const after = [...await listNamespaces(), ...await listRootLinks()].filter((n) => !before.has(n));
      expect(after).to.deep.equal([]);
    });

    it('refuses an address that would leave via the default route, asking only `ip route get`', async () => {
      // In 198.18.0.0/15 but not this bench's /24: nothing routes it here, so it would take the default route.
      const outside = bench.subnet.startsWith('198.18.77.') ? '198.18.78.9' : '198.18.77.9';
      const [defaultRoute] = JSON.parse(await ip(['-j', '-4', 'route', 'show', 'default'])) as { dev: string; gateway?: string }[];
      const refusal = async (check: () => Promise<unknown>) => {
        try {
          await check();
        } catch (err) {
          return err as Error;
        }
        return undefined;
      };
      const viaKernel = await refusal(() => checkRoute(outside, { dev: bench.scanner.interface }));
      expect(viaKernel).to.be.instanceOf(BenchRefused);
      if (defaultRoute) expect(viaKernel?.message).to.contain(`dev ${defaultRoute.dev}`);
      else expect(viaKernel?.message).to.contain('no route'); // a machine without a default route
      const viaBench = await refusal(() => bench.verifyRoutes(outside));
      expect(viaBench).to.be.instanceOf(BenchRefused);
      expect(viaBench?.message).to.contain('not in the bench subnet');
    });
  });

  describe('topology "namespace": the scanner runs in a namespace of its own', () => {
    let bench: Bench;
    before(async () => {
      bench = await createBench({ devices: [{ posture: postureFile, name: 'plc-a' }, { posture: postureFile, name: 'plc-b' }] });
    });
    after(async () => {
      await bench?.close();
    });

    it('reaches each device console from a process in the scanner namespace', async () => {
      const script = `const s = require('net').connect(+process.argv[2], process.argv[1]); let t = '';
        s.on('data', (d) => { t += d; if (t.endsWith('login: ')) { process.stdout.write(s.localAddress + '\\n' + t); s.destroy(); } });
        s.on('error', (e) => { console.error(e.message); process.exitCode = 1; });`;
      for (const device of bench.devices) {
        const result = await bench.run(process.execPath, ['-e', script, device.address, String(PORT)], { timeoutMs: 10_000 });
        expect(result.stderr).to.equal('');
        expect(result.code).to.equal(0);
        const [source, ...rest] = result.stdout.split('\n');
        expect(source).to.equal(bench.scanner.address);
        expect(rest.join('\n')).to.match(new RegExp(`^${BANNER}`));
      }
    });

    it('the root namespace has no route to the devices: the route check refuses (via the default route or none)', async () => {
      for (const device of bench.devices) {
        let refused: unknown;
        try {
          await checkRoute(device.address, { dev: bench.scanner.interface }); // asks `ip route get` in the root namespace
        } catch (err) {
          refused = err;
        }
        expect(refused, device.address).to.be.instanceOf(BenchRefused);
        expect((refused as Error).message).to.match(/refusing/);
      }
    });

    it('adds no route beyond the bench subnet and enables no forwarding in any of its namespaces', async () => {
      for (const netns of bench.owned.namespaces) {
        const routes = JSON.parse(await ip(['-n', netns, '-j', '-4', 'route', 'show'])) as { dst: string; gateway?: string }[];
        expect(routes.filter((r) => r.dst !== bench.subnet), netns).to.deep.equal([]);
        const forward = spawnSync(findIp() ?? 'ip', ['netns', 'exec', netns, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' });
        expect(forward.stdout.trim(), netns).to.equal('0');
      }
    });

    it('nmap -sT from the scanner namespace finds the console port open and its neighbours closed', async function () {
      const nmap = requirePeer(this, 'nmap');
      const result = await bench.run(nmap, ['-sT', '-Pn', '-n', '-p', `${PORT - 1}-${PORT + 1}`, '--max-retries', '1', '-oX', '-',
        ...bench.devices.map((d) => d.address)], { timeoutMs: 20_000 });
      expect(result.code, result.stderr).to.equal(0);
      for (const device of bench.devices) {
        const hostXml = result.stdout.split('<host ').find((h) => h.includes(`addr="${device.address}"`)) ?? '';
        expect(hostXml, device.address).to.match(new RegExp(`portid="${PORT}"><state state="open"`));
        expect(hostXml).to.match(new RegExp(`portid="${PORT + 1}"><state state="closed"`));
        expect(hostXml).to.match(new RegExp(`portid="${PORT - 1}"><state state="closed"`));
      }
    });
  });

  it('checkRoute refuses a local address and accepts nothing but the named link', async () => {
    let refused: unknown;
    try {
      await checkRoute('127.0.0.1', { dev: 'lo' });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(BenchRefused);
    expect((refused as Error).message).to.contain('local');
  });

  it('close() stops the devices and removes every namespace and link', async () => {
    const bench = await createBench({ topology: 'root', devices: [{ posture: postureFile }] });
    const { owned } = bench;
    expect(owned.namespaces).to.have.length(2);
    expect(owned.links).to.have.length(1);
    expect(await leftovers(owned)).to.deep.equal(owned.namespaces.concat(owned.links));
    const pid = bench.devices[0].pid;
    expect(pidAlive(pid)).to.equal(true);
    await bench.close();
    expect(await leftovers(owned)).to.deep.equal([]);
    expect(pidAlive(pid), 'device process').to.equal(false);
    await bench.close(); // idempotent
  });

  /** Runs test/bench/bench-child.ts, which builds a one-device bench, and returns what it owns once it is up. */
  async function benchChild(mode: 'wait' | 'exit') {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'bench-child.ts'), postureFile, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
    const { owned, devices } = JSON.parse(await firstLine(child)) as { owned: Bench['owned']; devices: Bench['devices'] };
    return { child, exited, owned, devicePid: devices[0].pid };
  }

  it('a process that ends by SIGTERM or process.exit() removes its bench on the way out', async () => {
    const terminated = await benchChild('wait');
    terminated.child.kill('SIGTERM');
    expect(await terminated.exited, 'dies of the signal, as without the helper').to.deep.equal([null, 'SIGTERM']);
    expect(await leftovers(terminated.owned)).to.deep.equal([]);
    await waitUntil('the device process has stopped', () => !pidAlive(terminated.devicePid));

    const exiting = await benchChild('exit');
    expect(await exiting.exited).to.deep.equal([0, null]);
    expect(await leftovers(exiting.owned)).to.deep.equal([]);
    await waitUntil('the device process has stopped', () => !pidAlive(exiting.devicePid));
  });

  it('after a crash (SIGKILL) the device stops by itself and the sweeper removes what was left', async () => {
    const { child, exited, owned, devicePid } = await benchChild('wait');
    child.kill('SIGKILL');
    await exited;
    await waitUntil('the orphaned device process has stopped', () => !pidAlive(devicePid));
    expect(await leftovers(owned), 'a crash leaves its namespaces').to.not.deep.equal([]);
    const removed = await sweepStale();
    expect(removed.namespaces).to.include.members(owned.namespaces);
    expect(await leftovers(owned)).to.deep.equal([]);
  });

  it('the sweeper removes namespaces and links of dead owners and keeps those of live ones', async () => {
    const deadPid = spawnSync('true').pid;
    expect(pidAlive(deadPid)).to.equal(false);
    const dead = { ns: `iacsp-${deadPid}-0-sw`, link: `iacsp${deadPid}-0` };
    const liveNs = `iacsp-${process.ppid}-keep`; // our parent is alive
    try {
      await ip(['netns', 'add', dead.ns]);
      await ip(['link', 'add', 'name', dead.link, 'type', 'veth', 'peer', 'name', 'x0', 'netns', dead.ns]);
      await ip(['netns', 'add', liveNs]);
      const removed = await sweepStale();
      expect(removed.namespaces).to.include(dead.ns).and.not.include(liveNs);
      const namespaces = await listNamespaces();
      expect(namespaces).to.include(liveNs).and.not.include(dead.ns);
      await waitUntil('the dead owner\'s veth is gone', async () => !(await listRootLinks()).includes(dead.link));
    } finally {
      await ip(['netns', 'delete', liveNs]).catch(() => undefined);
      await ip(['netns', 'delete', dead.ns]).catch(() => undefined);
      await ip(['link', 'delete', dead.link]).catch(() => undefined);
    }
  });

  it('the bench-net command tears everything down on SIGTERM', async () => {
    const cli = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, '../../src/bench/bench-net.ts'), 'up', '--posture', postureFile], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const info = JSON.parse(await firstLine(cli)) as { bench: { id: string; devices: { address: string; namespace: string }[] } };
    expect(info.bench.devices).to.have.length(1);
    expect(await listNamespaces()).to.include(info.bench.devices[0].namespace);
    const exited = new Promise<number | null>((r) => cli.once('exit', (code) => r(code)));
    cli.kill('SIGTERM');
    expect(await exited).to.equal(143);
    const ours = (name: string) => name.includes(info.bench.id);
    expect((await listNamespaces()).filter(ours)).to.deep.equal([]);
    expect((await listRootLinks()).filter(ours)).to.deep.equal([]);
  });
});
