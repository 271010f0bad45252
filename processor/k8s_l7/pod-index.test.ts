import { describe, expect, it } from 'vitest';
import type { PodRef } from '../../pipeline/records.js';
import { PodIndex } from './pod-index.js';

const s = 1_000_000;
const t0 = 1_764_158_400_000_000;
const ref = (name: string, extra: Partial<PodRef> = {}): PodRef => ({
  name,
  namespace: 'shop',
  uid: `uid-${name}`,
  node: 'node-a',
  labels: {},
  ...extra,
});
const index = (maxPods = 100) => new PodIndex({ graceUs: 30 * s, maxPods });
const name = (found: PodRef | undefined) => found?.name;

describe('pod index', () => {
  it('resolves every address of a dual-stack Pod, and nothing else', () => {
    const pods = index();
    pods.set('uid-web', ['10.1.0.2', 'fd00::2'], ref('web'), t0);
    expect(name(pods.lookup('10.1.0.2', t0))).toBe('web');
    expect(name(pods.lookup('fd00::2', t0))).toBe('web');
    expect(pods.lookup('10.1.0.3', t0)).toBeUndefined();
  });

  it('resolves records a little older than the Pod (the informer sees Pods after their traffic starts)', () => {
    const pods = index();
    pods.set('uid-web', ['10.1.0.2'], ref('web'), t0);
    expect(name(pods.lookup('10.1.0.2', t0 - 2 * s))).toBe('web');
  });

  it('serves the latest metadata of a Pod for every record', () => {
    const pods = index();
    pods.set('uid-web', ['10.1.0.2'], ref('web'), t0);
    pods.set('uid-web', ['10.1.0.2'], ref('web', { labels: { v: '2' }, l7Export: 'both' }), t0 + s);
    expect(pods.lookup('10.1.0.2', t0)).toEqual(ref('web', { labels: { v: '2' }, l7Export: 'both' }));
  });

  it('keeps a deleted Pod for the grace period so late records resolve, then forgets it', () => {
    const pods = index();
    pods.set('uid-web', ['10.1.0.2'], ref('web'), t0);
    pods.release('uid-web', t0 + 10 * s);
    pods.sweep(t0 + 39 * s);
    expect(name(pods.lookup('10.1.0.2', t0 + 9 * s))).toBe('web');
    expect(pods.stats).toEqual({ live: 0, retired: 1, evictedEarly: 0 });
    pods.sweep(t0 + 40 * s);
    expect(pods.lookup('10.1.0.2', t0 + 9 * s)).toBeUndefined();
    expect(pods.stats).toEqual({ live: 0, retired: 0, evictedEarly: 0 });
  });

  it('resolves a reused address by time: the old Pod before, the new one after', () => {
    const pods = index();
    pods.set('uid-old', ['10.1.0.2'], ref('old'), t0);
    pods.release('uid-old', t0 + 10 * s);
    pods.set('uid-new', ['10.1.0.2'], ref('new'), t0 + 20 * s);
    expect(name(pods.lookup('10.1.0.2', t0 + 5 * s))).toBe('old');
    // Between the two: the nearer claim wins (a late record of the old, an early one of the new).
    expect(name(pods.lookup('10.1.0.2', t0 + 11 * s))).toBe('old');
    expect(name(pods.lookup('10.1.0.2', t0 + 19 * s))).toBe('new');
    expect(name(pods.lookup('10.1.0.2', t0 + 20 * s))).toBe('new');
    expect(name(pods.lookup('10.1.0.2', t0 + 60 * s))).toBe('new');
  });

  it('hands an address to a Pod that claims it while another still held it (a missed delete)', () => {
    const pods = index();
    pods.set('uid-stale', ['10.1.0.2'], ref('stale'), t0);
    pods.set('uid-fresh', ['10.1.0.2'], ref('fresh'), t0 + 10 * s);
    expect(name(pods.lookup('10.1.0.2', t0 + 5 * s))).toBe('stale');
    expect(name(pods.lookup('10.1.0.2', t0 + 10 * s))).toBe('fresh');
    pods.sweep(t0 + 41 * s);
    expect(name(pods.lookup('10.1.0.2', t0 + 5 * s))).toBe('fresh');
  });

  it('ends the claim on an address a Pod no longer lists', () => {
    const pods = index();
    pods.set('uid-web', ['10.1.0.2', 'fd00::2'], ref('web'), t0);
    pods.set('uid-web', ['fd00::2'], ref('web'), t0 + s);
    pods.sweep(t0 + 32 * s);
    expect(pods.lookup('10.1.0.2', t0)).toBeUndefined();
    expect(name(pods.lookup('fd00::2', t0))).toBe('web');
    expect(pods.stats.live).toBe(1);
  });

  it('refuses a new live Pod beyond max_pods, and evicts the oldest deleted ones early', () => {
    const pods = index(2);
    expect(pods.set('uid-a', ['10.1.0.1'], ref('a'), t0)).toBe(true);
    expect(pods.set('uid-b', ['10.1.0.2'], ref('b'), t0)).toBe(true);
    expect(pods.set('uid-c', ['10.1.0.3'], ref('c'), t0)).toBe(false);
    expect(pods.lookup('10.1.0.3', t0)).toBeUndefined();
    pods.release('uid-a', t0 + s);
    pods.release('uid-b', t0 + 2 * s);
    pods.set('uid-c', ['10.1.0.3'], ref('c'), t0 + 3 * s);
    pods.release('uid-c', t0 + 4 * s);
    expect(pods.stats).toEqual({ live: 0, retired: 2, evictedEarly: 1 });
    expect(pods.lookup('10.1.0.1', t0)).toBeUndefined();
    expect(name(pods.lookup('10.1.0.2', t0))).toBe('b');
  });
});
