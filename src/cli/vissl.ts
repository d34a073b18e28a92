// VISSL's command-line tools under their own names, so a VISSL user's commands run unchanged:
//   clusterfit run_distributed_engines config=... [engine_name=train|extract_features] [node_id=N]
//   clusterfit cluster_features_and_label config=...
//   clusterfit nearest_neighbor_test config=...
//   clusterfit train_svm config=...   clusterfit train_svm_low_shot config=...
// Each takes Hydra's word forms: config.KEY=value (also +config. and ++config.), ~config.KEY,
// +config/<group>=<name> (a group file from hydra.searchpath or our configs/), and
// hydra.searchpath=[folder,...]. Every word must be one of these: nothing is ignored. The tool, not
// the file, picks the engine (VISSL's cluster and kNN configs name none), and a file written for
// another tool is an error that names it.
import { composeConfig, TOOL_ENGINES, type EngineName, type VisslTool } from '../config/index.js';
import { maxRestartsOverrides } from './launch/restarts.js';
import { STOPPED } from './registry.js';

export const VISSL_TOOLS = Object.keys(TOOL_ENGINES) as VisslTool[];

export function isVisslTool(name: string): name is VisslTool {
  return (VISSL_TOOLS as string[]).includes(name);
}

export function visslUsage(tool: VisslTool): string {
  const engines = TOOL_ENGINES[tool];
  return [
    `usage: clusterfit ${tool} config=<name or path> [word ...]`,
    `  As VISSL's tools/${tool}.py; runs the ${engines.join(' or ')} engine${engines.length > 1 ? ` (engine_name=${engines.join('|')}, in the file or here; default ${engines[0]})` : ''}.`,
    '  config.KEY.SUB=value      set a key (values are YAML; +config.KEY=value and ++config.KEY=value alike)',
    '  ~config.KEY               remove a key the file sets, so the default applies',
    '  +config/<group>=<name>    merge a group file, e.g. +config/feature_extraction/trunk_only=rn50_res5',
    "  hydra.searchpath=[dir]    folders with configs (VISSL's configs/ folder or a config tree), searched before ours",
    "  --json                    the run's JSON lines on stdout (always in metrics.jsonl)",
    ...(tool === 'run_distributed_engines'
      ? [
          "  node_id=N                 this machine's index among DISTRIBUTED.NUM_NODES",
          '  max_restarts=N            restart every worker after one fails, up to N times (--max-restarts N too)',
        ]
      : []),
  ].join('\n');
}

export interface VisslWords {
  config?: string;
  /** Override words, in order, for composeConfig. */
  overrides: string[];
  searchPath: string[];
  engine?: string;
  /** `node_id=N`: this machine's index among DISTRIBUTED.NUM_NODES (VISSL's top-level node_id). */
  nodeId?: string;
  /** `max_restarts=N` (torchrun's `--max-restarts N`): DISTRIBUTED.MAX_RESTARTS. */
  maxRestarts?: string;
  help: boolean;
  /** `--json`: the run's JSON lines on stdout. */
  json: boolean;
}

function searchFolders(value: string): string[] {
  const list = value.startsWith('[') ? value.slice(1, value.endsWith(']') ? -1 : undefined).split(',') : [value];
  return list.map((entry) => entry.trim().replace(/^file:\/\//, '')).filter((entry) => entry !== '');
}

/** Parses a VISSL tool's words; anything it does not understand is an error naming the word. */
export function parseVisslWords(tool: VisslTool, words: readonly string[]): VisslWords {
  const parsed: VisslWords = { overrides: [], searchPath: [], help: false, json: false };
  for (let i = 0; i < words.length; i++) {
    let word = words[i]!;
    // torchrun's spelling, `--max-restarts N` or `--max-restarts=N`.
    if (/^--max[-_]restarts$/.test(word) && words[i + 1] !== undefined) word = `max_restarts=${words[++i]}`;
    word = word.replace(/^--max[-_]restarts=/, 'max_restarts=');
    const eq = word.indexOf('=');
    const name = eq < 0 ? word : word.slice(0, eq);
    const value = word.slice(eq + 1);
    if (word === '--help' || word === '-h') parsed.help = true;
    else if (word === '--json') parsed.json = true;
    else if (name === 'config' && eq > 0) parsed.config = value;
    else if (/^(\+\+|\+|~)?config[./]/.test(word)) parsed.overrides.push(word);
    else if ((name === 'hydra.searchpath' || name === '--config-dir') && eq > 0)
      parsed.searchPath.push(...searchFolders(value));
    else if (name === 'engine_name' && eq > 0 && tool === 'run_distributed_engines') parsed.engine = value;
    else if (name === 'node_id' && eq > 0 && tool === 'run_distributed_engines') parsed.nodeId = value;
    else if (name === 'max_restarts' && eq > 0 && tool === 'run_distributed_engines') parsed.maxRestarts = value;
    else {
      throw new Error(`${tool}: '${word}' is not understood here.\n${visslUsage(tool)}`);
    }
  }
  return parsed;
}

/** Runs a VISSL tool from its command-line words; resolves to the process exit code. */
export async function runVisslTool(tool: VisslTool, words: readonly string[]): Promise<number> {
  const args = parseVisslWords(tool, words);
  if (args.help) {
    console.log(visslUsage(tool));
    return 0;
  }
  if (args.config === undefined) throw new Error(`${tool} needs config=<name or path>\n${visslUsage(tool)}`);
  const engines = TOOL_ENGINES[tool];
  if (args.engine !== undefined && !engines.includes(args.engine as EngineName)) {
    throw new Error(`${tool} runs the ${engines.join(' or ')} engine, not '${args.engine}'`);
  }
  const { config } = composeConfig({
    config: args.config,
    overrides: [...args.overrides, ...maxRestartsOverrides(args.maxRestarts)],
    searchPath: args.searchPath,
    command: tool,
    ...(args.engine !== undefined || engines.length === 1 ? { engine: (args.engine ?? engines[0]) as EngineName } : {}),
  });
  if (!engines.includes(config.ENGINE_NAME)) {
    throw new Error(
      `${tool} runs the ${engines.join(' or ')} engine; the config asks for ${config.ENGINE_NAME} (engine_name=${engines[0]} runs it here)`,
    );
  }
  // As `clusterfit run`: several processes when DISTRIBUTED asks for them, Ctrl-C a clean stop,
  // JSON lines on stdout with --json.
  const { launch } = await import('./launch/index.js');
  const nodeId = args.nodeId ?? (config.NODE_ID !== 0 ? String(config.NODE_ID) : undefined);
  const runHere = async (): Promise<number> => {
    const { runConfig } = await import('../tasks/index.js');
    const { stopOnSignals } = await import('../engine/stop-signal.js');
    const stop = stopOnSignals(() => process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)\n'));
    try {
      const result = await runConfig(config, { stop, log: { jsonToStdout: args.json } });
      return result.kind === 'train' && !result.completed ? STOPPED : 0;
    } finally {
      stop.dispose();
    }
  };
  return launch(config, nodeId, runHere, { json: args.json });
}
