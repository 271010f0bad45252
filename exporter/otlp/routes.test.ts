import { describe, expect, it } from 'vitest';
import { compileRoutes, routeTemplateProblem } from './routes.js';

describe('route templates', () => {
  const routes = compileRoutes(['/users/{id}', '/users/{id}/orders/{order}', '/static/*', '/', '/v1.0/items']);

  it.each([
    ['/users/42', '/users/{id}'],
    ['/users/42/orders/7', '/users/{id}/orders/{order}'],
    ['/static', '/static/*'],
    ['/static/css/site.css', '/static/*'],
    ['/', '/'],
    ['/v1.0/items', '/v1.0/items'],
  ])('matches %s to %s', (path, template) => {
    expect(routes.match(path)).toBe(template);
  });

  it.each([
    ['/users', 'a parameter needs a segment'],
    ['/users/', 'an empty segment is not a parameter value'],
    ['/users/42/', 'a trailing slash is another path'],
    ['/staticx', 'literal segments match whole'],
    ['/v1x0/items', 'a dot is literal, not any character'],
    ['/other', 'nothing matches'],
  ])('does not match %s (%s)', (path) => {
    expect(routes.match(path)).toBeUndefined();
  });

  it('prefers the first matching template in configuration order', () => {
    expect(compileRoutes(['/api/*', '/api/users/{id}']).match('/api/users/1')).toBe('/api/*');
  });

  it.each([
    ['users/{id}', 'must start with "/"'],
    ['/a/*/b', '"*" may only be the last segment'],
    ['/users/{id', 'a parameter must be a whole segment'],
    ['/users/id-{id}', 'a parameter must be a whole segment'],
    ['/files/*.css', '"*" must be a whole segment'],
  ])('rejects %s: %s', (template, message) => {
    expect(routeTemplateProblem(template)).toContain(message);
  });

  it('accepts the templates it compiles', () => {
    for (const template of ['/', '/users/{id}', '/static/*', '/*', '/a_b/{x_1}'])
      expect(routeTemplateProblem(template)).toBeUndefined();
  });
});
