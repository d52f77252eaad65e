import { InvalidInput, ProtocolViolation, defineProbe, finding, inputsSchema, judge, type Finding, type Judgement, type ProbeContext } from '../../src/sdk';
import {
  EVIDENCE_FILTERS, HOST_RULE_FINDINGS, PARSERS, evaluateRule, expectationAt, frOf, ruleSources, validateHostBaseline, withHostSession,
  type CommandResult, type HostBaselineLevel, type HostRule, type HostSession, type ParsedSource, type RuleResult,
} from '../../src/protocols/host';
import { exchangeHello, stepBudgets } from '../../src/protocols/ssh';

interface AuditInputs {
  /** Bound on one command on the device. */
  commandTimeoutMs: number;
}

const REQUIREMENTS = [
  'CR 1.1', 'CR 1.1 RE(1)', 'CR 1.3', 'CR 1.4', 'CR 1.7', 'CR 1.7 RE(1)', 'CR 1.11', 'CR 2.8', 'CR 2.9', 'CR 2.9 RE(1)',
  'CR 2.10', 'CR 2.11 RE(1)', 'CR 3.4', 'CR 3.4 RE(1)', 'HDR 3.10 RE(1)', 'CR 4.3', 'CR 7.7',
];

/** The evidence of one command: what ran, how it ended, and its output (shadow without hashes). */
function transcript(r: CommandResult, filter: (t: string) => string = (t) => t): string {
  const line = [...(r.viaSudo ? ['sudo', '-n', '--'] : []), ...r.argv].join(' ');
  const end = r.timedOut ? 'timed out' : `exit ${r.exitCode ?? 'none'}${r.signal ? ` signal ${r.signal}` : ''}`;
  return `$ ${line}\n# ${end}, ${r.durationMs} ms${r.truncated ? ', output truncated' : ''}\n--- stdout\n${filter(r.stdout)}--- stderr\n${r.stderr}`;
}

/** Runs each source the applicable rules need, once, keeping its transcript; returns the parsed facts. */
async function readSources(ctx: ProbeContext<AuditInputs>, session: HostSession, baseline: HostBaselineLevel, needed: ReadonlySet<string>) {
  const parsed = new Map<string, ParsedSource>();
  const evidence = new Map<string, string>();
  const service = ctx.service!;
  const declaredPorts = {
    tcp: new Set(ctx.host.services.filter((s) => s.transport === 'tcp').map((s) => s.port)),
    udp: new Set(ctx.host.services.filter((s) => s.transport === 'udp').map((s) => s.port)),
  };
  let n = 0;
  for (const [id, source] of Object.entries(baseline.sources)) {
    if (!needed.has(id)) continue;
    const result = await session.run(source.argv, { privileged: source.privileged === true, timeoutMs: ctx.inputs.commandTimeoutMs });
    evidence.set(id, ctx.evidence.save(`commands/${String(++n).padStart(2, '0')}-${id}.txt`, transcript(result, EVIDENCE_FILTERS[source.parser])));
    parsed.set(id, PARSERS[source.parser](result, { declaredPorts }));
  }
  ctx.log.debug(`ran ${n} commands on ${service.host}:${service.port}`);
  return { parsed, evidence };
}

/** A requirement is judged when a rule fails it, or when every rule citing it was decided and one can pass it. */
function judgementsFor(rules: readonly HostRule[], results: readonly RuleResult[]): { judgements: Judgement[]; undetermined: Record<string, string> } {
  const judgements: Judgement[] = [];
  const undetermined: Record<string, string> = {};
  for (const requirement of REQUIREMENTS) {
    const citing = results.filter((r) => r.status !== 'not_required' && r.requirements.includes(requirement));
    if (citing.length === 0) continue;
    const open = citing.filter((r) => r.status === 'not_determined');
    const canPass = citing.some((r) => !rules.find((x) => x.id === r.id)?.failOnly);
    const failed = citing.some((r) => r.status === 'fail');
    if (!failed && (open.length > 0 || !canPass)) {
      undetermined[requirement] = open.length > 0 ? open.map((r) => `${r.id}: ${r.reason}`).join('; ') : 'only fail-only rules cite it';
      continue;
    }
    const passed = citing.filter((r) => r.status === 'pass').map((r) => r.id);
    judgements.push({
      requirement,
      coverage: citing.every((r) => rules.find((x) => x.id === r.id)?.coverage === 'full') ? 'full' : 'partial',
      passReason: `Host configuration read over SSH meets ${passed.join(', ')} (host baseline)`,
    });
  }
  return { judgements, undetermined };
}

/** Cheap cross-check with the wire: the ciphers the server offers against the ciphers its configuration names. */
function configDiffersFromWire(offered: readonly string[], configured: readonly string[] | undefined): string | undefined {
  if (!configured || offered.length === 0) return undefined;
  const same = configured.length === offered.length && configured.every((c) => offered.includes(c));
  return same ? undefined : `the configuration names ciphers ${configured.join(',')} but the server offers ${offered.join(',')} (a restart pending, or another configuration in use)`;
}

export default defineProbe<AuditInputs>({
  id: 'host.audit',
  protocol: 'host',
  title: 'Authenticated host audit: passwords, accounts, listeners, time, audit storage, integrity, sshd configuration',
  description: 'Logs in over SSH with the profile\'s host administrator (credentials.host) and runs read-only commands from an '
    + 'allow-list (grep of configuration files, ss, dpkg-query, apt-config, chronyc, timedatectl, sshd -T; root-only ones through '
    + '"sudo -n"), keeping each command and its output as evidence; judges the facts against the rules of profiles/baselines/host.yaml '
    + '(CIS Debian, ComplianceAsCode, dev-sec) at the SL target. Changes nothing on the device.',
  requirements: REQUIREMENTS,
  findings: {
    ...HOST_RULE_FINDINGS,
    'sshd-config-differs': 'the ciphers in the sshd configuration are not the ones the server offers on the wire (info)',
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['ssh'],
  timeoutMs: 90_000,
  inputs: {
    schema: inputsSchema({ commandTimeoutMs: { type: 'integer', minimum: 100, maximum: 60_000, description: 'Bound on one command on the device' } }),
    defaults: { commandTimeoutMs: 10_000 },
  },
  locks: ({ host, service, credentials }) => {
    const user = credentials.get('host')?.username;
    return user && service ? [{ key: `ssh:${host.host}:${service.port}:${user}`, mode: 'shared' }] : [];
  },
  async run(ctx) {
    const credential = ctx.credentials.get('host');
    if (!credential) return { observations: { notDetermined: 'the profile gives no host administrator (credentials.host)' }, findings: [], outcomes: [] };
    const baseline = ctx.baseline<HostBaselineLevel>('host');
    const problems = validateHostBaseline(baseline, REQUIREMENTS);
    if (problems.length > 0) throw new InvalidInput(`the host baseline is invalid: ${problems.join('; ')}`);

    const sl = (rule: HostRule) => ctx.component.slTarget[`FR${frOf(rule.requirements[0])}` as keyof typeof ctx.component.slTarget] ?? 0;
    const applicable = baseline.rules.filter((r) => expectationAt(r, sl(r)));
    const needed = new Set(applicable.flatMap(ruleSources));
    const service = ctx.service!;
    // The raw hello fails fast on a peer that is not SSH, and its KEXINIT is the wire side of the cipher cross-check.
    const hello = await exchangeHello({ host: service.host, port: service.port, signal: ctx.signal, preBannerGraceMs: stepBudgets(ctx.deadline, 8_000).preBannerGraceMs });
    if (hello.ssh1Only) throw new ProtocolViolation(`the server speaks SSH-1 only (${hello.identification.raw})`);
    const { session, parsed, evidence } = await withHostSession({
      host: service.host, port: service.port, signal: ctx.signal, timeoutMs: stepBudgets(ctx.deadline, 10_000).connectionMs,
      username: credential.username, password: credential.password,
    }, async (s) => ({ session: { uid: s.uid }, ...(await readSources(ctx, s, baseline, needed)) }));
    ctx.actions.record({ kind: 'login-succeeded', account: credential.username, detail: 'SSH session for read-only configuration commands' });
    ctx.actions.record({ kind: 'config-read', account: credential.username, detail: `${needed.size} configuration sources read` });

    const declared = { accounts: (ctx.policy.host as { accounts?: string[] } | undefined)?.accounts };
    const results = baseline.rules.map((r) => evaluateRule(r, parsed, sl(r), declared));
    const rulesPath = ctx.evidence.save('rules.json', { baseline: 'host', login: { username: credential.username, credential: credential.source, uid: session.uid }, results });
    const findings: Finding[] = results.filter((r) => r.status === 'fail').map((r) => {
      const rule = baseline.rules.find((x) => x.id === r.id)!;
      return finding({
        code: rule.id, severity: rule.severity, requirements: rule.requirements, message: `${rule.message} (${r.reason})`,
        evidence: [...(r.source ? [evidence.get(r.source)!] : []), rulesPath],
      });
    });
    const ciphers = results.find((r) => r.id === 'sshd-ciphers' && (r.status === 'pass' || r.status === 'fail'))?.value as string[] | undefined;
    const differs = configDiffersFromWire(hello.kexinit?.ciphersS2C ?? [], ciphers);
    if (differs) findings.push(finding({ code: 'sshd-config-differs', severity: 'info', requirements: ['CR 4.3'], message: differs, evidence: [rulesPath] }));

    const { judgements, undetermined } = judgementsFor(baseline.rules, results);
    return {
      observations: {
        login: { username: credential.username, uid: session.uid },
        rules: results.map(({ id, status, value, reason, requirements, level }) => ({ id, status, requirements, ...(level ? { level } : {}), ...(value !== undefined ? { value } : {}), reason })),
        ...(Object.keys(undetermined).length > 0 ? { notDetermined: undetermined } : {}),
      },
      findings,
      outcomes: judge(judgements, findings),
    };
  },
});
