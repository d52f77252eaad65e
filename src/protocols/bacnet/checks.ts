import { ProtocolViolation, TargetTimeout } from '../../sdk';
import type { BacnetAnswer, BacnetClient } from './client';
import { plainValue, type BacnetValue } from './encoding';
import { CONFIRMED_SERVICE, ERROR_CLASS, ERROR_CODE, OBJECT_TYPE, PROPERTY, WILDCARD_INSTANCE } from './frames';
import { parseReadPropertyAck, readPropertyBody, describeProperty, type PropertyRef } from './services';

/** Throws the typed error for an answer that is no BACnet answer at all: silence after the retries, other bytes. */
export function expectBacnet<T>(answer: BacnetAnswer<T>, what: string): Exclude<BacnetAnswer<T>, { status: 'no-answer' | 'not-bacnet' }> {
  if (answer.status === 'no-answer') throw new TargetTimeout(`${what}: no answer`);
  if (answer.status === 'not-bacnet') throw new ProtocolViolation(`the service does not speak BACnet/IP: ${answer.reason}`);
  return answer;
}

/** One property's value list, or the device's answer instead. */
export async function readProperty(client: BacnetClient, ref: PropertyRef): Promise<BacnetAnswer<BacnetValue[]>> {
  const answer = await client.confirmed(CONFIRMED_SERVICE.readProperty, readPropertyBody(ref), `ReadProperty ${describeProperty(ref)}`, parseReadPropertyAck);
  return answer.status === 'ack' ? { status: 'ack', value: answer.value?.values ?? [] } : answer;
}

/** A single value as plain JSON, or the answer's description ("Error object/unknown-object"). */
export function shownValue(answer: BacnetAnswer<BacnetValue[]>): unknown {
  if (answer.status !== 'ack') return null;
  return answer.value.length === 1 ? plainValue(answer.value[0]) : answer.value.map(plainValue);
}

export interface LocatedDevice {
  instance: number;
  /** How the instance was learnt: the wildcard ReadProperty, or the device's I-Am. */
  via: 'wildcard' | 'i-am';
}

/**
 * The device's instance: ReadProperty object-identifier of the wildcard device 4194303 (what nmap bacnet-info
 * sends first), then a unicast Who-Is when the device refuses the wildcard. Silence or non-BACnet bytes to the
 * first request are errors; a device that refuses both is `undefined` with the answers.
 */
export async function locateDevice(client: BacnetClient): Promise<{ device?: LocatedDevice; wildcard: BacnetAnswer<BacnetValue[]>; whoIs?: string }> {
  const wildcard = expectBacnet(await readProperty(client, { objectType: OBJECT_TYPE.device, instance: WILDCARD_INSTANCE, property: PROPERTY.objectIdentifier }), 'ReadProperty device,4194303 object-identifier');
  const id = wildcard.status === 'ack' ? wildcard.value[0] : undefined;
  if (id?.type === 'object-identifier' && id.objectType === OBJECT_TYPE.device) return { device: { instance: id.instance, via: 'wildcard' }, wildcard };
  const iAm = await client.whoIs();
  if (iAm.status === 'ack' && iAm.value.device.objectType === OBJECT_TYPE.device) return { device: { instance: iAm.value.device.instance, via: 'i-am' }, wildcard, whoIs: 'I-Am' };
  return { wildcard, whoIs: iAm.status === 'ack' ? 'I-Am of another object type' : iAm.status };
}

/**
 * How the device answered a request that needs authorization: `accepted` (SimpleACK), `password-refused`
 * (security/password-failure: the protocol's own authentication refusal), `access-denied` (write-access-denied
 * or another security-class error), or `unclear` (anything else proves nothing about authentication).
 */
export type AuthorityAnswer = 'accepted' | 'password-refused' | 'access-denied' | 'unclear';

export function classifyAuthority(answer: BacnetAnswer<unknown>): AuthorityAnswer {
  if (answer.status === 'ack') return 'accepted';
  if (answer.status !== 'error') return 'unclear';
  if (answer.errorClass === ERROR_CLASS.security && answer.errorCode === ERROR_CODE.passwordFailure) return 'password-refused';
  if (answer.errorCode === ERROR_CODE.writeAccessDenied || answer.errorClass === ERROR_CLASS.security) return 'access-denied';
  return 'unclear';
}
