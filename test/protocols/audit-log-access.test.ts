import { expect } from 'chai';
import { compareLogs, parseAuditLog, type LogSnapshot } from '../../src/protocols/audit/log-access';

const snap = (records: string[], status = 200): LogSnapshot => ({ status, contentType: 'text/plain', format: 'syslog', records, bytes: 0, sha256: '', truncated: false });
const parse = (text: string, type = '') => parseAuditLog(Buffer.from(text), type);

describe('audit log bodies and their comparison (src/protocols/audit/log-access.ts)', () => {
  it('reads JSON arrays, wrapped arrays, NDJSON, syslog lines, HTML tables and unstructured text', () => {
    expect(parse('[{"b":1,"a":2},{"a":3}]')).to.deep.equal({ format: 'json', records: ['{"a":2,"b":1}', '{"a":3}'] });
    expect(parse('{"records":[{"a":1}],"total":1}').format).to.equal('json');
    expect(parse('{"a":1}\n{"a":2}\n')).to.deep.equal({ format: 'ndjson', records: ['{"a":1}', '{"a":2}'] });
    expect(parse('<38>1 2026-03-05T10:00:00Z h app - - - x\nMar  5 10:00:00 h sshd: y\n').format).to.equal('syslog');
    expect(parse('<html><table><tr><th>t</th></tr><tr><td>10:00</td><td>login ok</td></tr></table></html>', 'text/html')).to.deep.equal({ format: 'html', records: ['10:00 login ok'] });
    expect(parse('user bob did a thing\nanother\n').format).to.equal('text');
    expect(parse('  \n').format).to.equal('empty');
    expect(parse('[]').format).to.equal('empty');
  });

  it('records the device appends are no change; a missing record, the marker, or a 404 are', () => {
    expect(compareLogs(snap(['a', 'b']), snap(['a', 'b', 'c']), 'M')).to.include({ missing: 0, added: 1, forged: false, gone: false });
    expect(compareLogs(snap(['a', 'b']), snap(['b', 'c']), 'M')).to.include({ missing: 1, rotated: 0 });
    expect(compareLogs(snap(['a', 'b']), snap(['a', 'b', 'x M y']), 'M')).to.include({ forged: true });
    expect(compareLogs(snap(['a']), snap([], 404), 'M')).to.include({ gone: true });
    expect(compareLogs(snap(['a']), snap([]), 'M')).to.include({ gone: true });
    expect(compareLogs(snap(['a']), snap([], 500), 'M').unverifiable).to.match(/500/);
  });

  it('a full ring buffer (50+ records) that drops its oldest while as many arrive has rotated, not been deleted from', () => {
    const before = Array.from({ length: 60 }, (_, i) => `r${i}`);
    const after = [...before.slice(2), 'n1', 'n2'];
    expect(compareLogs(snap(before), snap(after), 'M')).to.include({ missing: 0, rotated: 2 });
    expect(compareLogs(snap(['r0', 'r1']), snap(['r1', 'n1']), 'M')).to.include({ missing: 1, rotated: 0 });
  });
});
