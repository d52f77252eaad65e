import { ProtocolViolation, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import { readTelnetGreeting } from '../../src/protocols/cleartext';
import { classifyTelnetText, screenText } from '../../src/protocols/telnet-prompts';

interface Inputs {
  connectTimeoutMs: number;
  /** Stop reading once the server has been quiet this long after a recognised prompt. */
  quietMs: number;
  /** Silence tolerated while what arrived ends in no recognised prompt (slow devices, "please wait"). */
  promptWaitMs: number;
}

export default defineProbe<Inputs>({
  id: 'cleartext.telnet',
  protocol: 'cleartext',
  title: 'Telnet: banner and whether a login (or a shell) is offered over cleartext',
  description: 'Connects to a declared telnet service, refuses every telnet option the server proposes (WONT/DONT), and '
    + 'reads what it prints until it goes quiet. The last line is classified by a prompt grammar of vendors and languages '
    + '(src/protocols/telnet-prompts.ts): a login or password prompt means credentials would cross the network in '
    + 'cleartext (CR 4.1, CR 1.5); a command prompt without any login fails CR 1.1; anything else leaves the requirements '
    + 'not determined. Sends no user name or password.',
  requirements: ['CR 1.1', 'CR 1.5', 'CR 4.1'],
  findings: {
    'login-offered': 'a login or password prompt over telnet: credentials would cross the network in cleartext',
    'no-auth': 'a command prompt over telnet without any login',
    'prompt-unknown': 'the greeting ends in nothing the prompt grammar recognises: no requirement judged',
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['telnet'],
  timeoutMs: 15_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        connectTimeoutMs: { type: 'integer', minimum: 100 },
        quietMs: { type: 'integer', minimum: 50 },
        promptWaitMs: { type: 'integer', minimum: 50 },
      },
    },
    defaults: { connectTimeoutMs: 5000, quietMs: 1500, promptWaitMs: 5000 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const greeting = await readTelnetGreeting(service.host, service.port, {
      connectTimeoutMs: ctx.inputs.connectTimeoutMs, quietMs: ctx.inputs.quietMs, promptWaitMs: ctx.inputs.promptWaitMs,
      endsInPrompt: (text) => classifyTelnetText(text).kind !== 'unknown', signal: ctx.signal,
    });
    const prompt = classifyTelnetText(greeting.text);
    const evidence = [ctx.evidence.save('telnet-greeting.json', { ...greeting, prompt })];
    if (greeting.bytes === 0) throw new ProtocolViolation(`${service.name}: the telnet service said nothing within ${ctx.inputs.promptWaitMs} ms`);
    const loginPrompt = prompt.kind === 'login-prompt' || prompt.kind === 'password-prompt';
    const shellPrompt = prompt.kind === 'shell';
    const banner = screenText(greeting.text).split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 10);
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    if (loginPrompt) {
      findings.push(finding({
        code: 'login-offered', severity: 'high', requirements: ['CR 1.5', 'CR 4.1'], evidence,
        message: `${service.name} asks for a login over telnet (${JSON.stringify(prompt.lastLine)}): user names and passwords cross the network in cleartext`,
      }));
      judgements.push({ requirement: 'CR 1.5', coverage: 'partial', passReason: '' }, { requirement: 'CR 4.1', coverage: 'partial', passReason: '' });
    } else if (shellPrompt) {
      findings.push(finding({
        code: 'no-auth', severity: 'critical', requirements: ['CR 1.1', 'CR 4.1'], evidence,
        message: `${service.name} presents a command prompt over telnet (${JSON.stringify(prompt.lastLine)}) without asking anyone to identify themselves`,
      }));
      judgements.push(
        { requirement: 'CR 1.5', coverage: 'partial', passReason: 'a command prompt is offered without any login, so no authenticator crosses this cleartext service' },
        { requirement: 'CR 1.1', coverage: 'partial', passReason: '' },
        { requirement: 'CR 4.1', coverage: 'partial', passReason: '' },
      );
    } else {
      // Could not tell: not a pass of anything. The transcript is the evidence for a manual look.
      findings.push(finding({
        code: 'prompt-unknown', severity: 'info', requirements: [], evidence,
        message: `${service.name}: could not tell whether the telnet service asks for a login (${prompt.reason}; last line ${JSON.stringify(prompt.lastLine)}); CR 1.1, CR 1.5 and CR 4.1 are not determined by this attempt`,
      }));
    }
    return {
      observations: {
        banner, promptKind: prompt.kind, promptLine: prompt.lastLine, promptRule: prompt.rule?.id ?? null,
        loginPrompt, shellPrompt, negotiation: greeting.negotiation, bytes: greeting.bytes, encoding: greeting.encoding,
        ...(prompt.kind === 'unknown' ? { note: `prompt not recognised: ${prompt.reason}; CR 1.1, CR 1.5 and CR 4.1 not evaluated` } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
