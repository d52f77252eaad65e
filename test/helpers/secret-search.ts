import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { listFiles } from '../../src/evidence/store';

/**
 * Searches a run folder for secrets in every spelling a file could hold them in (issue #23, item 4): raw, base64
 * and base64url (at each of the three alignments, so a secret inside a longer encoded value such as HTTP Basic's
 * `user:password` is found too), hex lower and upper, URL-encoded (also with `+` for spaces), and UTF-16LE.
 * Zipped and compressed files are opened first: xlsx entries, PDF Flate streams plus pdftotext's text, gzip.
 */

/** The base64 text that any encoding of `secret` contains, whatever precedes it (offset 0, 1 or 2 in a group of three). */
function base64Cores(secret: Buffer, alphabet: 'base64' | 'base64url'): string[] {
  const cores: string[] = [];
  for (let offset = 0; offset < 3; offset += 1) {
    const encoded = Buffer.concat([Buffer.alloc(offset), secret]).toString(alphabet).replace(/=+$/, '');
    const lead = Math.ceil((offset * 4) / 3); // characters that also depend on the bytes before the secret
    const tail = (offset + secret.length) % 3 === 0 ? 0 : 1; // a last character that depends on what follows
    cores.push(encoded.slice(lead, encoded.length - tail));
  }
  return cores;
}

/** Every spelling searched for, by name. */
export function spellings(secret: string): Record<string, Buffer> {
  const raw = Buffer.from(secret, 'utf8');
  const out: Record<string, Buffer> = {
    raw, hex: Buffer.from(raw.toString('hex')), HEX: Buffer.from(raw.toString('hex').toUpperCase()),
    url: Buffer.from(encodeURIComponent(secret)), form: Buffer.from(encodeURIComponent(secret).replace(/%20/g, '+')),
    utf16le: Buffer.from(secret, 'utf16le'),
  };
  base64Cores(raw, 'base64').forEach((c, i) => { out[`base64@${i}`] = Buffer.from(c); });
  base64Cores(raw, 'base64url').forEach((c, i) => { out[`base64url@${i}`] = Buffer.from(c); });
  return out;
}

/** Flate streams of a PDF, inflated (those that do not inflate are searched as they are, with the file). */
function pdfStreams(pdf: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = pdf.indexOf('stream'); at !== -1; at = pdf.indexOf('stream', at + 6)) {
    const start = at + (pdf[at + 6] === 0x0d ? 8 : 7);
    const end = pdf.indexOf('endstream', start);
    if (end === -1) break;
    try {
      out.push(zlib.inflateSync(pdf.subarray(start, end)));
    } catch {
      // not Flate (or not a stream keyword): the raw file is searched anyway
    }
    at = end;
  }
  return out;
}

/** The file's bytes plus what it holds once opened, each with a name for the report. */
export function openedContents(file: string): { name: string; data: Buffer }[] {
  const data = fs.readFileSync(file);
  const parts: { name: string; data: Buffer }[] = [{ name: path.basename(file), data }];
  if (file.endsWith('.xlsx') || file.endsWith('.zip')) {
    const into = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-unzip-'));
    try {
      execFileSync('unzip', ['-qq', file, '-d', into]);
      for (const e of listFiles(into)) parts.push({ name: `${path.basename(file)}!${e}`, data: fs.readFileSync(path.join(into, e)) });
    } finally {
      fs.rmSync(into, { recursive: true, force: true });
    }
  } else if (file.endsWith('.pdf')) {
    pdfStreams(data).forEach((s, i) => parts.push({ name: `${path.basename(file)}!stream${i}`, data: s }));
    parts.push({ name: `${path.basename(file)}!text`, data: execFileSync('pdftotext', [file, '-'], { maxBuffer: 1 << 28 }) });
  } else if (file.endsWith('.gz')) {
    parts.push({ name: `${path.basename(file)}!gunzip`, data: zlib.gunzipSync(data) });
  }
  return parts;
}

export interface SecretSearch {
  files: number;
  /** Opened contents searched (files plus xlsx entries, PDF streams and text, ...). */
  contents: number;
  spellingsPerSecret: number;
  /** `file: secret-name as spelling` for every match. */
  found: string[];
}

export function searchFolder(dir: string, secrets: Readonly<Record<string, string>>): SecretSearch {
  const needles = Object.entries(secrets).flatMap(([name, secret]) => Object.entries(spellings(secret)).map(([how, bytes]) => ({ name, how, bytes })));
  const result: SecretSearch = { files: 0, contents: 0, spellingsPerSecret: needles.length / Object.keys(secrets).length, found: [] };
  for (const rel of listFiles(dir)) {
    result.files += 1;
    for (const part of openedContents(path.join(dir, rel))) {
      result.contents += 1;
      for (const n of needles) if (part.data.includes(n.bytes)) result.found.push(`${rel} (${part.name}): ${n.name} as ${n.how}`);
    }
  }
  return result;
}
