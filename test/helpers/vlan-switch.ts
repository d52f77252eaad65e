import type { ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { benchProcesses } from '../../src/labnet/boundary-bench';
import { ip, labnetAvailability, ownNetworks, type OwnedNetworks } from '../../src/labnet/netns';
import type { BoundaryBench } from '../../src/labnet/boundary-bench';
import type { VlanDecl } from '../../src/sdk';
import { debianPython, requirePeer, requireRoot } from './peers';

/**
 * The device under test of boundary.vlan-isolation: a switch namespace between three bench namespaces, all
 * made and removed by the test. No namespace has a default route or any link out of the bench.
 *
 *   iacsp-<id>-va (office, access VLAN 10)   eth0 198.19.10.10/24 ── veth ── pa ┐
 *   iacsp-<id>-vb (control, access VLAN 20)  eth0 198.19.10.20/24 ── veth ── pb ├ iacsp-<id>-sw (the switch)
 *   iacsp-<id>-vt (uplink, trunk 10,20)      eth0 198.19.10.30/24 ── veth ── pt ┘
 *
 * Postures, as `bridge vlan` tables (fixtures/vlan-switch.py forwards by them like a vlan_filtering bridge; this
 * kernel has no VLAN-filtering bridge):
 * - hardened: access ports pvid untagged in their one VLAN; the trunk tags 10 and 20 and has no native VLAN;
 * - weak: the office port is also a tagged member of VLAN 20; the trunk's native VLAN is 10 (= office's
 *   access VLAN), so a [10][20] frame from office leaves the trunk tagged 20 only;
 * - unaware: a Linux bridge (the kernel's) without VLAN filtering: every frame crosses as it came.
 */
export type SwitchPosture = 'hardened' | 'weak' | 'unaware';

interface PortVlans { vids: number[]; pvid?: number; untagged: number[] }

const TABLES: Record<Exclude<SwitchPosture, 'unaware'>, Record<'pa' | 'pb' | 'pt', PortVlans>> = {
  hardened: {
    pa: { vids: [10], pvid: 10, untagged: [10] },
    pb: { vids: [20], pvid: 20, untagged: [20] },
    pt: { vids: [10, 20], untagged: [] },
  },
  weak: {
    pa: { vids: [10, 20], pvid: 10, untagged: [10] },
    pb: { vids: [20], pvid: 20, untagged: [20] },
    pt: { vids: [10, 20], pvid: 10, untagged: [10] },
  },
};

const SUBNET = '198.19.10.0/24';
const ENDPOINTS = [
  { suffix: 'va', port: 'pa', name: 'office', address: '198.19.10.10' },
  { suffix: 'vb', port: 'pb', name: 'control', address: '198.19.10.20' },
  { suffix: 'vt', port: 'pt', name: 'uplink', address: '198.19.10.30' },
] as const;

export interface SwitchBench extends Pick<BoundaryBench, 'run' | 'spawn'> {
  readonly switchNamespace: string;
  /** Endpoint namespaces by name (office, control, uplink). */
  readonly namespaces: Readonly<Record<(typeof ENDPOINTS)[number]['name'], string>>;
  /** The profile's `vlans` for a posture (the trunk's native VLAN is declared as the posture has it). */
  decl(posture: SwitchPosture): VlanDecl;
  /** Replaces the running switch with one in `posture`. */
  configure(posture: SwitchPosture): Promise<void>;
  close(): Promise<void>;
}

async function wire(owned: OwnedNetworks): Promise<Record<string, string>> {
  const sw = await owned.addNamespace('sw');
  const namespaces: Record<string, string> = { switch: sw };
  for (const e of ENDPOINTS) {
    const ns = await owned.addNamespace(e.suffix);
    namespaces[e.name] = ns;
    await ip(['link', 'add', 'name', 'eth0', 'netns', ns, 'type', 'veth', 'peer', 'name', e.port, 'netns', sw]);
    await ip(['-n', ns, 'addr', 'add', `${e.address}/24`, 'dev', 'eth0']);
    await ip(['-n', ns, 'link', 'set', 'eth0', 'up']);
    await ip(['-n', sw, 'link', 'set', e.port, 'promisc', 'on', 'up']);
  }
  return namespaces;
}

export async function createSwitchBench(): Promise<SwitchBench> {
  const owned = await ownNetworks();
  let namespaces: Record<string, string>;
  try {
    namespaces = await wire(owned);
  } catch (err) {
    await owned.close();
    throw err;
  }
  const sw = namespaces.switch;
  const processes = benchProcesses(owned);
  let running: ChildProcess | undefined;
  const stopSwitch = async () => {
    if (running && running.exitCode === null) {
      const gone = new Promise((r) => running!.once('exit', r));
      running.kill('SIGKILL');
      await gone;
    }
    running = undefined;
    await ip(['-n', sw, 'link', 'del', 'br0']).catch(() => undefined);
  };
  return {
    ...processes,
    switchNamespace: sw,
    namespaces: { office: namespaces.office, control: namespaces.control, uplink: namespaces.uplink },
    decl: (posture) => ({
      subnet: SUBNET,
      access: [
        { name: 'office', vlan: 10, namespace: namespaces.office, interface: 'eth0', address: ENDPOINTS[0].address },
        { name: 'control', vlan: 20, namespace: namespaces.control, interface: 'eth0', address: ENDPOINTS[1].address },
      ],
      trunk: { name: 'uplink', namespace: namespaces.uplink, interface: 'eth0', address: ENDPOINTS[2].address, vlans: [10, 20], ...(posture === 'weak' ? { nativeVlan: 10 } : {}) },
    }),
    async configure(posture) {
      await stopSwitch();
      if (posture === 'unaware') {
        await ip(['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
        for (const e of ENDPOINTS) await ip(['-n', sw, 'link', 'set', e.port, 'master', 'br0']);
        await ip(['-n', sw, 'link', 'set', 'br0', 'up']);
        return;
      }
      const ports = Object.entries(TABLES[posture]).map(([ifname, vlans]) => ({ ifname, ...vlans }));
      running = processes.spawn(sw, ['/usr/bin/python3', path.join(__dirname, '../../fixtures/vlan-switch.py')]);
      running.stdin!.end(JSON.stringify({ ports }));
      let stderr = '';
      running.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve, reject) => {
        running!.stdout!.once('data', () => resolve());
        running!.once('exit', (code) => reject(new Error(`vlan-switch.py exited (${code}): ${stderr}`)));
      });
    },
    async close() {
      await stopSwitch();
      await owned.close();
    },
  };
}

/** Root, namespaces, dumpcap, tshark and Debian's python3, or skip (fail under IACS_REQUIRE_PEERS=1). */
export async function requireSwitchBench(ctx: Mocha.Context): Promise<void> {
  requireRoot(ctx, 'network namespaces, raw frames and captures');
  for (const tool of ['dumpcap', 'tshark']) requirePeer(ctx, tool);
  requirePeer(ctx, 'python3', debianPython());
  const available = await labnetAvailability();
  if (!available.ok) {
    if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`VLAN tests must run here: ${available.reason}`);
    ctx.skip();
  }
}
