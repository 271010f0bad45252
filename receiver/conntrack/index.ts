export { conntrackReceiverFactory } from './factory.js';
export type { ConntrackConfig } from './factory.js';
