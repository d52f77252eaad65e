import { expect } from 'chai';
import { spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { findIp, ip, labnetAvailability, listNamespaces, listRootLinks, pidAlive } from '../../src/labnet/netns';
import { cli, startCli } from '../helpers/cli';

/*
 * `iacs-probe labnet` as a user runs it (bin/iacs-probe from source). The usage cases run anywhere; the
 * cases that make a labnet need root and iproute2: without them they skip with the reason, under
 * IACS_REQUIRE_PEERS=1 they fail. Traffic goes only to labnet addresses, from the scanner namespace.
 */

const NOBODY = 65534;

/** The namespaces and root links left that `belongs` picks. */
async function leftovers(belongs: (name: string) => boolean): Promise<string[]> {
  return [...await listNamespaces(), ...await listRootLinks()].filter(belongs);
}
/** Names of one labnet (id "<pid>-<n>"), and of every labnet a process made. */
const ofLabnet = (id: string) => (name: string) => name.startsWith(`iacsp-${id}-`) || name === `iacsp${id}`;
const ofProcess = (pid: number | undefined) => (name: string) => name.startsWith(`iacsp-${pid}-`) || name.startsWith(`iacsp${pid}-`);

/** Resolves with the first stdout line of a running CLI that starts with "{". */
function firstJsonLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const line = out.split('\n').slice(0, -1).find((l) => l.startsWith('{'));
      if (line !== undefined) resolve(line);
    });
    child.once('exit', (code) => reject(new Error(`exited ${code} before printing the labnet line`)));
  });
}

describe('command line: iacs-probe labnet', function () {
  this.timeout(120_000);

  it('--help prints the subcommands and the exit codes (exit 0); the command list names labnet', async () => {
    const help = await cli(['labnet', '--help']);
    expect(help.code, help.stderr).to.equal(0);
    expect(help.stdout).to.contain('usage: iacs-probe labnet up|exec|check|sweep|down');
    expect(help.stdout).to.match(/Exit codes: 0 .*\n1 check: the address would be refused; 2 /);
    const top = await cli(['--help']);
    expect(top.stdout).to.match(/^ {2}labnet +rehearse a bench/m);
  });

  it('usage errors exit 3 with the labnet usage and make nothing', async () => {
    const cases = [['labnet'], ['labnet', 'frobnicate'], ['labnet', 'up', '--topology', 'mesh'], ['labnet', 'exec', '--posture', 'weak']];
    const results = await Promise.all(cases.map(async (args) => {
      const { child, done } = startCli(args);
      return { args, pid: child.pid!, result: await done };
    }));
    for (const { args, pid, result } of results) {
      expect(result.code, args.join(' ')).to.equal(3);
      expect(result.stderr, args.join(' ')).to.contain('usage: iacs-probe labnet');
      if (findIp()) expect(await leftovers(ofProcess(pid)), args.join(' ')).to.deep.equal([]);
    }
  });

  it('exec of a command that does not exist exits 127 before a labnet is made', async () => {
    const r = await cli(['labnet', 'exec', '--', 'iacs-no-such-command']);
    expect(r.code).to.equal(127);
    expect(r.stderr).to.contain('iacs-no-such-command: command not found');
    expect(r.stdout).to.equal('');
  });

  it('other commands do not load the labnet library (it is required by `labnet` alone)', () => {
    const script = "require('./src/cli/main'); process.stdout.write(JSON.stringify(Object.keys(require.cache).filter((f) => f.includes('/src/labnet/'))));";
    const r = spawnSync(process.execPath, ['--import', 'tsx', '-e', script], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status, r.stderr).to.equal(0);
    expect(JSON.parse(r.stdout)).to.deep.equal([]);
  });

  describe('as root, with network namespaces', () => {
    let tmp = '';
    let telnetOnly = '';
    before(async function () {
      const available = await labnetAvailability();
      if (!available.ok) {
        if (process.env.IACS_REQUIRE_PEERS === '1') throw new Error(`labnet command tests must run here: ${available.reason}`);
        console.warn(`      labnet command tests skipped: ${available.reason}`);
        this.skip();
      }
      tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-labnet-cli-'));
      telnetOnly = path.join(tmp, 'telnet-only.yaml');
      fs.writeFileSync(telnetOnly, 'name: telnet-only\naccounts: [{ username: admin, password: admin }]\nservices: { telnet: { port: 2323 } }\n');
    });
    after(() => {
      if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    });

    it('exec --posture hardened runs the command in the scanner namespace with the device address, exits with its 0, leaves nothing', async () => {
      // `--help` after `--` belongs to the command: it must reach sh as $1, not print labnet's usage.
      const script = `echo "devices=$IACS_LABNET_DEVICES"; echo "netns=$("${findIp()}" netns identify)"; echo "arg=$1"`;
      const r = await cli(['labnet', 'exec', '--posture', 'hardened', '--', 'sh', '-c', script, 'sh', '--help']);
      expect(r.code, r.stderr).to.equal(0);
      const [json, ...lines] = r.stdout.trim().split('\n');
      const info = JSON.parse(json) as { labnet: { id: string; topology: string; scanner: { namespace: string }; devices: { address: string; services: { protocol: string }[] }[] } };
      const [device] = info.labnet.devices;
      expect(info.labnet.topology).to.equal('namespace');
      expect(device.services.map((s) => s.protocol)).to.include('ssh');
      expect(lines).to.deep.equal([`devices=${device.address}`, `netns=${info.labnet.scanner.namespace}`, 'arg=--help']);
      expect(await leftovers(ofLabnet(info.labnet.id))).to.deep.equal([]);
    });

    it("exec passes the command's exit status through", async () => {
      const r = await cli(['labnet', 'exec', '--posture', telnetOnly, '--topology', 'root', '--', 'sh', '-c', 'exit 7']);
      expect(r.code, r.stderr).to.equal(7);
      const info = JSON.parse(r.stdout.split('\n')[0]) as { labnet: { id: string } };
      expect(await leftovers(ofLabnet(info.labnet.id))).to.deep.equal([]);
    });

    it('up runs until SIGTERM, then exits 0 and leaves nothing', async () => {
      const { child, done } = startCli(['labnet', 'up', '--posture', telnetOnly]);
      const info = JSON.parse(await firstJsonLine(child)) as { labnet: { id: string; devices: { namespace: string }[] } };
      expect(await listNamespaces()).to.include(info.labnet.devices[0].namespace);
      child.kill('SIGTERM');
      const r = await done;
      expect(r.code, r.stderr).to.equal(0);
      expect(await leftovers(ofLabnet(info.labnet.id))).to.deep.equal([]);
    });

    it('without root: up is refused with exit 3 and makes nothing; sweep names what it cannot remove and exits 2', async () => {
      const asNobody = { uid: NOBODY, gid: NOBODY };
      // The CLI runs as nobody: the checkout must be readable by every user (a checkout under a private folder is not).
      const readable = spawnSync('/bin/sh', ['-c', 'test -r "$0"', path.resolve('bin/iacs-probe')], { uid: NOBODY, gid: NOBODY }).status === 0;
      expect(readable, `${path.resolve('bin/iacs-probe')} is not readable by nobody (uid ${NOBODY}): this test runs the CLI as an unprivileged user`).to.equal(true);
      const { child, done } = startCli(['labnet', 'up', '--posture', telnetOnly], {}, undefined, asNobody);
      const up = await done;
      expect(up.code, up.stderr).to.equal(3);
      expect(up.stderr).to.contain('refused, nothing was sent: network namespaces need root');
      expect(await leftovers(ofProcess(child.pid))).to.deep.equal([]);

      const deadPid = spawnSync('true').pid!;
      expect(pidAlive(deadPid)).to.equal(false);
      const stale = `iacsp-${deadPid}-0-sw`;
      try {
        // A sweep of another test running at the same time (test/run.ts runs groups in parallel) may remove the stale
        // namespace first, as it should: then the unprivileged sweep had nothing to fail on, and the case is tried again.
        let denied: Awaited<ReturnType<typeof cli>>;
        for (let round = 1; ; round++) {
          await ip(['netns', 'add', stale]);
          denied = await cli(['labnet', 'sweep'], {}, undefined, asNobody);
          if (denied.code !== 0 || (await listNamespaces()).includes(stale) || round === 3) break;
        }
        expect(denied.code, denied.stderr).to.equal(2);
        expect((JSON.parse(denied.stdout) as { failed: string[] }).failed).to.include(stale);
        expect(await listNamespaces()).to.include(stale);
        const swept = await cli(['labnet', 'down']);
        expect(swept.code, swept.stderr).to.equal(0);
        expect((JSON.parse(swept.stdout) as { removed: { namespaces: string[] } }).removed.namespaces).to.include(stale);
        expect(await listNamespaces()).to.not.include(stale);
      } finally {
        await ip(['netns', 'delete', stale]).catch(() => undefined);
      }
    });
  });
});
