import { debugExporterFactory } from '../exporter/debug/index.js';
import { ipfixExporterFactory } from '../exporter/ipfix/index.js';
import type { Factory } from '../pipeline/component.js';
import { factoryRegistry } from './load.js';

/** Every component type the agent can run. Adding a component means adding it here. */
export const allFactories: readonly Factory[] = [debugExporterFactory, ipfixExporterFactory];

export const factories = factoryRegistry(allFactories);
