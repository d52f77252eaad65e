import * as fs from 'node:fs';

/**
 * The packet-storm fault of the emulated Modbus stack (docs/robustness.md, Storms below the application layer).
 * A user-space emulator never sees a SYN or an ICMP echo itself: the kernel answers them. So the emulator
 * reads its network namespace's kernel counters (/proc/net/snmp, which is per namespace for the reading
 * process) and counts what arrived: TCP segments, UDP datagrams (delivered, to closed ports, in error) and ICMP
 * messages. While that rate exceeds `maxPacketsPerSecond` the weak stack's counter stops, as a PLC whose
 * communication task starves its control task would.
 *
 * The counters see every packet of the namespace. Outside a namespace of its own (a labnet device) they would
 * count the whole machine's traffic, so the fault would fire from traffic that has nothing to do with the
 * device: it is switched on only when the emulator runs in a named network namespace (a labnet device's).
 */
export interface StormFault {
  /** Packets per second arriving in the namespace above which the counter stops (weak posture: 1500). */
  maxPacketsPerSecond: number;
  /** How long the counter stays stopped after the rate fell below the threshold again (default 3000 ms). */
  recoverAfterMs?: number;
}

/** One reading of the counters that a storm raises (a sum over TCP, UDP and ICMP). */
export function packetsIn(snmp: string): number {
  const table = new Map<string, Map<string, number>>();
  const lines = snmp.split('\n');
  for (let i = 0; i + 1 < lines.length; i += 2) {
    const [proto, ...names] = lines[i].trim().split(/\s+/);
    const [proto2, ...values] = lines[i + 1].trim().split(/\s+/);
    if (!proto || proto !== proto2) continue;
    table.set(proto.replace(/:$/, ''), new Map(names.map((n, j) => [n, Number(values[j])])));
  }
  const get = (proto: string, name: string) => table.get(proto)?.get(name) ?? 0;
  return get('Tcp', 'InSegs') + get('Udp', 'InDatagrams') + get('Udp', 'NoPorts') + get('Udp', 'InErrors') + get('Icmp', 'InMsgs');
}

const NAMED_NETNS_DIRS = ['/run/netns', '/var/run/netns'];

/**
 * Why the fault cannot work here, or undefined when the emulator runs in a network namespace of its own: a named
 * one (`ip netns add`, as every labnet device has), found as `ip netns identify` finds it, by comparing the
 * namespace file of this process with those under /run/netns. The root namespace and a container's are not named.
 */
export function stormFaultUnavailable(): string | undefined {
  let own: fs.Stats;
  try {
    own = fs.statSync('/proc/self/ns/net');
    fs.readFileSync('/proc/net/snmp', 'utf8');
  } catch (err) {
    return `cannot read this process's network namespace or /proc/net/snmp (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`;
  }
  for (const dir of NAMED_NETNS_DIRS) {
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      try {
        const st = fs.statSync(`${dir}/${name}`);
        if (st.ino === own.ino && st.dev === own.dev) return undefined;
      } catch {
        // removed meanwhile
      }
    }
  }
  return 'the emulator does not run in a network namespace of its own (a named one, as a labnet device has), and the kernel counters of its namespace would count unrelated traffic';
}

const SAMPLE_MS = 250;
const WINDOW = 4; // the rate is taken over the last second (4 samples)

/**
 * Samples /proc/net/snmp every 250 ms and calls `onStorm` while the packet rate over the last second exceeds
 * the threshold. Returns the function that stops sampling.
 */
export function watchPacketRate(fault: StormFault, onStorm: (packetsPerSecond: number) => void, read: () => string = () => fs.readFileSync('/proc/net/snmp', 'utf8')): () => void {
  const readings: { t: number; n: number }[] = [];
  const timer = setInterval(() => {
    let n: number;
    try {
      n = packetsIn(read());
    } catch {
      return; // a failed read is no storm
    }
    const t = Date.now();
    readings.push({ t, n });
    if (readings.length > WINDOW + 1) readings.shift();
    const first = readings[0];
    if (t - first.t < SAMPLE_MS) return;
    const rate = ((n - first.n) * 1000) / (t - first.t);
    if (rate > fault.maxPacketsPerSecond) onStorm(Math.round(rate));
  }, SAMPLE_MS);
  timer.unref();
  return () => clearInterval(timer);
}
