import { expect } from 'chai';
import type { ProbeDefinition } from '../../src/sdk';
import { bannerServer, closedPort, garbageServer, resetServer, stallServer, type TestServer } from '../../fixtures/servers';
import { runProbe, type ProbeRunOptions } from './probe-harness';

export type PeerKind = 'closed' | 'stall' | 'reset' | 'banner' | 'garbage';

const PEERS: Record<PeerKind, { name: string; make: () => Promise<TestServer>; reason: string | string[] }> = {
  closed: { name: 'closed port', make: closedPort, reason: 'unreachable' },
  stall: { name: 'accepts and stalls', make: stallServer, reason: 'timeout' },
  reset: { name: 'resets', make: resetServer, reason: 'protocol' },
  banner: { name: 'another text protocol on the port', make: () => bannerServer(), reason: 'protocol' },
  garbage: { name: 'garbage', make: () => garbageServer(), reason: 'protocol' },
};

export interface MisbehavingOptions<I> {
  /** The declared service for a peer on `port`. */
  service: (port: number) => NonNullable<ProbeRunOptions<I>['service']>;
  timeoutMs: number;
  /** Budget for the stalling peer (which always costs its whole budget); default timeoutMs. */
  stallTimeoutMs?: number;
  inputs?: Partial<I>;
  /** Expected error reasons where they differ from the defaults (unreachable, timeout, protocol). */
  reasons?: Partial<Record<PeerKind, string | string[]>>;
  /** Peer kinds that do not apply to this probe. */
  skip?: PeerKind[];
}

/**
 * The error cases every probe is tested against: closed port, a server that accepts and stalls, one that
 * resets, another protocol, garbage. Each must end as an error with the expected reason, within the
 * attempt's budget (plus the runner's grace period).
 */
export function describeMisbehavingPeers<I>(probe: ProbeDefinition<I>, options: MisbehavingOptions<I>): void {
  describe('misbehaving peers end as errors within the budget', () => {
    for (const [kind, peer] of Object.entries(PEERS) as [PeerKind, (typeof PEERS)[PeerKind]][]) {
      if (options.skip?.includes(kind)) continue;
      it(peer.name, async () => {
        const server = await peer.make();
        try {
          const timeoutMs = kind === 'stall' ? options.stallTimeoutMs ?? options.timeoutMs : options.timeoutMs;
          const { attempt } = await runProbe(probe, { service: options.service(server.port), timeoutMs, inputs: options.inputs });
          expect(attempt.status, attempt.message).to.equal('error');
          const expected = options.reasons?.[kind] ?? peer.reason;
          expect(Array.isArray(expected) ? expected : [expected], attempt.message).to.include(attempt.reason);
          expect(attempt.durationMs).to.be.at.most(timeoutMs + 2500);
        } finally {
          await server.close();
        }
      });
    }
  });
}
