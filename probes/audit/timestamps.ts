import { defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import { AUDIT_PHASE, AUDIT_TIMEOUT_MS, commonObservations, gatherAuditEvidence, type AuditEvidence } from '../../src/protocols/audit';

const CR = 'CR 2.11';
const RE1 = 'CR 2.11 RE(1)';

/** What the lab NTP server says about the device: the offset served and whether the device asked. */
function ntpView(ctx: Parameters<typeof gatherAuditEvidence>[0], e: AuditEvidence) {
  const ntp = ctx.lab?.ntp;
  const addresses = new Set([ctx.host.host, ...ctx.host.addresses]);
  return { servedMs: ntp?.offsetMs ?? 0, present: ntp !== undefined, asked: (ntp?.requests ?? []).filter((r) => addresses.has(r.peer)).length, evidence: ntp ? [...e.evidence, ntp.journal] : e.evidence };
}

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

export default defineProbe({
  id: 'audit.timestamps',
  protocol: 'audit',
  title: 'The device\'s records carry correct timestamps, synchronised to the lab time source (CR 2.11, RE(1))',
  description: 'Runs last on the host. Of the provoked events the device logged to the lab syslog collector (matched as in '
    + 'audit.events), every record needs a timestamp with year and UTC offset, within the baseline\'s tolerance of lab time (or of lab '
    + 'time + the NTP offset served) (CR 2.11). RE(1) is judged only when the lab NTP server served a non-zero offset (intrusive probes '
    + 'allowed): the device must ask the lab server and its timestamps must follow lab time + that offset. Sends nothing to the device.',
  requirements: [CR, RE1],
  findings: {
    'timestamp-missing': 'records without a readable timestamp (CR 2.11)',
    'timestamp-without-year': 'timestamps without a year (RFC 3164 style): the time of the event is ambiguous (CR 2.11)',
    'timestamp-without-zone': 'timestamps without a UTC offset: they cannot be placed on a common time line (CR 2.11)',
    'clock-off': 'the device clock differs from lab time by more than the baseline tolerance (CR 2.11)',
    'ntp-not-followed': 'the lab NTP server served an offset and the device did not follow it (CR 2.11 RE(1))',
  },
  safety: 'passive',
  scope: 'host',
  appliesTo: [],
  phase: AUDIT_PHASE,
  // RE(1) reads the served offset: audit.time-integrity (exclusive) must not switch the lab NTP server meanwhile.
  locks: () => [{ key: 'lab:ntp', mode: 'shared' }],
  timeoutMs: AUDIT_TIMEOUT_MS,
  async run(ctx) {
    const e = await gatherAuditEvidence(ctx);
    if ('notDetermined' in e) return { observations: { notDetermined: e.notDetermined }, findings: [], outcomes: [] };
    const matched = e.matches.filter((m) => m.record);
    if (matched.length === 0) return { observations: { ...commonObservations(e), notDetermined: 'no provoked event was logged: no timestamp to judge' }, findings: [], outcomes: [] };
    const { baseline } = e;
    const ntp = ntpView(ctx, e);
    const findings: Finding[] = [];
    const { evidence } = ntp;
    const stamps = matched.map((m) => m.record!.message.timestamp);
    const missing = stamps.filter((t) => t?.epochMs === undefined).length;
    if (missing > 0) findings.push(finding({ code: 'timestamp-missing', severity: 'high', requirements: [CR], evidence, message: `${missing} of ${matched.length} matched record(s) carry no readable timestamp` }));
    const noYear = stamps.filter((t) => t && !t.hasYear).length;
    if (noYear > 0) findings.push(finding({ code: 'timestamp-without-year', severity: 'medium', requirements: [CR], evidence, message: `${noYear} of ${matched.length} matched record(s) have a timestamp without a year (${stamps.find((t) => t && !t.hasYear)!.text})` }));
    const noZone = stamps.filter((t) => t && !t.hasZone).length;
    if (noZone > 0) findings.push(finding({ code: 'timestamp-without-zone', severity: 'medium', requirements: [CR], evidence, message: `${noZone} of ${matched.length} matched record(s) have a timestamp without a UTC offset` }));

    // Only timestamps that name their zone can be compared with lab time.
    const offsets = matched.filter((m) => m.record!.message.timestamp?.hasZone && m.clockOffsetMs !== undefined).map((m) => m.clockOffsetMs!);
    const offsetMs = offsets.length ? median(offsets) : undefined;
    const tolerance = baseline.clockToleranceSeconds * 1000;
    if (offsetMs !== undefined && Math.abs(offsetMs) > tolerance && Math.abs(offsetMs - ntp.servedMs) > tolerance) {
      findings.push(finding({ code: 'clock-off', severity: 'medium', requirements: [CR], evidence, message: `device timestamps are ${(offsetMs / 1000).toFixed(1)} s from lab time (tolerance ${baseline.clockToleranceSeconds} s)` }));
    }
    const judgements: Judgement[] = [{ requirement: CR, coverage: 'full', passReason: `all ${matched.length} matched record(s) carry a timestamp with year and UTC offset, ${((offsetMs ?? 0) / 1000).toFixed(2)} s from lab time` }];
    let re1: string;
    if (!ntp.present) re1 = 'the profile has no lab NTP server (lab.ntp)';
    else if (ntp.servedMs === 0) re1 = 'the lab NTP server served no offset (lab.ntp.offsetSeconds with intrusive probes allowed): following it cannot be told from a correct clock';
    else if (offsetMs === undefined) re1 = 'no matched record has a timestamp with a UTC offset to compare';
    else {
      re1 = '';
      const follows = ntp.asked > 0 && Math.abs(offsetMs - ntp.servedMs) <= baseline.syncToleranceSeconds * 1000;
      if (!follows) {
        findings.push(finding({
          code: 'ntp-not-followed', severity: 'medium', requirements: [RE1], evidence,
          message: `the lab NTP server served ${(ntp.servedMs / 1000).toFixed(1)} s; the device ${ntp.asked === 0 ? 'never asked it and ' : ''}stamps records ${(offsetMs / 1000).toFixed(1)} s from lab time (tolerance ${baseline.syncToleranceSeconds} s)`,
        }));
      }
      judgements.push({ requirement: RE1, coverage: 'full', passReason: `the device asked the lab NTP server ${ntp.asked} time(s) and its timestamps follow the ${(ntp.servedMs / 1000).toFixed(1)} s served (${(offsetMs / 1000).toFixed(2)} s)` });
    }
    return {
      observations: { ...commonObservations(e), clockOffsetMs: offsetMs ?? null, ntpOffsetServedMs: ntp.servedMs, ntpRequestsFromDevice: ntp.asked, ...(re1 ? { re1NotDetermined: re1 } : {}) },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
