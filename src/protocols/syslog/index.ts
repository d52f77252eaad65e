export * from './parse';
export * from './framing';
export * from './collector';
