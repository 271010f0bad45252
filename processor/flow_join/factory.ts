import { z } from 'zod';
import { duration } from '../../config/schema.js';
import type { ProcessorFactory } from '../../pipeline/component.js';
import { FlowJoinProcessor } from './processor.js';

export const flowJoinConfigSchema = z.strictObject({
  active_timeout: duration({ min: 100 })
    .prefault('5s')
    .describe('A connection still active this long after its previous record gets a new one (flowEndReason 2).'),
  idle_timeout: duration({ min: 100 })
    .prefault('15s')
    .describe('A connection quiet this long gets a record (flowEndReason 1) and is not reported again until active.'),
  l7_pending_ttl: duration({ min: 0 })
    .prefault('10s')
    .describe(
      'How long a transaction waits for its connection to appear, and an ended connection for late transactions (two conntrack poll intervals).',
    ),
  stale_timeout: duration({ min: 1000 })
    .prefault('5m')
    .describe('A connection no conntrack sample has mentioned for this long is forgotten.'),
  unmatched: z
    .enum(['export', 'drop'])
    .default('export')
    .describe(
      'Transactions whose connection never appears: an L7-only record from their own tuple, or a counted drop.',
    ),
  max_connections: z
    .number()
    .int()
    .min(1)
    .default(100_000)
    .describe('Connections held; beyond it the least recently active one is exported (flowEndReason 5) and evicted.'),
  max_pending: z
    .number()
    .int()
    .min(1)
    .default(10_000)
    .describe('Transactions waiting for their connection; beyond it the oldest is treated as unmatched.'),
  max_transactions_per_flow: z
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(20)
    .describe('Transactions carried by one record; a connection that has this many waiting gets a record at once.'),
  max_held_transactions: z
    .number()
    .int()
    .min(1)
    .default(50_000)
    .describe(
      'Transactions waiting on all connections together; at the limit, a connection that receives one gets a record at once.',
    ),
});

export type FlowJoinConfig = z.output<typeof flowJoinConfigSchema>;

/** Conntrack samples and L7 events in, flow records out: each transaction exported exactly once. */
export const flowJoinProcessorFactory: ProcessorFactory<typeof flowJoinConfigSchema> = {
  kind: 'processor',
  type: 'flow_join',
  configSchema: flowJoinConfigSchema,
  consumes: ['l7', 'conn'],
  produces: ['flow'],
  validate: (config) =>
    config.l7_pending_ttl > config.stale_timeout ? ['l7_pending_ttl: must not be longer than stale_timeout'] : [],
  create: (settings, config, next) => new FlowJoinProcessor(settings, config, next),
};
