import {
  MissingInput, Transcript, defineProbe, finding, hex, judge,
  type Finding, type Judgement,
} from '../../src/sdk';
import {
  EssentialFunctionMonitor, FUNCTION_CODES, LIMITS, RawModbusConnection, encodeFrame, interpretResponse,
  readRequestPdu, type EssentialFunction, type MonitorReport, type RawReply,
} from '../../src/protocols/modbus';

export interface InputValidationInputs {
  /** How long to wait for an answer to each invalid request (silence counts as "dropped"). */
  waitMs: number;
  /** A holding register address the device does not have (default 65535). */
  outOfRangeAddress: number;
  /** The normal read that must keep working (profile `essentialFunction.modbus`); default holding
   * register 0. `register` is the profile's shorthand for a holding register address. */
  essentialFunction?: Partial<EssentialFunction> & { register?: number };
  /** How long a device may take to answer normal reads again after an invalid request. */
  recoveryMs: number;
  monitorIntervalMs: number;
}

const FC = FUNCTION_CODES;

/** One invalid request and what a robust device does with it. */
export interface ValidationCase {
  id: string;
  description: string;
  /** The function code a response would carry (for exception matching). */
  requestFunction: number;
  build(transactionId: number, unitId: number, inputs: InputValidationInputs): Buffer;
  /** The exception codes the spec requires. */
  exceptions: readonly number[];
  /** Dropping the frame or the connection is the expected reaction (framing errors). */
  dropExpected: boolean;
  /** Any exception is an acceptable rejection too (framing errors the spec assigns no code). */
  anyException?: boolean;
  /** Protocol identifiers accepted in an answer (a device may echo the wrong one). */
  protocolIds?: readonly number[];
}

const read = (fc: number, address: number, quantity: number) => (t: number, unitId: number) =>
  encodeFrame({ transactionId: t, unitId, pdu: readRequestPdu(fc, address, quantity) });

/** Unassigned public function code (spec §5.1: public codes not yet assigned). */
const UNASSIGNED_FUNCTION = 0x37;

export const CASES: readonly ValidationCase[] = [
  {
    id: 'illegal-function', description: `function code 0x${UNASSIGNED_FUNCTION.toString(16)} (unassigned)`, requestFunction: UNASSIGNED_FUNCTION,
    build: (t, u) => encodeFrame({ transactionId: t, unitId: u, pdu: Buffer.from([UNASSIGNED_FUNCTION, 0x00, 0x00, 0x00, 0x01]) }),
    exceptions: [0x01], dropExpected: false,
  },
  {
    id: 'address-out-of-range', description: 'read 1 holding register at an address the device does not have', requestFunction: FC.readHoldingRegisters,
    build: (t, u, inputs) => read(FC.readHoldingRegisters, inputs.outOfRangeAddress, 1)(t, u), exceptions: [0x02], dropExpected: false,
  },
  {
    id: 'address-wraps', description: 'read 2 holding registers at 65535 (past the end of the address space)', requestFunction: FC.readHoldingRegisters,
    build: read(FC.readHoldingRegisters, 0xffff, 2), exceptions: [0x02], dropExpected: false,
  },
  {
    id: 'quantity-zero', description: 'read 0 holding registers', requestFunction: FC.readHoldingRegisters,
    build: read(FC.readHoldingRegisters, 0, 0), exceptions: [0x03], dropExpected: false,
  },
  {
    id: 'quantity-above-max-registers', description: `read ${LIMITS.readRegisters + 1} holding registers (maximum ${LIMITS.readRegisters})`,
    requestFunction: FC.readHoldingRegisters, build: read(FC.readHoldingRegisters, 0, LIMITS.readRegisters + 1), exceptions: [0x03], dropExpected: false,
  },
  {
    id: 'quantity-above-max-coils', description: `read ${LIMITS.readBits + 1} coils (maximum ${LIMITS.readBits})`,
    requestFunction: FC.readCoils, build: read(FC.readCoils, 0, LIMITS.readBits + 1), exceptions: [0x03], dropExpected: false,
  },
  {
    id: 'mbap-length-short', description: 'MBAP length 4 in front of a 6-byte read request (PDU cut after the address)',
    requestFunction: FC.readHoldingRegisters,
    build: (t, u) => encodeFrame({ transactionId: t, unitId: u, pdu: readRequestPdu(FC.readHoldingRegisters, 0, 1), length: 4 }),
    exceptions: [0x03], dropExpected: true,
  },
  {
    id: 'mbap-length-oversized', description: `MBAP length 256 (maximum ${LIMITS.mbapLength}) with a 255-byte PDU`,
    requestFunction: FC.readHoldingRegisters,
    build: (t, u) => encodeFrame({ transactionId: t, unitId: u, pdu: Buffer.concat([readRequestPdu(FC.readHoldingRegisters, 0, 1), Buffer.alloc(250)]) }),
    exceptions: [0x03], dropExpected: true, anyException: true,
  },
  {
    id: 'wrong-protocol-id', description: 'a valid read with protocol identifier 1 instead of 0 (Modbus)', requestFunction: FC.readHoldingRegisters,
    build: (t, u) => encodeFrame({ transactionId: t, unitId: u, pdu: readRequestPdu(FC.readHoldingRegisters, 0, 1), protocolId: 1 }),
    exceptions: [], dropExpected: true, anyException: true, protocolIds: [0, 1],
  },
  {
    id: 'truncated-pdu', description: 'a read request PDU of 2 bytes (function code and half an address), length field consistent',
    requestFunction: FC.readHoldingRegisters, build: (t, u) => encodeFrame({ transactionId: t, unitId: u, pdu: Buffer.from([FC.readHoldingRegisters, 0x00]) }),
    exceptions: [0x03], dropExpected: true,
  },
  {
    id: 'truncated-frame', description: 'the first 9 of 12 bytes of a read request, then silence',
    requestFunction: FC.readHoldingRegisters, build: (t, u) => read(FC.readHoldingRegisters, 0, 1)(t, u).subarray(0, 9),
    exceptions: [], dropExpected: true, anyException: true,
  },
];

export type CaseVerdict = 'correct' | 'dropped' | 'wrong-exception' | 'accepted' | 'malformed-response';

/** Judges one reply: the right exception or an expected drop is correct; a normal answer means the device accepted it. */
export function classify(c: ValidationCase, reply: RawReply, transactionId: number): { verdict: CaseVerdict; detail: string } {
  switch (reply.kind) {
    case 'no-answer':
      return { verdict: c.dropExpected ? 'correct' : 'dropped', detail: `no answer within ${reply.elapsedMs} ms` };
    case 'closed':
      return { verdict: c.dropExpected ? 'correct' : 'dropped', detail: `connection ${reply.reset ? 'reset' : 'closed'} by the device` };
    case 'invalid':
      return { verdict: 'malformed-response', detail: reply.reason };
    case 'frame': {
      if (reply.frame.transactionId !== transactionId) {
        return { verdict: 'malformed-response', detail: `transaction id ${reply.frame.transactionId} in the answer to ${transactionId}` };
      }
      const meaning = interpretResponse(reply.frame.pdu, c.requestFunction);
      if (meaning.kind === 'normal') return { verdict: 'accepted', detail: `normal response ${hex(reply.frame.pdu)}` };
      if (meaning.kind === 'other') return { verdict: 'malformed-response', detail: `function code 0x${meaning.functionCode.toString(16)} in the answer` };
      const text = `exception ${meaning.code} (${meaning.name})`;
      if (c.exceptions.includes(meaning.code) || c.anyException) return { verdict: 'correct', detail: text };
      return { verdict: 'wrong-exception', detail: `${text}; expected ${c.exceptions.join(' or ')}` };
    }
  }
}

interface CaseRecord {
  id: string;
  description: string;
  request: string;
  response: string;
  verdict: CaseVerdict;
  detail: string;
  /** The normal read after the case: answered, answered after a while, or not. */
  afterwards: { ok: boolean; recoveredAfterMs?: number; error?: string };
}

export default defineProbe<InputValidationInputs>({
  id: 'modbus.input-validation',
  protocol: 'modbus',
  title: 'Modbus/TCP input validation and error handling for malformed requests',
  description:
    'Sends, each on its own connection, requests a robust device must reject: an unassigned function code, an address '
    + 'out of range and one past the end of the address space, quantity 0, more registers and coils than the protocol '
    + 'allows, an MBAP length shorter than the PDU and one above 254, a wrong protocol identifier, a truncated PDU and a '
    + 'truncated frame. The device should answer with the right exception code (01/02/03) or drop the frame, and after '
    + 'each one it must still answer a normal read, watched by an essential-function monitor that polls throughout '
    + '(CR 3.5, CR 3.7; CR 7.1 when the device stops answering). Every request and response is kept in hex.',
  requirements: ['CR 3.5', 'CR 3.7', 'CR 7.1'],
  findings: {
    'invalid-request-accepted': 'the device processed an invalid request as valid',
    'malformed-response': 'an invalid request was answered with a malformed frame',
    'wrong-exception-code': 'an invalid request was rejected with another exception code than the spec requires',
    'invalid-request-dropped': 'an invalid request the spec answers with an exception got silence',
    'unresponsive-after-invalid-request': 'after an invalid request the device stopped answering normal reads',
    'essential-function-degraded': 'the essential function degraded while invalid requests were handled',
  },
  safety: 'intrusive',
  scope: 'service',
  appliesTo: ['modbus'],
  timeoutMs: 60_000,
  // Nothing else may talk Modbus to the device while it is fed malformed frames and watched.
  locks: (plan) => (plan.service ? [{ key: `modbus:${plan.service.host}:${plan.service.port}`, mode: 'exclusive' }] : []),
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        waitMs: { type: 'integer', minimum: 50, maximum: 30_000 },
        outOfRangeAddress: { type: 'integer', minimum: 0, maximum: 65535 },
        essentialFunction: {
          type: 'object', additionalProperties: false,
          properties: {
            unitId: { type: 'integer', minimum: 0, maximum: 255 },
            table: { enum: ['holding-registers', 'input-registers', 'coils', 'discrete-inputs'] },
            address: { type: 'integer', minimum: 0, maximum: 65535 },
            register: { type: 'integer', minimum: 0, maximum: 65535 },
            kind: { enum: ['counter', 'value'] },
            periodMs: { type: 'integer', minimum: 1 },
          },
        },
        recoveryMs: { type: 'integer', minimum: 0, maximum: 120_000 },
        monitorIntervalMs: { type: 'integer', minimum: 50, maximum: 60_000 },
      },
    },
    defaults: { waitMs: 1000, outOfRangeAddress: 0xffff, recoveryMs: 5000, monitorIntervalMs: 500 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('modbus.input-validation needs a declared modbus service');
    const { inputs } = ctx;
    const unitId = service.unitId ?? 1;
    const { register, ...given } = inputs.essentialFunction ?? fromProfile(ctx.essentialFunction.modbus);
    const fn: EssentialFunction = {
      unitId, table: 'holding-registers', kind: 'value', ...given, address: given.address ?? register ?? 0,
    };
    const transcript = new Transcript(ctx.evidence, 'modbus-input-validation.txt');
    const monitor = new EssentialFunctionMonitor(service, fn, {
      signal: ctx.signal, intervalMs: inputs.monitorIntervalMs, requestTimeoutMs: inputs.waitMs,
    });
    const records: CaseRecord[] = [];
    await monitor.start();
    let report: MonitorReport;
    try {
      for (const c of CASES) {
        const conn = await RawModbusConnection.open(service, { signal: ctx.signal, transcript });
        let record: Omit<CaseRecord, 'afterwards'>;
        try {
          transcript.note(`case ${c.id}: ${c.description}`);
          const transactionId = conn.nextTransactionId();
          const request = c.build(transactionId, unitId, inputs);
          const reply = await conn.exchange(request, inputs.waitMs, c.protocolIds);
          record = { id: c.id, description: c.description, request: hex(request), response: hex(reply.bytes), ...classify(c, reply, transactionId) };
          transcript.note(`case ${c.id}: ${record.verdict} (${record.detail})`);
        } finally {
          conn.close();
        }
        const afterwards = await stillAnswers(monitor, inputs.recoveryMs, (ms) => ctx.wait(ms, `input-validation: the device did not answer a normal read after case ${c.id}; pause before the next recovery check`));
        records.push({ ...record, afterwards });
        if (!afterwards.ok) break; // a device that stopped answering cannot judge the remaining cases
      }
    } finally {
      report = await monitor.stop();
    }

    const evidence = [transcript.path, ctx.evidence.save('cases.json', records), ctx.evidence.save('essential-function.json', report)];
    const list = (verdict: CaseVerdict) => records.filter((r) => r.verdict === verdict);
    const describeCases = (rs: CaseRecord[]) => rs.map((r) => `${r.id} (${r.detail})`).join('; ');
    const findings: Finding[] = [];
    const accepted = list('accepted');
    if (accepted.length > 0) {
      findings.push(finding({
        code: 'invalid-request-accepted', severity: 'medium', requirements: ['CR 3.5'], evidence,
        message: `The device processed ${accepted.length} invalid request(s) as valid: ${describeCases(accepted)}.`,
      }));
    }
    const malformed = list('malformed-response');
    if (malformed.length > 0) {
      findings.push(finding({
        code: 'malformed-response', severity: 'medium', requirements: ['CR 3.7'], evidence,
        message: `The device answered ${malformed.length} invalid request(s) with a malformed response: ${describeCases(malformed)}.`,
      }));
    }
    const wrong = list('wrong-exception');
    if (wrong.length > 0) {
      findings.push(finding({
        code: 'wrong-exception-code', severity: 'info', requirements: ['CR 3.7'], evidence,
        message: `The device rejected ${wrong.length} invalid request(s) with another exception code than the spec requires: ${describeCases(wrong)}.`,
      }));
    }
    const dropped = list('dropped');
    if (dropped.length > 0) {
      findings.push(finding({
        code: 'invalid-request-dropped', severity: 'info', requirements: ['CR 3.7'], evidence,
        message: `The device dropped ${dropped.length} invalid request(s) the spec answers with an exception: ${describeCases(dropped)}.`,
      }));
    }
    const judgements: Judgement[] = [
      { requirement: 'CR 3.5', coverage: 'partial', passReason: `each of ${records.length} malformed or out-of-range requests was rejected with an exception or dropped` },
      { requirement: 'CR 3.7', coverage: 'partial', passReason: `the device handled each of ${records.length} invalid requests with a well-formed exception or by dropping it, and kept answering` },
    ];
    const dead = records.find((r) => !r.afterwards.ok);
    if (dead) {
      findings.push(finding({
        code: 'unresponsive-after-invalid-request', severity: 'high', requirements: ['CR 3.5', 'CR 3.7', 'CR 7.1'], evidence,
        message: `After the ${dead.id} request (${dead.description}) the device stopped answering normal reads of ${fn.table} ${fn.address} for more than ${inputs.recoveryMs} ms`
          + (records.length < CASES.length ? `; the remaining ${CASES.length - records.length} cases were not run.` : '.'),
      }));
      judgements.push({ requirement: 'CR 7.1', coverage: 'partial', passReason: 'the device kept answering normal reads' });
    } else if (report.degraded) {
      findings.push(finding({
        code: 'essential-function-degraded', severity: 'medium', requirements: ['CR 7.1'], evidence,
        message: `The essential function degraded while invalid requests were handled: ${report.reasons.join('; ')}.`,
      }));
      judgements.push({ requirement: 'CR 7.1', coverage: 'partial', passReason: 'the essential function kept working' });
    }
    return {
      observations: {
        unitId,
        cases: records.map(({ id, verdict, detail, afterwards }) => ({ id, verdict, detail, stillAnswers: afterwards.ok })),
        essentialFunction: {
          function: fn, samples: report.samples, failed: report.failed, latencyMs: report.latencyMs,
          counterIncrements: report.counterIncrements, degraded: report.degraded, reasons: report.reasons,
        },
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});

/** One normal read now; if it fails, retries until `recoveryMs` has passed (`wait` is the journaled pause). */
async function stillAnswers(monitor: EssentialFunctionMonitor, recoveryMs: number, wait: (ms: number) => Promise<void>): Promise<CaseRecord['afterwards']> {
  const started = Date.now();
  let sample = await monitor.check();
  if (sample.ok) return { ok: true };
  while (Date.now() - started < recoveryMs) {
    await wait(Math.min(250, recoveryMs));
    sample = await monitor.check();
    if (sample.ok) return { ok: true, recoveredAfterMs: Date.now() - started };
  }
  return { ok: false, error: sample.error };
}

/** The profile's `essentialFunction.modbus` block in the monitor's terms. */
function fromProfile(block: unknown): Partial<EssentialFunction> & { register?: number } {
  if (block === null || typeof block !== 'object') return {};
  const b = block as { unitId?: number; register?: number; table?: 'holding' | 'input'; kind?: string; periodMs?: number };
  return {
    ...(b.unitId !== undefined ? { unitId: b.unitId } : {}),
    ...(b.register !== undefined ? { register: b.register } : {}),
    ...(b.table ? { table: b.table === 'input' ? 'input-registers' : 'holding-registers' } : {}),
    kind: b.kind === 'counter' ? 'counter' : 'value',
    ...(b.periodMs !== undefined ? { periodMs: b.periodMs } : {}),
  };
}
