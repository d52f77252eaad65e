import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { TelnetStream } from '../../src/protocols/cleartext';
import {
  BANNER_RULES, LOGIN_PROMPTS, PASSWORD_PROMPTS, SHELL_PROMPTS, classifyTelnetText, type PromptKind,
} from '../../src/protocols/telnet-prompts';
import { findExecutable, requirePeer } from '../helpers/peers';

/**
 * The telnet prompt grammar against real greetings, in the manner of ESLint's RuleTester: one table per
 * verdict. `raw` is the byte stream as a device sends it (latin1 string: "\xff\xfb\x01" is IAC WILL ECHO),
 * fed through the same TelnetStream the probe uses on the wire. Where a source gives a pattern rather
 * than a capture (nmap-service-probes lines are regexes), the variable parts are filled in and say so.
 */
interface Case {
  name: string;
  source: string;
  raw: string;
  /** The rule expected to decide. */
  rule?: string;
}

const NMAP = 'nmap-service-probes 7.93 line';
const utf8 = (text: string) => Buffer.from(text, 'utf8').toString('latin1');
const RULE_77 = '-'.repeat(77);

const TABLE: Record<PromptKind, Case[]> = {
  'login-prompt': [
    { name: 'Cisco IOS', source: `${NMAP} 3954`, raw: '\r\n\r\nUser Access Verification\r\n\r\nUsername: ', rule: 'en.username' },
    { name: 'Cisco IOS switch, negotiation first', source: `${NMAP} 3958`, raw: '\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1f\r\n\r\nUser Access Verification\r\n\r\nUsername: ', rule: 'en.username' },
    { name: 'Cisco ASA, DO TERMINAL-TYPE just before the prompt', source: `${NMAP} 4063 (banner text filled in)`, raw: '\xff\xfb\x03\xff\xfb\x01\xff\xfb\x03\xff\xfb\x01asa5505\r\n\r\nUser Access Verification\r\n\r\n\xff\xfd\x18Username: ', rule: 'en.username' },
    { name: 'Cisco 1721: "login:" after User Access Verification', source: `${NMAP} 4160`, raw: '\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1f\r\n\r\nUser Access Verification\r\n\r\nlogin:', rule: 'en.login' },
    { name: 'BusyBox telnetd, no host name set', source: `${NMAP} 4170`, raw: '\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\r\n(none) login: ', rule: 'en.login' },
    { name: 'BusyBox telnetd with host name', source: `${NMAP} 4165 (host name filled in)`, raw: '\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03ipcam-12 login: ', rule: 'en.login' },
    { name: 'DD-WRT', source: `${NMAP} 4294 (version filled in)`, raw: '\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03\r\r\nDD-WRT v24-sp2 std (c) 2010 NewMedia-NET GmbH\r\nRelease: 08/07/10\r\n\r\nDD-WRT login: ', rule: 'en.login' },
    { name: 'Windows Telnet Service', source: `${NMAP} 3890 (versions filled in)`, raw: '\xff\xfb\x01\xff\xfd\x03\xff\xfd\x1f\xff\xfd\x00\xff\xfb\x00Microsoft (R) Windows (TM) Version 5.00 (Build 2195)\r\nWelcome to Microsoft Telnet Service \r\nTelnet Server Build 5.00.99201.1\n\rlogin: ', rule: 'en.login' },
    { name: 'Lantronix MSS100 "Username> " (not a shell)', source: `${NMAP} 4041 (version filled in)`, raw: "\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\r\n\nLantronix MSS100 Version V3.6/3(000201)\n\r\nType HELP at the 'Local_2> ' prompt for assistance.\n\r\n\r\n\nUsername> ", rule: 'en.username' },
    { name: 'Lantronix ETS16, CR NUL line ends', source: `${NMAP} 4079 (version filled in)`, raw: "\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\r\x00\n\nLantronix ETS16 Version V3.1/1(940623)\n\r\x00\nType HELP at the 'BRTR-ETS16>' prompt for assistance.\n\r\x00\nUsername> ", rule: 'en.username' },
    { name: 'Aruba switch "User: "', source: `${NMAP} 4144 (model filled in)`, raw: '\xff\xfb\x01\xff\xfd\x03\xff\xfb\x03\xff\xfd\x1f\r\n(Aruba-2930F) \r\nUser: ', rule: 'en.user' },
    { name: 'AVM FRITZ!Box "Fritz!Box user: "', source: `${NMAP} 4169`, raw: '\xff\xfd\x01\xff\xfd\x1f\xff\xfb\x01\xff\xfb\x03Fritz!Box user: ', rule: 'en.user' },
    { name: 'Allied Telesyn: a colon line before "Login: "', source: `${NMAP} 4246`, raw: '\xff\xfe\x00\xff\xfc\x00\xff\xfe\x01\xff\xfb\x01\xff\xfd\x03\xff\xfb\x03\xff\xfd\x18\xff\xfd\x1f\n\n\rLocal User Access Verification: \n\n\rLogin: ', rule: 'en.login' },
    { name: 'Foundry "Please Enter Login Name: "', source: `${NMAP} 4196`, raw: '\xff\xfb\x01\xff\xfb\x03\r\nUser Access Verification\r\n\r\nPlease Enter Login Name: ', rule: 'en.login-name' },
    { name: 'GoodTech "Login username: "', source: `${NMAP} 4019 (version filled in)`, raw: '\xff\xfd\x1f\xff\xfd\x18\xff\xfb\x01\xff\xfb\x03\nWelcome to GoodTech Telnet Server for Windows 95/98 (V3.0) (Evaluation Copy)\n\r\n(C) Copyright 1996-2001 GoodTech Systems, Inc.\n\r\n\nLogin username: ', rule: 'en.login-name' },
    { name: 'Emerson PSNA: subnegotiation, screen clear, "> User name (1-10 chars): "', source: `${NMAP} 4819 (version filled in)`, raw: '\xff\xfb\x01\xff\xfb\x03\xff\xfb\x18\xff\xfa\x18\x00VT100\xff\xf0\x1b[2J\x1b[H\x1b[J\n\r\n\rPSNA Web/SNMP Agent Adapter(V1.0)\n\r\n\rCopyright (c) 2002-2004, EMERSON Network Power Co., Ltd.\n\r\n\r\n\r\n\r> User name (1-10 chars): ', rule: 'en.username' },
    { name: 'Honeywell BNA: ANSI cursor moves, indented "  login: "', source: `${NMAP} 4726 (version filled in)`, raw: '\x1b[1;1H\x1b[H\x1b[J\x1b[1;1H\r\n\r\nHoneywell Building Network Adapter (BNA)\r\nBNA SUSI Server 2.1  (bna-3)\r\n\r\n  login: ', rule: 'en.login' },
    { name: 'Siemens T1E1 router: options sent after the banner', source: `${NMAP} 4111 (model filled in)`, raw: '\r\nSiemens 4200 T1E1 [COMBO] Router (4200-01) v2.5 Ready\r\n\xff\xfb\x01\xff\xfb\x03\xff\xfd\x01\xff\xfe\x01Username: ', rule: 'en.username' },
    { name: 'Redline AN-30: NUL after the prompt', source: `${NMAP} 4342 (version filled in)`, raw: '\xff\xfb\x01AN-30 Ver. 2.1 (c) Copyright 2000-2002 Redline Communications Inc.\r\n\r\nUsername:\x00', rule: 'en.username' },
    { name: 'Huawei MA5600T ">>User name:"', source: 'NOC sa/profiles/Huawei/MA5600T/profile.py pattern_username', raw: '\r\n\r\n>>User name:', rule: 'en.username' },
    { name: 'Huawei VRP3 "User name (<16 chars):"', source: 'NOC sa/profiles/Huawei/VRP3/profile.py pattern_username', raw: '\r\n> User name (<16 chars):', rule: 'en.username' },
    { name: 'Qtech "Username(1-32 chars):"', source: 'NOC sa/profiles/Qtech/QSW/profile.py pattern_username', raw: '\r\nUsername(1-32 chars):', rule: 'en.username' },
    { name: 'Zhone Bitstorm "Login>"', source: 'NOC sa/profiles/Zhone/Bitstorm/profile.py pattern_username', raw: '\r\nLogin> ', rule: 'en.login' },
    { name: 'Hirschmann "User:"', source: 'oxidized hirschmann.rb username /^User:/ (banner words from Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281)', raw: '\r\nCopyright (c) 2011-2016 Hirschmann Automation and Control GmbH\r\n\r\nAll rights reserved\r\n\r\nUser:', rule: 'en.user' },
    { name: 'MikroTik RouterOS "Login: "', source: 'oxidized routeros.rb username /^Login:/; Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (MikroTik + Login:)', raw: '\xff\xfd\x18\xff\xfd\x20\xff\xfd\x23\xff\xfd\x27MikroTik v6.49.7 (stable)\r\nLogin: ', rule: 'en.login' },
    { name: 'AudioCodes "login as: "', source: 'oxidized audiocodes.rb username /^login as:\\s$/', raw: 'login as: ', rule: 'en.login-name' },
    { name: 'Ataman "Account Name: "', source: `${NMAP} 4034 (licensee filled in)`, raw: '\xff\xfe\x01\xff\xfd\x03\xff\xfd\x18\xff\xfd\x1f\xff\xfd\x00\xff\xfb\x03\xff\xfb\x01\xff\xfb\x00This copy of the Ataman TCP Remote Logon Services is registered as licensed to:\r\n\tBench Lab\r\n\r\nAccount Name: ', rule: 'en.login-name' },
    { name: 'Shiva LanRover "@ Userid:"', source: 'Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (Shiva LanRover)', raw: '\r\n@ Userid:', rule: 'en.username' },
    { name: 'pt_BR shadow login puts the host after the word', source: 'shadow po/pt_BR.po "%s login: " -> "Login %s: "', raw: utf8('\r\nLogin plc01: '), rule: 'pt-BR.login-host' },
    { name: 'the emulator\'s weak posture console', source: 'src/emulator/services/telnet.ts', raw: 'EPLC-1 maintenance console\r\n\r\nlogin: ', rule: 'en.login' },
    { name: 'issue 15: German device "Benutzername: "', source: 'issue 15', raw: 'Bedienpanel HMI-7\r\n\r\nBenutzername: ', rule: 'de.benutzername' },
    { name: 'issue 15: "Username> " is a login, not a shell', source: 'issue 15', raw: 'Gateway GW-2\r\nUsername> ', rule: 'en.username' },
    { name: 'French "Nom d\'utilisateur : " (typographic apostrophe)', source: 'PackageKit fr "Username" -> "Nom d\'utilisateur"', raw: utf8('Nom d’utilisateur : '), rule: 'fr.utilisateur' },
    { name: 'French "Identifiant : "', source: 'coreutils fr "Login name: " -> "Identifiant : "', raw: 'Identifiant : ', rule: 'fr.utilisateur' },
    { name: 'Spanish "Usuario: " in Latin-1', source: 'PackageKit es "Username" -> "Usuario"', raw: 'Pasarela Modbus\r\nUsuario: ', rule: 'es.usuario' },
    { name: 'Portuguese "credencial:"', source: 'Linux-PAM pt "login:" -> "credencial:"', raw: '\r\ncredencial:', rule: 'pt.utilizador' },
    { name: 'Italian "Nome utente: "', source: 'psql-15 it "Username" -> "Nome utente"', raw: 'Nome utente: ', rule: 'it.utente' },
    { name: 'Dutch "gebruikersnaam: "', source: 'Linux-PAM nl "login:" -> "gebruikersnaam:"', raw: 'gebruikersnaam: ', rule: 'nl.gebruikersnaam' },
    { name: 'Japanese "ユーザー名: "', source: 'psql-15 ja "Username" -> "ユーザー名"', raw: utf8('ユーザー名: '), rule: 'ja.login' },
    { name: 'Swedish "plc01 inloggning: "', source: 'shadow sv "%s login: " -> "%s inloggning: "', raw: utf8('plc01 inloggning: '), rule: 'sv-ru-zh.login' },
    { name: 'Chinese "登录：" (full-width colon)', source: 'Linux-PAM zh_CN "login:" -> "登录："', raw: utf8('登录：'), rule: 'sv-ru-zh.login' },
  ],
  'password-prompt': [
    { name: 'Cisco line password only', source: `${NMAP} 4062`, raw: '\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\r\n\r\nUser Access Verification\r\n\r\nPassword: ', rule: 'en.password' },
    { name: 'Cisco DSL: WILL ECHO after the prompt', source: `${NMAP} 3952`, raw: '\r\n\r\nUser Access Verification\r\nPassword:\xff\xfb\x01', rule: 'en.password' },
    { name: 'HP JetDirect', source: `${NMAP} 3841`, raw: '\xff\xfc\x01\r\nHP JetDirect\r\n\r\nPassword:', rule: 'en.password' },
    { name: 'Siemens remote management "Password :" with CR NUL', source: `${NMAP} 4284 (serial, MAC, version filled in)`, raw: '\xff\xfb\x01\xff\xfb\x03\n\r\x00*** Siemens RMA ***\n\r\x00\r\x00\nSerial Number 1234567  MAC address 0080A3123456\n\r\x00Software version V6.1.0.0 (050829)\r\x00\nPassword :', rule: 'en.password' },
    { name: 'Moxa NPort: device facts, then "Please keyin your password:"', source: `${NMAP} 4835 and Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (values filled in)`, raw: `\xff\xfb\x01\xff\xfb\x03\xff\xfb\x00\xff\xfd\x01\xff\xfd\x00\r\x00\n\r\x00\n${RULE_77}\r\x00\nModel name       : NPort 5110\r\x00\nMAC address      : 00:90:E8:12:34:56\r\x00\nSerial No.       : 1234\r\x00\nFirmware version : 2.6 Build 13062118\r\x00\nSystem uptime    : 0 days, 01h:02m:03s\r\x00\n${RULE_77}\r\x00\nPlease keyin your password:`, rule: 'en.password' },
    { name: 'Lantronix MSS1 "Login password> "', source: `${NMAP} 4621`, raw: "\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\r\n\nLantronix MSS1 Version STI3.5/5(981103)\n\r\nType HELP at the 'Local_2> ' prompt for assistance.\n\r\nLogin password> ", rule: 'en.password' },
    { name: 'EPSON print server: backspaces over an arrow', source: `${NMAP} 4040 (model filled in)`, raw: '\xff\xfb\x01\n\r-> \x08\x08\x08\x08        ***  EPSON Network Print Server (EpsonNet 10/100)  ***\n\r\n\r\x08\x08\x08\x08        \n\rPassword: ', rule: 'en.password' },
    { name: 'AVM FRITZ!Box "Fritz!Box web password: "', source: `${NMAP} 4287`, raw: '\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\r\nFritz!Box web password: ', rule: 'en.password' },
    { name: 'Milan switch: a form painted with cursor positioning', source: `${NMAP} 4337 (model filled in)`, raw: '\xff\xfb\x01\xff\xfd\x01\xff\xfb\x03\xff\xfd\x03\xff\xfb\x05\xff\xfd\x05Welcome to Telnet Server 1.1\r\n\x1b[0m\x1b[2J\x1b[05;28HSM24TAT4XA Managed Switch\x1b[07;22H\x7fTallahasseeAdmin-Block\x1b[15;30Husername:\x1b[17;30Hpassword:\x1b[15;39H', rule: 'en.password' },
    { name: 'Brother: the password prompt is a bare "#"', source: 'Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281 (Multiple Brother Devices)', raw: 'Welcome. Type <return>, enter password at # prompt\r\n#', rule: 'brother.hash-password' },
    { name: 'German "Kennwort:"', source: 'THC-Hydra hydra-telnet.c "ennwort"', raw: 'Kennwort:', rule: 'de.passwort' },
    { name: 'Spanish "Contraseña: " in UTF-8', source: 'shadow/Linux-PAM es "Password: "', raw: utf8('Contraseña: '), rule: 'es.contrasena' },
    { name: 'Spanish "Contraseña: " in Latin-1', source: 'shadow/Linux-PAM es "Password: " (Latin-1 console)', raw: 'Contrase\xf1a: ', rule: 'es.contrasena' },
    { name: 'French "Mot de passe : "', source: 'shadow/Linux-PAM fr "Password: "', raw: 'Mot de passe : ', rule: 'fr.mot-de-passe' },
    { name: 'Brazilian "Senha: "', source: 'Linux-PAM pt_BR "Password: "', raw: 'Senha: ', rule: 'pt.senha' },
    { name: 'Dutch "Wachtwoord: "', source: 'shadow/Linux-PAM nl "Password: "', raw: 'Wachtwoord: ', rule: 'nl.wachtwoord' },
    { name: 'Japanese "パスワード: "', source: 'shadow/Linux-PAM ja "Password: "', raw: utf8('パスワード: '), rule: 'ja.password' },
    { name: 'Russian "Пароль: "', source: 'shadow/Linux-PAM ru "Password: "', raw: utf8('Пароль: '), rule: 'sv-pl-ru-zh.password' },
  ],
  shell: [
    { name: 'BusyBox ash, no login', source: `${NMAP} 4053 (version filled in)`, raw: "\xff\xfd\x01\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\n\r\nBusyBox v1.00 (2005.04.23-10:37+0000) Built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n# ", rule: 'generic.prompt-char' },
    { name: 'OpenWrt root shell', source: `${NMAP} 4052 (version filled in)`, raw: "\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\r\n\r\n\r\nBusyBox v1.15.3 (2010-04-06 03:19:11 CEST) Built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\nroot@OpenWrt:/# ", rule: 'generic.prompt-char' },
    { name: 'AVM FRITZ!Box: German messages, then "# "', source: `${NMAP} 4057 (version filled in)`, raw: "\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\n\r\nBusyBox v1.00 (2005.10.20-12:36+0000) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\nermittle die aktuelle TTY\r\ntty is \"/dev/pts/0\"\r\nConsole Ausgaben auf dieses Terminal umgelenkt\r\n# ", rule: 'generic.prompt-char' },
    { name: 'Popcorn Hour "/bin # "', source: `${NMAP} 4055 (version filled in)`, raw: "\xff\xfd\x01\xff\xfd\x1f\xff\xfd!\xff\xfb\x01\xff\xfb\x03\r\n\r\nBusyBox v1.10.4 (2009-03-17 16:38:43 CST) Built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n/bin # ", rule: 'generic.prompt-char' },
    { name: 'Roku SoundBridge "SoundBridge> "', source: `${NMAP} 4107 (version filled in)`, raw: "\r\n\r\nWelcome to the SoundBridge Shell version 2.5 Release\r\nType '?' for help or 'help <command>' for help on <command>.\r\n\r\nSoundBridge> ", rule: 'generic.prompt-char' },
    { name: 'CCProxy "CCProxy Telnet>"', source: `${NMAP} 4329`, raw: 'CCProxy Telnet>CCProxy Telnet Service Ready.\r\nCCProxy Telnet>', rule: 'generic.prompt-char' },
    { name: 'Lantronix: BEL, "# ", NUL', source: `${NMAP} 4042`, raw: '\xff\xfb\x01\xff\xfb\x03\xff\xfd\x18\r\x00\r\x00\r\n\x07# \x00', rule: 'generic.prompt-char' },
    { name: 'AMX NetLinx without telnet security', source: 'AMX NXB-KNX manual, "Programming - Telnet Commands"', raw: 'Welcome to NetLinx v3.60.453 Copyright AMX Corp. 1999-2006\r\n>', rule: 'generic.prompt-char' },
    { name: 'MikroTik RouterOS CLI', source: 'NOC sa/profiles/MikroTik/RouterOS pattern_prompt', raw: '\r\n[admin@MikroTik] > ', rule: 'generic.prompt-char' },
    { name: 'Huawei VRP user view', source: 'NOC sa/profiles/Huawei/VRP pattern_prompt', raw: '\r\nInfo: The max number of VTY users is 5.\r\n<HUAWEI>', rule: 'generic.prompt-char' },
    { name: '"Last login:" is not a login prompt', source: 'shadow "Last login: %s on %s"; Metasploit login.rb @false_failure_regex', raw: 'Last login: Mon Jan  1 10:00:00 on pts/0\r\nroot@eplc:~# ', rule: 'generic.prompt-char' },
    { name: 'the probe test\'s field switch', source: 'test/probes/cleartext/telnet.test.ts', raw: '\xff\xfd\x18\xff\xfb\x01Field switch FS-8 console\r\nFS-8# ', rule: 'generic.prompt-char' },
  ],
  unknown: [
    { name: 'Windows 2000: negotiation only, no text yet', source: `${NMAP} 3887`, raw: '\xff\xfd%\xff\xfb\x01\xff\xfd\x03\xff\xfd\x1f\xff\xfd\x00\xff\xfb\x00' },
    { name: 'the emulator\'s debug agent: a banner and silence', source: 'src/emulator/services/debug.ts', raw: 'EPLC-1 debug agent 0.3 ready\r\n' },
    { name: 'Schneider Modbus bridge: "Press Enter to go into Setup Mode"', source: `${NMAP} 4642 (values filled in)`, raw: '\xff\xfb\x01\xff\xfb\x03Schneider Automation, Inc. - Modbus Bridge (174 CEV 300 20)\r\n\r\x00\r\n\r\x00Serial Number 5550123  Software Version V1.1 (001201)\r\x00\r\n\r\x00\r\nPress Enter to go into Setup Mode, wait to close\r\n\r\x00' },
    { name: 'Lantronix UDS: "Press Enter to go into Setup Mode "', source: `${NMAP} 4272 (values filled in)`, raw: '\xff\xfb\x01\xff\xfb\x03\r\x00\r\n*** Lantronix Universal Device Server ***\r\n\r\x00Serial Number 1234567  MAC address 00:20:4A:01:02:03\r\n\r\x00Software Version V5.8 (040528)\r\x00\r\n\r\n\r\x00Press Enter to go into Setup Mode \r\n\r\x00' },
    { name: 'Georgia SoftWorks: paused after "Please wait..."', source: `${NMAP} 4023 (cut where the server pauses)`, raw: '\xff\xfe\x01\xff\xfb\x01\xff\xfd\x03\xff\xfb\x03\xff\xfd\x18Georgia SoftWorks Telnet Server for Windows NT/2000/XP/2003 Ver. 7.01\n\rRegistered copy, 5 users enabled.\n\r\n\rPlease wait...\n\r' },
    { name: 'Emerson DeltaV maintenance menu "Select:"', source: `${NMAP} 4823`, raw: '\x1b[m\x1b[H\x1b[2J\x1b[1;1H\t\tDeltaV Batch Runtime Server Maintainance Port\r\n\r\n         1. General Information\r\n         2. Client Information\r\n\x1b[12;1H' + ' '.repeat(79) + '\x1b[11;1H\r\n\tSelect:  ' },
    { name: 'HP ProCurve splash screen', source: `${NMAP} 3878 (model filled in)`, raw: '\xff\xfd\x18\xff\xfb\x01\x1b[2J\x1b[?7l\x1b[3;23r\x1b[?6l\x1b[1;1HHP J4813A ProCurve Switch 2524\r\n\rFirmware revision F.05.17\r\n\r\r' },
    { name: 'Cisco console "Press RETURN to get started."', source: 'kwskt2y/IOS_ssh_conf console_cisco.sh', raw: '\r\n\r\nPress RETURN to get started.\r\n' },
    { name: 'a banner boxed in "#" is not a shell', source: 'constructed: a common MOTD layout', raw: '##########################\r\n# Authorised access only #\r\n##########################\r\n' },
    { name: '"Press <Enter>" is not a shell', source: 'constructed: instructions like the Brother greeting "Type <return>" (Greenbone NVT 1.3.6.1.4.1.25623.1.0.10281)', raw: 'Remote console\r\nPress <Enter>' },
    { name: 'progress "100%" is not a shell', source: 'constructed: boot progress output', raw: 'Loading configuration 100%' },
    { name: '"Last login:" alone is no login prompt', source: 'Metasploit login.rb @false_failure_regex', raw: 'Last login: Mon Jan  1 10:00:00 2024 from 10.0.0.9\r\n' },
    { name: 'a command prompt after a login prompt: cannot tell', source: 'constructed', raw: 'login: \r\n\r\nrouter>' },
  ],
};

function classify(raw: string, chunkSize?: number) {
  const bytes = Buffer.from(raw, 'latin1');
  const stream = new TelnetStream();
  const step = chunkSize ?? bytes.length;
  for (let i = 0; i < bytes.length; i += step) stream.push(bytes.subarray(i, i + step));
  return classifyTelnetText(stream.decoded().text);
}

describe('telnet prompt grammar (src/protocols/telnet-prompts.ts)', () => {
  for (const [kind, cases] of Object.entries(TABLE) as [PromptKind, Case[]][]) {
    describe(kind, () => {
      for (const c of cases) {
        it(`${c.name} [${c.source}]`, () => {
          const whole = classify(c.raw);
          expect(whole.kind, whole.reason).to.equal(kind);
          if (c.rule) expect(whole.rule?.id).to.equal(c.rule);
          // The same bytes one at a time (IAC sequences and UTF-8 split across TCP segments) decide the same.
          expect(classify(c.raw, 1)).to.deep.equal(whole);
        });
      }
    });
  }

  describe('the grammar as data', () => {
    const rules = [...PASSWORD_PROMPTS, ...LOGIN_PROMPTS, ...BANNER_RULES, ...SHELL_PROMPTS];

    it('the table holds at least 25 real greetings and every verdict', () => {
      const real = Object.values(TABLE).flat().filter((c) => !c.source.startsWith('constructed'));
      expect(real.length).to.be.at.least(25);
      for (const cases of Object.values(TABLE)) expect(cases).to.not.be.empty;
    });

    it('every rule has a unique id, the devices it is seen on and a source', () => {
      expect(new Set(rules.map((r) => r.id)).size).to.equal(rules.length);
      for (const r of rules) {
        expect(r.seenOn.length, r.id).to.be.greaterThan(10);
        expect(r.source.length, r.id).to.be.greaterThan(10);
      }
    });

    it('every rule decides at least one greeting of the table (no untested pattern)', () => {
      const decided = new Set(Object.values(TABLE).flat().map((c) => classify(c.raw).rule?.id));
      expect(rules.map((r) => r.id).filter((id) => !decided.has(id))).to.deep.equal([]);
    });
  });

  describe('the translations Debian ships for shadow\'s login and Linux-PAM', () => {
    // Each language a rule claims, with the prompts a localised Linux device prints on telnet: shadow's
    // "%s login: " and "Password: " (login is what telnetd runs), Linux-PAM's "login:" and "Password: ".
    const languages = [...new Set([...LOGIN_PROMPTS, ...PASSWORD_PROMPTS].flatMap((r) => r.languages))]
      .filter((l) => l !== 'en').map((l) => l.replace('-', '_'));
    const translate = (domain: string, msgid: string, language: string) => execFileSync('gettext', ['-d', domain, msgid], {
      env: { PATH: process.env.PATH ?? '/usr/bin', LANGUAGE: language, LC_ALL: 'C.UTF-8' }, encoding: 'utf8', timeout: 5000,
    });
    const cases: [string, string, PromptKind][] = [
      ['shadow', '%s login: ', 'login-prompt'], ['shadow', 'Password: ', 'password-prompt'],
      ['Linux-PAM', 'login:', 'login-prompt'], ['Linux-PAM', 'Password: ', 'password-prompt'],
    ];

    for (const language of languages) {
      it(language, function () {
        requirePeer(this, 'gettext', findExecutable('gettext'), 'Debian gettext-base');
        for (const [domain, msgid, kind] of cases) {
          // Some translations keep the English word ("login: " in it, pl, ja): the catalogue must still be there.
          expect(fs.existsSync(`/usr/share/locale/${language}/LC_MESSAGES/${domain}.mo`), `${domain} ${language} catalogue`).to.equal(true);
          const prompt = translate(domain, msgid, language).replace('%s', 'plc01');
          for (const encoded of [utf8(prompt), utf8(`Linux 6.1.0 (plc01)\r\n\r\n${prompt}`)]) {
            const got = classify(encoded);
            expect(got.kind, `${domain} ${language} ${JSON.stringify(prompt)}: ${got.reason}`).to.equal(kind);
          }
        }
        // "Last login: <date> on pts/0" (translated) is no login prompt: with a shell after it, it is a shell.
        const lastLogin = translate('shadow', 'Last login: %s on %s', language).replace('%s', 'Mon Jan  1 10:00:00 2024').replace('%s', 'pts/0');
        expect(classify(utf8(`${lastLogin}\r\n`)).kind, lastLogin).to.equal('unknown');
        expect(classify(utf8(`${lastLogin}\r\nplc01:~$ `)).kind, lastLogin).to.equal('shell');
      });
    }
  });
});
