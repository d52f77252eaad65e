import { expect } from 'chai';
import { componentIdentity, factComment } from '../../src/runner/discover/component';

/** The component's vendor/model/firmware from the services' identification facts: source order, agreement, guesses. */
describe('discover: component identity from the identification answers', () => {
  it('takes the most reliable source and says where it came from; a CIP major.minor revision agrees with 1.0.0', () => {
    const c = componentIdentity([
      { where: 'h tcp/44818', facts: { 'enip.productName': 'Example Automation EPLC-1', 'enip.revision': '1.0' } },
      { where: 'h udp/47808', facts: { 'bacnet.vendorName': 'Example Automation', 'bacnet.modelName': 'EPLC-1', 'bacnet.firmwareRevision': '1.0.0' } },
    ]);
    expect([c.vendor?.value, c.model?.value, c.firmware?.value]).to.deep.equal(['Example Automation', 'EPLC-1', '1.0.0']);
    expect(factComment(c.firmware!)).to.equal('from BACnet Device object (h udp/47808)');
    expect(c.model!.disagreeing).to.deep.equal([]);
  });

  it('marks a value guessed when sources disagree, naming each one, or when it was read from free text', () => {
    const c = componentIdentity([
      { where: 'h tcp/502', facts: { 'modbus.vendorName': 'Example Automation', 'modbus.majorMinorRevision': '2.1' } },
      { where: 'h udp/161', facts: { 'snmp.sysDescr': 'Example Automation EPLC-1 firmware 2.0.4' } },
    ]);
    expect(factComment(c.firmware!)).to.equal('from Modbus 43/14 (h tcp/502); guessed: sources disagree (SNMP sysDescr (h udp/161) says "2.0.4")');
    expect(c.model).to.include({ value: 'EPLC-1', guessed: true });
    expect(factComment(c.model!)).to.equal('from SNMP sysDescr (h udp/161); guessed: read from free text');
    expect(componentIdentity([{ where: 'x', facts: { sshBanner: 'SSH-2.0-x' } }])).to.deep.equal({});
  });
});
