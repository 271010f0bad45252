import type { L7Kind } from '../../pipeline/records.js';

export interface SuricataOutputOptions {
  /** The receiver's Unix socket: Suricata's unix_stream output connects to it. */
  readonly socketPath: string;
  readonly eventTypes: readonly L7Kind[];
  /** Log every request and response header (for traceparent and header attributes). */
  readonly allHeaders: boolean;
}

/**
 * The `eve-log` output that feeds a suricata_eve receiver, as YAML for suricata.yaml's
 * `outputs:` list. Works with Suricata 5.0 to 8.0 (`dump-all-headers` needs 5.0).
 */
export function suricataOutputYaml({ socketPath, eventTypes, allHeaders }: SuricataOutputOptions): string {
  const types: string[] = [];
  if (eventTypes.includes('http')) {
    types.push('        - http:', '            extended: yes');
    if (allHeaders)
      types.push('            dump-all-headers: both   # request and response headers (traceparent, ...)');
  }
  if (eventTypes.includes('tls')) types.push('        - tls:', '            extended: yes');
  if (eventTypes.includes('dns')) types.push('        - dns');
  return [
    '# Suricata output for l7flow: add this entry to the `outputs:` list of suricata.yaml.',
    '# Suricata connects to l7flow (start l7flow first; Suricata reconnects if it restarts).',
    'outputs:',
    '  - eve-log:',
    '      enabled: yes',
    '      filetype: unix_stream',
    `      filename: ${JSON.stringify(socketPath)}`,
    '      community-id: no',
    '      types:',
    ...types,
    '        # - flow      # not needed: l7flow takes connection state and counters from conntrack',
    '',
  ].join('\n');
}
