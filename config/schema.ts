import { z } from 'zod';
import { overflowPolicies } from '../pipeline/queue.js';
import { parseHostPort } from './address.js';
import { formatDuration, parseDuration } from './duration.js';

/**
 * Schema building blocks shared by every component's config section, and the translation of
 * zod issues into the messages users see: `path: must be ... (got ...)`.
 */

/** A duration string (`500ms`, `5s`, `1m`) parsed to milliseconds. */
export function duration(options: { min?: number; max?: number } = {}) {
  // Numbers are accepted by the type only to be refused with the duration message: a bare
  // number's unit would be a guess.
  return z
    .union([z.string(), z.number()])
    .transform((text, ctx) => {
      const ms = typeof text === 'string' ? parseDuration(text) : undefined;
      if (ms === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a duration such as 500ms, 5s or 1m (got ${show(text)})`,
          input: text,
        });
        return z.NEVER;
      }
      if (options.min !== undefined && ms < options.min) {
        ctx.addIssue({
          code: 'custom',
          message: `must be at least ${formatDuration(options.min)} (got ${show(text)})`,
          input: text,
        });
        return z.NEVER;
      }
      if (options.max !== undefined && ms > options.max) {
        ctx.addIssue({
          code: 'custom',
          message: `must be at most ${formatDuration(options.max)} (got ${show(text)})`,
          input: text,
        });
        return z.NEVER;
      }
      return ms;
    })
    .meta({ type: 'duration' });
}

const byteUnits: Readonly<Record<string, number>> = {
  B: 1,
  kB: 1e3,
  KiB: 1024,
  MB: 1e6,
  MiB: 1024 ** 2,
  GB: 1e9,
  GiB: 1024 ** 3,
};

/** A size in bytes: an integer, or a string such as `64KiB`, `1MiB`, `10MB`. */
export function byteSize(options: { min?: number; max?: number } = {}) {
  return z
    .union([z.number(), z.string()])
    .transform((value, ctx) => {
      let bytes: number | undefined;
      if (typeof value === 'number') bytes = Number.isInteger(value) ? value : undefined;
      else {
        const match = /^(\d+)\s*(B|kB|KiB|MB|MiB|GB|GiB)?$/.exec(value);
        if (match) bytes = Number(match[1]) * (byteUnits[match[2] ?? 'B'] ?? 1);
      }
      if (bytes === undefined) {
        ctx.addIssue({
          code: 'custom',
          message: `must be a size such as 65536, 64KiB or 1MiB (got ${show(value)})`,
          input: value,
        });
        return z.NEVER;
      }
      if ((options.min !== undefined && bytes < options.min) || (options.max !== undefined && bytes > options.max)) {
        const range = `${options.min ?? 0}..${options.max ?? 'unbounded'}`;
        ctx.addIssue({ code: 'custom', message: `must be within ${range} bytes (got ${show(value)})`, input: value });
        return z.NEVER;
      }
      return bytes;
    })
    .meta({ type: 'size' });
}

/** `host:port` or `[ipv6]:port`; port 0 picks a free port. */
export function hostPort() {
  return z
    .string()
    .refine((text) => parseHostPort(text) !== undefined, {
      error: (issue) => `must be host:port or [ipv6]:port (got ${show(issue.input)})`,
    })
    .meta({ type: 'host:port' });
}

/** The queue the graph puts in front of every exporter (every exporter section has it). */
export const sendingQueueSchema = z
  .strictObject({
    queue_size: z.number().int().min(1).default(10_000).describe('Records held while the exporter is busy.'),
    batch_size: z.number().int().min(1).default(1000).describe('Most records handed to the exporter at once.'),
    overflow: z.enum(overflowPolicies).default('drop_newest').describe('What a full queue drops.'),
  })
  .describe('Bounded queue between the pipeline and this exporter; a slow exporter never blocks the others.');
export type SendingQueueConfig = z.output<typeof sendingQueueSchema>;

/** Renders a value for a message: strings quoted, structures by their kind. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return typeof value;
}

export type PathSegment = string | number;

export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else out += out === '' ? segment : `.${segment}`;
  }
  return out;
}

const expectedNames: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'a mapping',
  array: 'a list',
};

/**
 * One message per problem, each prefixed with its full path. `schema` lets an unknown key
 * be reported with the keys that are allowed there.
 */
export function formatIssues(
  issues: readonly z.core.$ZodIssue[],
  prefix: readonly PathSegment[],
  schema: z.ZodType,
): string[] {
  const messages: string[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...(issue.path as PathSegment[])];
    if (issue.code === 'unrecognized_keys') {
      const known = knownKeys(schema, issue.path as PathSegment[]);
      for (const key of issue.keys) messages.push(`${formatPath([...path, key])}: ${unknownKeyMessage(key, known)}`);
      continue;
    }
    messages.push(`${formatPath(path)}: ${issueMessage(issue)}`);
  }
  return messages;
}

/** Zod's own messages start like these; anything else was written for the schema and is kept. */
const zodMessagePrefixes = ['Invalid', 'Too small', 'Too big', 'Unrecognized', 'Expected'];

function issueMessage(issue: z.core.$ZodIssue): string {
  const got = 'input' in issue ? ` (got ${show(issue.input)})` : '';
  if (issue.code !== 'custom' && !zodMessagePrefixes.some((prefix) => issue.message.startsWith(prefix)))
    return issue.message;
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'is required';
      return `must be ${expectedNames[issue.expected] ?? issue.expected}${got}`;
    case 'invalid_value':
      return issue.values.length === 1
        ? `must be ${show(issue.values[0])}${got}`
        : `must be one of ${issue.values.map(String).join(', ')}${got}`;
    case 'too_small':
      if (issue.origin === 'array') return `must have at least ${Number(issue.minimum)} entries`;
      if (issue.origin === 'string')
        return Number(issue.minimum) === 1
          ? 'must not be empty'
          : `must be at least ${Number(issue.minimum)} characters`;
      return `must be ${issue.inclusive ? '>=' : '>'} ${Number(issue.minimum)}${got}`;
    case 'too_big':
      if (issue.origin === 'array') return `must have at most ${Number(issue.maximum)} entries`;
      if (issue.origin === 'string') return `must be at most ${Number(issue.maximum)} characters`;
      return `must be ${issue.inclusive ? '<=' : '<'} ${Number(issue.maximum)}${got}`;
    case 'not_multiple_of':
      return `must be a multiple of ${Number(issue.divisor)}${got}`;
    case 'invalid_format':
      return issue.format === 'regex' && 'pattern' in issue
        ? `must match ${String(issue.pattern)}${got}`
        : `must be a valid ${issue.format}${got}`;
    default:
      return issue.message;
  }
}

function unknownKeyMessage(key: string, known: readonly string[]): string {
  if (known.length === 0) return 'unknown key';
  const guess = closest(key, known);
  return `unknown key${guess ? ` (did you mean "${guess}"?)` : ''}; allowed keys: ${known.join(', ')}`;
}

/** The keys a strict object accepts at `path` inside `schema` (empty when not an object). */
export function knownKeys(schema: z.ZodType, path: readonly PathSegment[]): string[] {
  let node: z.ZodType | undefined = unwrap(schema);
  for (const segment of path) {
    if (node instanceof z.ZodObject) node = unwrap(node.shape[segment] as z.ZodType | undefined);
    else if (node instanceof z.ZodArray) node = unwrap(node.element as z.ZodType);
    else if (node instanceof z.ZodRecord) node = unwrap(node.valueType as z.ZodType);
    else return [];
  }
  return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
}

/**
 * Strips defaults, optionality and transforms to reach the structural schema. With
 * `keepTagged`, stops at a transform tagged with a type for the documentation (duration, size).
 */
export function unwrap(schema: z.ZodType | undefined, options: { keepTagged?: boolean } = {}): z.ZodType | undefined {
  let node = schema;
  for (;;) {
    if (
      node instanceof z.ZodDefault ||
      node instanceof z.ZodPrefault ||
      node instanceof z.ZodOptional ||
      node instanceof z.ZodNullable
    ) {
      node = node.unwrap() as z.ZodType;
    } else if (node instanceof z.ZodPipe && !(options.keepTagged && taggedType(node))) {
      node = node.in as z.ZodType;
    } else {
      return node;
    }
  }
}

/** The documentation type a helper above tagged its schema with (`duration`, `size`, `host:port`). */
export function taggedType(schema: z.ZodType): string | undefined {
  const meta = z.globalRegistry.get(schema) as { type?: unknown } | undefined;
  return typeof meta?.type === 'string' ? meta.type : undefined;
}

/** The candidate within edit distance 2 of `word`, if exactly one is closest. */
function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of candidates) {
    const d = editDistance(word, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}
