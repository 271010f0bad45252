import { parseHostPort } from '../../config/address.js';

export type NetworkTransport = 'udp' | 'tcp' | 'tls';
const networkTransports: readonly string[] = ['udp', 'tcp', 'tls'];

export interface Endpoint {
  readonly host: string;
  readonly port: number;
  /** The transport named by Antrea's `:proto` suffix, when given. */
  readonly transport?: NetworkTransport;
}

/**
 * Parses `host:port`, `[ipv6]:port`, or Antrea's collector address `<HOST>:<PORT>:<PROTO>`
 * (antrea cmd/antrea-agent/options.go) where PROTO is udp, tcp or tls and HOST may be
 * `namespace/service`, which names the Service's cluster DNS name `service.namespace.svc`.
 */
export function parseEndpoint(text: string): Endpoint | { readonly error: string } {
  let address = text;
  let transport: NetworkTransport | undefined;
  const suffix = /:([a-z]+)$/.exec(text);
  if (suffix) {
    const proto = suffix[1] ?? '';
    if (!networkTransports.includes(proto))
      return {
        error:
          proto === 'grpc'
            ? "grpc is Antrea's own protocol, not IPFIX (use udp, tcp or tls)"
            : `unknown protocol ${JSON.stringify(proto)} (use udp, tcp or tls)`,
      };
    transport = proto as NetworkTransport;
    address = text.slice(0, suffix.index);
  }
  const hostPort = parseHostPort(address);
  if (!hostPort || hostPort.host === '')
    return { error: `must be host:port, [ipv6]:port or host:port:proto (got ${JSON.stringify(text)})` };
  let host = hostPort.host;
  const service = /^([a-z0-9-]+)\/([a-z0-9-]+)$/.exec(host);
  if (service) host = `${service[2]}.${service[1]}.svc`;
  else if (host.includes('/'))
    return { error: `host must be a name, an address or namespace/service (got ${JSON.stringify(host)})` };
  return transport === undefined ? { host, port: hostPort.port } : { host, port: hostPort.port, transport };
}
