import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import type { Posture } from '../../src/emulator';
import { encodeConnack, readPacket } from '../../src/protocols/mqtt';
import { listenTestServer, type TestServer } from '../../fixtures/servers';
import { findMosquitto, startMosquitto, type RunningMosquitto } from './mosquitto';
import { findExecutable, requirePeer } from './peers';
import { postureWith } from './postures';

/** The built-in posture with only its MQTT service, with overrides for that section. */
export function mqttPosture(name: 'weak' | 'hardened', overrides: Record<string, unknown> = {}): Posture {
  const base = postureWith(name, ['mqtt']);
  return { ...base, services: { mqtt: { ...base.services.mqtt, ...overrides } } };
}

/** Starts Debian's mosquitto in one of its two configurations, or skips (fails under IACS_REQUIRE_PEERS=1). */
export async function requireMosquitto(ctx: Mocha.Context, kind: 'anonymous' | 'secure'): Promise<RunningMosquitto> {
  const binary = requirePeer(ctx, 'mosquitto', findMosquitto(), 'package mosquitto');
  requirePeer(ctx, 'mosquitto_pub', findExecutable('mosquitto_pub'), 'package mosquitto-clients');
  return startMosquitto(binary, kind);
}

/** mosquitto_pub (package mosquitto-clients) publishes one retained message, as a plant client would. */
export function publishRetained(broker: { host: string; port: number }, topic: string, payload: string, extra: string[] = []): void {
  execFileSync(findExecutable('mosquitto_pub')!, ['-h', broker.host, '-p', String(broker.port), '-t', topic, '-m', payload, '-r', '-q', '1', ...extra], { stdio: 'pipe', timeout: 10_000 });
}

/**
 * A deceptive broker: answers every CONNECT with the CONNACK `code` (in the client's protocol level), then
 * behaves as `after` says. Used where a refusal for another reason could be misread as an access control.
 */
export async function scriptedBroker(answer: (level: 4 | 5, connect: Buffer) => Buffer | null): Promise<TestServer> {
  return listenTestServer(net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      const read = readPacket(buffer);
      if (read.kind !== 'packet') return;
      buffer = buffer.subarray(read.length);
      const body = read.packet.body;
      const level = body[6] === 5 ? 5 : 4; // protocol level after the 6-byte name "\0\4MQTT"
      const reply = answer(level, body);
      if (reply) socket.write(reply);
      else socket.destroy();
    });
  }));
}

export const connackAlways = (v4: number, v5: number) => (level: 4 | 5) => encodeConnack(level, false, level === 5 ? v5 : v4);

export const MQTT_LOCKOUT_SECONDS = 1;

/** The posture with only MQTT, the hardened lockout shortened to MQTT_LOCKOUT_SECONDS (lockout tests). */
export function mqttAuthPosture(name: 'weak' | 'hardened'): Posture {
  const base = mqttPosture(name);
  return name === 'hardened' ? { ...base, lockout: { threshold: 3, durationSeconds: MQTT_LOCKOUT_SECONDS, scope: 'user' } } : base;
}
