import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InvalidInput } from '../../sdk';
import { InputFileError, formatIssues, loadInputYaml } from '../../sdk/input-file';
import { packagePath } from '../../paths';

/**
 * Lists of well-known default credentials (profiles/default-credentials/*.yaml, or a file the profile
 * names). Each entry cites where the pair is documented, or says why it is listed without a citation.
 */

export const CREDENTIAL_PROTOCOLS = ['ssh', 'opcua', 'http', 'mqtt', 'any'] as const;
export type CredentialProtocol = (typeof CREDENTIAL_PROTOCOLS)[number];

export interface DefaultCredentialEntry {
  /** Stable id within the list, e.g. "wago-pfc-admin": what evidence records instead of the password. */
  id: string;
  username: string;
  /** May be empty (no password). Public knowledge, but still never written to evidence. */
  password: string;
  /** Interfaces the source says the pair is for; "any" when it does not say. */
  protocols: CredentialProtocol[];
  vendor?: string;
  product?: string;
  /** Where the pair is documented (vendor manual, public list), with a URL where there is one. */
  sources?: string[];
  /** Why the pair is listed without a citation (a guess, or a widely repeated value not checked here). */
  uncited?: string;
}

export interface DefaultCredentialList {
  id: string;
  title: string;
  /** Built-in list name or the file's path. */
  origin: string;
  sha256: string;
  entries: DefaultCredentialEntry[];
}

export const BUILTIN_LIST_DIR = (): string => packagePath('profiles', 'default-credentials');

/** Names of the built-in lists (file names without .yaml). */
export function builtinLists(): string[] {
  const dir = BUILTIN_LIST_DIR();
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).map((f) => f.slice(0, -5)).sort() : [];
}

function fail(origin: string, message: string): never {
  throw new InvalidInput(`default-credential list ${origin}: ${message}`);
}

/** Checks a parsed list file; throws InvalidInput naming the first problem. */
export function checkList(doc: unknown, origin: string, sha256 = ''): DefaultCredentialList {
  if (doc === null || typeof doc !== 'object') fail(origin, 'not a YAML mapping');
  const d = doc as { id?: unknown; title?: unknown; entries?: unknown };
  if (typeof d.id !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(d.id)) fail(origin, '"id" must be a lower-case name');
  if (typeof d.title !== 'string') fail(origin, '"title" is required');
  if (!Array.isArray(d.entries) || d.entries.length === 0) fail(origin, '"entries" must be a non-empty list');
  const ids = new Set<string>();
  const entries = d.entries.map((raw: unknown, i: number): DefaultCredentialEntry => {
    const e = (raw ?? {}) as Partial<Record<keyof DefaultCredentialEntry, unknown>>;
    const where = `entries[${i}]`;
    if (typeof e.id !== 'string' || !/^[a-z0-9][a-z0-9.-]*$/.test(e.id)) fail(origin, `${where}.id must be a lower-case name`);
    if (ids.has(e.id)) fail(origin, `${where}.id ${e.id} is used twice`);
    ids.add(e.id);
    if (typeof e.username !== 'string' || e.username === '') fail(origin, `${where} (${e.id}): username is required`);
    if (typeof e.password !== 'string') fail(origin, `${where} (${e.id}): password must be a string (quote numbers; "" for none)`);
    const protocols = e.protocols ?? ['any'];
    if (!Array.isArray(protocols) || protocols.length === 0 || !protocols.every((p) => (CREDENTIAL_PROTOCOLS as readonly unknown[]).includes(p))) {
      fail(origin, `${where} (${e.id}): protocols must list ${CREDENTIAL_PROTOCOLS.join(', ')}`);
    }
    const sources = e.sources;
    const cited = Array.isArray(sources) && sources.length > 0 && sources.every((s) => typeof s === 'string' && s.trim() !== '');
    const uncited = typeof e.uncited === 'string' && e.uncited.trim() !== '';
    if (cited === uncited) fail(origin, `${where} (${e.id}): give either sources (where the pair is documented) or uncited (why it is listed anyway)`);
    return {
      id: e.id, username: e.username, password: e.password, protocols: protocols as CredentialProtocol[],
      ...(typeof e.vendor === 'string' ? { vendor: e.vendor } : {}),
      ...(typeof e.product === 'string' ? { product: e.product } : {}),
      ...(cited ? { sources: sources as string[] } : { uncited: e.uncited as string }),
    };
  });
  return { id: d.id, title: d.title, origin, sha256, entries };
}

/**
 * Loads a list by built-in name ("iacs", "generic") or from a file (`resolve` maps a profile-relative
 * path). A name that is neither is an InvalidInput.
 */
export function loadCredentialList(nameOrFile: string, resolve: (file: string) => string = (f) => path.resolve(f)): DefaultCredentialList {
  const builtin = /^[a-z0-9-]+$/.test(nameOrFile) ? path.join(BUILTIN_LIST_DIR(), `${nameOrFile}.yaml`) : undefined;
  const file = builtin && fs.existsSync(builtin) ? builtin : resolve(nameOrFile);
  if (!fs.existsSync(file)) fail(nameOrFile, `no built-in list of that name (${builtinLists().join(', ')}) and no such file`);
  // The bounded reader: a user's list may be a FIFO, huge, or an alias bomb.
  let read: ReturnType<typeof loadInputYaml>;
  try {
    read = loadInputYaml(file, nameOrFile);
  } catch (err) {
    if (err instanceof InputFileError) fail(nameOrFile, formatIssues(err.issues));
    throw err;
  }
  return checkList(read.value, builtin && file === builtin ? nameOrFile : file, createHash('sha256').update(read.bytes).digest('hex'));
}

/** Entries meant for this interface (or for any). */
export function entriesFor(list: DefaultCredentialList, protocol: Exclude<CredentialProtocol, 'any'>): DefaultCredentialEntry[] {
  return list.entries.filter((e) => e.protocols.includes(protocol) || e.protocols.includes('any'));
}

/** What evidence records for a password: its SHA-256, never the password. */
export function passwordDigest(password: string): string {
  return createHash('sha256').update(password, 'utf8').digest('hex');
}

/** The passwords of the built-in lists: public knowledge (each entry cites where it is published). */
export function shippedDefaultPasswords(): Set<string> {
  return new Set(builtinLists().flatMap((name) => loadCredentialList(name).entries.map((e) => e.password)));
}
