/**
 * Reading the files a user gives (profiles, secrets files, baselines, attestation files, emulator postures)
 * with bounds on size, nesting and YAML aliases, so that a hostile or broken file ends in a located message
 * (exit 3) in bounded time and memory instead of a hang, a stack trace or a crash. Not exported from the SDK's
 * index: probes have no business reading files.
 *
 * The limits are documented in docs/profiles.md ("Limits of input files").
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LineCounter, isAlias, isCollection, isMap, isPair, isScalar, isSeq, parseDocument, visit, type Document } from 'yaml';
import { InputRejected, InvalidInput } from './errors';

export const INPUT_LIMITS = {
  /** Bytes of one file; the largest shipped profile or baseline is below 20 KiB. */
  maxBytes: 1024 * 1024,
  /** Nesting of collections; profiles need fewer than 10. */
  maxDepth: 64,
  /** yaml's alias budget (`maxAliasCount`): defeats "billion laughs" expansion; the shipped baselines need less. */
  maxAliasCount: 100,
  /** Problems listed in one message (the rest are counted). */
  maxIssues: 50,
} as const;

/** One problem in an input file, located by file, line and field (line absent: it concerns the whole file). */
export interface InputIssue {
  file: string;
  line?: number;
  column?: number;
  /** Dotted field path, e.g. targets[0].services[1].port; empty for the file as a whole. */
  field: string;
  message: string;
}

export function formatIssue(i: InputIssue): string {
  const where = i.line !== undefined ? `${i.file}:${i.line}:${i.column ?? 1}` : i.file;
  return `${where}: ${i.field || '(top level)'}: ${i.message}`;
}

/** The issues as lines, at most INPUT_LIMITS.maxIssues of them. */
export function formatIssues(issues: readonly InputIssue[]): string {
  const shown = issues.slice(0, INPUT_LIMITS.maxIssues).map(formatIssue);
  if (issues.length > shown.length) shown.push(`... and ${issues.length - shown.length} more problem(s)`);
  return shown.join('\n');
}

/** A file that cannot be used as it is: exit 3, nothing run or written. */
export class InputFileError extends InputRejected {
  constructor(readonly issues: readonly InputIssue[], heading = 'unusable input file (nothing was run or written)') {
    super(formatIssues(issues), heading);
  }
}

/** Runs `read`; an InputFileError becomes the caller's own error (a ProfileError, ...) with the same issues. */
export function issuesAs<T>(wrap: (issues: readonly InputIssue[]) => Error, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof InputFileError) throw wrap(err.issues);
    throw err;
  }
}

function kindOf(stat: fs.Stats): string {
  if (stat.isDirectory()) return 'a folder';
  if (stat.isFIFO()) return 'a FIFO';
  if (stat.isCharacterDevice() || stat.isBlockDevice()) return 'a device';
  if (stat.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * The bytes of a regular file of at most INPUT_LIMITS.maxBytes. Opened without blocking (a FIFO with no writer
 * would hang a plain read), then checked through the open descriptor, and never read past the limit (a device
 * or /proc file may report size 0 and yet never end).
 */
export function readInputFile(file: string, name = file): Buffer {
  const fail = (message: string): never => {
    throw new InputFileError([{ file: name, field: '', message }]);
  };
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a folder, not a file' : `cannot open: ${code ?? (err as Error).message}`);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) return fail(`is ${kindOf(stat)}, not a file`);
    if (stat.size > INPUT_LIMITS.maxBytes) return fail(`${stat.size} bytes: ${TOO_LARGE}`);
    const buffer = Buffer.alloc(INPUT_LIMITS.maxBytes + 1);
    let length = 0;
    for (let n = -1; n !== 0 && length < buffer.length;) {
      n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      length += n;
    }
    if (length > INPUT_LIMITS.maxBytes) return fail(`more than ${INPUT_LIMITS.maxBytes} bytes: ${TOO_LARGE}`);
    return buffer.subarray(0, length);
  } finally {
    fs.closeSync(fd);
  }
}

/** UTF-8 text of a file the user names, read as readInputFile reads it (bounded, regular files only). */
export function readInputText(file: string, name = file): string {
  return decodeInputText(readInputFile(file, name), name);
}

/**
 * A file a probe input or service option names (a client certificate, a CA, a password list), read for a probe:
 * its text, or InvalidInput saying what the file is for and what is wrong with it (the attempt ends as an `input`
 * error instead of hanging on a FIFO or filling memory from /dev/zero).
 */
export function readNamedFile(file: string, what: string): string {
  try {
    return readInputText(file);
  } catch (err) {
    if (err instanceof InputFileError) throw new InvalidInput(`${what}: ${formatIssues(err.issues)}`);
    throw err;
  }
}

/**
 * The absolute path of a file a probe input or service option names, relative to the profile's folder; a symlink
 * that leads out of the folder the name points into is refused, as for the files the profile itself names.
 */
export function resolveNamedFile(baseDir: string, name: string): string {
  const { file, problem } = confinedFile(baseDir, name);
  if (problem) throw new InvalidInput(problem);
  return file;
}

const TOO_LARGE = `larger than the limit of ${INPUT_LIMITS.maxBytes} bytes for an input file (docs/profiles.md)`;

/** Line and column (1-based) of a byte offset. */
function positionOf(bytes: Buffer, offset: number): { line: number; column: number } {
  const before = bytes.subarray(0, offset);
  let line = 1;
  for (const b of before) if (b === 0x0a) line++;
  const lineStart = before.lastIndexOf(0x0a) + 1;
  return { line, column: offset - lineStart + 1 };
}

/** UTF-8 text of the bytes, without a UTF-8 byte order mark; anything else (UTF-16, invalid bytes) is an issue. */
export function decodeInputText(bytes: Buffer, file: string): string {
  if ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff)) {
    throw new InputFileError([{ file, line: 1, column: 1, field: '', message: 'UTF-16 text (byte order mark): save the file as UTF-8' }]);
  }
  const body = bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf ? bytes.subarray(3) : bytes;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    // The decoder does not say where: find the first offset that does not decode on its own.
    let good = 0;
    for (let step = 1 << 20; step > 0; step >>= 1) {
      if (good + step <= body.length && validUtf8Prefix(body, good + step)) good += step;
    }
    const at = positionOf(body, good);
    throw new InputFileError([{ file, ...at, field: '', message: `invalid UTF-8 (byte 0x${body[good]?.toString(16).padStart(2, '0')} at offset ${good}): save the file as UTF-8` }]);
  }
}

/** True when the first `n` bytes decode, allowing a sequence that is only cut at the end. */
function validUtf8Prefix(bytes: Buffer, n: number): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
    return true;
  } catch {
    return false;
  }
}

/** Dotted name of a path: targets[0].services[1].port */
export function fieldName(pathParts: readonly (string | number)[]): string {
  return pathParts.reduce<string>((acc, p) => {
    if (typeof p === 'number') return `${acc}[${p}]`;
    // A key that is empty or holds spaces, colons or control characters would make the message ambiguous.
    if (p === '' || /[\s:"\p{Cc}]/u.test(p)) return `${acc}[${JSON.stringify(p)}]`;
    return acc ? `${acc}.${p}` : p;
  }, '');
}

type Range = { range?: [number, number, number] } | null | undefined;
const keyText = (key: unknown) => String(isScalar(key) ? key.value : key);

/** Position (1-based) of the deepest existing node on the path (the key itself when the path ends at a key). */
export function locateIn(doc: Document.Parsed, lines: LineCounter, pathParts: readonly (string | number)[]): { line?: number; column?: number } {
  for (let n = pathParts.length; n >= 0; n--) {
    const parent = n === 0 ? doc.contents : doc.getIn(pathParts.slice(0, n - 1), true);
    let offset: number | undefined;
    if (n > 0 && isMap(parent)) {
      offset = (parent.items.find((it) => keyText(it.key) === String(pathParts[n - 1]))?.key as Range)?.range?.[0];
    } else if (n > 0 && isSeq(parent)) {
      offset = (parent.items[pathParts[n - 1] as number] as Range)?.range?.[0];
    } else if (n === 0) {
      offset = (doc.contents as Range)?.range?.[0];
    }
    if (offset !== undefined) {
      const pos = lines.linePos(offset);
      return { line: pos.line, column: pos.col };
    }
  }
  return {};
}

/**
 * Duplicate keys and nesting beyond INPUT_LIMITS.maxDepth, found by one walk over the document (yaml's own
 * uniqueKeys check compares every key with every other: a 1 MiB map would take minutes).
 */
function structureIssues(doc: Document.Parsed, lines: LineCounter, file: string): InputIssue[] {
  const issues: InputIssue[] = [];
  const at = (node: unknown, pathParts: (string | number)[], message: string): InputIssue => {
    const offset = (node as Range)?.range?.[0];
    const pos = offset === undefined ? undefined : lines.linePos(offset);
    return { file, ...(pos ? { line: pos.line, column: pos.col } : {}), field: fieldName(pathParts), message };
  };
  const stack: { node: unknown; path: (string | number)[] }[] = [{ node: doc.contents, path: [] }];
  while (stack.length > 0 && issues.length < INPUT_LIMITS.maxIssues) {
    const { node, path: where } = stack.pop()!;
    if (!isCollection(node) || isAlias(node)) continue;
    if (where.length >= INPUT_LIMITS.maxDepth) {
      issues.push(at(node, where, `nested deeper than ${INPUT_LIMITS.maxDepth} levels`));
      continue;
    }
    if (isMap(node)) {
      const seen = new Map<string, number>();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = keyText(pair.key);
        const first = seen.get(key);
        if (first !== undefined) issues.push(at(pair.key, [...where, key], `duplicate key "${key}" (first at line ${first})`));
        else seen.set(key, lines.linePos((pair.key as Range)?.range?.[0] ?? 0).line);
        stack.push({ node: pair.value, path: [...where, key] });
      }
    } else {
      node.items.forEach((item, i) => stack.push({ node: item, path: [...where, i] }));
    }
  }
  return issues;
}

export interface ParsedInput {
  doc: Document.Parsed;
  lines: LineCounter;
  /** The plain value (undefined when there are problems). */
  value: unknown;
  problems: InputIssue[];
}

/** Parses YAML (or JSON) text within INPUT_LIMITS; every problem comes back located, nothing is thrown. */
export function parseInputYaml(text: string, file: string): ParsedInput {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: true, uniqueKeys: false });
  const located = (message: string, linePos?: { line: number; col: number }[]): InputIssue => ({
    file, ...(linePos?.[0] ? { line: linePos[0].line, column: linePos[0].col } : {}), field: '', message,
  });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => located(/Maximum call stack/.test(e.message)
      ? `nested too deeply for the parser (at most ${INPUT_LIMITS.maxDepth} levels)` : `YAML: ${e.message.split('\n')[0]}`, e.linePos));
    return { doc, lines, value: undefined, problems: problems.slice(0, 1) };
  }
  const problems = structureIssues(doc, lines, file);
  if (problems.length > 0) return { doc, lines, value: undefined, problems };
  try {
    return { doc, lines, value: doc.toJS({ maxAliasCount: INPUT_LIMITS.maxAliasCount }), problems: [] };
  } catch (err) {
    const message = err instanceof ReferenceError && /alias/i.test(err.message)
      ? `YAML aliases expand too much (more than ${INPUT_LIMITS.maxAliasCount} alias uses of this size): a resource exhaustion attack, or a file to simplify`
      : `YAML: ${(err as Error).message.split('\n')[0]}`;
    let alias: Range;
    visit(doc, { Alias: (_key, node) => { alias = node as Range; return visit.BREAK; } });
    const pos = alias?.range ? lines.linePos(alias.range[0]) : undefined;
    return { doc, lines, value: undefined, problems: [located(message, pos ? [pos] : undefined)] };
  }
}

/** readInputFile + decodeInputText + parseInputYaml; throws InputFileError (with `heading`) on any problem. */
export function loadInputYaml(file: string, name = file, heading?: string): ParsedInput & { bytes: Buffer } {
  try {
    const bytes = readInputFile(file, name);
    const parsed = parseInputYaml(decodeInputText(bytes, name), name);
    if (parsed.problems.length > 0) throw new InputFileError(parsed.problems, heading);
    return { ...parsed, bytes };
  } catch (err) {
    if (err instanceof InputFileError && heading && err.heading !== heading) throw new InputFileError(err.issues, heading);
    throw err;
  }
}

/**
 * Where a file a profile names really is, or why it may not be read: a symlink may not lead out of the folder
 * the name points into (the profile's folder, or for a name that leaves it explicitly, such as ../pki/key.pem
 * or an absolute path, the folder that name ends in). Missing files are left to the caller.
 */
export function confinedFile(baseDir: string, name: string): { file: string; problem?: string } {
  const file = path.resolve(baseDir, name);
  const inside = (folder: string, p: string) => {
    const rel = path.relative(folder, p);
    return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
  };
  const folder = inside(baseDir, file) ? baseDir : path.dirname(file);
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch {
    return { file };
  }
  const realFolder = fs.realpathSync(folder);
  return inside(realFolder, real) ? { file } : { file, problem: `${name} is a symlink to ${real}, outside ${folder}: refused` };
}
