import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { INPUT_LIMITS } from '../../src/sdk/input-file';
import { cli, inProcess } from '../helpers/cli';

/**
 * Hostile input files (issue #23): a corpus made here in a temporary folder, each file given to the real CLI in
 * the role it plays (profile, attestation file, baseline, secrets file, emulator posture). Every one must end in
 * exit 3 with a located `file[:line:column]: field: message`, no stack trace, nothing written, in bounded time.
 * The per-kind counts printed at the end are the README's "hostile files tried".
 */

const VALID_PROFILE = `apiVersion: iacs-probe/v1
component:
  name: Hostile bench
  types: [embedded]
  slTarget: 1
targets:
  - host: 127.0.0.1
    services:
      - { port: 1, protocol: tcp }
`;

type Role = 'profile' | 'attestations' | 'baseline' | 'secrets' | 'posture';
const ROLES: Role[] = ['profile', 'attestations', 'baseline', 'secrets', 'posture'];

/** How the corpus file gets into the folder: text written, or a special file made. */
type Make = (file: string, scratch: string) => void;
const text = (t: string | Buffer): Make => (file) => fs.writeFileSync(file, t);

const billionLaughs = (): string => {
  const lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
  for (let i = 1; i < 10; i++) {
    const [name, prev] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
    lines.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
  }
  return `${lines.join('\n')}\n`;
};

/** A file the role would accept, spoiled in one way per kind. */
const WRONG_TYPES: Record<Role, string> = {
  profile: VALID_PROFILE.replace('slTarget: 1', 'slTarget: [1]').replace('name: Hostile bench', 'name: { first: x }'),
  attestations: '- id: CR 1.1\n  verdict: [pass]\n  reviewer: 5\n  date: yesterday\n  evidence: {}\n',
  baseline: 'name: ssh\nlevels: [1, 2]\n',
  secrets: '- web\n- other\n',
  posture: 'name: bench\nservices:\n  ssh: 22\n',
};

interface Kind {
  name: string;
  make: (role: Role) => Make;
  /** The message must carry a line number (the problem is at a place in the file). */
  located: boolean;
  /** Roles the kind does not apply to, and why. */
  skip?: Partial<Record<Role, string>>;
}

const FIFTY_MB = 50 * 1024 * 1024;
const OUTSIDE = 'outside';

const KINDS: Kind[] = [
  { name: 'wrong types', make: (role) => text(WRONG_TYPES[role]), located: true },
  { name: 'alias bomb (billion laughs)', make: () => text(billionLaughs()), located: true },
  { name: '50 MB file', make: () => text(Buffer.alloc(FIFTY_MB, 'key: value\n')), located: false },
  { name: 'deep nesting (10 000 flow levels)', make: () => text(`a: ${'['.repeat(10_000)}${']'.repeat(10_000)}\n`), located: true },
  {
    // 10 000 block levels would be 50 MB of indentation (the size limit's case): 1 000 stay below 1 MiB.
    name: 'deep nesting (1 000 block levels)',
    make: () => text(Array.from({ length: 1000 }, (_, i) => `${' '.repeat(i)}k${i}:`).join('\n') + ' x\n'),
    located: true,
  },
  { name: 'nesting just past the limit (65 levels)', make: () => text(`a: ${'['.repeat(INPUT_LIMITS.maxDepth + 1)}${']'.repeat(INPUT_LIMITS.maxDepth + 1)}\n`), located: true },
  { name: 'invalid UTF-8', make: () => text(Buffer.concat([Buffer.from('name: bench\n# caf'), Buffer.from([0xc3, 0x28]), Buffer.from('\n')])), located: true },
  { name: 'UTF-16 with byte order mark', make: () => text(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('name: bench\n', 'utf16le')])), located: true },
  {
    name: 'UTF-8 byte order mark and a wrong type',
    make: (role) => text(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(WRONG_TYPES[role])])),
    located: true,
  },
  { name: 'duplicate keys', make: () => text('name: bench\nlevels: {}\nname: again\n'), located: true },
  { name: 'many keys in one map (quadratic duplicate check)', make: () => text(Array.from({ length: 20_000 }, (_, i) => `k${i}: ${i}`).join('\n')), located: true },
  { name: 'YAML syntax error', make: () => text('name: bench\nlevels: { 1: [\n'), located: true },
  {
    name: 'symlink out of the folder',
    make: (role) => (file, scratch) => {
      // A file the role would accept, kept outside: only the symlink is wrong.
      const target = path.join(scratch, OUTSIDE, `${role}.yaml`);
      fs.writeFileSync(target, role === 'baseline' ? 'levels: { 1: {} }\n' : 'web: a-secret\n');
      fs.symlinkSync(target, file);
    },
    located: true,
    skip: {
      profile: 'named on the command line: the user chose it',
      attestations: 'named on the command line: the user chose it',
      posture: 'named on the command line: the user chose it',
    },
  },
  { name: 'a folder where a file is expected', make: () => (file) => fs.mkdirSync(file), located: false },
  { name: '/dev/zero', make: () => (file) => fs.symlinkSync('/dev/zero', file), located: false },
  { name: 'a FIFO', make: () => (file) => execFileSync('mkfifo', [file]), located: false },
];

/** What the CLI is given: the command line, and which file the located message must name. */
function invocation(role: Role, dir: string, hostile: string): { args: string[]; named: string } {
  const profile = path.join(dir, 'profile.yaml');
  const out = ['--out', path.join(dir, 'out'), '--no-pdf'];
  const withProfile = (extra: string) => fs.writeFileSync(profile, VALID_PROFILE + extra);
  switch (role) {
    case 'profile':
      return { args: ['run', hostile, ...out], named: path.basename(hostile) };
    case 'attestations':
      withProfile('');
      return { args: ['run', profile, '--attest', hostile, ...out], named: path.basename(hostile) };
    case 'baseline':
      withProfile(`policy:\n  baselines: { ssh: ${path.basename(hostile)} }\n`);
      return { args: ['run', profile, ...out], named: 'profile.yaml' };
    case 'secrets':
      withProfile(`secretsFile: ${path.basename(hostile)}\ncredentials:\n  http: { username: admin, password: { secret: web } }\n`);
      return { args: ['run', profile, ...out], named: 'profile.yaml' };
    case 'posture':
      return { args: ['emulate', '--posture', hostile, '--ephemeral'], named: path.basename(hostile) };
  }
}

/** Every path below `dir` (what a write would change). */
function tree(dir: string): string[] {
  return fs.readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort();
}

function expectRejected(r: { code: number | null; stdout: string; stderr: string }, named: string, located: boolean, label: string): void {
  const all = `${r.stdout}${r.stderr}`;
  expect(r.code, `${label}\n${all}`).to.equal(3);
  expect(all, label).to.not.match(/internal error|\n\s+at \S+ \(|Maximum call stack/);
  const esc = named.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const line = new RegExp(`^\\S*${esc}${located ? ':\\d+:\\d+' : '(:\\d+:\\d+)?'}: \\S.*: `, 'm');
  expect(r.stderr, `${label}: a located message naming ${named}`).to.match(line);
}

describe('hostile input files: exit 3, located, nothing written, bounded', function () {
  this.timeout(30_000);
  let root: string;
  const tried = new Map<string, number>();

  before(() => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-hostile-'));
  });
  after(() => {
    fs.rmSync(root, { recursive: true, force: true });
    const total = [...tried.values()].reduce((a, b) => a + b, 0);
    console.log(`      hostile files tried: ${total} (${[...tried].map(([k, n]) => `${k} ${n}`).join('; ')})`);
  });

  /** A fresh folder for one case: the file in its role, and a folder outside it for symlink targets. */
  function setUp(kind: Kind, role: Role): { dir: string; hostile: string; scratch: string } {
    const base = fs.mkdtempSync(path.join(root, 'case-'));
    const dir = path.join(base, 'bench');
    fs.mkdirSync(path.join(base, OUTSIDE), { recursive: true });
    fs.mkdirSync(dir);
    const hostile = path.join(dir, `${role}-input.yaml`);
    kind.make(role)(hostile, base);
    return { dir, hostile, scratch: base };
  }

  for (const kind of KINDS) {
    it(`${kind.name}: as ${ROLES.filter((r) => !kind.skip?.[r]).join(', ')}`, async () => {
      for (const role of ROLES) {
        if (kind.skip?.[role]) continue;
        const { dir, hostile } = setUp(kind, role);
        const { args, named } = invocation(role, dir, hostile);
        const before = tree(dir);
        const started = Date.now();
        const r = await Promise.race([
          inProcess(args),
          new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${role}: no answer within 10 s`)), 10_000).unref()),
        ]);
        const ms = Date.now() - started;
        expectRejected(r, named, kind.located, `${kind.name} as ${role}`);
        expect(tree(dir), `${kind.name} as ${role}: nothing written (no run folder, no state folder)`).to.deep.equal(before);
        expect(ms, `${kind.name} as ${role}: bounded time`).to.be.below(5000);
        tried.set(kind.name, (tried.get(kind.name) ?? 0) + 1);
      }
    });
  }

  it('a UTF-8 byte order mark alone is accepted (editors on Windows write one), and lines still count from the mark', async () => {
    const dir = fs.mkdtempSync(path.join(root, 'bom-'));
    const profile = path.join(dir, 'p.yaml');
    fs.writeFileSync(profile, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(VALID_PROFILE)]));
    const ok = await inProcess(['plan', profile, '--json']);
    expect(ok.code, ok.stderr).to.equal(0);
    fs.writeFileSync(profile, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(VALID_PROFILE.replace('slTarget: 1', 'slTarget: 9'))]));
    const bad = await inProcess(['plan', profile]);
    expect(bad.code).to.equal(3);
    expect(bad.stderr).to.match(/p\.yaml:5:3: component\.slTarget: /);
  });

  it('through the real binary with a 256 MB heap: a 50 MB profile, an alias bomb, /dev/zero and a FIFO', async function () {
    this.timeout(60_000);
    const heavy = ['50 MB file', 'alias bomb (billion laughs)', '/dev/zero', 'a FIFO'];
    // One process each, in parallel: the CLI starts in about a second (tsx), the rejection must add little.
    const results = await Promise.all(heavy.map(async (name) => {
      const { dir, hostile } = setUp(KINDS.find((k) => k.name === name)!, 'profile');
      const before = tree(dir);
      const started = Date.now();
      const r = await cli(['run', hostile, '--out', path.join(dir, 'out'), '--no-pdf'], { NODE_OPTIONS: '--max-old-space-size=256' }, dir);
      return { name, r, ms: Date.now() - started, written: tree(dir).filter((f) => !before.includes(f)), hostile };
    }));
    for (const { name, r, ms, written, hostile } of results) {
      expectRejected(r, path.basename(hostile), false, `${name} (child process)`);
      expect(r.signal, name).to.equal(null);
      expect(written, name).to.deep.equal([]);
      expect(ms, `${name}: bounded time (start-up included)`).to.be.below(30_000);
    }
  });
});
