import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { baseTimeUs, clientPod, flow, httpTx, pod, serverPod } from '../../test/support/otlp-records.js';
import type { FlowRecord, HttpEvent, L7Direction } from '../../pipeline/records.js';
import { mapTransaction, type SpanMapping } from './map-span.js';
import { ResourceCache } from './resources.js';
import { compileRoutes } from './routes.js';

function mapping(overrides: Partial<SpanMapping> = {}): SpanMapping {
  return {
    nodeName: 'node-a',
    routes: compileRoutes(['/cart/{id}']),
    requestHeaders: [],
    responseHeaders: [],
    unattributed: 'server',
    resources: new ResourceCache(''),
    scope: { name: 'l7flow', version: '0.1.0' },
    ...overrides,
  };
}

function spansOf(record: FlowRecord, m = mapping(), event = record.l7[0] as HttpEvent) {
  return mapTransaction(record, event, 0, m);
}

const resourceOf = (span: ReadableSpan | undefined) => span?.resource.attributes;

describe('span kinds follow the Pods opt-in', () => {
  const cases: [string, L7Direction | undefined, L7Direction | undefined, string[]][] = [
    ['destination ingress', undefined, 'ingress', ['SERVER on cart-5c4b']],
    ['destination both', undefined, 'both', ['SERVER on cart-5c4b']],
    ['source egress', 'egress', undefined, ['CLIENT on frontend-7d9f']],
    ['source both', 'both', undefined, ['CLIENT on frontend-7d9f']],
    ['source egress and destination ingress', 'egress', 'ingress', ['CLIENT on frontend-7d9f', 'SERVER on cart-5c4b']],
    ['source ingress and destination egress (neither side asked)', 'ingress', 'egress', ['SERVER on cart-5c4b']],
    ['neither opted in', undefined, undefined, ['SERVER on cart-5c4b']],
  ];
  it.each(cases)('%s', (_name, src, dst, expected) => {
    const { client, server } = spansOf(flow([httpTx()], { srcPod: clientPod(src), dstPod: serverPod(dst) }));
    const described = [client, server]
      .filter((s): s is ReadableSpan => s !== undefined)
      .map((s) => `${SpanKind[s.kind]} on ${String(s.resource.attributes['k8s.pod.name'])}`);
    expect(described).toEqual(expected);
  });

  it('puts the server span under the client span, in one trace', () => {
    const { client, server } = spansOf(flow([httpTx()], { srcPod: clientPod('both'), dstPod: serverPod('both') }));
    expect(server?.spanContext().traceId).toBe(client?.spanContext().traceId);
    expect(server?.parentSpanContext).toEqual({ ...client?.spanContext(), isRemote: false });
    expect(client?.parentSpanContext).toBeUndefined();
    expect(server?.spanContext().spanId).not.toBe(client?.spanContext().spanId);
  });

  it('without any Pod, reports a SERVER span on a stand-in resource for the destination address', () => {
    const { server, client } = spansOf(flow([httpTx()]));
    expect(client).toBeUndefined();
    expect(server?.kind).toBe(SpanKind.SERVER);
    expect(resourceOf(server)).toEqual({ 'service.name': 'unknown_service:10.1.0.9' });
  });

  it('with unattributed_spans none, makes no span when no Pod is opted in, and says so', () => {
    const record = flow([httpTx()], { srcPod: clientPod(), dstPod: serverPod() });
    expect(spansOf(record, mapping({ unattributed: 'none' }))).toEqual({ suppressed: true });
    const optedIn = spansOf(flow([httpTx()], { dstPod: serverPod('ingress') }), mapping({ unattributed: 'none' }));
    expect(optedIn.server?.kind).toBe(SpanKind.SERVER);
    expect(optedIn.suppressed).toBe(false);
  });
});

describe('span status (HTTP conventions: server errors on 5xx, client on 4xx and 5xx)', () => {
  const record = (http: Parameters<typeof httpTx>[0]) =>
    flow([httpTx(http)], { srcPod: clientPod('egress'), dstPod: serverPod('ingress') });
  it.each([
    ['200', { status: 200 }, [SpanStatusCode.UNSET, undefined], [SpanStatusCode.UNSET, undefined]],
    ['302', { status: 302 }, [SpanStatusCode.UNSET, undefined], [SpanStatusCode.UNSET, undefined]],
    ['404', { status: 404 }, [SpanStatusCode.UNSET, undefined], [SpanStatusCode.ERROR, '404']],
    ['503', { status: 503 }, [SpanStatusCode.ERROR, '503'], [SpanStatusCode.ERROR, '503']],
    [
      'a status line that is not a number',
      { status: undefined, statusString: 'OK-ish' },
      [SpanStatusCode.ERROR, '_OTHER'],
      [SpanStatusCode.ERROR, '_OTHER'],
    ],
    ['a code outside 100-599', { status: 999 }, [SpanStatusCode.ERROR, '_OTHER'], [SpanStatusCode.ERROR, '_OTHER']],
    [
      'no response',
      { status: undefined, length: 0 },
      [SpanStatusCode.UNSET, undefined],
      [SpanStatusCode.UNSET, undefined],
    ],
  ] as const)('%s', (_name, http, [serverCode, serverError], [clientCode, clientError]) => {
    const { client, server } = spansOf(record(http));
    expect([server?.status, server?.attributes['error.type']]).toEqual([{ code: serverCode }, serverError]);
    expect([client?.status, client?.attributes['error.type']]).toEqual([{ code: clientCode }, clientError]);
  });

  it('records no status code and no body size when there was no response', () => {
    const { server } = spansOf(record({ status: undefined, length: 0, contentType: undefined }));
    expect(server?.attributes).not.toHaveProperty('http.response.status_code');
    expect(server?.attributes).not.toHaveProperty('http.response.body.size');
  });
});

describe('span names', () => {
  it.each([
    ['a matching route template', { url: '/cart/42?x=1' }, 'GET /cart/{id}'],
    ['no matching template (never the raw path)', { url: '/checkout/42' }, 'GET'],
    ['an unknown method', { method: 'PURGE', url: '/cart/42' }, 'HTTP /cart/{id}'],
  ])('%s', (_name, http, expected) => {
    expect(spansOf(flow([httpTx(http)], { dstPod: serverPod('ingress') })).server?.name).toBe(expected);
  });
});

describe('span attributes', () => {
  it('gives the server span the stable HTTP server attributes, with the right types', () => {
    const record = flow([httpTx({ url: '/cart/42?view=full&sig=abc' })], { dstPod: serverPod('ingress') });
    expect(spansOf(record).server?.attributes).toEqual({
      'http.request.method': 'GET',
      'url.scheme': 'http',
      'url.path': '/cart/42',
      'url.query': 'view=full&sig=REDACTED',
      'http.route': '/cart/{id}',
      'server.address': 'cart.shop.svc',
      // The Host header named no port: the port the client connected to (the Service port).
      'server.port': 80,
      'client.address': '10.1.0.5',
      'network.peer.address': '10.1.0.5',
      'network.peer.port': 43512,
      'network.transport': 'tcp',
      'network.protocol.version': '1.1',
      'http.response.status_code': 200,
      'http.response.body.size': 512,
      'user_agent.original': 'curl/8.5.0',
    });
  });

  it('gives the client span url.full and the address it connected to as its peer', () => {
    const record = flow([httpTx({ hostname: 'cart.shop.svc', httpPort: 8080, url: '/cart/42' })], {
      srcPod: clientPod('egress'),
    });
    expect(spansOf(record).client?.attributes).toEqual({
      'http.request.method': 'GET',
      'server.address': 'cart.shop.svc',
      'server.port': 8080,
      'url.full': 'http://cart.shop.svc:8080/cart/42',
      'url.template': '/cart/{id}',
      'network.peer.address': '10.96.0.10',
      'network.peer.port': 80,
      'network.transport': 'tcp',
      'network.protocol.version': '1.1',
      'http.response.status_code': 200,
      'http.response.body.size': 512,
      'user_agent.original': 'curl/8.5.0',
    });
  });

  it('reports network.protocol.version 2 for an HTTP/2 transaction (EVE http.version)', () => {
    const record = flow([httpTx({ protocol: undefined, version: '2' })], { dstPod: serverPod('ingress') });
    expect(spansOf(record).server?.attributes['network.protocol.version']).toBe('2');
  });

  it('without a Host header, uses the addressed IP and port for server.address and url.full', () => {
    const record = flow([httpTx({ hostname: undefined, url: '/x' })], {
      srcPod: clientPod('egress'),
      service: undefined,
    });
    const attributes = spansOf(record).client?.attributes;
    expect(attributes?.['server.address']).toBe('10.1.0.9');
    expect(attributes?.['url.full']).toBe('http://10.1.0.9:8080/x');
  });

  it('keeps an unknown method in http.request.method_original', () => {
    const attributes = spansOf(flow([httpTx({ method: 'PURGE' })], { dstPod: serverPod('ingress') })).server
      ?.attributes;
    expect(attributes?.['http.request.method']).toBe('_OTHER');
    expect(attributes?.['http.request.method_original']).toBe('PURGE');
  });

  it('copies only allow-listed headers, as string arrays under lower-case names', () => {
    const event = httpTx({
      requestHeaders: [
        { name: 'Host', value: 'cart' },
        { name: 'Accept', value: 'text/html' },
        { name: 'Authorization', value: 'Bearer secret' },
        { name: 'ACCEPT', value: 'application/json' },
      ],
      responseHeaders: [
        { name: 'Content-Type', value: 'application/json' },
        { name: 'Set-Cookie', value: 'a=b' },
      ],
    });
    const m = mapping({ requestHeaders: ['accept', 'x-absent'], responseHeaders: ['content-type'] });
    const attributes = spansOf(flow([event], { dstPod: serverPod('ingress') }), m).server?.attributes ?? {};
    expect(Object.keys(attributes).filter((k) => k.includes('.header.'))).toEqual([
      'http.request.header.accept',
      'http.response.header.content-type',
    ]);
    expect(attributes['http.request.header.accept']).toEqual(['text/html', 'application/json']);
    expect(attributes['http.response.header.content-type']).toEqual(['application/json']);
  });

  it('takes client.address from X-Forwarded-For while network.peer.address stays the TCP peer', () => {
    const event = httpTx({ requestHeaders: [{ name: 'X-Forwarded-For', value: '203.0.113.9, 10.0.0.1' }] });
    const attributes = spansOf(flow([event], { dstPod: serverPod('ingress') })).server?.attributes;
    expect(attributes?.['client.address']).toBe('203.0.113.9');
    expect(attributes?.['network.peer.address']).toBe('10.1.0.5');
  });

  it('starts and ends at the transaction time, to the microsecond', () => {
    const event = httpTx({}, { timeUs: baseTimeUs + 7 });
    const { server } = spansOf(flow([event], { dstPod: serverPod('ingress') }));
    expect(server?.startTime).toEqual([1_795_694_400, 123_463_000]);
    expect(server?.endTime).toEqual(server?.startTime);
    expect(server?.duration).toEqual([0, 0]);
  });
});

describe('resources', () => {
  it('uses one Resource object per Pod, and service.name from the label, the workload or the Pod name', () => {
    const m = mapping({ resources: new ResourceCache('app.kubernetes.io/name') });
    const a = spansOf(flow([httpTx({}, { txId: 1 })], { dstPod: serverPod('ingress') }), m).server;
    const b = spansOf(flow([httpTx({}, { txId: 2 })], { dstPod: serverPod('ingress') }), m).server;
    expect(a?.resource).toBe(b?.resource);
    expect(resourceOf(a)).toEqual({
      'service.name': 'cart-app',
      'service.namespace': 'shop',
      'k8s.pod.name': 'cart-5c4b',
      'k8s.pod.uid': 'uid-cart-5c4b',
      'k8s.namespace.name': 'shop',
      'k8s.node.name': 'node-a',
    });
    const cache = new ResourceCache('');
    expect(cache.serviceName(serverPod())).toBe('cart');
    expect(cache.serviceName(pod('lonely', undefined, { workload: undefined }))).toBe('lonely');
  });
});

describe('trace context', () => {
  const parent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
  const withTraceparent = (...values: string[]) =>
    httpTx({ requestHeaders: values.map((value) => ({ name: 'traceparent', value })) });

  it('joins the trace of a valid traceparent, the top span a child of the remote parent', () => {
    const record = flow([withTraceparent(parent)], { srcPod: clientPod('egress'), dstPod: serverPod('ingress') });
    const { client, server } = spansOf(record);
    expect(client?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(client?.parentSpanContext).toMatchObject({ spanId: '00f067aa0ba902b7', isRemote: true });
    expect(server?.spanContext().traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(server?.parentSpanContext?.spanId).toBe(client?.spanContext().spanId);
  });

  it('makes a lone server span the child of the remote parent', () => {
    const { server } = spansOf(flow([withTraceparent(parent)], { dstPod: serverPod('ingress') }));
    expect(server?.parentSpanContext).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      isRemote: true,
    });
  });

  it('starts its own trace when the traceparent is invalid or repeated', () => {
    const derived = spansOf(flow([httpTx()], { dstPod: serverPod('ingress') })).server?.spanContext().traceId;
    for (const event of [withTraceparent('00-zz-00f067aa0ba902b7-01'), withTraceparent(parent, parent)]) {
      const { server } = spansOf(flow([event], { dstPod: serverPod('ingress') }));
      expect(server?.spanContext().traceId).toBe(derived);
      expect(server?.parentSpanContext).toBeUndefined();
    }
  });

  it('derives the same ids for the same transaction, different ones for another transaction or node', () => {
    const record = () => flow([httpTx()], { srcPod: clientPod('both'), dstPod: serverPod('both') });
    const ids = (m: SpanMapping, r = record()) => {
      const { client, server } = spansOf(r, m);
      return [client?.spanContext().traceId, client?.spanContext().spanId, server?.spanContext().spanId];
    };
    const first = ids(mapping());
    expect(ids(mapping())).toEqual(first);
    expect(ids(mapping(), flow([httpTx({}, { txId: 1 })], { srcPod: clientPod('both') }))[0]).not.toBe(first[0]);
    expect(ids(mapping({ nodeName: 'node-b' }))[0]).not.toBe(first[0]);
  });
});
