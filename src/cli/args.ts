// Command-line words in VISSL's (Hydra's) style: `config=<name>` picks a config, and
// `config.KEY.SUB=value` overrides one key. A `<stage>.` prefix (`train.config.X=1`) aims an
// override at one pipeline stage. Plain `name=value` words are command options (`out=runs/x`).
export interface ParsedArgs {
  /** `config=<name or path>`, when given. */
  config?: string;
  /** `config.KEY=value` words, in order, without a stage prefix. */
  overrides: string[];
  /** `<stage>.config.KEY=value` words, by stage. */
  stageOverrides: Map<string, string[]>;
  /** Other `name=value` words. */
  options: Map<string, string>;
  /** Words without `=`. */
  positional: string[];
  help: boolean;
}

export function parseArgs(words: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = {
    overrides: [],
    stageOverrides: new Map(),
    options: new Map(),
    positional: [],
    help: false,
  };
  for (const word of words) {
    if (word === '--help' || word === '-h') {
      parsed.help = true;
      continue;
    }
    const eq = word.indexOf('=');
    if (eq < 0) {
      parsed.positional.push(word);
      continue;
    }
    const name = word.slice(0, eq).replace(/^--/, '');
    const value = word.slice(eq + 1);
    if (name === 'config') {
      parsed.config = value;
    } else if (name.startsWith('config.')) {
      parsed.overrides.push(`${name}=${value}`);
    } else if (/^[a-z_]+\.config\./.test(name)) {
      const stage = name.slice(0, name.indexOf('.'));
      const list = parsed.stageOverrides.get(stage) ?? [];
      list.push(`${name.slice(stage.length + 1)}=${value}`);
      parsed.stageOverrides.set(stage, list);
    } else {
      parsed.options.set(name, value);
    }
  }
  return parsed;
}
