#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { factories } from '../config/components.js';
import { readConfig, type AgentConfig, type LoadOptions } from '../config/load.js';
import { defaultConfigPath, packageVersion, replayConfigPath } from '../config/paths.js';
import { replayTransform } from '../config/replay.js';
import { createLogger } from '../pipeline/logger.js';
import { Service } from '../pipeline/service.js';
import {
  suricataEveReceiverFactory,
  suricataOutputYaml,
  type SuricataEveConfig,
} from '../receiver/suricata_eve/index.js';

/** Exit codes: 0 clean, 1 the agent failed or stopped uncleanly, 2 bad usage or configuration. */
const exitCode = { ok: 0, failed: 1, usage: 2 } as const;

const usage = `l7flow ${packageVersion}: Suricata L7 transactions joined onto flows, exported as IPFIX and OTLP

Usage:
  l7flow run [--config FILE]       run the agent (the embedded default config when no FILE)
  l7flow replay [--config FILE] EVE_FILE...
                                   process Suricata EVE files from the beginning and exit: one
                                   line per flow (or through FILE's pipeline, live receivers
                                   replaced by the files; no /metrics)
  l7flow validate [--config FILE]  check a config and print every problem (exit 2 when invalid)
  l7flow suricata-config [--config FILE] [--headers]
                                   print the Suricata eve-log output that feeds the config's
                                   suricata_eve socket (--headers: log all HTTP headers)
  l7flow version                   print the version
  l7flow help                      this text

Signals: SIGTERM or SIGINT stop the agent gracefully within service.shutdown_timeout;
a second signal exits at once. Exit status: 0 clean, 1 failed, 2 bad usage or config.
`;

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'run':
      return run(parseOptions(rest, false).config);
    case 'replay': {
      const { config, files } = parseOptions(rest, true, replayConfigPath);
      if (files.length === 0) {
        process.stderr.write('l7flow replay: give at least one EVE file\n');
        return exitCode.usage;
      }
      return run(config, { transform: replayTransform(files) });
    }
    case 'validate':
      return validate(parseOptions(rest, false).config);
    case 'suricata-config':
      return suricataConfig(rest);
    case 'version':
    case '--version':
      process.stdout.write(`${packageVersion}\n`);
      return exitCode.ok;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage);
      return command === undefined ? exitCode.usage : exitCode.ok;
    default:
      process.stderr.write(`l7flow: unknown command ${JSON.stringify(command)}\n\n${usage}`);
      return exitCode.usage;
  }
}

function parseOptions(
  args: readonly string[],
  allowFiles: boolean,
  fallback = defaultConfigPath,
): { config: string; files: string[] } {
  const { values, positionals } = parseArgs({
    args: [...args],
    options: { config: { type: 'string', short: 'c' } },
    allowPositionals: allowFiles,
    strict: true,
  });
  return { config: values.config ?? fallback, files: positionals };
}

async function load(path: string, options: Pick<LoadOptions, 'transform'> = {}): Promise<AgentConfig | undefined> {
  const result = await readConfig(path, { factories, ...options });
  if (result.ok) return result.config;
  const count = result.problems.length;
  process.stderr.write(
    `${path}: ${count} problem${count === 1 ? '' : 's'}\n${result.problems.map((p) => `  ${p}\n`).join('')}`,
  );
  return undefined;
}

async function validate(path: string): Promise<number> {
  const config = await load(path);
  if (!config) return exitCode.usage;
  const counted = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
  process.stdout.write(
    `${path}: valid (${counted(Object.keys(config.service.pipelines).length, 'pipeline')}; ` +
      `${counted(config.receivers.size, 'receiver')}, ${counted(config.processors.size, 'processor')}, ` +
      `${counted(config.exporters.size, 'exporter')})\n`,
  );
  return exitCode.ok;
}

/** Runs until a signal, a fatal component failure, or (replay) the end of finite input. */
function socketReceiverConfigs(config: AgentConfig): SuricataEveConfig[] {
  return [...config.receivers.values()]
    .filter((r) => r.factory === suricataEveReceiverFactory)
    .map((r) => r.config as SuricataEveConfig)
    .filter((c) => c.source === 'socket');
}

function suricataSockets(config: AgentConfig): string[] {
  return socketReceiverConfigs(config).map((c) => c.socket.path);
}

async function suricataConfig(args: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...args],
    options: { config: { type: 'string', short: 'c' }, headers: { type: 'boolean' } },
    strict: true,
  });
  const path = values.config ?? defaultConfigPath;
  const config = await load(path);
  if (!config) return exitCode.usage;
  const receiver = socketReceiverConfigs(config)[0];
  if (!receiver) {
    process.stderr.write(`${path}: no suricata_eve receiver with source: socket\n`);
    return exitCode.usage;
  }
  const options = {
    socketPath: receiver.socket.path,
    eventTypes: receiver.event_types,
    allHeaders: values.headers ?? false,
  };
  process.stdout.write(suricataOutputYaml(options));
  return exitCode.ok;
}

async function run(path: string, options: Pick<LoadOptions, 'transform'> = {}): Promise<number> {
  const config = await load(path, options);
  if (!config) return exitCode.usage;
  const logger = createLogger(config.service.telemetry.logs.level, config.service.telemetry.logs.encoding);
  logger.info({ config: path, version: packageVersion }, 'l7flow starting');
  const service = new Service(config, { logger, version: packageVersion, processMetrics: true });

  let stopRequested: (signal: string) => void = () => {};
  const stop = new Promise<string>((resolve) => (stopRequested = resolve));
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals === 1) return stopRequested(signal);
    logger.error({ signal }, 'second signal: exiting without finishing the shutdown');
    process.exit(exitCode.failed);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    await service.start();
  } catch (error) {
    logger.error({ err: error }, 'l7flow failed to start');
    return exitCode.failed;
  }
  for (const socket of suricataSockets(config)) {
    logger.info(
      { socket },
      'waiting for Suricata: add the eve-log output that "l7flow suricata-config" prints to suricata.yaml',
    );
  }
  // A replay has a natural end: every receiver finite, all input handed on.
  const finished = service.receiversCompleted()?.then(() => 'input complete');
  const reason = await Promise.race([
    stop.then((signal) => `signal ${signal}`),
    service.fatal.then((f) => `component ${f.componentId} failed`),
    ...(finished ? [finished] : []),
  ]);
  logger.info({ reason }, 'l7flow stopping');
  const { clean } = await service.shutdown();
  return clean ? exitCode.ok : exitCode.failed;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    const usageError = (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') === true;
    process.stderr.write(`l7flow: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(usageError ? exitCode.usage : exitCode.failed);
  },
);
