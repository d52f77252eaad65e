import Ajv from 'ajv';
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import probe, { type CaseRecord } from '../../../probes/modbus/fuzz';
import { startEmulator, type Emulator } from '../../../src/emulator';
import { FUZZ_CEILINGS, effectiveCaps, generateCases, runCampaign, systematicCases } from '../../../src/protocols/fuzz';
import { modbusTemplates } from '../../../src/protocols/modbus';
import { describeMisbehavingPeers } from '../../helpers/misbehaving';
import { modbusPosture } from '../../helpers/modbus';
import { requirePeer } from '../../helpers/peers';
import { runProbe, type ProbeRun } from '../../helpers/probe-harness';
import { requirePymodbus, startPymodbus, type PymodbusServer } from '../../helpers/pymodbus';

const modbus = (port: number, unitId = 1) => ({ port, protocol: 'modbus' as const, unitId });
const TEMPLATES = modbusTemplates({ unitId: 1, readAddress: 0, writeAddress: 100 });
const verdicts = (a: { outcomes: { requirement: string; verdict: string }[] }) => Object.fromEntries(a.outcomes.map((o) => [o.requirement, o.verdict]));
const isKiller = (hexBytes: string) => {
  const b = Buffer.from(hexBytes.replace(/ /g, ''), 'hex');
  return b.length >= 12 && b[7] === 0x10 && b.readUInt16BE(10) === 0;
};

function caseLines(run: ProbeRun): { campaign: Record<string, unknown>; cases: CaseRecord[] } {
  const file = run.attempt.evidence.find((e) => e.endsWith('fuzz-cases.ndjson'))!;
  const lines = run.read(file).trim().split('\n').map((l) => JSON.parse(l) as { type: string });
  return { campaign: lines[0] as Record<string, unknown>, cases: lines.filter((l) => l.type === 'case') as CaseRecord[] };
}

describe('probe modbus.fuzz', function () {
  this.timeout(120_000);

  describe('the mutation engine', () => {
    it('the same seed gives the same cases byte for byte; another seed another order', () => {
      const a = generateCases(TEMPLATES, 62443, 400).map((c) => `${c.template}|${c.field}|${c.mutation}|${c.bytes.toString('hex')}`);
      const b = generateCases(TEMPLATES, 62443, 400).map((c) => `${c.template}|${c.field}|${c.mutation}|${c.bytes.toString('hex')}`);
      const other = generateCases(TEMPLATES, 7, 400).map((c) => `${c.template}|${c.field}|${c.mutation}|${c.bytes.toString('hex')}`);
      expect(a).to.have.length(400).and.deep.equal(b);
      expect(other).to.not.deep.equal(a);
      // Every systematic case is in both campaigns (the budget covers the whole systematic set).
      const systematic = TEMPLATES.flatMap(systematicCases).map((c) => c.bytes.toString('hex'));
      expect(systematic.length).to.be.below(400);
      const inA = new Set(a.map((x) => x.split('|')[3]));
      expect(systematic.every((h) => inA.has(h))).to.equal(true);
    });

    it('mutates fields where the grammar says they are, on both sides of the spec limits', () => {
      const fc03 = systematicCases(TEMPLATES[0]);
      const quantity = fc03.filter((c) => c.field === 'pdu.quantity').map((c) => c.bytes.readUInt16BE(10));
      expect(quantity).to.include.members([0, 125, 126, 0xffff]);
      const length = fc03.filter((c) => c.field === 'mbap.length').map((c) => c.bytes.readUInt16BE(4));
      expect(length).to.include.members([0, 1, 254, 255, 0xffff]);
      // Each field mutation changes only that field: the rest of the frame is the valid template.
      for (const c of fc03.filter((x) => x.field === 'pdu.quantity')) expect(c.bytes.subarray(0, 10)).to.deep.equal(TEMPLATES[0].bytes.subarray(0, 10));
      // A consistent-length cut rewrites the MBAP length to the bytes that follow the length field.
      const cut = fc03.find((c) => c.mutation.startsWith('payload cut to 10'))!;
      expect(cut.bytes.readUInt16BE(4)).to.equal(4);
      const stale = fc03.find((c) => c.mutation.startsWith('truncated to 9'))!;
      expect(stale.bytes.readUInt16BE(4)).to.equal(6);
    });

    it('caps: requested values are lowered to the ceilings; the case cap and the rate cap hold', async () => {
      expect(effectiveCaps({ cases: 1e9, ratePerSecond: 1e6, durationMs: 1e12 })).to.deep.equal({ ...FUZZ_CEILINGS });
      const cases = generateCases(TEMPLATES, 1, 50);
      const times: number[] = [];
      const started = Date.now();
      const result = await runCampaign(cases, { cases: 12, ratePerSecond: 40, durationMs: 60_000 }, new AbortController().signal, async () => {
        times.push(Date.now());
        return 'continue';
      });
      expect(result).to.include({ sent: 12, end: 'case-cap' });
      // 12 cases at 40/s: the 12th starts no earlier than 11/40 s after the first.
      expect(times[11] - started).to.be.at.least(270);
      const short = await runCampaign(cases, { cases: 50, ratePerSecond: 10, durationMs: 250 }, new AbortController().signal, async () => 'continue');
      expect(short.end).to.equal('duration-cap');
      expect(short.sent).to.be.at.most(4);
    });

    it('a slow case is not made up for by a burst: every case starts at least 1 / rate after the previous one', async () => {
      const cases = generateCases(TEMPLATES, 2, 50);
      const times: number[] = [];
      await runCampaign(cases, { cases: 8, ratePerSecond: 40, durationMs: 60_000 }, new AbortController().signal, async () => {
        times.push(Date.now());
        // The second case's answer takes 300 ms (a device in trouble): 12 cases' worth of the 25 ms spacing.
        if (times.length === 2) await new Promise((r) => setTimeout(r, 300));
        return 'continue';
      });
      expect(times).to.have.length(8);
      // 25 ms at 40/s, less 1 ms of timer slack; before, cases 3 to 8 went out back to back after the slow one.
      for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1], `case ${i + 1}`).to.be.at.least(24);
    });

    it('the probe schema refuses more cases or a higher rate than the ceilings', () => {
      const validate = new Ajv({ strict: false }).compile(probe.inputs!.schema);
      expect(validate({ cases: FUZZ_CEILINGS.cases })).to.equal(true);
      expect(validate({ cases: FUZZ_CEILINGS.cases + 1 })).to.equal(false);
      expect(validate({ ratePerSecond: FUZZ_CEILINGS.ratePerSecond + 1 })).to.equal(false);
      expect(validate({ maxDurationMs: FUZZ_CEILINGS.durationMs + 1 })).to.equal(false);
    });
  });

  describe('against the emulator', () => {
    let weak: Emulator | undefined;
    let hardened: Emulator | undefined;
    afterEach(async () => {
      await weak?.close();
      await hardened?.close();
      weak = hardened = undefined;
    });

    it('weak: the default seed and budget find the FC16 quantity-0 crash; CR 3.5 fails naming the case and its replay', async () => {
      weak = await startEmulator(modbusPosture('weak'), { ephemeralPorts: true });
      const port = weak.endpoint('modbus').port;
      const run = await runProbe(probe, { service: modbus(port), inputs: { recoveryMs: 1000 } });
      const { attempt } = run;
      expect(attempt.status, attempt.message).to.equal('fail');
      expect(verdicts(attempt)).to.deep.equal({ 'CR 3.5': 'fail' });
      const { campaign, cases } = caseLines(run);
      expect(campaign).to.include({ type: 'campaign', seed: 62443, port, planned: 400 });
      const last = cases.at(-1)!;
      expect(last).to.include({ id: `modbus-${port}-s62443-0052`, template: 'fc16-write-registers', field: 'pdu.quantity', stillAnswers: false, monitor: null });
      expect(isKiller(last.hex)).to.equal(true);
      expect(['close', 'reset']).to.include(last.reaction.kind);
      expect(cases.slice(0, -1).every((c) => c.stillAnswers)).to.equal(true);
      expect(attempt.findings.map((f) => f.code)).to.deep.equal(['modbus.fuzz.function-killed']);
      expect(attempt.findings[0].message).to.contain(last.id).and.contain(`iacs-probe replay <run-dir> ${last.id}`);
      expect(attempt.observations).to.deep.include({ sent: 53, end: 'stopped' });
    });

    it('a device that comes back within recoveryMs after a case fails CR 3.5 as interrupted, and the campaign goes on', async () => {
      weak = await startEmulator(modbusPosture('weak', { crashOn: { frame: 'fc16-zero-quantity', restartAfterMs: 300 } }), { ephemeralPorts: true });
      const run = await runProbe(probe, { service: modbus(weak.endpoint('modbus').port), inputs: { cases: 60, ratePerSecond: 200, recoveryMs: 3000 } });
      expect(run.attempt.status).to.equal('fail');
      expect(run.attempt.findings.map((f) => f.code)).to.deep.equal(['modbus.fuzz.function-interrupted']);
      const { cases } = caseLines(run);
      expect(cases).to.have.length(60);
      const killer = cases.find((c) => c.recoveredAfterMs !== undefined)!;
      // Another budget is another sample of the shuffled cases: the crash frame is at another index.
      expect(killer).to.include({ template: 'fc16-write-registers', field: 'pdu.quantity', stillAnswers: true });
      expect(isKiller(killer.hex)).to.equal(true);
      expect(cases.filter((c) => c.recoveredAfterMs !== undefined)).to.have.length(1);
      expect(killer.recoveredAfterMs).to.be.within(200, 3000);
    });

    it('hardened: every default case is rejected or answered and the device keeps answering (CR 3.5 pass)', async () => {
      hardened = await startEmulator(modbusPosture('hardened'), { ephemeralPorts: true });
      const run = await runProbe(probe, { service: modbus(hardened.endpoint('modbus').port), inputs: { ratePerSecond: 200, recoveryMs: 1000 } });
      const { attempt } = run;
      expect(attempt.status, attempt.message).to.equal('pass');
      expect(verdicts(attempt)).to.deep.equal({ 'CR 3.5': 'pass' });
      const { cases } = caseLines(run);
      expect(cases).to.have.length(400);
      expect(cases.every((c) => c.stillAnswers)).to.equal(true);
      const killer = cases.find((c) => isKiller(c.hex))!;
      expect(killer.reaction).to.include({ kind: 'exception', detail: 'exception 3 (ILLEGAL DATA VALUE)' });
      expect(attempt.observations).to.deep.include({ sent: 400, end: 'all-cases' });
    });

    it('Ctrl-C stops the campaign within 1 s', async () => {
      hardened = await startEmulator(modbusPosture('hardened'), { ephemeralPorts: true });
      const controller = new AbortController();
      let abortedAt = 0;
      setTimeout(() => {
        abortedAt = Date.now();
        controller.abort(new Error('cancelled by SIGINT'));
      }, 700);
      const { attempt, dir } = await runProbe(probe, { service: modbus(hardened.endpoint('modbus').port), inputs: { ratePerSecond: 20 }, runSignal: controller.signal });
      const ended = Date.now();
      expect(attempt.status).to.equal('error');
      expect(attempt.reason).to.equal('cancelled');
      expect(ended - abortedAt).to.be.below(1000);
      // Nothing was sent after the abort: the last recorded case started before it.
      const file = path.join(dir, 'evidence');
      const ndjson = execFileSync('find', [file, '-name', 'fuzz-cases.ndjson']).toString().trim();
      const cases = fs.readFileSync(ndjson, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { type: string; at?: string }).filter((l) => l.type === 'case');
      // The campaign was under way (at 20/s, at most 14 cases fit the 700 ms; set-up under load may leave only one or two).
      expect(cases.length).to.be.within(1, 20);
      expect(cases.every((c) => Date.parse(c.at!) <= abortedAt + 300)).to.equal(true);
    });
  });

  describe('against pymodbus (python3-pymodbus, not ours)', () => {
    let server: PymodbusServer | undefined;
    afterEach(async () => server?.close());

    it('survives a fuzz campaign: every case rejected or answered, normal reads keep working (pass)', async function () {
      server = await startPymodbus(requirePymodbus(this));
      const run = await runProbe(probe, { service: modbus(server.port), inputs: { cases: 150, ratePerSecond: 200, recoveryMs: 2000 } });
      expect(run.attempt.status, `${run.attempt.message ?? ''} ${server.stderr()}`).to.equal('pass');
      const { cases } = caseLines(run);
      expect(cases).to.have.length(150);
      expect(cases.every((c) => c.stillAnswers)).to.equal(true);
    });
  });

  describe('tshark decodes our cases as Modbus/TCP', () => {
    /** Wraps frames in TCP to port 502 (text2pcap) and returns tshark's fields, one line per frame. Reassembly is
     * off, so a length field that claims more bytes than follow is shown as such instead of waited for. */
    function decode(frames: Buffer[], fields: string[]): string[][] {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-fuzz-tshark-'));
      try {
        const dump = frames.map((f) => `000000 ${[...f].map((b) => b.toString(16).padStart(2, '0')).join(' ')}\n`).join('');
        fs.writeFileSync(path.join(dir, 'frames.txt'), dump);
        execFileSync('text2pcap', ['-q', '-T', '40000,502', path.join(dir, 'frames.txt'), path.join(dir, 'frames.pcap')]);
        const out = execFileSync('tshark', ['-r', path.join(dir, 'frames.pcap'), '-o', 'tcp.analyze_sequence_numbers:FALSE', '-o', 'tcp.desegment_tcp_streams:FALSE', '-o', 'mbtcp.desegment:FALSE', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])], { env: { ...process.env, HOME: dir } }).toString();
        return out.trim().split('\n').map((l) => l.split('|'));
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }

    it('the valid base frame is well-formed, and the mutated field is the one we record', function () {
      requirePeer(this, 'tshark');
      requirePeer(this, 'text2pcap');
      const fc16 = TEMPLATES.find((t) => t.name === 'fc16-write-registers')!;
      const cases = systematicCases(fc16);
      const zeroQuantity = cases.find((c) => c.mutation.startsWith('pdu.quantity = 0'))!;
      const longLength = cases.find((c) => c.mutation.startsWith('mbap.length = 255'))!;
      const badFunction = cases.find((c) => c.mutation.startsWith('pdu.function = 55'))!;
      const rows = decode([fc16.bytes, zeroQuantity.bytes, badFunction.bytes, longLength.bytes],
        ['mbtcp.trans_id', 'mbtcp.len', 'mbtcp.unit_id', 'modbus.func_code', 'modbus.word_cnt', '_ws.expert.message']);
      // Base: FC16 of 2 registers, length 11 = unit id + 10 PDU bytes, nothing for the expert system to say.
      expect(rows[0].slice(0, 5)).to.deep.equal(['1', '11', '1', '16', '2']);
      expect(rows[0][5]).to.equal('');
      // Quantity 0: the same frame with word count 0.
      expect(rows[1].slice(0, 5)).to.deep.equal(['1', '11', '1', '16', '0']);
      // Function code 0x37 in an otherwise unchanged frame.
      expect(rows[2].slice(0, 4)).to.deep.equal(['1', '11', '1', '55']);
      // A length field of 255 that disagrees with the 11 bytes that follow: tshark says the PDU is incomplete.
      expect(rows[3].slice(0, 4)).to.deep.equal(['1', '255', '1', '16']);
      expect(rows[3][5]).to.contain('Unreassembled');
    });
  });

  describeMisbehavingPeers(probe, { service: (port) => modbus(port), timeoutMs: 3000, inputs: { waitMs: 200, recoveryMs: 300, cases: 20 } });
});
