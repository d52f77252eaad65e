/** SSH adapters: raw identification/KEXINIT, host keys and user authentication through ssh2. */
export * from './kexinit';
export * from './keys';
export * from './hostkeys';
export * from './auth';
export { mapSsh2Error, stepBudgets } from './client';
export * from './policy';
