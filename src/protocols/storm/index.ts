/**
 * Storms below the application layer (docs/robustness.md): TCP SYN, UDP, ICMP echo and ARP at stepped rates,
 * sent by Debian's hping3 (SYN, UDP, ICMP), nmap's nping (ARP) or Node's dgram (UDP), each step measured.
 * The steps, caps and phases are those of the load framework (runSteps in src/protocols/load).
 */
import { InvalidInput } from '../../sdk';
import type { StepRunner } from '../load';
import { findTool } from '../tools';
import { hping3Args, npingArpArgs, type StormKind } from './args';
import { parseHping3Statistics, parseNpingStatistics, runToolStep } from './tool';
import { udpStormStep } from './udp';
import { txPackets } from './link';

export * from './args';
export * from './link';
export { KILL_GRACE_MS, parseHping3Statistics, parseNpingStatistics, runToolStep, type ToolStatistics } from './tool';
export { udpStormStep } from './udp';

export type StormGenerator = 'hping3' | 'nping' | 'node';

/** One storm: what is sent, where to, and by which generator. */
export interface StormSpec {
  kind: StormKind;
  generator: StormGenerator;
  address: string;
  port?: number;
  /** The outgoing interface when the target is on a directly connected link (ARP; its tx counter is recorded). */
  interface?: string;
  /** UDP payload size for the Node generator. */
  payloadBytes?: number;
}

/** The generator binaries this machine has. */
export function stormTools(): { hping3?: string; nping?: string } {
  return { hping3: findTool('hping3'), nping: findTool('nping') };
}

/**
 * A step runner for runSteps: each step sends `rate` packets/s for the step's time, as many packets as the
 * remaining total budget allows, through the argument builders (which refuse any address but the host's).
 */
export function stormStepRunner(spec: StormSpec, scope: readonly string[], tools: { hping3?: string; nping?: string }): StepRunner {
  return async (rate, durationMs, budget, stop, label) => {
    const count = Math.min(Math.ceil((rate * durationMs) / 1000), budget.left);
    if (count <= 0) {
      return { label, targetRate: rate, durationMs: 0, sent: 0, answered: 0, refused: 0, errors: 0, backlogged: 0, achievedRate: 0, answeredRate: 0, errorKinds: {}, stoppedBy: 'total cap' };
    }
    if (spec.generator === 'node') {
      return udpStormStep({ address: spec.address, port: spec.port ?? 0, payloadBytes: spec.payloadBytes ?? 16 }, rate, durationMs, budget, stop, label);
    }
    const plan = { kind: spec.kind, address: spec.address, port: spec.port, rate, count, interface: spec.interface };
    const hping3 = spec.generator === 'hping3';
    const binary = hping3 ? tools.hping3 : tools.nping;
    if (!binary) throw new InvalidInput(`${spec.generator} is not installed (Debian package ${hping3 ? 'hping3' : 'nmap'})`);
    const argv = hping3 ? hping3Args(plan, scope) : npingArpArgs(plan, scope);
    budget.left -= count; // what the tool may send; its statistics say what it did
    const dev = spec.interface;
    const step = await runToolStep({
      binary, argv, parse: hping3 ? parseHping3Statistics : parseNpingStatistics, durationMs, stop, label, rate,
      ...(dev ? { txPackets: () => txPackets(dev) } : {}),
    });
    return count < Math.ceil((rate * durationMs) / 1000) && !step.stoppedBy ? { ...step, stoppedBy: 'total cap' } : step;
  };
}
