import type { BoundaryDecl } from '../../sdk';
import { startAgent, type Endpoint } from './endpoint';

/**
 * Reachability of the device's own management services from each zone (NDR 1.13): from every zone endpoint,
 * a TCP connect to each declared management port on each of the device's addresses (the zones' gateways).
 * The evidence is a completed handshake made from inside the endpoint's namespace, from its own address.
 */
export interface ManagementTry {
  /** The zone the connection was opened from. */
  from: string;
  trusted: boolean;
  /** The device address connected to (its gateway address in zone `side`). */
  address: string;
  side: string;
  port: number;
  service: string;
  connected: boolean;
  /** Why it did not connect (ECONNREFUSED: the device answered with a reset; timeout: no answer). */
  error?: string;
  ms: number;
}

export interface ManagementService {
  port: number;
  name: string;
}

export async function tryManagement(
  decl: BoundaryDecl, endpoints: ReadonlyMap<string, Endpoint>, services: readonly ManagementService[], signal: AbortSignal, connectTimeoutMs: number,
): Promise<ManagementTry[]> {
  const out: ManagementTry[] = [];
  for (const zone of decl.zones) {
    const near = endpoints.get(zone.name)!;
    const agent = await startAgent(near, signal);
    try {
      for (const side of decl.zones) {
        const address = side.endpoint.gateway;
        for (const s of services) {
          const r = await agent.call<{ connected: boolean; error?: string; ms: number }>({ op: 'connect', host: address, port: s.port, localAddress: near.address, timeoutMs: connectTimeoutMs });
          out.push({ from: zone.name, trusted: zone.trusted, address, side: side.name, port: s.port, service: s.name, connected: r.connected, ...(r.error ? { error: r.error } : {}), ms: r.ms });
        }
      }
    } finally {
      await agent.close();
    }
  }
  return out;
}
