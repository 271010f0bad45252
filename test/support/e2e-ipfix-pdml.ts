import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * IPFIX data records as tshark decodes them, read from its PDML output. PDML is used rather
 * than `-T json` because tshark prints Antrea's PEN 56506 elements as nameless hex entries and
 * leaves out the zero-length ones: only PDML's `showname` says which element an entry is
 * ("Enterprise Private entry: (Project Antrea) Type 103: Value (hex bytes): ...").
 */

export interface TsharkIpfixRecord {
  /** The data set's id, i.e. the template the record follows. */
  readonly setId: number;
  /** Standard fields by tshark name (`cflow.srcaddr`), every occurrence in order, as shown. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
  /** PEN 56506 elements present in the record, by element id, as UTF-8 text of their bytes. */
  readonly antrea: ReadonlyMap<number, string>;
  /** The same elements' raw bytes. */
  readonly antreaBytes: ReadonlyMap<number, Buffer>;
}

export interface TsharkIpfixDecode {
  readonly records: TsharkIpfixRecord[];
  /** Expert infos and malformed-packet markers tshark raised (sequence gaps, bad lengths). */
  readonly expertInfos: string[];
}

const runFile = promisify(execFile);

/** Decodes the IPFIX datagrams to `udpPort` in a capture file. */
export async function decodeIpfixCapture(pcap: string, udpPort: number): Promise<TsharkIpfixDecode> {
  const { stdout } = await runFile('tshark', ['-r', pcap, '-d', `udp.port==${udpPort},cflow`, '-T', 'pdml'], {
    timeout: 30_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return parsePdmlIpfix(stdout);
}

interface Node {
  readonly attributes: Readonly<Record<string, string>>;
  readonly children: Node[];
}

const entities: Readonly<Record<string, string>> = { quot: '"', amp: '&', lt: '<', gt: '>', apos: "'" };

function unescapeXml(text: string): string {
  return text.replace(/&(quot|amp|lt|gt|apos|#x[0-9a-f]+|#\d+);/gi, (whole, name: string) => {
    if (name.startsWith('#x') || name.startsWith('#X')) return String.fromCodePoint(parseInt(name.slice(2), 16));
    if (name.startsWith('#')) return String.fromCodePoint(Number(name.slice(1)));
    return entities[name.toLowerCase()] ?? whole;
  });
}

/** The `<proto>` and `<field>` elements of a PDML document as a tree (tshark escapes `<>&"'` in values). */
function pdmlTree(xml: string): Node {
  const root: Node = { attributes: {}, children: [] };
  const stack: Node[] = [root];
  for (const tag of xml.matchAll(/<(\/?)(packet|proto|field)\b([^>]*?)(\/?)>/g)) {
    const [, closing, , attributeText = '', selfClosing] = tag;
    if (closing) {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const [, name = '', value = ''] of attributeText.matchAll(/([\w.:-]+)="([^"]*)"/g))
      attributes[name] = unescapeXml(value);
    const node: Node = { attributes, children: [] };
    stack[stack.length - 1]!.children.push(node);
    if (!selfClosing) stack.push(node);
  }
  return root;
}

function* walk(node: Node): Generator<Node> {
  yield node;
  for (const child of node.children) yield* walk(child);
}

export function parsePdmlIpfix(xml: string): TsharkIpfixDecode {
  const records: TsharkIpfixRecord[] = [];
  const expertInfos: string[] = [];
  for (const node of walk(pdmlTree(xml))) {
    const name = node.attributes.name ?? '';
    if (name.startsWith('_ws.expert') || name.startsWith('_ws.malformed'))
      expertInfos.push(node.attributes.showname ?? node.attributes.show ?? name);
    const set = /^Set \d+ \[id=(\d+)\]/.exec(node.attributes.show ?? '');
    if (name !== '' || !set) continue;
    for (const flow of node.children) {
      if (!/^Flow \d+$/.test(flow.attributes.show ?? '')) continue;
      records.push(readRecord(Number(set[1]), flow));
    }
  }
  return { records, expertInfos };
}

function readRecord(setId: number, flow: Node): TsharkIpfixRecord {
  const fields = new Map<string, string[]>();
  const antrea = new Map<number, string>();
  const antreaBytes = new Map<number, Buffer>();
  // Fields may nest (times under cflow.timedelta, string lengths under their string).
  for (const node of flow.children.flatMap((child) => [...walk(child)])) {
    const { name = '', show = '', showname = '', value = '' } = node.attributes;
    if (name === 'cflow.enterprise_private_entry') {
      const type = /\(Project Antrea\) Type (\d+):/.exec(showname);
      if (type) {
        const bytes = Buffer.from(value, 'hex');
        antreaBytes.set(Number(type[1]), bytes);
        antrea.set(Number(type[1]), bytes.toString('utf8'));
      }
      continue;
    }
    if (name === '') continue;
    fields.set(name, [...(fields.get(name) ?? []), show]);
  }
  return { setId, fields, antrea, antreaBytes };
}

/** The first value of a standard field. */
export function field(record: TsharkIpfixRecord, name: string): string | undefined {
  return record.fields.get(name)?.[0];
}
