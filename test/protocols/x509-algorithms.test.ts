import { expect } from 'chai';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  CURVE_BITS, HASHES, HASH_OIDS, KEY_FAMILIES, KEY_TYPES, SIGNATURE_ALGORITHMS, certificateStrength, checkKeyStrengthPolicy,
  generateKey, issueCertificate, parseCertificate, signatureAlgorithmByOid, type KeyStrengthPolicy, type KeySpec, type SignatureHash,
} from '../../src/protocols/x509';
import { checkTlsPolicy } from '../../src/protocols/tls';
import { checkOpcuaBaseline } from '../../src/protocols/opcua';

const BASELINES = path.join(__dirname, '../../profiles/baselines');
const DAY = 86_400_000;

function levels(file: string): [string, Record<string, unknown>][] {
  const doc = parseYaml(fs.readFileSync(path.join(BASELINES, file), 'utf8')) as { levels: Record<string, Record<string, unknown>> };
  return Object.entries(doc.levels);
}

const STRICT: KeyStrengthPolicy = {
  minRsaBits: 2048, minDsaBits: 2048, minEcBits: 256, minEdDsaBits: 256, forbiddenKeyTypes: ['DSA'], forbiddenSignatureHashes: ['md2', 'md4', 'md5', 'sha1'],
};

function selfSigned(spec: KeySpec, hash: SignatureHash = 'sha256') {
  const now = Date.now();
  return parseCertificate(issueCertificate({ commonName: 'x', key: generateKey(spec), hash, notBefore: new Date(now - DAY), notAfter: new Date(now + DAY) }).der);
}

describe('X.509 knowledge base (src/protocols/x509/algorithms.json)', () => {
  it('every signature OID is unique and well formed, and names its key type and a known hash', () => {
    const oids = SIGNATURE_ALGORITHMS.map((a) => a.oid);
    expect(new Set(oids).size, 'duplicate OIDs').to.equal(oids.length);
    const names = SIGNATURE_ALGORITHMS.map((a) => a.name);
    expect(new Set(names).size, 'duplicate names').to.equal(names.length);
    for (const a of SIGNATURE_ALGORITHMS) {
      expect(a.oid, a.name).to.match(/^[0-2](\.\d+)+$/);
      expect(KEY_FAMILIES, `${a.name} key type`).to.include(a.keyType);
      expect(HASHES, `${a.name} hash`).to.have.property(a.hash);
      expect(a.basis, `${a.name} basis`).to.be.a('string').that.is.not.empty;
    }
  });

  it('covers md2, md5, sha1, sha224, sha256/384/512, RSA-PSS, DSA with sha1/sha224/sha256, ECDSA, Ed25519 and Ed448', () => {
    const has = (oid: string, keyType: string, hash: string) => expect(signatureAlgorithmByOid(oid), oid).to.include({ keyType, hash });
    has('1.2.840.113549.1.1.2', 'RSA', 'md2');
    has('1.2.840.113549.1.1.4', 'RSA', 'md5');
    has('1.2.840.113549.1.1.5', 'RSA', 'sha1');
    has('1.2.840.113549.1.1.14', 'RSA', 'sha224');
    for (const [oid, hash] of [['11', 'sha256'], ['12', 'sha384'], ['13', 'sha512']]) has(`1.2.840.113549.1.1.${oid}`, 'RSA', hash);
    expect(signatureAlgorithmByOid('1.2.840.113549.1.1.10')).to.include({ keyType: 'RSA', hashFromParameters: true });
    has('1.2.840.10040.4.3', 'DSA', 'sha1');
    has('2.16.840.1.101.3.4.3.1', 'DSA', 'sha224');
    has('2.16.840.1.101.3.4.3.2', 'DSA', 'sha256');
    has('1.2.840.10045.4.1', 'EC', 'sha1');
    has('1.2.840.10045.4.3.2', 'EC', 'sha256');
    has('1.3.101.112', 'EdDSA', 'sha512');
    has('1.3.101.113', 'EdDSA', 'shake256');
  });

  it('md2, md4, md5 and sha1 are weak; the SHA-2 and SHA-3 hashes are not, and state their strength', () => {
    for (const h of ['md2', 'md4', 'md5', 'sha1']) expect(HASHES[h], h).to.include({ weak: true, securityBits: null });
    for (const [h, f] of Object.entries(HASHES).filter(([, f]) => !f.weak)) expect(f.securityBits, h).to.be.at.least(112);
    for (const f of Object.values(HASHES)) expect(['critical', 'high', 'medium', 'low']).to.include(f.severity);
    for (const h of Object.values(HASH_OIDS)) expect(HASHES).to.have.property(h);
  });

  it('key types map onto the baseline families; every curve has a size', () => {
    for (const k of Object.values(KEY_TYPES)) expect(KEY_FAMILIES).to.include(k.family);
    expect(CURVE_BITS).to.include({ prime192v1: 192, prime256v1: 256, secp384r1: 384, secp521r1: 521 });
  });

  it('every level of the tls and opcua baselines reads, and refuses every weak hash', () => {
    const weak = Object.entries(HASHES).filter(([, f]) => f.weak).map(([h]) => h);
    for (const [level, raw] of levels('tls.yaml')) {
      expect(checkTlsPolicy(raw).certificate.forbiddenSignatureHashes, `tls ${level}`).to.include.members(weak);
    }
    for (const [level, raw] of levels('opcua.yaml')) {
      expect(checkOpcuaBaseline(raw).serverCertificate.forbiddenSignatureHashes, `opcua ${level}`).to.include.members(weak);
    }
  });

  it('the shipped tls and opcua baselines judge certificate strength with the same thresholds at every level (one certificate, one verdict)', () => {
    const opcua = new Map(levels('opcua.yaml').map(([level, raw]) => [level, checkOpcuaBaseline(raw).serverCertificate]));
    for (const [level, raw] of levels('tls.yaml')) {
      const { minRsaBits, minDsaBits, minEcBits, minEdDsaBits, forbiddenKeyTypes, forbiddenSignatureHashes } = checkTlsPolicy(raw).certificate;
      expect(opcua.get(level), `level ${level}`).to.deep.equal({ minRsaBits, minDsaBits, minEcBits, minEdDsaBits, forbiddenKeyTypes, forbiddenSignatureHashes });
    }
  });

  it('a mistyped threshold or an unknown hash or key type fails loudly', () => {
    const ok = { ...STRICT } as Record<string, unknown>;
    expect(() => checkKeyStrengthPolicy({ ...ok, minEcBits: '256' }, 'x')).to.throw(/x\.minEcBits must be a non-negative integer/);
    expect(() => checkKeyStrengthPolicy({ ...ok, forbiddenSignatureHashes: ['sha-1'] }, 'x')).to.throw(/unknown sha-1/);
    expect(() => checkKeyStrengthPolicy({ ...ok, forbiddenKeyTypes: ['ECDSA'] }, 'x')).to.throw(/unknown ECDSA/);
    expect(() => checkOpcuaBaseline({ deprecatedPolicies: [], minServerKeyBits: 2048, weakSignatureHashes: ['sha1'], signOnlyAllowed: true }))
      .to.throw(/replaced by serverCertificate/);
  });
});

describe('X.509 strength judgement (src/protocols/x509/strength.ts)', function () {
  this.timeout(30_000);

  it('judges the key of every family against its own minimum', () => {
    const kinds = (spec: KeySpec) => certificateStrength(selfSigned(spec), STRICT).map((w) => w.kind);
    expect(kinds({ type: 'rsa', bits: 1024 })).to.deep.equal(['key-too-short']);
    expect(kinds({ type: 'rsa', bits: 2048 })).to.deep.equal([]);
    expect(kinds({ type: 'ec', curve: 'P-192' })).to.deep.equal(['key-too-short']);
    expect(kinds({ type: 'ec', curve: 'P-256' })).to.deep.equal([]);
    expect(kinds({ type: 'ed25519' })).to.deep.equal([]);
    expect(kinds({ type: 'ed448' })).to.deep.equal([]);
    expect(kinds({ type: 'dsa', bits: 2048 })).to.deep.equal(['key-type-forbidden']);
    // A baseline that allows DSA still holds it to its minimum size.
    const allowsDsa = { ...STRICT, forbiddenKeyTypes: [], minDsaBits: 3072 };
    expect(certificateStrength(selfSigned({ type: 'dsa', bits: 2048 }), allowsDsa)).to.deep.include.members([
      { kind: 'key-too-short', family: 'DSA', keyType: 'DSA', keyBits: 2048, minimumBits: 3072, severity: 'high', text: 'a 2048-bit DSA key (baseline minimum 3072 for DSA)' },
    ]);
  });

  it('parses what it judges: DSA, P-192, Ed448 and the hash of each signature', () => {
    expect(selfSigned({ type: 'dsa', bits: 2048 }, 'sha224')).to.include({ keyType: 'DSA', keyFamily: 'DSA', keyBits: 2048, signatureAlgorithm: 'dsa-with-sha224', signatureHash: 'sha224' });
    expect(selfSigned({ type: 'ec', curve: 'P-192' }, 'sha1')).to.include({ keyType: 'EC', keyBits: 192, curve: 'prime192v1', signatureAlgorithm: 'ecdsa-with-SHA1', signatureHash: 'sha1' });
    expect(selfSigned({ type: 'ed448' })).to.include({ keyType: 'Ed448', keyFamily: 'EdDSA', keyBits: 456, signatureAlgorithm: 'Ed448', signatureHash: 'shake256', selfSigned: true });
    expect(selfSigned({ type: 'rsa', bits: 2048 }, 'md5')).to.include({ signatureAlgorithm: 'md5WithRSAEncryption', signatureHash: 'md5', selfSigned: true });
  });

  it('forbidden hashes per the baseline, with the severity from the table', () => {
    const hashOf = (hash: SignatureHash, policy = STRICT) => certificateStrength(selfSigned({ type: 'rsa', bits: 2048 }, hash), policy);
    expect(hashOf('md5')).to.deep.equal([
      { kind: 'signature-hash-forbidden', hash: 'md5', algorithm: 'md5WithRSAEncryption', severity: 'critical', text: 'signed with MD5 (md5WithRSAEncryption)' },
    ]);
    expect(hashOf('sha1').map((w) => [w.kind, 'severity' in w ? w.severity : null])).to.deep.equal([['signature-hash-forbidden', 'high']]);
    expect(hashOf('sha224')).to.deep.equal([]);
    expect(hashOf('sha224', { ...STRICT, forbiddenSignatureHashes: ['sha224'] }).map((w) => [w.kind, 'severity' in w ? w.severity : null]))
      .to.deep.equal([['signature-hash-forbidden', 'medium']]);
  });

  it('an unknown key type or signature algorithm is not judged, never passed as strong', () => {
    const cert = { ...selfSigned({ type: 'ec', curve: 'P-256' }), keyType: '1.2.643.7.1.1.1.1', keyFamily: null, keyBits: null, signatureAlgorithm: '1.2.643.7.1.1.3.2', signatureHash: null };
    expect(certificateStrength(cert, STRICT).map((w) => w.kind)).to.deep.equal(['key-unjudged', 'signature-unjudged']);
    const oddCurve = { ...selfSigned({ type: 'ec', curve: 'P-256' }), curve: 'sect163k1', keyBits: null };
    expect(certificateStrength(oddCurve, STRICT).map((w) => w.kind)).to.deep.equal(['key-unjudged']);
  });
});
