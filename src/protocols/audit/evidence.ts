/**
 * What the three audit probes share: the host's provoked events (action log), the wait for records in flight,
 * the correlation with the lab collector's records, and the evidence file that lists every match. Each probe
 * judges its requirement from the same `AuditEvidence`.
 */
import type { ActionRecord, ProbeContext, ServiceProtocol } from '../../sdk';
import { PHASE } from '../auth/checks/common';
import { correlate, isAmbiguous, isOpcuaRecord, REQUIRED_KINDS, type AuditRecord, type EventMatch } from './correlate';
import { opcuaAuditRecords } from './opcua-records';

/** The audit probes run last on a host: after every login, session (phase 1) and lockout (phase 2) probe. */
export const AUDIT_PHASE = PHASE.lockout + 1;

/** Catalog rows each audit probe reports on, and the time budget they share. */
export const AUDIT_TIMEOUT_MS = 120_000;

/** profiles/baselines/audit.yaml (one level: CR 2.8-2.12 and 6.2 have the same rule at every SL). */
export interface AuditBaseline {
  /** Records may arrive this long after the action they report. */
  windowSeconds: number;
  /** CR 2.11: a device timestamp within this of lab time (or of lab time + the NTP offset served). */
  clockToleranceSeconds: number;
  /** CR 2.11 RE(1): a device that follows the lab NTP server is within this of lab time + the offset served. */
  syncToleranceSeconds: number;
  /** CR 6.2: 95% of the pushed records arrive within this of the event they report. */
  monitoringLatencySeconds: number;
}

/** Interfaces whose logins the login layer provokes and records (the ones CR 2.8 coverage counts). */
export const LOGIN_INTERFACES: ReadonlySet<ServiceProtocol> = new Set<ServiceProtocol>(['ssh', 'https', 'http', 'opcua', 'mqtt', 'telnet', 'ftp']);

export interface AuditEvidence {
  readonly actions: readonly ActionRecord[];
  readonly matches: readonly EventMatch[];
  /** Syslog records from the device's addresses (the others are not its records) and the OPC UA audit
   * events of the host's subscriptions (the subscriber's own session left out). */
  readonly deviceRecords: readonly AuditRecord[];
  readonly otherSourceRecords: number;
  readonly ambiguousRecords: number;
  /** Declared login interfaces of the host that no probe exercised. */
  readonly unexercised: readonly string[];
  readonly evidence: readonly string[];
  readonly baseline: AuditBaseline;
}

/** The reason there is nothing to judge, or the evidence. */
export async function gatherAuditEvidence(ctx: ProbeContext<unknown>): Promise<AuditEvidence | { notDetermined: string }> {
  const syslog = ctx.lab?.syslog;
  const opcua = ctx.lab?.opcuaAudit;
  if (!syslog && !opcua) return { notDetermined: 'the profile has no lab syslog collector nor OPC UA audit subscription (lab: block): the device\'s records cannot be read' };
  const actions = ctx.actions.list().filter((a) => a.host === ctx.host.host);
  if (actions.length === 0) return { notDetermined: 'no probe provoked a security event on this host (no login, lockout or session probe ran against it)' };
  const last = Math.max(...actions.map((a) => a.atMs));
  const remaining = last + ctx.lab!.settleMs - Date.now();
  if (remaining > 0) await ctx.wait(remaining, 'audit: records in flight after the last provoked event (lab.settleSeconds)');

  const baseline = ctx.baseline<AuditBaseline>('audit');
  const deviceAddresses = [ctx.host.host, ...ctx.host.addresses];
  const syslogRecords = syslog?.records ?? [];
  const opcuaRecords = opcuaAuditRecords((opcua?.events ?? []).filter((e) => e.host === ctx.host.host));
  const records: AuditRecord[] = [...syslogRecords, ...opcuaRecords];
  const deviceRecords = records.filter((r) => isOpcuaRecord(r) || deviceAddresses.includes(r.peer));
  const matches = correlate(actions, records, { deviceAddresses, windowMs: baseline.windowSeconds * 1000 });
  const exercised = new Set(actions.map((a) => a.interface));
  const unexercised = ctx.host.services.filter((s) => LOGIN_INTERFACES.has(s.protocol) && !exercised.has(s.protocol)).map((s) => `${s.protocol}/${s.port}`);
  const journals = [syslog?.journal, opcua?.journal].filter((j): j is string => j !== undefined);
  const evidence = [ctx.evidence.save('correlation.json', {
    collectorJournal: syslog?.journal ?? null, opcuaAuditJournal: opcua?.journal ?? null, deviceAddresses, windowSeconds: baseline.windowSeconds,
    matches: matches.map((m) => ({
      action: { seq: m.action.seq, at: m.action.at, kind: m.action.kind, interface: m.action.interface, port: m.action.port, account: m.action.account, probe: m.action.probe },
      record: m.record ? { seq: m.record.seq, transport: m.record.transport, text: m.record.raw.toString('utf8') } : null,
      latencyMs: m.latencyMs, userPresent: m.userPresent, clockOffsetMs: m.clockOffsetMs,
    })),
  }), ...journals];
  return {
    actions, matches, deviceRecords, unexercised, evidence, baseline,
    otherSourceRecords: records.length - deviceRecords.length,
    ambiguousRecords: deviceRecords.filter((r) => !isOpcuaRecord(r) && isAmbiguous(r)).length,
  };
}

/** Provoked vs logged per (kind, interface), required kinds only. */
export interface KindOnInterface {
  readonly kind: string;
  readonly interface: string;
  readonly provoked: number;
  readonly logged: number;
  readonly matches: readonly EventMatch[];
}

export function byKindAndInterface(matches: readonly EventMatch[]): KindOnInterface[] {
  const groups = new Map<string, { kind: string; interface: string; matches: EventMatch[] }>();
  for (const m of matches) {
    if (!REQUIRED_KINDS.has(m.action.kind)) continue;
    const key = `${m.action.kind}|${m.action.interface}`;
    const g = groups.get(key) ?? { kind: m.action.kind, interface: m.action.interface, matches: [] };
    g.matches.push(m);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({ ...g, provoked: g.matches.length, logged: g.matches.filter((m) => m.record).length }));
}

/** Observations every audit probe reports (counts, not the records: those are in correlation.json). */
export function commonObservations(e: AuditEvidence): Record<string, unknown> {
  return {
    provoked: e.actions.length, deviceRecords: e.deviceRecords.length, otherSourceRecords: e.otherSourceRecords,
    ambiguousRecords: e.ambiguousRecords, unexercisedInterfaces: e.unexercised,
    kinds: byKindAndInterface(e.matches).map(({ matches: _m, ...k }) => k),
  };
}
