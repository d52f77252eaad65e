import type { ComponentType, VlanAccessPoint, VlanDecl, VlanTrunkPoint } from '../sdk';
import { parseCidr, type Cidr } from '../sdk/ipv4';
import { hostProblem } from './boundary';

/** The profile's `vlans:` as written (after the schema: ids 1..4094, names, at least two access endpoints). */
export interface RawVlans {
  subnet: string;
  access: VlanAccessPoint[];
  trunk?: VlanTrunkPoint;
}

type Issue = (field: (string | number)[], message: string) => void;

/** Each point's name, namespace and address are its own (the probe tells the points apart by them). */
function checkDistinct(points: { at: (string | number)[]; name: string; namespace: string; address: string }[], issue: Issue): void {
  points.forEach((p, i) => {
    for (const key of ['name', 'namespace', 'address'] as const) {
      const first = points.findIndex((o) => o[key] === p[key]);
      if (first !== i) issue([...p.at, key], `${points[first].name} has ${key} ${p[key]} too: each endpoint needs its own`);
    }
  });
}

function checkTrunk(trunk: VlanTrunkPoint, access: readonly VlanAccessPoint[], issue: Issue): void {
  const at = (...field: string[]) => ['vlans', 'trunk', ...field];
  if (new Set(trunk.vlans).size !== trunk.vlans.length) issue(at('vlans'), 'a VLAN is listed twice');
  if (trunk.nativeVlan !== undefined && !trunk.vlans.includes(trunk.nativeVlan)) {
    issue(at('nativeVlan'), `the native VLAN ${trunk.nativeVlan} is not one of the trunk's vlans (${trunk.vlans.join(', ')})`);
  }
  const carried = access.filter((a) => trunk.vlans.includes(a.vlan));
  if (carried.length === 0) issue(at('vlans'), 'the trunk carries none of the access endpoints\' VLANs: it can serve as no positive control');
}

/**
 * The VLANs of a switch checked beyond the schema: a network component, one subnet holding every endpoint
 * address, endpoints in at least two VLANs, distinct names/namespaces/addresses, a trunk whose native VLAN is
 * one it carries. Where the endpoints route is checked when the probe runs (`ip route get`), not here.
 */
export function vlansOf(raw: RawVlans | undefined, types: readonly ComponentType[], issue: Issue): VlanDecl | undefined {
  if (raw === undefined) return undefined;
  if (!types.includes('network')) issue(['vlans'], 'vlans are for network components (switches): add network to component.types');
  let cidr: Cidr | undefined;
  try {
    cidr = parseCidr(raw.subnet);
  } catch (err) {
    issue(['vlans', 'subnet'], (err as Error).message);
  }
  const points = [
    ...raw.access.map((p, i) => ({ ...p, at: ['vlans', 'access', i] })),
    ...(raw.trunk ? [{ ...raw.trunk, at: ['vlans', 'trunk'] }] : []),
  ];
  for (const p of points) {
    const problem = hostProblem(p.address, cidr);
    if (problem) issue([...p.at, 'address'], problem.replace("the zone's subnet", 'vlans.subnet'));
  }
  checkDistinct(points, issue);
  if (new Set(raw.access.map((a) => a.vlan)).size < 2) issue(['vlans', 'access'], 'the access endpoints sit in one VLAN: isolation needs endpoints in two VLANs at least');
  if (raw.trunk) checkTrunk(raw.trunk, raw.access, issue);
  return { subnet: raw.subnet, access: raw.access.map((a) => ({ ...a })), ...(raw.trunk ? { trunk: { ...raw.trunk } } : {}) };
}
