// The one error type of config loading: its message names the file or override and the fix.
export class ConfigError extends Error {
  override name = 'ConfigError';
}
