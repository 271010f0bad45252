import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

/**
 * tshark (Wireshark's "cflow" dissector) as an independent IPFIX decoder: it reads an
 * RFC 5655 file directly (`-r file.ipfix`) or a capture of UDP datagrams.
 */
const run = promisify(execFile);

/** tshark's JSON rendering of every frame (`--no-duplicate-keys` turns repeated fields into arrays). */
export async function tsharkJson(file: string, extraArgs: readonly string[] = []): Promise<TsharkFrame[]> {
  const { stdout } = await run('tshark', ['-r', file, ...extraArgs, '-T', 'json', '--no-duplicate-keys'], {
    timeout: 30_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(stdout) as TsharkFrame[];
}

/** The summary of expert infos (warnings such as "Unexpected flow sequence", malformed packets). */
export async function tsharkExpert(file: string, extraArgs: readonly string[] = []): Promise<string> {
  const { stdout } = await run('tshark', ['-r', file, ...extraArgs, '-q', '-z', 'expert'], { timeout: 30_000 });
  return stdout.trim();
}

export interface TsharkFrame {
  readonly _source: { readonly layers: Readonly<Record<string, unknown>> };
}

export type TsharkFields = Readonly<Record<string, unknown>>;

/** Every IPFIX message tshark decoded: its header fields, and each data record with its set id. */
export function cflowMessages(
  frames: readonly TsharkFrame[],
): { header: TsharkFields; flows: { setId: number; fields: TsharkFields }[] }[] {
  const out: { header: TsharkFields; flows: { setId: number; fields: TsharkFields }[] }[] = [];
  for (const frame of frames) {
    const layer = frame._source.layers.cflow;
    for (const message of (Array.isArray(layer) ? layer : [layer]) as TsharkFields[]) {
      const flows: { setId: number; fields: TsharkFields }[] = [];
      for (const [key, set] of Object.entries(message)) {
        if (!key.startsWith('Set ')) continue;
        const setFields = set as TsharkFields;
        const setId = Number(setFields['cflow.flowset_id']);
        for (const [flowKey, flow] of Object.entries(setFields))
          if (flowKey.startsWith('Flow ')) flows.push({ setId, fields: flow as TsharkFields });
      }
      out.push({ header: message, flows });
    }
  }
  return out;
}

/** True when any frame carries an expert info or a malformed-packet marker. */
export function hasExpertInfo(frames: readonly TsharkFrame[]): boolean {
  return JSON.stringify(frames).match(/"_ws\.(expert|malformed)/) !== null;
}

/**
 * Captures UDP to `port` on loopback into `pcap` while `during` runs. tshark is started
 * first (templates must be in the capture), stopped by its own pid, and bounded by
 * `-a duration` so that it can never outlive the test.
 */
export async function captureLoopbackUdp(port: number, pcap: string, during: () => Promise<void>): Promise<void> {
  const child = spawn('tshark', ['-i', 'lo', '-f', `udp port ${port}`, '-w', pcap, '-a', 'duration:60'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`tshark did not start capturing: ${stderr}`)), 15_000);
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        // "Capturing on 'lo'" comes first; packets are only kept once dumpcap reports this.
        if (stderr.includes('Capture started')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', () => {
        clearTimeout(timer);
        reject(new Error(`tshark exited: ${stderr}`));
      });
    });
    await during();
    await new Promise((resolve) => setTimeout(resolve, 300)); // the last datagrams reach the capture
  } finally {
    if (child.exitCode === null) child.kill('SIGINT');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(killer);
  }
}
