import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CredentialVault, HostUnderTest, LabOpcuaAudit, OpcuaAuditEvent } from '../sdk';
import { clientIdentityFor, subscribeOpcuaAudit, type OpcuaAuditSubscriber } from '../protocols/opcua';

/** The run's OPC UA audit subscriptions: what probes see as `ctx.lab.opcuaAudit`, and how the runner ends them. */
export interface RunningOpcuaAudit {
  readonly services: LabOpcuaAudit;
  close(): Promise<void>;
}

export const OPCUA_AUDIT_JOURNAL = 'lab/opcua-audit.ndjson';

/** The account of the audit subscription: credentials.audit.opcua, else credentials.opcua. */
export function auditAccount(vault: CredentialVault): { username: string; password: string } | undefined {
  return vault.get('audit.opcua') ?? vault.get('opcua');
}

/**
 * Subscribes to the audit events of every declared opcua service (one session each, in parallel), before
 * the first attempt; a service that offers no subscription is recorded with the reason and the run goes on.
 * Every network operation is bounded (`timeoutMs`) and ends when `signal` aborts.
 */
export async function startOpcuaAudit(hosts: readonly HostUnderTest[], vault: CredentialVault, options: {
  runDir: string; profileDir?: string; signal: AbortSignal; timeoutMs?: number;
}): Promise<RunningOpcuaAudit> {
  const journalFile = path.join(options.runDir, OPCUA_AUDIT_JOURNAL);
  fs.mkdirSync(path.dirname(journalFile), { recursive: true });
  fs.appendFileSync(journalFile, '');
  let seq = 0;
  const credential = auditAccount(vault);
  const resolve = (file: string) => path.resolve(options.profileDir ?? process.cwd(), file);
  const subscribers: OpcuaAuditSubscriber[] = await Promise.all(hosts.flatMap((h) => h.services.filter((s) => s.protocol === 'opcua').map((service) => subscribeOpcuaAudit({
    target: { host: service.host, port: service.port }, identity: clientIdentityFor(service, resolve), journalFile, nextSeq: () => ++seq,
    signal: options.signal, ...(credential ? { credential } : {}), ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  }))));
  return {
    services: {
      journal: OPCUA_AUDIT_JOURNAL,
      get subscriptions() { return subscribers.map((s) => s.subscription); },
      get events(): readonly OpcuaAuditEvent[] { return subscribers.flatMap((s) => s.events).sort((a, b) => a.seq - b.seq); },
    },
    close: async () => {
      await Promise.all(subscribers.map((s) => s.close()));
    },
  };
}
