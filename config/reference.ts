import { z } from 'zod';
import type { Factory } from '../pipeline/component.js';
import { sendingQueueSchema, taggedType, unwrap } from './schema.js';
import { serviceSchema } from './service.js';

/** One configuration key as the reference documents it. */
export interface KeyDoc {
  /** Dotted path within its section, e.g. `socket.path`. */
  readonly path: string;
  readonly type: string;
  /** The default as YAML would show it; undefined when the key is required. */
  readonly defaultValue: string | undefined;
  readonly description: string;
}

/**
 * Every key of a strict object schema, nested objects flattened to dotted paths, with type,
 * default and the `.describe()` text. Keys without a description are listed with an empty one,
 * which the documentation test refuses.
 */
export function documentKeys(schema: z.ZodType, prefix = ''): KeyDoc[] {
  const object = structural(schema);
  if (!(object instanceof z.ZodObject)) return [];
  const keys: KeyDoc[] = [];
  const shape: Record<string, z.ZodType> = object.shape;
  for (const [key, field] of Object.entries(shape)) {
    const path = `${prefix}${key}`;
    const inner = structural(field);
    if (inner instanceof z.ZodObject && Object.keys(inner.shape).length > 0) {
      keys.push(...documentKeys(inner, `${path}.`));
      continue;
    }
    keys.push({ path, type: typeName(field), defaultValue: defaultOf(field), description: descriptionOf(field) });
  }
  return keys;
}

/** The whole reference as Markdown: one table per component type, then the service section. */
export function configurationReference(factories: readonly Factory[]): string {
  const lines = [
    '# Configuration reference',
    '',
    'Generated from the component schemas by `npm run docs`; `test/docs.test.ts` fails when this file and',
    'the schemas disagree. `config/examples/l7flow.yaml` shows every key in context.',
    '',
    'Values may use `${env:NAME}` or `${env:NAME:-default}`. Durations are strings such as `500ms`, `5s`,',
    '`1m`; sizes are integers or strings such as `64KiB`, `1MiB`. Unknown keys are errors.',
  ];
  for (const kind of ['receiver', 'processor', 'exporter'] as const) {
    lines.push('', `## ${kind}s`);
    for (const factory of factories.filter((f) => f.kind === kind)) {
      lines.push('', `### ${factory.type}`, '', ...table(documentKeys(factory.configSchema)));
    }
  }
  lines.push(
    '',
    '### sending_queue (every exporter)',
    '',
    'Each exporter section also takes `sending_queue`, the bounded queue the pipeline keeps in front of it.',
    '',
    ...table(documentKeys(sendingQueueSchema, 'sending_queue.')),
    '',
    '## service',
    '',
    ...table(documentKeys(serviceSchema.omit({ pipelines: true }))),
    '',
    '`service.pipelines` maps pipeline names to `{ receivers: [ids], processors: [ids], exporters: [ids] }`.',
    '',
  );
  return lines.join('\n');
}

function table(keys: readonly KeyDoc[]): string[] {
  const cell = (text: string) => text.replace(/\|/g, '\\|');
  return [
    '| key | type | default | description |',
    '| --- | --- | --- | --- |',
    ...keys.map((k) => `| \`${k.path}\` | ${cell(k.type)} | ${showDefault(k.defaultValue)} | ${cell(k.description)} |`),
  ];
}

function showDefault(value: string | undefined): string {
  if (value === undefined) return 'required';
  return value === optionalWithoutDefault ? value : `\`${value.replace(/\|/g, '\\|')}\``;
}

/** The schema that says what is accepted, stopping at documented transforms (durations, sizes). */
function structural(schema: z.ZodType): z.ZodType {
  return unwrap(schema, { keepTagged: true }) ?? schema;
}

function typeName(schema: z.ZodType): string {
  let node: z.ZodType = schema;
  while (node instanceof z.ZodDefault || node instanceof z.ZodPrefault || node instanceof z.ZodOptional)
    node = node.unwrap() as z.ZodType;
  const tagged = taggedType(node);
  if (tagged) return tagged;
  const inner = structural(node);
  if (inner instanceof z.ZodEnum) return inner.options.map((o) => `\`${String(o)}\``).join(' | ');
  if (inner instanceof z.ZodArray) return `list of ${typeName(inner.element as z.ZodType)}`;
  if (inner instanceof z.ZodRecord) return `map of ${typeName(inner.valueType as z.ZodType)}`;
  if (inner instanceof z.ZodNumber) return inner.isInt ? 'integer' : 'number';
  if (inner instanceof z.ZodString) return 'string';
  if (inner instanceof z.ZodBoolean) return 'boolean';
  if (inner instanceof z.ZodObject) return 'mapping';
  if (inner instanceof z.ZodUnion) return (inner.options as z.ZodType[]).map(typeName).join(' or ');
  return inner._zod.def.type;
}

/** The default as text; `optionalWithoutDefault` for optional keys that have none. */
const optionalWithoutDefault = 'not set';

function defaultOf(schema: z.ZodType): string | undefined {
  let node: z.ZodType = schema;
  let optional = false;
  while (node instanceof z.ZodOptional || node instanceof z.ZodNullable) {
    optional = true;
    node = node.unwrap() as z.ZodType;
  }
  if (!(node instanceof z.ZodDefault || node instanceof z.ZodPrefault))
    return optional ? optionalWithoutDefault : undefined;
  const value: unknown = node._zod.def.defaultValue;
  return typeof value === 'string' ? (value === '' ? '""' : value) : JSON.stringify(value);
}

function descriptionOf(schema: z.ZodType): string {
  let node: z.ZodType | undefined = schema;
  while (node) {
    if (node.description) return node.description;
    node =
      node instanceof z.ZodDefault || node instanceof z.ZodPrefault || node instanceof z.ZodOptional
        ? (node.unwrap() as z.ZodType)
        : undefined;
  }
  return '';
}
