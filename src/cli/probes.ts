import { loadProbes } from '../runner/registry';
import { parse, type Io } from './common';

export const PROBES_USAGE = `usage: iacs-probe probes [--json]

  Lists the probes with their safety class, what they run against, and the requirements they evidence.`;

export function probesCommand(args: string[], io: Io): number {
  const { values } = parse(args, { json: { type: 'boolean' } }, { min: 0, max: 0, names: '' });
  const probes = loadProbes();
  if (values.json) {
    io.out.write(JSON.stringify(probes.map((p) => ({
      id: p.id, protocol: p.protocol, title: p.title, description: p.description, safety: p.safety, scope: p.scope,
      appliesTo: p.appliesTo, requirements: p.requirements, timeoutMs: p.timeoutMs, inputs: p.inputs?.schema ?? null,
    })), null, 2) + '\n');
    return 0;
  }
  const width = Math.max(...probes.map((p) => p.id.length));
  for (const p of probes) {
    const target = p.scope === 'host' ? 'each host' : p.appliesTo.join('|');
    io.out.write(`${p.id.padEnd(width)}  ${p.safety.padEnd(11)} ${target.padEnd(22)} ${p.requirements.join(', ')}\n${' '.repeat(width + 2)}${p.title}\n`);
  }
  io.out.write(`${probes.length} probes. Default runs allow passive and active; intrusive needs the profile or --allow; destructive needs both.\n`);
  return 0;
}
