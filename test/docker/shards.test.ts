import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { parse } from '../../src/cli/common';
import { mergeOptions } from '../../src/cli/merge';
import { runOptions, toRunOptions } from '../../src/cli/run';

/*
 * Shards on cluster engines (docs/docker.md, "Shards on a cluster engine"). docker/swarm-shards.sh runs for
 * real in .ci/run (root, a private dockerd, minutes); no Kubernetes or GitHub runner is here, so these tests
 * check their files: the fields that make the split, and that the command lines the pods and jobs build
 * (run by sh with a stand-in iacs-probe that records its arguments) parse with the CLI's own parser.
 */

interface Container {
  name: string; image: string; command: string[]; args: string[];
  env: { name: string; value: string }[]; volumeMounts: { name: string; mountPath: string }[];
}
interface JobDoc {
  kind: string;
  metadata: { name: string };
  spec: {
    completionMode?: string; completions?: number; parallelism?: number; backoffLimit?: number;
    podFailurePolicy?: { rules: { action: string; onExitCodes: { containerName: string; operator: string; values: number[] } }[] };
    template: { spec: { restartPolicy: string; containers: Container[]; volumes: { name: string; persistentVolumeClaim?: { claimName: string } }[] } };
  };
}

const k8s = (file: string) => parseYaml(fs.readFileSync(path.join('docker/k8s', file), 'utf8')) as JobDoc;
const envOf = (c: Container) => Object.fromEntries(c.env.map((e) => [e.name, e.value]));

let tmp: string;

/** Runs a container's `sh -c` script with the stand-in iacs-probe; /evidence becomes a folder of the test. */
function runScript(c: Container, env: Record<string, string>, fakeRc = 0): { status: number | null; argv: string[]; stderr: string } {
  expect(c.command).to.deep.equal(['sh', '-c']);
  const evidence = path.join(tmp, 'evidence');
  const argvFile = path.join(tmp, 'argv');
  fs.rmSync(argvFile, { force: true });
  const script = c.args[0].replaceAll('/evidence/', `${evidence}/`);
  fs.mkdirSync(path.join(evidence, env.IACS_RUN ?? envOf(c).IACS_RUN), { recursive: true });
  const r = spawnSync('sh', ['-c', script], {
    encoding: 'utf8', env: { PATH: `${tmp}:/usr/bin:/bin`, ARGV_FILE: argvFile, FAKE_RC: String(fakeRc), ...envOf(c), ...env },
  });
  const argv = fs.existsSync(argvFile) ? fs.readFileSync(argvFile, 'utf8').split('\0').slice(0, -1) : [];
  return { status: r.status, argv: argv.map((a) => a.replaceAll(`${evidence}/`, '/evidence/')), stderr: r.stderr };
}

describe('shards on cluster engines', () => {
  before(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-cluster-'));
    // A stand-in for iacs-probe: records its arguments (NUL-separated) and exits with FAKE_RC.
    fs.writeFileSync(path.join(tmp, 'iacs-probe'), '#!/bin/sh\nprintf \'%s\\0\' "$@" >"$ARGV_FILE"\nexit "${FAKE_RC:-0}"\n', { mode: 0o755 });
  });
  after(() => fs.rmSync(tmp, { recursive: true, force: true }));

  describe('Kubernetes (docker/k8s)', () => {
    const job = k8s('shards-job.yaml');
    const merge = k8s('merge-job.yaml');
    const [shard] = job.spec.template.spec.containers;
    const count = job.spec.completions!;

    it('the shard Job is an Indexed Job of the harness image, N completions = IACS_SHARDS, evidence on the claim', () => {
      expect(job.kind).to.equal('Job');
      expect(job.spec.completionMode).to.equal('Indexed');
      expect(count).to.be.greaterThan(1);
      expect(job.spec.parallelism).to.be.within(1, count);
      expect(envOf(shard).IACS_SHARDS).to.equal(String(count));
      expect(job.spec.template.spec.restartPolicy).to.equal('Never');
      const compose = parseYaml(fs.readFileSync('docker/compose.yaml', 'utf8'), { merge: true }) as { services: { harness: { image: string } } };
      expect(shard.image).to.equal(compose.services.harness.image);
      expect(shard.volumeMounts.find((m) => m.name === 'evidence')!.mountPath).to.equal('/evidence');
      expect(job.spec.template.spec.volumes.find((v) => v.name === 'evidence')!.persistentVolumeClaim!.claimName).to.equal('iacs-evidence');
      const claim = parseYaml(fs.readFileSync('docker/k8s/evidence-pvc.yaml', 'utf8')) as { kind: string; metadata: { name: string }; spec: { accessModes: string[] } };
      expect(claim).to.deep.include({ kind: 'PersistentVolumeClaim' });
      expect(claim.metadata.name).to.equal('iacs-evidence');
      expect(claim.spec.accessModes).to.include('ReadWriteMany');
      // A usage or profile error fails the Job at once instead of being retried.
      expect(job.spec.podFailurePolicy!.rules).to.deep.include({ action: 'FailJob', onExitCodes: { containerName: shard.name, operator: 'In', values: [3] } });
    });

    it('pod k runs `iacs-probe run` with --shard k/N and its own folder; the CLI\'s parser takes the command line', () => {
      const outs = new Set<string>();
      for (let k = 0; k < count; k += 1) {
        const r = runScript(shard, { JOB_COMPLETION_INDEX: String(k) });
        expect(r.status, r.stderr).to.equal(0);
        expect(r.argv[0]).to.equal('run');
        const { values, positionals } = parse(r.argv.slice(1), runOptions, { min: 1, max: 1, names: 'the profile file' });
        expect(positionals).to.deep.equal([envOf(shard).IACS_PROFILE]);
        const options = toRunOptions(values);
        expect(options.shard).to.deep.equal({ index: k, count });
        expect(options.out).to.equal(`/evidence/${envOf(shard).IACS_RUN}/shard-${k}`);
        outs.add(options.out!);
      }
      expect(outs.size).to.equal(count);
    });

    it('the shard pod succeeds when iacs-probe wrote its folder (exit 0, 1, 2) and fails with 3', () => {
      for (const rc of [0, 1, 2]) expect(runScript(shard, { JOB_COMPLETION_INDEX: '0' }, rc).status, `iacs-probe exit ${rc}`).to.equal(0);
      expect(runScript(shard, { JOB_COMPLETION_INDEX: '0' }, 3).status).to.equal(3);
    });

    it('the merge Job merges shard-0 .. shard-(N-1) of the same run into merged/ and exits as merge does', () => {
      const [c] = merge.spec.template.spec.containers;
      expect(merge.spec.completionMode ?? 'NonIndexed').to.equal('NonIndexed');
      expect(envOf(c).IACS_SHARDS).to.equal(String(count));
      expect(envOf(c).IACS_RUN).to.equal(envOf(shard).IACS_RUN);
      expect(c.image).to.equal(shard.image);
      for (const rc of [0, 1, 2, 3]) {
        const r = runScript(c, {}, rc);
        expect(r.status, r.stderr).to.equal(rc);
        expect(r.argv[0]).to.equal('merge');
        const { values, positionals } = parse(r.argv.slice(1), mergeOptions, { min: 1, max: 100, names: 'the shard folders' });
        expect(positionals).to.deep.equal(Array.from({ length: count }, (_, k) => `/evidence/${envOf(c).IACS_RUN}/shard-${k}`));
        expect(values.out).to.equal(`/evidence/${envOf(c).IACS_RUN}/merged`);
        expect(fs.readFileSync(path.join(tmp, 'evidence', envOf(c).IACS_RUN, 'merged.exit'), 'utf8').trim()).to.equal(String(rc));
      }
    });

    it('the egress policy selects the iacs-probe pods and allows only the bench network and DNS', () => {
      const policy = parseYaml(fs.readFileSync('docker/k8s/bench-egress.yaml', 'utf8')) as {
        kind: string; spec: { podSelector: { matchLabels: Record<string, string> }; policyTypes: string[]; egress: { to: { ipBlock?: { cidr: string } }[] }[] };
      };
      expect(policy.kind).to.equal('NetworkPolicy');
      expect(policy.spec.policyTypes).to.include('Egress');
      const labels = (job as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } }).spec.template.metadata.labels;
      for (const [k, v] of Object.entries(policy.spec.podSelector.matchLabels)) expect(labels[k], k).to.equal(v);
      expect(policy.spec.egress.flatMap((e) => e.to.map((t) => t.ipBlock?.cidr)).filter(Boolean)).to.deep.equal(['192.0.2.0/24']);
    });

    it('every manifest is one YAML document', () => {
      for (const f of fs.readdirSync('docker/k8s')) expect(parseAllDocuments(fs.readFileSync(path.join('docker/k8s', f), 'utf8')), f).to.have.length(1);
    });
  });

  describe('GitHub Actions (docker/ci/github-actions-shards.yml)', () => {
    const workflow = parseYaml(fs.readFileSync('docker/ci/github-actions-shards.yml', 'utf8')) as {
      env: { SHARDS: number; PROFILE: string };
      jobs: { shard: { strategy: { 'fail-fast': boolean; matrix: { shard: number[] } }; steps: { run?: string }[] }; merge: { needs: string; steps: { run?: string }[] } };
    };

    it('the matrix is 0..N-1 of SHARDS, each shard runs --shard i/N into its own folder, and merge needs them all', () => {
      const { matrix } = workflow.jobs.shard.strategy;
      const count = workflow.env.SHARDS;
      expect(matrix.shard).to.deep.equal(Array.from({ length: count }, (_, i) => i));
      expect(workflow.jobs.shard.strategy['fail-fast']).to.equal(false);
      const run = workflow.jobs.shard.steps.map((s) => s.run ?? '').find((r) => r.includes('iacs-probe run'))!;
      for (const i of matrix.shard) {
        const script = run.replaceAll('${{ matrix.shard }}', String(i)).replace('bin/iacs-probe', 'iacs-probe');
        const r = runScript({ name: 'x', image: '', command: ['sh', '-c'], args: [script], env: [], volumeMounts: [] }, { PROFILE: workflow.env.PROFILE, SHARDS: String(count), IACS_RUN: '.' }, 1);
        expect(r.status, r.stderr).to.equal(0);
        const { values, positionals } = parse(r.argv.slice(1), runOptions, { min: 1, max: 1, names: 'the profile file' });
        expect(positionals).to.deep.equal([workflow.env.PROFILE]);
        expect(toRunOptions(values).shard).to.deep.equal({ index: i, count });
      }
      expect(workflow.jobs.merge.needs).to.equal('shard');
      expect(workflow.jobs.merge.steps.map((s) => s.run ?? '').join('\n')).to.match(/bin\/iacs-probe merge \S+ --out \S+/);
    });
  });

  describe('Docker Swarm (docker/swarm-shards.sh)', () => {
    it('a task\'s slot is its shard: swarm renders slot 0 as the node id', () => {
      const index = (slot: string) => spawnSync('sh', ['docker/bin/swarm-shard-index', slot], { encoding: 'utf8' }).stdout.trim();
      expect(['0', '1', '3', 'j3p4iw9pllsmw37b0zarulkej', ''].map(index)).to.deep.equal(['0', '1', '3', '0', '0']);
    });

    it('the scripts parse; --help exits 0, a wrong option 3, before anything is started', () => {
      for (const script of ['docker/swarm-shards.sh', 'docker/lib/private-engine.sh']) expect(spawnSync('bash', ['-n', script]).status, script).to.equal(0);
      expect(spawnSync('sh', ['-n', 'docker/bin/swarm-shard-index']).status).to.equal(0);
      const help = spawnSync('docker/swarm-shards.sh', ['--help'], { encoding: 'utf8' });
      expect(help.status).to.equal(0);
      expect(help.stderr).to.match(/usage: docker\/swarm-shards\.sh/);
      for (const bad of [['--shards', 'x'], ['--max-concurrent', '0'], ['--nope']]) {
        expect(spawnSync('docker/swarm-shards.sh', bad, { encoding: 'utf8' }).status, bad.join(' ')).to.equal(3);
      }
    });

    it('the fleet profile names the script\'s four swarm services, and the shards use the image compose builds', () => {
      const script = fs.readFileSync('docker/swarm-shards.sh', 'utf8');
      const fleet = /^FLEET=\((.*)\)$/m.exec(script)![1].split(' ').map((d) => d.split('=')[0]);
      const profile = parseYaml(fs.readFileSync('profiles/docker/fleet.yaml', 'utf8')) as { targets: { host: string }[] };
      expect(profile.targets.map((t) => t.host)).to.deep.equal(fleet);
      expect(/^IMAGE=(\S+)$/m.exec(script)![1]).to.equal('iacs-probe/harness:local');
    });
  });
});
