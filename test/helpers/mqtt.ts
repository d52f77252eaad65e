import { execFileSync } from 'node:child_process';
import * as net from 'node:net';
import type { Posture } from '../../src/emulator';
import { PACKET, encodeConnack, readPacket, type RawPacket } from '../../src/protocols/mqtt';
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
 * A deceptive broker: `answer` sees every packet (with the protocol level of the connection's CONNECT) and
 * returns the bytes to send back, `undefined` to send nothing, or `null` to hang up. Used where a refusal
 * for another reason, or a broker that says yes and does nothing, could be misread.
 */
export async function scriptedBroker(answer: (packet: RawPacket, level: 4 | 5) => Buffer | null | undefined): Promise<TestServer> {
  return listenTestServer(net.createServer((socket) => {
    let buffer = Buffer.alloc(0);
    let level: 4 | 5 = 4;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (let read = readPacket(buffer); read.kind === 'packet'; read = readPacket(buffer)) {
        buffer = buffer.subarray(read.length);
        if (read.packet.type === PACKET.connect) level = read.packet.body[6] === 5 ? 5 : 4; // the level follows the name "\0\4MQTT"
        const reply = answer(read.packet, level);
        if (reply === null) {
          socket.destroy();
          return;
        }
        if (reply) socket.write(reply);
      }
    });
  }));
}

/** Every CONNECT answered with this refusal (3.1.1 code, 5.0 reason); nothing else answered. */
export const connackAlways = (v4: number, v5: number) => (packet: RawPacket, level: 4 | 5) => (packet.type === PACKET.connect ? encodeConnack(level, false, level === 5 ? v5 : v4) : undefined);

export const MQTT_LOCKOUT_SECONDS = 1;

/** The posture with only MQTT, the hardened lockout shortened to MQTT_LOCKOUT_SECONDS (lockout tests). */
export function mqttAuthPosture(name: 'weak' | 'hardened'): Posture {
  const base = mqttPosture(name);
  return name === 'hardened' ? { ...base, lockout: { threshold: 3, durationSeconds: MQTT_LOCKOUT_SECONDS, scope: 'user' } } : base;
}
