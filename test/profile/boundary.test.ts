import { expect } from 'chai';
import { ProfileError, profileFromObject } from '../../src/profile';
import { loadProfile } from '../../src/profile';

const base = () => ({
  apiVersion: 'iacs-probe/v1',
  component: { name: 'fw', types: ['network'], slTarget: 2 },
  targets: [{ host: '198.19.1.1', services: [{ port: 22, protocol: 'ssh' }] }],
  zones: [
    { name: 'control', trusted: true, subnet: '198.19.1.0/24', endpoint: { namespace: 'side-a', address: '198.19.1.10', gateway: '198.19.1.1' } },
    { name: 'field', trusted: false, subnet: '198.19.2.0/24', endpoint: { namespace: 'side-b', address: '198.19.2.10', gateway: '198.19.2.1' } },
  ] as Record<string, unknown>[],
  conduits: [{ from: 'control', to: 'field', protocol: 'tcp', port: 502 }] as Record<string, unknown>[],
});

/** The "field: message" lines of a profile that must be refused. */
function refusal(object: object): string[] {
  try {
    profileFromObject(object, 'boundary.yaml');
  } catch (err) {
    if (err instanceof ProfileError) return err.issues.map((i) => `${i.field}: ${i.message}`);
    throw err;
  }
  throw new Error('the profile was accepted');
}

describe('profile zones and conduits (network components)', () => {
  it('loads zones and conduits with defaults (one-way, ports from port, a name)', () => {
    const profile = profileFromObject(base(), 'boundary.yaml');
    expect(profile.boundary?.zones.map((z) => z.name)).to.deep.equal(['control', 'field']);
    expect(profile.boundary?.conduits).to.deep.equal([{ name: 'control->field tcp/502', from: 'control', to: 'field', protocol: 'tcp', ports: [502], direction: 'one-way' }]);
  });

  it('the example profile loads', () => {
    expect(loadProfile('profiles/examples/boundary-router.yaml').boundary?.conduits).to.have.length(4);
  });

  it('refuses an endpoint address or gateway outside its zone, and overlapping zones, with the field named', () => {
    const p = base();
    p.zones[0] = { ...p.zones[0], endpoint: { namespace: 'side-a', address: '10.0.0.5', gateway: '198.19.1.1' } };
    p.zones[1] = { ...p.zones[1], subnet: '198.19.0.0/16', endpoint: { namespace: 'side-b', address: '198.19.2.10', gateway: '198.19.255.255' } };
    expect(refusal(p)).to.deep.equal([
      'zones[0].endpoint.address: 10.0.0.5 is not in the zone\'s subnet 198.19.1.0/24',
      'zones[1].endpoint.gateway: 198.19.255.255 is the network or broadcast address of 198.19.0.0/16',
      'zones[1].subnet: 198.19.0.0/16 overlaps zone control (198.19.1.0/24): zones are separate networks',
    ]);
  });

  it('refuses conduits to undeclared zones, tcp without ports, icmp without a type, and zones on a non-network component', () => {
    const p = base();
    p.component = { name: 'plc', types: ['embedded'], slTarget: 2 };
    p.conduits = [
      { from: 'control', to: 'dmz', protocol: 'tcp', port: 80 },
      { from: 'control', to: 'field', protocol: 'tcp' },
      { from: 'field', to: 'control', protocol: 'icmp' },
    ];
    expect(refusal(p)).to.deep.equal([
      'zones: zones and conduits are for network components: add network to component.types',
      'conduits[0].to: no zone named "dmz" (zones: control, field)',
      'conduits[1].ports: a tcp conduit names its destination port(s)',
      'conduits[2].icmpType: an icmp conduit names its ICMP type (8 = echo request)',
    ]);
  });

  it('refuses two trusted zones only, a shared namespace, and conduits without zones', () => {
    const p = base();
    p.zones[1] = { ...p.zones[1], trusted: true, endpoint: { namespace: 'side-a', address: '198.19.2.10', gateway: '198.19.2.1' } };
    expect(refusal(p)).to.deep.equal([
      'zones[1].endpoint.namespace: zone control uses namespace side-a too: each side needs an endpoint of its own',
      'zones: declare at least one trusted and one untrusted zone (the sweep runs from untrusted to trusted)',
    ]);
    const { zones: _z, ...noZones } = base();
    expect(refusal(noZones)).to.deep.equal(['conduits: conduits need zones: declare the zones they join']);
  });

  it('locates schema errors by line in YAML (an unknown field of a conduit)', () => {
    const p = base();
    p.conduits = [{ from: 'control', to: 'field', protocol: 'tcp', port: 502, dirction: 'both' }];
    expect(refusal(p)).to.deep.equal(['conduits[0].dirction: unknown field (check the spelling; see schema/profile.schema.json)']);
  });
});
