/**
 * Factory-made Reports for reporter tests and golden files: deterministic (fixed times and ids), every
 * attempt status and verdict, and hostile strings where devices put text (names, banners, messages).
 */
import type { Attempt, AttemptStatus, Report, RequirementVerdict, RequirementVerdictValue } from '../../src/report/model';
import type { Finding } from '../../src/sdk';

/** Text that breaks naive HTML, XML, CDATA, CSV and terminals. */
export const HOSTILE = '</script><script>alert(1)</script> ]]> <!-- & "q" \'s\' =cmd|\' /C calc\'!A0 \u0000\u0007\u001b[31m\u007f \uD800 \uFFFF';
export const UNICODE_NAME = 'Prüfstand-SPS «Ω» 制御装置 🏭 ‏עברית‎';

const STARTED = '2025-03-14T09:26:53.589Z';

function finding(code: string, severity: Finding['severity'], requirements: string[], message: string, evidence: string[]): Finding {
  return { code, severity, requirements, message, evidence };
}

function attempt(partial: Partial<Attempt> & Pick<Attempt, 'probe' | 'target' | 'status'>): Attempt {
  return {
    service: 'host', safety: 'passive', startedAt: STARTED, durationMs: 1234, observations: {}, findings: [], outcomes: [], evidence: [],
    ...partial,
  };
}

function row(partial: Partial<RequirementVerdict> & Pick<RequirementVerdict, 'id' | 'title' | 'fr' | 'sl' | 'verdict'>): RequirementVerdict {
  return {
    source: 'none', basis: [], reason: 'no probe evidences this requirement: documentation review or a manual test (attestation) is needed',
    findings: [], requiredAtTarget: partial.sl.some((l) => l <= 2), confidence: 'high', ...partial,
  };
}

export interface FactoryOptions {
  /** Put HOSTILE text into the device name, banners and messages (default true). */
  hostile?: boolean;
}

/** A report of a two-host component with every attempt status and every verdict. */
export function makeReport(options: FactoryOptions = {}): Report {
  const evil = options.hostile === false ? 'plain text' : HOSTILE;
  const sshEvidence = ['evidence/ssh.algorithms/127.0.0.1_22/kexinit.bin', 'evidence/ssh.algorithms/127.0.0.1_22/lists.json'];
  const attempts: Attempt[] = [
    attempt({
      probe: 'ports.tcp', target: '127.0.0.1', status: 'fail', durationMs: 2500,
      observations: { scanner: 'nmap 7.93', open: [{ port: 22, service: 'ssh', declared: true }, { port: 23, service: 'telnet', product: evil, declared: false }] },
      findings: [
        finding('ports.tcp.cleartext-service', 'high', ['CR 4.1'], `Telnet (cleartext) is reachable on tcp/23: ${evil}`, ['evidence/ports.tcp/127.0.0.1/nmap-tcp.xml']),
        finding('ports.tcp.undeclared-open', 'medium', ['CR 7.7'], 'tcp/23 is open but not declared in the communication matrix (telnet)', ['evidence/ports.tcp/127.0.0.1/nmap-tcp.xml']),
      ],
      outcomes: [
        { requirement: 'CR 4.1', verdict: 'fail', coverage: 'partial', reason: 'Telnet (cleartext) is reachable on tcp/23' },
        { requirement: 'CR 7.7', verdict: 'fail', coverage: 'partial', reason: 'tcp/23 is open but not declared' },
      ],
      evidence: ['evidence/ports.tcp/127.0.0.1/nmap-tcp.xml'],
    }),
    attempt({
      probe: 'ssh.algorithms', target: '127.0.0.1:22', service: 'ssh', safety: 'active', status: 'pass', durationMs: 310,
      observations: { banner: `SSH-2.0-${evil}`, kex: ['curve25519-sha256', 'diffie-hellman-group14-sha256'], ciphers: ['aes256-gcm@openssh.com'], macs: ['hmac-sha2-256'] },
      findings: [finding('ssh.banner-version', 'info', ['CR 7.7'], `server announces ${evil}`, [sshEvidence[1]])],
      outcomes: [{ requirement: 'CR 4.3', verdict: 'pass', coverage: 'full', reason: 'only approved algorithms offered' }],
      evidence: sshEvidence,
    }),
    attempt({
      probe: 'opcua.endpoints', target: '[::1]:4840', service: 'opcua', safety: 'active', status: 'error', reason: 'timeout', durationMs: 10_000,
      message: `no answer within 10000 ms\n  at GetEndpoints ]]> ${evil}`,
    }),
    attempt({
      probe: 'modbus.identity', target: '[::1]:502', service: 'modbus', safety: 'active', status: 'not_applicable', durationMs: 45,
      message: 'the device does not implement function 43/14',
      outcomes: [{ requirement: 'CR 2.8', verdict: 'not_applicable', coverage: 'partial', reason: 'no device identification object' }],
    }),
    attempt({
      probe: 'ssh.lockout', target: '127.0.0.1:22', service: 'ssh', safety: 'intrusive', status: 'skipped', reason: 'not-allowed', durationMs: 0,
      message: 'intrusive probes need allow: [intrusive] in the profile or --allow intrusive',
    }),
  ];
  const requirements: RequirementVerdict[] = [
    row({ id: 'CR 1.1', title: 'Human user identification and authentication', fr: 'FR1', sl: [1, 2, 3, 4], verdict: 'not_determined' }),
    row({
      id: 'CR 1.7', title: 'Strength of password-based authentication', fr: 'FR1', sl: [1, 2, 3, 4], verdict: 'pass', source: 'manual', basis: ['manual'],
      reason: 'attested by A. Prüfer on 2025-03-13 (manual v2.1 §4.3): minimum length 12 enforced',
      attestation: { id: 'CR 1.7', verdict: 'pass', reviewer: 'A. Prüfer', date: '2025-03-13', evidence: 'manual v2.1 §4.3', remark: `minimum length 12 enforced ${evil}` },
    }),
    row({ id: 'CR 2.8', title: 'Auditable events', fr: 'FR2', sl: [1, 2, 3, 4], verdict: 'not_applicable', source: 'probe', basis: ['modbus.identity@[::1]:502'], coverage: 'partial', reason: 'no device identification object' }),
    row({ id: 'CR 3.1', title: 'Communication integrity', fr: 'FR3', sl: [1, 2, 3, 4], verdict: 'not_determined', reason: 'evidenced by opcua.endpoints, which did not run' }),
    row({
      id: 'CR 4.1', title: 'Information confidentiality', fr: 'FR4', sl: [1, 2, 3, 4], verdict: 'fail', source: 'probe', basis: ['ports.tcp@127.0.0.1'],
      coverage: 'partial', findings: ['ports.tcp.cleartext-service'], reason: `ports.tcp@127.0.0.1: Telnet (cleartext) is reachable on tcp/23 ${evil}`,
    }),
    row({ id: 'CR 4.3', title: 'Use of cryptography', fr: 'FR4', sl: [1, 2, 3, 4], verdict: 'pass', source: 'probe', basis: ['ssh.algorithms@127.0.0.1:22'], coverage: 'full', reason: 'only approved algorithms offered' }),
    row({ id: 'CR 7.7', title: 'Least functionality', fr: 'FR7', sl: [1, 2, 3, 4], verdict: 'fail', source: 'probe', basis: ['ports.tcp@127.0.0.1'], coverage: 'partial', findings: ['ports.tcp.undeclared-open'], reason: 'ports.tcp@127.0.0.1: tcp/23 is open but not declared' }),
    row({ id: 'CR 7.3 RE(1)', title: 'Backup integrity verification', fr: 'FR7', sl: [3, 4], verdict: 'not_determined', confidence: 'medium' }),
  ];
  return finish({
    schemaVersion: 1,
    tool: { name: 'iacs-probe', version: '0.1.0' },
    run: {
      id: '20250314T092653Z-c0ffee', startedAt: STARTED, finishedAt: '2025-03-14T09:27:04.000Z', complete: true,
      profile: `profiles/${options.hostile === false ? 'bench' : 'bench-<evil>'}.yaml`, profileSha256: 'a'.repeat(64), options: { command: 'run' },
      operator: options.hostile === false ? 'A. Tester' : `A. Tester ${evil}`, allowed: ['passive', 'active'], scopeViolations: [],
    },
    component: {
      name: options.hostile === false ? UNICODE_NAME : `${UNICODE_NAME} ${evil}`, vendor: 'Example & Söhne <GmbH>', model: 'EPLC-1',
      firmware: '1.0.0-rc1 "beta"', serial: 'SN-0001', types: ['embedded'],
    },
    targets: [
      { host: '127.0.0.1', name: `plc-α ${evil}`, addresses: ['127.0.0.1'], services: [{ port: 22, protocol: 'ssh', transport: 'tcp', name: `ssh ${evil}` }] },
      {
        host: '::1', name: 'plc-v6', addresses: ['::1'],
        services: [{ port: 4840, protocol: 'opcua', transport: 'tcp', name: 'opcua/4840' }, { port: 502, protocol: 'modbus', transport: 'tcp', name: 'modbus/502' }],
      },
    ],
    attempts,
    requirements,
    slAchieved: { FR1: 0, FR2: 0, FR3: 0, FR4: 0, FR5: 0, FR6: 0, FR7: 0 },
    slTarget: { FR1: 2, FR2: 2, FR3: 2, FR4: 2, FR5: 2, FR6: 2, FR7: 2 },
    gaps: [],
    summary: {} as Report['summary'],
  });
}

/** Recomputes gaps, SL achieved and the summary from attempts and requirements (as the runner does). */
export function finish(report: Report): Report {
  const frs = ['FR1', 'FR2', 'FR3', 'FR4', 'FR5', 'FR6', 'FR7'] as const;
  const good = (v: RequirementVerdictValue) => v === 'pass' || v === 'not_applicable';
  for (const fr of frs) {
    const rows = report.requirements.filter((r) => r.fr === fr);
    let level = 0;
    for (const l of [1, 2, 3, 4]) {
      if (rows.filter((r) => r.sl.some((x) => x <= l)).every((r) => good(r.verdict))) level = l;
      else break;
    }
    report.slAchieved[fr] = level as 0;
    for (const r of rows) r.requiredAtTarget = r.sl.some((l) => l <= report.slTarget[fr]);
  }
  report.gaps = frs.map((fr) => {
    const blocking = report.requirements.filter((r) => r.fr === fr && r.requiredAtTarget && !good(r.verdict));
    return {
      fr, target: report.slTarget[fr], achieved: report.slAchieved[fr],
      failing: blocking.filter((r) => r.verdict === 'fail').map((r) => r.id),
      undetermined: blocking.filter((r) => r.verdict === 'not_determined').map((r) => r.id),
    };
  });
  const count = <T extends string>(keys: readonly T[], values: string[]) => Object.fromEntries(keys.map((k) => [k, values.filter((v) => v === k).length])) as Record<T, number>;
  const statuses: AttemptStatus[] = ['pass', 'fail', 'not_applicable', 'error', 'skipped'];
  report.summary = {
    attempts: count(statuses, report.attempts.map((a) => a.status)),
    requirements: count(['pass', 'fail', 'not_applicable', 'not_determined'] as const, report.requirements.map((r) => r.verdict)),
    findings: count(['critical', 'high', 'medium', 'low', 'info'] as const, report.attempts.flatMap((a) => a.findings.map((f) => f.severity))),
    failedAtTarget: report.requirements.filter((r) => r.verdict === 'fail' && r.requiredAtTarget).length,
    errors: report.attempts.filter((a) => a.status === 'error').length,
  };
  return report;
}
