import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';

/**
 * Real Suricata output gathered outside the project (never copied in). Tests that read it
 * skip with a message when it is absent; L7FLOW_CORPUS points elsewhere.
 */
export const corpusDir = process.env.L7FLOW_CORPUS ?? join(packageRoot, '..', 'shared', 'corpus');
