// `npm test`'s mocha step: the suite in two mocha processes at once, because a third of its time is spent
// waiting (paced UDP scans, nmap, namespaces coming up) rather than computing. The second group is the
// tests that put every device in a network namespace of its own (test/integrity, test/bench, test/labnet,
// test/docker): they share no loopback port with the first. Each group's output is kept whole: the first
// streams, the second is printed when both are done. Exit status: the worst of the two.
//
// usage: tsx test/run.ts [--serial]     (--serial: one mocha process, as `npm run test:only`)
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import process from 'node:process';

const NAMESPACE_DIRS = ['integrity', 'bench', 'labnet', 'docker'];
const mocha = path.join('node_modules', '.bin', 'mocha');

function run(args: string[], { buffered }: { buffered: boolean }): Promise<{ code: number; logFile?: string }> {
  return new Promise((resolve) => {
    const logFile = buffered ? path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-test-')), 'mocha.log') : undefined;
    const out = logFile ? fs.openSync(logFile, 'w') : 'inherit';
    const child = spawn(mocha, args, { stdio: ['ignore', out, out] });
    child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), logFile }));
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  if (process.argv.includes('--serial')) return (await run(['test/**/*.test.ts'], { buffered: false })).code;
  const namespaces = `test/{${NAMESPACE_DIRS.join(',')}}/**/*.test.ts`;
  const second = run([namespaces], { buffered: true });
  const first = await run(['test/**/*.test.ts', ...NAMESPACE_DIRS.flatMap((d) => ['--ignore', `test/${d}/**`])], { buffered: false });
  const other = await second;
  process.stdout.write(`\n--- ${NAMESPACE_DIRS.map((d) => `test/${d}`).join(', ')} (run at the same time) ---\n`);
  process.stdout.write(fs.readFileSync(other.logFile!, 'utf8'));
  fs.rmSync(path.dirname(other.logFile!), { recursive: true, force: true });
  const minutes = ((Date.now() - started) / 60_000).toFixed(1);
  process.stdout.write(`\ntest/run.ts: both groups done in ${minutes} min; exit ${first.code}/${other.code}\n`);
  return Math.max(first.code, other.code);
}

void main().then((code) => process.exit(code));
