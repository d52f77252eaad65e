import {
  MissingInput, ProtocolViolation, TargetTimeout, Transcript, defineProbe, finding, judge, type Finding, type Judgement, type ProbeContext,
} from '../../src/sdk';
import {
  COMMANDS, DEVICE_TYPES, decodeListIdentity, decodeListServices, describeAnswer, listIdentity, listInterfaces, listServices,
  securityStateName, udpListRequest, withEnip, type CipIdentity, type EnipAnswer, type EnipService, type IdentityReply,
} from '../../src/protocols/enip';

export interface IdentityInputs {
  requestTimeoutMs: number;
  /** UDP: tries after the first. */
  udpRetries: number;
}

/** The identity as nmap's enip-info prints it (hex where it prints hex), plus what it leaves out. */
export function identitySummary(id: CipIdentity): Record<string, unknown> {
  return {
    vendorId: id.vendorId, deviceType: id.deviceType, ...(DEVICE_TYPES[id.deviceType] ? { deviceTypeName: DEVICE_TYPES[id.deviceType] } : {}),
    productCode: id.productCode, revision: `${id.revision.major}.${id.revision.minor}`, status: `0x${id.status.toString(16).padStart(4, '0')}`,
    serialNumber: `0x${id.serialNumber.toString(16).padStart(8, '0')}`, productName: id.productName,
    ...(id.state === undefined ? {} : { state: id.state }), encapsulationVersion: id.encapsulationVersion,
    socketAddress: `${id.socketAddress.address}:${id.socketAddress.port}`,
  };
}

/** Where the reported identity disagrees with the profile's component (model in the product name, firmware, serial). */
export function identityMismatches(id: CipIdentity, component: { model?: string; firmware?: string; serial?: string }): string[] {
  const out: string[] = [];
  if (component.model && !id.productName.toLowerCase().includes(component.model.toLowerCase())) out.push(`product name "${id.productName}" (profile model: "${component.model}")`);
  const [major, minor] = (component.firmware ?? '').split('.').map((n) => Number.parseInt(n, 10));
  if (Number.isInteger(major) && (major !== id.revision.major || (Number.isInteger(minor) && minor !== id.revision.minor))) {
    out.push(`revision ${id.revision.major}.${id.revision.minor} (profile firmware: "${component.firmware}")`);
  }
  // CIP serial numbers are 32-bit integers: only a numeric profile serial can be compared.
  const serial = component.serial && /^(0x[0-9a-f]{1,8}|\d{1,10})$/i.test(component.serial) ? Number(component.serial) : undefined;
  if (serial !== undefined && serial !== id.serialNumber) out.push(`serial number 0x${id.serialNumber.toString(16)} (profile: ${component.serial})`);
  return out;
}

interface Exchange {
  listIdentity: EnipAnswer<IdentityReply>;
  listServices: EnipAnswer<EnipService[]>;
  listInterfaces?: EnipAnswer<number[]>;
}

async function exchange(ctx: ProbeContext<IdentityInputs>, transcript: Transcript): Promise<Exchange> {
  const service = ctx.service!;
  const wait = ctx.inputs.requestTimeoutMs;
  if (service.transport === 'udp') {
    const udp = { signal: ctx.signal, timeoutMs: wait, retries: ctx.inputs.udpRetries, transcript };
    const identity = decodeListIdentity(await udpListRequest(service, COMMANDS.listIdentity, udp));
    if (identity.status === 'no-answer' || identity.status === 'not-enip') return { listIdentity: identity, listServices: identity };
    return { listIdentity: identity, listServices: decodeListServices(await udpListRequest(service, COMMANDS.listServices, udp)) };
  }
  return withEnip(service, { signal: ctx.signal, transcript }, async (conn) => {
    const identity = await listIdentity(conn, wait);
    if (identity.status === 'no-answer' || identity.status === 'not-enip' || identity.status === 'closed') return { listIdentity: identity, listServices: identity };
    return { listIdentity: identity, listServices: await listServices(conn, wait), listInterfaces: await listInterfaces(conn, wait) };
  });
}

export default defineProbe<IdentityInputs>({
  id: 'enip.identity',
  protocol: 'enip',
  title: 'EtherNet/IP ListIdentity and ListServices: what the device reports about itself',
  description:
    'Sends ListIdentity, ListServices and ListInterfaces on the declared EtherNet/IP service over TCP, or ListIdentity and '
    + 'ListServices as unicast datagrams when the service is declared on UDP (never a broadcast). Reports the facts nmap\'s '
    + 'enip-info reports (vendor, device type, product code, revision, status, serial number, product name, state), the '
    + 'CIP Security Information item when the device sends one, and its encapsulation services. A device that identifies '
    + 'itself over a standard protocol supports component inventory (CR 7.8, partial: status reporting needs documentation review).',
  requirements: ['CR 7.8'],
  findings: {
    'no-identity': 'the device speaks EtherNet/IP but ListIdentity is refused or carries no usable CIP Identity item',
    'identity-mismatch': "the reported product name, revision or serial number differs from the profile's component",
  },
  safety: 'passive',
  scope: 'service',
  appliesTo: ['enip'],
  when: (service) => !service.tls,
  locks: (plan) => (plan.service ? [{ key: `enip:${plan.service.host}:${plan.service.port}`, mode: 'shared' }] : []),
  timeoutMs: 15_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: { requestTimeoutMs: { type: 'integer', minimum: 50, maximum: 30_000 }, udpRetries: { type: 'integer', minimum: 0, maximum: 5 } },
    },
    defaults: { requestTimeoutMs: 2000, udpRetries: 1 },
  },
  async run(ctx) {
    const service = ctx.service;
    if (!service) throw new MissingInput('enip.identity needs a declared enip service');
    const transcript = new Transcript(ctx.evidence, `enip-identity-${service.transport}.txt`);
    const { listIdentity: li, listServices: ls, listInterfaces } = await exchange(ctx, transcript);
    if (li.status === 'no-answer') throw new TargetTimeout(`ListIdentity over ${service.transport.toUpperCase()}: no answer`);
    if (li.status === 'not-enip') throw new ProtocolViolation(`the service does not speak EtherNet/IP: ${li.reason}`);
    if (li.status === 'closed') throw new ProtocolViolation(`the device ${li.reset ? 'reset' : 'closed'} the connection on ListIdentity`);
    const evidence = [transcript.path, ctx.evidence.save(`identity-${service.transport}.json`, { transport: service.transport, listIdentity: li, listServices: ls, listInterfaces })];
    const findings: Finding[] = [];
    const judgements: Judgement[] = [];
    const observations: Record<string, unknown> = { transport: service.transport };
    if (li.status !== 'ok') {
      findings.push(finding({
        code: 'no-identity', severity: 'info', requirements: ['CR 7.8'], evidence,
        message: `ListIdentity over ${service.transport.toUpperCase()} is ${describeAnswer(li)}: the device does not identify itself over EtherNet/IP; inventory needs another interface.`,
      }));
    } else {
      const { identity, security } = li.value;
      observations.identity = identitySummary(identity);
      if (security) {
        observations.cipSecurity = {
          profiles: security.profiles, cipSecurityState: securityStateName(security.cipSecurityState),
          enipSecurityState: securityStateName(security.enipSecurityState), openPorts: security.openPorts,
        };
      }
      const mismatches = identityMismatches(identity, ctx.component);
      if (mismatches.length > 0) {
        findings.push(finding({ code: 'identity-mismatch', severity: 'info', requirements: ['CR 7.8'], evidence, message: `The device identifies itself differently from the profile: ${mismatches.join('; ')}.` }));
      }
      judgements.push({
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `the device reports vendor ${identity.vendorId}, device type ${identity.deviceType}, product code ${identity.productCode}, revision `
          + `${identity.revision.major}.${identity.revision.minor}, serial 0x${identity.serialNumber.toString(16)} and product name "${identity.productName}" over `
          + `EtherNet/IP ListIdentity (${service.transport.toUpperCase()}), a standard interface inventory tools query (device status reporting needs documentation review)`,
      });
    }
    observations.services = ls.status === 'ok' ? ls.value.map((s) => ({ name: s.name, version: s.version, tcp: s.tcp, udpClass01: s.udpClass01 })) : describeAnswer(ls);
    if (listInterfaces) observations.interfaces = listInterfaces.status === 'ok' ? listInterfaces.value.length : describeAnswer(listInterfaces);
    return { observations, findings, outcomes: judge(judgements, findings) };
  },
});
