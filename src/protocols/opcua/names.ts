import * as crypto from 'node:crypto';

/** OPC UA vocabulary as the observations spell it (ARCHITECTURE.md, `opcua.endpoints`). */

export const POLICY_URI_PREFIX = 'http://opcfoundation.org/UA/SecurityPolicy#';

/** The security policies of OPC UA Part 7 the harness knows by short name, weakest first. */
export const SECURITY_POLICIES = [
  'None', 'Basic128Rsa15', 'Basic256', 'Basic256Sha256', 'Aes128_Sha256_RsaOaep', 'Aes256_Sha256_RsaPss',
] as const;

export const SECURITY_MODES = ['None', 'Sign', 'SignAndEncrypt'] as const;
export type SecurityModeName = (typeof SECURITY_MODES)[number] | 'Invalid';

export const TOKEN_TYPES = ['Anonymous', 'UserName', 'Certificate', 'IssuedToken'] as const;
export type TokenTypeName = (typeof TOKEN_TYPES)[number];

/** MessageSecurityMode enumeration values (Part 4 §7.20). */
export function securityModeName(value: number): SecurityModeName {
  return (['Invalid', 'None', 'Sign', 'SignAndEncrypt'] as const)[value] ?? 'Invalid';
}

/** UserTokenType enumeration values (Part 4 §7.43). */
export function tokenTypeName(value: number): TokenTypeName {
  return TOKEN_TYPES[value] ?? 'IssuedToken';
}

/**
 * "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256" -> "Basic256Sha256". Unknown URIs (ECC
 * policies, vendor ones) keep their fragment, or the whole URI when there is none. An empty or null
 * URI (a user token policy that inherits the endpoint's) gives null.
 */
export function policyShortName(uri: string | null | undefined): string | null {
  if (!uri) return null;
  const hash = uri.lastIndexOf('#');
  return hash >= 0 ? uri.slice(hash + 1) : uri;
}

export function policyUri(shortName: string): string {
  return shortName.includes('://') ? shortName : `${POLICY_URI_PREFIX}${shortName}`;
}

/** Policies whose asymmetric encryption is RSA PKCS#1 v1.5 (OPC UA Part 7: Basic128Rsa15 only). */
export const PKCS1V15_POLICIES: ReadonlySet<string> = new Set(['Basic128Rsa15']);

let pkcs1Checked: boolean | undefined;

/**
 * Whether this Node process can decrypt RSA PKCS#1 v1.5, which Basic128Rsa15 needs for every
 * OpenSecureChannel. Node 20.11+ refuses it (CVE-2023-46809, the Marvin attack) unless started with
 * `--security-revert=CVE-2023-46809`. Decided by trying a decryption, not by reading the command line.
 */
export function pkcs1v15InProcess(): boolean {
  if (pkcs1Checked !== undefined) return pkcs1Checked;
  const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 });
  const probe = Buffer.from('iacs-probe');
  try {
    const encrypted = crypto.publicEncrypt({ key: publicKey, padding: crypto.constants.RSA_PKCS1_PADDING }, probe);
    pkcs1Checked = crypto.privateDecrypt({ key: privateKey, padding: crypto.constants.RSA_PKCS1_PADDING }, encrypted).equals(probe);
  } catch {
    pkcs1Checked = false;
  }
  return pkcs1Checked;
}

/** How Basic128Rsa15 channels are opened, for evidence (observation `legacyCrypto`). */
export function pkcs1v15Decryption(): { available: true; where: 'this-process' | 'helper-process'; reason: string } {
  return pkcs1v15InProcess()
    ? { available: true, where: 'this-process', reason: 'RSA PKCS#1 v1.5 decryption works in this process (started with --security-revert=CVE-2023-46809)' }
    : {
      available: true, where: 'helper-process',
      reason: `RSA PKCS#1 v1.5 decryption is disabled in Node ${process.version} (CVE-2023-46809); each Basic128Rsa15 channel is opened ` +
        'in a helper process started with --security-revert=CVE-2023-46809 for that channel only',
    };
}

/** Whether a channel with this policy must be opened in the helper process (see legacy.ts). */
export function needsLegacyProcess(policy: string): boolean {
  const short = policy.includes('://') ? policyShortName(policy) ?? policy : policy;
  return PKCS1V15_POLICIES.has(short) && !pkcs1v15InProcess();
}

/** Whether the harness can open a channel with this policy here, and if not, why. */
export function policyTestable(policy: string): { testable: boolean; reason?: string } {
  if (!(SECURITY_POLICIES as readonly string[]).includes(policy)) {
    return { testable: false, reason: `the harness (node-opcua) does not implement security policy ${policy}` };
  }
  return { testable: true };
}
