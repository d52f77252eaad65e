export * from './packet';
export * from './server';
export * from './client';
export * from './auth';
