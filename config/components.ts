import { debugExporterFactory } from '../exporter/debug/index.js';
import { flowJoinProcessorFactory } from '../processor/flow_join/index.js';
import { conntrackReceiverFactory } from '../receiver/conntrack/index.js';
import { suricataEveReceiverFactory } from '../receiver/suricata_eve/index.js';
import { otlpExporterFactory } from '../exporter/otlp/index.js';
import { ipfixExporterFactory } from '../exporter/ipfix/index.js';
import type { Factory } from '../pipeline/component.js';
import { k8sL7ProcessorFactory } from '../processor/k8s_l7/index.js';
import { factoryRegistry } from './load.js';

/** Every component type the agent can run. Adding a component means adding it here. */
export const allFactories: readonly Factory[] = [
  suricataEveReceiverFactory,
  conntrackReceiverFactory,
  k8sL7ProcessorFactory,
  flowJoinProcessorFactory,
  debugExporterFactory,
  ipfixExporterFactory,
  otlpExporterFactory,
];

export const factories = factoryRegistry(allFactories);
