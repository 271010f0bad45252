import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import {
  parseComponentId,
  type ComponentKind,
  type ExporterFactory,
  type Factory,
  type ProcessorFactory,
  type ReceiverFactory,
} from '../pipeline/component.js';
import type { RecordFamily } from '../pipeline/records.js';
import { expandEnv } from './env.js';
import { formatIssues, sendingQueueSchema, show, type SendingQueueConfig } from './schema.js';
import { serviceSchema, type PipelineConfig, type ServiceConfig } from './service.js';

/** The factories a configuration may name, by kind and type. */
export interface FactoryRegistry {
  readonly receiver: ReadonlyMap<string, ReceiverFactory>;
  readonly processor: ReadonlyMap<string, ProcessorFactory>;
  readonly exporter: ReadonlyMap<string, ExporterFactory>;
}

export function factoryRegistry(factories: readonly Factory[]): FactoryRegistry {
  const byKind = <F extends Factory>(kind: ComponentKind) =>
    new Map(factories.filter((f): f is F => f.kind === kind).map((f) => [f.type, f]));
  return {
    receiver: byKind<ReceiverFactory>('receiver'),
    processor: byKind<ProcessorFactory>('processor'),
    exporter: byKind<ExporterFactory>('exporter'),
  };
}

export interface ComponentConfig<F extends Factory> {
  readonly id: string;
  readonly factory: F;
  /** The section parsed by the factory's schema, defaults applied. */
  readonly config: unknown;
}

export interface ExporterConfig extends ComponentConfig<ExporterFactory> {
  readonly sendingQueue: SendingQueueConfig;
}

/** A configuration that passed every check: it can be built and started as is. */
export interface AgentConfig {
  readonly receivers: ReadonlyMap<string, ComponentConfig<ReceiverFactory>>;
  readonly processors: ReadonlyMap<string, ComponentConfig<ProcessorFactory>>;
  readonly exporters: ReadonlyMap<string, ExporterConfig>;
  readonly service: ServiceConfig;
}

export type LoadResult =
  { readonly ok: true; readonly config: AgentConfig } | { readonly ok: false; readonly problems: string[] };

export interface LoadOptions {
  readonly factories: FactoryRegistry;
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Names the text in YAML syntax errors (a file path). */
  readonly source?: string;
  /** Rewrites the document after env expansion and before validation (l7flow replay). */
  readonly transform?: (document: unknown) => unknown;
}

const sectionMap = z.record(z.string(), z.unknown()).nullable().default({});
const topSchema = z.strictObject({
  receivers: sectionMap,
  processors: sectionMap,
  exporters: sectionMap,
  service: z.unknown(),
});

/**
 * Reads and checks a config file; an unreadable file is one problem like any other. The file's
 * directory is available to it as `${env:L7FLOW_CONFIG_DIR}`, so that a config can name files
 * that travel with it.
 */
export async function readConfig(path: string, options: Omit<LoadOptions, 'source'>): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    return {
      ok: false,
      problems: [`${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`],
    };
  }
  const env = { ...(options.env ?? process.env), L7FLOW_CONFIG_DIR: dirname(resolve(path)) };
  return parseConfig(text, { ...options, env, source: path });
}

/**
 * Parses YAML, expands `${env:...}`, validates every section against its factory's schema
 * and cross-field rules, then checks the pipelines. Every problem is collected, each with
 * its path, before the result is returned: nothing is partially accepted.
 */
export function parseConfig(text: string, options: LoadOptions): LoadResult {
  const problems: string[] = [];
  const document = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  for (const error of document.errors) {
    const position = error.linePos ? `:${error.linePos[0].line}:${error.linePos[0].col}` : '';
    const message = (error.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    problems.push(`${options.source ?? 'config'}${position}: ${message}`);
  }
  if (problems.length > 0) return { ok: false, problems };

  const expanded = expandEnv(document.toJS() ?? {}, options.env ?? process.env, problems);
  const rewritten = options.transform ? options.transform(expanded) : expanded;
  const top = topSchema.safeParse(rewritten, { reportInput: true });
  if (!top.success) {
    problems.push(...formatIssues(top.error.issues, [], topSchema));
    return { ok: false, problems };
  }

  const { factories } = options;
  const sections = {
    receivers: top.data.receivers ?? {},
    processors: top.data.processors ?? {},
    exporters: top.data.exporters ?? {},
  };
  const receivers = parseSections('receiver', sections.receivers, factories.receiver, problems);
  const processors = parseSections('processor', sections.processors, factories.processor, problems);
  const exporters = new Map<string, ExporterConfig>();
  for (const [id, section] of parseSections('exporter', sections.exporters, factories.exporter, problems)) {
    const { sending_queue, ...config } = section.config as { sending_queue: SendingQueueConfig };
    exporters.set(id, { ...section, config, sendingQueue: sending_queue });
  }

  const service = serviceSchema.safeParse(top.data.service, { reportInput: true });
  if (!service.success) problems.push(...formatIssues(service.error.issues, ['service'], serviceSchema));
  // Pipelines are checked even when another service key is wrong, so that one run reports all.
  const pipelines = service.success
    ? service.data.pipelines
    : serviceSchema.shape.pipelines.safeParse((top.data.service as { pipelines?: unknown } | null)?.pipelines).data;
  const defined = {
    receivers: new Set(Object.keys(sections.receivers)),
    processors: new Set(Object.keys(sections.processors)),
    exporters: new Set(Object.keys(sections.exporters)),
  };
  if (pipelines) checkPipelines({ receivers, processors, exporters }, pipelines, defined, factories, problems);
  if (!service.success || problems.length > 0) return { ok: false, problems };
  return { ok: true, config: { receivers, processors, exporters, service: service.data } };
}

function parseSections<F extends Factory>(
  kind: ComponentKind,
  sections: Readonly<Record<string, unknown>>,
  registry: ReadonlyMap<string, F>,
  problems: string[],
): Map<string, ComponentConfig<F>> {
  const parsed = new Map<string, ComponentConfig<F>>();
  const group = `${kind}s`;
  for (const [id, section] of Object.entries(sections)) {
    const componentId = parseComponentId(id);
    if (!componentId) {
      problems.push(`${group}.${id}: invalid id (use type or type/name; type in lower_snake_case)`);
      continue;
    }
    const factory = registry.get(componentId.type);
    if (!factory) {
      problems.push(
        `${group}.${id}: unknown ${kind} type ${show(componentId.type)} (known: ${[...registry.keys()].join(', ')})`,
      );
      continue;
    }
    const schema = kind === 'exporter' ? withSendingQueue(factory.configSchema) : factory.configSchema;
    const result = schema.safeParse(section ?? {}, { reportInput: true });
    if (!result.success) {
      problems.push(...formatIssues(result.error.issues, [group, id], schema));
      continue;
    }
    const before = problems.length;
    for (const problem of factory.validate?.(result.data) ?? []) problems.push(`${group}.${id}.${problem}`);
    if (problems.length === before) parsed.set(id, { id, factory, config: result.data });
  }
  return parsed;
}

function withSendingQueue(schema: z.ZodType): z.ZodType {
  if (!(schema instanceof z.ZodObject)) throw new Error('exporter config schemas must be objects');
  return schema.extend({ sending_queue: sendingQueueSchema.prefault({}) });
}

const familyNames: Readonly<Record<RecordFamily, string>> = {
  l7: 'L7 events',
  conn: 'conntrack samples',
  flow: 'flow records',
};

/**
 * Every referenced id is defined, every defined id is used, no pipeline is empty, a
 * processor (which holds per-pipeline state) serves one pipeline, and every exporter
 * consumes every record family its pipeline delivers to it.
 */
function checkPipelines(
  config: Pick<AgentConfig, 'receivers' | 'processors' | 'exporters'>,
  pipelineMap: ServiceConfig['pipelines'],
  defined: Readonly<Record<'receivers' | 'processors' | 'exporters', ReadonlySet<string>>>,
  factories: FactoryRegistry,
  problems: string[],
): void {
  const used = { receivers: new Set<string>(), processors: new Set<string>(), exporters: new Set<string>() };
  const processorOwner = new Map<string, string>();
  const pipelines = Object.entries(pipelineMap);
  if (pipelines.length === 0) problems.push('service.pipelines: at least one pipeline is required');

  for (const [name, pipeline] of pipelines) {
    const at = `service.pipelines.${name}`;
    if (!parseComponentId(name))
      problems.push(`${at}: invalid pipeline name (use name or name/suffix, lower_snake_case)`);
    for (const group of ['receivers', 'exporters'] as const) {
      if (pipeline[group].length === 0)
        problems.push(`${at}.${group}: a pipeline needs at least one ${group.slice(0, -1)}`);
    }
    for (const group of ['receivers', 'processors', 'exporters'] as const) {
      const seen = new Set<string>();
      pipeline[group].forEach((id, index) => {
        if (seen.has(id)) problems.push(`${at}.${group}[${index}]: ${show(id)} is listed twice`);
        seen.add(id);
        used[group].add(id);
        // A section that failed its own checks was reported already; it is not "undefined".
        if (!defined[group].has(id)) {
          problems.push(`${at}.${group}[${index}]: ${show(id)} is not defined under ${group}`);
        }
      });
    }
    for (const id of pipeline.processors) {
      const owner = processorOwner.get(id);
      if (owner !== undefined && owner !== name) {
        problems.push(
          `${at}.processors: ${show(id)} is already used by pipeline ${show(owner)}; a processor keeps per-pipeline state, so define another instance (e.g. ${id.split('/')[0]}/${name.replace('/', '_')})`,
        );
      }
      processorOwner.set(id, name);
    }
    checkFamilies(at, pipeline, config, factories, problems);
  }

  for (const group of ['receivers', 'processors', 'exporters'] as const) {
    // Sections that failed their own checks were reported already.
    for (const id of config[group].keys()) {
      if (!used[group].has(id)) problems.push(`${group}.${id}: defined but not used by any pipeline`);
    }
  }
}

function checkFamilies(
  at: string,
  pipeline: PipelineConfig,
  config: Pick<AgentConfig, 'receivers' | 'processors' | 'exporters'>,
  factories: FactoryRegistry,
  problems: string[],
): void {
  let flowing = new Set<RecordFamily>();
  for (const id of pipeline.receivers) for (const f of config.receivers.get(id)?.factory.produces ?? []) flowing.add(f);
  for (const id of pipeline.processors) {
    const factory = config.processors.get(id)?.factory;
    if (!factory) return;
    const transformed = factory.consumes.filter((f) => flowing.has(f));
    if (transformed.length === 0 && flowing.size > 0) {
      problems.push(
        `${at}.processors: ${show(id)} consumes ${describe(factory.consumes)} but receives only ${describe([...flowing])}`,
      );
    }
    const next = new Set([...flowing].filter((f) => !factory.consumes.includes(f)));
    if (transformed.length > 0) for (const f of factory.produces) next.add(f);
    flowing = next;
  }
  for (const id of pipeline.exporters) {
    const factory = config.exporters.get(id)?.factory;
    if (!factory) continue;
    for (const family of flowing) {
      if (factory.consumes.includes(family)) continue;
      const helpers = [...factories.processor.values()]
        .filter((p) => p.consumes.includes(family) && p.produces.some((f) => factory.consumes.includes(f)))
        .map((p) => p.type);
      const hint = helpers.length > 0 ? ` (add processor ${helpers.join(' or ')})` : '';
      problems.push(
        `${at}.exporters: ${show(id)} consumes ${describe(factory.consumes)}, but this pipeline delivers ${familyNames[family]}${hint}`,
      );
    }
  }
}

function describe(families: readonly RecordFamily[]): string {
  return families.map((f) => familyNames[f]).join(' and ');
}
