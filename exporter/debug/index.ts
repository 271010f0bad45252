export { debugExporterFactory } from './factory.js';
export type { DebugConfig } from './factory.js';
