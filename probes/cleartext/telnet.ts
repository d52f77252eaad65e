import { ProtocolViolation, defineProbe, finding, judge, type Finding, type Judgement } from '../../src/sdk';
import { readTelnetGreeting } from '../../src/protocols/cleartext';

interface Inputs {
  connectTimeoutMs: number;
  /** Stop reading once the server has been quiet this long. */
  quietMs: number;
}

/** What telnet servers print before a login (login: / Username: / User Name:) or a password. */
const LOGIN_PROMPT = /(?:^|\n|\r)\s*(?:[\w .-]*\s)?(?:login|user(?:\s?name)?)\s*:\s*$/i;
const PASSWORD_PROMPT = /password\s*:\s*$/i;
/** A command prompt at the end of the text: "> ", "# ", "$ ", "router>" ... */
const SHELL_PROMPT = /(?:^|\n|\r)[^\r\n]{0,40}[>#$%]\s?$/;

export default defineProbe<Inputs>({
  id: 'cleartext.telnet',
  protocol: 'cleartext',
  title: 'Telnet: banner and whether a login (or a shell) is offered over cleartext',
  description: 'Connects to a declared telnet service, refuses every telnet option the server proposes (WONT/DONT), and '
    + 'reads what it prints until it goes quiet. A login or password prompt means credentials would cross the network '
    + 'in cleartext (CR 4.1, CR 1.5); a command prompt without any login fails CR 1.1. Sends no user name or password.',
  requirements: ['CR 1.1', 'CR 1.5', 'CR 4.1'],
  safety: 'passive',
  scope: 'service',
  appliesTo: ['telnet'],
  timeoutMs: 15_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: { connectTimeoutMs: { type: 'integer', minimum: 100 }, quietMs: { type: 'integer', minimum: 50 } },
    },
    defaults: { connectTimeoutMs: 5000, quietMs: 1500 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const greeting = await readTelnetGreeting(service.host, service.port, {
      connectTimeoutMs: ctx.inputs.connectTimeoutMs, quietMs: ctx.inputs.quietMs, signal: ctx.signal,
    });
    const evidence = [ctx.evidence.save('telnet-greeting.json', greeting)];
    if (greeting.bytes === 0) throw new ProtocolViolation(`${service.name}: the telnet service said nothing within ${ctx.inputs.quietMs} ms`);
    const text = greeting.text.replace(/\0/g, '');
    const loginPrompt = LOGIN_PROMPT.test(text) || PASSWORD_PROMPT.test(text);
    const shellPrompt = !loginPrompt && SHELL_PROMPT.test(text);
    const banner = text.trim().split(/\r?\n|\r/).filter((l) => l.trim()).slice(0, 10);
    const findings: Finding[] = [];
    if (loginPrompt) {
      findings.push(finding({
        code: 'cleartext.telnet-login', severity: 'high', requirements: ['CR 1.5', 'CR 4.1'], evidence,
        message: `${service.name} asks for a login over telnet: user names and passwords cross the network in cleartext`,
      }));
    } else if (shellPrompt) {
      findings.push(finding({
        code: 'cleartext.telnet-no-auth', severity: 'critical', requirements: ['CR 1.1', 'CR 4.1'], evidence,
        message: `${service.name} presents a command prompt over telnet without asking anyone to identify themselves`,
      }));
    }
    const judgements: Judgement[] = [
      { requirement: 'CR 1.5', coverage: 'partial', passReason: 'no login is offered over this cleartext service, so no authenticator crosses it' },
    ];
    if (shellPrompt) judgements.push({ requirement: 'CR 1.1', coverage: 'partial', passReason: '' });
    if (loginPrompt || shellPrompt) judgements.push({ requirement: 'CR 4.1', coverage: 'partial', passReason: '' });
    return {
      observations: { banner, loginPrompt, shellPrompt, negotiation: greeting.negotiation, bytes: greeting.bytes },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
