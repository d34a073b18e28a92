// The shape of a `clusterfit` command and what every command gets for free from it: per-command
// --help (usage, options, example), checking the words against the options it declares (an unknown
// option or a missing required one is an error with a suggestion, never silently ignored), and the
// overview that `clusterfit --help` prints. The commands themselves are rows of the table in
// commands.ts; adding one is adding a row.
import { editDistance } from '../config/load.js';
import type { ParsedArgs } from './args.js';

/** The exit status of a run stopped on request (Ctrl-C), as a shell reports SIGINT: not finished, resumable. */
export const STOPPED = 130;

export interface CommandOption {
  /** The word before `=` (`out`), or `config`, or `config.KEY` for the override family. */
  name: string;
  /** What the value looks like in the help (`<folder>`). */
  value: string;
  description: string;
  required?: boolean;
}

export interface Command {
  name: string;
  /** One line for the overview. */
  summary: string;
  /** What follows the name in the usage line, e.g. `config=<name or path> [config.KEY=value ...]`. */
  usage: string;
  /** Longer explanation for the command's own --help (optional). */
  description?: string;
  /** The `name=value` options it takes. */
  options: CommandOption[];
  /** Accepts `config=` and `config.KEY=value` words. */
  config?: boolean;
  /** Accepts `<stage>.config.KEY=value` words, for these stages. */
  stages?: readonly string[];
  /** Takes `--json`: its run's JSON lines on stdout instead of its plain result. */
  json?: boolean;
  /** Names of the positional words it takes, in order; a trailing `...` takes any number. */
  positional?: readonly string[];
  /** Unknown option names that users plausibly mean as something else, with what to write instead. */
  hints?: Record<string, string>;
  /** One or more example command lines. */
  example: string | string[];
  /** Native addons it needs (shown in --help when they are missing). */
  needs?: readonly ('native' | 'image' | 'faiss' | 'liblinear')[];
  /** Runs the command; a number is the exit status (0 when nothing is returned). */
  handler(args: ParsedArgs): Promise<number | void> | number | void;
}

/** The closest of `candidates` to `word`, when close enough to be a likely typo. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** Throws a one-line error for any word the command does not take, suggesting what was probably meant. */
export function checkArgs(command: Command, args: ParsedArgs): void {
  const help = `\`clusterfit ${command.name} --help\` lists its options`;
  const known = command.options.map((o) => o.name);
  for (const name of args.options.keys()) {
    if (known.includes(name)) continue;
    const hint = command.hints?.[name];
    const near = closest(name, known);
    // VISSL's keys are upper-case (OPTIMIZER.num_epochs): a config key written without its prefix.
    const configKey = command.config && /^[A-Z][A-Z0-9_]*(\.|$)/.test(name);
    const advice = hint
      ? `; write ${hint} instead`
      : configKey
        ? `; a config key takes the config. prefix: config.${name}=${args.options.get(name)}`
        : near
          ? `; did you mean ${near}=...?`
          : '';
    throw new Error(`${command.name} has no option '${name}'${advice} (${help})`);
  }
  if (args.json && !command.json) {
    throw new Error(`${command.name} takes no --json: it writes no JSON lines (${help})`);
  }
  if (!command.config && (args.config !== undefined || args.overrides.length > 0)) {
    throw new Error(`${command.name} takes no config= or config.KEY=value words (${help})`);
  }
  for (const stage of args.stageOverrides.keys()) {
    if (command.stages?.includes(stage)) continue;
    const near = command.stages ? closest(stage, command.stages) : undefined;
    throw new Error(
      command.stages
        ? `unknown stage '${stage}' in ${stage}.config...; ${near ? `did you mean ${near}? ` : ''}stages: ${command.stages.join(', ')}`
        : `${command.name} takes no <stage>.config.KEY=value words (${help})`,
    );
  }
  const slots = command.positional ?? [];
  const variadic = slots[slots.length - 1]?.endsWith('...') ?? false;
  if (!variadic && args.positional.length > slots.length) {
    const extra = args.positional[slots.length]!;
    const option = closest(extra, known);
    throw new Error(
      `${command.name} does not take '${extra}'` +
        (/^([a-z_]+\.)?config\./.test(extra)
          ? '; an override needs a value: config.KEY=value'
          : option
            ? `; did you mean ${option}=...?`
            : slots.length === 0
              ? '; it takes no plain words'
              : '') +
        ` (${help})`,
    );
  }
  for (const option of command.options) {
    if (option.required && !args.options.has(option.name) && !(option.name === 'config' && args.config)) {
      throw new Error(`${command.name} needs ${option.name}=${option.value} (${help})`);
    }
  }
  const required = slots.filter((s) => !s.startsWith('[') && !s.endsWith('...'));
  if (args.positional.length < required.length) {
    throw new Error(`${command.name} needs ${required.map((s) => `<${s}>`).join(' ')} (${help})`);
  }
}

/** A command's own --help: usage, description, options, example. */
export function commandHelp(command: Command, unavailable: (need: string) => string | undefined): string {
  const lines = [`usage: clusterfit ${command.name} ${command.usage}`.trimEnd(), '', command.summary];
  if (command.description) lines.push('', command.description);
  const rows: [string, string][] = command.options.map((o) => [
    `${o.name}=${o.value}`,
    `${o.description}${o.required ? ' (required)' : ''}`,
  ]);
  if (command.config && !command.options.some((o) => o.name === 'config')) {
    rows.push(['config=<name or path>', 'a shipped config (`clusterfit configs`) or a YAML file']);
  }
  if (command.config) rows.push(['config.KEY.SUB=value', 'overrides one config key; the value is YAML']);
  if (command.stages) {
    rows.push([`<stage>.config.KEY=value`, `overrides a key for one stage (${command.stages.join(', ')})`]);
  }
  if (command.json) rows.push(['--json', "the run's JSON lines on stdout (always in metrics.jsonl)"]);
  rows.push(['--help', 'this help']);
  const width = Math.max(...rows.map(([left]) => left.length));
  lines.push('', 'options:', ...rows.map(([left, right]) => `  ${left.padEnd(width)}  ${right}`));
  const examples = Array.isArray(command.example) ? command.example : [command.example];
  lines.push('', examples.length > 1 ? 'examples:' : 'example:', ...examples.map((e) => `  ${e}`));
  const missing = (command.needs ?? []).map(unavailable).filter((m): m is string => m !== undefined);
  if (missing.length > 0) lines.push('', 'unavailable here:', ...missing.map((m) => `  ${m}`));
  return lines.join('\n');
}

/** `clusterfit --help`: one line per command. */
export function overview(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n');
}
