import { describe, expect, it } from 'vitest';
import {
  forwardedClient,
  method,
  parseHost,
  protocolVersion,
  redactQuery,
  requestedHost,
  requestHeader,
  requestTarget,
  responseHeader,
} from './http-attributes.js';

describe('http.request.method', () => {
  it('keeps known methods as sent and turns others into _OTHER with the original kept', () => {
    expect(method('GET')).toEqual({ value: 'GET', nameWord: 'GET' });
    expect(method('QUERY')).toEqual({ value: 'QUERY', nameWord: 'QUERY' });
    expect(method('PROPFIND')).toEqual({ value: '_OTHER', original: 'PROPFIND', nameWord: 'HTTP' });
    // Methods are case-sensitive: `get` is not a known method.
    expect(method('get')).toEqual({ value: '_OTHER', original: 'get', nameWord: 'HTTP' });
    expect(method(undefined)).toEqual({ value: '_OTHER', nameWord: 'HTTP' });
  });
});

describe('request target', () => {
  it.each([
    ['/cart/42?view=full', { path: '/cart/42', query: 'view=full' }],
    ['/cart', { path: '/cart' }],
    ['/cart?', { path: '/cart' }],
    ['/a#fragment', { path: '/a' }],
    ['http://cart.shop:8080/cart?x=1', { scheme: 'http', authority: 'cart.shop:8080', path: '/cart', query: 'x=1' }],
    ['HTTP://cart.shop', { scheme: 'http', authority: 'cart.shop', path: '/' }],
    ['*', { path: '*' }],
    [undefined, {}],
  ])('splits %s', (url, expected) => {
    expect(requestTarget(url)).toEqual(expected);
  });

  it('redacts the values of the credential parameters the conventions name, and nothing else', () => {
    expect(redactQuery('X-Goog-Signature=abc&page=2&sig=s3cret&AWSAccessKeyId=AK&Signature=zz&signature=keep')).toBe(
      'X-Goog-Signature=REDACTED&page=2&sig=REDACTED&AWSAccessKeyId=REDACTED&Signature=REDACTED&signature=keep',
    );
    expect(redactQuery('q=otel')).toBe('q=otel');
  });
});

describe('network.protocol.version', () => {
  it.each([
    ['HTTP/1.1', '1.1'],
    ['HTTP/1.0', '1.0'],
    ['HTTP/2', '2'],
    ['HTTP/2.0', '2'],
    ['http/1.1', '1.1'],
    ['HTTP/x', undefined],
    [undefined, undefined],
  ])('%s → %s', (protocol, version) => {
    expect(protocolVersion(protocol)).toBe(version);
  });
});

describe('hosts and clients', () => {
  it('parses host, host:port and bracketed IPv6', () => {
    expect(parseHost('Cart.Shop:8080')).toEqual({ host: 'cart.shop', port: 8080 });
    expect(parseHost('cart')).toEqual({ host: 'cart' });
    expect(parseHost('[2001:db8::1]:443')).toEqual({ host: '2001:db8::1', port: 443 });
    expect(parseHost('user@host')).toBeUndefined();
    expect(parseHost('a b')).toBeUndefined();
  });

  it('takes the requested host from Forwarded, X-Forwarded-Host, :authority, then Host', () => {
    const headers = [
      { name: 'Host', value: 'internal:8080' },
      { name: ':authority', value: 'h2.example' },
      { name: 'X-Forwarded-Host', value: 'xfh.example, other' },
      { name: 'Forwarded', value: 'for=192.0.2.60;proto=http;host="shop.example:8443", for=10.0.0.1' },
    ];
    const http = { hostname: 'internal', httpPort: 8080 };
    expect(requestedHost({ ...http, requestHeaders: headers }, {})).toEqual({ host: 'shop.example', port: 8443 });
    expect(requestedHost({ ...http, requestHeaders: headers.slice(0, 3) }, {})).toEqual({ host: 'xfh.example' });
    expect(requestedHost({ ...http, requestHeaders: headers.slice(0, 2) }, {})).toEqual({ host: 'h2.example' });
    expect(requestedHost(http, {})).toEqual({ host: 'internal', port: 8080 });
    expect(requestedHost({}, { authority: 'user:pw@proxy.example:3128' })).toEqual({
      host: 'proxy.example',
      port: 3128,
    });
    expect(requestedHost({}, {})).toBeUndefined();
  });

  it('takes the original client from Forwarded for, then X-Forwarded-For, and only when it is an address', () => {
    expect(forwardedClient({ requestHeaders: [{ name: 'forwarded', value: 'for="[2001:DB8::1]:4711"' }] })).toBe(
      '2001:db8::1',
    );
    expect(
      forwardedClient({ requestHeaders: [{ name: 'X-Forwarded-For', value: '203.0.113.7:5555, 10.0.0.1' }] }),
    ).toBe('203.0.113.7');
    expect(forwardedClient({ requestHeaders: [{ name: 'forwarded', value: 'for=unknown' }] })).toBeUndefined();
    expect(forwardedClient({ requestHeaders: [{ name: 'forwarded', value: 'for=_hidden' }] })).toBeUndefined();
    expect(forwardedClient({})).toBeUndefined();
  });
});

describe('header values', () => {
  it('returns every value of a header in wire order, names compared without case', () => {
    const http = {
      requestHeaders: [
        { name: 'Accept', value: 'text/html' },
        { name: 'X-Id', value: '1' },
        { name: 'accept', value: 'application/json' },
      ],
    };
    expect(requestHeader(http, 'accept')).toEqual(['text/html', 'application/json']);
    expect(requestHeader(http, 'user-agent')).toEqual([]);
  });

  it('falls back on the fields Suricata logs when it did not dump the headers', () => {
    const http = {
      hostname: 'cart',
      httpPort: 8080,
      userAgent: 'curl/8',
      referer: 'http://a/',
      contentType: 'text/plain',
      redirect: '/next',
    };
    expect(requestHeader(http, 'host')).toEqual(['cart:8080']);
    expect(requestHeader(http, 'user-agent')).toEqual(['curl/8']);
    expect(requestHeader(http, 'referer')).toEqual(['http://a/']);
    expect(responseHeader(http, 'content-type')).toEqual(['text/plain']);
    expect(responseHeader(http, 'location')).toEqual(['/next']);
    // With a dump present, only the dump counts.
    expect(responseHeader({ ...http, responseHeaders: [] }, 'content-type')).toEqual([]);
  });
});
