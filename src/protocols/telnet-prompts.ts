/**
 * What the text a telnet service prints before anyone types ends in: a login prompt, a password prompt,
 * a command prompt (shell), or something this grammar cannot tell. The grammar is data (the tables
 * below, each rule with the devices it is seen on and where the string is documented) and the tables
 * are policed by test/protocols/telnet-prompts.test.ts, including against the translations Debian ships
 * for shadow's login and Linux-PAM.
 *
 * The decision is about the last non-empty line once terminal control is removed: a prompt waits for
 * input, so it is the last thing a device prints. A label followed by ':' or '>' (or '：') and nothing
 * else is a prompt; "Last login: Mon ..." is not, because text follows the colon.
 */

/* eslint-disable no-control-regex -- terminal control characters are what this module strips */

export type PromptKind = 'login-prompt' | 'password-prompt' | 'shell' | 'unknown';

export interface PromptRule {
  /** Stable identifier, e.g. "de.benutzername"; recorded in the evidence with the decision. */
  readonly id: string;
  readonly kind: 'login' | 'password';
  /** The words before the terminator, as a regular expression source (matched case-insensitively). */
  readonly label: string;
  /** Languages (BCP 47) whose prompts this rule covers. */
  readonly languages: readonly string[];
  /** Devices and software known to print it. */
  readonly seenOn: string;
  /** Where the string is documented, precisely enough to look it up. */
  readonly source: string;
}

/** A rule that reads the whole greeting, for devices whose prompt line alone would mislead. */
export interface BannerRule {
  readonly id: string;
  readonly kind: 'login' | 'password';
  /** Matched against the whole screen text (case-insensitive). */
  readonly pattern: RegExp;
  readonly seenOn: string;
  readonly source: string;
}

export interface ShellRule {
  readonly id: string;
  /** Matched against the last line. */
  readonly pattern: RegExp;
  readonly seenOn: string;
  readonly source: string;
}

const NMAP = 'nmap 7.93 nmap-service-probes (Debian nmap-common), line';
const PAM = 'Linux-PAM (linux-pam/linux-pam@ddab692c; Debian libpam-runtime 1.5.2) po/<lang>.po';
const SHADOW = 'shadow login (Debian login 1:4.13) po/<lang>.po';
const OXIDIZED = 'oxidized (ytti/oxidized@687ed426) lib/oxidized/model/';
const NOC = 'NOC (nocproject/noc@9c98211a) sa/profiles/';

/** Password prompts, checked before login prompts ("Login password>" asks for a password). */
export const PASSWORD_PROMPTS: readonly PromptRule[] = [
  {
    id: 'en.password', kind: 'password', label: 'password|passwd|passcode|pass ?phrase', languages: ['en', 'it'],
    seenOn: 'Cisco IOS "User Access Verification / Password: ", HP JetDirect, DrayTek, Siemens remote management "Password :", '
      + 'Moxa NPort "Please keyin your password:", Lantronix MSS1 "Login password> ", Zhone "Password>", AVM "Fritz!Box web password: "',
    source: `${NMAP} 4062, 3841, 3835, 4284, 4621, 4288; Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (Moxa NPort); `
      + `${NOC}Zhone/Bitstorm/profile.py; nmap scripts/telnet-brute.nse is_password_prompt; `
      + 'Metasploit lib/msf/core/auxiliary/login.rb @password_regex; Linux-PAM it.po "Password: "',
  },
  {
    id: 'de.passwort', kind: 'password', label: 'passwort|kennwort', languages: ['de'],
    seenOn: 'German-localised Linux login and device consoles',
    source: `${SHADOW} and ${PAM} de: msgid "Password: " -> "Passwort: "; THC-Hydra hydra-telnet.c matches "ennwort" as a password prompt`,
  },
  {
    id: 'fr.mot-de-passe', kind: 'password', label: 'mot de passe', languages: ['fr'],
    seenOn: 'French-localised Linux login', source: `${SHADOW} and ${PAM} fr: msgid "Password: " -> "Mot de passe : "`,
  },
  {
    // The n spelling is the ASCII fallback of consoles without Latin-1 (not separately documented).
    id: 'es.contrasena', kind: 'password', label: 'contrase(?:ñ|n)a', languages: ['es'],
    seenOn: 'Spanish-localised Linux login', source: `${SHADOW} and ${PAM} es: msgid "Password: " -> "Contraseña: "`,
  },
  {
    id: 'pt.senha', kind: 'password', label: 'senha|palavra-passe', languages: ['pt', 'pt-BR'],
    seenOn: 'Portuguese-localised Linux login', source: `${SHADOW} and ${PAM} pt_BR "Senha: ", pt "Palavra-passe: "`,
  },
  {
    id: 'nl.wachtwoord', kind: 'password', label: 'wachtwoord', languages: ['nl'],
    seenOn: 'Dutch-localised Linux login', source: `${SHADOW} and ${PAM} nl: "Wachtwoord: "`,
  },
  {
    id: 'ja.password', kind: 'password', label: 'パスワード', languages: ['ja'],
    seenOn: 'Japanese-localised Linux login', source: `${SHADOW} and ${PAM} ja: "パスワード: "`,
  },
  {
    id: 'sv-pl-ru-zh.password', kind: 'password', label: 'lösenord|hasło|пароль|密码', languages: ['sv', 'pl', 'ru', 'zh-CN'],
    seenOn: 'Swedish, Polish, Russian, Chinese-localised Linux login', source: `${SHADOW} and ${PAM} sv, pl, ru, zh_CN: msgid "Password: "`,
  },
];

export const LOGIN_PROMPTS: readonly PromptRule[] = [
  {
    id: 'en.login', kind: 'login', label: 'log ?[io]n|log in', languages: ['en', 'de', 'fr', 'it', 'pt', 'pt-BR', 'pl', 'ja'],
    seenOn: 'Linux/BusyBox "(none) login: ", "<host> login: ", Windows "Welcome to Microsoft Telnet Service ... login: ", '
      + 'MikroTik RouterOS "Login: ", Allied Telesyn "Login: ", Alcatel "login :", Zhone "Login>", Cisco 1721 "login:"',
    source: `${NMAP} 4170, 4205, 4165, 3890, 4246, 4160; ${OXIDIZED}routeros.rb, aos.rb; ${NOC}Zhone/Bitstorm/profile.py; `
      + `${PAM} msgid "login:" (libpam/pam_item.c; de "Login:", fr "login :"); ${SHADOW} msgid "%s login: "; `
      + 'nmap scripts/telnet-brute.nse is_username_prompt; Metasploit login.rb @login_regex',
  },
  {
    id: 'en.login-name', kind: 'login', label: 'login ?name|login username|log ?on name|account name|login as', languages: ['en'],
    seenOn: 'HP ProCurve and Foundry "Please Enter Login Name:", HP iLO "Login Name:", GoodTech "Login username: ", '
      + 'Ataman "Account Name: ", AudioCodes "login as: "',
    source: `${NMAP} 4196, 4019, 4034; ${NOC}HP/ProCurve/profile.py, HP/iLO2/profile.py; ${OXIDIZED}audiocodes.rb`,
  },
  {
    id: 'en.username', kind: 'login', label: 'user ?name|user ?id', languages: ['en'],
    seenOn: 'Cisco IOS "User Access Verification / Username: ", Huawei VRP "Username:" and "User name (<N chars):", '
      + 'Lantronix "Username> ", Emerson "> User name (1-10 chars): ", ZyXEL "User name:", Shiva "@ Userid:"',
    source: `${NMAP} 3954, 3958, 4041, 4079, 4208, 4819; ${NOC}Huawei/VRP3/profile.py; ${OXIDIZED}vrp.rb, zynos.rb; `
      + 'Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (Shiva); Metasploit login.rb @login_regex user(name|id|)',
  },
  {
    id: 'en.user', kind: 'login', label: 'user', languages: ['en'],
    seenOn: 'Hirschmann Classic and HiOS "User:", Aruba switches "User: ", AVM "Fritz!Box user: ", TP-Link "User:"',
    source: `${OXIDIZED}hirschmann.rb, hios.rb, aosw.rb; ${NMAP} 4143, 4144, 4169; ${NOC}TPLink/T2600G/profile.py`,
  },
  {
    id: 'de.benutzername', kind: 'login', label: 'benutzername|benutzerkennung|benutzer|loginname', languages: ['de'],
    seenOn: 'German-localised device consoles ("Benutzername: ", issue 15)',
    source: 'gettext de: psql-15 and PackageKit msgid "Username" -> "Benutzername"; coreutils msgid "Login name: " -> "Loginname: "',
  },
  {
    id: 'fr.utilisateur', kind: 'login', label: 'nom d[\'’]utilisateur|nom de l[\'’]utilisateur|utilisateur|identifiant|connexion', languages: ['fr'],
    seenOn: 'French-localised Linux login ("<host> connexion :") and consoles',
    source: `${SHADOW} fr: msgid "%s login: " -> "%s connexion :"; gettext fr: PackageKit "Username" -> "Nom d'utilisateur", `
      + 'coreutils "Login name: " -> "Identifiant : "',
  },
  {
    id: 'es.usuario', kind: 'login', label: 'nombre de usuario|usuario|nombre', languages: ['es'],
    seenOn: 'Spanish-localised Linux login ("<host> nombre: ") and consoles',
    source: `${SHADOW} es: msgid "%s login: " -> "%s nombre: "; ${PAM} es: "login:" -> "nombre de usuario:"; gettext es: PackageKit "Username" -> "Usuario"`,
  },
  {
    id: 'it.utente', kind: 'login', label: 'nome utente|utente|nome di accesso', languages: ['it'],
    seenOn: 'Italian-localised consoles',
    source: 'gettext it: psql-15 and PackageKit "Username" -> "Nome utente", wget "Username for ..." -> "Nome utente per ...: ", coreutils "Login name: " -> "Nome di accesso: "',
  },
  {
    id: 'pt.utilizador', kind: 'login', label: 'nome de usu[aá]rio|nome do utilizador|usu[aá]rio|utilizador|credencial', languages: ['pt', 'pt-BR'],
    seenOn: 'Portuguese-localised Linux-PAM prompt ("credencial:") and consoles',
    source: `${PAM} pt: "login:" -> "credencial:"; gettext PackageKit "Username": pt "Nome do utilizador", pt_BR "Nome de usuário"`,
  },
  {
    id: 'nl.gebruikersnaam', kind: 'login', label: 'gebruikersnaam|gebruiker', languages: ['nl'],
    seenOn: 'Dutch-localised Linux login ("<host> gebruikersnaam: ")',
    source: `${SHADOW} and ${PAM} nl: "%s login: " -> "%s gebruikersnaam: ", "login:" -> "gebruikersnaam:"`,
  },
  {
    id: 'ja.login', kind: 'login', label: 'ログイン|ユーザー?名', languages: ['ja'],
    seenOn: 'Japanese-localised Linux-PAM prompt and consoles',
    source: `${PAM} ja: "login:" -> "ログイン:"; gettext ja: psql-15 "Username" -> "ユーザー名", wget "Username for ..." -> "... のユーザ名: "`,
  },
  {
    id: 'sv-ru-zh.login', kind: 'login', label: 'inloggning|användarnamn|учетная запись|имя пользователя|登录|用户名', languages: ['sv', 'ru', 'zh-CN'],
    seenOn: 'Swedish, Russian, Chinese-localised Linux login',
    source: `${SHADOW} sv "inloggning: ", ru "имя пользователя: "; ${PAM} ru "учетная запись:", zh_CN "登录："; gettext sv/zh_CN psql-15 "Username"`,
  },
  {
    // Shadow's Brazilian translation puts the host name after the word: "Login %s: ". Last: it is the
    // loosest rule, and "login as:" or "Login username:" belong to the rules above.
    id: 'pt-BR.login-host', kind: 'login', label: 'login [\\p{L}\\p{N}._-]+', languages: ['pt-BR'],
    seenOn: 'Brazilian-Portuguese-localised Linux login', source: `${SHADOW} pt_BR: msgid "%s login: " -> "Login %s: "`,
  },
];

/** Greetings that state what a bare-looking prompt asks for. */
export const BANNER_RULES: readonly BannerRule[] = [
  {
    id: 'brother.hash-password', kind: 'password', pattern: /enter password at # prompt/i,
    seenOn: 'Brother printers: "Welcome. Type <return>, enter password at # prompt"',
    source: 'Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (Multiple Brother Devices)',
  },
];

/** Command prompts: the last line ends in one of the characters shells and device CLIs end their prompt with. */
export const SHELL_PROMPTS: readonly ShellRule[] = [
  {
    id: 'generic.prompt-char', pattern: /[#$%>]$/,
    seenOn: 'BusyBox "# " and "/bin # ", OpenWrt "root@OpenWrt:/# ", AVM FRITZ!Box "# ", Roku "SoundBridge> ", CCProxy "CCProxy Telnet>", '
      + 'MikroTik "[admin@MikroTik] > ", Cisco "router>", Huawei VRP "<HUAWEI>", AMX NetLinx ">", Windows "C:\\>"',
    source: `${NMAP} 4053, 4055, 4052, 4057, 4107, 4329; ${NOC}MikroTik/RouterOS, Cisco/IOS, Huawei/VRP pattern_prompt; `
      + 'nmap scripts/telnet-brute.nse is_login_success "[/>%$#]%s*$"; THC-Hydra hydra-telnet.c',
  },
];

/** Last lines that end like a command prompt but are banner decoration or instructions. */
const NOT_A_SHELL: readonly RegExp[] = [
  /^(.)\1{2,}$/u, // a border: "#####", ">>>>>"
  /^[-=~_*]+>$/, // an arrow: "===>"
  /^#.+#$/u, // a boxed banner line: "# Authorised use only #"
  /\S.*<[^<>]*>$/u, // an instruction: "Press <Enter>", "hit <RETURN>"
  /<\/[^<>]*>$/u, // markup: "</html>"
  /\d%$/, // progress: "Loading 100%"
];

/** The longest last line still read as a command prompt (longer ones are prose). */
const MAX_SHELL_PROMPT = 80;

export interface PromptClassification {
  kind: PromptKind;
  /** The last non-empty line after terminal control was removed: what the decision is about. */
  lastLine: string;
  /** The rule that decided; absent for unknown. */
  rule?: { id: string; source: string };
  /** Why, in one sentence (for the evidence and the unknown case). */
  reason: string;
}

const TERMINATOR = '\\s*(?:\\([^()\\n]{0,40}\\)\\s*|\\[[^\\[\\]\\n]{0,40}\\]\\s*)?[:>：]$';
const compiled = new Map<string, RegExp>();

/** The prompt regex for a rule: the label as a word of its own, an optional "(1-32 chars)" hint, a terminator. */
function promptPattern(rule: PromptRule): RegExp {
  let re = compiled.get(rule.id);
  if (!re) {
    re = new RegExp(`(?:^|[^\\p{L}\\p{N}_])(?:${rule.label})${TERMINATOR}`, 'iu');
    compiled.set(rule.id, re);
  }
  return re;
}

/**
 * The text a terminal would show: NUL and bell removed, backspaces applied, ANSI escape sequences that
 * move the cursor turned into line breaks (a prompt painted at a screen position starts a new line),
 * colour codes dropped, and CR/LF/CR NUL variants unified to "\n".
 */
export function screenText(text: string): string {
  let out = text
    .replace(/(?:\x1b\[|\x9b)[0-?]*[ -/]*([@-~])/g, (_m, final: string) => ('HfABEFdJ'.includes(final) ? '\n' : 'CDGKX'.includes(final) ? ' ' : ''))
    .replace(/\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?/g, '')
    .replace(/\x1b[()][0-9A-Za-z]|\x1b[@-_=>78]/g, '');
  while (/[^\n\x08]\x08/.test(out)) out = out.replace(/[^\n\x08]\x08/g, '');
  out = out.replace(/\r\n|\n\r|\r/g, '\n');
  return out.replace(/[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, '');
}

function lines(screen: string): string[] {
  return screen.split('\n').map((l) => l.trim()).filter((l) => l.length > 0);
}

function matchPrompt(line: string): PromptRule | undefined {
  return [...PASSWORD_PROMPTS, ...LOGIN_PROMPTS].find((rule) => promptPattern(rule).test(line));
}

function matchShell(line: string): ShellRule | undefined {
  if (line.length > MAX_SHELL_PROMPT || NOT_A_SHELL.some((re) => re.test(line))) return undefined;
  return SHELL_PROMPTS.find((r) => r.pattern.test(line));
}

const KIND = { login: 'login-prompt', password: 'password-prompt' } as const;

/**
 * Classifies what a telnet service printed (telnet commands already removed). Only a recognised prompt
 * at the end decides; a command prompt counts as a shell only when no login or password prompt ended
 * any earlier line, and everything else is `unknown`, which a caller must never read as "no login".
 */
export function classifyTelnetText(text: string): PromptClassification {
  const shown = lines(screenText(text));
  const lastLine = shown.at(-1) ?? '';
  if (!lastLine) return { kind: 'unknown', lastLine, reason: 'the service printed no text' };
  const prompt = matchPrompt(lastLine);
  if (prompt) return { kind: KIND[prompt.kind], lastLine, rule: { id: prompt.id, source: prompt.source }, reason: `the last line is a ${prompt.kind} prompt (${prompt.id})` };
  const shell = matchShell(lastLine);
  if (shell) {
    const banner = BANNER_RULES.find((r) => r.pattern.test(shown.join('\n')));
    if (banner) return { kind: KIND[banner.kind], lastLine, rule: { id: banner.id, source: banner.source }, reason: `the greeting says the prompt asks for a ${banner.kind} (${banner.id})` };
    const earlier = shown.slice(0, -1).find((l) => matchPrompt(l));
    if (earlier) {
      return { kind: 'unknown', lastLine, reason: `a command prompt follows an earlier login prompt (${JSON.stringify(earlier)}): cannot tell whether it needs that login` };
    }
    return { kind: 'shell', lastLine, rule: { id: shell.id, source: shell.source }, reason: `the last line is a command prompt (${shell.id}) and no login prompt was shown` };
  }
  return { kind: 'unknown', lastLine, reason: 'the last line is neither a login or password prompt nor a command prompt this grammar knows' };
}
