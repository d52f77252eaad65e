import { connectScan } from '../../protocols/tcp';
import { identifyTcpPort, type TcpIdentity } from './identify';
import { checkUdp } from './udp';
import type { DiscoveredHost } from './draft';

export { draftProfile, passwordVariable, type DiscoveredHost } from './draft';
export { COMMON_UDP_PORTS } from './udp';

export interface DiscoverOptions {
  tcpPorts: readonly number[];
  udpPorts: readonly number[];
  /** Allow SNMP v1 GetRequests with the community "public" (sysDescr). */
  snmpCommunity: boolean;
  timeoutMs: number;
  parallel: number;
  signal: AbortSignal;
}

/** Runs `work` over `items`, at most `parallel` at a time, results in input order. */
async function pool<T, R>(items: readonly T[], parallel: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await work(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, items.length) }, worker));
  return out;
}

/** TCP connect scan, identification of every open port, UDP check: what one host offers. */
export async function discoverHost(host: string, options: DiscoverOptions): Promise<DiscoveredHost> {
  const scan = await connectScan(host, options.tcpPorts, { parallel: options.parallel * 8, timeoutMs: options.timeoutMs, signal: options.signal });
  const tcp: TcpIdentity[] = await pool(scan.open, options.parallel, (port) => identifyTcpPort(host, port, options.timeoutMs, options.signal));
  const udp = await checkUdp(host, options.udpPorts, { snmpCommunity: options.snmpCommunity, timeoutMs: options.timeoutMs, signal: options.signal });
  return { host, scanner: 'a TCP connect scan', tcp, udp };
}
