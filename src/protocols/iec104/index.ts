/** IEC 60870-5-104 adapters (TCP 2404, IEC 62351-3 TLS on 19998): APCI/ASDU frames, a controlling-station link
 * with bounded waits, STARTDT/TESTFR, general interrogation, single command and clock sync, and the checks the
 * probes share. Every function takes an AbortSignal and closes what it opened. */
export * from './frames';
export * from './link';
export * from './requests';
export * from './checks';
