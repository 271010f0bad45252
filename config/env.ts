import { parse as parseYaml } from 'yaml';
import { formatPath, type PathSegment } from './schema.js';

/**
 * `${env:NAME}` and `${env:NAME:-default}` substitution, applied to the parsed YAML tree
 * (never to the raw text, so a value cannot inject YAML structure). `$${` is a literal `${`.
 * A scalar that is exactly one reference takes the type its value has in YAML (`port:
 * ${env:PORT}` gives a number); references inside a longer string are spliced as text.
 * An unset variable without a default is a problem, not an empty string.
 */
export function expandEnv(
  node: unknown,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
  path: readonly PathSegment[] = [],
): unknown {
  if (typeof node === 'string') return expandString(node, env, problems, path);
  if (Array.isArray(node)) return node.map((item, i) => expandEnv(item, env, problems, [...path, i]));
  if (node !== null && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node).map(([key, value]) => [key, expandEnv(value, env, problems, [...path, key])]),
    );
  }
  return node;
}

const referencePattern = /\$\$\{|\$\{([^}]*)\}/g;
const envReferencePattern = /^env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s;

function expandString(
  text: string,
  env: Readonly<Record<string, string | undefined>>,
  problems: string[],
  path: readonly PathSegment[],
): unknown {
  if (!text.includes('${')) return text;
  const where = formatPath(path) || '(top level)';
  let references = 0;
  let spliced = false;
  const result = text.replace(referencePattern, (match, inner: string | undefined, offset: number) => {
    if (match === '$${') {
      spliced = true;
      return '${';
    }
    references++;
    if (offset !== 0 || match.length !== text.length) spliced = true;
    const ref = envReferencePattern.exec(inner ?? '');
    if (!ref) {
      problems.push(`${where}: unsupported substitution ${match} (use \${env:NAME} or \${env:NAME:-default})`);
      return '';
    }
    const value = env[ref[1] ?? ''];
    if (value !== undefined && value !== '') return value;
    if (ref[2] !== undefined) return ref[2];
    if (value === '') return '';
    problems.push(
      `${where}: environment variable ${ref[1]} is not set (write \${env:${ref[1]}:-default} to give a default)`,
    );
    return '';
  });
  if (references === 1 && !spliced) return scalarFromYaml(result);
  return result;
}

/** A whole-value substitution is typed as YAML would type it; structures stay strings. */
function scalarFromYaml(text: string): unknown {
  try {
    const value: unknown = parseYaml(text);
    return value === null || typeof value === 'object' ? text : value;
  } catch {
    return text;
  }
}
