import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { Writable } from 'node:stream';
import { replayCommand } from '../../src/cli/replay';
import { profileFromObject } from '../../src/profile';
import { CASES_FILE, generateCases, runCampaign, systematicCases, type CaseRecord, type FrameTemplate, type FuzzCase } from '../../src/protocols/fuzz';
import { runAssessment } from '../../src/runner/run';
import type { DeviceReaction, FuzzTarget, NormalCheck } from '../../src/protocols/fuzz/target';

export interface TargetCampaign {
  cases: { c: FuzzCase; reaction: DeviceReaction; after: NormalCheck }[];
  /** The first case after which the normal check failed. */
  killer?: { c: FuzzCase; reaction: DeviceReaction; after: NormalCheck };
}

/**
 * A seeded campaign of one fuzz target's own cases against a live server: each case, then the target's
 * normal check; it stops at the first case after which the check fails (what the fuzz probes call killed).
 */
export async function runTargetCampaign(
  target: FuzzTarget, o: ({ seed: number; cases: number } | { list: FuzzCase[] }) & { waitMs: number; checkWaitMs?: number },
): Promise<TargetCampaign> {
  const signal = new AbortController().signal;
  const out: TargetCampaign = { cases: [] };
  const cases = 'list' in o ? o.list : generateCases(target.templates, o.seed, o.cases);
  await runCampaign(cases, { cases: cases.length, ratePerSecond: 200, durationMs: 120_000 }, signal, async (c) => {
    const reaction = await target.sendCase(c, o.waitMs, signal);
    const after = await target.answersNormally(o.checkWaitMs ?? 3000, signal);
    out.cases.push({ c, reaction, after });
    if (after.ok) return 'continue';
    out.killer = { c, reaction, after };
    return 'stop';
  });
  return out;
}

/** A valid template sent as a case (what the target does with an unmutated frame). */
export const asCase = (t: FrameTemplate) => ({ bytes: t.bytes, template: t.name });

/** The systematic cases of `t` from `before` cases ahead of `c` to as many after it (a short campaign that reaches it). */
export function casesAround(t: FrameTemplate, c: { bytes: Buffer }, before: number): FuzzCase[] {
  const all = systematicCases(t);
  const at = all.findIndex((x) => x.bytes.equals(c.bytes));
  return all.slice(Math.max(0, at - before), at + before).map((x, index) => ({ index, ...x }));
}

/**
 * A deceptive device: a TCP proxy in front of a real server that dies — closes every connection and stops
 * listening — as soon as a client sends `killer` (anywhere in a connection's stream; a function when the killing
 * case depends on the proxy's own port). Until then it passes
 * everything through, so the real server's answers make it look healthy.
 */
export async function dyingProxy(upstream: { host: string; port: number }, killer: Buffer | (() => Buffer)): Promise<{ port: number; died(): boolean; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let dead = false;
  const server = net.createServer((client) => {
    const upstreamSocket = net.connect(upstream);
    sockets.add(client).add(upstreamSocket);
    let seen = Buffer.alloc(0);
    client.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const bytes = typeof killer === 'function' ? killer() : killer;
      if (bytes.length > 0 && seen.includes(bytes)) {
        dead = true;
        server.close();
        for (const s of sockets) s.destroy();
        return;
      }
      upstreamSocket.write(chunk);
    });
    upstreamSocket.on('data', (chunk: Buffer) => client.write(chunk));
    for (const [a, b] of [[client, upstreamSocket], [upstreamSocket, client]] as const) {
      a.on('close', () => {
        sockets.delete(a);
        b.destroy();
      });
      a.on('error', () => b.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    died: () => dead,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
    },
  };
}

/**
 * Every field mutation of `t` writes the value its record names at the field's offset, in the field's byte
 * order, and leaves every other byte of the valid template as it was.
 */
export function expectFieldsMutatedInPlace(t: FrameTemplate): void {
  const cases = systematicCases(t);
  for (const f of t.fields) {
    const mine = cases.filter((c) => c.field === f.name);
    expect(mine, `${t.name}: ${f.name} has no cases`).to.not.be.empty;
    for (const c of mine) {
      const value = Number(/^[^=]+= (\d+) /.exec(c.mutation)?.[1]);
      const read = f.littleEndian ? c.bytes.readUIntLE(f.offset, f.size) : c.bytes.readUIntBE(f.offset, f.size);
      expect(read, c.mutation).to.equal(value);
      expect(c.bytes.length).to.equal(t.bytes.length);
      const rest = (b: Buffer) => Buffer.concat([b.subarray(0, f.offset), b.subarray(f.offset + f.size)]);
      expect(rest(c.bytes).equals(rest(t.bytes)), c.mutation).to.equal(true);
    }
  }
}

export interface AssessedFuzz {
  runDir: string;
  attempt: { probe: string; status: string; message?: string; observations: Record<string, unknown>; findings: { code: string }[]; outcomes: { requirement: string; verdict: string }[] };
  /** The attempt's own CR 3.5 outcome (the run's row also needs other evidence at most SLs). */
  requirement: string | undefined;
  campaign: Record<string, unknown>;
  cases: CaseRecord[];
  /** `iacs-probe replay <run-dir> <case-id> --allow destructive`, in this process: exit code and output. */
  replay(caseId: string): Promise<{ code: number; out: string }>;
  remove(): void;
}

/**
 * A whole run of one fuzz probe (the runner, the evidence folder, report.json) against one declared service,
 * destructive allowed by the profile and the options, as a lab would run it.
 */
export async function assessFuzz(probeId: string, service: Record<string, unknown> & { port: number; protocol: string }, inputs: Record<string, unknown>): Promise<AssessedFuzz> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-fuzz-run-'));
  const runDir = path.join(dir, 'run');
  const profile = profileFromObject({
    apiVersion: 'iacs-probe/v1', component: { name: 'fuzz peer', types: ['embedded'], slTarget: 1 },
    targets: [{ host: '127.0.0.1', services: [service] }],
    allow: ['passive', 'active', 'intrusive', 'destructive'],
  }, 'inline');
  await runAssessment(profile, { out: runDir, only: [probeId], allow: ['destructive'], probeInputs: { [probeId]: inputs } });
  const report = JSON.parse(fs.readFileSync(path.join(runDir, 'report.json'), 'utf8')) as {
    attempts: AssessedFuzz['attempt'][];
  };
  const attempt = report.attempts.find((a) => a.probe === probeId)!;
  const file = execFileSync('find', [path.join(runDir, 'evidence'), '-name', CASES_FILE]).toString().trim();
  const lines = file ? fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string }) : [];
  return {
    runDir, attempt,
    requirement: attempt.outcomes.find((o) => o.requirement === 'CR 3.5')?.verdict,
    campaign: (lines[0] ?? {}) as Record<string, unknown>,
    cases: lines.filter((l) => l.type === 'case') as CaseRecord[],
    async replay(caseId) {
      let out = '';
      const sink = new Writable({ write(chunk, _encoding, done) { out += String(chunk); done(); } });
      const code = await replayCommand([runDir, caseId, '--allow', 'destructive'], { out: sink, err: sink });
      return { code, out };
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/**
 * A slow opening: a TCP proxy in front of a real server that holds back, and never forwards, a connection whose first
 * bytes are exactly `opening` (the harness's own Hello, say); every other connection passes through. A fuzz case that
 * must follow that opening is then never sent, while the normal request (another client's opening) is answered.
 */
export async function stallingProxy(upstream: { host: string; port: number }, opening: () => Buffer): Promise<{ port: number; stalled(): number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let stalled = 0;
  const server = net.createServer((client) => {
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => undefined);
    let seen = Buffer.alloc(0);
    let upstreamSocket: net.Socket | undefined;
    client.on('data', (chunk: Buffer) => {
      if (upstreamSocket) return void upstreamSocket.write(chunk);
      seen = Buffer.concat([seen, chunk]);
      const expected = opening();
      if (seen.equals(expected)) return void stalled++;
      if (seen.length < expected.length && expected.subarray(0, seen.length).equals(seen)) return undefined;
      const up = net.connect(upstream);
      upstreamSocket = up;
      sockets.add(up);
      up.write(seen);
      up.on('data', (d: Buffer) => client.write(d));
      up.on('close', () => client.destroy());
      up.on('error', () => client.destroy());
      client.on('close', () => up.destroy());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    stalled: () => stalled,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
