/**
 * OpenFlow rules in ovs-ofctl's text syntax (ovs-fields(7), ovs-actions(7)), as
 * `ovs-ofctl --no-names --no-stats dump-flows` prints them:
 *   ` cookie=0x6c37666c6f77, table=3, priority=200,ip,nw_dst=10.0.0.2 actions=output:3,NORMAL`
 * (`table=` is left out for table 0, `priority=` for the default 32768).
 */

export interface FlowRule {
  readonly table: number;
  readonly priority: number;
  /** Match fields in ovs-ofctl's canonical order, comma-separated; '' matches everything. */
  readonly match: string;
  readonly actions: string;
}

const defaultPriority = 32768;

/** Identity of a rule in its table: OpenFlow replaces a rule with the same table, priority and match. */
export function flowKey(rule: Pick<FlowRule, 'table' | 'priority' | 'match'>): string {
  return `${rule.table}|${rule.priority}|${rule.match}`;
}

/** Parses the rule lines of a dump; the reply header and blank lines are skipped. */
export function parseFlowDump(text: string): FlowRule[] {
  const rules: FlowRule[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const split = line.indexOf(' actions=');
    if (split < 0) continue;
    let table = 0;
    let priority = defaultPriority;
    const match: string[] = [];
    for (const token of line.slice(0, split).split(',')) {
      const field = token.trim();
      if (field === '') continue;
      if (field.startsWith('table=')) table = Number(field.slice('table='.length));
      else if (field.startsWith('priority=')) priority = Number(field.slice('priority='.length));
      else if (!statField(field)) match.push(field);
    }
    rules.push({ table, priority, match: match.join(','), actions: line.slice(split + ' actions='.length) });
  }
  return rules;
}

/** Fields of a dump line that describe the rule's state or lifetime rather than its match. */
function statField(field: string): boolean {
  const name = field.split('=', 1)[0] ?? '';
  return [
    'cookie',
    'duration',
    'n_packets',
    'n_bytes',
    'idle_age',
    'hard_age',
    'idle_timeout',
    'hard_timeout',
    'importance',
  ].includes(name);
}

/** A flow_mod line for `ovs-ofctl --bundle add-flows BRIDGE -`. */
export function addFlowLine(rule: FlowRule, cookie: string): string {
  return `add cookie=${cookie},table=${rule.table},priority=${rule.priority}${rule.match ? `,${rule.match}` : ''} actions=${rule.actions}`;
}

/** Deletes exactly this rule, and only if it carries our cookie. */
export function deleteFlowLine(rule: FlowRule, cookie: string): string {
  return `delete_strict cookie=${cookie}/-1,table=${rule.table},priority=${rule.priority}${rule.match ? `,${rule.match}` : ''}`;
}

/**
 * Whether the port numbered `ofport` has OFPPC_NO_FLOOD set, from `ovs-ofctl dump-ports-desc`
 * (` 3(tap0): addr:...` then `     config:     PORT_DOWN NO_FLOOD`); undefined when the port is
 * not listed.
 */
export function portNoFlood(text: string, ofport: number): boolean | undefined {
  let inPort = false;
  for (const line of text.split('\n')) {
    const header = /^\s*(\d+|LOCAL)\(/.exec(line);
    if (header) {
      inPort = header[1] === String(ofport);
      continue;
    }
    const config = /^\s*config:\s*(.*)$/.exec(line);
    if (inPort && config) return (config[1] ?? '').split(/\s+/).includes('NO_FLOOD');
  }
  return undefined;
}
