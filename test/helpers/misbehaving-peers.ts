import { expect } from 'chai';
import type { ProbeDefinition, ServiceProtocol } from '../../src/sdk';
import { closedPort, garbageServer, resetServer, stallServer, type TestServer } from '../../fixtures/servers';
import { runProbe } from './probe-harness';

/** What each misbehaving peer of fixtures/servers.ts must end as: an error of this kind, within the budget. */
const CASES: readonly { name: string; make: () => Promise<TestServer>; reason: string; timeoutMs: number }[] = [
  { name: 'closed port', make: closedPort, reason: 'unreachable', timeoutMs: 2000 },
  { name: 'accepts and stalls', make: stallServer, reason: 'timeout', timeoutMs: 300 },
  { name: 'garbage', make: garbageServer, reason: 'protocol', timeoutMs: 2000 },
  { name: 'reset', make: resetServer, reason: 'protocol', timeoutMs: 2000 },
];

/** Declares one test per misbehaving peer for a service-scope probe. */
export function misbehavingPeers<I>(probe: ProbeDefinition<I>, protocol: ServiceProtocol, inputs: Partial<I> = {}): void {
  describe('misbehaving peers end as error within the budget', () => {
    for (const c of CASES) {
      it(`${c.name}: ${c.reason}`, async () => {
        const server = await c.make();
        try {
          const { attempt } = await runProbe(probe, { service: { port: server.port, protocol }, timeoutMs: c.timeoutMs, inputs });
          expect([attempt.status, attempt.reason], attempt.message).to.deep.equal(['error', c.reason]);
        } finally {
          await server.close();
        }
      });
    }
  });
}
