/** Authenticated, read-only host audit over SSH: allow-listed commands, their parsers and the rules as data. */
export * from './commands';
export * from './session';
export * from './parsers';
export * from './rules';
