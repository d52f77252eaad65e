/**
 * The component's vendor, model and firmware from what the services said about the device. Structured
 * identity answers (Modbus 43/14, the BACnet Device object, EtherNet/IP ListIdentity) come before text that
 * is read for a version (SNMP sysDescr, the FTP greeting). The first source that names a field gives it; the
 * draft's comment names that source, and says "guessed" when the value was read out of free text or when
 * another source disagrees.
 */

export type ComponentField = 'vendor' | 'model' | 'firmware';

/** One service's identification facts and where they came from ("udp/47808"). */
export interface FactSource {
  where: string;
  facts: Readonly<Record<string, string>>;
}

interface Candidate {
  value: string;
  /** "BACnet Device object (udp/47808)". */
  source: string;
  /** Read out of free text (a banner, sysDescr): a guess even when nothing disagrees. */
  fromText: boolean;
}

/** What the draft says about one field: the value chosen, its source, the sources that disagree. */
export interface ComponentFact {
  value: string;
  source: string;
  guessed: boolean;
  disagreeing: string[];
}

const FIRMWARE_IN_TEXT = /\bfirmware\s+v?(\d+(?:\.\d+)+)/i;

/** The value without the vendor's name in front ("Example Automation EPLC-1" → "EPLC-1" when the vendor is known). */
const withoutVendor = (text: string, vendor: string | undefined) =>
  vendor && text.toLowerCase().startsWith(`${vendor.toLowerCase()} `) ? text.slice(vendor.length + 1).trim() : undefined;

/** Every source's candidates for one field, most reliable first. */
function candidatesFor(field: ComponentField, sources: readonly FactSource[], vendor: string | undefined): Candidate[] {
  const out: Candidate[] = [];
  const add = (value: string | undefined, source: string, fromText = false) => {
    if (value?.trim()) out.push({ value: value.trim(), source, fromText });
  };
  const each = (fn: (f: Readonly<Record<string, string>>, where: string) => void) => sources.forEach((s) => fn(s.facts, s.where));
  const keys = { vendor: ['vendorName', 'vendorName'], model: ['modelName', 'modelName'], firmware: ['majorMinorRevision', 'firmwareRevision'] }[field];
  each((f, where) => add(f[`modbus.${keys[0]}`], `Modbus 43/14 (${where})`));
  each((f, where) => add(f[`bacnet.${keys[1]}`], `BACnet Device object (${where})`));
  each((f, where) => {
    // ListIdentity has a numeric vendor id (no name), a product name and a major.minor revision.
    if (field === 'model') add(withoutVendor(f['enip.productName'] ?? '', vendor), `EtherNet/IP ListIdentity product name (${where})`, true);
    if (field === 'firmware') add(f['enip.revision'], `EtherNet/IP ListIdentity revision (${where})`);
  });
  each((f, where) => {
    const descr = f['snmp.sysDescr'];
    if (!descr) return;
    if (field === 'firmware') add(FIRMWARE_IN_TEXT.exec(descr)?.[1], `SNMP sysDescr (${where})`, true);
    if (field === 'model') add(withoutVendor(descr.replace(FIRMWARE_IN_TEXT, '').trim(), vendor), `SNMP sysDescr (${where})`, true);
  });
  if (field === 'firmware') each((f, where) => add(FIRMWARE_IN_TEXT.exec(f.ftpBanner ?? '')?.[1], `FTP greeting (${where})`, true));
  return out;
}

/** Firmware "1.0" (a CIP major.minor revision) agrees with "1.0.0"; other fields agree when equal ignoring case. */
function agrees(field: ComponentField, a: string, b: string): boolean {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  if (field !== 'firmware') return x === y;
  const [shorter, longer] = x.length <= y.length ? [x, y] : [y, x];
  return longer === shorter || longer.startsWith(`${shorter}.`);
}

function decide(field: ComponentField, candidates: readonly Candidate[]): ComponentFact | undefined {
  const [best, ...others] = candidates;
  if (!best) return undefined;
  const disagreeing = others.filter((c) => !agrees(field, best.value, c.value)).map((c) => `${c.source} says "${c.value}"`);
  return { value: best.value, source: best.source, guessed: best.fromText || disagreeing.length > 0, disagreeing };
}

/** Vendor, model and firmware from every service's facts (vendor first: the model is read with it). */
export function componentIdentity(sources: readonly FactSource[]): Partial<Record<ComponentField, ComponentFact>> {
  const vendor = decide('vendor', candidatesFor('vendor', sources, undefined));
  const model = decide('model', candidatesFor('model', sources, vendor?.value));
  const firmware = decide('firmware', candidatesFor('firmware', sources, vendor?.value));
  return { ...(vendor ? { vendor } : {}), ...(model ? { model } : {}), ...(firmware ? { firmware } : {}) };
}

/** The comment after a component line: where the value came from, and why it is a guess. */
export function factComment(fact: ComponentFact): string {
  const why = fact.disagreeing.length > 0 ? `guessed: sources disagree (${fact.disagreeing.join('; ')})` : fact.guessed ? 'guessed: read from free text' : '';
  return `from ${fact.source}${why ? `; ${why}` : ''}`;
}
