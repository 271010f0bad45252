import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../config/paths.js';
import type { Tuple } from '../../pipeline/records.js';

/** Real conntrack and OVS output captured on a test machine (see capture-*.sh beside it). */
export const conntrackFixtureDir = join(packageRoot, 'test', 'fixtures', 'conntrack');

/** The lines of a fixture file, without the empty string after the final newline. */
export function fixtureLines(name: string): string[] {
  const lines = readFileSync(join(conntrackFixtureDir, name), 'utf8').split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/** The one line of `name` that contains every needle; fails loudly when not exactly one. */
export function fixtureLine(name: string, ...needles: string[]): string {
  const found = fixtureLines(name).filter((line) => needles.every((needle) => line.includes(needle)));
  if (found.length !== 1) throw new Error(`${name}: ${found.length} lines contain ${needles.join(' + ')}`);
  return found[0] as string;
}

export function tuple(proto: number, srcIp: string, srcPort: number, dstIp: string, dstPort: number): Tuple {
  return { proto, srcIp, srcPort, dstIp, dstPort };
}

/** Text chunks delivered as a pipe delivers them: asynchronously, one at a time. */
export async function* asyncChunks(chunks: Iterable<string>): AsyncGenerator<string> {
  for (const chunk of chunks) yield await Promise.resolve(chunk);
}

/** `text` cut into chunks of `size` characters. */
export function* chunked(text: string, size: number): Generator<string> {
  for (let at = 0; at < text.length; at += size) yield text.slice(at, at + size);
}
