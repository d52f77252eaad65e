export * from './frames';
export * from './connection';
export * from './session';
export * from './takeover';
export * from './services';
