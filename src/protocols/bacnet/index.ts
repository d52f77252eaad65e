/** BACnet/IP adapters (UDP 47808): tagged encoding, BVLC/NPDU/APDU frames, service bodies, a unicast client and
 * the checks the probes share. Every network call takes an AbortSignal and closes what it opened. */
export * from './encoding';
export * from './frames';
export * from './services';
export * from './client';
export * from './checks';
