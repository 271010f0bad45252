import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';

/**
 * Real Suricata output gathered outside the project (never copied in). Tests that read it
 * skip with a message when it is absent; L7FLOW_CORPUS points elsewhere.
 */
export const corpusDir = process.env.L7FLOW_CORPUS ?? join(packageRoot, '..', 'shared', 'corpus');

/** The AIT log-data set's eve.json (Suricata <= 5, ~12 MB): the largest real EVE file we have. */
export const aitEvePath = join(
  corpusDir,
  'eve',
  'ait-logdata-anomaly-miner',
  'aecid-testsuite',
  'demo',
  'aminerJsonInputDemo',
  'json_logs',
  'eve.json',
);
