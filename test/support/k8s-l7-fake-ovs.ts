import { randomUUID } from 'node:crypto';
import { flowKey, type FlowRule } from '../../processor/k8s_l7/mirror/flows.js';
import type { OvsClient } from '../../processor/k8s_l7/mirror/ovs-client.js';
import type {
  OvsBridge,
  OvsInterface,
  OvsMirror,
  OvsPort,
  OvsdbSnapshot,
} from '../../processor/k8s_l7/mirror/ovsdb-json.js';
import type { OvsChange, OvsState } from '../../processor/k8s_l7/mirror/plan.js';

/**
 * An OvsClient over a simulated switch: read() returns the simulated state, apply() changes
 * it the way OVS would and records every batch of changes. Tests add and remove ports,
 * restart "ovs-vswitchd" (flows and no-flood are lost, OVSDB rows stay) and make the next
 * calls fail.
 */
export class FakeOvs implements OvsClient {
  readonly applied: (readonly OvsChange[])[] = [];
  reads = 0;
  flows: FlowRule[] = [];
  targetNoFlood = true;
  readonly #ports = new Map<string, OvsPort>();
  readonly #interfaces = new Map<string, OvsInterface>();
  readonly #mirrors = new Map<string, OvsMirror>();
  #bridge: { uuid: string; name: string; ports: string[]; mirrors: string[] } | undefined;
  #failures: Error[] = [];

  constructor(
    bridge = 'br-int',
    private readonly targetPort = 'antrea-l7-tap0',
    targetOfport = 3,
  ) {
    this.#bridge = { uuid: randomUUID(), name: bridge, ports: [], mirrors: [] };
    this.addPort(targetPort, { ofport: targetOfport });
  }

  /** Adds a port (one interface of the same name) to the bridge; returns the port's uuid. */
  addPort(name: string, options: { ofport?: number; externalIds?: Record<string, string> } = {}): string {
    const port: OvsPort = { uuid: randomUUID(), name, interfaces: [randomUUID()] };
    const iface: OvsInterface = {
      uuid: port.interfaces[0] ?? '',
      name,
      ...(options.ofport === undefined ? {} : { ofport: options.ofport }),
      externalIds: options.externalIds ?? {},
    };
    this.#ports.set(port.uuid, port);
    this.#interfaces.set(iface.uuid, iface);
    this.#bridge?.ports.push(port.uuid);
    return port.uuid;
  }

  /** A port labelled the way Antrea's CNI labels a Pod's port. */
  addPodPort(name: string, pod: { namespace: string; name: string }, ofport: number): string {
    return this.addPort(name, { ofport, externalIds: { 'pod-name': pod.name, 'pod-namespace': pod.namespace } });
  }

  removePort(name: string): void {
    const port = this.portNamed(name);
    if (!port || !this.#bridge) return;
    this.#ports.delete(port.uuid);
    for (const i of port.interfaces) this.#interfaces.delete(i);
    this.#bridge.ports = this.#bridge.ports.filter((p) => p !== port.uuid);
    // Mirror port columns are weak references: OVSDB drops a deleted port from them.
    for (const [uuid, mirror] of this.#mirrors) {
      this.#mirrors.set(uuid, {
        ...mirror,
        selectSrcPorts: mirror.selectSrcPorts.filter((p) => p !== port.uuid),
        selectDstPorts: mirror.selectDstPorts.filter((p) => p !== port.uuid),
        ...(mirror.outputPort === port.uuid ? { outputPort: undefined } : {}),
      });
    }
  }

  removeBridge(): void {
    this.#bridge = undefined;
  }

  /** A Mirror row l7flow did not create. */
  addForeignMirror(name: string, ports: readonly string[], output: string): string {
    const uuid = randomUUID();
    this.#mirrors.set(uuid, {
      uuid,
      name,
      selectSrcPorts: ports,
      selectDstPorts: ports,
      outputPort: output,
      selectAll: false,
      externalIds: {},
    });
    this.#bridge?.mirrors.push(uuid);
    return uuid;
  }

  portNamed(name: string): OvsPort | undefined {
    return [...this.#ports.values()].find((p) => p.name === name);
  }

  get mirrors(): OvsMirror[] {
    return (this.#bridge?.mirrors ?? []).map((uuid) => this.#mirrors.get(uuid)).filter((m) => m !== undefined);
  }

  /** Names of the ports a mirror selects (source side), sorted. */
  selectedPortNames(mirror: OvsMirror): string[] {
    return mirror.selectSrcPorts.map((uuid) => this.#ports.get(uuid)?.name ?? uuid).sort();
  }

  /** What a plain ovs-vswitchd restart loses: OpenFlow flows and port config. */
  restartVswitchd(): void {
    this.flows = [];
    this.targetNoFlood = false;
  }

  /** The next call (read or apply) rejects with `error`. */
  failNext(error: Error): void {
    this.#failures.push(error);
  }

  read(): Promise<OvsState> {
    this.reads++;
    const failure = this.#failures.shift();
    if (failure) return Promise.reject(failure);
    const ovsdb: OvsdbSnapshot = {
      ...(this.#bridge ? { bridge: { ...this.#bridge } satisfies OvsBridge } : {}),
      ports: new Map(this.#ports),
      interfaces: new Map(this.#interfaces),
      mirrors: new Map(this.#mirrors),
    };
    const targetExists = this.portNamed(this.targetPort) !== undefined;
    return Promise.resolve({
      ovsdb,
      flows: [...this.flows],
      ...(targetExists ? { targetNoFlood: this.targetNoFlood } : {}),
    });
  }

  apply(changes: readonly OvsChange[]): Promise<void> {
    const failure = this.#failures.shift();
    if (failure) return Promise.reject(failure);
    this.applied.push(changes);
    for (const change of changes) {
      switch (change.op) {
        case 'create-mirror': {
          const uuid = randomUUID();
          this.#mirrors.set(uuid, {
            uuid,
            name: change.name,
            selectSrcPorts: [...change.ports],
            selectDstPorts: [...change.ports],
            outputPort: change.output,
            selectAll: false,
            externalIds: { 'l7flow-mirror': change.name },
          });
          this.#bridge?.mirrors.push(uuid);
          break;
        }
        case 'update-mirror': {
          const mirror = this.#mirrors.get(change.uuid);
          if (mirror) {
            this.#mirrors.set(change.uuid, {
              ...mirror,
              selectSrcPorts: [...change.ports],
              selectDstPorts: [...change.ports],
              outputPort: change.output,
              selectAll: false,
            });
          }
          break;
        }
        case 'delete-mirror':
          if (this.#bridge) this.#bridge.mirrors = this.#bridge.mirrors.filter((m) => m !== change.uuid);
          this.#mirrors.delete(change.uuid);
          break;
        case 'delete-flows': {
          const gone = new Set(change.flows.map(flowKey));
          this.flows = this.flows.filter((f) => !gone.has(flowKey(f)));
          break;
        }
        case 'add-flows':
          for (const rule of change.flows) {
            this.flows = [...this.flows.filter((f) => flowKey(f) !== flowKey(rule)), rule];
          }
          break;
        case 'set-no-flood':
          this.targetNoFlood = true;
          break;
      }
    }
    return Promise.resolve();
  }
}
