import { describe, expect, it } from 'vitest';
import { formatIssues } from '../../config/schema.js';
import { suricataEveConfigSchema } from './factory.js';

const problems = (config: unknown) => {
  const result = suricataEveConfigSchema.safeParse(config, { reportInput: true });
  return result.success ? [] : formatIssues(result.error.issues, [], suricataEveConfigSchema);
};

describe('suricata_eve configuration', () => {
  it('refuses a socket mode that lets every user write events into l7flow (docs/security.md)', () => {
    for (const mode of ['0666', '0777', '0662', '602']) {
      expect(problems({ socket: { mode } })).toEqual([
        `socket.mode: must not let every user of the host write events into l7flow (got "${mode}"; use 0660 and a group Suricata runs in)`,
      ]);
    }
  });

  it('accepts modes for the owner and a group, the default 0660 included', () => {
    for (const mode of ['0660', '0600', '0770', '0640', '660']) expect(problems({ socket: { mode } })).toEqual([]);
    expect(suricataEveConfigSchema.parse({}).socket.mode).toBe('0660');
  });
});
