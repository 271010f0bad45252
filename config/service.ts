import { z } from 'zod';
import { logEncodings, logLevels } from '../pipeline/logger.js';
import { parseHostPort } from './address.js';
import { duration, show } from './schema.js';

const idList = (what: string) => z.array(z.string()).default([]).describe(`Ids of the ${what}, in order.`);

export const pipelineSchema = z.strictObject({
  receivers: idList('receivers feeding this pipeline'),
  processors: idList('processors records pass through'),
  exporters: idList('exporters receiving every record'),
});

/** The `service` section: what runs, and the agent's own telemetry. */
export const serviceSchema = z.strictObject({
  telemetry: z
    .strictObject({
      logs: z
        .strictObject({
          level: z.enum(logLevels).default('info').describe('Least severe level logged (on stderr).'),
          encoding: z
            .enum(logEncodings)
            .default('json')
            .describe('json: one JSON object per line, for log collectors; console: aligned text, for people.'),
        })
        .prefault({}),
      metrics: z
        .strictObject({
          address: z
            .string()
            .refine((text) => text === '' || parseHostPort(text) !== undefined, {
              error: (issue) => `must be host:port, [ipv6]:port or "" (got ${show(issue.input)})`,
            })
            .default('127.0.0.1:9464')
            .describe('Listen address of /metrics, /healthz and /readyz; "" turns the listener off.'),
        })
        .prefault({}),
    })
    .prefault({}),
  shutdown_timeout: duration({ min: 100 })
    .prefault('10s')
    .describe('Deadline for a graceful shutdown on SIGTERM/SIGINT; what is not flushed by then is counted as dropped.'),
  pipelines: z.record(z.string(), pipelineSchema).describe('Named pipelines: receivers -> processors -> exporters.'),
});

export type ServiceConfig = z.output<typeof serviceSchema>;
export type PipelineConfig = z.output<typeof pipelineSchema>;
