import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { InputRejected, type EvidenceRecorder } from '../sdk';

export const JOURNAL = 'journal.ndjson';
export const MANIFEST = 'manifest.json';
export const MANIFEST_DIGEST = 'manifest.sha256';
export const MANIFEST_SIGNATURE = 'manifest.sig';
/** Files that describe the folder rather than belong to it. */
export const MANIFEST_FILES: ReadonlySet<string> = new Set([MANIFEST, MANIFEST_DIGEST, MANIFEST_SIGNATURE]);

const REDACTED = '[redacted]';
/** Shorter secrets are not searched for in free text: they would blank out ordinary words in transcripts. */
const MIN_REDACT_LENGTH = 4;

/** JSON fields that hold a secret wherever they appear (their value is replaced when it is a registered secret). */
const SECRET_FIELDS = /^(password|passwd|passphrase|secret|community|authKey|privKey|privateKey|authorization)$/i;
/** Where a secret stands in protocol text: `password=...` (forms, key=value), FTP `PASS ...`, HTTP Basic credentials. */
const SECRET_IN_TEXT = [
  /((?:^|[?&\s"'])(?:password|passwd|pass|pwd|community|secret)=)([^&\s"']*)/gi,
  /(^|\n|\r)(PASS )([^\r\n]*)/g,
];
const BASIC_CREDENTIALS = /(\bBasic\s+)([A-Za-z0-9+/]+=*)/g;

export class EvidenceFolderError extends InputRejected {}

/**
 * One run folder: the journal, artifacts per probe and target, reports, and the manifest.
 * Writes are synchronous so that whatever the process managed to write survives a crash or a signal.
 */
export class RunStore {
  private readonly journalFd: number;
  /** Secrets replaced everywhere they occur. */
  private readonly secrets = new Set<string>();
  /** Every secret, also those that are a user name or a public default too: replaced where they stand as a secret. */
  private readonly positional = new Set<string>();
  readonly tools = new Map<string, string>();

  private constructor(readonly dir: string) {
    this.journalFd = fs.openSync(path.join(dir, JOURNAL), 'a');
  }

  /** Creates the folder; refuses a non-empty existing folder unless `overwrite`, so no evidence is lost. */
  static create(dir: string, options: { overwrite?: boolean } = {}): RunStore {
    const abs = path.resolve(dir);
    if (fs.existsSync(abs)) {
      if (!fs.statSync(abs).isDirectory()) throw new EvidenceFolderError(`${dir} exists and is not a folder`);
      if (fs.readdirSync(abs).length > 0) {
        if (!options.overwrite) {
          throw new EvidenceFolderError(`${dir} already holds files; choose another --out or pass --overwrite`);
        }
        fs.rmSync(abs, { recursive: true, force: true });
      }
    }
    fs.mkdirSync(abs, { recursive: true });
    return new RunStore(abs);
  }

  /**
   * Registers a secret value; it is replaced in everything written afterwards. A secret that is also
   * ordinary text of the run (`alsoPublic`: it equals a user name, or is a well-known default from the shipped
   * lists) is replaced only where it stands as a secret (a password field, a form's password parameter, FTP
   * PASS, HTTP Basic credentials), so that the user name `admin` or the list entry `generic/admin-admin`
   * stays readable when the password is `admin` too.
   */
  addSecret(secret: string, options: { alsoPublic?: boolean } = {}): void {
    if (secret.length === 0) return;
    this.positional.add(secret);
    if (!options.alsoPublic && secret.length >= MIN_REDACT_LENGTH) this.secrets.add(secret);
  }

  /** Appends one record to journal.ndjson and flushes it to disk. */
  journal(record: object): void {
    fs.writeSync(this.journalFd, JSON.stringify(this.redactValues(record)) + '\n');
    fs.fsyncSync(this.journalFd);
  }

  /**
   * Writes a file at a folder-relative path. Text is searched for secrets unless `alreadyRedacted` (reports
   * rendered from a value-redacted report: a text replacement there could only damage field names).
   */
  writeFile(relative: string, content: string | Uint8Array, options: { alreadyRedacted?: boolean } = {}): string {
    const rel = safeRelative(relative);
    const abs = path.join(this.dir, rel);
    fs.mkdirSync(path.dirname(abs), { recursive: true });
    fs.writeFileSync(abs, options.alreadyRedacted ? content : this.redactContent(content));
    return rel;
  }

  /** The recorder handed to one attempt: artifacts go under evidence/<probe>/<target>/. */
  recorder(probeId: string, target: string): EvidenceRecorder & { readonly files: readonly string[] } {
    const base = path.posix.join('evidence', safeSegment(probeId), safeSegment(target));
    const files: string[] = [];
    const track = (rel: string) => {
      if (!files.includes(rel)) files.push(rel);
      return rel;
    };
    return {
      files,
      save: (name, content) => {
        const data = typeof content === 'string' || content instanceof Uint8Array
          ? content : JSON.stringify(this.redactValues(content), null, 2) + '\n';
        return track(this.writeFile(path.posix.join(base, safeRelative(name)), data));
      },
      append: (name, line) => {
        const rel = path.posix.join(base, safeRelative(name));
        const abs = path.join(this.dir, rel);
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.appendFileSync(abs, this.redact(line) + '\n');
        return track(rel);
      },
      tool: (name, version) => {
        this.tools.set(name, version);
      },
    };
  }

  close(): void {
    fs.closeSync(this.journalFd);
  }

  private redactContent(content: string | Uint8Array): string | Uint8Array {
    if (typeof content === 'string') return this.redact(content);
    if (this.secrets.size === 0) return content;
    // Binary evidence (captures, DER): only secrets that are nobody's ordinary text can be searched for here.
    let buf: Buffer = Buffer.from(content);
    for (const secret of this.secrets) buf = replaceAll(buf, Buffer.from(secret), Buffer.from(REDACTED));
    return buf;
  }

  /**
   * A copy of a JSON-able value with secrets replaced in its string values only. Keys are left alone: a
   * password that is also a common word ("operator") must not rename fields of the report.
   */
  redactValues<T>(value: T): T {
    if (this.positional.size === 0) return value;
    const walk = (v: unknown, key?: string): unknown => {
      if (typeof v === 'string') return key !== undefined && SECRET_FIELDS.test(key) && this.positional.has(v) ? REDACTED : this.redact(v);
      if (Array.isArray(v)) return v.map((x) => walk(x, key));
      if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
        const plain = 'toJSON' in v && typeof (v as { toJSON: unknown }).toJSON === 'function' ? (v as { toJSON(): unknown }).toJSON() : v;
        if (plain !== v) return walk(plain, key);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
      }
      return v;
    };
    return walk(value) as T;
  }

  /** Replaces the registered secrets in a text (transcripts, logs, rendered text reports). */
  redact(text: string): string {
    if (this.positional.size === 0) return text;
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    for (const secret of this.secrets) out = out.split(JSON.stringify(secret).slice(1, -1)).join(REDACTED);
    const isSecret = (raw: string) => {
      if (this.positional.has(raw)) return true;
      try {
        return this.positional.has(decodeURIComponent(raw.replace(/\+/g, ' ')));
      } catch {
        return false;
      }
    };
    out = out.replace(SECRET_IN_TEXT[0], (all, head: string, value: string) => (isSecret(value) ? `${head}${REDACTED}` : all));
    out = out.replace(SECRET_IN_TEXT[1], (all, start: string, pass: string, value: string) => (isSecret(value) ? `${start}${pass}${REDACTED}` : all));
    out = out.replace(BASIC_CREDENTIALS, (all, head: string, b64: string) => {
      const decoded = Buffer.from(b64, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      return colon >= 0 && this.positional.has(decoded.slice(colon + 1)) ? `${head}${REDACTED}` : all;
    });
    return out;
  }
}

function replaceAll(buf: Buffer, needle: Buffer, replacement: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = buf.indexOf(needle, from); at !== -1; at = buf.indexOf(needle, from)) {
    parts.push(buf.subarray(from, at), replacement);
    from = at + needle.length;
  }
  if (parts.length === 0) return buf;
  parts.push(buf.subarray(from));
  return Buffer.concat(parts);
}

/** A single folder-name segment: "127.0.0.1:502" -> "127.0.0.1_502", "[::1]:22" -> "__1_22". */
export function safeSegment(value: string): string {
  return value.replace(/[[\]]/g, '').replace(/[^A-Za-z0-9._-]/g, '_') || '_';
}

function safeRelative(relative: string): string {
  const parts = relative.split(/[\\/]+/).filter((p) => p.length > 0);
  if (parts.length === 0 || parts.some((p) => p === '..' || p === '.')) {
    throw new EvidenceFolderError(`invalid evidence path: ${relative}`);
  }
  return parts.map(safeSegment).join('/');
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** One folder is the other or lies inside it (writing one with --overwrite would destroy the other). */
export function foldersOverlap(a: string, b: string): boolean {
  const [x, y] = [path.resolve(a), path.resolve(b)];
  const inside = (p: string, q: string) => p === q || p.startsWith(q + path.sep);
  return inside(x, y) || inside(y, x);
}

/** Every regular file below `dir`, relative with forward slashes, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(child);
      else out.push(child);
    }
  };
  walk('');
  return out.sort();
}
