/** One X.509 module for every protocol: parse, judge strength against a baseline, issue at run time. */
export * from './algorithms';
export * from './certificate';
export * from './issue';
export * from './strength';
