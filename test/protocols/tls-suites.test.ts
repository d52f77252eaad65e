import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { CIPHER_SUITES, SUITE_FLAGS, SUITE_TABLE, suiteByCode, suiteByName, suitesFor } from '../../src/protocols/tls/suites';
import { findExecutable, requirePeer } from '../helpers/peers';

/** Polices cipher-suites.json: every row must be consistent with its IANA name and with the registry facts. */
describe('TLS cipher-suite table (data)', () => {
  it('has unique codes and names, well-formed rows and only known flags', () => {
    expect(CIPHER_SUITES.length).to.be.greaterThan(300);
    expect(new Set(CIPHER_SUITES.map((s) => s.code)).size).to.equal(CIPHER_SUITES.length);
    expect(new Set(CIPHER_SUITES.map((s) => s.name)).size).to.equal(CIPHER_SUITES.length);
    for (const s of CIPHER_SUITES) {
      expect(s.code, s.name).to.match(/^0x[0-9A-F]{4}$/);
      expect(s.name, s.code).to.match(/^(TLS|SSL)_[A-Z0-9_]+(_OLD)?$|^TLS_[A-Za-z0-9_]+$/);
      for (const f of s.flags) expect(SUITE_FLAGS, `${s.name}: ${f}`).to.include(f);
      expect(Object.keys(SUITE_TABLE.flags)).to.include.members([...s.flags]);
    }
  });

  it('derives every category flag from the name, both ways', () => {
    for (const s of CIPHER_SUITES) {
      if (s.flags.includes('SCSV')) continue;
      const after = s.name.includes('_WITH_') ? s.name.split('_WITH_')[1] : s.name.slice(4);
      const has = (flag: (typeof SUITE_FLAGS)[number]) => s.flags.includes(flag);
      expect(has('EXPORT'), s.name).to.equal(s.name.includes('EXPORT'));
      expect(has('anon'), s.name).to.equal(s.name.includes('_anon_'));
      expect(has('RC4'), s.name).to.equal(after.startsWith('RC4'));
      expect(has('3DES'), s.name).to.equal(after.startsWith('3DES'));
      expect(has('NULL'), s.name).to.equal(after.startsWith('NULL') || s.name === 'TLS_SHA256_SHA256' || s.name === 'TLS_SHA384_SHA384');
      expect(has('AEAD'), s.name).to.equal(/GCM|CCM|POLY1305/.test(after));
      expect(has('AEAD'), s.name).to.equal(s.mac === 'AEAD');
      expect(has('CBC'), s.name).to.equal(/_CBC(_|$)/.test(after));
      expect(has('MD5'), s.name).to.equal(s.mac === 'MD5');
      expect(has('SHA1'), s.name).to.equal(s.mac === 'SHA1');
      expect(has('FS'), s.name).to.equal(['DHE', 'ECDHE', 'DHE_PSK', 'ECDHE_PSK', 'any'].includes(s.kex));
      if (has('EXPORT')) expect(s.encBits, s.name).to.be.at.most(56);
      if (has('NULL')) expect(s.encBits, s.name).to.equal(0);
      if (s.since === 'TLSv1.3') expect([s.kex, s.auth], s.name).to.deep.equal(['any', 'any']);
      if (s.since !== 'TLSv1.3' && (s.mac === 'SHA256' || s.mac === 'SHA384' || s.mac === 'AEAD')) expect(s.since, s.name).to.equal('TLSv1.2');
    }
  });

  it('knows the registry values the probes rely on', () => {
    const known: Record<string, string> = {
      '0x0004': 'TLS_RSA_WITH_RC4_128_MD5', '0x0005': 'TLS_RSA_WITH_RC4_128_SHA', '0x0003': 'TLS_RSA_EXPORT_WITH_RC4_40_MD5',
      '0x000A': 'TLS_RSA_WITH_3DES_EDE_CBC_SHA', '0x002F': 'TLS_RSA_WITH_AES_128_CBC_SHA', '0x0033': 'TLS_DHE_RSA_WITH_AES_128_CBC_SHA',
      '0x009C': 'TLS_RSA_WITH_AES_128_GCM_SHA256', '0xC02B': 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
      '0xC02F': 'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256', '0xCCA8': 'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
      '0x1301': 'TLS_AES_128_GCM_SHA256', '0x1302': 'TLS_AES_256_GCM_SHA384', '0x1303': 'TLS_CHACHA20_POLY1305_SHA256',
      '0x5600': 'TLS_FALLBACK_SCSV', '0x00FF': 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV',
    };
    for (const [code, name] of Object.entries(known)) expect(suiteByCode(Number.parseInt(code, 16))?.name).to.equal(name);
    expect(suiteByName('TLS_DH_anon_WITH_AES_128_CBC_SHA')?.flags).to.include.members(['anon', 'CBC', 'SHA1']);
  });

  it('offers per version only the suites that version can negotiate', () => {
    expect(suitesFor('TLSv1.3').every((s) => s.since === 'TLSv1.3')).to.equal(true);
    expect(suitesFor('TLSv1').some((s) => s.since !== 'SSLv3')).to.equal(false);
    expect(suitesFor('TLSv1.2').length).to.be.greaterThan(suitesFor('TLSv1.1').length);
    expect(suitesFor('TLSv1.2').some((s) => s.flags.includes('SCSV'))).to.equal(false);
  });

  it('agrees with Debian OpenSSL on code and name for every suite OpenSSL knows', function () {
    const openssl = requirePeer(this, 'openssl', findExecutable('openssl'));
    const listing = execFileSync(openssl, ['ciphers', '-V', 'ALL:COMPLEMENTOFALL:@SECLEVEL=0'], { encoding: 'utf8' });
    let compared = 0;
    for (const line of listing.split('\n')) {
      const m = /0x([0-9A-F]{2}),0x([0-9A-F]{2})\s+-\s+(\S+)/.exec(line);
      if (!m) continue;
      const suite = suiteByCode(Number.parseInt(m[1] + m[2], 16));
      expect(suite, `OpenSSL knows ${m[3]} (0x${m[1]}${m[2]})`).to.not.equal(undefined);
      expect(suite!.openssl, suite!.name).to.equal(m[3]);
      compared++;
    }
    expect(compared).to.be.greaterThan(100);
  });

  it('is valid JSON with a description and sources', () => {
    const raw = JSON.parse(fs.readFileSync(require.resolve('../../src/protocols/tls/cipher-suites.json'), 'utf8')) as { sources: string[] };
    expect(raw.sources.length).to.be.greaterThan(0);
    expect(SUITE_TABLE.description).to.match(/IANA/);
  });
});
