import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { byteSize, duration } from '../../config/schema.js';
import type { ExporterFactory } from '../../pipeline/component.js';
import { overflowPolicies } from '../../pipeline/queue.js';
import { MAX_MESSAGE_SIZE } from './codec/message.js';
import { parseEndpoint, type Endpoint } from './endpoint.js';
import { IpfixExporter } from './exporter.js';
import { observationDomainFromName } from './observation-domain.js';
import type { TransportName } from './transport.js';

/** go-ipfix's smallest supported message; also keeps every record of ours within one message. */
const MIN_MESSAGE_SIZE = 512;
/** IPv4 + UDP headers, IPv6 + UDP headers (RFC 7011 §10.3.3; go-ipfix subtracts the same). */
const UDP_IPV4_OVERHEAD = 28;
const UDP_IPV6_OVERHEAD = 48;

const tlsSchema = z.strictObject({
  ca_file: z
    .string()
    .default('')
    .describe('PEM file of the CA(s) that sign the collector certificate; "" trusts the system CAs.'),
  cert_file: z.string().default('').describe('PEM client certificate for mutual TLS; "" sends none.'),
  key_file: z.string().default('').describe('PEM private key of cert_file.'),
  server_name: z
    .string()
    .default('')
    .describe('Name to expect in the collector certificate (and to send as SNI); "" uses the endpoint host.'),
  insecure_skip_verify: z
    .boolean()
    .default(false)
    .describe('Accept any collector certificate. For tests only: it gives up authentication.'),
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.2').describe('Oldest TLS version accepted.'),
});

export const ipfixConfigSchema = z.strictObject({
  endpoint: z
    .string()
    .default('127.0.0.1:4739')
    .describe(
      "Collector address: host:port, [ipv6]:port, or Antrea's host:port:proto (proto udp, tcp or tls; host may be namespace/service). Unused by the file transport.",
    ),
  transport: z
    .enum(['udp', 'tcp', 'tls', 'file'])
    .optional()
    .describe("udp, tcp, tls, or file (an RFC 5655 file at path). Default: the endpoint's :proto, else udp."),
  path: z.string().default('').describe('file transport: the .ipfix file, appended to (never truncated).'),
  max_file_size: byteSize({ min: 65536 })
    .prefault('100MiB')
    .describe('file transport: a message that would pass this size starts a new file (path.1 is the newest backup).'),
  max_backups: z.number().int().min(0).max(1000).default(3).describe('file transport: rotated files kept.'),
  profile: z
    .enum(['antrea', 'rfc'])
    .default('antrea')
    .describe(
      "antrea: what Antrea's Flow Aggregator and go-ipfix parse (one set per message, no options templates); rfc: packed sets, reliability statistics and RFC 5610 element types.",
    ),
  http_encoding: z
    .enum(['antrea', 'iana', 'both'])
    .default('antrea')
    .describe(
      "antrea: Antrea's httpVals JSON in the flow record; iana: one record per transaction with IANA HTTP elements, linked by flowId; both.",
    ),
  observation_domain_id: z
    .union([z.number().int().min(0).max(0xffffffff), z.string().min(1)])
    .default(0)
    .describe(
      "Observation Domain ID. A name (e.g. ${env:NODE_NAME}) is hashed as Antrea's agent does (32-bit FNV-1); 0 hashes this host's name.",
    ),
  template_refresh: duration({ min: 1000 })
    .prefault('600s')
    .describe('udp: every template is re-sent this often (RFC 6728 default); collectors keep templates 3x as long.'),
  max_message_size: z
    .number()
    .int()
    .min(0)
    .max(MAX_MESSAGE_SIZE)
    .default(0)
    .describe(
      'Largest message in octets (512..65535). 0: for udp the path MTU minus IP and UDP headers (1472 to an IPv4 address, 1452 otherwise, at MTU 1500); 65535 for tcp, tls and file.',
    ),
  path_mtu: z
    .number()
    .int()
    .min(576)
    .max(65535)
    .default(1500)
    .describe('udp: MTU of the path to the collector, when max_message_size is 0. Lower it on overlay networks.'),
  queue_size: z
    .number()
    .int()
    .min(1)
    .max(65536)
    .default(512)
    .describe(
      'Encoded messages waiting for the transport (memory is at most queue_size x max_message_size). When full and no session is up, messages are dropped by overflow and counted.',
    ),
  overflow: z.enum(overflowPolicies).default('drop_newest').describe('What a full queue drops.'),
  connect_timeout: duration({ min: 100 }).prefault('10s').describe('tcp/tls: give up a connection attempt after this.'),
  write_timeout: duration({ min: 100 })
    .prefault('30s')
    .describe('tcp/tls: end the session when a write makes no progress for this long (collector not reading).'),
  reconnect: z
    .strictObject({
      initial_interval: duration({ min: 10 })
        .prefault('60s')
        .describe(
          'Wait before reconnecting after a session ends or an attempt fails; RFC 7011 asks for >= 1m by default.',
        ),
      max_interval: duration({ min: 10 }).prefault('5m').describe('Cap of the doubling wait between failed attempts.'),
    })
    .prefault({})
    .describe('Reconnection back-off (tcp, tls; also udp and file after an error).'),
  tls: tlsSchema.prefault({}).describe('transport tls: certificates and verification.'),
});

export type IpfixConfig = z.output<typeof ipfixConfigSchema>;

/** The config with defaults that depend on other keys worked out. */
export interface ResolvedIpfixConfig {
  readonly config: IpfixConfig;
  readonly transport: TransportName;
  /** Absent for the file transport. */
  readonly endpoint?: Endpoint;
  readonly maxMessageSize: number;
  readonly observationDomainId: number;
}

/** Cross-field checks; assumes the schema passed. */
export function validateIpfixConfig(config: IpfixConfig): string[] {
  const problems: string[] = [];
  const parsed = parseEndpoint(config.endpoint);
  const transport = config.transport ?? ('transport' in parsed ? parsed.transport : undefined) ?? 'udp';
  if (transport === 'file') {
    if (config.path === '') problems.push('path: is required when transport is file');
  } else if ('error' in parsed) {
    problems.push(`endpoint: ${parsed.error}`);
  } else if (parsed.transport !== undefined && config.transport !== undefined && parsed.transport !== transport) {
    problems.push(`transport: ${JSON.stringify(transport)} contradicts the endpoint's ":${parsed.transport}"`);
  }
  if (transport !== 'tls' && JSON.stringify(config.tls) !== JSON.stringify(tlsSchema.parse({})))
    problems.push('tls: only used with transport tls');
  if ((config.tls.cert_file === '') !== (config.tls.key_file === ''))
    problems.push('tls: cert_file and key_file go together');
  if (config.max_message_size !== 0 && config.max_message_size < MIN_MESSAGE_SIZE)
    problems.push(
      `max_message_size: must be 0 (automatic) or ${MIN_MESSAGE_SIZE}..65535 (got ${config.max_message_size})`,
    );
  if (transport === 'udp' && config.max_message_size > 0xffff - UDP_IPV4_OVERHEAD)
    problems.push(
      `max_message_size: must be at most ${0xffff - UDP_IPV4_OVERHEAD} for udp (got ${config.max_message_size})`,
    );
  if (config.reconnect.initial_interval > config.reconnect.max_interval)
    problems.push('reconnect.initial_interval: must not exceed reconnect.max_interval');
  return problems;
}

/** Works out transport, endpoint, message size and domain; call only on a valid config. */
export function resolveIpfixConfig(config: IpfixConfig, hostName: () => string = hostname): ResolvedIpfixConfig {
  const parsed = parseEndpoint(config.endpoint);
  const endpoint = 'error' in parsed ? undefined : parsed;
  const transport = config.transport ?? endpoint?.transport ?? 'udp';
  let maxMessageSize = config.max_message_size;
  if (maxMessageSize === 0) {
    const overhead = endpoint && isIP(endpoint.host) === 4 ? UDP_IPV4_OVERHEAD : UDP_IPV6_OVERHEAD;
    maxMessageSize = transport === 'udp' ? Math.max(MIN_MESSAGE_SIZE, config.path_mtu - overhead) : MAX_MESSAGE_SIZE;
  }
  const domain = config.observation_domain_id;
  const observationDomainId =
    typeof domain === 'string'
      ? observationDomainFromName(domain)
      : domain === 0
        ? observationDomainFromName(hostName())
        : domain;
  return {
    config,
    transport,
    ...(transport !== 'file' && endpoint ? { endpoint } : {}),
    maxMessageSize,
    observationDomainId,
  };
}

/** Exports flow records as IPFIX (RFC 7011) to a collector or an RFC 5655 file. */
export const ipfixExporterFactory: ExporterFactory<typeof ipfixConfigSchema> = {
  kind: 'exporter',
  type: 'ipfix',
  configSchema: ipfixConfigSchema,
  consumes: ['flow'],
  validate: validateIpfixConfig,
  create: (settings, config) => new IpfixExporter(settings, resolveIpfixConfig(config)),
};
