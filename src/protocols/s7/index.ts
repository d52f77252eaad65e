/** S7comm adapters (ISO-on-TCP, port 102): frames, a session over COTP, SZL reads, read/write var, CPU
 * control, and the S7comm-plus / TLS check. Every function takes an AbortSignal and closes what it opened. */
export * from './frames';
export * from './connection';
export * from './szl';
export * from './access';
export * from './plus';
