import {
  MissingInput, TargetTimeout, defineProbe, finding, judge, type Finding, type ProbeContext,
} from '../../src/sdk';
import {
  OIDS, tryAccess, withSnmp, type EngineInfo, type SnmpAccess, type SnmpClient, type SnmpValue,
} from '../../src/protocols/snmp';
import {
  SNMP_INPUT_PROPERTIES, communityCandidates, communityRef, mapLimited, profileCommunities, profileV3User, type CommunityRef,
} from '../../src/protocols/snmp-access';

interface Inputs {
  communities?: string[];
  /** When the profile gives no access, read with a well-known community that answers. */
  tryDefaults: boolean;
  requestTimeoutMs: number;
  retries: number;
  /** Upper bound of ENTITY-MIB values read (a walk of entPhysicalEntry). */
  maxEntityValues: number;
  authProtocol?: string;
  privProtocol?: string;
}

interface SnmpBaseline {
  defaultCommunities: { community: string }[];
}

const SYSTEM = ['sysDescr', 'sysObjectID', 'sysUpTime', 'sysContact', 'sysName', 'sysLocation'] as const;
/** entPhysicalEntry columns (RFC 6933 §4) recorded as inventory. */
const ENTITY_COLUMNS: Record<number, string> = {
  2: 'descr', 3: 'vendorType', 4: 'containedIn', 5: 'class', 7: 'name', 8: 'hardwareRev', 9: 'firmwareRev',
  10: 'softwareRev', 11: 'serialNum', 12: 'mfgName', 13: 'modelName', 16: 'isFRU',
};
const ENTITY_CLASSES: Record<number, string> = {
  1: 'other', 2: 'unknown', 3: 'chassis', 4: 'backplane', 5: 'container', 6: 'powerSupply', 7: 'fan', 8: 'sensor',
  9: 'module', 10: 'port', 11: 'stack', 12: 'cpu', 13: 'energyObject', 14: 'battery', 15: 'storageDrive',
};

type AccessRef = { version: 'v1' | 'v2c'; community: CommunityRef } | { version: 'v3'; user: string; level: string };

/** The first access that reads sysDescr.0: the profile's v3 user, its communities, then (optionally) defaults. */
async function findAccess(ctx: ProbeContext<Inputs>, options: { timeoutMs: number; retries: number; signal: AbortSignal }): Promise<{ access: SnmpAccess; ref: AccessRef } | undefined> {
  const service = ctx.service!;
  const endpoint = { host: service.host, port: service.port };
  const user = profileV3User(ctx.credentials, service, ctx.inputs);
  const ordered: { access: SnmpAccess; ref: AccessRef }[] = [];
  if (user) {
    for (const level of ['authPriv', 'authNoPriv'] as const) {
      ordered.push({ access: { version: 'v3', user: { ...user, level } }, ref: { version: 'v3', user: user.name, level } });
    }
  }
  const profile = profileCommunities(service, ctx.inputs.communities, ctx.credentials);
  const defaults = ctx.inputs.tryDefaults ? ctx.baseline<SnmpBaseline>('snmp').defaultCommunities.map((d) => d.community) : [];
  for (const c of communityCandidates(profile, defaults)) {
    for (const version of ['v2c', 'v1'] as const) ordered.push({ access: { version, community: c.community }, ref: { version, community: communityRef(c) } });
  }
  if (ordered.length === 0) throw new MissingInput('no SNMP access to read with: give credentials snmp (v3) or snmp.community, or allow tryDefaults');
  const readable = (t: Awaited<ReturnType<typeof tryAccess>>) => t.result === 'response' && t.response.errorStatus === 'NoError' && t.response.varbinds[0]?.value !== null;
  // The profile's own accesses one by one; the well-known list a few at a time.
  const own = ordered.filter((o) => o.ref.version === 'v3' || o.ref.community.source === 'profile');
  for (const o of own) if (readable(await tryAccess(endpoint, o.access, options))) return o;
  const rest = ordered.filter((o) => !own.includes(o));
  for (let start = 0; start < rest.length; start += 4) {
    const batch = rest.slice(start, start + 4);
    const trials = await mapLimited(batch, 4, (o) => tryAccess(endpoint, o.access, options));
    const i = trials.findIndex(readable);
    if (i !== -1) return batch[i];
  }
  return undefined;
}

async function readSystem(client: SnmpClient): Promise<Record<string, SnmpValue['value']>> {
  const oids = SYSTEM.map((k) => OIDS[k]);
  let res = await client.get(oids);
  // SNMPv1 fails the whole request when one object is missing: then ask one by one.
  const values = res.errorStatus === 'NoError' ? res.varbinds : [];
  if (res.errorStatus !== 'NoError') {
    for (const oid of oids) {
      res = await client.get([oid]);
      values.push(res.varbinds[0] ?? { oid, type: res.errorStatus, value: null });
    }
  }
  return Object.fromEntries(SYSTEM.map((k, i) => [k, values[i]?.value ?? null]));
}

function entityRows(values: SnmpValue[]): Record<string, string | number | null>[] {
  const rows = new Map<string, Record<string, string | number | null>>();
  for (const v of values) {
    const [column, ...index] = v.oid.slice(OIDS.entPhysicalEntry.length + 1).split('.');
    const key = ENTITY_COLUMNS[Number(column)];
    if (!key) continue;
    const id = index.join('.');
    const row = rows.get(id) ?? { index: Number(id) };
    let value = typeof v.value === 'boolean' ? String(v.value) : v.value;
    if (key === 'class' && typeof value === 'number') value = ENTITY_CLASSES[value] ?? value;
    row[key] = value;
    rows.set(id, row);
  }
  return [...rows.values()];
}

function compare(declared: string | undefined, reported: (string | number | null | undefined)[]): 'match' | 'mismatch' | 'not-reported' | 'not-declared' {
  if (!declared) return 'not-declared';
  const seen = reported.filter((r): r is string | number => r !== null && r !== undefined && String(r).length > 0).map(String);
  if (seen.length === 0) return 'not-reported';
  return seen.some((s) => s === declared || s.includes(declared)) ? 'match' : 'mismatch';
}

export default defineProbe<Inputs>({
  id: 'snmp.inventory',
  protocol: 'snmp',
  title: 'SNMP inventory: system group and ENTITY-MIB physical entities',
  description: 'Reads the system group (sysDescr, sysObjectID, sysUpTime, sysContact, sysName, sysLocation) and walks '
    + 'ENTITY-MIB entPhysicalEntry (descriptions, classes, hardware/firmware/software revisions, serial numbers, model names) '
    + 'with the profile\'s SNMPv3 user, its communities, or (tryDefaults) a well-known community that answers. A device that '
    + 'identifies itself this way gives positive, partial evidence for CR 7.8 (S2 accepts standard inventory such as SNMP). '
    + 'Reported serial and firmware are compared with the profile\'s component section. Read-only GET/GetNext requests.',
  requirements: ['CR 7.8'],
  findings: {
    incomplete: 'no ENTITY-MIB, or no serial number or no firmware revision in it',
    mismatch: "the profile's serial, firmware or model is not what the device reports over SNMP",
  },
  safety: 'active',
  scope: 'service',
  appliesTo: ['snmp'],
  timeoutMs: 60_000,
  inputs: {
    schema: {
      type: 'object', additionalProperties: false,
      properties: {
        ...SNMP_INPUT_PROPERTIES,
        maxEntityValues: { type: 'integer', minimum: 1, maximum: 100_000 },
      },
    },
    defaults: { tryDefaults: true, requestTimeoutMs: 1000, retries: 1, maxEntityValues: 2000 },
  },
  async run(ctx) {
    const service = ctx.service!;
    const endpoint = { host: service.host, port: service.port };
    const options = { timeoutMs: ctx.inputs.requestTimeoutMs, retries: ctx.inputs.retries, signal: ctx.signal };
    const found = await findAccess(ctx, options);
    if (!found) throw new TargetTimeout(`${service.name}: no access the profile gives (nor a well-known community) reads sysDescr.0`);

    const read = await withSnmp(endpoint, found.access, options, async (client) => {
      const system = await readSystem(client);
      const walk = await client.walk(OIDS.entPhysicalEntry, ctx.inputs.maxEntityValues);
      return { system, walk, engine: client.engine() };
    });
    const entities = entityRows(read.walk.values);
    const engine: EngineInfo | undefined = read.engine;
    const { component } = ctx;
    const comparison = {
      serial: compare(component.serial, entities.map((e) => e.serialNum)),
      firmware: compare(component.firmware, [...entities.flatMap((e) => [e.firmwareRev, e.softwareRev]), read.system.sysDescr as string | null]),
      model: compare(component.model, [...entities.map((e) => e.modelName), read.system.sysDescr as string | null]),
    };
    const observations = {
      access: found.ref,
      system: read.system,
      entityMib: entities.length > 0,
      entities,
      entityValues: read.walk.values.length,
      truncated: read.walk.truncated,
      comparison,
      ...(engine ? { engine } : {}),
    };
    const evidence = [
      ctx.evidence.save('inventory.json', observations),
      ctx.evidence.save('entity-walk.json', read.walk.values),
    ];

    const findings: Finding[] = [];
    const identified = typeof read.system.sysDescr === 'string' && read.system.sysDescr.length > 0 && typeof read.system.sysObjectID === 'string';
    const withSerial = entities.filter((e) => e.serialNum);
    const withFirmware = entities.filter((e) => e.firmwareRev || e.softwareRev);
    if (withSerial.length === 0 || withFirmware.length === 0) {
      findings.push(finding({
        code: 'incomplete', severity: 'info', requirements: [], evidence,
        message: entities.length === 0
          ? 'no ENTITY-MIB entPhysicalTable: serial numbers and firmware revisions are not reported over SNMP'
          : `ENTITY-MIB reports ${entities.length} entities but ${withSerial.length === 0 ? 'no serial number' : 'no firmware/software revision'}`,
      }));
    }
    for (const [what, result] of Object.entries(comparison)) {
      if (result === 'mismatch') {
        findings.push(finding({
          code: 'mismatch', severity: 'info', requirements: [], evidence,
          message: `the ${what} the profile declares (${String(component[what as 'serial' | 'firmware' | 'model'])}) is not what the device reports over SNMP`,
        }));
      }
    }
    // Positive evidence only: a device without SNMP inventory may still meet CR 7.8 by other means.
    const outcomes = identified
      ? judge([{
        requirement: 'CR 7.8', coverage: 'partial',
        passReason: `SNMP reports the device identity (sysDescr, sysObjectID)${entities.length > 0 ? ` and ${entities.length} ENTITY-MIB entities (${withSerial.length} with serial, ${withFirmware.length} with firmware/software revision)` : ''}`,
      }], findings)
      : [];
    return { observations, findings, outcomes };
  },
});
