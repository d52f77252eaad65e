import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { packagePath } from '../paths';
import { parsePortSpec } from '../protocols/tcp';
import { enterScope } from '../protocols/scope';
import { formatIpv4, host as nthHost, parseCidr, size } from '../sdk/ipv4';
import { discoverHost, draftProfile, type DiscoveredHost } from '../runner/discover';
import { EXIT, UsageError, cancelOnSignals, intOption, parse, type Io } from './common';

export const DISCOVER_USAGE = `usage: iacs-probe discover <host | CIDR --bench> [--out FILE] [--ports LIST|all] [--udp-ports LIST]
                           [--snmp-community] [--timeout MS]

  Scans a host (TCP connect scan; UDP check of SNMP 161, BACnet 47808, EtherNet/IP 44818, TFTP 69, NTP 123,
  DNP3 20000; a DTLS ClientHello to 2221 and to --udp-ports that answered nothing else), identifies the
  protocol on every open port with identification requests only (banner, TLS handshake, HTTP GET, OPC UA
  Hello, Modbus 43/14, COTP CR, ListIdentity, TESTFR, Link Status, MQTT CONNECT; BACnet ReadProperty of the
  Device object's vendor, model and firmware)
  and writes a draft target profile: check it, set the password variables it names, then \`iacs-probe run\` it.
  --out FILE          the draft profile (default: standard output)
  --bench             allow a CIDR (at most a /24) on the bench network; without it only one host is scanned
  --ports LIST|all    TCP ports (default: the ports baseline's ICS and management ports)
  --udp-ports LIST    UDP ports to check besides the common ones
  --snmp-community    also send SNMP v1 GetRequests with the community "public" (sysDescr); default: v3 discovery only
  --timeout MS        per connection and per request (default 1500)
Exit codes: 0 draft written, 2 cancelled (nothing written), 3 usage or a refused target.`;

/** The widest CIDR discover accepts with --bench. */
const WIDEST_PREFIX = 24;

/** The hosts a target names: one host, or the host addresses of a bench CIDR (refused without --bench or wider than /24). */
export function targetHosts(target: string, bench: boolean): string[] {
  if (!target.includes('/')) return [target];
  if (!bench) throw new UsageError(`${target} is a network: a CIDR is scanned only with --bench (the bench network, never a plant network)`);
  let cidr;
  try {
    cidr = parseCidr(target);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (cidr.prefix < WIDEST_PREFIX) throw new UsageError(`${target} is wider than /${WIDEST_PREFIX}: refused (scan the bench a /${WIDEST_PREFIX} at a time)`);
  if (cidr.prefix >= 31) return Array.from({ length: size(cidr) }, (_, i) => formatIpv4(nthHost(cidr, i)));
  return Array.from({ length: size(cidr) - 2 }, (_, i) => formatIpv4(nthHost(cidr, i + 1)));
}

function defaultTcpPorts(): number[] {
  const baseline = parseYaml(fs.readFileSync(packagePath('profiles', 'baselines', 'ports.yaml'), 'utf8')) as { levels: { 1: { defaultPorts: Record<string, string> } } };
  return parsePortSpec(Object.values(baseline.levels[1].defaultPorts).join(','));
}

function portsOption(name: string, value: string | boolean | undefined): number[] | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    return parsePortSpec(value);
  } catch (err) {
    throw new UsageError(`--${name}: ${(err as Error).message}`);
  }
}

export async function discoverCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    out: { type: 'string' }, bench: { type: 'boolean' }, ports: { type: 'string' }, 'udp-ports': { type: 'string' },
    'snmp-community': { type: 'boolean' }, timeout: { type: 'string' },
  }, { min: 1, max: 1, names: 'target (a host, or a CIDR with --bench)' });
  const hosts = targetHosts(positionals[0], values.bench === true);
  const options = {
    tcpPorts: portsOption('ports', values.ports) ?? defaultTcpPorts(),
    udpPorts: portsOption('udp-ports', values['udp-ports']) ?? [],
    snmpCommunity: values['snmp-community'] === true,
    timeoutMs: intOption('timeout', values.timeout, 50, 60_000) ?? 1500,
    parallel: 4,
  };
  const cancel = cancelOnSignals(io);
  // The run's scope guard: no connection leaves the hosts named on the command line.
  const scope = enterScope(hosts);
  const found: DiscoveredHost[] = [];
  try {
    for (const host of hosts) {
      io.err.write(`discover: ${host}\n`);
      const seen = await discoverHost(host, { ...options, signal: cancel.signal });
      if (hosts.length === 1 || seen.tcp.length + seen.udp.length > 0) found.push(seen);
    }
  } catch (err) {
    if (cancel.signal.aborted) {
      io.err.write('iacs-probe discover: cancelled; no profile written\n');
      return EXIT.incomplete;
    }
    throw err;
  } finally {
    scope.release();
    cancel.dispose();
  }
  const draft = draftProfile(found);
  if (typeof values.out === 'string') {
    fs.writeFileSync(values.out, draft);
    io.err.write(`discover: draft profile written to ${values.out}\n`);
  } else io.out.write(draft);
  return EXIT.ok;
}
