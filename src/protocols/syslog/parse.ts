/**
 * Syslog message parsing: RFC 5424 and the RFC 3164 ("BSD") forms devices actually send — with or without a
 * year, with an RFC 3339 timestamp in 3164 framing (rsyslog's forward format), without a host name, without
 * PRI. Parsing never throws: what cannot be read is returned with `format: 'unknown'` and the text as message,
 * because the raw record is the evidence and the parse is only our reading of it.
 */

import { FACILITIES, SEVERITIES } from '../../sdk';
import type { StructuredElement, SyslogMessage, SyslogTimestamp } from '../../sdk';

export { FACILITIES, SEVERITIES };
export type { StructuredElement, SyslogMessage, SyslogTimestamp };

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const NIL = '-';
const MONTH_MS = 31 * 86_400_000;
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})?$/;
/** "Oct 11 22:14:15", "Oct  1 22:14:15", "Oct 11 2024 22:14:15", with optional fraction. */
const BSD_TIME = /^([A-Z][a-z]{2}) ([ \d]\d)(?: (\d{4}))? (\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(?=\s|$)/;

function pri(text: string): { facility?: SyslogMessage['facility']; severity?: SyslogMessage['severity']; rest: string } {
  const m = /^<(\d{1,3})>/.exec(text);
  if (!m || Number(m[1]) > 191) return { rest: text };
  const value = Number(m[1]);
  return { facility: FACILITIES[value >> 3], severity: SEVERITIES[value & 7], rest: text.slice(m[0].length) };
}

/** RFC 3339 as RFC 5424 restricts it; a timestamp without zone is read as UTC and marked. */
export function parseRfc3339(text: string): SyslogTimestamp | undefined {
  const m = RFC3339.exec(text);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const ms = Number(frac.padEnd(3, '0').slice(0, 3));
  let epoch = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone && zone !== 'Z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    epoch -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return {
    text, epochMs: Number.isFinite(epoch) ? epoch : undefined, hasYear: true, hasZone: zone !== undefined,
    yearAssumed: false, fractionDigits: frac.length,
  };
}

/** The BSD timestamp; without a year, the year is inferred from `receivedAt`. */
function parseBsdTime(text: string, receivedAt: number): { ts: SyslogTimestamp; length: number } | undefined {
  const m = BSD_TIME.exec(text);
  if (!m) return undefined;
  const month = MONTHS.indexOf(m[1]);
  if (month < 0) return undefined;
  const [, , day, year, h, mi, s, frac = ''] = m;
  const at = (y: number) => Date.UTC(y, month, Number(day.trim()), Number(h), Number(mi), Number(s), Number(frac.padEnd(3, '0').slice(0, 3)));
  let epochMs: number;
  if (year) epochMs = at(Number(year));
  else {
    // The latest year that does not put the record more than a month after its arrival (a device clock may
    // run a little ahead; a December record read in January belongs to the year before).
    const now = new Date(receivedAt).getUTCFullYear();
    epochMs = [now + 1, now, now - 1].map(at).find((t) => t <= receivedAt + MONTH_MS) ?? at(now - 1);
  }
  return {
    ts: { text: m[0], epochMs, hasYear: year !== undefined, hasZone: false, yearAssumed: year === undefined, fractionDigits: frac.length },
    length: m[0].length,
  };
}

/** Splits "token rest" at the first space. */
function token(text: string): [string, string] {
  const i = text.indexOf(' ');
  return i < 0 ? [text, ''] : [text.slice(0, i), text.slice(i + 1)];
}

/** RFC 5424 STRUCTURED-DATA: "-" or one or more [id k="v" ...]; returns undefined when malformed. */
function structuredData(text: string): { elements: StructuredElement[]; rest: string } | undefined {
  if (text.startsWith(NIL)) return { elements: [], rest: text.slice(1) };
  const elements: StructuredElement[] = [];
  let i = 0;
  while (text[i] === '[') {
    const idEnd = text.slice(i + 1).search(/[ \]]/);
    if (idEnd < 0) return undefined;
    const id = text.slice(i + 1, i + 1 + idEnd);
    i += 1 + idEnd;
    const params: Record<string, string> = {};
    while (text[i] === ' ') {
      const eq = text.indexOf('="', i);
      if (eq < 0) return undefined;
      const name = text.slice(i + 1, eq);
      let value = '';
      let j = eq + 2;
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && j + 1 < text.length) j++;
        value += text[j];
      }
      if (j >= text.length) return undefined;
      params[name] = value;
      i = j + 1;
    }
    if (text[i] !== ']') return undefined;
    elements.push({ id, params });
    i += 1;
  }
  return elements.length ? { elements, rest: text.slice(i) } : undefined;
}

function nilable(value: string): string | undefined {
  return value === NIL || value === '' ? undefined : value;
}

function parse5424(head: ReturnType<typeof pri>): SyslogMessage | undefined {
  if (!head.rest.startsWith('1 ')) return undefined;
  const [ts, r1] = token(head.rest.slice(2));
  const [hostname, r2] = token(r1);
  const [appName, r3] = token(r2);
  const [procId, r4] = token(r3);
  const [msgId, r5] = token(r4);
  const timestamp = ts === NIL ? undefined : parseRfc3339(ts);
  if (ts !== NIL && !timestamp) return undefined;
  const sd = structuredData(r5);
  if (!sd) return undefined;
  // The message may start with a UTF-8 BOM (RFC 5424 §6.4).
  const message = sd.rest.replace(/^ /, '').replace(/^\uFEFF/, '');
  return {
    format: '5424', facility: head.facility, severity: head.severity, timestamp, hostname: nilable(hostname),
    appName: nilable(appName), procId: nilable(procId), msgId: nilable(msgId), structuredData: sd.elements, message,
  };
}

/** "TAG[pid]: message" or "TAG: message"; a tag is at most 48 characters of [A-Za-z0-9_./-]. */
function tagOf(text: string): { appName?: string; procId?: string; message: string } {
  const m = /^([\w./-]{1,48})(?:\[([^\]\s]{1,32})\])?: ?/.exec(text);
  if (!m) return { message: text };
  return { appName: m[1], procId: m[2], message: text.slice(m[0].length) };
}

function parse3164(head: ReturnType<typeof pri>, receivedAt: number): SyslogMessage | undefined {
  let rest = head.rest;
  let timestamp: SyslogTimestamp | undefined;
  const [first, afterFirst] = token(rest);
  const iso = parseRfc3339(first);
  if (iso) {
    timestamp = iso;
    rest = afterFirst;
  } else {
    const bsd = parseBsdTime(rest, receivedAt);
    if (bsd) {
      timestamp = bsd.ts;
      rest = rest.slice(bsd.length).replace(/^ /, '');
    }
  }
  if (!timestamp && head.facility === undefined) return undefined;
  // After the time comes the host name, unless the device left it out and the tag follows at once.
  let hostname: string | undefined;
  if (timestamp) {
    const [candidate, after] = token(rest);
    const looksLikeTag = /^[\w./-]+(\[[^\]]*\])?:$/.test(candidate);
    if (!looksLikeTag && candidate && after) {
      hostname = candidate;
      rest = after;
    }
  }
  const tag = tagOf(rest);
  return {
    format: '3164', facility: head.facility, severity: head.severity, timestamp, hostname,
    appName: tag.appName, procId: tag.procId, structuredData: [], message: tag.message,
  };
}

/** Parses one syslog message (without transport framing); `receivedAt` resolves a missing year. */
export function parseSyslog(text: string, receivedAt: number = Date.now()): SyslogMessage {
  const trimmed = text.replace(/[\r\n\0]+$/, '');
  const head = pri(trimmed);
  return parse5424(head) ?? parse3164(head, receivedAt) ?? {
    format: 'unknown', facility: head.facility, severity: head.severity, structuredData: [], message: head.rest,
  };
}
