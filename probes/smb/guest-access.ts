import { randomBytes } from 'node:crypto';
import { defineProbe, finding, inputsSchema, judge, type Finding, type Judgement } from '../../src/sdk';
import { SMB_INPUT_DEFAULTS, SMB_INPUT_PROPERTIES, smbAttempt, tryLogon, type LogonResult, type SmbInputs } from '../../src/protocols/smb';

const REQS = ['CR 1.1', 'CR 1.2'];

const describe = (r: LogonResult) => (r.granted
  ? `granted (SessionFlags ${r.sessionFlags.join('|') || 'none'}), IPC$ ${r.ipc?.connected ? 'opened' : `refused (${r.ipc?.status})`}`
  : `refused (${r.status})`);

export default defineProbe<SmbInputs>({
  id: 'smb.guest-access',
  protocol: 'smb',
  title: 'SMB: anonymous (null) and guest sessions, and whether they open IPC$',
  description: 'Logs on twice with NTLMSSP in SMB2 SESSION_SETUP, without any credential: once anonymously (empty user, empty '
    + 'response, MS-NLMP §3.2.5.1.2) and once as a random user name the server cannot know, with a random response. For each '
    + 'granted session it records the SessionFlags (IS_GUEST, IS_NULL) and tries TREE_CONNECT to IPC$, the door to share and '
    + 'user enumeration, then logs off. A guest session for an unknown user fails CR 1.1 and CR 1.2 (anyone gets in without '
    + 'being identified) and CR 3.1 (guest sessions are never signed); an anonymous session that opens IPC$ fails CR 1.1 and '
    + 'CR 1.2. Shares are not listed (no srvsvc NetShareEnumAll over DCE/RPC here; `smbclient -L -N` does that), so disk shares '
    + 'open to guests are not tried and a pass is partial.',
  requirements: [...REQS, 'CR 3.1'],
  findings: {
    'guest-session': 'an unknown user name with a wrong response gets a (guest) session',
    'anonymous-ipc': 'an anonymous session is granted and opens IPC$',
    'anonymous-session': 'an anonymous session is granted but cannot open IPC$ (usual on Windows and Samba; no requirement judged by it)',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['smb'],
  timeoutMs: 30_000,
  inputs: { schema: inputsSchema(SMB_INPUT_PROPERTIES), defaults: SMB_INPUT_DEFAULTS },
  async run(ctx) {
    const { service, transcript, options: base } = smbAttempt(ctx, 'smb-guest-access.txt');
    const guestUser = `iacs-probe-${randomBytes(4).toString('hex')}`;
    const options = { ...base, guestUser };
    const anonymous = await tryLogon(service, 'anonymous', options);
    const guest = await tryLogon(service, 'guest', options);
    for (const r of [anonymous, guest]) {
      ctx.actions.record({ kind: r.granted ? 'login-succeeded' : 'login-failed', account: r.kind === 'guest' ? guestUser : '(anonymous)', detail: `SMB2 ${r.kind} SESSION_SETUP ${describe(r)}` });
    }
    const evidence = [transcript.path];
    const findings: Finding[] = [];
    if (guest.granted) {
      findings.push(finding({
        code: 'guest-session', severity: 'high', requirements: [...REQS, 'CR 3.1'], evidence,
        message: `${service.name} gives the unknown user "${guestUser}" a session without a valid response (${describe(guest)}): anyone is let in as guest, unsigned`,
      }));
    }
    if (anonymous.granted && anonymous.ipc?.connected) {
      findings.push(finding({
        code: 'anonymous-ipc', severity: 'medium', requirements: REQS, evidence,
        message: `${service.name} grants an anonymous session that opens IPC$: shares and accounts can be enumerated without identification`,
      }));
    } else if (anonymous.granted) {
      findings.push(finding({
        code: 'anonymous-session', severity: 'info', requirements: [], evidence,
        message: `${service.name} grants an anonymous session (${describe(anonymous)}); it could not open IPC$`,
      }));
    }
    const judgements: Judgement[] = REQS.map((requirement) => ({
      requirement, coverage: 'partial', passReason: 'no guest session for an unknown user, no anonymous access to IPC$ (disk shares not listed or tried)',
    }));
    if (guest.granted) judgements.push({ requirement: 'CR 3.1', coverage: 'partial', passReason: '' });
    return {
      observations: { anonymous, guest: { ...guest, user: guestUser } },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
