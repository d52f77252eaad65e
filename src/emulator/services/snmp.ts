import * as dgram from 'node:dgram';
import * as net from 'node:net';
import * as snmp from 'net-snmp';
import type { DeviceContext, ServiceModule, ServicePosture } from '../types';
import { PostureError } from '../errors';

type Version = 'v1' | 'v2c' | 'v3';
type Access = 'read-only' | 'read-write';

export interface SnmpUserPosture {
  /** A device account (its password is the auth and privacy passphrase unless given here). */
  username: string;
  level: 'noAuthNoPriv' | 'authNoPriv' | 'authPriv';
  auth?: 'md5' | 'sha' | 'sha224' | 'sha256' | 'sha384' | 'sha512';
  priv?: 'des' | 'aes' | 'aes256b' | 'aes256r';
  authPassword?: string;
  privPassword?: string;
  access?: Access;
}

export interface SnmpPosture extends ServicePosture {
  /** Message versions the agent answers; others are dropped unanswered, as an agent without them does. */
  versions?: Version[];
  /** community -> access (v1/v2c). */
  communities?: Record<string, Access>;
  users?: SnmpUserPosture[];
  /** snmpEngineID in hex; default: IANA PEN 32473 (RFC 5612, documentation) + text format + serial. */
  engineId?: string;
  sysName?: string;
  sysLocation?: string;
  sysContact?: string;
  /** Serve ENTITY-MIB entPhysicalTable (inventory); default true. */
  entityMib?: boolean;
  /**
   * Fault mode (issue 20, CR 3.5): a PDU the agent's decoder chokes on (net-snmp throws from its message handler,
   * e.g. a GetBulk without varbinds) "crashes" the agent: it answers nothing until it restarts after
   * restartAfterMs. Without it such a datagram is dropped and the agent keeps answering.
   */
  crashOn?: { frame: 'malformed-pdu'; restartAfterMs: number };
}

/** IANA private enterprise number reserved for documentation (RFC 5612). */
export const EXAMPLE_ENTERPRISE = 32473;
export const EMULATOR_OIDS = {
  sysObjectID: `1.3.6.1.4.1.${EXAMPLE_ENTERPRISE}.1.1`,
  /** A read-write OctetString with no effect on the device: the object the SET path may write. */
  testValue: `1.3.6.1.4.1.${EXAMPLE_ENTERPRISE}.1.2.1.0`,
} as const;

const VERSION_NUMBERS: Record<Version, number> = { v1: 0, v2c: 1, v3: 3 };

/** The msgVersion of an SNMP message (first INTEGER inside the outer SEQUENCE), or undefined. */
export function messageVersion(buf: Buffer): number | undefined {
  if (buf.length < 5 || buf[0] !== 0x30) return undefined;
  let i = 2;
  if (buf[1] & 0x80) i += buf[1] & 0x7f;
  if (buf[i] !== 0x02 || buf[i + 1] !== 1) return undefined;
  return buf[i + 2];
}

function engineIdFor(device: DeviceContext, configured?: string): string {
  if (configured) return configured;
  const text = Buffer.from(device.identity.serial, 'utf8').subarray(0, 27);
  const head = Buffer.alloc(5);
  head.writeUInt32BE((0x80000000 | EXAMPLE_ENTERPRISE) >>> 0, 0);
  head[4] = 4; // RFC 3411 SnmpEngineID format 4: administratively assigned text
  return Buffer.concat([head, text]).toString('hex');
}

function userFor(u: SnmpUserPosture, device: DeviceContext): snmp.User {
  const account = device.posture.accounts?.find((a) => a.username === u.username);
  const authKey = u.authPassword ?? account?.password;
  const privKey = u.privPassword ?? account?.password;
  const user: snmp.User = { name: u.username, level: snmp.SecurityLevel[u.level] };
  if (u.level !== 'noAuthNoPriv') {
    if (!authKey) throw new PostureError(`snmp: user ${u.username} has no account password and no authPassword`);
    user.authProtocol = snmp.AuthProtocols[u.auth ?? 'sha'];
    user.authKey = authKey;
  }
  if (u.level === 'authPriv') {
    user.privProtocol = snmp.PrivProtocols[u.priv ?? 'aes'];
    user.privKey = privKey;
  }
  return user;
}

const ACCESS: Record<Access, number> = { 'read-only': snmp.AccessLevel.ReadOnly, 'read-write': snmp.AccessLevel.ReadWrite };

function populateMib(mib: snmp.Mib, device: DeviceContext, config: SnmpPosture): void {
  const { identity } = device;
  const started = Date.now();
  const ro = snmp.MaxAccess['read-only'];
  const scalar = (name: string, oid: string, type: number, value: unknown, maxAccess = ro, handler?: snmp.Provider['handler']) => {
    mib.registerProvider({ name, type: snmp.MibProviderType.Scalar, oid, scalarType: type, maxAccess, ...(handler ? { handler } : {}) });
    mib.setScalarValue(name, value);
  };
  const T = snmp.ObjectType;
  scalar('sysDescr', '1.3.6.1.2.1.1.1', T.OctetString, `${identity.vendor} ${identity.model} firmware ${identity.firmware}`);
  scalar('sysObjectID', '1.3.6.1.2.1.1.2', T.OID, EMULATOR_OIDS.sysObjectID);
  scalar('sysUpTime', '1.3.6.1.2.1.1.3', T.TimeTicks, 0, ro, (req) => {
    req.instanceNode.value = Math.floor((Date.now() - started) / 10);
    req.done();
  });
  scalar('sysContact', '1.3.6.1.2.1.1.4', T.OctetString, config.sysContact ?? '');
  scalar('sysName', '1.3.6.1.2.1.1.5', T.OctetString, config.sysName ?? identity.model.toLowerCase());
  scalar('sysLocation', '1.3.6.1.2.1.1.6', T.OctetString, config.sysLocation ?? '');
  scalar('eplcTestValue', EMULATOR_OIDS.testValue.replace(/\.0$/, ''), T.OctetString, 'factory', snmp.MaxAccess['read-write']);
  if (config.entityMib === false) return;
  // ENTITY-MIB entPhysicalEntry (RFC 6933 §4), the columns an inventory reads.
  const col = (number: number, name: string, type: number, maxAccess = ro) => ({ number, name, type, maxAccess });
  mib.registerProvider({
    name: 'entPhysicalEntry', type: snmp.MibProviderType.Table, oid: '1.3.6.1.2.1.47.1.1.1.1',
    maxAccess: snmp.MaxAccess['not-accessible'],
    tableColumns: [
      col(1, 'entPhysicalIndex', T.Integer, snmp.MaxAccess['not-accessible']),
      col(2, 'entPhysicalDescr', T.OctetString), col(3, 'entPhysicalVendorType', T.OID),
      col(4, 'entPhysicalContainedIn', T.Integer), col(5, 'entPhysicalClass', T.Integer),
      col(7, 'entPhysicalName', T.OctetString), col(8, 'entPhysicalHardwareRev', T.OctetString),
      col(9, 'entPhysicalFirmwareRev', T.OctetString), col(10, 'entPhysicalSoftwareRev', T.OctetString),
      col(11, 'entPhysicalSerialNum', T.OctetString), col(12, 'entPhysicalMfgName', T.OctetString),
      col(13, 'entPhysicalModelName', T.OctetString),
    ],
    tableIndex: [{ columnName: 'entPhysicalIndex' }],
  });
  // entPhysicalClass: chassis(3), module(9).
  mib.addTableRow('entPhysicalEntry', [1, `${identity.vendor} ${identity.model}`, EMULATOR_OIDS.sysObjectID, 0, 3, 'chassis',
    'A1', identity.firmware, identity.firmware, identity.serial, identity.vendor, identity.model]);
  mib.addTableRow('entPhysicalEntry', [2, `${identity.model} CPU module`, `1.3.6.1.4.1.${EXAMPLE_ENTERPRISE}.1.3`, 1, 9, 'cpu',
    'A1', identity.firmware, `${identity.firmware} runtime`, `${identity.serial}-CPU`, identity.vendor, `${identity.productCode}-CPU`]);
}

/**
 * An SNMP agent (net-snmp's Agent) on UDP. Knobs: the versions it answers, communities with their
 * access, v3 users with their security level and protocols, and whether ENTITY-MIB is served. The
 * system group comes from the device identity; one harmless read-write object is there for the SET path.
 */
export const snmpService: ServiceModule<SnmpPosture> = {
  key: 'snmp',
  async start(config, device) {
    const versions = new Set((config.versions ?? ['v1', 'v2c', 'v3']).map((v) => VERSION_NUMBERS[v]));
    const transport = net.isIPv6(device.host) ? 'udp6' : 'udp4';
    let socket: dgram.Socket | undefined;
    let crashedUntil = 0;
    if (config.crashOn && config.crashOn.frame !== 'malformed-pdu') throw new PostureError(`snmp: crashOn.frame ${String(config.crashOn.frame)} is not known (malformed-pdu)`);
    const port = device.portFor(config.port);
    const dgramModule: snmp.DgramModule = {
      createSocket(type) {
        const s = dgram.createSocket(type);
        socket = s;
        const on = s.on.bind(s) as (event: string, listener: (...args: unknown[]) => void) => dgram.Socket;
        (s as unknown as { on: unknown }).on = (event: string, listener: (...args: unknown[]) => void) => {
          if (event !== 'message') return on(event, listener);
          // Drop versions this device does not run, before the library answers (it would always
          // answer v3 discovery otherwise).
          return on('message', (msg: unknown, rinfo: unknown) => {
            const version = messageVersion(msg as Buffer);
            if (version !== undefined && !versions.has(version)) {
              device.log(`snmp: dropped a version ${version} message`);
              return;
            }
            if (Date.now() < crashedUntil) return;
            // net-snmp's agent throws from its message handler on some malformed PDUs (a GetBulk without
            // varbinds, an OID not starting with 0-2: found by snmp.fuzz). A robust agent drops the datagram;
            // the crash fault stops answering until the agent restarts.
            try {
              listener(msg, rinfo);
            } catch (err) {
              const why = err instanceof Error ? err.message : String(err);
              if (!config.crashOn) return device.log(`snmp: dropped a malformed message (${why})`);
              crashedUntil = Date.now() + config.crashOn.restartAfterMs;
              device.log(`snmp: the agent crashed on a malformed message (${why}); restart in ${config.crashOn.restartAfterMs} ms`);
            }
          });
        };
        const bind = s.bind.bind(s) as (port: number, address: string) => dgram.Socket;
        (s as unknown as { bind: unknown }).bind = () => bind(port, device.host);
        return s;
      },
    };
    const agent = snmp.createAgent({
      port: 161, address: device.host, transport, engineID: engineIdFor(device, config.engineId),
      accessControlModelType: snmp.AccessControlModelType.Simple, dgramModule,
    }, (error) => {
      if (error) device.log(`snmp: ${error.message}`);
    });
    const s = socket;
    if (!s) throw new Error('snmp: the agent opened no socket');
    try {
      await new Promise<void>((resolve, reject) => {
        s.once('listening', () => resolve());
        s.once('error', reject);
      });
      const authorizer = agent.getAuthorizer();
      const acm = authorizer.getAccessControlModel();
      for (const [community, access] of Object.entries(config.communities ?? {})) {
        authorizer.addCommunity(community);
        acm.setCommunityAccess(community, ACCESS[access]);
      }
      for (const u of config.users ?? []) {
        authorizer.addUser(userFor(u, device));
        acm.setUserAccess(u.username, ACCESS[u.access ?? 'read-only']);
      }
      populateMib(agent.getMib(), device, config);
    } catch (err) {
      await closeSocket(s);
      throw err;
    }
    return {
      endpoints: [{ protocol: 'snmp', host: device.host, port: s.address().port }],
      close: () => closeSocket(s),
    };
  },
};

function closeSocket(s: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
