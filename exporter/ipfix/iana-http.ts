import type { HttpEvent } from '../../pipeline/records.js';
import { iana } from './codec/registry.js';
import { field, Template } from './codec/templates.js';
import { longestPrefix, varlenSize } from './truncate.js';

/**
 * The standards way to carry HTTP (`http_encoding: iana`): one data record per transaction
 * with the IANA HTTP elements (RFC 7012 registry, IEs 457-470), the transaction's time, and
 * flowId (148) linking it to its flow's record, which carries flowId and applicationName.
 * The pattern of NetScaler AppFlow and nProbe (reference ipfix.md §5, §7.3).
 */

export const IANA_HTTP_TEMPLATE_ID = 258;

/** One transaction, flattened; one instance is reused for every record. */
export interface HttpRow {
  flowId: number;
  timeUs: number;
  method: string;
  host: string;
  target: string;
  version: string;
  status: number;
  userAgent: string;
  contentType: string;
}

export const ianaHttpTemplate = new Template<HttpRow>(IANA_HTTP_TEMPLATE_ID, [
  field(iana.flowId, (r: HttpRow) => r.flowId),
  field(iana.observationTimeMilliseconds, (r: HttpRow) => r.timeUs / 1000),
  field(iana.httpRequestMethod, (r: HttpRow) => r.method),
  field(iana.httpRequestHost, (r: HttpRow) => r.host),
  field(iana.httpRequestTarget, (r: HttpRow) => r.target),
  field(iana.httpMessageVersion, (r: HttpRow) => r.version),
  field(iana.httpStatusCode, (r: HttpRow) => r.status),
  // Suricata does not log the reason phrase; the element stays for collectors that map it.
  field(iana.httpReasonPhrase, () => ''),
  field(iana.httpUserAgent, (r: HttpRow) => r.userAgent),
  field(iana.httpContentType, (r: HttpRow) => r.contentType),
]);

export function emptyHttpRow(): HttpRow {
  return {
    flowId: 0,
    timeUs: 0,
    method: '',
    host: '',
    target: '',
    version: '',
    status: 0,
    userAgent: '',
    contentType: '',
  };
}

/** Fills `row` from `event` (absent strings are '', an absent or impossible status is 0). */
export function fillHttpRow(row: HttpRow, flowId: number, event: HttpEvent): void {
  const http = event.http;
  row.flowId = flowId;
  row.timeUs = event.timeUs;
  row.method = http.method ?? '';
  row.host = http.hostname ?? '';
  row.target = http.url ?? '';
  row.version = http.protocol ?? '';
  const status = http.status;
  row.status = status !== undefined && Number.isInteger(status) && status >= 0 && status <= 0xffff ? status : 0;
  row.userAgent = http.userAgent ?? '';
  row.contentType = http.contentType ?? '';
}

/** Strings shortened, in this order, when a transaction does not fit one record. */
const truncationOrder = ['target', 'userAgent', 'host', 'contentType', 'method', 'version'] as const;

/** Octets of the record for `row`: three fixed fields and seven variable-length strings. */
function recordLength(row: HttpRow): number {
  let length = 8 + 8 + 2 + 1; // flowId, time, status, empty reason phrase
  for (const name of truncationOrder) length += varlenSize(row[name]);
  return length;
}

/**
 * Shortens the row's strings until the record fits `maxRecordLength` octets (the same
 * policy as httpVals: target first, whole characters kept). False when even empty strings
 * would not fit.
 */
export function truncateHttpRow(row: HttpRow, maxRecordLength: number): boolean {
  for (const name of truncationOrder) {
    const excess = recordLength(row) - maxRecordLength;
    if (excess <= 0) return true;
    row[name] = longestPrefix(row[name], varlenSize(row[name]) - excess, varlenSize) ?? '';
  }
  return recordLength(row) <= maxRecordLength;
}
