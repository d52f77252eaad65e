import { expect } from 'chai';
import { ProfileError, loadProfile, profileFromObject } from '../../src/profile';

const base = () => ({
  apiVersion: 'iacs-probe/v1',
  component: { name: 'switch', types: ['network'], slTarget: 2 },
  targets: [{ host: '198.19.10.1', services: [{ port: 22, protocol: 'ssh' }] }],
  vlans: {
    subnet: '198.19.10.0/24',
    access: [
      { name: 'office', vlan: 10, namespace: 'vl-office', interface: 'eth1', address: '198.19.10.10' },
      { name: 'control', vlan: 20, namespace: 'vl-control', address: '198.19.10.20' },
    ] as Record<string, unknown>[],
    trunk: { name: 'uplink', namespace: 'vl-trunk', address: '198.19.10.30', vlans: [10, 20], nativeVlan: 10 } as Record<string, unknown>,
  },
});

function refusal(object: object): string[] {
  try {
    profileFromObject(object, 'switch.yaml');
  } catch (err) {
    if (err instanceof ProfileError) return err.issues.map((i) => `${i.field}: ${i.message}`);
    throw err;
  }
  throw new Error('the profile was accepted');
}

describe('profile vlans (switches: access ports and a trunk)', () => {
  it('the example profile loads', () => {
    expect(loadProfile('profiles/examples/switch-vlans.yaml').vlans?.trunk?.nativeVlan).to.equal(10);
  });

  it('loads the access endpoints and the trunk with its native VLAN', () => {
    const profile = profileFromObject(base(), 'switch.yaml');
    expect(profile.vlans?.access.map((a) => `${a.name}:${a.vlan}`)).to.deep.equal(['office:10', 'control:20']);
    expect(profile.vlans?.trunk).to.include({ name: 'uplink', nativeVlan: 10 });
  });

  it('refuses addresses outside the subnet, one VLAN only, a shared namespace, a native VLAN the trunk does not carry', () => {
    const p = base();
    p.vlans.access = [
      { name: 'office', vlan: 10, namespace: 'vl-office', address: '198.19.11.10' },
      { name: 'control', vlan: 10, namespace: 'vl-office', address: '198.19.10.20' },
    ];
    p.vlans.trunk = { name: 'uplink', namespace: 'vl-trunk', address: '198.19.10.30', vlans: [30], nativeVlan: 20 };
    expect(refusal(p)).to.deep.equal([
      'vlans.access[0].address: 198.19.11.10 is not in vlans.subnet 198.19.10.0/24',
      'vlans.access[1].namespace: office has namespace vl-office too: each endpoint needs its own',
      'vlans.access: the access endpoints sit in one VLAN: isolation needs endpoints in two VLANs at least',
      'vlans.trunk.nativeVlan: the native VLAN 20 is not one of the trunk\'s vlans (30)',
      'vlans.trunk.vlans: the trunk carries none of the access endpoints\' VLANs: it can serve as no positive control',
    ]);
  });

  it('refuses vlans on a non-network component and a VLAN id out of range (schema, located)', () => {
    const p = base();
    p.component = { name: 'plc', types: ['embedded'], slTarget: 2 };
    expect(refusal(p)).to.deep.equal(['vlans: vlans are for network components (switches): add network to component.types']);
    const q = base();
    q.vlans.access[0] = { ...q.vlans.access[0], vlan: 4095 };
    expect(refusal(q)[0]).to.match(/^vlans\.access\[0\]\.vlan: /);
  });
});
