import { z } from 'zod';
import { byteSize, duration } from '../../config/schema.js';
import type { ReceiverFactory } from '../../pipeline/component.js';
import { decodedEventTypes } from './decode.js';
import { SuricataEveReceiver } from './receiver.js';

const socketSchema = z
  .strictObject({
    path: z
      .string()
      .min(1)
      .default('/var/run/l7flow/eve.sock')
      .describe("Unix socket Suricata's unix_stream output connects to."),
    mode: z
      .string()
      .regex(/^0?[0-7]{3}$/, {
        error: (issue) => `must be an octal file mode such as 0660 (got ${JSON.stringify(issue.input)})`,
      })
      // Whoever can connect can forge transactions into flows and traces (docs/security.md).
      .refine((mode) => (parseInt(mode, 8) & 0o002) === 0, {
        error: (issue) =>
          `must not let every user of the host write events into l7flow (got ${JSON.stringify(issue.input)}; use 0660 and a group Suricata runs in)`,
      })
      .default('0660')
      .describe('File mode of the socket: who may write events into l7flow.'),
    max_clients: z.number().int().min(1).max(1024).default(16).describe('Concurrent Suricata connections accepted.'),
  })
  .describe('source: socket');

const fileSchema = z
  .strictObject({
    path: z.string().default('').describe('EVE file to read (eve.json).'),
    start_at: z.enum(['end', 'beginning']).default('end').describe('Where to start when there is no saved offset.'),
    follow: z
      .boolean()
      .default(true)
      .describe('Keep reading as the file grows and rotates; false stops at its end (replay).'),
    offset_file: z
      .string()
      .default('')
      .describe('Where to save the read position, so a restart neither loses nor repeats lines; "" keeps none.'),
    poll_interval: duration({ min: 10 })
      .prefault('250ms')
      .describe('How often a followed file is checked for growth and rotation.'),
  })
  .describe('source: file');

export const suricataEveConfigSchema = z.strictObject({
  source: z.enum(['socket', 'file']).default('socket').describe('Where EVE JSON comes from.'),
  socket: socketSchema.prefault({}),
  file: fileSchema.prefault({}),
  max_line_bytes: byteSize({ min: 1024, max: 64 * 1024 * 1024 })
    .prefault('1MiB')
    .describe('Longer lines are skipped up to their newline and counted (reason oversize).'),
  event_types: z
    .array(z.enum(decodedEventTypes))
    .min(1)
    .default([...decodedEventTypes])
    .describe('EVE event types decoded; other lines are skipped without a full parse.'),
  batch_size: z.number().int().min(1).max(65_536).default(512).describe('Most events handed on at once.'),
});

export type SuricataEveConfig = z.output<typeof suricataEveConfigSchema>;

/** Suricata EVE JSON in, L7 events (http, tls, dns) out. */
export const suricataEveReceiverFactory: ReceiverFactory<typeof suricataEveConfigSchema> = {
  kind: 'receiver',
  type: 'suricata_eve',
  configSchema: suricataEveConfigSchema,
  produces: ['l7'],
  validate: (config) =>
    config.source === 'file' && config.file.path === '' ? ['file.path: is required when source is file'] : [],
  create: (settings, config, next) => new SuricataEveReceiver(settings, config, next),
};
