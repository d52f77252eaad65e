import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import { findTool } from '../tools';

/** How the kernel would send to the storm's target: the interface, and whether it is a directly connected link. */
export interface LinkToTarget {
  /** The outgoing interface ("lo" for a local address). */
  dev: string;
  /** On a directly connected link (no gateway, not a local address): where ARP reaches the target. */
  direct: boolean;
  /** Why it is not a directly connected link, when it is not. */
  why?: string;
}

/** `ip -j -4 route get <address>` (a lookup: nothing is sent). */
export function linkTo(address: string, signal: AbortSignal): Promise<LinkToTarget> {
  const ip = findTool('ip');
  if (!ip) return Promise.resolve({ dev: '?', direct: false, why: 'the ip command (iproute2) is not installed, so the link to the target is unknown' });
  return new Promise((resolve) => {
    const child = spawn(ip, ['-j', '-4', 'route', 'get', address], { stdio: ['ignore', 'pipe', 'ignore'], signal, timeout: 5000 });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', () => resolve({ dev: '?', direct: false, why: 'ip route get failed' }));
    child.once('close', () => {
      let route: { dev?: string; gateway?: string; type?: string } | undefined;
      try {
        [route] = JSON.parse(out) as { dev?: string; gateway?: string; type?: string }[];
      } catch {
        route = undefined;
      }
      if (!route?.dev) return resolve({ dev: '?', direct: false, why: `no route to ${address}` });
      const dev = route.dev;
      if (route.type === 'local' || dev === 'lo') return resolve({ dev, direct: false, why: `${address} is a local address (loopback): there is no link layer to it` });
      if (route.gateway) return resolve({ dev, direct: false, why: `${address} is reached through the gateway ${route.gateway}, not on a directly connected link` });
      resolve({ dev, direct: true });
    });
  });
}

/** The interface's transmitted-packet counter (per network namespace), or undefined where it cannot be read. */
export function txPackets(dev: string): number | undefined {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${dev}/statistics/tx_packets`, 'utf8'));
  } catch {
    return undefined;
  }
}

/** CAP_NET_RAW (bit 13) in this process's effective capabilities: raw sockets for hping3 and nping. */
export function rawSocketsAllowed(status: string = readStatus()): boolean {
  const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  return m !== null && (BigInt(`0x${m[1]}`) & (1n << 13n)) !== 0n;
}

function readStatus(): string {
  try {
    return fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}
