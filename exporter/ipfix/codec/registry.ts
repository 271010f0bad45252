/**
 * Information Elements we export, typed. Sources: the IANA "IPFIX Information Elements"
 * registry (RFC 7012), RFC 5103 for reverse elements, RFC 5610 for type export, and the
 * Antrea registry (PEN 56506) as go-ipfix publishes it.
 */

/** IANA "IPFIX Information Element Data Types" codes (RFC 7012 §3.1, numbered for RFC 5610). */
export const DataType = {
  octetArray: 0,
  unsigned8: 1,
  unsigned16: 2,
  unsigned32: 3,
  unsigned64: 4,
  signed8: 5,
  signed16: 6,
  signed32: 7,
  signed64: 8,
  float32: 9,
  float64: 10,
  boolean: 11,
  macAddress: 12,
  string: 13,
  dateTimeSeconds: 14,
  dateTimeMilliseconds: 15,
  dateTimeMicroseconds: 16,
  ipv4Address: 18,
  ipv6Address: 19,
} as const;
export type DataTypeName = keyof typeof DataType;

/** IANA "IPFIX Information Element Semantics" codes (RFC 7012 §3.2, numbered for RFC 5610). */
export const Semantics = {
  default: 0,
  quantity: 1,
  totalCounter: 2,
  deltaCounter: 3,
  identifier: 4,
  flags: 5,
} as const;
export type SemanticsName = keyof typeof Semantics;

/** Field length meaning "variable length" in a template (RFC 7011 §7). */
export const VARIABLE_LENGTH = 0xffff;

/**
 * The value a field of each type takes in code. Date-times are numbers in the type's own
 * unit (seconds, milliseconds, microseconds since the Unix epoch); integers must be below 2^53.
 */
export type ValueOf<T extends DataTypeName> = T extends 'string' | 'ipv4Address' | 'ipv6Address' | 'macAddress'
  ? string
  : T extends 'boolean'
    ? boolean
    : T extends 'octetArray'
      ? Uint8Array
      : number;

export interface InformationElement<T extends DataTypeName = DataTypeName> {
  readonly name: string;
  /** Private Enterprise Number; 0 for IANA elements. */
  readonly pen: number;
  readonly id: number;
  readonly type: T;
  readonly semantics: SemanticsName;
}

/** Private Enterprise Numbers (IANA "Private Enterprise Numbers" registry). */
export const Pen = {
  iana: 0,
  /** RFC 5103 §6.1: reverse direction of a biflow. */
  reverse: 29305,
  /** Project Antrea. */
  antrea: 56506,
} as const;

/** The natural (full) field length of a type; variable length for strings and octet arrays. */
export function naturalLength(type: DataTypeName): number {
  switch (type) {
    case 'unsigned8':
    case 'signed8':
    case 'boolean':
      return 1;
    case 'unsigned16':
    case 'signed16':
      return 2;
    case 'unsigned32':
    case 'signed32':
    case 'float32':
    case 'dateTimeSeconds':
    case 'ipv4Address':
      return 4;
    case 'macAddress':
      return 6;
    case 'unsigned64':
    case 'signed64':
    case 'float64':
    case 'dateTimeMilliseconds':
    case 'dateTimeMicroseconds':
      return 8;
    case 'ipv6Address':
      return 16;
    case 'string':
    case 'octetArray':
      return VARIABLE_LENGTH;
  }
}

type Definitions = Readonly<Record<string, readonly [id: number, type: DataTypeName, semantics?: SemanticsName]>>;
type Elements<D extends Definitions> = { readonly [K in keyof D]: InformationElement<D[K][1]> };

function defineElements<const D extends Definitions>(pen: number, definitions: D): Elements<D> {
  return Object.fromEntries(
    Object.entries(definitions).map(([name, [id, type, semantics = 'default']]) => [
      name,
      { name, pen, id, type, semantics },
    ]),
  ) as Elements<D>;
}

/** The IANA elements we use. */
export const iana = defineElements(Pen.iana, {
  octetDeltaCount: [1, 'unsigned64', 'deltaCounter'],
  packetDeltaCount: [2, 'unsigned64', 'deltaCounter'],
  protocolIdentifier: [4, 'unsigned8', 'identifier'],
  sourceTransportPort: [7, 'unsigned16', 'identifier'],
  sourceIPv4Address: [8, 'ipv4Address', 'identifier'],
  destinationTransportPort: [11, 'unsigned16', 'identifier'],
  destinationIPv4Address: [12, 'ipv4Address', 'identifier'],
  sourceIPv6Address: [27, 'ipv6Address', 'identifier'],
  destinationIPv6Address: [28, 'ipv6Address', 'identifier'],
  exportedOctetTotalCount: [40, 'unsigned64', 'totalCounter'],
  exportedMessageTotalCount: [41, 'unsigned64', 'totalCounter'],
  exportedFlowRecordTotalCount: [42, 'unsigned64', 'totalCounter'],
  octetTotalCount: [85, 'unsigned64', 'totalCounter'],
  packetTotalCount: [86, 'unsigned64', 'totalCounter'],
  applicationName: [96, 'string'],
  flowEndReason: [136, 'unsigned8', 'identifier'],
  exportingProcessId: [144, 'unsigned32', 'identifier'],
  flowId: [148, 'unsigned64', 'identifier'],
  observationDomainId: [149, 'unsigned32', 'identifier'],
  flowStartSeconds: [150, 'dateTimeSeconds'],
  flowEndSeconds: [151, 'dateTimeSeconds'],
  flowStartMilliseconds: [152, 'dateTimeMilliseconds'],
  flowEndMilliseconds: [153, 'dateTimeMilliseconds'],
  notSentFlowTotalCount: [166, 'unsigned64', 'totalCounter'],
  notSentPacketTotalCount: [167, 'unsigned64', 'totalCounter'],
  notSentOctetTotalCount: [168, 'unsigned64', 'totalCounter'],
  informationElementId: [303, 'unsigned16', 'identifier'],
  observationTimeMilliseconds: [323, 'dateTimeMilliseconds'],
  observationTimeMicroseconds: [324, 'dateTimeMicroseconds'],
  informationElementDataType: [339, 'unsigned8'],
  informationElementDescription: [340, 'string'],
  informationElementName: [341, 'string'],
  informationElementSemantics: [344, 'unsigned8'],
  privateEnterpriseNumber: [346, 'unsigned32', 'identifier'],
  httpStatusCode: [457, 'unsigned16', 'identifier'],
  httpRequestMethod: [459, 'string'],
  httpRequestHost: [460, 'string'],
  httpRequestTarget: [461, 'string'],
  httpMessageVersion: [462, 'string'],
  httpUserAgent: [468, 'string'],
  httpContentType: [469, 'string'],
  httpReasonPhrase: [470, 'string'],
});

/**
 * The RFC 5103 reverse of an IANA element: same id, PEN 29305, `reverse` + Name. Only for
 * reversible elements (RFC 5103 §6.1 lists those that are not, e.g. flowId).
 */
export function reverseOf<T extends DataTypeName>(element: InformationElement<T>): InformationElement<T> {
  if (element.pen !== Pen.iana) throw new Error(`${element.name} is not an IANA element`);
  const name = `reverse${element.name[0]?.toUpperCase() ?? ''}${element.name.slice(1)}`;
  return { ...element, name, pen: Pen.reverse };
}

export const reverse = {
  octetDeltaCount: reverseOf(iana.octetDeltaCount),
  packetDeltaCount: reverseOf(iana.packetDeltaCount),
  octetTotalCount: reverseOf(iana.octetTotalCount),
  packetTotalCount: reverseOf(iana.packetTotalCount),
} as const;

/**
 * Antrea's elements, PEN 56506: the complete go-ipfix `registry_antrea.csv` list
 * (reference/ipfix.md §3.4). Strings are variable length; UUIDs are 16-octet arrays.
 */
export const antrea = defineElements(Pen.antrea, {
  sourcePodNamespace: [100, 'string'],
  sourcePodName: [101, 'string'],
  destinationPodNamespace: [102, 'string'],
  destinationPodName: [103, 'string'],
  sourceNodeName: [104, 'string'],
  destinationNodeName: [105, 'string'],
  destinationClusterIPv4: [106, 'ipv4Address'],
  destinationClusterIPv6: [107, 'ipv6Address'],
  destinationServicePort: [108, 'unsigned16'],
  destinationServicePortName: [109, 'string'],
  ingressNetworkPolicyName: [110, 'string'],
  ingressNetworkPolicyNamespace: [111, 'string'],
  egressNetworkPolicyName: [112, 'string'],
  egressNetworkPolicyNamespace: [113, 'string'],
  ingressNetworkPolicyUID: [114, 'string'],
  ingressNetworkPolicyType: [115, 'unsigned8'],
  ingressNetworkPolicyRulePriority: [116, 'signed32'],
  egressNetworkPolicyUID: [117, 'string'],
  egressNetworkPolicyType: [118, 'unsigned8'],
  egressNetworkPolicyRulePriority: [119, 'signed32'],
  packetTotalCountFromSourceNode: [120, 'unsigned64', 'totalCounter'],
  octetTotalCountFromSourceNode: [121, 'unsigned64', 'totalCounter'],
  packetDeltaCountFromSourceNode: [122, 'unsigned64', 'deltaCounter'],
  octetDeltaCountFromSourceNode: [123, 'unsigned64', 'deltaCounter'],
  reversePacketTotalCountFromSourceNode: [124, 'unsigned64', 'totalCounter'],
  reverseOctetTotalCountFromSourceNode: [125, 'unsigned64', 'totalCounter'],
  reversePacketDeltaCountFromSourceNode: [126, 'unsigned64', 'deltaCounter'],
  reverseOctetDeltaCountFromSourceNode: [127, 'unsigned64', 'deltaCounter'],
  packetTotalCountFromDestinationNode: [128, 'unsigned64', 'totalCounter'],
  octetTotalCountFromDestinationNode: [129, 'unsigned64', 'totalCounter'],
  packetDeltaCountFromDestinationNode: [130, 'unsigned64', 'deltaCounter'],
  octetDeltaCountFromDestinationNode: [131, 'unsigned64', 'deltaCounter'],
  reversePacketTotalCountFromDestinationNode: [132, 'unsigned64', 'totalCounter'],
  reverseOctetTotalCountFromDestinationNode: [133, 'unsigned64', 'totalCounter'],
  reversePacketDeltaCountFromDestinationNode: [134, 'unsigned64', 'deltaCounter'],
  reverseOctetDeltaCountFromDestinationNode: [135, 'unsigned64', 'deltaCounter'],
  tcpState: [136, 'string'],
  flowType: [137, 'unsigned8', 'identifier'],
  tcpStatePrevList: [138, 'string'],
  ingressNetworkPolicyRuleAction: [139, 'unsigned8', 'identifier'],
  egressNetworkPolicyRuleAction: [140, 'unsigned8', 'identifier'],
  ingressNetworkPolicyRuleName: [141, 'string'],
  egressNetworkPolicyRuleName: [142, 'string'],
  sourcePodLabels: [143, 'string'],
  destinationPodLabels: [144, 'string'],
  throughput: [145, 'unsigned64'],
  reverseThroughput: [146, 'unsigned64'],
  throughputFromSourceNode: [147, 'unsigned64'],
  throughputFromDestinationNode: [148, 'unsigned64'],
  reverseThroughputFromSourceNode: [149, 'unsigned64'],
  reverseThroughputFromDestinationNode: [150, 'unsigned64'],
  flowEndSecondsFromSourceNode: [151, 'dateTimeSeconds'],
  flowEndSecondsFromDestinationNode: [152, 'dateTimeSeconds'],
  egressName: [153, 'string'],
  egressIP: [154, 'string'],
  appProtocolName: [155, 'string'],
  httpVals: [156, 'string'],
  egressNodeName: [157, 'string'],
  clusterId: [158, 'string'],
  sourcePodUUID: [159, 'octetArray'],
  destinationPodUUID: [160, 'octetArray'],
  sourceNodeUUID: [161, 'octetArray'],
  destinationNodeUUID: [162, 'octetArray'],
  destinationServiceUUID: [163, 'octetArray'],
  ingressNetworkPolicyUUID: [164, 'octetArray'],
  egressNetworkPolicyUUID: [165, 'octetArray'],
  egressUUID: [166, 'octetArray'],
  egressNodeUUID: [167, 'octetArray'],
  destinationServiceIPv4: [168, 'ipv4Address'],
  destinationServiceIPv6: [169, 'ipv6Address'],
  proxySnatIPv4: [170, 'ipv4Address'],
  proxySnatIPv6: [171, 'ipv6Address'],
  proxySnatPort: [172, 'unsigned16'],
});

/** Antrea's UUID elements are fixed 16-octet arrays, not variable length. */
export const ANTREA_UUID_LENGTH = 16;
