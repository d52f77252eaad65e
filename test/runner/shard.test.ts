import { expect } from 'chai';
import { loadCatalog } from '../../src/catalog';
import { profileFromObject } from '../../src/profile';
import { buildPlan } from '../../src/runner/plan';
import { ShardSpecError, parseShardSpec, splitHosts } from '../../src/runner/shard';
import { FIXTURE_PROBES } from '../../fixtures/probes';

// The split behind `run --shard i/n` (the whole run and the merge are in test/cli/merge.test.ts).

describe('shards: parsing --shard and splitting the hosts', () => {
  it('parses I/N, 0-based, and refuses what is not a shard of N', () => {
    expect(parseShardSpec('0/4')).to.deep.equal({ index: 0, count: 4 });
    expect(parseShardSpec(' 3 / 4 ')).to.deep.equal({ index: 3, count: 4 });
    expect(parseShardSpec('0/1')).to.deep.equal({ index: 0, count: 1 });
    for (const bad of ['4/4', '1', '1/0', '-1/4', 'a/4', '1.5/4', '0/1001', '']) {
      expect(() => parseShardSpec(bad), bad).to.throw(ShardSpecError, /--shard/);
    }
  });

  it('round-robin over the hosts sorted by normalized name, whatever order the profile lists them in', () => {
    const hosts = ['plc-b', '10.0.0.2', 'PLC-A', '10.0.0.10', '[fd00::1]'];
    const split = splitHosts(hosts, 2);
    expect(split).to.deep.equal([['10.0.0.10', 'fd00::1', 'plc-b'], ['10.0.0.2', 'plc-a']]);
    expect(splitHosts([...hosts].reverse(), 2)).to.deep.equal(split);
    // A host written twice (any case, brackets) is one host.
    expect(splitHosts(['PLC-A', 'plc-a', 'fd00::1', '[FD00::1]'], 3)).to.deep.equal([['fd00::1'], ['plc-a'], []]);
  });

  it('every host is in exactly one shard, and shard sizes differ by at most one', () => {
    const hosts = Array.from({ length: 23 }, (_, i) => `10.1.${i % 7}.${i}`);
    for (const n of [1, 2, 4, 5, 23, 30]) {
      const split = splitHosts(hosts, n);
      expect(split).to.have.length(n);
      expect(split.flat().sort()).to.deep.equal([...hosts].sort());
      const sizes = split.map((s) => s.length);
      expect(Math.max(...sizes) - Math.min(...sizes), `n=${n}`).to.be.at.most(1);
    }
  });

  it('buildPlan: a shard plans only its hosts, of those --host selects, and records them', async () => {
    const profile = profileFromObject({
      apiVersion: 'iacs-probe/v1', component: { name: 'x', types: ['embedded'], slTarget: 2 },
      targets: ['127.0.0.5', '127.0.0.2', '127.0.0.4', '127.0.0.3'].map((host) => ({ host, services: [{ port: 1, protocol: 'tcp' }] })),
    }, 'inline');
    const plan = (options: Parameters<typeof buildPlan>[3]) => buildPlan(profile, FIXTURE_PROBES, loadCatalog(), options);
    const shard1 = await plan({ shard: { index: 1, count: 2 } });
    expect(shard1.shard).to.deep.equal({ index: 1, count: 2, hosts: ['127.0.0.5', '127.0.0.3'] });
    expect(shard1.hosts.map((h) => h.host)).to.deep.equal(['127.0.0.5', '127.0.0.3']);
    expect(new Set([...shard1.attempts.map((a) => a.host.host), ...shard1.skipped.map((a) => a.target.split(':')[0])])).to.deep.equal(new Set(['127.0.0.5', '127.0.0.3']));
    // --host first, then the split of what it left.
    const selected = await plan({ hosts: ['127.0.0.2', '127.0.0.3', '127.0.0.4'], shard: { index: 0, count: 2 } });
    expect(selected.shard!.hosts).to.deep.equal(['127.0.0.2', '127.0.0.4']);
    const empty = await plan({ hosts: ['127.0.0.2'], shard: { index: 1, count: 2 } });
    expect(empty.shard!.hosts).to.deep.equal([]);
    expect(empty.attempts).to.deep.equal([]);
    expect((await plan({})).shard).to.equal(undefined);
  });
});
