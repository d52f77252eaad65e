import type { TcpIdentity } from './identify';
import type { UdpIdentity } from './udp';
import { componentIdentity, factComment, type ComponentFact, type ComponentField, type FactSource } from './component';

/** Everything `discover` found on one host. */
export interface DiscoveredHost {
  host: string;
  scanner: string;
  tcp: TcpIdentity[];
  udp: UdpIdentity[];
}

/** Protocols whose probes log in: the draft names an account for each, its password from the environment. */
const LOGIN_KEYS: Readonly<Record<string, string>> = { ssh: 'ssh', https: 'http', http: 'http', opcua: 'opcua', mqtt: 'mqtt' };
/** Protocols a service is UDP for by default (the schema's `transport` default). */
const UDP_BY_DEFAULT = new Set(['snmp', 'tftp', 'bacnet', 'udp']);

const quote = (s: string) => JSON.stringify(s);

/** Every service's facts with where they came from, for the component's vendor/model/firmware. */
function factSources(found: readonly DiscoveredHost[]): FactSource[] {
  return found.flatMap((h) => [
    ...h.tcp.map((s) => ({ where: `${h.host} tcp/${s.port}`, facts: s.facts })),
    ...h.udp.map((s) => ({ where: `${h.host} udp/${s.port}`, facts: s.facts })),
  ]);
}

/** `  vendor: "..."  # from ...`, or a comment that nothing named it. */
function componentLine(field: ComponentField, fact: ComponentFact | undefined): string {
  return fact ? `  ${field}: ${quote(fact.value)}  # ${factComment(fact)}` : `  # ${field}: not identified (no identification answer named it)`;
}

function serviceLine(s: TcpIdentity | UdpIdentity, transport: 'tcp' | 'udp'): string {
  const fields = [`port: ${s.port}`, `protocol: ${s.protocol}`];
  if (transport === 'udp' && !UDP_BY_DEFAULT.has(s.protocol)) fields.push('transport: udp');
  if (transport === 'tcp' && UDP_BY_DEFAULT.has(s.protocol)) fields.push('transport: tcp');
  const tcp = transport === 'tcp' ? (s as TcpIdentity) : undefined;
  if (tcp?.tls && !['https', 'modbus-tls', 'tls'].includes(s.protocol)) fields.push('tls: true');
  const { unitId, ...options } = s.options ?? {};
  if (s.protocol === 'modbus' && unitId !== undefined) fields.push(`unitId: ${unitId}`);
  const optionText = Object.entries(options).map(([k, v]) => `${k}: ${v}`).join(', ');
  if (optionText) fields.push(`options: { ${optionText} }`);
  const seen = Object.entries(s.facts).map(([k, v]) => `${k}: ${v}`).join('; ');
  const comment = s.note ? `  # ${s.note}${seen ? `; ${seen}` : ''}` : seen ? `  # ${seen}` : '';
  return `      - { ${fields.join(', ')} }${comment.replace(/\n/g, ' ')}`;
}

/** The environment variable a draft's password placeholder names, e.g. IACS_SSH_PASSWORD. */
export const passwordVariable = (protocol: string) => `IACS_${protocol.toUpperCase()}_PASSWORD`;

/**
 * A draft target profile (YAML text) for what was found: every answering service declared with its protocol,
 * comments where something was guessed, credentials as `{ env: ... }` placeholders, allow: [passive, active].
 */
export function draftProfile(found: readonly DiscoveredHost[], now = new Date()): string {
  const c = componentIdentity(factSources(found));
  const named = [c.vendor?.value, c.model?.value].filter((v) => v !== undefined).join(' ');
  const lines = [
    `# Draft written by \`iacs-probe discover\` on ${now.toISOString()}: check every line against the device's`,
    '# documentation before a run. Comments say what each service answered, or that a protocol was guessed.',
    'apiVersion: iacs-probe/v1',
    'component:',
    `  name: ${quote(c.model ? named : `Device at ${found.map((h) => h.host).join(', ')}`)}`,
    componentLine('vendor', c.vendor), componentLine('model', c.model), componentLine('firmware', c.firmware),
    '  types: [embedded]  # guessed: set embedded | network | host | application',
    '  slTarget: 2  # guessed: the SL the vendor claims',
    'targets:',
  ];
  for (const h of found) {
    lines.push(`  - host: ${h.host}`, `    # TCP ports found by ${h.scanner}; UDP: only ports that answered an identification request`, '    services:');
    lines.push(...h.tcp.map((s) => serviceLine(s, 'tcp')), ...h.udp.map((s) => serviceLine(s, 'udp')));
    if (h.tcp.length + h.udp.length === 0) lines.push('      []  # nothing answered');
  }
  const logins = [...new Set(found.flatMap((h) => h.tcp.map((s) => LOGIN_KEYS[s.protocol]).filter((k) => k !== undefined)))];
  if (logins.length) {
    lines.push('# Accounts the active probes log in with: replace the user names, set the variables before `run`.', 'credentials:');
    for (const p of logins) lines.push(`  ${p}: { username: admin, password: { env: ${passwordVariable(p)} } }  # guessed user name`);
  }
  lines.push('allow: [passive, active]', '');
  return lines.join('\n');
}
