/**
 * junit.xml for CI: one <testsuite> per target host with one <testcase> per probe attempt
 * (fail -> <failure>, error -> <error>, skipped, not_applicable and not_determined -> <skipped message>), and a suite
 * "requirements" with one <testcase> per failed requirement. Attribute values are escaped, long text
 * sits in CDATA (a "]]>" inside is split), and characters XML 1.0 forbids never reach the file.
 */
import type { Attempt, Report, RequirementVerdict } from './model';
import { cdata, escapeAttribute as attr, hostOf, levelsText } from './text';

interface Case {
  classname: string;
  name: string;
  seconds: number;
  /** Element inside the testcase (failure, error, skipped), or none for a pass. */
  result?: { kind: 'failure' | 'error' | 'skipped'; type?: string; message: string; body?: string };
  out?: string;
}

interface Suite {
  name: string;
  hostname: string;
  timestamp: string;
  properties: [string, string][];
  cases: Case[];
}

const time = (s: number) => s.toFixed(3);
/** xs:dateTime as JUnit's schema wants it: no fraction, no zone (the run's times are UTC). */
const stamp = (iso: string) => iso.slice(0, 19);

function attemptCase(a: Attempt): Case {
  const base = { classname: a.probe, name: `${a.probe} @ ${a.target}`, seconds: a.durationMs / 1000 };
  const out = Object.keys(a.observations).length ? JSON.stringify(a.observations, null, 2) : undefined;
  const outcomes = a.outcomes.map((o) => `${o.requirement}: ${o.verdict} (${o.coverage}) - ${o.reason}`).join('\n');
  switch (a.status) {
    case 'pass':
      return { ...base, out: [outcomes, out].filter(Boolean).join('\n\n') || undefined };
    case 'fail': {
      const bad = a.findings.filter((f) => f.severity !== 'info');
      const list = bad.length ? bad : a.findings;
      const message = list.length ? list.map((f) => `${f.code} (${f.severity})`).join(', ') : 'requirement outcome failed';
      const body = [
        ...a.findings.map((f) => `[${f.severity}] ${f.code}: ${f.message}\n  requirements: ${f.requirements.join(', ')}${f.evidence.length ? `\n  evidence: ${f.evidence.join(', ')}` : ''}`),
        outcomes,
      ].filter(Boolean).join('\n');
      return { ...base, result: { kind: 'failure', type: list[0]?.code ?? 'fail', message, body }, out };
    }
    case 'error':
      return { ...base, result: { kind: 'error', type: a.reason ?? 'error', message: `${a.reason ?? 'error'}: ${(a.message ?? '').split('\n')[0]}`, body: a.message }, out };
    case 'not_applicable':
      return { ...base, result: { kind: 'skipped', message: `not applicable: ${a.message ?? a.outcomes.map((o) => o.reason).join('; ')}` }, out };
    case 'not_determined':
      return { ...base, result: { kind: 'skipped', message: `not determined: ${a.message ?? 'the probe judged no requirement'}` }, out };
    case 'skipped':
      return { ...base, result: { kind: 'skipped', message: `skipped (${a.reason ?? 'unknown'})${a.message ? `: ${a.message}` : ''}` } };
  }
}

function requirementCase(r: RequirementVerdict): Case {
  return {
    classname: `requirements.${r.fr}`,
    name: `${r.id} ${r.title}`,
    seconds: 0,
    result: {
      kind: 'failure', type: r.requiredAtTarget ? 'failed-at-target' : 'failed-above-target',
      message: `${r.id} failed${r.requiredAtTarget ? '' : ' (not required at the SL target)'}${r.findings.length ? `: ${r.findings.join(', ')}` : ''}`,
      body: `${r.reason}\nrequired at ${levelsText(r.sl)}; source: ${r.source}; basis: ${r.basis.join(', ') || 'none'}`,
    },
  };
}

function renderCase(c: Case): string {
  const open = `    <testcase classname="${attr(c.classname)}" name="${attr(c.name)}" time="${time(c.seconds)}"`;
  const inner: string[] = [];
  if (c.result) {
    const { kind, type, message, body } = c.result;
    const attrs = `message="${attr(message)}"${type ? ` type="${attr(type)}"` : ''}`;
    inner.push(body ? `      <${kind} ${attrs}>${cdata(body)}</${kind}>` : `      <${kind} ${attrs}/>`);
  }
  if (c.out) inner.push(`      <system-out>${cdata(c.out)}</system-out>`);
  return inner.length ? `${open}>\n${inner.join('\n')}\n    </testcase>` : `${open}/>`;
}

function count(cases: Case[], kind: 'failure' | 'error' | 'skipped'): number {
  return cases.filter((c) => c.result?.kind === kind).length;
}

function renderSuite(s: Suite, id: number): string {
  const seconds = s.cases.reduce((n, c) => n + c.seconds, 0);
  return [
    `  <testsuite id="${id}" name="${attr(s.name)}" hostname="${attr(s.hostname)}" timestamp="${stamp(s.timestamp)}" tests="${s.cases.length}" `
      + `failures="${count(s.cases, 'failure')}" errors="${count(s.cases, 'error')}" skipped="${count(s.cases, 'skipped')}" time="${time(seconds)}">`,
    '    <properties>',
    ...s.properties.map(([k, v]) => `      <property name="${attr(k)}" value="${attr(v)}"/>`),
    '    </properties>',
    ...s.cases.map(renderCase),
    '  </testsuite>',
  ].join('\n');
}

/** junit.xml (a pure function of the Report). */
export function renderJunit(report: Report): string {
  const c = report.component;
  const properties: [string, string][] = [
    ['component', c.name], ['vendor', c.vendor ?? ''], ['model', c.model ?? ''], ['firmware', c.firmware ?? ''],
    ['serial', c.serial ?? ''], ['run', report.run.id], ['complete', String(report.run.complete)],
    ['slTarget', JSON.stringify(report.slTarget)], ['slAchieved', JSON.stringify(report.slAchieved)],
  ];
  const hosts = [...new Set([...report.targets.map((t) => t.host), ...report.attempts.map((a) => hostOf(report, a))])];
  const suites: Suite[] = hosts.map((host) => {
    const target = report.targets.find((t) => t.host === host);
    return {
      name: target && target.name !== host ? `${host} (${target.name})` : host,
      hostname: host, timestamp: report.run.startedAt, properties,
      cases: report.attempts.filter((a) => hostOf(report, a) === host).map(attemptCase),
    };
  });
  suites.push({
    name: 'requirements', hostname: report.targets.map((t) => t.host).join(' '), timestamp: report.run.finishedAt, properties,
    cases: report.requirements.filter((r) => r.verdict === 'fail').map(requirementCase),
  });
  const all = suites.flatMap((s) => s.cases);
  const seconds = all.reduce((n, x) => n + x.seconds, 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${attr(`${report.tool.name}: ${c.name}`)}" tests="${all.length}" failures="${count(all, 'failure')}" `
      + `errors="${count(all, 'error')}" skipped="${count(all, 'skipped')}" time="${time(seconds)}" timestamp="${stamp(report.run.startedAt)}">`,
    ...suites.map(renderSuite),
    '</testsuites>',
    '',
  ].join('\n');
}
