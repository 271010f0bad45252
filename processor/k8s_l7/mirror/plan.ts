import { isIpv6 } from '../../../pipeline/ip.js';
import type { MirrorCandidate } from '../cluster-state.js';
import { flowKey, type FlowRule } from './flows.js';
import type { OvsdbSnapshot, OvsMirror } from './ovsdb-json.js';

/**
 * The mirror plan: from the opted-in Pods and what OVS holds now, the changes that make OVS
 * hold exactly what l7flow wants, and nothing else of l7flow's. Pure and level-triggered:
 * the same inputs give the same plan, and a plan applied leaves nothing for the next one.
 *
 * Ownership: l7flow's Mirror rows carry `external_ids:l7flow-mirror=<mirror name>`, its flows
 * carry its cookie. Nothing else is ever changed or removed. Both kinds are reconciled in
 * every mode, so switching modes between runs removes what the old mode installed.
 */

export type MirrorMode = 'ovsdb_mirror' | 'openflow';

export interface MirrorSettings {
  readonly mode: MirrorMode;
  readonly bridge: string;
  readonly targetPort: string;
  readonly mirrorName: string;
  /** `0x` + hex, never 0. */
  readonly cookie: string;
  readonly table: number;
  readonly priority: number;
  /** Interface external_ids that name a Pod (Antrea: `pod-name`, `pod-namespace`). */
  readonly externalIdKeys: { readonly name: string; readonly namespace: string };
}

export const ownerKey = 'l7flow-mirror';

/** What OVS holds, as far as l7flow cares. */
export interface OvsState {
  readonly ovsdb: OvsdbSnapshot;
  /** Rules carrying l7flow's cookie. */
  readonly flows: readonly FlowRule[];
  /** Whether the target port has no-flood set; undefined when unknown (no target). */
  readonly targetNoFlood?: boolean;
}

export type OvsChange =
  | {
      readonly op: 'create-mirror';
      readonly bridge: string;
      readonly name: string;
      readonly ports: readonly string[];
      readonly output: string;
    }
  | { readonly op: 'update-mirror'; readonly uuid: string; readonly ports: readonly string[]; readonly output: string }
  | { readonly op: 'delete-mirror'; readonly bridge: string; readonly uuid: string }
  | { readonly op: 'delete-flows'; readonly flows: readonly FlowRule[] }
  | { readonly op: 'add-flows'; readonly flows: readonly FlowRule[] }
  | { readonly op: 'set-no-flood'; readonly port: string };

export type PlanProblemReason = 'bridge_missing' | 'target_port_missing' | 'mirror_name_taken';

export interface PlanProblem {
  readonly reason: PlanProblemReason;
  readonly message: string;
}

export interface ResolvedPort {
  readonly uuid: string;
  readonly name: string;
  /** Usable OpenFlow port number, absent while OVS has none (or -1). */
  readonly ofport?: number;
}

export interface MirrorPlan {
  readonly changes: readonly OvsChange[];
  readonly problems: readonly PlanProblem[];
  /** Candidates with at least one port on the bridge. */
  readonly desiredPods: number;
  /** Of those, the ones OVS already mirrored fully before the changes. */
  readonly installedPods: number;
  /** Candidates with no port on the bridge (yet). */
  readonly withoutPort: readonly MirrorCandidate[];
}

interface Selected {
  readonly pod: MirrorCandidate;
  readonly ports: readonly ResolvedPort[];
}

export function planMirrors(
  candidates: readonly MirrorCandidate[],
  state: OvsState,
  settings: MirrorSettings,
): MirrorPlan {
  const bridge = state.ovsdb.bridge;
  if (bridge === undefined) {
    return {
      changes: [],
      problems: [{ reason: 'bridge_missing', message: `bridge "${settings.bridge}" does not exist` }],
      desiredPods: 0,
      installedPods: 0,
      withoutPort: candidates,
    };
  }
  const { selected, withoutPort } = resolvePorts(candidates, state.ovsdb, settings);
  const target = portByName(state.ovsdb, settings.targetPort);
  const problems: PlanProblem[] = [];
  const changes: OvsChange[] = [];
  if (selected.length > 0 && target === undefined) {
    problems.push({
      reason: 'target_port_missing',
      message: `target port "${settings.targetPort}" is not on bridge "${settings.bridge}"; nothing can be mirrored`,
    });
  }

  // OVSDB Mirror rows.
  const ours = bridge.mirrors
    .map((uuid) => state.ovsdb.mirrors.get(uuid))
    .filter((m): m is OvsMirror => m?.externalIds[ownerKey] === settings.mirrorName)
    .sort((a, b) => a.uuid.localeCompare(b.uuid));
  const wantedPorts = uniqueSorted(selected.flatMap((s) => s.ports.map((p) => p.uuid)));
  const wantMirror = settings.mode === 'ovsdb_mirror' && wantedPorts.length > 0;
  const [kept, ...extra] = ours;
  if (!wantMirror) {
    for (const mirror of ours) changes.push({ op: 'delete-mirror', bridge: bridge.uuid, uuid: mirror.uuid });
  } else if (target !== undefined) {
    if (kept === undefined) {
      const taken = bridge.mirrors.some((uuid) => state.ovsdb.mirrors.get(uuid)?.name === settings.mirrorName);
      if (taken) {
        problems.push({
          reason: 'mirror_name_taken',
          message: `a Mirror named "${settings.mirrorName}" that l7flow did not create is on bridge "${settings.bridge}"`,
        });
      } else {
        changes.push({
          op: 'create-mirror',
          bridge: bridge.uuid,
          name: settings.mirrorName,
          ports: wantedPorts,
          output: target.uuid,
        });
      }
    } else if (!mirrorMatches(kept, wantedPorts, target.uuid)) {
      changes.push({ op: 'update-mirror', uuid: kept.uuid, ports: wantedPorts, output: target.uuid });
    }
    for (const mirror of extra) changes.push({ op: 'delete-mirror', bridge: bridge.uuid, uuid: mirror.uuid });
  }

  // OpenFlow rules under our cookie.
  const wantFlows = settings.mode === 'openflow' && selected.length > 0;
  if (!wantFlows || target?.ofport !== undefined) {
    const desired = wantFlows && target?.ofport !== undefined ? desiredFlows(selected, target.ofport, settings) : [];
    const desiredByKey = new Map(desired.map((rule) => [flowKey(rule), rule]));
    const actualByKey = new Map(state.flows.map((rule) => [flowKey(rule), rule]));
    const stale = state.flows.filter((rule) => !desiredByKey.has(flowKey(rule)));
    const missing = desired.filter((rule) => actualByKey.get(flowKey(rule))?.actions !== rule.actions);
    if (stale.length > 0) changes.push({ op: 'delete-flows', flows: stale });
    if (missing.length > 0) changes.push({ op: 'add-flows', flows: missing });
  } else if (target !== undefined) {
    problems.push({
      reason: 'target_port_missing',
      message: `target port "${settings.targetPort}" has no OpenFlow port number yet`,
    });
  }

  // The target receives only copies: without no-flood, NORMAL would also flood unknown
  // destinations and broadcasts to it. Port config is lost when ovs-vswitchd restarts.
  if (target !== undefined && state.targetNoFlood === false && (wantMirror || wantFlows)) {
    changes.push({ op: 'set-no-flood', port: settings.targetPort });
  }

  const installed = selected.filter((s) =>
    settings.mode === 'ovsdb_mirror'
      ? kept !== undefined && target !== undefined && mirrorCovers(kept, s.ports, target.uuid)
      : target?.ofport !== undefined && flowsCover(state.flows, s, target.ofport, settings),
  ).length;
  return {
    changes,
    problems: dedupe(problems),
    desiredPods: selected.length,
    installedPods: installed,
    withoutPort,
  };
}

/** Everything l7flow installed, removed (cleanup_on_exit). */
export function planCleanup(state: OvsState, settings: MirrorSettings): OvsChange[] {
  const bridge = state.ovsdb.bridge;
  if (bridge === undefined) return [];
  const changes: OvsChange[] = bridge.mirrors
    .filter((uuid) => state.ovsdb.mirrors.get(uuid)?.externalIds[ownerKey] === settings.mirrorName)
    .map((uuid) => ({ op: 'delete-mirror', bridge: bridge.uuid, uuid }));
  if (state.flows.length > 0) changes.push({ op: 'delete-flows', flows: state.flows });
  return changes;
}

/**
 * Each candidate's ports on the bridge: those whose interface's external_ids name the Pod,
 * and the port the pods file names. One pass over the bridge's ports.
 */
export function resolvePorts(
  candidates: readonly MirrorCandidate[],
  ovsdb: OvsdbSnapshot,
  settings: Pick<MirrorSettings, 'externalIdKeys'>,
): { selected: Selected[]; withoutPort: MirrorCandidate[] } {
  const portsByName = new Map<string, ResolvedPort>();
  const portsByPod = new Map<string, ResolvedPort[]>();
  for (const portUuid of ovsdb.bridge?.ports ?? []) {
    const port = ovsdb.ports.get(portUuid);
    if (port === undefined) continue;
    const interfaces = port.interfaces.map((uuid) => ovsdb.interfaces.get(uuid)).filter((i) => i !== undefined);
    const ofport = interfaces.map((i) => i.ofport).find((n) => n !== undefined && n > 0);
    const resolved = resolvedPort(port.uuid, port.name, ofport);
    portsByName.set(port.name, resolved);
    for (const iface of interfaces) {
      const name = iface.externalIds[settings.externalIdKeys.name];
      const namespace = iface.externalIds[settings.externalIdKeys.namespace];
      if (name === undefined || namespace === undefined) continue;
      const key = `${namespace}/${name}`;
      portsByPod.set(key, [...(portsByPod.get(key) ?? []), resolved]);
    }
  }
  const selected: Selected[] = [];
  const withoutPort: MirrorCandidate[] = [];
  for (const pod of candidates) {
    const found = new Map<string, ResolvedPort>();
    for (const port of portsByPod.get(`${pod.namespace}/${pod.name}`) ?? []) found.set(port.uuid, port);
    const named = pod.ovsPort === undefined ? undefined : portsByName.get(pod.ovsPort);
    if (named !== undefined) found.set(named.uuid, named);
    if (found.size === 0) withoutPort.push(pod);
    else selected.push({ pod, ports: [...found.values()].sort((a, b) => a.name.localeCompare(b.name)) });
  }
  return { selected, withoutPort };
}

/**
 * Both directions of each selected Pod (Antrea #6902 mirrored only one): what it sends
 * (`in_port`) and what is addressed to it (its IPs), copied to the target, then forwarded
 * as the bridge would have (NORMAL).
 */
function desiredFlows(selected: readonly Selected[], targetOfport: number, settings: MirrorSettings): FlowRule[] {
  const actions = `output:${targetOfport},NORMAL`;
  const rules = new Map<string, FlowRule>();
  const add = (match: string) => {
    const rule = { table: settings.table, priority: settings.priority, match, actions };
    rules.set(flowKey(rule), rule);
  };
  for (const { pod, ports } of selected) {
    for (const port of ports) if (port.ofport !== undefined) add(`in_port=${port.ofport}`);
    for (const ip of pod.ips) add(isIpv6(ip) ? `ipv6,ipv6_dst=${ip}` : `ip,nw_dst=${ip}`);
  }
  return [...rules.values()];
}

function flowsCover(flows: readonly FlowRule[], s: Selected, targetOfport: number, settings: MirrorSettings): boolean {
  const have = new Set(flows.map((rule) => `${flowKey(rule)}|${rule.actions}`));
  return desiredFlows([s], targetOfport, settings).every((rule) => have.has(`${flowKey(rule)}|${rule.actions}`));
}

function portByName(ovsdb: OvsdbSnapshot, name: string): ResolvedPort | undefined {
  for (const portUuid of ovsdb.bridge?.ports ?? []) {
    const port = ovsdb.ports.get(portUuid);
    if (port?.name !== name) continue;
    const ofport = port.interfaces.map((i) => ovsdb.interfaces.get(i)?.ofport).find((n) => n !== undefined && n > 0);
    return resolvedPort(port.uuid, name, ofport);
  }
  return undefined;
}

/** Built field by field: a conditional spread per port is slow on V8 11 (Node 20). */
function resolvedPort(uuid: string, name: string, ofport: number | undefined): ResolvedPort {
  const port: { uuid: string; name: string; ofport?: number } = { uuid, name };
  if (ofport !== undefined) port.ofport = ofport;
  return port;
}

function mirrorMatches(mirror: OvsMirror, ports: readonly string[], output: string): boolean {
  return (
    !mirror.selectAll &&
    mirror.outputPort === output &&
    sameSet(mirror.selectSrcPorts, ports) &&
    sameSet(mirror.selectDstPorts, ports)
  );
}

function mirrorCovers(mirror: OvsMirror, ports: readonly ResolvedPort[], output: string): boolean {
  return (
    mirror.outputPort === output &&
    ports.every((p) => mirror.selectSrcPorts.includes(p.uuid) && mirror.selectDstPorts.includes(p.uuid))
  );
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  const set = new Set(a);
  return b.every((x) => set.has(x));
}

function uniqueSorted(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function dedupe(problems: readonly PlanProblem[]): PlanProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => !seen.has(p.reason) && seen.add(p.reason));
}
