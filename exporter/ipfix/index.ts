export { ipfixExporterFactory } from './factory.js';
export type { IpfixConfig } from './factory.js';
