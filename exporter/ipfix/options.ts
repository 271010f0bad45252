import { DataType, iana, Pen, Semantics, type InformationElement } from './codec/registry.js';
import { field, Template } from './codec/templates.js';

/**
 * Options records of the `rfc` profile: what a generic collector needs to understand the
 * exporter (go-ipfix's collector ignores Options Templates, so the `antrea` profile has none).
 */

export const RELIABILITY_TEMPLATE_ID = 259;
export const TYPE_INFO_TEMPLATE_ID = 260;

/** RFC 7011 §4.3: the Exporting Process Reliability Statistics. */
export interface ReliabilityStats {
  exportingProcessId: number;
  /** Flows, packets and octets the exporter dropped rather than sent (since it started). */
  notSentFlows: number;
  notSentPackets: number;
  notSentOctets: number;
  /** Time of the first and last drop, in ms since the epoch; 0 when nothing was dropped. */
  firstDropMs: number;
  lastDropMs: number;
}

/**
 * RFC 7011 §4.3 layout: scope exportingProcessId; the notSent counts; then the time the
 * first and the last flow were dropped, as two observationTime elements.
 */
export const reliabilityTemplate = new Template<ReliabilityStats>(
  RELIABILITY_TEMPLATE_ID,
  [
    field(iana.exportingProcessId, (s: ReliabilityStats) => s.exportingProcessId),
    field(iana.notSentFlowTotalCount, (s: ReliabilityStats) => s.notSentFlows),
    field(iana.notSentPacketTotalCount, (s: ReliabilityStats) => s.notSentPackets),
    field(iana.notSentOctetTotalCount, (s: ReliabilityStats) => s.notSentOctets),
    field(iana.observationTimeMilliseconds, (s: ReliabilityStats) => s.firstDropMs),
    field(iana.observationTimeMilliseconds, (s: ReliabilityStats) => s.lastDropMs),
  ],
  1,
);

/**
 * RFC 5610 §3.9 Information Element Type Options Template: scope privateEnterpriseNumber
 * and informationElementId; the element's data type, semantics and name. Lets a collector
 * that does not know PEN 56506 name and decode Antrea's elements.
 */
export const typeInfoTemplate = new Template<InformationElement>(
  TYPE_INFO_TEMPLATE_ID,
  [
    field(iana.privateEnterpriseNumber, (e: InformationElement) => e.pen),
    field(iana.informationElementId, (e: InformationElement) => e.id),
    field(iana.informationElementDataType, (e: InformationElement) => DataType[e.type]),
    field(iana.informationElementSemantics, (e: InformationElement) => Semantics[e.semantics]),
    field(iana.informationElementName, (e: InformationElement) => e.name),
  ],
  2,
);

/** The Antrea elements the given templates use, once each, in template order. */
export function antreaElementsOf(templates: readonly Template<never>[]): InformationElement[] {
  const seen = new Map<number, InformationElement>();
  for (const template of templates)
    for (const { element } of template.fields) if (element.pen === Pen.antrea) seen.set(element.id, element);
  return [...seen.values()];
}
