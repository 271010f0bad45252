import { describe, expect, it } from 'vitest';
import { consoleLine } from './logger.js';

describe('console log encoding', () => {
  it('writes time, level, component and message, then the fields as key=value', () => {
    const json = JSON.stringify({
      level: 'info',
      time: '2026-11-26T10:15:02.140Z',
      component: 'suricata_eve',
      msg: 'receiver started',
      path: '/tmp/eve.sock',
      eventTypes: ['http', 'tls'],
      note: 'two words',
    });
    expect(consoleLine(json)).toBe(
      '2026-11-26T10:15:02.140Z INFO  suricata_eve: receiver started path=/tmp/eve.sock eventTypes=["http","tls"] note="two words"\n',
    );
  });

  it('leaves the component out of lines that have none', () => {
    expect(consoleLine('{"level":"warn","time":"t","msg":"l7flow stopping"}')).toBe('t WARN  l7flow stopping\n');
  });
});
