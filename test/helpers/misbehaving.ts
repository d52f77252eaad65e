import { expect } from 'chai';
import * as fs from 'node:fs';
import { UDP_PROTOCOLS, type ProbeDefinition } from '../../src/sdk';
import {
  bannerServer, closedPort, dropAfterFirstMessageServer, duplicateAnswerServer, garbageServer, halfOpenServer, oversizedServer,
  resetServer, rstMidHandshakeServer, slowDripServer, stallServer, type TestServer,
} from '../../fixtures/servers';
import { largeChainTlsServer } from '../../fixtures/large-chain';
import { closedUdpPort, duplicateUdpServer, garbageUdpServer, otherPortUdpServer, silentUdpServer } from '../../fixtures/udp-servers';
import { handleSnapshot } from './leaks';
import { PEER_MATRIX_TITLE } from './peer-matrix-title';
import { runProbe, type ProbeRunOptions } from './probe-harness';

/**
 * What a misbehaving peer may lead to: an error with one of these reasons; `not_determined` where the probe judges
 * nothing without an answer it understands (never pass); or `verdict` (pass, fail, not applicable) where the peer
 * is a valid server for this probe's layer (a TLS peer with a large chain, to a probe that only handshakes).
 */
export type PeerOutcome = 'unreachable' | 'timeout' | 'protocol' | 'auth' | 'not_determined' | 'verdict';

interface PeerKindSpec {
  readonly name: string;
  readonly transport: 'tcp' | 'udp';
  readonly make: () => Promise<TestServer>;
  readonly expect: readonly PeerOutcome[];
  /** Costs the attempt's whole budget by design (the attempt uses stallTimeoutMs). */
  readonly costsBudget?: boolean;
}

/** Every misbehaving peer a probe is run against, per transport; the meta test (test/meta/peer-matrix.test.ts) reads these names. */
export const PEER_KINDS = {
  closed: { name: 'closed port', transport: 'tcp', make: closedPort, expect: ['unreachable'] },
  stall: { name: 'accepts and stalls', transport: 'tcp', make: stallServer, expect: ['timeout'], costsBudget: true },
  reset: { name: 'resets', transport: 'tcp', make: resetServer, expect: ['protocol'] },
  banner: { name: 'another text protocol on the port', transport: 'tcp', make: () => bannerServer(), expect: ['protocol'] },
  garbage: { name: 'garbage', transport: 'tcp', make: () => garbageServer(), expect: ['protocol'] },
  dropAfterHello: { name: 'drops the connection after the first message', transport: 'tcp', make: dropAfterFirstMessageServer, expect: ['protocol'] },
  slowDrip: { name: 'drips a plausible answer at 1 byte/s', transport: 'tcp', make: () => slowDripServer(), expect: ['timeout', 'protocol'], costsBudget: true },
  oversized: { name: 'streams a 200 MB answer', transport: 'tcp', make: () => oversizedServer(), expect: ['protocol', 'timeout'] },
  halfOpen: { name: 'reads the first flight and never answers', transport: 'tcp', make: halfOpenServer, expect: ['timeout'], costsBudget: true },
  rstMidHandshake: { name: 'answers the first flight partly, then resets', transport: 'tcp', make: rstMidHandshakeServer, expect: ['protocol'] },
  tlsLargeChain: { name: 'TLS with a 64 KiB certificate chain', transport: 'tcp', make: largeChainTlsServer, expect: ['protocol', 'timeout'] },
  duplicate: { name: 'answers every request twice', transport: 'tcp', make: duplicateAnswerServer, expect: ['protocol', 'timeout'] },
  udpClosed: { name: 'closed UDP port', transport: 'udp', make: closedUdpPort, expect: ['unreachable', 'timeout'] },
  udpSilent: { name: 'UDP port that never answers', transport: 'udp', make: silentUdpServer, expect: ['timeout'], costsBudget: true },
  udpGarbage: { name: 'UDP garbage', transport: 'udp', make: () => garbageUdpServer(), expect: ['protocol'] },
  udpOtherPort: { name: 'UDP answers from another port', transport: 'udp', make: () => otherPortUdpServer(), expect: ['timeout'], costsBudget: true },
  udpDuplicate: { name: 'UDP answers every request twice', transport: 'udp', make: duplicateUdpServer, expect: ['protocol', 'timeout'] },
} as const satisfies Record<string, PeerKindSpec>;

export type PeerKind = keyof typeof PEER_KINDS;

/** The budget of the kinds that always cost their whole budget: short, so the matrix stays within the suite's time. */
export const MATRIX_STALL_BUDGET_MS = 1000;

/** Memory an attempt may add to the process while a peer misbehaves (the oversized peer streams 200 MB). */
export const PEER_MEMORY_BOUND_BYTES = 64 * 1024 * 1024;

export interface MisbehavingOptions<I> {
  /** The declared service for a peer on `port`; its protocol decides the transport (TCP or UDP kinds). */
  service: (port: number) => NonNullable<ProbeRunOptions<I>['service']>;
  timeoutMs: number;
  /** Budget for the peers that always cost their whole budget (stall, slow drip, half-open, silent UDP); default timeoutMs capped at MATRIX_STALL_BUDGET_MS (set it only where the probe needs more). */
  stallTimeoutMs?: number;
  inputs?: Partial<I>;
  credentials?: ProbeRunOptions<I>['credentials'];
  /** The profile's essentialFunction block, for probes that act only on what it declares (modbus.fail-safe). */
  essentialFunction?: ProbeRunOptions<I>['essentialFunction'];
  /** The profile's policy block, for probes that act only on an interface it declares (accounts.*). */
  policy?: ProbeRunOptions<I>['policy'];
  /** Runs the essential-function monitor around the attempt (probes that load a service only while it is watched). */
  monitor?: ProbeRunOptions<I>['monitor'];
  /** Expected outcomes where they differ from the kind's own. */
  reasons?: Partial<Record<PeerKind, PeerOutcome | PeerOutcome[]>>;
  /** Peer kinds that do not apply to this probe, each with the reason why (a reason is mandatory). */
  skip?: Partial<Record<PeerKind, string>>;
}

/** The kinds that apply to a service's transport. */
export function kindsFor(transport: 'tcp' | 'udp'): PeerKind[] {
  return (Object.keys(PEER_KINDS) as PeerKind[]).filter((k) => PEER_KINDS[k].transport === transport);
}

/** Samples the process's memory (RSS and heap + buffers) until stopped; returns the peak growth over the start. */
function sampleMemory(): { stop(): { rss: number; heap: number } } {
  const used = () => { const m = process.memoryUsage(); return { rss: m.rss, heap: m.heapUsed + m.external + m.arrayBuffers }; };
  const start = used();
  const peak = { ...start };
  const take = () => { const m = used(); peak.rss = Math.max(peak.rss, m.rss); peak.heap = Math.max(peak.heap, m.heap); };
  const timer = setInterval(take, 10);
  return { stop: () => { clearInterval(timer); take(); return { rss: peak.rss - start.rss, heap: peak.heap - start.heap }; } };
}

/** Appends one line per attempt to $IACS_PEER_MATRIX_STATS (figures for the README's Reliability section). */
function recordStats(line: Record<string, unknown>): void {
  const file = process.env.IACS_PEER_MATRIX_STATS;
  if (file) fs.appendFileSync(file, `${JSON.stringify(line)}\n`);
}

/**
 * The error cases every probe is tested against (PEER_KINDS for its transport). Each attempt must end within its
 * budget (plus the runner's grace period) as an error with the kind's expected reason, leave no socket or timer
 * behind, and add less than PEER_MEMORY_BOUND_BYTES to the process (RSS and heap), however much the peer sends.
 */
export function describeMisbehavingPeers<I>(probe: ProbeDefinition<I>, options: MisbehavingOptions<I>): void {
  const protocol = options.service(1).protocol;
  const transport = options.service(1).transport ?? (UDP_PROTOCOLS.has(protocol) ? 'udp' : 'tcp');
  describe(PEER_MATRIX_TITLE, () => {
    // One unjudged attempt against a closed port first: it loads what the probe loads lazily once per process
    // (node-opcua: tens of MB), which is not what a peer kind measures and would otherwise be charged to the memory
    // bound of whichever kind runs first (when the matrix runs alone, e.g. with --grep). The runner keeps the load's
    // time out of the attempt's budget itself (src/protocols/warm-up.ts).
    before(async function () {
      this.timeout(60_000);
      const closed = await closedPort();
      try {
        await runProbe(probe, {
          service: options.service(closed.port), timeoutMs: 30_000, inputs: options.inputs, credentials: options.credentials,
          ...(options.essentialFunction ? { essentialFunction: options.essentialFunction } : {}),
          ...(options.policy ? { policy: options.policy } : {}),
          ...(options.monitor ? { monitor: options.monitor } : {}),
        });
      } finally {
        await closed.close();
      }
    });
    for (const kind of kindsFor(transport)) {
      const peer: PeerKindSpec = PEER_KINDS[kind];
      const skipped = options.skip?.[kind];
      if (skipped !== undefined) {
        if (skipped.trim().length < 10) throw new Error(`${probe.id}: skipping '${kind}' needs a stated reason`);
        continue;
      }
      it(peer.name, async () => {
        const handles = await handleSnapshot();
        const server = await peer.make();
        const timeoutMs = peer.costsBudget ? options.stallTimeoutMs ?? Math.min(options.timeoutMs, MATRIX_STALL_BUDGET_MS) : options.timeoutMs;
        const memory = sampleMemory();
        let grew: { rss: number; heap: number };
        try {
          const { attempt } = await runProbe(probe, {
            service: options.service(server.port), timeoutMs, inputs: options.inputs, credentials: options.credentials,
            ...(options.essentialFunction ? { essentialFunction: options.essentialFunction } : {}),
            ...(options.policy ? { policy: options.policy } : {}),
            ...(options.monitor ? { monitor: options.monitor } : {}),
          });
          grew = memory.stop();
          recordStats({ probe: probe.id, kind, status: attempt.status, reason: attempt.reason, durationMs: attempt.durationMs, rss: grew.rss, heap: grew.heap });
          const expected = [options.reasons?.[kind] ?? peer.expect].flat();
          if (attempt.status === 'error') expect(expected, attempt.message).to.include(attempt.reason);
          else if (attempt.status === 'not_determined') expect(expected, attempt.message).to.include('not_determined');
          else expect(['pass', 'fail', 'not_applicable'].includes(attempt.status) ? expected : [], `${attempt.status}: ${attempt.message ?? ''}`).to.include('verdict');
          expect(attempt.durationMs).to.be.at.most(timeoutMs + 2500);
        } finally {
          memory.stop();
          await server.close();
        }
        expect(grew.heap, 'heap + buffers grown during the attempt').to.be.below(PEER_MEMORY_BOUND_BYTES);
        expect(grew.rss, 'RSS grown during the attempt').to.be.below(PEER_MEMORY_BOUND_BYTES);
        await handles.check(50);
      });
    }
  });
}
