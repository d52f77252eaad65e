import { defineProbe, finding, inputsSchema, judge, type Finding } from '../../src/sdk';
import {
  SMB2_DIALECT_NAMES, SMB2_SIGNING_ENABLED, SMB2_SIGNING_REQUIRED, SMB_INPUT_DEFAULTS, SMB_INPUT_PROPERTIES, smbAttempt, dialectName, offerSmb1, offerSmb2, requireSmbAnswer,
  type SmbInputs,
} from '../../src/protocols/smb';

export default defineProbe<SmbInputs>({
  id: 'smb.signing',
  protocol: 'smb',
  title: 'SMB: message signing required, or only enabled',
  description: 'Sends one SMB2 NEGOTIATE offering every dialect (2.0.2 to 3.1.1) and one SMB1 NEGOTIATE ("NT LM 0.12"), and reads '
    + 'the SecurityMode of each answer (MS-SMB2 §2.2.4, MS-CIFS §2.2.4.52.2), as nmap\'s smb2-security-mode does. Signing that '
    + 'is enabled but not required lets a man in the middle alter SMB messages of authenticated sessions (relaying NTLM to the '
    + 'service): CR 3.1 fails. Required on every dialect the service speaks passes CR 3.1 for authenticated sessions; '
    + 'guest and anonymous sessions are never signed and are judged by smb.guest-access.',
  requirements: ['CR 3.1'],
  findings: {
    'signing-not-required': 'the NEGOTIATE answer says signing is enabled or off, but not required',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['smb'],
  timeoutMs: 30_000,
  inputs: { schema: inputsSchema(SMB_INPUT_PROPERTIES), defaults: SMB_INPUT_DEFAULTS },
  async run(ctx) {
    const { service, transcript, options } = smbAttempt(ctx, 'smb-signing.txt');
    const smb2 = await offerSmb2(service, SMB2_DIALECT_NAMES, options);
    const smb1 = await offerSmb1(service, options);
    requireSmbAnswer([smb2, smb1], service.name);
    const modes: { dialect: string; securityMode: number; enabled: boolean; required: boolean }[] = [];
    if (smb2.accepted) {
      const mode = smb2.answer.securityMode ?? 0;
      modes.push({ dialect: dialectName(smb2.answer.dialect!), securityMode: mode, enabled: (mode & SMB2_SIGNING_ENABLED) !== 0, required: (mode & SMB2_SIGNING_REQUIRED) !== 0 });
    }
    if (smb1.accepted) modes.push({ dialect: 'NT LM 0.12', securityMode: smb1.answer.securityMode, enabled: smb1.answer.signingEnabled, required: smb1.answer.signingRequired });
    const evidence = [transcript.path];
    const findings: Finding[] = modes.filter((m) => !m.required).map((m) => finding({
      code: 'signing-not-required', severity: 'medium', requirements: ['CR 3.1'], evidence,
      message: `${service.name} (${m.dialect}) ${m.enabled ? 'does not require' : 'does not even enable'} message signing (SecurityMode 0x${m.securityMode.toString(16)}): SMB messages can be altered or relayed in transit`,
    }));
    const outcomes = modes.length === 0 ? [] : judge([{
      requirement: 'CR 3.1', coverage: 'full', passReason: `signing required on ${modes.map((m) => m.dialect).join(' and ')}`,
    }], findings);
    return {
      observations: {
        signing: Object.fromEntries(modes.map((m) => [m.dialect, { enabled: m.enabled, required: m.required, securityMode: m.securityMode }])),
        ...(smb2.accepted ? {} : { smb2: smb2.how }),
        ...(smb1.accepted ? {} : { smb1: smb1.how }),
        ...(modes.length === 0 ? { note: 'no dialect was negotiated: CR 3.1 not judged' } : {}),
      },
      findings,
      outcomes,
    };
  },
});
