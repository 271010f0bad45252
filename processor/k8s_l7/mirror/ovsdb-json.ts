/**
 * The OVSDB rows the reconciler reads, parsed from `ovs-vsctl --format=json` output (one JSON
 * document per command, one per line; RFC 7047 §5.1 notation: `["uuid", u]`, `["set", [...]]`
 * where a one-element set is written as the bare element, `["map", [[k, v], ...]]`).
 */

export interface OvsBridge {
  readonly uuid: string;
  readonly name: string;
  readonly ports: readonly string[];
  readonly mirrors: readonly string[];
}

export interface OvsPort {
  readonly uuid: string;
  readonly name: string;
  readonly interfaces: readonly string[];
}

export interface OvsInterface {
  readonly uuid: string;
  readonly name: string;
  /** Absent until vswitchd assigns one; -1 when the device could not be opened. */
  readonly ofport?: number;
  readonly externalIds: Readonly<Record<string, string>>;
}

export interface OvsMirror {
  readonly uuid: string;
  readonly name: string;
  readonly selectSrcPorts: readonly string[];
  readonly selectDstPorts: readonly string[];
  readonly outputPort?: string;
  readonly selectAll: boolean;
  readonly externalIds: Readonly<Record<string, string>>;
}

export interface OvsdbSnapshot {
  /** Absent when the bridge does not exist. */
  readonly bridge?: OvsBridge;
  readonly ports: ReadonlyMap<string, OvsPort>;
  readonly interfaces: ReadonlyMap<string, OvsInterface>;
  readonly mirrors: ReadonlyMap<string, OvsMirror>;
}

/** The columns each table is read with, in the order parseOvsdbSnapshot expects the documents. */
export const snapshotColumns = {
  bridge: ['_uuid', 'name', 'ports', 'mirrors'],
  port: ['_uuid', 'name', 'interfaces'],
  interface: ['_uuid', 'name', 'ofport', 'external_ids'],
  mirror: ['_uuid', 'name', 'select_src_port', 'select_dst_port', 'output_port', 'select_all', 'external_ids'],
} as const;

export class OvsOutputError extends Error {
  constructor(message: string) {
    super(`unexpected ovs-vsctl output: ${message}`);
    this.name = 'OvsOutputError';
  }
}

/** Parses the four documents of `find Bridge` + `list Port` + `list Interface` + `list Mirror`. */
export function parseOvsdbSnapshot(stdout: string): OvsdbSnapshot {
  const documents = stdout.split('\n').filter((line) => line.trim() !== '');
  if (documents.length !== 4) throw new OvsOutputError(`expected 4 tables, got ${documents.length}`);
  const [bridges, ports, interfaces, mirrors] = documents.map(parseTable) as [Row[], Row[], Row[], Row[]];
  if (bridges.length > 1) throw new OvsOutputError('more than one bridge of that name');
  const bridgeRow = bridges[0];
  return {
    ...(bridgeRow === undefined
      ? {}
      : {
          bridge: {
            uuid: uuid(bridgeRow, '_uuid'),
            name: string(bridgeRow, 'name'),
            ports: uuidSet(bridgeRow, 'ports'),
            mirrors: uuidSet(bridgeRow, 'mirrors'),
          },
        }),
    ports: byUuid(
      ports.map((row) => ({
        uuid: uuid(row, '_uuid'),
        name: string(row, 'name'),
        interfaces: uuidSet(row, 'interfaces'),
      })),
    ),
    interfaces: byUuid(
      // Rows are built field by field: a conditional spread per row is slow on V8 11 (Node 20).
      interfaces.map((row) => {
        const iface: { -readonly [K in keyof OvsInterface]: OvsInterface[K] } = {
          uuid: uuid(row, '_uuid'),
          name: string(row, 'name'),
          externalIds: stringMap(row, 'external_ids'),
        };
        const ofport = optionalInteger(row, 'ofport');
        if (ofport !== undefined) iface.ofport = ofport;
        return iface;
      }),
    ),
    mirrors: byUuid(
      mirrors.map((row) => {
        const mirror: { -readonly [K in keyof OvsMirror]: OvsMirror[K] } = {
          uuid: uuid(row, '_uuid'),
          name: string(row, 'name'),
          selectSrcPorts: uuidSet(row, 'select_src_port'),
          selectDstPorts: uuidSet(row, 'select_dst_port'),
          selectAll: row.select_all === true,
          externalIds: stringMap(row, 'external_ids'),
        };
        const output = uuidSet(row, 'output_port')[0];
        if (output !== undefined) mirror.outputPort = output;
        return mirror;
      }),
    ),
  };
}

type Row = Readonly<Record<string, unknown>>;

function parseTable(document: string): Row[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(document);
  } catch {
    throw new OvsOutputError(`not JSON: ${document.slice(0, 80)}`);
  }
  const { data, headings } = (parsed ?? {}) as { data?: unknown; headings?: unknown };
  if (!Array.isArray(data) || !Array.isArray(headings) || !headings.every((h) => typeof h === 'string')) {
    throw new OvsOutputError('a table without data and headings');
  }
  return data.map((values) => {
    if (!Array.isArray(values)) throw new OvsOutputError('a row that is not a list');
    return Object.fromEntries(headings.map((heading: string, i) => [heading, values[i]]));
  });
}

function byUuid<T extends { readonly uuid: string }>(rows: readonly T[]): Map<string, T> {
  return new Map(rows.map((row) => [row.uuid, row]));
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** True for a UUID as OVSDB writes it; only these reach an ovs-vsctl command line. */
export function isUuid(text: string): boolean {
  return uuidPattern.test(text);
}

function uuid(row: Row, column: string): string {
  return uuidAtom(row[column], column);
}

function uuidAtom(value: unknown, column: string): string {
  if (Array.isArray(value) && value[0] === 'uuid' && typeof value[1] === 'string' && isUuid(value[1])) return value[1];
  throw new OvsOutputError(`column ${column} is not a uuid`);
}

/** The elements of a set column: `["set", [...]]`, or a bare element for a one-element set. */
function elements(row: Row, column: string): unknown[] {
  const value = row[column];
  if (Array.isArray(value) && value[0] === 'set' && Array.isArray(value[1])) return value[1] as unknown[];
  return value === undefined ? [] : [value];
}

function uuidSet(row: Row, column: string): string[] {
  return elements(row, column).map((element) => uuidAtom(element, column));
}

function string(row: Row, column: string): string {
  const value = row[column];
  if (typeof value !== 'string') throw new OvsOutputError(`column ${column} is not a string`);
  return value;
}

function optionalInteger(row: Row, column: string): number | undefined {
  const [value] = elements(row, column);
  if (value === undefined) return undefined;
  if (!Number.isInteger(value)) throw new OvsOutputError(`column ${column} is not an integer`);
  return value as number;
}

function stringMap(row: Row, column: string): Record<string, string> {
  const value = row[column];
  if (!Array.isArray(value) || value[0] !== 'map' || !Array.isArray(value[1])) {
    throw new OvsOutputError(`column ${column} is not a map`);
  }
  const out: Record<string, string> = {};
  for (const pair of value[1] as unknown[]) {
    if (Array.isArray(pair) && typeof pair[0] === 'string' && typeof pair[1] === 'string') out[pair[0]] = pair[1];
  }
  return out;
}
