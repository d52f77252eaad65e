import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { EvidenceRecorder } from '../sdk';

export const JOURNAL = 'journal.ndjson';
export const MANIFEST = 'manifest.json';
export const MANIFEST_DIGEST = 'manifest.sha256';
export const MANIFEST_SIGNATURE = 'manifest.sig';
/** Files that describe the folder rather than belong to it. */
export const MANIFEST_FILES: ReadonlySet<string> = new Set([MANIFEST, MANIFEST_DIGEST, MANIFEST_SIGNATURE]);

const REDACTED = '[redacted]';
/** Shorter secrets are not searched for: they would blank out ordinary words in transcripts. */
const MIN_REDACT_LENGTH = 4;

export class EvidenceFolderError extends Error {}

/**
 * One run folder: the journal, artifacts per probe and target, reports, and the manifest.
 * Writes are synchronous so that whatever the process managed to write survives a crash or a signal.
 */
export class RunStore {
  private readonly journalFd: number;
  private readonly secrets = new Set<string>();
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

  /** Registers a secret value; it is replaced in everything written afterwards. */
  addSecret(secret: string): void {
    if (secret.length >= MIN_REDACT_LENGTH) this.secrets.add(secret);
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
    let buf: Buffer = Buffer.from(content);
    for (const secret of this.secrets) buf = replaceAll(buf, Buffer.from(secret), Buffer.from(REDACTED));
    return buf;
  }

  /**
   * A copy of a JSON-able value with secrets replaced in its string values only. Keys are left alone: a
   * password that is also a common word ("operator") must not rename fields of the report.
   */
  redactValues<T>(value: T): T {
    if (this.secrets.size === 0) return value;
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.redact(v);
      if (Array.isArray(v)) return v.map(walk);
      if (v !== null && typeof v === 'object' && !(v instanceof Uint8Array)) {
        const plain = 'toJSON' in v && typeof (v as { toJSON: unknown }).toJSON === 'function' ? (v as { toJSON(): unknown }).toJSON() : v;
        if (plain !== v) return walk(plain);
        return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x)]));
      }
      return v;
    };
    return walk(value) as T;
  }

  /** Replaces every registered secret in a text (transcripts, logs, rendered text reports). */
  redact(text: string): string {
    let out = text;
    for (const secret of this.secrets) out = out.split(secret).join(REDACTED);
    for (const secret of this.secrets) out = out.split(JSON.stringify(secret).slice(1, -1)).join(REDACTED);
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
