import { MissingInput } from '../../src/sdk';
import { defineFuzzProbe, type FuzzInputs } from '../../src/protocols/fuzz';
import { snmpFuzzTarget } from '../../src/protocols/snmp-fuzz';
import { profileCommunities } from '../../src/protocols/snmp-access';

export interface SnmpFuzzInputs extends FuzzInputs {
  /** The message version of the templates and of the normal GET (the second GET template uses the other one). */
  version: 'v1' | 'v2c';
}

export default defineFuzzProbe<SnmpFuzzInputs>({
  id: 'snmp.fuzz',
  protocol: 'snmp',
  label: 'SNMP',
  normalRequest: 'normal GET',
  title: 'SNMPv1/v2c BER fuzzing of GetRequest, GetNext and GetBulk messages with essential-function checks',
  description:
    'Mutates valid SNMPv1/v2c messages (GetRequest sysUpTime.0 in both versions, GetNextRequest, GetBulkRequest): every tag '
    + 'and short length of the BER tree, version, PDU type, request-id, error-status/index and GetBulk counts get boundary '
    + 'values; re-encoded cases give long-form, 4 GiB and indefinite lengths, empty and 9-byte INTEGERs, empty and 1300-byte '
    + 'communities, empty, huge and unterminated OID sub-identifiers, unexpected value types, 60-deep nesting and 100 '
    + 'varbinds; truncations and random mutations fill the budget. The seed fixes the cases. One datagram per case from its '
    + 'own socket, at a capped rate (silence is a normal reaction); after each one a GET of sysUpTime.0 must be answered, '
    + 'and the run\'s essential-function monitor must not report a loss (CR 3.5). The community is the profile\'s '
    + '(credentials snmp.community); records show it as \'*\' bytes. Every case can be re-sent with `iacs-probe replay`.',
  appliesTo: ['snmp'],
  extraInputs: {
    properties: { version: { enum: ['v1', 'v2c'] } },
    defaults: { version: 'v2c' },
  },
  target: (ctx, service) => {
    const community = profileCommunities(service, undefined, ctx.credentials)[0];
    if (community === undefined) throw new MissingInput('snmp.fuzz needs a community to reach the agent\'s PDU handling: give credentials snmp.community');
    const target = snmpFuzzTarget(service, { version: ctx.inputs.version, community });
    return { ...target, secrets: [{ name: 'community', value: Buffer.from(community, 'latin1') }] };
  },
});
