// Command-line words in VISSL's (Hydra's) style: `config=<name>` picks a config, and
// `config.KEY.SUB=value` overrides one key. A `<stage>.` prefix (`train.config.X=1`) aims an
// override at one pipeline stage. Plain `name=value` words are command options (`out=runs/x`);
// `--out=runs/x` and `--out runs/x` mean the same, as Node users type them, and a dashed
// `--max-restarts 3` is `max_restarts=3`, as torchrun users type it.
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
  /** Words starting with `-` that are neither --help nor `--name value`: an error for the command. */
  flags: string[];
  help: boolean;
  /** `--json`: the run's JSON lines on stdout (they always go to metrics.jsonl). */
  json: boolean;
}

export function parseArgs(words: readonly string[]): ParsedArgs {
  const parsed: ParsedArgs = {
    overrides: [],
    stageOverrides: new Map(),
    options: new Map(),
    positional: [],
    flags: [],
    help: false,
    json: false,
  };
  for (let i = 0; i < words.length; i++) {
    let word = words[i]!;
    if (word === '--help' || word === '-h') {
      parsed.help = true;
      continue;
    }
    if (word === '--json') {
      parsed.json = true;
      continue;
    }
    if (word.startsWith('-') && !word.includes('=')) {
      const next = words[i + 1];
      // `--name value`: the value is the next word, unless that is another flag.
      if (/^--[A-Za-z_][\w.-]*$/.test(word) && next !== undefined && !next.startsWith('-')) {
        word = `${word}=${next}`;
        i++;
      } else {
        parsed.flags.push(word);
        continue;
      }
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
      parsed.options.set(word.startsWith('--') ? name.replaceAll('-', '_') : name, value);
    }
  }
  return parsed;
}
