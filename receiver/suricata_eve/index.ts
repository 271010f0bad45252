export { suricataEveReceiverFactory } from './factory.js';
export type { SuricataEveConfig } from './factory.js';
