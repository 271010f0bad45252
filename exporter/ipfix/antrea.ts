import type { FlowRecord } from '../../pipeline/records.js';
import { antrea, iana, reverse } from './codec/registry.js';
import { field, Template, type Field } from './codec/templates.js';

/**
 * Antrea's agent flow record (antrea pkg/agent/flowexporter/exporter/ipfix.go; reference
 * antrea.md §7): the same elements in the same order, so that an Antrea Flow Aggregator or
 * go-ipfix collector reads our records as it reads an Antrea agent's.
 */

export const ANTREA_IPV4_TEMPLATE_ID = 256;
export const ANTREA_IPV6_TEMPLATE_ID = 257;

/**
 * What one data record is written from: the flow, plus what differs between a flow's main
 * record and its continuations. One instance is reused for every record.
 */
export interface AntreaRow {
  flow: FlowRecord;
  /** This record's httpVals JSON object, '' when it carries no transaction. */
  httpVals: string;
  /**
   * A continuation carries transactions that did not fit the main record: same keys and
   * totals, zero deltas, so that a collector summing deltas never counts traffic twice.
   */
  continuation: boolean;
}

const none = (): string => '';
const zero = (): number => 0;

function addressFields(family: 4 | 6): Field<AntreaRow>[] {
  return family === 4
    ? [
        field(iana.sourceIPv4Address, (r: AntreaRow) => r.flow.tuple.srcIp),
        field(iana.destinationIPv4Address, (r: AntreaRow) => r.flow.tuple.dstIp),
      ]
    : [
        field(iana.sourceIPv6Address, (r: AntreaRow) => r.flow.tuple.srcIp),
        field(iana.destinationIPv6Address, (r: AntreaRow) => r.flow.tuple.dstIp),
      ];
}

/**
 * The Service address of the flow in the template's family: Antrea writes 0.0.0.0 / ::
 * when there is no Service, and a Service of the other family cannot be represented.
 */
function clusterIpField(family: 4 | 6): Field<AntreaRow> {
  return family === 4
    ? field(antrea.destinationClusterIPv4, (r: AntreaRow) => {
        const ip = r.flow.service?.ip;
        return ip !== undefined && !ip.includes(':') ? ip : '0.0.0.0';
      })
    : field(antrea.destinationClusterIPv6, (r: AntreaRow) => {
        const ip = r.flow.service?.ip;
        return ip?.includes(':') ? ip : '::';
      });
}

/**
 * @param linkHttpRecords append flowId (148) and applicationName (96) after Antrea's
 *   fields, so that per-transaction IANA HTTP records can be joined to the flow
 *   (http_encoding iana or both). Antrea's own fields keep their positions either way.
 */
export function antreaTemplate(family: 4 | 6, linkHttpRecords: boolean): Template<AntreaRow> {
  const fields: Field<AntreaRow>[] = [
    // Whole seconds: small integers, which (unlike fractions) cost no allocation per record.
    field(iana.flowStartSeconds, (r: AntreaRow) => Math.floor(r.flow.startUs / 1e6)),
    field(iana.flowEndSeconds, (r: AntreaRow) => Math.floor(r.flow.endUs / 1e6)),
    field(iana.flowEndReason, (r: AntreaRow) => r.flow.endReason),
    field(iana.sourceTransportPort, (r: AntreaRow) => r.flow.tuple.srcPort),
    field(iana.destinationTransportPort, (r: AntreaRow) => r.flow.tuple.dstPort),
    field(iana.protocolIdentifier, (r: AntreaRow) => r.flow.tuple.proto),
    field(iana.packetTotalCount, (r: AntreaRow) => r.flow.totals.packets),
    field(iana.octetTotalCount, (r: AntreaRow) => r.flow.totals.bytes),
    field(iana.packetDeltaCount, (r: AntreaRow) => (r.continuation ? 0 : r.flow.deltas.packets)),
    field(iana.octetDeltaCount, (r: AntreaRow) => (r.continuation ? 0 : r.flow.deltas.bytes)),
    ...addressFields(family),
    field(reverse.packetTotalCount, (r: AntreaRow) => r.flow.totals.reversePackets),
    field(reverse.octetTotalCount, (r: AntreaRow) => r.flow.totals.reverseBytes),
    field(reverse.packetDeltaCount, (r: AntreaRow) => (r.continuation ? 0 : r.flow.deltas.reversePackets)),
    field(reverse.octetDeltaCount, (r: AntreaRow) => (r.continuation ? 0 : r.flow.deltas.reverseBytes)),
    field(antrea.sourcePodName, (r: AntreaRow) => r.flow.srcPod?.name ?? ''),
    field(antrea.sourcePodNamespace, (r: AntreaRow) => r.flow.srcPod?.namespace ?? ''),
    field(antrea.sourceNodeName, (r: AntreaRow) => r.flow.srcPod?.node ?? ''),
    field(antrea.destinationPodName, (r: AntreaRow) => r.flow.dstPod?.name ?? ''),
    field(antrea.destinationPodNamespace, (r: AntreaRow) => r.flow.dstPod?.namespace ?? ''),
    field(antrea.destinationNodeName, (r: AntreaRow) => r.flow.dstPod?.node ?? ''),
    field(antrea.destinationServicePort, (r: AntreaRow) => r.flow.service?.port ?? 0),
    field(antrea.destinationServicePortName, (r: AntreaRow) => r.flow.service?.name ?? ''),
    // We have no NetworkPolicy data: Antrea's "no policy" values.
    field(antrea.ingressNetworkPolicyName, none),
    field(antrea.ingressNetworkPolicyNamespace, none),
    field(antrea.ingressNetworkPolicyType, zero),
    field(antrea.ingressNetworkPolicyRuleName, none),
    field(antrea.ingressNetworkPolicyRuleAction, zero),
    field(antrea.egressNetworkPolicyName, none),
    field(antrea.egressNetworkPolicyNamespace, none),
    field(antrea.egressNetworkPolicyType, zero),
    field(antrea.egressNetworkPolicyRuleName, none),
    field(antrea.egressNetworkPolicyRuleAction, zero),
    field(antrea.tcpState, (r: AntreaRow) => r.flow.tcpState ?? ''),
    field(antrea.flowType, (r: AntreaRow) => r.flow.flowType),
    field(antrea.egressName, none),
    field(antrea.egressIP, none),
    field(antrea.appProtocolName, (r: AntreaRow) => r.flow.app),
    field(antrea.httpVals, (r: AntreaRow) => r.httpVals),
    field(antrea.egressNodeName, none),
    clusterIpField(family),
  ];
  if (linkHttpRecords) {
    fields.push(
      field(iana.flowId, (r: AntreaRow) => r.flow.flowKey),
      field(iana.applicationName, (r: AntreaRow) => r.flow.app),
    );
  }
  return new Template(family === 4 ? ANTREA_IPV4_TEMPLATE_ID : ANTREA_IPV6_TEMPLATE_ID, fields);
}
