/** Thrown by consume() once a component has been shut down. */
export class ClosedError extends Error {
  readonly code = 'L7FLOW_CLOSED';
  constructor(component: string) {
    super(`${component}: consume after shutdown`);
    this.name = 'ClosedError';
  }
}

/** Every problem found while loading a configuration, each prefixed with its path. */
export class ConfigError extends Error {
  readonly code = 'L7FLOW_CONFIG';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}
