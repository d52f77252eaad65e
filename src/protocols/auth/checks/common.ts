import type {
  Credential, CredentialVault, HostUnderTest, LockRequest, ProbeContext, RequirementOutcome, ServiceProtocol, ServiceUnderTest,
} from '../../../sdk';
import { authProtocolOf, isUnsupported, openLoginChannel, type AuthProtocol, type LoginChannel } from '..';
import { recordingChannel } from '../actions';

/** What the authentication probes share: which account they use, the locks they take, the channel. */

const AUTH_APPLIES_TO: Record<AuthProtocol, readonly ServiceProtocol[]> = {
  ssh: ['ssh'],
  opcua: ['opcua'],
  http: ['http', 'https'],
  mqtt: ['mqtt'],
};

/** The interface family's name in titles. */
export const AUTH_LABELS: Record<AuthProtocol, string> = { ssh: 'SSH', opcua: 'OPC UA', http: 'HTTP', mqtt: 'MQTT' };

/** What every authentication check runs against: each declared service of the protocol's family. */
export function onEveryLoginService(protocol: AuthProtocol): { protocol: AuthProtocol; scope: 'service'; appliesTo: readonly ServiceProtocol[] } {
  return { protocol, scope: 'service', appliesTo: AUTH_APPLIES_TO[protocol] };
}

/** Scheduling phases (higher runs after every lower-phase attempt on the same host). */
export const PHASE = { sessions: 1, lockout: 2 } as const;

/**
 * The account a probe uses for a purpose: credentials.<purpose>.<protocol>, then credentials.<purpose>,
 * then the protocol's own credentials.<protocol>.
 */
export function accountFor(vault: CredentialVault, protocol: AuthProtocol, purpose?: 'lockout' | 'feedback' | 'sessions'): Credential | undefined {
  const keys = purpose ? [`${purpose}.${protocol}`, purpose, protocol] : [protocol];
  for (const key of keys) {
    const c = vault.get(key);
    if (c) return c;
  }
  return undefined;
}

/** The second account of a lockout test (tells a per-user lock from a per-source one). */
export function secondAccountFor(vault: CredentialVault, protocol: AuthProtocol): Credential | undefined {
  return vault.get(`lockout.${protocol}.second`) ?? vault.get('lockout.second');
}

/** Every credential of the profile for this interface family that is not a default-list entry. */
export function knownAccounts(vault: CredentialVault, protocol: AuthProtocol): Map<string, string> {
  const out = new Map<string, string>();
  for (const key of vault.keys()) {
    const parts = key.split('.');
    if (parts[0] === 'defaults') continue;
    const protocols = parts.filter((p) => p === 'ssh' || p === 'opcua' || p === 'http' || p === 'mqtt');
    if (protocols.length > 0 && !protocols.includes(protocol)) continue;
    const c = vault.get(key)!;
    if (!out.has(c.username)) out.set(c.username, c.password);
  }
  return out;
}

/**
 * Account locks: `account:<host>:<user>` (device-wide accounts are shared by every interface), and for SSH
 * also the key ssh.auth holds (`ssh:<host>:<port>:<user>`).
 */
export function accountLocks(host: HostUnderTest, service: ServiceUnderTest | undefined, usernames: Iterable<string>, mode: LockRequest['mode']): LockRequest[] {
  const out: LockRequest[] = [];
  for (const user of new Set(usernames)) {
    out.push({ key: `account:${host.host}:${user}`, mode });
    if (service?.protocol === 'ssh') out.push({ key: `ssh:${host.host}:${service.port}:${user}`, mode });
  }
  return out;
}

/**
 * The login channel of the attempt's service, or the reason there is none. Its checks and sessions are
 * recorded in the run's action log (what the device should log: CR 2.8).
 */
export async function channelOf(ctx: ProbeContext<unknown>): Promise<LoginChannel | { unsupported: string }> {
  const protocol = authProtocolOf(ctx.service!);
  const knownAccount = protocol ? accountFor(ctx.credentials, protocol) : undefined;
  const channel = await openLoginChannel(ctx.service!, { signal: ctx.signal, deadline: ctx.deadline, resolvePath: ctx.resolvePath, ...(knownAccount ? { knownAccount } : {}) });
  if (isUnsupported(channel)) return channel;
  ctx.log.info(`login interface: ${channel.label}`);
  return recordingChannel(channel, ctx.actions);
}

/** A result with no outcome (the requirement stays not determined) and the reason as an observation. */
export function notDetermined(reason: string, extra: Record<string, unknown> = {}): { observations: Record<string, unknown>; findings: []; outcomes: RequirementOutcome[] } {
  return { observations: { ...extra, notDetermined: reason }, findings: [], outcomes: [] };
}

/** A random wrong password (never a real one): what the probes send when they need a failed login. */
export function wrongPassword(): string {
  return `iacs-probe-wrong-${Math.random().toString(36).slice(2, 10)}${Date.now().toString(36)}`;
}

/** A user name no device has. */
export function unknownUser(): string {
  return `iacs-probe-${Math.random().toString(36).slice(2, 10)}`;
}

