import { defineProbe, finding, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import {
  SMB2_CAPABILITIES, SMB2_DIALECT_NAMES, SMB_INPUT_DEFAULTS, SMB_INPUT_PROPERTIES, smbAttempt, capabilityNames, offerSmb1, offerSmb2, requireSmbAnswer,
  type SmbInputs,
} from '../../src/protocols/smb';

export default defineProbe<SmbInputs>({
  id: 'smb.dialects',
  protocol: 'smb',
  title: 'SMB: dialects offered, SMBv1 among them, and whether any offers encryption',
  description: 'Sends an SMB1 NEGOTIATE offering only "NT LM 0.12" and one SMB2 NEGOTIATE per dialect (2.0.2, 2.1, 3.0, 3.0.2, '
    + '3.1.1 with its negotiate contexts), each on its own connection, as nmap\'s smb-protocols does. SMBv1 offered fails CR 4.3 '
    + '(MD5-based signing, no encryption, the protocol Microsoft deprecated) and CR 7.7 (an obsolete service left on); a service '
    + 'whose dialects offer no encryption at all (no SMB 3.x with the encryption capability or cipher) fails CR 4.1. Offered '
    + 'encryption is not a pass of CR 4.1: whether the server requires it needs an authenticated session.',
  requirements: ['CR 4.1', 'CR 4.3', 'CR 7.7'],
  findings: {
    'smb1-offered': 'the service accepts an SMBv1 (NT LM 0.12) NEGOTIATE',
    'no-encryption': 'no offered dialect can encrypt SMB traffic (no SMB 3.x encryption capability or cipher)',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['smb'],
  timeoutMs: 60_000,
  inputs: { schema: inputsSchema(SMB_INPUT_PROPERTIES), defaults: SMB_INPUT_DEFAULTS },
  async run(ctx) {
    const { service, transcript, options } = smbAttempt(ctx, 'smb-dialects.txt');
    const smb1 = await offerSmb1(service, options);
    const offers = [];
    for (const dialect of SMB2_DIALECT_NAMES) offers.push({ dialect, offer: await offerSmb2(service, [dialect], options) });
    requireSmbAnswer([smb1, ...offers.map((o) => o.offer)], service.name);
    const accepted = offers.flatMap(({ dialect, offer }) => (offer.accepted ? [{ dialect, answer: offer.answer }] : []));
    const encryption = accepted.filter(({ answer }) => ((answer.capabilities ?? 0) & SMB2_CAPABILITIES.ENCRYPTION) !== 0 || answer.cipher !== undefined);
    const evidence = [transcript.path];
    const findings: Finding[] = [];
    if (smb1.accepted) {
      findings.push(finding({
        code: 'smb1-offered', severity: 'high', requirements: ['CR 4.3', 'CR 7.7'], evidence,
        message: `${service.name} accepts SMBv1 (NT LM 0.12): MD5-based signing, no encryption, an obsolete protocol left enabled`,
      }));
    }
    const dialects = [...(smb1.accepted ? ['NT LM 0.12'] : []), ...accepted.map((a) => a.dialect)];
    if (encryption.length === 0) {
      findings.push(finding({
        code: 'no-encryption', severity: 'medium', requirements: ['CR 4.1'], evidence,
        message: `${service.name} offers ${dialects.join(', ') || 'no dialect'}: none of them can encrypt SMB traffic, so file and pipe contents cross the network readable`,
      }));
    }
    const judgements: Judgement[] = [
      { requirement: 'CR 4.3', coverage: 'partial', passReason: 'SMBv1 is refused; the SMB 2/3 dialects use the cryptography MS-SMB2 defines (cipher suites are not configurable per server)' },
      { requirement: 'CR 7.7', coverage: 'partial', passReason: 'SMBv1 is refused on this service (the ports.* probes judge which services are open at all)' },
    ];
    // Encryption offered is not encryption required: CR 4.1 is judged only when no dialect offers it.
    if (encryption.length === 0) judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: '' });
    return {
      observations: {
        smb1: smb1.accepted ? { offered: true, securityMode: smb1.answer.securityMode } : { offered: false, answer: smb1.how },
        dialects,
        smb2: Object.fromEntries(offers.map(({ dialect, offer }) => [dialect, offer.accepted
          ? { offered: true, securityMode: offer.answer.securityMode, capabilities: capabilityNames(offer.answer.capabilities ?? 0), ...(offer.answer.cipher ? { cipher: offer.answer.cipher } : {}), ...(offer.answer.signingAlgorithm ? { signingAlgorithm: offer.answer.signingAlgorithm } : {}) }
          : { offered: false, answer: offer.how }])),
        encryptionOffered: encryption.map((e) => e.dialect),
        ...(encryption.length > 0 ? { note: 'encryption is offered; whether the server requires it (smb encrypt = required, SessionFlags ENCRYPT_DATA) needs an authenticated session: CR 4.1 not judged' } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
