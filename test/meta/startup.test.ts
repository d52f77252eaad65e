import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// Start-up: a command loads only what it needs. A top-level import of a protocol library (node-opcua takes a
// second or more; ssh2, net-snmp, modbus-serial) or of exceljs sneaking back into the CLI's import graph makes
// every command pay for it. Times are measured in bench/ (npm run bench); this test checks the graph.

const LIBRARIES = ['node-opcua', 'ssh2', 'net-snmp', 'modbus-serial', 'exceljs'];

/** The libraries loaded by `iacs-probe <args>` in a fresh process (the CLI's main, output discarded). */
function loadedBy(args: string[]): string[] {
  const script = `
    const { main } = require(${JSON.stringify(path.resolve('src/cli/main.ts'))});
    const sink = { write: () => true };
    main(${JSON.stringify(args)}, { out: sink, err: sink }).then(() => {
      const libs = ${JSON.stringify(LIBRARIES)};
      const keys = Object.keys(require.cache);
      process.stdout.write(JSON.stringify(libs.filter((l) => keys.some((k) => k.includes('/node_modules/' + l + '/')))));
      process.exit(0);
    });`;
  return JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 }).trim().split('\n').pop()!) as string[];
}

describe('meta: start-up loads only what the command needs', function () {
  this.timeout(120_000);

  for (const command of [['--version'], ['--help'], ['catalog', '--sl', '2'], ['probes'], ['probes', '--json']]) {
    it(`iacs-probe ${command.join(' ')}: no protocol library, no exceljs`, () => {
      expect(loadedBy(command)).to.deep.equal([]);
    });
  }

  it('run --only ssh.algorithms loads ssh2 for its key exchanges, and no other protocol library', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-startup-'));
    try {
      const profile = path.join(dir, 'p.yaml');
      // Port 1 on loopback: refused at once; the run still plans, reports and writes the folder.
      fs.writeFileSync(profile, 'apiVersion: iacs-probe/v1\ncomponent: { name: x, types: [embedded], slTarget: 1 }\ntargets:\n  - { host: 127.0.0.1, services: [{ port: 1, protocol: ssh }, { port: 2, protocol: opcua }, { port: 3, protocol: snmp }] }\n');
      const loaded = loadedBy(['run', profile, '--only', 'ssh.algorithms', '--out', path.join(dir, 'run')]);
      expect(loaded.filter((l) => l !== 'exceljs' && l !== 'ssh2')).to.deep.equal([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
