// `npm test`'s mocha step: the suite in six mocha processes at once, because most of its time is spent
// waiting (paced UDP scans, nmap, namespaces coming up, servers starting, misbehaving peers that stall by
// design) rather than computing. Every test file uses OS-chosen loopback ports, or a network namespace of its
// own with a per-process name, so groups never share a port. The groups: the probe tests without their
// misbehaving-peer matrix, in two halves by protocol family; that matrix alone (mocha --grep on its describe
// title, PEER_MATRIX_TITLE; hooks of a suite with no selected test do not run, so the matrix group skips the
// servers only the other tests use); the tests that put every device in a network namespace (test/integrity,
// test/bench, test/labnet, test/docker); test/cli and test/runner (whole runs of the CLI); everything else.
// Each group's output is kept whole: the first streams, the others are printed when all are done, each with
// its time. Exit status: the worst of the groups.
//
// usage: tsx test/run.ts [--serial]     (--serial: one mocha process, as `npm run test:only`)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';
import { PEER_MATRIX_TITLE } from './helpers/peer-matrix-title';

const NAMESPACE_DIRS = ['integrity', 'bench', 'labnet', 'docker'];
/** test/probes in two halves by protocol family (about equal time on this machine). */
const PROBES_FIRST_HALF = ['accounts', 'audit', 'bacnet', 'boundary', 'cleartext', 'dnp3', 'enip', 'host', 'http'];
const probeFiles = (families: 'first' | 'second') => families === 'first'
  ? [`test/probes/{${PROBES_FIRST_HALF.join(',')}}/**/*.test.ts`]
  : ['test/probes/**/*.test.ts', ...PROBES_FIRST_HALF.flatMap((d) => ['--ignore', `test/probes/${d}/**`])];
const WITHOUT_MATRIX = ['--grep', PEER_MATRIX_TITLE, '--invert'];
const GROUPS: { name: string; args: string[] }[] = [
  { name: `test/probes/{${PROBES_FIRST_HALF.join(',')}}`, args: [...probeFiles('first'), ...WITHOUT_MATRIX] },
  { name: 'test/probes, the other families', args: [...probeFiles('second'), ...WITHOUT_MATRIX] },
  { name: 'test/probes, misbehaving-peer matrix', args: ['test/probes/**/*.test.ts', '--grep', PEER_MATRIX_TITLE] },
  { name: NAMESPACE_DIRS.map((d) => `test/${d}`).join(', '), args: [`test/{${NAMESPACE_DIRS.join(',')}}/**/*.test.ts`] },
  { name: 'test/cli, test/runner', args: ['test/{cli,runner}/**/*.test.ts'] },
  {
    name: 'everything else',
    args: ['test/**/*.test.ts', ...['probes', 'cli', 'runner', ...NAMESPACE_DIRS].flatMap((d) => ['--ignore', `test/${d}/**`])],
  },
];
const mocha = path.join('node_modules', '.bin', 'mocha');
/** A group that has not ended after this long is ended and fails (about three times the longest group's time). */
const GROUP_LIMIT_MS = 40 * 60_000;

interface GroupResult { code: number; seconds: number; logFile?: string }

function run(args: string[], { buffered }: { buffered: boolean }): Promise<GroupResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    const logFile = buffered ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-test-')), 'mocha.log') : undefined;
    const out = logFile ? fs.openSync(logFile, 'w') : 'inherit';
    const child = spawn(mocha, args, { stdio: ['ignore', out, out] });
    // mocha runs with exit: false (a leaked socket or timer must show), so a group whose tests are done but whose
    // process is kept alive by a leaked handle would never end: after GROUP_LIMIT_MS it is ended and fails.
    const watchdog = setTimeout(() => {
      process.stderr.write(`test/run.ts: mocha ${args.join(' ')} still running after ${GROUP_LIMIT_MS / 60_000} min: ended (a leaked handle keeps it alive, or a test hangs)\n`);
      child.kill('SIGTERM');
    }, GROUP_LIMIT_MS);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      resolve({ code: code ?? (signal ? 1 : 0), seconds: (Date.now() - started) / 1000, logFile });
    });
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  if (process.argv.includes('--serial')) return (await run(['test/**/*.test.ts'], { buffered: false })).code;
  const results = await Promise.all(GROUPS.map((group, i) => run(group.args, { buffered: i > 0 })));
  results.forEach((result, i) => {
    if (!result.logFile) return;
    process.stdout.write(`\n--- ${GROUPS[i]!.name} (run at the same time) ---\n`);
    process.stdout.write(fs.readFileSync(result.logFile, 'utf8'));
    fs.rmSync(path.dirname(result.logFile), { recursive: true, force: true });
  });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  const perGroup = results.map((r, i) => `${GROUPS[i]!.name}: ${(r.seconds / 60).toFixed(1)} min, exit ${r.code}`).join('; ');
  process.stdout.write(`\ntest/run.ts: all groups done in ${minutes} min (${perGroup})\n`);
  return Math.max(...results.map((r) => r.code));
}

void main().then((code) => process.exit(code));
