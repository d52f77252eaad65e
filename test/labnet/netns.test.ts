import { expect } from 'chai';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { PostureError } from '../../src/emulator';
import {
  DeviceStartError, LabnetRefused, labnetAvailability, checkRoute, createLabnet, defaultDeviceCommand, findIp, ip, listNamespaces, listRootLinks, pidAlive,
  sweepStaleLabnets, type Labnet,
} from '../../src/labnet/netns';
import { requirePeer } from '../helpers/peers';

/*
 * These tests create network namespaces, so they need root and iproute2. Where that is missing they skip
 * with the reason; under IACS_REQUIRE_PEERS=1 (CI, which runs as root) they fail instead.
 * Every connection below goes to a labnet address only after checkRoute()/verifyRoutes() has shown that
 * it routes over the labnet link; the refusal tests only ask `ip route get`, which sends nothing.
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

/** The namespaces and root links with this labnet's names that still exist. */
async function leftovers(owned: Labnet['owned']): Promise<string[]> {
  const namespaces = new Set(await listNamespaces());
  const links = new Set(await listRootLinks());
  return [...owned.namespaces.filter((n) => namespaces.has(n)), ...owned.links.filter((l) => links.has(l))];
}

// 15 s: a device stopping its emulator takes well under a second, but not on a machine loaded by parallel test runs.
async function waitUntil(what: string, condition: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
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

describe('labnet: devices in network namespaces', function () {
  this.timeout(30_000);

  before(async function () {
    const available = await labnetAvailability();
    if (!available.ok) {
      if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`labnet tests must run here: ${available.reason}`);
      console.warn(`      labnet tests skipped: ${available.reason}`);
      this.skip();
    }
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-labnet-test-'));
    postureFile = path.join(tmp, 'labnet.yaml');
    fs.writeFileSync(postureFile, [
      'name: labnet-test',
      'accounts: [{ username: admin, password: admin }]',
      `services: { telnet: { port: ${PORT}, banner: "${BANNER}" } }`,
      '',
    ].join('\n'));
  });

  after(() => {
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  describe('topology "root": the root-namespace end of the veth carries a labnet address', () => {
    let labnet: Labnet;
    before(async () => {
      labnet = await createLabnet({ topology: 'root', devices: [{ posture: postureFile, name: 'plc' }] });
    });
    after(async () => {
      await labnet?.close();
    });

    it('gives the device its own address, on which its console answers over the labnet link', async () => {
      const [device] = labnet.devices;
      expect(device.services).to.deep.equal([{ protocol: 'telnet', host: device.address, port: PORT }]);
      expect(labnet.scanner.namespace).to.equal(null);
      const route = await checkRoute(device.address, { dev: labnet.scanner.interface });
      expect(route).to.include({ dev: labnet.scanner.interface, prefsrc: labnet.scanner.address });
      expect(route.gateway).to.equal(undefined);

      const { text, localAddress } = await telnetLogin(device.address, PORT);
      expect(text).to.match(new RegExp(`^${BANNER}`)).and.to.contain('Welcome admin');
      expect(localAddress, 'left from the labnet address, not loopback').to.equal(labnet.scanner.address);
    });

    it('refuses a second labnet on a subnet the machine already routes, and leaves nothing of it', async () => {
      const before = new Set([...await listNamespaces(), ...await listRootLinks()]);
      let refused: unknown;
      try {
        await createLabnet({ topology: 'root', subnet: labnet.subnet, devices: [{ posture: postureFile }] });
      } catch (err) {
        refused = err;
      }
      expect(refused).to.be.instanceOf(LabnetRefused);
      expect((refused as Error).message).to.contain('already routed').and.contain(labnet.scanner.interface);
      const after = [...await listNamespaces(), ...await listRootLinks()].filter((n) => !before.has(n));
      expect(after).to.deep.equal([]);
    });

    it('refuses an address that would leave via the default route, asking only `ip route get`', async () => {
      // In 198.18.0.0/15 but not this labnet's /24: nothing routes it here, so it would take the default route.
      const outside = labnet.subnet.startsWith('198.18.77.') ? '198.18.78.9' : '198.18.77.9';
      const [defaultRoute] = JSON.parse(await ip(['-j', '-4', 'route', 'show', 'default'])) as { dev: string; gateway?: string }[];
      const refusal = async (check: () => Promise<unknown>) => {
        try {
          await check();
        } catch (err) {
          return err as Error;
        }
        return undefined;
      };
      const viaKernel = await refusal(() => checkRoute(outside, { dev: labnet.scanner.interface }));
      expect(viaKernel).to.be.instanceOf(LabnetRefused);
      if (defaultRoute) expect(viaKernel?.message).to.contain(`dev ${defaultRoute.dev}`);
      else expect(viaKernel?.message).to.contain('no route'); // a machine without a default route
      const viaLabnet = await refusal(() => labnet.verifyRoutes(outside));
      expect(viaLabnet).to.be.instanceOf(LabnetRefused);
      expect(viaLabnet?.message).to.contain('not in the labnet subnet');
    });
  });

  describe('topology "namespace": the scanner runs in a namespace of its own', () => {
    let labnet: Labnet;
    before(async () => {
      labnet = await createLabnet({ devices: [{ posture: postureFile, name: 'plc-a' }, { posture: postureFile, name: 'plc-b' }] });
    });
    after(async () => {
      await labnet?.close();
    });

    it('reaches each device console from a process in the scanner namespace', async () => {
      const script = `const s = require('net').connect(+process.argv[2], process.argv[1]); let t = '';
        s.on('data', (d) => { t += d; if (t.endsWith('login: ')) { process.stdout.write(s.localAddress + '\\n' + t); s.destroy(); } });
        s.on('error', (e) => { console.error(e.message); process.exitCode = 1; });`;
      for (const device of labnet.devices) {
        const result = await labnet.run(process.execPath, ['-e', script, device.address, String(PORT)], { timeoutMs: 10_000 });
        expect(result.stderr).to.equal('');
        expect(result.code).to.equal(0);
        const [source, ...rest] = result.stdout.split('\n');
        expect(source).to.equal(labnet.scanner.address);
        expect(rest.join('\n')).to.match(new RegExp(`^${BANNER}`));
      }
    });

    it('the root namespace has no route to the devices: the route check refuses (via the default route or none)', async () => {
      for (const device of labnet.devices) {
        let refused: unknown;
        try {
          await checkRoute(device.address, { dev: labnet.scanner.interface }); // asks `ip route get` in the root namespace
        } catch (err) {
          refused = err;
        }
        expect(refused, device.address).to.be.instanceOf(LabnetRefused);
        expect((refused as Error).message).to.match(/refusing/);
      }
    });

    it('adds no route beyond the labnet subnet and enables no forwarding in any of its namespaces', async () => {
      for (const netns of labnet.owned.namespaces) {
        const routes = JSON.parse(await ip(['-n', netns, '-j', '-4', 'route', 'show'])) as { dst: string; gateway?: string }[];
        expect(routes.filter((r) => r.dst !== labnet.subnet), netns).to.deep.equal([]);
        const forward = spawnSync(findIp() ?? 'ip', ['netns', 'exec', netns, 'cat', '/proc/sys/net/ipv4/ip_forward'], { encoding: 'utf8' });
        expect(forward.stdout.trim(), netns).to.equal('0');
      }
    });

    it('nmap -sT from the scanner namespace finds the console port open and its neighbours closed', async function () {
      const nmap = requirePeer(this, 'nmap');
      const result = await labnet.run(nmap, ['-sT', '-Pn', '-n', '-p', `${PORT - 1}-${PORT + 1}`, '--max-retries', '1', '-oX', '-',
        ...labnet.devices.map((d) => d.address)], { timeoutMs: 20_000 });
      expect(result.code, result.stderr).to.equal(0);
      for (const device of labnet.devices) {
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
    expect(refused).to.be.instanceOf(LabnetRefused);
    expect((refused as Error).message).to.contain('local');
  });

  /** Namespaces and root links of this process's labnets that exist now. */
  async function ours(): Promise<string[]> {
    return [...await listNamespaces(), ...await listRootLinks()].filter((n) => n.startsWith(`iacsp-${process.pid}-`) || n.startsWith(`iacsp${process.pid}-`));
  }

  it('a posture that does not load is refused before anything is made', async () => {
    const before = await ours();
    let refused: unknown;
    try {
      await createLabnet({ devices: [{ posture: path.join(tmp, 'no-such-posture.yaml') }] });
    } catch (err) {
      refused = err;
    }
    expect(refused).to.be.instanceOf(PostureError);
    expect(await ours()).to.deep.equal(before);
  });

  it('an abort while a device starts stops it and removes what was made', async () => {
    const before = await ours();
    const controller = new AbortController();
    const started = Date.now();
    // The device never prints its services line; the abort comes while the labnet waits for it.
    const silentDevice = () => {
      setTimeout(() => controller.abort(new Error('stop the set-up')), 200);
      return ['/bin/sh', '-c', 'exec cat >/dev/null'];
    };
    const setup = createLabnet({ topology: 'root', devices: [{ posture: 'weak' }], deviceCommand: silentDevice, signal: controller.signal });
    let rejected: unknown;
    try {
      await setup;
    } catch (err) {
      rejected = err;
    }
    expect((rejected as Error).message).to.equal('stop the set-up');
    expect(rejected).to.not.be.instanceOf(DeviceStartError);
    expect(Date.now() - started, 'long before the 30 s start timeout').to.be.below(15_000);
    expect(await ours()).to.deep.equal(before);
  });

  it('many devices starting under one signal add one listener to it, and its abort stops them all', async () => {
    const before = await ours();
    const controller = new AbortController();
    // 12 silent devices: more than the 10 listeners Node accepts on one signal before it warns (a test failure here).
    // The abort comes once every device waits for its services line.
    let commands = 0;
    const silentDevice = () => {
      if (++commands === 12) setTimeout(() => controller.abort(new Error('stop the set-up')), 200);
      return ['/bin/sh', '-c', 'exec cat >/dev/null'];
    };
    const devices = Array.from({ length: 12 }, () => ({ posture: 'weak' }));
    const setup = createLabnet({ topology: 'root', devices, deviceCommand: silentDevice, signal: controller.signal });
    let rejected: unknown;
    try {
      await setup;
    } catch (err) {
      rejected = err;
    }
    expect((rejected as Error).message).to.equal('stop the set-up');
    expect(await ours()).to.deep.equal(before);
  });

  it('close() stops the devices and removes every namespace and link', async () => {
    const labnet = await createLabnet({ topology: 'root', devices: [{ posture: postureFile }] });
    const { owned } = labnet;
    expect(owned.namespaces).to.have.length(2);
    expect(owned.links).to.have.length(1);
    expect(await leftovers(owned)).to.deep.equal(owned.namespaces.concat(owned.links));
    const pid = labnet.devices[0].pid;
    expect(pidAlive(pid)).to.equal(true);
    await labnet.close();
    expect(await leftovers(owned)).to.deep.equal([]);
    expect(pidAlive(pid), 'device process').to.equal(false);
    await labnet.close(); // idempotent
  });

  it('a device started with --connection-log writes, as it stops, how many connections it held at once', async () => {
    const log = path.join(tmp, 'connections.json');
    const labnet = await createLabnet({
      topology: 'root', devices: [{ posture: postureFile }],
      deviceCommand: (input) => [...defaultDeviceCommand(input), '--connection-log', log],
    });
    const [device] = labnet.devices;
    let held: net.Socket | undefined;
    try {
      // One connection held open (the device has answered on it), a second that logs in meanwhile: 2 at once.
      held = net.connect({ host: device.address, port: PORT, timeout: 5000 });
      await new Promise((resolve, reject) => held!.once('data', resolve).once('error', reject));
      await telnetLogin(device.address, PORT);
      expect(fs.existsSync(log), 'written only when the device stops').to.equal(false);
    } finally {
      held?.destroy();
      await labnet.close();
    }
    const stats = JSON.parse(fs.readFileSync(log, 'utf8')) as { host: string; total: number; peak: number; services: Record<string, unknown> };
    expect(stats).to.deep.include({ host: device.address, total: 2, peak: 2 });
    expect(stats.services).to.deep.equal({ telnet: { total: 2, peak: 2 } });
  });

  /** Runs test/labnet/labnet-child.ts, which builds a one-device labnet, and returns what it owns once it is up. */
  async function labnetChild(mode: 'wait' | 'exit') {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'labnet-child.ts'), postureFile, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.once('exit', (code, signal) => r([code, signal])));
    const { owned, devices } = JSON.parse(await firstLine(child)) as { owned: Labnet['owned']; devices: Labnet['devices'] };
    return { child, exited, owned, devicePid: devices[0].pid };
  }

  it('a process that ends by SIGTERM or process.exit() removes its labnet on the way out', async () => {
    const terminated = await labnetChild('wait');
    terminated.child.kill('SIGTERM');
    expect(await terminated.exited, 'dies of the signal, as without the helper').to.deep.equal([null, 'SIGTERM']);
    expect(await leftovers(terminated.owned)).to.deep.equal([]);
    await waitUntil('the device process has stopped', () => !pidAlive(terminated.devicePid));

    const exiting = await labnetChild('exit');
    expect(await exiting.exited).to.deep.equal([0, null]);
    expect(await leftovers(exiting.owned)).to.deep.equal([]);
    await waitUntil('the device process has stopped', () => !pidAlive(exiting.devicePid));
  });

  it('after a crash (SIGKILL) the device stops by itself and the sweeper removes what was left', async () => {
    const { child, exited, owned, devicePid } = await labnetChild('wait');
    child.kill('SIGKILL');
    await exited;
    await waitUntil('the orphaned device process has stopped', () => !pidAlive(devicePid));
    expect(await leftovers(owned), 'a crash leaves its namespaces').to.not.deep.equal([]);
    // Another labnet starting meanwhile (a parallel test run) may sweep some of them first: what counts is
    // that none is left after a sweep.
    await sweepStaleLabnets();
    expect(await leftovers(owned)).to.deep.equal([]);
  });

  it('the sweeper removes namespaces and links of dead owners and keeps those of live ones', async () => {
    const deadPid = spawnSync('true').pid;
    expect(pidAlive(deadPid)).to.equal(false);
    const dead = { ns: `iacsp-${deadPid}-0-sw`, link: `iacsp${deadPid}-0` };
    const liveNs = `iacsp-${process.ppid}-keep`; // our parent is alive
    try {
      await ip(['netns', 'add', liveNs]);
      // A sweep of another test running at the same time may remove the dead owner's namespace first, as it should:
      // then this sweep had nothing of it to remove, and the case is tried again.
      let removed: Awaited<ReturnType<typeof sweepStaleLabnets>>;
      for (let round = 1; ; round++) {
        await ip(['netns', 'add', dead.ns]);
        await ip(['link', 'add', 'name', dead.link, 'type', 'veth', 'peer', 'name', 'x0', 'netns', dead.ns]);
        removed = await sweepStaleLabnets();
        if (removed.namespaces.includes(dead.ns) || round === 3) break;
      }
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
});
