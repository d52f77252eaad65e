import type { CommandResult } from './session';

/**
 * Parsers turn one command's output into named facts. A fact is null when the thing is not configured
 * (a fact in its own right, judged by the rules) and absent when the output does not tell; a source
 * whose output cannot be read at all is undetermined with a reason.
 */
export type FactValue = number | string | boolean | null | readonly string[];
export type ParsedSource = { facts: Readonly<Record<string, FactValue>> } | { undetermined: string };

/** What a parser may compare against: the profile's declared communication matrix. */
export interface ParseContext {
  declaredPorts: { tcp: ReadonlySet<number>; udp: ReadonlySet<number> };
}

type Parser = (r: CommandResult, ctx: ParseContext) => ParsedSource;

type FileState = { state: 'read'; lines: string[] } | { state: 'missing' } | { state: 'unreadable'; why: string };

function failedToRun(r: CommandResult): string | undefined {
  if (r.timedOut) return `${r.argv[0]} did not finish in time`;
  if (r.truncated) return `${r.argv[0]} printed more than the output cap`;
  if (r.exitCode === 127) return `${r.viaSudo && /sudo/.test(r.stderr) ? 'sudo' : r.argv[0]} is not installed on the device`;
  if (r.viaSudo && r.exitCode === 1 && /^sudo: /m.test(r.stderr)) return `needs root and "sudo -n" refused: ${firstLine(r.stderr)}`;
  return undefined;
}

const firstLine = (s: string) => s.trim().split('\n')[0] ?? '';

/** `grep -H[r] . FILE...`: each file's non-empty lines, or why it could not be read (from grep's stderr). */
export function readFiles(r: CommandResult): Map<string, FileState> | string {
  const bad = failedToRun(r);
  if (bad) return bad;
  const paths = r.argv.slice(3);
  const files = new Map<string, FileState>();
  for (const line of r.stdout.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const file = line.slice(0, colon);
    const entry = files.get(file);
    if (entry?.state === 'read') entry.lines.push(line.slice(colon + 1));
    else files.set(file, { state: 'read', lines: [line.slice(colon + 1)] });
  }
  for (const line of r.stderr.split('\n')) {
    const m = /^grep: (\/[^:]+): (.+)$/.exec(line.trim());
    if (!m) continue;
    files.set(m[1], /No such file or directory/.test(m[2]) ? { state: 'missing' } : { state: 'unreadable', why: m[2] });
  }
  // A file grep read without printing anything is empty (or all blank lines).
  for (const p of paths) if (!files.has(p) && ![...files.keys()].some((f) => f.startsWith(`${p}/`))) files.set(p, { state: 'read', lines: [] });
  return files;
}

const content = (line: string) => line.replace(/#.*$/, '').trim();

/** Settings files of the form "KEY VALUE" or "key = value"; the first occurrence wins unless `last`. */
function settings(lines: readonly string[], separator: RegExp, last = false): Map<string, string> {
  const map = new Map<string, string>();
  for (const raw of lines) {
    const line = content(raw);
    const m = separator.exec(line);
    if (!m) continue;
    if (!last && map.has(m[1])) continue;
    map.set(m[1], m[2].trim());
  }
  return map;
}

const num = (v: string | undefined): number | null => (v !== undefined && /^-?\d+$/.test(v) ? Number(v) : null);

function oneFile(r: CommandResult, file: string, onMissing: () => ParsedSource, parse: (lines: string[]) => ParsedSource): ParsedSource {
  const files = readFiles(r);
  if (typeof files === 'string') return { undetermined: files };
  const f = files.get(file);
  if (!f || f.state === 'missing') return onMissing();
  if (f.state === 'unreadable') return { undetermined: `${file} is not readable: ${f.why}` };
  return parse(f.lines);
}

/** login.defs(5): defaults where a key is absent are shadow-utils' (no ageing: 99999 and 0 days). */
const loginDefs: Parser = (r) => oneFile(r, '/etc/login.defs', () => ({ undetermined: '/etc/login.defs does not exist' }), (lines) => {
  const s = settings(lines, /^([A-Z_]+)\s+(\S+)/);
  return { facts: { PASS_MAX_DAYS: num(s.get('PASS_MAX_DAYS')) ?? 99999, PASS_MIN_DAYS: num(s.get('PASS_MIN_DAYS')) ?? 0, ENCRYPT_METHOD: s.get('ENCRYPT_METHOD') ?? null } };
});

/**
 * PAM's password stack (Debian's common-password) and pwquality.conf: which quality module runs and the
 * minimum length it enforces (a module argument overrides pwquality.conf; libpwquality's default is 8).
 */
const pamPassword: Parser = (r) => {
  const files = readFiles(r);
  if (typeof files === 'string') return { undetermined: files };
  const pam = files.get('/etc/pam.d/common-password');
  if (!pam || pam.state !== 'read') return { undetermined: `/etc/pam.d/common-password ${pam?.state === 'unreadable' ? `is not readable: ${pam.why}` : 'does not exist (not a Debian PAM layout)'}` };
  const stack = pam.lines.map(content).filter((l) => /^password\s/.test(l));
  const module = (name: string) => stack.find((l) => new RegExp(`\\s${name}\\.so(\\s|$)`).test(l));
  const pwquality = module('pam_pwquality') ?? module('pam_cracklib');
  const other = module('pam_passwdqc');
  let minlen: number | null = null;
  if (pwquality) {
    const conf = files.get('/etc/security/pwquality.conf');
    const confMin = conf?.state === 'read' ? num(settings(conf.lines, /^(\w+)\s*=\s*(.*)$/).get('minlen')) : null;
    minlen = num(/\sminlen=(\d+)/.exec(pwquality)?.[1]) ?? confMin ?? 8;
  }
  return {
    facts: {
      qualityModule: pwquality !== undefined || other !== undefined,
      ...(other && !pwquality ? {} : { minlen }),
    },
  };
};

const NO_LOGIN_SHELLS = /(^|\/)(nologin|false|sync|halt|shutdown)$/;

/** /etc/passwd: ids shared by several accounts, uid-0 accounts other than root, accounts with a login shell. */
const passwd: Parser = (r) => oneFile(r, '/etc/passwd', () => ({ undetermined: '/etc/passwd does not exist' }), (lines) => {
  const entries = lines.map((l) => l.split(':')).filter((f) => f.length >= 7);
  const byUid = new Map<string, string[]>();
  for (const [name, , uid] of entries) byUid.set(uid, [...(byUid.get(uid) ?? []), name]);
  return {
    facts: {
      duplicateUids: [...byUid].filter(([, names]) => names.length > 1).map(([uid, names]) => `uid ${uid}: ${names.join(', ')}`),
      extraUid0: entries.filter(([name, , uid]) => uid === '0' && name !== 'root').map(([name]) => name),
      loginAccounts: entries.filter((f) => f[6] !== '' && !NO_LOGIN_SHELLS.test(f[6])).map(([name]) => name),
    },
  };
});

/** /etc/shadow (root only): accounts whose password field is empty, i.e. that log in without a password. */
const shadow: Parser = (r) => oneFile(r, '/etc/shadow', () => ({ undetermined: '/etc/shadow does not exist' }), (lines) => ({
  facts: { emptyPasswords: lines.map((l) => l.split(':')).filter((f) => f.length >= 2 && f[1] === '').map(([name]) => name) },
}));

/** Keeps shadow's structure in the evidence (with or without grep's file-name prefix) but never a password hash. */
export function redactShadow(text: string): string {
  return text.replace(/^((?:\/[^:\n]*:)?[^:\n]*:)([^:\n]*)(:.*)$/gm, (_m, pre: string, hash: string, rest: string) => {
    const kind = hash === '' ? '' : /^[!*]/.test(hash) ? `${hash[0]}<locked>` : `<hash ${/^\$[^$]+\$/.exec(hash)?.[0] ?? 'crypt'}>`;
    return `${pre}${kind}${rest}`;
  });
}

const LOOPBACK = /^(127\.|\[?::1\]?$|localhost)/;

/** `ss -tulpnH`: listening sockets; those on non-loopback addresses whose port the profile does not declare. */
const listeners: Parser = (r, ctx) => {
  const bad = failedToRun(r) ?? (r.exitCode !== 0 ? `ss failed (exit ${r.exitCode}): ${firstLine(r.stderr)}` : undefined);
  if (bad) return { undetermined: bad };
  const all: string[] = [];
  const undeclared: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 5 || !/^(tcp|udp)$/.test(cols[0])) continue;
    const transport = cols[0] as 'tcp' | 'udp';
    const local = cols[4];
    const colon = local.lastIndexOf(':');
    const address = local.slice(0, colon).replace(/%.*$/, '');
    const port = Number(local.slice(colon + 1));
    const process = /users:\(\("([^"]*)"/.exec(line)?.[1];
    const label = `${transport} ${address}:${port}${process !== undefined ? ` (${process})` : ''}`;
    all.push(label);
    if (!LOOPBACK.test(address) && !ctx.declaredPorts[transport].has(port)) undeclared.push(label);
  }
  return { facts: { listeners: all, undeclaredListeners: [...new Set(undeclared)] } };
};

/** `dpkg-query -l PKG...`: the packages in state "ii" (installed). */
const packages: Parser = (r) => {
  const bad = failedToRun(r);
  if (bad) return { undetermined: bad };
  const installed = r.stdout.split('\n').map((l) => /^ii\s+(\S+)/.exec(l)?.[1]).filter((p): p is string => p !== undefined).map((p) => p.replace(/:.*$/, ''));
  if (r.exitCode !== 0 && !/no packages found matching/.test(r.stderr)) return { undetermined: `dpkg-query failed (exit ${r.exitCode}): ${firstLine(r.stderr)}` };
  return { facts: { installed } };
};

const TRUE = /^"?(1|true|yes)"?;?$/i;

/** `apt-config dump`: options that let APT install packages without a valid signature. */
const aptConfig: Parser = (r) => {
  const bad = failedToRun(r) ?? (r.exitCode !== 0 ? `apt-config failed (exit ${r.exitCode})` : undefined);
  if (bad) return { undetermined: bad };
  const insecure = ['APT::Get::AllowUnauthenticated', 'Acquire::AllowInsecureRepositories', 'Acquire::AllowDowngradeToInsecureRepositories'];
  const set = r.stdout.split('\n').map((l) => /^(\S+)\s+(.*)$/.exec(l.trim())).filter((m) => m && insecure.includes(m[1]) && TRUE.test(m[2])).map((m) => m![1]);
  return { facts: { insecureOptions: [...new Set(set)] } };
};

/** auditd.conf(5); a missing file (no auditd) leaves every setting null, i.e. not configured. */
const auditdConf: Parser = (r) => oneFile(r, '/etc/audit/auditd.conf', () => ({
  facts: { space_left_action: null, admin_space_left_action: null, disk_full_action: null, disk_error_action: null, max_log_file_action: null },
}), (lines) => {
  const s = settings(lines, /^(\w+)\s*=\s*(.*)$/, true);
  const get = (k: string) => s.get(k)?.toLowerCase() ?? null;
  return {
    facts: {
      space_left_action: get('space_left_action'), admin_space_left_action: get('admin_space_left_action'),
      disk_full_action: get('disk_full_action'), disk_error_action: get('disk_error_action'), max_log_file_action: get('max_log_file_action'),
    },
  };
});

/** journald.conf(5) [Journal] section: SystemMaxUse and Storage (null when not set: journald's defaults). */
const journaldConf: Parser = (r) => oneFile(r, '/etc/systemd/journald.conf', () => ({ facts: { SystemMaxUse: null, Storage: null } }), (lines) => {
  const s = settings(lines, /^(\w+)\s*=\s*(.*)$/, true);
  return { facts: { SystemMaxUse: s.get('SystemMaxUse') || null, Storage: s.get('Storage')?.toLowerCase() ?? null } };
});

/** chrony.conf server/pool lines and timesyncd's NTP=: the configured time sources. */
const timeConfig: Parser = (r) => {
  const files = readFiles(r);
  if (typeof files === 'string') return { undetermined: files };
  const unreadable = [...files].filter(([, f]) => f.state === 'unreadable').map(([p]) => p);
  if (unreadable.length > 0) return { undetermined: `not readable: ${unreadable.join(', ')}` };
  const lines = (p: string) => { const f = files.get(p); return f?.state === 'read' ? f.lines.map(content) : []; };
  const chrony = lines('/etc/chrony/chrony.conf').filter((l) => /^(server|pool|peer)\s+\S+/.test(l)).map((l) => l.split(/\s+/).slice(0, 2).join(' '));
  const timesyncd = (settings(lines('/etc/systemd/timesyncd.conf'), /^(\w+)\s*=\s*(.*)$/, true).get('NTP') ?? '').split(/\s+/).filter(Boolean).map((s) => `timesyncd ${s}`);
  return { facts: { timeSources: [...chrony, ...timesyncd] } };
};

/** `chronyc -n tracking`: synchronised unless chronyd reports "Not synchronised". */
const chronyTracking: Parser = (r) => {
  const bad = failedToRun(r) ?? (r.exitCode !== 0 ? `chronyc could not ask chronyd (exit ${r.exitCode}): ${firstLine(r.stdout + r.stderr)}` : undefined);
  if (bad) return { undetermined: bad };
  const leap = /^Leap status\s*:\s*(.+)$/m.exec(r.stdout)?.[1]?.trim();
  if (!leap) return { undetermined: 'chronyc printed no leap status' };
  return { facts: { synchronised: leap !== 'Not synchronised' } };
};

/** `timedatectl show`: NTPSynchronized=yes|no. */
const timedatectl: Parser = (r) => {
  const bad = failedToRun(r) ?? (r.exitCode !== 0 ? `timedatectl failed (exit ${r.exitCode}): ${firstLine(r.stderr)}` : undefined);
  if (bad) return { undetermined: bad };
  const v = /^NTPSynchronized=(yes|no)$/m.exec(r.stdout)?.[1];
  return v ? { facts: { synchronised: v === 'yes' } } : { undetermined: 'timedatectl printed no NTPSynchronized' };
};

/** OpenSSH's compiled-in defaults (sshd_config(5), OpenSSH 9.x) for settings a file leaves out. */
const SSHD_DEFAULTS: Record<string, string> = { permitrootlogin: 'prohibit-password', maxauthtries: '6', passwordauthentication: 'yes', permitemptypasswords: 'no' };

function sshdFacts(s: ReadonlyMap<string, string>): ParsedSource {
  const get = (k: string) => s.get(k) ?? SSHD_DEFAULTS[k];
  const ciphers = s.get('ciphers');
  return {
    facts: {
      permitrootlogin: get('permitrootlogin').toLowerCase(), maxauthtries: num(get('maxauthtries')),
      passwordauthentication: get('passwordauthentication').toLowerCase(), permitemptypasswords: get('permitemptypasswords').toLowerCase(),
      // Without a Ciphers line the list is OpenSSH's default; ssh.algorithms judges what is offered.
      ...(ciphers !== undefined ? { ciphers: ciphers.split(',').filter(Boolean) } : {}),
    },
  };
}

/** `sshd -T` (root): the effective server configuration, lower-case keywords. */
const sshdEffective: Parser = (r) => {
  const bad = failedToRun(r) ?? (r.exitCode !== 0 ? `sshd -T failed (exit ${r.exitCode}): ${firstLine(r.stderr)}` : undefined);
  if (bad) return { undetermined: bad };
  return sshdFacts(settings(r.stdout.split('\n'), /^(\w+)\s+(.*)$/));
};

/**
 * sshd_config and the drop-ins of Debian's `Include /etc/ssh/sshd_config.d/*.conf`, in sshd's order (the
 * first value wins, drop-ins at the Include line); global settings only (reading stops at the first Match).
 */
const sshdConfig: Parser = (r) => {
  const files = readFiles(r);
  if (typeof files === 'string') return { undetermined: files };
  const main = files.get('/etc/ssh/sshd_config');
  if (!main || main.state !== 'read') return { undetermined: `/etc/ssh/sshd_config ${main?.state === 'unreadable' ? `is not readable: ${main.why}` : 'does not exist'}` };
  const dropIns = [...files].filter(([p, f]) => /^\/etc\/ssh\/sshd_config\.d\/[^/]+\.conf$/.test(p) && f.state === 'read').sort(([a], [b]) => a.localeCompare(b));
  const lines: string[] = [];
  for (const raw of main.lines) {
    const line = content(raw);
    if (/^match\s/i.test(line)) break;
    const include = /^include\s+(.*)$/i.exec(line);
    if (!include) { lines.push(line); continue; }
    if (include[1].trim() !== '/etc/ssh/sshd_config.d/*.conf') return { undetermined: `sshd_config includes ${include[1].trim()}, which this reader does not follow (sshd -T needs root)` };
    for (const [, f] of dropIns) lines.push(...(f as { lines: string[] }).lines.map(content).filter((l) => !/^match\s/i.test(l)));
  }
  const lower = lines.map((l) => l.replace(/^(\S+)/, (k) => k.toLowerCase()));
  return sshdFacts(settings(lower, /^(\w+)\s+(.*)$/));
};

/** Every parser a baseline may name, by name. */
export const PARSERS: Readonly<Record<string, Parser>> = {
  'login-defs': loginDefs, 'pam-password': pamPassword, passwd, shadow, listeners, packages, 'apt-config': aptConfig,
  'auditd-conf': auditdConf, 'journald-conf': journaldConf, 'time-config': timeConfig, 'chrony-tracking': chronyTracking,
  timedatectl, 'sshd-effective': sshdEffective, 'sshd-config': sshdConfig,
};

/** How a parser's output is kept as evidence (shadow without its hashes). */
export const EVIDENCE_FILTERS: Readonly<Record<string, (text: string) => string>> = { shadow: redactShadow };
