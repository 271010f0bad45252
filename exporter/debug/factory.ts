import { z } from 'zod';
import type { ExporterFactory } from '../../pipeline/component.js';
import { byteSize } from '../../config/schema.js';
import { DebugExporter } from './debug-exporter.js';

export const debugConfigSchema = z.strictObject({
  path: z.string().default('').describe('File to append lines to; "" writes them to standard output.'),
  format: z
    .enum(['json', 'text'])
    .default('json')
    .describe('json: each record as one JSON line; text: one compact line per record for people.'),
  max_file_size: byteSize({ min: 1024 })
    .prefault('100MiB')
    .describe('A file is rotated before a write would take it past this size (path.1 is the newest backup).'),
  max_backups: z.number().int().min(0).max(1000).default(3).describe('Rotated files kept; 0 keeps none.'),
});

export type DebugConfig = z.output<typeof debugConfigSchema>;

/** Writes every record it receives as one line (JSON or text): for people, demos and tests. */
export const debugExporterFactory: ExporterFactory<typeof debugConfigSchema> = {
  kind: 'exporter',
  type: 'debug',
  configSchema: debugConfigSchema,
  consumes: ['l7', 'conn', 'flow'],
  create: (settings, config) => new DebugExporter(settings, config),
};
