/**
 * Route templates give HTTP spans a low-cardinality name (`GET /users/{id}`) and `http.route`:
 * the semantic conventions forbid naming a span by its raw path.
 *
 * A template is a path of `/`-separated segments. A segment is literal text, or `{name}`,
 * which matches exactly one non-empty segment; a final `*` matches the rest of the path (zero
 * or more segments). Matching is against the raw path (no percent-decoding) and is exact
 * otherwise: `/users/{id}` does not match `/users/7/` nor `/users`.
 */

export interface RouteTable {
  /** The first template, in configuration order, that matches `path`. */
  match(path: string): string | undefined;
}

const paramSegment = /^\{[A-Za-z_][A-Za-z0-9_]*\}$/;

/** Why `template` is not a valid route template, or undefined when it is. */
export function routeTemplateProblem(template: string): string | undefined {
  if (!template.startsWith('/')) return `must start with "/" (got ${JSON.stringify(template)})`;
  const segments = template.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? '';
    if (segment === '*') {
      if (i !== segments.length - 1) return `"*" may only be the last segment (got ${JSON.stringify(template)})`;
    } else if (segment.includes('{') || segment.includes('}')) {
      if (!paramSegment.test(segment))
        return `a parameter must be a whole segment such as {id} (got ${JSON.stringify(template)})`;
    } else if (segment.includes('*') || segment.includes('?')) {
      return `"*" must be a whole segment and "?" is not allowed (got ${JSON.stringify(template)})`;
    }
  }
  return undefined;
}

/** Compiles valid templates (see routeTemplateProblem) into one matcher. */
export function compileRoutes(templates: readonly string[]): RouteTable {
  const compiled = templates.map((template) => ({ template, pattern: templatePattern(template) }));
  return {
    match(path) {
      for (const route of compiled) if (route.pattern.test(path)) return route.template;
      return undefined;
    },
  };
}

function templatePattern(template: string): RegExp {
  const segments = template.slice(1).split('/');
  let source = '';
  for (const segment of segments) {
    if (segment === '*') source += '(?:/.*)?';
    else if (paramSegment.test(segment)) source += '/[^/]+';
    else source += `/${segment.replace(/[.+^${}()|[\]\\]/g, '\\$&')}`;
  }
  return new RegExp(`^${source}$`);
}
