import { randomInt } from 'node:crypto';

/** The password policy the vendor documents (`policy.passwords`): what the device must refuse (CR 1.7). */
export interface PasswordPolicy {
  readonly minLength: number;
  /** Character classes (lower, upper, digit, other) a password must mix; default 1. */
  readonly minClasses?: number;
  /** A password equal to the user name is refused. */
  readonly rejectUsername?: boolean;
  /** A password based on a dictionary word is refused. */
  readonly rejectDictionary?: boolean;
}

/** The rules a candidate breaks, named as in docs/accounts.md. */
export type PolicyRule = 'too-short' | 'too-few-classes' | 'contains-username' | 'dictionary-word';

export interface Candidate {
  /** Why it was chosen: the rule it was made to break. */
  readonly kind: 'too-short' | 'only-digits' | 'user-name' | 'dictionary-word';
  readonly password: string;
  /** Every declared rule it breaks (at least one); evidence names these, never the password. */
  readonly violates: readonly PolicyRule[];
}

const LOWER = 'abcdefghijkmnopqrstuvwxyz';
const UPPER = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
const DIGITS = '23456789';
const OTHER = '#%+,-.:=@_';
const CLASSES = [LOWER, UPPER, DIGITS, OTHER];

/** Words every password dictionary holds (cracklib's, the emulator's), longest first. */
const WORDS = ['administrator', 'maintenance', 'engineering', 'automation', 'controller', 'password', 'welcome', 'operator'];

const pick = (set: string) => set[randomInt(set.length)];

export function classesOf(password: string): number {
  return [/[a-z]/, /[A-Z]/, /[0-9]/, /[^a-zA-Z0-9]/].filter((r) => r.test(password)).length;
}

/** A random password of `length` that mixes all four classes (no repeated neighbours, no sequences). */
export function randomPassword(length: number): string {
  const chars = CLASSES.map(pick);
  while (chars.length < length) {
    const next = pick(CLASSES[chars.length % 4]);
    if (next !== chars[chars.length - 1]) chars.push(next);
  }
  for (let i = chars.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}

/** A password every declared rule accepts, with a margin: 4 longer than required, all four classes, random. */
export function compliantPassword(policy: PasswordPolicy): string {
  return randomPassword(Math.max(16, policy.minLength + 4));
}

/** The rules of the policy `password` breaks for account `user`. */
export function violations(policy: PasswordPolicy, user: string, password: string): PolicyRule[] {
  const out: PolicyRule[] = [];
  if (password.length < policy.minLength) out.push('too-short');
  if (classesOf(password) < (policy.minClasses ?? 1)) out.push('too-few-classes');
  if (policy.rejectUsername && password.toLowerCase().includes(user.toLowerCase())) out.push('contains-username');
  if (policy.rejectDictionary && WORDS.some((w) => password.toLowerCase().includes(w))) out.push('dictionary-word');
  return out;
}

/**
 * Passwords that break the declared policy, one per rule it declares: too short (otherwise strong), only digits
 * (when classes are required), the user name, a dictionary word. A rule the profile does not declare is not
 * tried: refusing what the vendor never promised is no evidence, and accepting it is no failure.
 */
export function weakCandidates(policy: PasswordPolicy, user: string): Candidate[] {
  const made: Omit<Candidate, 'violates'>[] = [];
  if (policy.minLength >= 2) made.push({ kind: 'too-short', password: randomPassword(policy.minLength - 1) });
  if ((policy.minClasses ?? 1) >= 2) made.push({ kind: 'only-digits', password: Array.from({ length: Math.max(policy.minLength, 12) }, () => pick('0123456789')).join('') });
  // The user name and the word get an upper-case letter, a digit and a sign where needed, so that the rule they
  // were made for is the one they break (not the class count).
  if (policy.rejectUsername) made.push({ kind: 'user-name', password: `${user}-X7`.slice(0, Math.max(user.length + 3, policy.minLength)) });
  if (policy.rejectDictionary) {
    const word = WORDS.find((w) => w.length + 2 >= policy.minLength) ?? WORDS[0];
    made.push({ kind: 'dictionary-word', password: `${word[0].toUpperCase()}${word.slice(1)}1!` });
  }
  return made.map((c) => ({ ...c, violates: violations(policy, user, c.password) })).filter((c) => c.violates.length > 0);
}

/** A test account name we own: "iacs" and random hex, long enough for the policy's user-name rule to be the only one broken where it can. */
export function testAccountName(policy?: PasswordPolicy): string {
  const length = Math.min(30, Math.max(12, policy?.minLength ?? 0));
  let name = 'iacs';
  while (name.length < length) name += randomInt(16).toString(16);
  return name;
}
