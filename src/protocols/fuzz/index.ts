/** Grammar-based mutation of valid frames: seeded case generation, capped and paced campaigns. */
export * from './random';
export * from './grammar';
export * from './campaign';
export * from './target';
export * from './transport';
export * from './probe';
export * from './normal-check';
