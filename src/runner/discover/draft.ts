import type { TcpIdentity } from './identify';
import type { UdpIdentity } from './udp';

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

/** The component's vendor, model and firmware from the identification answers, most specific first. */
function componentFacts(found: readonly DiscoveredHost[]): { vendor?: string; model?: string; firmware?: string; source: string[] } {
  const facts: Record<string, string> = Object.assign({}, ...found.flatMap((h) => [...h.tcp, ...h.udp].map((s) => s.facts)));
  const pick = (...keys: string[]) => keys.map((k) => [k, facts[k]] as const).find(([, v]) => v);
  const vendor = pick('modbus.vendorName');
  const model = pick('modbus.productCode', 'modbus.productName', 'enip.productName');
  const firmware = pick('modbus.majorMinorRevision', 'enip.revision');
  return {
    ...(vendor ? { vendor: vendor[1] } : {}), ...(model ? { model: model[1] } : {}), ...(firmware ? { firmware: firmware[1] } : {}),
    source: [vendor, model, firmware].filter((x) => x !== undefined).map(([k]) => k),
  };
}

function serviceLine(s: TcpIdentity | UdpIdentity, transport: 'tcp' | 'udp'): string {
  const fields = [`port: ${s.port}`, `protocol: ${s.protocol}`];
  if (transport === 'udp' && !UDP_BY_DEFAULT.has(s.protocol)) fields.push('transport: udp');
  if (transport === 'tcp' && UDP_BY_DEFAULT.has(s.protocol)) fields.push('transport: tcp');
  const tcp = transport === 'tcp' ? (s as TcpIdentity) : undefined;
  if (tcp?.tls && !['https', 'modbus-tls', 'tls'].includes(s.protocol)) fields.push('tls: true');
  if (tcp?.protocol === 'modbus' && tcp.options?.unitId !== undefined) fields.push(`unitId: ${tcp.options.unitId}`);
  if (tcp?.protocol === 'dnp3' && tcp.options?.outstationAddress !== undefined) fields.push(`options: { outstationAddress: ${tcp.options.outstationAddress} }`);
  const seen = Object.entries(s.facts).map(([k, v]) => `${k}: ${v}`).join('; ');
  const comment = tcp?.note ? `  # ${tcp.note}` : seen ? `  # ${seen}` : '';
  return `      - { ${fields.join(', ')} }${comment.replace(/\n/g, ' ')}`;
}

/** The environment variable a draft's password placeholder names, e.g. IACS_SSH_PASSWORD. */
export const passwordVariable = (protocol: string) => `IACS_${protocol.toUpperCase()}_PASSWORD`;

/**
 * A draft target profile (YAML text) for what was found: every answering service declared with its protocol,
 * comments where something was guessed, credentials as `{ env: ... }` placeholders, allow: [passive, active].
 */
export function draftProfile(found: readonly DiscoveredHost[], now = new Date()): string {
  const c = componentFacts(found);
  const lines = [
    `# Draft written by \`iacs-probe discover\` on ${now.toISOString()}: check every line against the device's`,
    '# documentation before a run. Comments say what each service answered, or that a protocol was guessed.',
    'apiVersion: iacs-probe/v1',
    'component:',
    `  name: ${quote(c.model ? `${c.vendor ?? ''} ${c.model}`.trim() : `Device at ${found.map((h) => h.host).join(', ')}`)}`,
    c.vendor ? `  vendor: ${quote(c.vendor)}` : '  # vendor: not identified (no identification answer named it)',
    c.model ? `  model: ${quote(c.model)}` : '  # model: not identified',
    c.firmware ? `  firmware: ${quote(c.firmware)}` : '  # firmware: not identified',
    ...(c.source.length ? [`  # vendor/model/firmware from ${c.source.join(', ')}`] : []),
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
