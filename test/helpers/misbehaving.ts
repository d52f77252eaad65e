import { expect } from 'chai';
import type { ProbeDefinition } from '../../src/sdk';
import {
  bannerServer, closedPort, dropAfterFirstMessageServer, garbageServer, resetServer, stallServer, type TestServer,
} from '../../fixtures/servers';
import { handleSnapshot } from './leaks';
import { runProbe, type ProbeRunOptions } from './probe-harness';

export type PeerKind = 'closed' | 'stall' | 'reset' | 'banner' | 'garbage' | 'dropAfterHello';

const PEERS: Record<PeerKind, { name: string; make: () => Promise<TestServer>; reason: string | string[]; byDefault: boolean }> = {
  closed: { name: 'closed port', make: closedPort, reason: 'unreachable', byDefault: true },
  stall: { name: 'accepts and stalls', make: stallServer, reason: 'timeout', byDefault: true },
  reset: { name: 'resets', make: resetServer, reason: 'protocol', byDefault: true },
  banner: { name: 'another text protocol on the port', make: () => bannerServer(), reason: 'protocol', byDefault: true },
  garbage: { name: 'garbage', make: () => garbageServer(), reason: 'protocol', byDefault: true },
  dropAfterHello: { name: 'drops the connection after the first message', make: dropAfterFirstMessageServer, reason: 'protocol', byDefault: false },
};

export interface MisbehavingOptions<I> {
  /** The declared service for a peer on `port`. */
  service: (port: number) => NonNullable<ProbeRunOptions<I>['service']>;
  timeoutMs: number;
  /** Budget for the stalling peer (which always costs its whole budget); default timeoutMs. */
  stallTimeoutMs?: number;
  inputs?: Partial<I>;
  credentials?: ProbeRunOptions<I>['credentials'];
  /** The profile's essentialFunction block, for probes that act only on what it declares (modbus.fail-safe). */
  essentialFunction?: ProbeRunOptions<I>['essentialFunction'];
  /** The profile's policy block, for probes that act only on an interface it declares (accounts.*). */
  policy?: ProbeRunOptions<I>['policy'];
  /** Expected error reasons where they differ from the defaults (unreachable, timeout, protocol). */
  reasons?: Partial<Record<PeerKind, string | string[]>>;
  /** Peer kinds that do not apply to this probe. */
  skip?: PeerKind[];
  /** Peer kinds beyond the default five (e.g. dropAfterHello). */
  also?: PeerKind[];
  /** Also fail when a socket or timer outlives the attempt (libraries that retry on their own). */
  checkHandles?: boolean;
}

/**
 * The error cases every probe is tested against: closed port, a server that accepts and stalls, one that
 * resets, another protocol, garbage (and optionally one that drops after the first message). Each must end
 * as an error with the expected reason, within the attempt's budget (plus the runner's grace period).
 */
export function describeMisbehavingPeers<I>(probe: ProbeDefinition<I>, options: MisbehavingOptions<I>): void {
  describe('misbehaving peers end as errors within the budget', () => {
    for (const [kind, peer] of Object.entries(PEERS) as [PeerKind, (typeof PEERS)[PeerKind]][]) {
      if (options.skip?.includes(kind) || (!peer.byDefault && !options.also?.includes(kind))) continue;
      it(peer.name, async () => {
        const handles = options.checkHandles ? await handleSnapshot() : undefined;
        const server = await peer.make();
        try {
          const timeoutMs = kind === 'stall' ? options.stallTimeoutMs ?? options.timeoutMs : options.timeoutMs;
          const { attempt } = await runProbe(probe, {
            service: options.service(server.port), timeoutMs, inputs: options.inputs, credentials: options.credentials,
            ...(options.essentialFunction ? { essentialFunction: options.essentialFunction } : {}),
            ...(options.policy ? { policy: options.policy } : {}),
          });
          expect(attempt.status, attempt.message).to.equal('error');
          const expected = options.reasons?.[kind] ?? peer.reason;
          expect(Array.isArray(expected) ? expected : [expected], attempt.message).to.include(attempt.reason);
          expect(attempt.durationMs).to.be.at.most(timeoutMs + 2500);
        } finally {
          await server.close();
        }
        await handles?.check();
      });
    }
  });
}
