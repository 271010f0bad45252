import { describe, expect, it } from 'vitest';
import { fixture } from '../../../test/support/k8s-l7.js';
import { addFlowLine, deleteFlowLine, parseFlowDump, portNoFlood } from './flows.js';

describe('ovs-ofctl flow text', () => {
  it('parses a --no-stats dump of our cookie: table 0 left out, matches in canonical order', () => {
    expect(parseFlowDump(fixture('dump-flows-ours.txt'))).toEqual([
      { table: 0, priority: 200, match: 'in_port=11', actions: 'output:3,NORMAL' },
      { table: 5, priority: 150, match: 'in_port=12', actions: 'output:3,NORMAL' },
      { table: 0, priority: 200, match: 'ipv6,ipv6_dst=fd00:10::11', actions: 'output:3,NORMAL' },
      { table: 0, priority: 200, match: 'ip,nw_dst=10.10.0.11', actions: 'output:3,NORMAL' },
    ]);
  });

  it('skips the reply header and statistics fields of a full dump', () => {
    const rules = parseFlowDump(fixture('dump-flows-all-with-stats.txt'));
    expect(rules).toHaveLength(6);
    expect(rules[0]).toEqual({ table: 0, priority: 300, match: 'arp', actions: 'NORMAL' });
    expect(rules).toContainEqual({ table: 0, priority: 0, match: '', actions: 'NORMAL' });
  });

  it('writes flow_mod lines that ovs-ofctl reads back as the same rule', () => {
    const rule = { table: 7, priority: 210, match: 'ipv6,ipv6_dst=fd00::2', actions: 'output:3,NORMAL' };
    expect(addFlowLine(rule, '0xabc')).toBe(
      'add cookie=0xabc,table=7,priority=210,ipv6,ipv6_dst=fd00::2 actions=output:3,NORMAL',
    );
    expect(parseFlowDump(addFlowLine(rule, '0xabc').slice('add '.length))).toEqual([rule]);
    // Strict delete of exactly that rule, and only under our cookie.
    expect(deleteFlowLine(rule, '0xabc')).toBe(
      'delete_strict cookie=0xabc/-1,table=7,priority=210,ipv6,ipv6_dst=fd00::2',
    );
  });

  it("reads a port's no-flood bit from dump-ports-desc", () => {
    const text = fixture('dump-ports-desc.txt');
    expect(portNoFlood(text, 3)).toBe(true);
    expect(portNoFlood(text, 11)).toBe(false);
    expect(portNoFlood(text, 99)).toBeUndefined();
  });
});
