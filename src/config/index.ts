// clusterfit/config: defaults, YAML loading, dotted overrides and validation (VISSL's schema).
export {
  loadConfig,
  composeConfig,
  type ComposedConfig,
  configToYaml,
  availableConfigs,
  resolveConfigPath,
  lrRunSetup,
  ConfigError,
  SHIPPED_CONFIGS_DIR,
  CONFIG_WARNED_ENV,
  type LoadOptions,
} from './load.js';
export { commandFor, wrongCommand, TOOL_ENGINES, type Command, type VisslTool } from './vissl-tools.js';
export { FREE_FORM, OLD_NAMES, type OldName } from './schema.js';
export type * from './types.js';
