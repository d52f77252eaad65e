/**
 * Accounts of an emulated device with a failed-login lockout, shared by every service that logs users
 * in (SSH, HTTP, OPC UA, the cleartext console), as on a real device where one account store serves all
 * interfaces.
 */

export interface AccountConfig {
  username: string;
  password: string;
  role?: string;
}

export interface LockoutConfig {
  /** Consecutive failures after which the account (or source) is locked. */
  threshold: number;
  durationSeconds: number;
  /** Count failures per username (default) or per client address. */
  scope?: 'user' | 'source';
}

export type LoginResult = 'ok' | 'denied' | 'locked';

/** What a login did, for the device's security log (src/emulator/audit.ts). */
export interface LoginEvent {
  readonly category: 'login-succeeded' | 'login-failed' | 'account-locked' | 'login-while-locked';
  readonly service: string;
  readonly user: string;
  readonly source: string;
  readonly detail?: string;
}

interface Counter {
  failures: number;
  lockedUntil: number;
}

export class AccountStore {
  private readonly accounts: Map<string, AccountConfig>;
  private readonly counters = new Map<string, Counter>();
  /** Accounts an administrator disabled: every login is refused (the account management API, account-api.ts). */
  private readonly disabled = new Set<string>();

  constructor(
    accounts: readonly AccountConfig[], readonly lockout: LockoutConfig | null = null, private readonly now: () => number = Date.now,
    private readonly report: (e: LoginEvent) => void = () => undefined,
  ) {
    this.accounts = new Map(accounts.map((a) => [a.username, a]));
  }

  has(username: string): boolean {
    return this.accounts.has(username);
  }

  role(username: string): string | undefined {
    return this.accounts.get(username)?.role;
  }

  /** Account management (account-api.ts): false when the name is taken. */
  add(account: AccountConfig): boolean {
    if (this.accounts.has(account.username)) return false;
    this.accounts.set(account.username, { ...account });
    return true;
  }

  remove(username: string): boolean {
    this.disabled.delete(username);
    return this.accounts.delete(username);
  }

  setPassword(username: string, password: string): boolean {
    const account = this.accounts.get(username);
    if (!account) return false;
    this.accounts.set(username, { ...account, password });
    return true;
  }

  disable(username: string): boolean {
    if (!this.accounts.has(username)) return false;
    this.disabled.add(username);
    return true;
  }

  /**
   * Checks a login and updates the lockout state. While locked, even the right password is refused. Every
   * outcome is reported to the device's security log with the interface (`service`) it came through.
   */
  login(username: string, password: string, source: string, service = 'unknown'): LoginResult {
    const result = this.check(username, password, source);
    const event = { service, user: username, source };
    if (result === 'ok') this.report({ ...event, category: 'login-succeeded' });
    else if (result === 'locked') this.report({ ...event, category: 'login-while-locked' });
    else {
      this.report({ ...event, category: 'login-failed' });
      if (this.isLocked(username, source)) this.report({ ...event, category: 'account-locked', detail: `threshold ${this.lockout!.threshold} reached, for ${this.lockout!.durationSeconds} s` });
    }
    return result;
  }

  private check(username: string, password: string, source: string): LoginResult {
    const key = this.lockout?.scope === 'source' ? `source:${source}` : `user:${username}`;
    const counter = this.counters.get(key) ?? { failures: 0, lockedUntil: 0 };
    const now = this.now();
    if (this.lockout && counter.lockedUntil > now) return 'locked';
    if (counter.lockedUntil !== 0 && counter.lockedUntil <= now) {
      counter.failures = 0;
      counter.lockedUntil = 0;
    }
    const account = this.accounts.get(username);
    if (account && account.password === password && !this.disabled.has(username)) {
      this.counters.delete(key);
      return 'ok';
    }
    counter.failures += 1;
    if (this.lockout && counter.failures >= this.lockout.threshold) {
      counter.lockedUntil = now + this.lockout.durationSeconds * 1000;
    }
    this.counters.set(key, counter);
    return 'denied';
  }

  /** True when a login for this user from this source would be refused regardless of the password. */
  isLocked(username: string, source: string): boolean {
    const key = this.lockout?.scope === 'source' ? `source:${source}` : `user:${username}`;
    return this.lockout !== null && (this.counters.get(key)?.lockedUntil ?? 0) > this.now();
  }
}
