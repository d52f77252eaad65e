import { expect } from 'chai';

const WATCHED = ['TCPServerWrap', 'TCPSocketWrap', 'TCPWrap', 'UDPWrap', 'Timeout', 'TTYWrap', 'PipeWrap', 'ProcessWrap'];

function counts(): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of process.getActiveResourcesInfo()) if (WATCHED.includes(r)) m.set(r, (m.get(r) ?? 0) + 1);
  return m;
}

/**
 * Snapshot of the event loop's handles; `check()` fails the test when sockets, servers or timers
 * outlive the code under test (after letting pending closes finish). Take it first thing in a test.
 */
export async function handleSnapshot(): Promise<{ check(settleMs?: number): Promise<void> }> {
  // Mocha arms its per-test timer just after the test function returns its promise: let it.
  await new Promise((r) => setImmediate(r));
  const before = counts();
  return {
    async check(settleMs = 200) {
      const deadline = Date.now() + settleMs * 10;
      let leaked: string[];
      do {
        await new Promise((r) => setTimeout(r, settleMs));
        const after = counts();
        // The settle timer itself is gone by now; anything above the baseline is a leak.
        leaked = [...after].filter(([k, n]) => n > (before.get(k) ?? 0)).map(([k, n]) => `${k}: ${before.get(k) ?? 0} -> ${n}`);
      } while (leaked.length > 0 && Date.now() < deadline);
      expect(leaked, `handles left open (${process.getActiveResourcesInfo().join(', ')})`).to.deep.equal([]);
    },
  };
}
