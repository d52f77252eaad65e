import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { closedPort, type TestServer } from '../../fixtures/servers';
import type { Attempt } from '../../src/report/model';
import { cli } from '../helpers/cli';

/*
 * A protocol's one-time costs (node-opcua's load and the harness's client certificate: about 1 s on a quiet machine)
 * are paid before an attempt's clock starts. The run is a fresh process, where node-opcua is not loaded yet: with a
 * budget of 300 ms, the first OPC UA attempt against a closed port read `timeout` while it paid them.
 */
describe('runner: a protocol warm-up is not charged to the first attempt of that protocol', function () {
  this.timeout(60_000);
  let closed: TestServer;
  let dir: string;

  before(async () => {
    closed = await closedPort();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-warm-up-'));
  });
  after(async () => {
    await closed.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the first OPC UA attempt of a fresh process, with a 300 ms budget, reads a closed port as unreachable', async () => {
    const profile = path.join(dir, 'closed-opcua.yaml');
    fs.writeFileSync(profile, [
      'apiVersion: iacs-probe/v1',
      'component: { name: closed OPC UA port, types: [embedded], slTarget: 1 }',
      'targets:',
      `  - { host: 127.0.0.1, services: [{ port: ${closed.port}, protocol: opcua }] }`,
      'probes:',
      '  opcua.anonymous: { timeoutMs: 300 }',
      '',
    ].join('\n'));
    const out = path.join(dir, 'run');
    const result = await cli(['run', profile, '--only', 'opcua.anonymous', '--no-pdf', '--out', out]);
    expect(result.code, result.stderr).to.equal(2); // incomplete: the only attempt is an error
    const attempts = fs.readFileSync(path.join(out, 'journal.ndjson'), 'utf8').trim().split('\n')
      .map((l) => JSON.parse(l) as { type: string; attempt?: Attempt }).filter((r) => r.type === 'attempt').map((r) => r.attempt!);
    expect(attempts.map((a) => [a.probe, a.status, a.reason])).to.deep.equal([['opcua.anonymous', 'error', 'unreachable']]);
    expect(attempts[0].durationMs).to.be.below(300);
  });
});
