import type { L7Direction } from '../../pipeline/records.js';

/**
 * The opt-in rules (ARCHITECTURE.md §1). A Pod's own annotation, when the key is present,
 * decides alone; otherwise its Namespace's does. Values are `ingress`, `egress` or `both`,
 * case-insensitive, surrounding whitespace ignored. Anything else is invalid and turns L7
 * export off for the Pods it governs: a typo must never widen capture beyond what the Pod's
 * owner asked for, and it must never leave an earlier mirror in place (Antrea's controller
 * returned before removing the old flows).
 */

export type AnnotationValue =
  | { readonly kind: 'absent' }
  | { readonly kind: 'valid'; readonly direction: L7Direction }
  | { readonly kind: 'invalid'; readonly raw: string };

const absent: AnnotationValue = { kind: 'absent' };
const directions: Readonly<Record<string, L7Direction>> = { ingress: 'ingress', egress: 'egress', both: 'both' };

/** Reads a raw annotation value; `undefined` means the key is not set. */
export function parseAnnotation(raw: string | undefined): AnnotationValue {
  if (raw === undefined) return absent;
  const direction = directions[raw.trim().toLowerCase()];
  return direction ? { kind: 'valid', direction } : { kind: 'invalid', raw };
}

/** Where a Pod's effective opt-in comes from. */
export type OptInSource = 'pod' | 'namespace' | 'none';

export interface OptIn {
  /** The direction the Pod is opted in for; absent when it is not. */
  readonly direction?: L7Direction;
  readonly source: OptInSource;
  /** The invalid value that disabled the Pod, when one did. */
  readonly invalid?: string;
}

const notOptedIn: OptIn = { source: 'none' };

/**
 * A Pod's effective opt-in from its own annotation and its Namespace's (`undefined` when the
 * Namespace is not known yet: the Pod's own annotation still applies, Antrea dropped the Pod).
 * Host-network Pods share the node's interfaces and are never opted in.
 */
export function effectiveOptIn(
  pod: { readonly annotation?: string; readonly hostNetwork: boolean },
  namespace: { readonly annotation?: string } | undefined,
): OptIn {
  if (pod.hostNetwork) return notOptedIn;
  const own = parseAnnotation(pod.annotation);
  if (own.kind === 'valid') return { direction: own.direction, source: 'pod' };
  if (own.kind === 'invalid') return { source: 'pod', invalid: own.raw };
  const inherited = parseAnnotation(namespace?.annotation);
  if (inherited.kind === 'valid') return { direction: inherited.direction, source: 'namespace' };
  if (inherited.kind === 'invalid') return { source: 'namespace', invalid: inherited.raw };
  return notOptedIn;
}

/**
 * Whether an L7 transaction is exported: `ingress` keeps connections whose destination is the
 * Pod (it is the server), `egress` those the Pod opened, `both` all of them.
 */
export function l7Wanted(srcDirection: L7Direction | undefined, dstDirection: L7Direction | undefined): boolean {
  return dstDirection === 'ingress' || dstDirection === 'both' || srcDirection === 'egress' || srcDirection === 'both';
}
