/** ASN.1 plumbing shared by parsing and issuing (node-forge holds the ASN.1; see certificate.ts). */
import forge from 'node-forge';

export const { asn1 } = forge;

/** forge.pki plus two functions node-forge exports but its type definitions omit. */
export const pki = forge.pki as typeof forge.pki & {
  RDNAttributesAsArray(rdn: forge.asn1.Asn1): forge.pki.CertificateField[];
  getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1;
};

export function derToAsn1(der: Uint8Array): forge.asn1.Asn1 {
  return asn1.fromDer(forge.util.createBuffer(Buffer.from(der).toString('binary')));
}

export function asn1ToDer(obj: forge.asn1.Asn1): Buffer {
  return Buffer.from(asn1.toDer(obj).getBytes(), 'binary');
}

/** A throwaway RSA SubjectPublicKeyInfo that stands in for keys forge cannot carry. */
let placeholderKey: forge.pki.rsa.PublicKey | undefined;
export function placeholder(): forge.pki.rsa.PublicKey {
  placeholderKey ??= pki.setRsaPublicKey(new forge.jsbn.BigInteger('c5', 16), new forge.jsbn.BigInteger('10001', 16));
  return placeholderKey;
}

/** Index of SubjectPublicKeyInfo in a TBSCertificate (version [0] is optional before it). */
export function spkiIndex(tbs: forge.asn1.Asn1): number {
  const first = (tbs.value as forge.asn1.Asn1[])[0];
  return first.tagClass === asn1.Class.CONTEXT_SPECIFIC ? 6 : 5;
}
