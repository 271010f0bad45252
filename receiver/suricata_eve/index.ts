export { suricataEveReceiverFactory } from './factory.js';
export type { SuricataEveConfig } from './factory.js';
// The one extra export: `l7flow suricata-config` prints the output that feeds this receiver.
export { suricataOutputYaml } from './suricata-config.js';
