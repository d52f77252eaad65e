import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { RunStore } from '../evidence/store';
import { packagePath } from '../paths';
import { shippedDefaultPasswords } from '../protocols/auth/lists';
import type { Credential, CredentialVault } from '../sdk';

/** Holds resolved credentials; serialises to a placeholder so secrets cannot leak through JSON. */
export class Vault implements CredentialVault {
  private readonly entries: ReadonlyMap<string, Credential>;

  constructor(entries: Iterable<readonly [string, Credential]> = []) {
    this.entries = new Map(entries);
  }

  get(key: string): Credential | undefined {
    return this.entries.get(key);
  }

  keys(): readonly string[] {
    return [...this.entries.keys()];
  }

  toJSON(): string {
    return `[${this.entries.size} credential(s)]`;
  }
}

/**
 * Registers the profile's secrets with the evidence store. A password that is also ordinary text of the run
 * (one of the profile's user names, a default password of the shipped lists, a default SNMP community of the
 * built-in baseline) is public or unavoidable in readable evidence: it is redacted only where it stands as a
 * secret, never in a user name, a URL path or a list entry id.
 */
export function registerSecrets(store: Pick<RunStore, 'addSecret'>, credentials: Iterable<Credential>): void {
  const list = [...credentials];
  const ordinary = new Set([...list.map((c) => c.username), ...shippedDefaultPasswords(), ...shippedDefaultCommunities()]);
  for (const c of list) store.addSecret(c.password, { alsoPublic: ordinary.has(c.password) });
}

function shippedDefaultCommunities(): string[] {
  const doc = parseYaml(fs.readFileSync(packagePath('profiles', 'baselines', 'snmp.yaml'), 'utf8')) as { levels?: Record<string, { defaultCommunities?: { community: string }[] }> };
  return Object.values(doc.levels ?? {}).flatMap((l) => (l.defaultCommunities ?? []).map((d) => d.community));
}
