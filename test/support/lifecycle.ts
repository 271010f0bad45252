import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Component, ConsumingComponent, Factory, Host } from '../../pipeline/component.js';
import { consumerFn } from '../../pipeline/consumer.js';
import { ClosedError } from '../../pipeline/errors.js';
import type { PipelineRecord } from '../../pipeline/records.js';
import { testSettings } from './settings.js';

export interface LifecycleCase {
  readonly factory: Factory;
  /** Tells cases of one factory apart (e.g. its sources). */
  readonly name?: string;
  /** Config overrides that let it start on this machine (paths in the temp dir, port 0). */
  readonly config?: (dir: string) => Record<string, unknown>;
  /** Records to consume between start and shutdown (processors and exporters). */
  readonly sample?: readonly PipelineRecord[];
}

const host: Host = {
  reportFatal: (error) => {
    throw error;
  },
};

/**
 * The contract every component honours (pipeline/component.ts), checked the same way for
 * every factory: default config valid; shutdown before start; double shutdown; start,
 * consume, shutdown; consume after shutdown rejected with ClosedError.
 */
export function describeLifecycle({ factory, name, config, sample = [] }: LifecycleCase): void {
  describe(`${factory.kind} ${factory.type}${name ? ` (${name})` : ''} lifecycle`, () => {
    let dir = '';
    beforeEach(async () => {
      dir = await mkdtemp(join(tmpdir(), `l7flow-${factory.type}-`));
    });
    afterEach(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    const create = (overrides: Record<string, unknown> = config?.(dir) ?? {}) => {
      const { settings } = testSettings(factory.type);
      const parsed: unknown = factory.configSchema.parse(overrides);
      const forwarded: PipelineRecord[] = [];
      const next = consumerFn<PipelineRecord>(async (batch) => {
        forwarded.push(...batch);
        return Promise.resolve();
      });
      const component: Component =
        factory.kind === 'exporter' ? factory.create(settings, parsed) : factory.create(settings, parsed, next);
      return { component, forwarded };
    };

    it('has a default config that passes its own checks', () => {
      const parsed = factory.configSchema.safeParse({});
      expect(parsed.success).toBe(true);
      expect(factory.validate?.(parsed.data as never) ?? []).toEqual([]);
    });

    it('shuts down before start, and twice', async () => {
      const { component } = create();
      await component.shutdown();
      await component.shutdown();
    });

    it('starts, consumes, and shuts down idempotently', async () => {
      const { component } = create();
      await component.start(host);
      if (isConsuming(component)) await component.consume(sample);
      await component.shutdown();
      await component.shutdown();
    });

    if (factory.kind !== 'receiver') {
      it('rejects consume after shutdown with ClosedError', async () => {
        const { component } = create();
        await component.start(host);
        await component.shutdown();
        await expect((component as ConsumingComponent).consume(sample)).rejects.toBeInstanceOf(ClosedError);
      });
    }
  });
}

function isConsuming(component: Component): component is ConsumingComponent {
  return typeof (component as Partial<ConsumingComponent>).consume === 'function';
}
