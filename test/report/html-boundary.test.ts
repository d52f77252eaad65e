import { expect } from 'chai';
import conduits from '../../probes/boundary/conduits';
import personToPerson from '../../probes/boundary/person-to-person';
import type { BoundaryBench } from '../../src/labnet/boundary-bench';
import { renderHtml } from '../../src/report/html';
import type { Attempt, Report } from '../../src/report/model';
import { declOf, requireBoundaryBench, routerBench } from '../helpers/boundary';
import { HOSTILE, makeReport } from '../helpers/report-factory';
import { runProbe } from '../helpers/probe-harness';
import { expectValidReport } from '../helpers/report-schema';

/** The matrix table's body rows, as "from->to flow way declared observed". */
const tableRows = (html: string) => [...html.matchAll(/<tr class="(pass|fail)"><td><code>boundary\.[a-z-]+<\/code><\/td><td>[^<]*<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td><td>([^<]*)<\/td>\s*<td>([^<]*)<\/td><td><span class="v (?:pass|fail)">([^<]*)<\/span>/g)]
  .map((m) => `${m[1]} ${m[2]}->${m[3]} ${m[4]} ${m[5]} ${m[6]} ${m[7]}`);

describe('report.html: the conduit matrix table and the zone picture (boundary runs)', function () {
  this.timeout(30_000);
  let bench: BoundaryBench;
  let attempts: Attempt[];

  before(async function () {
    await requireBoundaryBench(this);
    bench = await routerBench('weak');
    const ran = [
      await runProbe(conduits, { boundary: declOf(bench), types: ['network'], inputs: { connectTimeoutMs: 300 } }),
      await runProbe(personToPerson, { boundary: declOf(bench), types: ['network'], inputs: { connectTimeoutMs: 300 } }),
    ];
    attempts = ran.map((r) => r.attempt as unknown as Attempt);
  });
  after(async () => bench?.close());

  const withBoundary = (extra: Attempt[]): Report => {
    const base = makeReport({ hostile: false });
    return { ...base, attempts: [...base.attempts, ...extra] };
  };

  it('the weak router run: report.json validates; the table lists every flow, undeclared crossings marked fail', () => {
    const report = withBoundary(attempts);
    expectValidReport(JSON.parse(JSON.stringify(report)));
    expect(attempts.map((a) => a.status)).to.deep.equal(['fail', 'fail']);
    const html = renderHtml(report);
    expect(html).to.contain('<section id="boundary"><h2>Zones and conduits</h2>').and.contain('<a href="#boundary">');
    const rows = tableRows(html);
    expect(rows).to.include('pass trusted->untrusted tcp/502 forward allow pass');
    expect(rows).to.include('fail untrusted->trusted tcp/502 reverse deny pass'); // the one-way conduit opened backwards
    expect(rows).to.include('fail untrusted->trusted tcp/5222 forward deny pass'); // XMPP crossed
    const matrixCount = attempts.reduce((n, a) => n + (a.observations.matrix as unknown[]).length, 0);
    expect(rows).to.have.length(matrixCount);
  });

  it('the picture: an inline SVG with both zones (trusted and untrusted), the device and red arrows for crossings, no script or external resource', () => {
    const html = renderHtml(withBoundary(attempts));
    const svg = /<svg class="chart zone-picture"[\s\S]*?<\/svg>/.exec(html)?.[0] ?? '';
    expect(svg).to.contain('>trusted</text>').and.contain('trusted zone').and.contain('untrusted zone').and.contain('>device</text>');
    expect(svg).to.match(/stroke="#1a7f37"/).and.match(/stroke="#c62828"/);
    expect(svg).to.contain('hmi-to-plc tcp/502');
    expect(svg).to.not.match(/<script|href=|xlink|url\(/i);
    expect(html).to.not.match(/<script/i);
  });

  it('no boundary attempt: no section, no nav entry (the page is as before)', () => {
    const html = renderHtml(makeReport({ hostile: false }));
    expect(html).to.not.contain('id="boundary"').and.not.contain('zone-picture');
  });

  it('zone and conduit names are escaped in the table and the picture', () => {
    const hostile: Attempt = {
      ...attempts[0],
      observations: { matrix: [{ conduit: HOSTILE, from: HOSTILE, to: 'b', protocol: 'tcp', port: 1, way: 'forward', declared: 'allow', observed: 'pass', sent: 1, seen: 1 }] },
    };
    const html = renderHtml(withBoundary([hostile]));
    expect(html).to.not.contain('<script>alert(1)');
    expect(html).to.contain('&lt;/script&gt;&lt;script&gt;alert(1)');
  });
});
