import type * as net from 'node:net';
import {
  PACKET, SUBACK_FAILURE, MalformedPacket, encodeAck, encodeConnack, encodeDisconnect, encodePingresp, encodePublish, encodeSuback,
  encodeUnsuback, parseAck, parseConnect, parsePublish, parseSubscribe, parseUnsubscribe, readPacket, topicMatches,
  type Connect, type ProtocolLevel, type RawPacket,
} from '../../protocols/mqtt';
import type { AccountStore } from '../accounts';

/** Topics a role may read (subscribe to) and write (publish to), as filters. */
export interface AclEntry {
  read?: string[];
  write?: string[];
}

export interface BrokerConfig {
  /** Clients without a user name are accepted (default false). */
  anonymous?: boolean;
  /** Per role ("anonymous" for clients without a user name); null: everyone may read and write everything. Default: nothing for anyone. */
  acl?: Record<string, AclEntry> | null;
  /** Publish $SYS/broker/version, uptime and client count (default false). */
  sys?: boolean;
  /** Retained messages the device holds from the start (topic -> payload). */
  retained?: Record<string, string>;
  /** Version string in $SYS/broker/version; {model} and {firmware} are replaced. */
  version?: string;
}

/** Where a connection came in: the plain port refuses user logins unless the posture allows them there. */
export interface ListenerRules {
  name: 'plain' | 'tls';
  userLogins: boolean;
}

interface Client {
  socket: net.Socket;
  level: ProtocolLevel;
  clientId: string;
  role: string;
  subscriptions: Set<string>;
}

const MAX_RETAINED = 1000;

/** Whether an ACL filter covers a subscription filter: every topic the requested filter matches is matched by the ACL one. */
export function filterCovers(acl: string, requested: string): boolean {
  const a = acl.split('/');
  const r = requested.split('/');
  if (requested.startsWith('$') !== acl.startsWith('$')) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= r.length || r[i] === '#') return false;
    if (a[i] !== '+' && a[i] !== r[i]) return false;
  }
  return a.length === r.length;
}

/**
 * A small MQTT 3.1.1/5.0 broker with the device's accounts and lockout, ACLs per role, retained messages
 * and $SYS topics. QoS 0 and 1 are delivered at QoS 0; QoS 2 is acknowledged. A second CONNECT with a
 * client identifier already connected ends the older connection (DISCONNECT 0x8E in 5.0), as the standard
 * requires.
 */
export class EmulatedBroker {
  private readonly clients = new Map<string, Client>();
  private readonly retained = new Map<string, Buffer>();
  private readonly startedAt = Date.now();
  private readonly version: string;

  constructor(private readonly config: BrokerConfig, private readonly accounts: AccountStore, identity: { model: string; firmware: string }, private readonly log: (m: string) => void) {
    for (const [topic, payload] of Object.entries(config.retained ?? {})) this.retained.set(topic, Buffer.from(payload, 'utf8'));
    this.version = (config.version ?? '{model} MQTT broker {firmware}').replace('{model}', identity.model).replace('{firmware}', identity.firmware);
  }

  attach(socket: net.Socket, rules: ListenerRules): void {
    let buffer = Buffer.alloc(0);
    let client: Client | undefined;
    socket.setTimeout(120_000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (client && this.clients.get(client.clientId) === client) this.clients.delete(client.clientId);
    });
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const read = readPacket(buffer, 256 * 1024);
        if (read.kind === 'incomplete') return;
        if (read.kind === 'invalid') {
          socket.destroy();
          return;
        }
        buffer = buffer.subarray(read.length);
        try {
          client = client ? this.handle(client, read.packet) : this.connect(socket, read.packet, rules);
        } catch (err) {
          if (!(err instanceof MalformedPacket)) throw err;
          this.log(`mqtt: malformed packet from ${socket.remoteAddress}: ${err.message}`);
          socket.destroy();
        }
        if (socket.destroyed) return;
      }
    });
  }

  /** The first packet must be CONNECT (§3.1): anything else closes the connection. */
  private connect(socket: net.Socket, packet: RawPacket, rules: ListenerRules): Client | undefined {
    if (packet.type !== PACKET.connect) {
      socket.destroy();
      return undefined;
    }
    const c = parseConnect(packet.body);
    if ('unsupportedLevel' in c) {
      socket.end(encodeConnack(4, false, 0x01));
      return undefined;
    }
    const verdict = this.authenticate(c, socket.remoteAddress ?? '', rules);
    if ('refuse' in verdict) {
      this.log(`mqtt: ${rules.name} CONNECT ${c.username === undefined ? 'anonymous' : `"${c.username}"`} refused (${verdict.refuse})`);
      socket.end(encodeConnack(c.level, false, c.level === 5 ? verdict.v5 : verdict.v4));
      return undefined;
    }
    const clientId = c.clientId === '' ? `auto-${Math.random().toString(16).slice(2, 10)}` : c.clientId;
    const previous = this.clients.get(clientId);
    if (previous) {
      if (previous.level === 5) previous.socket.write(encodeDisconnect(5, 0x8e));
      previous.socket.destroy();
    }
    const client: Client = { socket, level: c.level, clientId, role: verdict.role, subscriptions: new Set() };
    this.clients.set(clientId, client);
    if (c.keepAliveSeconds > 0) socket.setTimeout(c.keepAliveSeconds * 1500, () => socket.destroy());
    socket.write(encodeConnack(c.level, false, 0));
    return client;
  }

  private authenticate(c: Connect, source: string, rules: ListenerRules): { role: string } | { refuse: string; v4: number; v5: number } {
    if (c.username === undefined) return this.config.anonymous ? { role: 'anonymous' } : { refuse: 'anonymous not allowed', v4: 5, v5: 0x87 };
    if (!rules.userLogins) return { refuse: 'user logins not allowed on this listener', v4: 5, v5: 0x87 };
    const result = this.accounts.login(c.username, c.password?.toString('utf8') ?? '', source, 'mqtt');
    if (result !== 'ok') return { refuse: result, v4: 4, v5: 0x86 };
    return { role: this.accounts.role(c.username) ?? 'user' };
  }

  private mayRead(role: string, filter: string): boolean {
    if (this.config.acl === null) return true;
    return (this.config.acl?.[role]?.read ?? []).some((a) => filterCovers(a, filter));
  }

  private mayWrite(role: string, topic: string): boolean {
    if (this.config.acl === null) return true;
    return !topic.startsWith('$') && (this.config.acl?.[role]?.write ?? []).some((a) => topicMatches(a, topic));
  }

  private handle(client: Client, packet: RawPacket): Client {
    const { socket, level } = client;
    switch (packet.type) {
      case PACKET.subscribe: {
        const { packetId, subscriptions } = parseSubscribe(level, packet.body);
        const codes = subscriptions.map((s) => (this.mayRead(client.role, s.filter) ? 0 : level === 5 ? 0x87 : SUBACK_FAILURE));
        socket.write(encodeSuback(level, packetId, codes));
        subscriptions.forEach((s, i) => {
          if (codes[i] >= SUBACK_FAILURE) return;
          client.subscriptions.add(s.filter);
          for (const [topic, payload] of this.retainedFor(s.filter)) socket.write(encodePublish(level, { topic, payload, retain: true }));
        });
        break;
      }
      case PACKET.unsubscribe: {
        const { packetId, filters } = parseUnsubscribe(level, packet.body);
        for (const f of filters) client.subscriptions.delete(f);
        socket.write(encodeUnsuback(level, packetId, filters.length));
        break;
      }
      case PACKET.publish:
        this.publish(client, packet);
        break;
      case PACKET.pubrel:
        socket.write(encodeAck(PACKET.pubcomp, level, parseAck(level, packet.body).packetId));
        break;
      case PACKET.pingreq:
        socket.write(encodePingresp());
        break;
      case PACKET.disconnect:
        socket.end();
        break;
      case PACKET.puback:
      case PACKET.pubrec:
      case PACKET.pubcomp:
        break;
      default:
        socket.destroy(); // a second CONNECT, or a packet only a broker sends (§3.1.0-2, §4.8)
    }
    return client;
  }

  private publish(client: Client, packet: RawPacket): void {
    const p = parsePublish(client.level, packet.flags, packet.body);
    const allowed = this.mayWrite(client.role, p.topic);
    if (p.qos === 1) client.socket.write(encodeAck(PACKET.puback, client.level, p.packetId!, allowed ? 0 : 0x87));
    if (p.qos === 2) client.socket.write(encodeAck(PACKET.pubrec, client.level, p.packetId!, allowed ? 0 : 0x87));
    if (!allowed) {
      this.log(`mqtt: PUBLISH to ${p.topic} by ${client.clientId} (${client.role}) dropped by the ACL`);
      return;
    }
    if (p.retain) {
      if (p.payload.length === 0) this.retained.delete(p.topic);
      else if (this.retained.size < MAX_RETAINED || this.retained.has(p.topic)) this.retained.set(p.topic, p.payload);
    }
    for (const other of this.clients.values()) {
      if ([...other.subscriptions].some((f) => topicMatches(f, p.topic))) other.socket.write(encodePublish(other.level, { topic: p.topic, payload: p.payload }));
    }
  }

  private retainedFor(filter: string): [string, Buffer][] {
    const all: [string, Buffer][] = [...this.retained];
    if (this.config.sys) {
      all.push(
        ['$SYS/broker/version', Buffer.from(this.version, 'utf8')],
        ['$SYS/broker/uptime', Buffer.from(`${Math.floor((Date.now() - this.startedAt) / 1000)} seconds`, 'utf8')],
        ['$SYS/broker/clients/connected', Buffer.from(String(this.clients.size), 'utf8')],
      );
    }
    return all.filter(([topic]) => topicMatches(filter, topic));
  }

  close(): void {
    for (const c of this.clients.values()) c.socket.destroy();
    this.clients.clear();
  }
}
