/** Modbus/TCP adapters: modbus-serial client sessions, a raw-frame client, Read Device Identification
 * and the essential-function monitor. Every function takes an AbortSignal and closes what it opened. */
export * from './frames';
export * from './connect';
export * from './raw';
export * from './client';
export * from './identification';
export * from './monitor';
export * from './fuzz';
export * from './outputs';
