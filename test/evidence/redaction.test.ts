import { expect } from 'chai';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RunStore } from '../../src/evidence/store';
import { registerSecrets } from '../../src/runner/credentials';

// Redaction rules (README "Secrets in evidence"): a secret nobody would write otherwise is replaced
// wherever it occurs; a secret that is also a user name or a published default is replaced where it
// stands as a secret, and kept where it is a user name, a path or a list entry id.

describe('evidence redaction: structural for public-looking secrets, everywhere for the others', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iacs-redaction-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  function store(): RunStore {
    const s = RunStore.create(path.join(dir, 'run'));
    registerSecrets(s, [
      { username: 'admin', password: 'admin', source: 'credentials.http' },          // equals its user name and a shipped default
      { username: 'operator', password: 'Op3rator!Bench', source: 'credentials.ssh' }, // distinctive
    ]);
    return s;
  }

  it('a distinctive secret is replaced in text, JSON values and binary evidence', () => {
    const s = store();
    expect(s.redact('login Op3rator!Bench ok')).to.equal('login [redacted] ok');
    expect(s.redactValues({ note: 'pw Op3rator!Bench', nested: ['Op3rator!Bench'] })).to.deep.equal({ note: 'pw [redacted]', nested: ['[redacted]'] });
    const rec = s.recorder('x.y', '127.0.0.1:1');
    const rel = rec.save('dump.bin', Buffer.from('..Op3rator!Bench..'));
    s.close();
    expect(fs.readFileSync(path.join(dir, 'run', rel), 'latin1')).to.equal('..[redacted]..');
  });

  it('a secret that is also a user name and a public default stays readable as a name, path or list entry', () => {
    const s = store();
    expect(s.redact('admin logs in with the well-known password of generic/admin-admin')).to.equal('admin logs in with the well-known password of generic/admin-admin');
    expect(s.redact('asks for HTTP Basic authentication over plain HTTP (/admin)')).to.contain('(/admin)');
    expect(s.redactValues({ username: 'admin', entry: 'admin-admin', path: '/admin' })).to.deep.equal({ username: 'admin', entry: 'admin-admin', path: '/admin' });
    s.close();
  });

  it('...and is replaced where it stands as a secret: password fields, form parameters, FTP PASS, HTTP Basic credentials', () => {
    const s = store();
    expect(s.redactValues({ username: 'admin', password: 'admin', passwordSha256: 'abc', community: 'admin' }))
      .to.deep.equal({ username: 'admin', password: '[redacted]', passwordSha256: 'abc', community: '[redacted]' });
    expect(s.redact('POST /login user=admin&password=admin&x=1')).to.equal('POST /login user=admin&password=[redacted]&x=1');
    expect(s.redact('USER admin\r\nPASS admin\r\n')).to.equal('USER admin\r\nPASS [redacted]\r\n');
    const basic = Buffer.from('admin:admin').toString('base64');
    expect(s.redact(`Authorization: Basic ${basic}`)).to.equal('Authorization: Basic [redacted]');
    // Not a registered secret: left alone (a public default the probe tried is evidence of what was sent).
    expect(s.redact('PASS 1234')).to.equal('PASS 1234');
    expect(s.redactValues({ password: 'guest' })).to.deep.equal({ password: 'guest' });
    s.close();
  });

  it('field names are never changed, even when a secret equals one', () => {
    const s = RunStore.create(path.join(dir, 'run2'));
    registerSecrets(s, [{ username: 'op', password: 'greeting', source: 'credentials.x' }]);
    expect(s.redactValues({ greeting: 'hello greeting' })).to.deep.equal({ greeting: 'hello [redacted]' });
    s.close();
  });
});
