/** DNP3 (IEEE 1815) adapters for TCP 20000: link frames with the DNP CRC, transport segments, application
 * requests, SAv5 objects (group 120). Frames are built here; every function takes an AbortSignal. */
export * from './link';
export * from './application';
export * from './sav5';
export * from './connection';
export * from './answers';
export * from './tls';
