export { otlpExporterFactory } from './factory.js';
export type { OtlpConfig } from './factory.js';
