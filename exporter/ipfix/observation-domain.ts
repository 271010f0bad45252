/**
 * The Observation Domain ID Antrea's agent uses: the 32-bit FNV-1 hash (Go's `fnv.New32`,
 * multiply then xor) of the node name (antrea pkg/agent/flowexporter/exporter genObservationID),
 * so that our records carry the same domain as an Antrea agent on the same node would.
 */
export function observationDomainFromName(name: string): number {
  let hash = 0x811c9dc5;
  for (const byte of Buffer.from(name, 'utf8')) {
    hash = Math.imul(hash, 0x01000193) >>> 0;
    hash = (hash ^ byte) >>> 0;
  }
  return hash;
}
