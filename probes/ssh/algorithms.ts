import { defineProbe, finding, judge } from '../../src/sdk';
import {
  SSH_POLICY_FINDINGS, evaluatePolicy, exchangeHello, fetchHostKeys, speaksSsh1, stepBudgets, validatePolicyLevel, type SshPolicyLevel,
} from '../../src/protocols/ssh';

export default defineProbe({
  id: 'ssh.algorithms',
  protocol: 'ssh',
  title: 'SSH protocol version, algorithms and host keys against the crypto policy',
  description: 'Reads the server identification and its SSH_MSG_KEXINIT over a raw socket (key exchange, host key, '
    + 'cipher, MAC and compression lists in the server\'s order), then runs one key exchange per offered host-key type '
    + 'to read each host key and its size, and closes before authentication. The lists are judged against '
    + 'profiles/baselines/ssh.yaml at the SL target (BSI TR-02102-4 and cited RFCs).',
  requirements: ['CR 4.3', 'CR 4.1', 'CR 3.1'],
  // One finding per policy rule; the baseline names its rules after these (validatePolicyLevel checks it).
  findings: SSH_POLICY_FINDINGS,
  safety: 'passive',
  scope: 'service',
  appliesTo: ['ssh'],
  timeoutMs: 30_000,
  async run(ctx) {
    const service = ctx.service!;
    const level = ctx.baseline<SshPolicyLevel>('ssh');
    const problems = validatePolicyLevel(level);
    if (problems.length > 0) throw new Error(`the ssh baseline is invalid: ${problems.join('; ')}`);

    const { preBannerGraceMs } = stepBudgets(ctx.deadline, 10_000);
    const hello = await exchangeHello({ host: service.host, port: service.port, signal: ctx.signal, preBannerGraceMs });
    const { identification, kexinit } = hello;
    const identPath = ctx.evidence.save('identification.txt', [...hello.preBanner, identification.raw].join('\n') + '\n');
    const kexEvidence = [identPath];
    if (hello.kexinitPayload && kexinit) {
      kexEvidence.push(ctx.evidence.save('kexinit.bin', hello.kexinitPayload));
      kexEvidence.push(ctx.evidence.save('kexinit.json', kexinit));
    }
    const hostKeys = kexinit
      ? await fetchHostKeys(kexinit.hostKey, { host: service.host, port: service.port, signal: ctx.signal, timeoutMs: stepBudgets(ctx.deadline, 10_000).connectionMs })
      : [];
    const hostKeyPath = hostKeys.length > 0 ? ctx.evidence.save('hostkeys.json', hostKeys) : undefined;

    const offered = {
      protocol: identification.protocol,
      kex: kexinit?.kex ?? [],
      hostKey: kexinit?.hostKey ?? [],
      ciphers: [...new Set([...(kexinit?.ciphersS2C ?? []), ...(kexinit?.ciphersC2S ?? [])])],
      macs: [...new Set([...(kexinit?.macsS2C ?? []), ...(kexinit?.macsC2S ?? [])])],
      compression: [...new Set([...(kexinit?.compressionS2C ?? []), ...(kexinit?.compressionC2S ?? [])])],
      hostKeys,
    };
    const violations = evaluatePolicy(level, offered);
    const policyPath = ctx.evidence.save('policy.json', { baseline: 'ssh', rules: level.rules.map((r) => r.code), violations });
    const findings = violations.map(({ rule, offending }) => finding({
      code: rule.code, severity: rule.severity, requirements: rule.requirements,
      message: `${rule.message}: ${offending.join(', ')}`,
      evidence: [...(rule.check === 'hostKeySize' && hostKeyPath ? [hostKeyPath] : kexEvidence), policyPath],
    }));

    const observations = {
      banner: identification.raw,
      protocolVersion: identification.protocol,
      software: identification.software,
      ...(identification.comments !== undefined ? { comments: identification.comments } : {}),
      ...(hello.preBanner.length > 0 ? { preBanner: hello.preBanner } : {}),
      ssh1: speaksSsh1(identification.protocol),
      kex: kexinit?.kex ?? [],
      hostKey: kexinit?.hostKey ?? [],
      ciphers: kexinit?.ciphersS2C ?? [],
      macs: kexinit?.macsS2C ?? [],
      compression: kexinit?.compressionS2C ?? [],
      ciphersClientToServer: kexinit?.ciphersC2S ?? [],
      macsClientToServer: kexinit?.macsC2S ?? [],
      compressionClientToServer: kexinit?.compressionC2S ?? [],
      hostKeys: hostKeys.map((h) => ({
        algorithm: h.algorithm,
        ...(h.key ? { keyType: h.key.keyType, bits: h.key.bits, ...(h.key.curve ? { curve: h.key.curve } : {}), fingerprint: h.key.fingerprint } : {}),
        ...(h.signatureVerified !== undefined ? { signatureVerified: h.signatureVerified } : {}),
        ...(h.error ? { error: h.error } : {}),
      })),
    };
    const unsized = hostKeys.filter((h) => !h.key).map((h) => h.algorithm);
    const unsizedNote = unsized.length > 0 ? `; host key size not determined for ${unsized.join(', ')}` : '';
    const judgements = [
      { requirement: 'CR 4.3', coverage: 'partial' as const, passReason: `No offered SSH algorithm or host key is weak by the SSH baseline at this SL (this interface only${unsizedNote})` },
      { requirement: 'CR 4.1', coverage: 'partial' as const, passReason: 'Every SSH cipher and key exchange offered protects confidentiality per the SSH baseline (this interface only)' },
      { requirement: 'CR 3.1', coverage: 'partial' as const, passReason: `Every SSH MAC and host-key algorithm offered protects integrity per the SSH baseline (this interface only${unsizedNote})` },
    ];
    // An SSH-1-only server shows no algorithm lists: only requirements a finding fails were evaluated.
    const evaluated = hello.ssh1Only ? judgements.filter((j) => findings.some((f) => f.requirements.includes(j.requirement))) : judgements;
    return { observations, findings, outcomes: judge(evaluated, findings) };
  },
});
