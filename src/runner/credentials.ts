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

  /** Every password, for the evidence store's redaction. */
  secrets(): string[] {
    return [...this.entries.values()].map((c) => c.password);
  }

  toJSON(): string {
    return `[${this.entries.size} credential(s)]`;
  }
}
