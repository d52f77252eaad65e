/**
 * SSH rows: `iacs-probe run --only ssh.algorithms` against `ssh-audit -j` and `nmap --script ssh2-enum-algos`,
 * whole processes, on one OpenSSH sshd with the weak test configuration (5 host-key algorithms, 3 keys).
 * The same work: every run of each tool must report the lists ssh-audit reported first (KEXINIT lists in the
 * server's order, the banner). ssh-audit 2.5 also tests DH group-exchange sizes, which we do not.
 */
import { findExecutable } from '../test/helpers/peers';
import { nmapSshTables, sshAuditLists, type SshLists } from '../test/helpers/peer-output';
import { WEAK_SSHD, launchSshd } from '../test/helpers/sshd';
import { ProcessFailed, timeChecked, timeProcess } from './process';
import { ROOT, attemptOf, oneHostProfile, phasesText, timeRun, versionOf, type BenchContext, type Phases } from './ours';
import { comparison, notMeasured, type Row } from './table';
import { alternate, type Contender } from './timing';

const sameList = (what: string, ours: readonly string[], theirs: readonly string[] | undefined) => {
  if (JSON.stringify(ours) !== JSON.stringify(theirs ?? [])) throw new ProcessFailed(`${what} differ: ${ours.join(',')} vs ${(theirs ?? []).join(',')}`);
};

export async function sshRows(ctx: BenchContext): Promise<Row[]> {
  const work = 'ssh.algorithms on OpenSSH (weak sshd)';
  const [sshd, keygen, sshAudit, nmap] = ['sshd', 'ssh-keygen', 'ssh-audit', 'nmap'].map((n) => findExecutable(n));
  if (!sshd || !keygen || !sshAudit) return [notMeasured(work, 'needs sshd, ssh-keygen and ssh-audit (Debian openssh-server, ssh-audit)')];
  const server = await launchSshd(sshd, keygen, WEAK_SSHD);
  try {
    const port = String(server.port);
    const auditArgv = [sshAudit, '-j', '-p', port, '127.0.0.1'];
    // ssh-audit exits non-zero when it finds failures; its JSON is on stdout either way.
    const reference = sshAuditLists((await timeProcess({ argv: auditArgv })).stdout);
    const profile = oneHostProfile(ctx.tmp, 'ssh', '127.0.0.1', [{ port: server.port, protocol: 'ssh' }]);
    const phases: Phases[] = [];
    const contenders: Record<string, Contender> = {
      ours: async (run) => {
        const { result, report, phases: p } = await timeRun(ctx, profile, ['--only', 'ssh.algorithms']);
        const o = attemptOf(report, 'ssh.algorithms').observations as unknown as SshLists;
        for (const key of ['kex', 'hostKey', 'ciphers', 'macs', 'compression'] as const) sameList(`ssh.algorithms ${key}`, o[key], reference[key]);
        if (o.banner !== reference.banner) throw new ProcessFailed(`banner ${o.banner} vs ${reference.banner}`);
        if (run >= 0) phases.push(p);
        return result;
      },
      sshAudit: async () => {
        const r = await timeChecked({ argv: auditArgv, cwd: ROOT }, [0, 1, 2, 3]);
        const lists = sshAuditLists(r.stdout);
        for (const key of ['kex', 'hostKey', 'ciphers', 'macs'] as const) sameList(`ssh-audit ${key}`, lists[key], reference[key]);
        return r;
      },
    };
    if (nmap) {
      contenders.nmap = async () => {
        const r = await timeChecked({ argv: [nmap, '-Pn', '-n', '-sT', '-p', port, '--script', '+ssh2-enum-algos', '-oX', '-', '127.0.0.1'] });
        const t = nmapSshTables(r.stdout);
        sameList('nmap kex', t.kex_algorithms ?? [], reference.kex);
        sameList('nmap host keys', t.server_host_key_algorithms ?? [], reference.hostKey);
        sameList('nmap ciphers', t.encryption_algorithms ?? [], reference.ciphers);
        return r;
      };
    }
    ctx.log(`ssh: ${ctx.runs} rounds against sshd on 127.0.0.1:${port}`);
    const m = await alternate(contenders, ctx.runs);
    const openssh = versionOf([sshd, '-V'], /(OpenSSH_[\w.]+)/);
    const checked = `Same work checked on every run: KEXINIT lists equal to ssh-audit's (${reference.kex.length} kex, ${reference.hostKey.length} host-key algorithms); ${openssh}.`;
    const rows = [comparison(work, m.ours, `ssh-audit ${versionOf([sshAudit, '-h'], /ssh-audit (v[\d.]+)/)} -j`, m.sshAudit, 1, [checked, `iacs-probe: ${phasesText(phases)}.`])];
    if (m.nmap) rows.push(comparison(work, m.ours, `nmap ${versionOf([nmap!, '--version'], /Nmap version ([\d.]+)/)} ssh2-enum-algos`, m.nmap));
    return rows;
  } finally {
    await server.close();
  }
}
