/**
 * The OPC UA baseline of one security level (profiles/baselines/opcua.yaml, read with ctx.baseline('opcua')),
 * typed and checked like the TLS policy: a mistyped threshold fails loudly instead of passing everything.
 * The server certificate is judged with the same thresholds shape as a TLS certificate (src/protocols/x509).
 */
import { BaselineError, checkKeyStrengthPolicy, type KeyStrengthPolicy } from '../x509';
import { SECURITY_POLICIES } from './names';

export interface OpcuaBaseline {
  /** Policies whose offer is a finding (opcua.endpoints.deprecated-policy, CR 4.3). */
  readonly deprecatedPolicies: readonly string[];
  /** Key and signature strength of the server's application certificate. */
  readonly serverCertificate: KeyStrengthPolicy;
  /** Whether an endpoint with MessageSecurityMode Sign (no confidentiality) is acceptable. */
  readonly signOnlyAllowed: boolean;
}

export function checkOpcuaBaseline(raw: unknown): OpcuaBaseline {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new BaselineError('opcua baseline: the level must be a mapping');
  const level = raw as Record<string, unknown>;
  if (level.serverCertificate === undefined && ('minServerKeyBits' in level || 'weakSignatureHashes' in level)) {
    throw new BaselineError('opcua baseline: minServerKeyBits and weakSignatureHashes were replaced by serverCertificate '
      + '{minRsaBits, minDsaBits, minEcBits, minEdDsaBits, forbiddenKeyTypes, forbiddenSignatureHashes} (see profiles/baselines/opcua.yaml)');
  }
  const cert = level.serverCertificate;
  if (cert === null || typeof cert !== 'object' || Array.isArray(cert)) throw new BaselineError('opcua baseline: serverCertificate must be a mapping');
  const deprecated = level.deprecatedPolicies;
  if (!Array.isArray(deprecated) || deprecated.some((p) => !(SECURITY_POLICIES as readonly unknown[]).includes(p))) {
    throw new BaselineError(`opcua baseline: deprecatedPolicies must list security policies (known: ${SECURITY_POLICIES.join(', ')})`);
  }
  if (typeof level.signOnlyAllowed !== 'boolean') throw new BaselineError('opcua baseline: signOnlyAllowed must be true or false');
  return {
    deprecatedPolicies: deprecated as string[],
    serverCertificate: checkKeyStrengthPolicy(cert as Record<string, unknown>, 'opcua baseline: serverCertificate'),
    signOnlyAllowed: level.signOnlyAllowed,
  };
}
