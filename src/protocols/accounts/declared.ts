import type { Credential, LockRequest, PlanInfo, ProbeContext, ServiceUnderTest } from '../../sdk';
import { accountLocks } from '../auth/checks/common';
import { httpAccounts, type HttpAccountManagement } from './http';
import { replayLeftovers, type Replayed } from './journal';
import type { PasswordPolicy } from './passwords';
import { sshAccounts, type SshAccountManagement } from './ssh';
import type { AccountInterface, Actor } from './types';

/** `policy.accountManagement` of the profile: one interface, SSH commands or web/REST request templates. */
export interface AccountManagement {
  readonly ssh?: SshAccountManagement;
  readonly http?: HttpAccountManagement;
}

export const ACTOR_KEYS: Readonly<Record<Actor, string>> = { admin: 'accounts.admin', operator: 'accounts.operator' };

export interface Declared {
  readonly api: AccountInterface;
  readonly service: ServiceUnderTest;
  readonly actors: Partial<Record<Actor, Credential>>;
  /** `policy.passwords`, when the profile documents one. */
  readonly passwords?: PasswordPolicy;
  /** Every secret used or generated in this attempt: scrubbed from each step's detail. */
  readonly secrets: Set<string>;
}

function serviceFor(ctx: ProbeContext<unknown>, protocols: readonly string[], port?: number): ServiceUnderTest | undefined {
  return ctx.host.services.find((s) => protocols.includes(s.protocol) && (port === undefined || s.port === port));
}

/** The declared interface on this host with the admin's credential, or why the probe has nothing to act on. */
export function declaredInterface(ctx: ProbeContext<unknown>): Declared | { notDetermined: string } {
  const declared = ctx.policy.accountManagement as AccountManagement | undefined;
  if (!declared || (!declared.ssh && !declared.http)) {
    return { notDetermined: 'the profile declares no account-management interface (policy.accountManagement.ssh or .http)' };
  }
  const actors: Partial<Record<Actor, Credential>> = {};
  for (const [actor, key] of Object.entries(ACTOR_KEYS) as [Actor, string][]) {
    const c = ctx.credentials.get(key);
    if (c) actors[actor] = c;
  }
  if (!actors.admin) return { notDetermined: `no administrator account (credentials.${ACTOR_KEYS.admin}): nothing can be created` };
  const secrets = new Set<string>(Object.values(actors).map((c) => c.password));
  const passwords = ctx.policy.passwords as PasswordPolicy | undefined;
  const base = { actors, secrets, ...(passwords ? { passwords } : {}) };
  if (declared.ssh) {
    const service = serviceFor(ctx, ['ssh'], declared.ssh.port);
    if (!service) return { notDetermined: `no declared ssh service${declared.ssh.port ? ` on port ${declared.ssh.port}` : ''} for the account-management interface` };
    return { ...base, service, api: sshAccounts(service, declared.ssh, actors, ctx.signal, secrets) };
  }
  const http = declared.http!;
  const service = serviceFor(ctx, ['http', 'https'], http.port);
  if (!service) return { notDetermined: `no declared http/https service${http.port ? ` on port ${http.port}` : ''} for the account-management interface` };
  return { ...base, service, api: httpAccounts(service, http, actors, ctx.signal, secrets) };
}

/** Shared locks on the admin and operator accounts: no lockout test may lock them out while accounts are managed. */
export function managementLocks({ host, credentials }: PlanInfo<unknown>): LockRequest[] {
  return accountLocks(host, undefined, Object.values(ACTOR_KEYS).flatMap((k) => credentials.get(k)?.username ?? []), 'shared');
}

/**
 * The declared interface, after removing the accounts runs that died left on it (before anything new is
 * created), or why the probe has nothing to act on.
 */
export async function preparedInterface(ctx: ProbeContext<unknown>): Promise<{ declared: Declared; replayed: Replayed[] } | { notDetermined: string }> {
  const declared = declaredInterface(ctx);
  if ('notDetermined' in declared) return declared;
  return { declared, replayed: await replayLeftovers(ctx, declared.api) };
}
