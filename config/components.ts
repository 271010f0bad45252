import { debugExporterFactory } from '../exporter/debug/index.js';
import type { Factory } from '../pipeline/component.js';
import { k8sL7ProcessorFactory } from '../processor/k8s_l7/index.js';
import { factoryRegistry } from './load.js';

/** Every component type the agent can run. Adding a component means adding it here. */
export const allFactories: readonly Factory[] = [debugExporterFactory, k8sL7ProcessorFactory];

export const factories = factoryRegistry(allFactories);
