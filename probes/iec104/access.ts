import {
  MissingInput, Transcript, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  BROADCAST_CA, IEC104_COMMON_DEFAULTS, IEC104_COMMON_INPUTS, clientTlsOf, clockSync, declaredSecureService, endDataTransfer, interrogate,
  pointsOf, secureControl, singleCommand, startDataTransfer, uOutcomeText, type CommandResult, type Iec104Link, type InterrogationResult,
  type SecureControl,
} from '../../src/protocols/iec104';

export interface AccessInputs {
  requestTimeoutMs: number;
  commonAddress: number;
  securePort: number;
  /** The only object the destructive step operates: a single command and the single point that shows its state. */
  singleCommand?: { ioa: number; statusIoa: number };
  /** With destructive allowed: clock synchronisation (C_CS_NA_1) to the harness's UTC time, only when set. */
  clockSync?: boolean;
}

interface CommandRecord {
  performed: boolean;
  reason?: string;
  ioa?: number;
  statusIoa?: number;
  before?: boolean;
  sent?: boolean;
  reply?: CommandResult;
  after?: boolean | null;
  restoreReply?: CommandResult;
  afterRestore?: boolean | null;
  restored?: boolean;
}

interface ClockRecord {
  performed: boolean;
  reason?: string;
  sent?: string;
  reply?: CommandResult;
}

const ioaSchema = { type: 'integer', minimum: 1, maximum: 16_777_215 };

function destructiveReason(ctx: ProbeContext<AccessInputs>, named: boolean, what: string): string | undefined {
  if (!named) return `${what} is not set in the inputs`;
  if (!ctx.allowed.has('destructive')) return 'destructive probes are not allowed in this run';
  if (ctx.deadline - Date.now() < 8 * ctx.inputs.requestTimeoutMs) return 'not enough budget left to do it and undo it';
  return undefined;
}

/** The state of a single point in an interrogation, or null when it was not reported. */
function singlePoint(gi: InterrogationResult, ioa: number): boolean | null {
  const p = pointsOf(gi).find((x) => x.ioa === ioa && typeof x.value === 'boolean');
  return p ? (p.value as boolean) : null;
}

/** Operates the named single command to the opposite of its status point, reads the status back, and restores it. */
async function testCommand(ctx: ProbeContext<AccessInputs>, link: Iec104Link, ca: number, gi: InterrogationResult): Promise<CommandRecord> {
  const { ioa, statusIoa } = ctx.inputs.singleCommand!;
  const before = singlePoint(gi, statusIoa);
  if (before === null) return { performed: false, ioa, statusIoa, reason: `the interrogation did not report single point ${statusIoa}: nothing to restore to` };
  const record: CommandRecord = { performed: true, ioa, statusIoa, before, sent: !before };
  ctx.log.warn(`operating single command IOA ${ioa} to ${before ? 'OFF' : 'ON'} (status IOA ${statusIoa} is ${before ? 'ON' : 'OFF'})`);
  record.reply = await singleCommand(link, ca, ioa, !before);
  record.after = singlePoint(await interrogate(link, ca), statusIoa);
  // A refused command changed nothing; anything else may have.
  if (record.reply.confirmation !== 'negative' || record.after !== before) {
    record.restoreReply = await singleCommand(link, ca, ioa, before);
    record.afterRestore = singlePoint(await interrogate(link, ca), statusIoa);
    record.restored = record.afterRestore === before;
    if (!record.restored) ctx.log.warn(`single point ${statusIoa} is ${record.afterRestore} after the restore; it was ${before}`);
  } else record.restored = true;
  return record;
}

export default defineProbe<AccessInputs>({
  id: 'iec104.access',
  protocol: 'iec104',
  title: 'Unauthenticated IEC 104 access: data transfer and interrogation, optional single command and clock synchronisation',
  description:
    'Sends TESTFR act and STARTDT act on the plain IEC 60870-5-104 port as any client can, and a station interrogation when '
    + 'data transfer starts. With destructive probes allowed and a single command named (its IOA and the single point that '
    + 'shows its state), it operates the command to the opposite state, reads the point back and operates it back; with '
    + 'clockSync set it sends a clock synchronisation with the harness\'s UTC time (which cannot be undone). Data transfer, '
    + 'commands or clock synchronisation accepted from an unauthenticated peer fail CR 1.1 and CR 2.1. A hang-up on STARTDT '
    + 'after a confirmed TESTFR is partial evidence for them only when the control succeeds: the same outstation starts data '
    + 'transfer over IEC 62351-3 for the client certificate the profile names.',
  requirements: ['CR 1.1', 'CR 2.1'],
  findings: {
    'unauthenticated-data-transfer': 'the outstation starts data transfer (STARTDT) for an unauthenticated client on the plain port',
    'unauthenticated-command': 'the named single command was executed for an unauthenticated client',
    'unauthenticated-clock-sync': 'the outstation accepted a clock synchronisation from an unauthenticated client',
    'command-not-restored': 'the status point of the named command does not show its original state after the restore',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['iec104'],
  when: (service) => service.transport === 'tcp' && !service.tls,
  locks: (plan) => (plan.service ? [{
    key: `iec104:${plan.service.host}`, mode: plan.inputs.singleCommand || plan.inputs.clockSync ? 'exclusive' : 'shared',
  }] : []),
  timeoutMs: 30_000,
  inputs: {
    schema: inputsSchema({
      ...IEC104_COMMON_INPUTS,
      singleCommand: { type: 'object', additionalProperties: false, required: ['ioa', 'statusIoa'], properties: { ioa: ioaSchema, statusIoa: ioaSchema } },
      clockSync: { type: 'boolean' },
    }),
    defaults: { ...IEC104_COMMON_DEFAULTS },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('iec104.access needs a declared iec104 service');
    const { inputs } = ctx;
    const transcript = new Transcript(ctx.evidence, 'iec104-access.txt');
    const options = { signal: ctx.signal, waitMs: inputs.requestTimeoutMs, transcript };
    const transfer = await startDataTransfer(service, options);
    let gi: InterrogationResult | undefined;
    let command: CommandRecord = { performed: false, reason: 'data transfer was not started' };
    let clock: ClockRecord = { performed: false, reason: 'data transfer was not started' };
    let control: SecureControl | undefined;
    if (transfer.started) {
      try {
        gi = await interrogate(transfer.link, inputs.commonAddress);
        // Commands go to the station's own common address (broadcast is for interrogation and clock sync only).
        const ca = inputs.commonAddress !== BROADCAST_CA ? inputs.commonAddress : gi.commonAddresses[0] ?? 1;
        const commandSkip = destructiveReason(ctx, inputs.singleCommand !== undefined, 'singleCommand');
        command = commandSkip ? { performed: false, reason: commandSkip } : await testCommand(ctx, transfer.link, ca, gi);
        const clockSkip = destructiveReason(ctx, inputs.clockSync === true, 'clockSync');
        if (clockSkip) clock = { performed: false, reason: clockSkip };
        else {
          const sent = new Date();
          ctx.log.warn(`sending clock synchronisation ${sent.toISOString()} (clockSync is set and destructive probes are allowed)`);
          clock = { performed: true, sent: sent.toISOString(), reply: await clockSync(transfer.link, ca, sent) };
        }
      } finally {
        await endDataTransfer(transfer.link);
      }
    } else {
      const secure = declaredSecureService(ctx.host.services, service, inputs.securePort);
      const tlsConfig = secure && clientTlsOf(secure, (f) => ctx.resolvePath(f));
      if (secure && tlsConfig) control = await secureControl(secure, tlsConfig, options);
    }
    const startDt = transfer.started ? 'confirmed' : uOutcomeText(transfer.startDt);
    const interrogation = gi ? { confirmation: gi.confirmation, end: gi.end, asduAddresses: gi.commonAddresses, informationObjects: gi.objectCount } : null;
    const record = { testFrame: transfer.testFrame, startDt, interrogation, command, clock, secureControl: control ?? null };
    const evidence = [transcript.path, ctx.evidence.save('access.json', record)];
    const findings = accessFindings(startDt, interrogation, command, clock, evidence);
    const judgements: Judgement[] = [];
    let note: string | undefined;
    // A hang-up is a refusal only when the control shows the outstation serving an authenticated client.
    if (findings.some((f) => f.severity !== 'info') || control?.status === 'started') {
      const reason = `the plain port hangs up on STARTDT from an unauthenticated client after confirming TESTFR, while the outstation starts data transfer over IEC 62351-3 (${control?.target}) for the profile's client certificate`;
      judgements.push({ requirement: 'CR 1.1', coverage: 'partial', passReason: reason }, { requirement: 'CR 2.1', coverage: 'partial', passReason: reason });
    } else {
      note = `the plain port hangs up on STARTDT; without a successful IEC 62351-3 control (${control ? (control.status === 'failed' ? control.reason : `STARTDT ${control.startDt}`) : 'no declared IEC 62351-3 service with a client certificate'}) the hang-up proves no access control: CR 1.1 and CR 2.1 are not determined`;
    }
    return { observations: { ...record, ...(note ? { note } : {}) }, findings, outcomes: judge(judgements, findings) };
  },
});

function accessFindings(startDt: string, interrogation: { informationObjects: number; asduAddresses: number[] } | null, command: CommandRecord, clock: ClockRecord, evidence: string[]): Finding[] {
  const findings: Finding[] = [];
  if (startDt === 'confirmed') {
    const gi = interrogation && interrogation.informationObjects > 0
      ? ` and answered a general interrogation with ${interrogation.informationObjects} information objects (ASDU address ${interrogation.asduAddresses.join(', ')})` : '';
    findings.push(finding({
      code: 'unauthenticated-data-transfer', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The outstation started data transfer for an unauthenticated client on the plain IEC 104 port${gi}: any peer reads the process image and may send commands.`,
    }));
  }
  if (command.performed && (command.reply?.confirmation === 'positive' || command.after === command.sent)) {
    findings.push(finding({
      code: 'unauthenticated-command', severity: 'critical', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `Single command IOA ${command.ioa} was ${command.reply?.confirmation === 'positive' ? 'confirmed' : 'not confirmed'} for an unauthenticated client and status point ${command.statusIoa} went from ${command.before} to ${command.after}.`,
    }));
  }
  if (command.performed && !command.restored) {
    findings.push(finding({
      code: 'command-not-restored', severity: 'info', requirements: [], evidence,
      message: `Status point ${command.statusIoa} shows ${command.afterRestore} after the restore; it was ${command.before}. Restore it by hand.`,
    }));
  }
  if (clock.performed && clock.reply?.confirmation === 'positive') {
    findings.push(finding({
      code: 'unauthenticated-clock-sync', severity: 'high', requirements: ['CR 1.1', 'CR 2.1'], evidence,
      message: `The outstation confirmed a clock synchronisation (${clock.sent}) from an unauthenticated client: any peer can set the time its events are stamped with.`,
    }));
  }
  return findings;
}
