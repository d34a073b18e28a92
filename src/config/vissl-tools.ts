// Which VISSL command a config file was written for. VISSL runs its stages through separate tools,
// and its cluster and kNN configs say nothing about an engine: the tool picks it. So a file is
// matched to its tool by what it sets, and a file run through another tool (or through
// `clusterfit run`, which would otherwise train it) is an error naming the right command.
import { isPlainObject } from './schema.js';
import type { EngineName } from './types.js';

/** VISSL's command-line tools (tools/*.py), under the names VISSL users type. */
export type VisslTool =
  | 'run_distributed_engines'
  | 'cluster_features_and_label'
  | 'nearest_neighbor_test'
  | 'train_svm'
  | 'train_svm_low_shot';

/** The engines each VISSL tool runs; the first is its default. */
export const TOOL_ENGINES: Readonly<Record<VisslTool, readonly EngineName[]>> = {
  run_distributed_engines: ['train', 'extract_features'],
  cluster_features_and_label: ['cluster_features'],
  nearest_neighbor_test: ['nearest_neighbor'],
  train_svm: ['svm'],
  train_svm_low_shot: ['svm_low_shot'],
};

/** VISSL's two SVM tools read the same SVM section, so either runs a file written for the other. */
const SVM_TOOLS: readonly Command[] = ['train_svm', 'train_svm_low_shot'];

/** The command that runs a file: a VISSL tool, or `run` for engines only this project has. */
export type Command = VisslTool | 'run';

/** The command a file (with its group files, before command-line overrides) was written for. */
export function commandFor(fileTree: Readonly<Record<string, unknown>>): { command: Command; why: string } {
  const engine = fileTree.ENGINE_NAME;
  if (typeof engine === 'string') {
    for (const [tool, engines] of Object.entries(TOOL_ENGINES)) {
      if (engines.includes(engine as EngineName)) return { command: tool as VisslTool, why: `its engine is ${engine}` };
    }
    return { command: 'run', why: `its engine is ${engine}` };
  }
  if (isPlainObject(fileTree.CLUSTERFIT)) return { command: 'cluster_features_and_label', why: 'it sets CLUSTERFIT' };
  if (isPlainObject(fileTree.NEAREST_NEIGHBOR))
    return { command: 'nearest_neighbor_test', why: 'it sets NEAREST_NEIGHBOR' };
  if (isPlainObject(fileTree.SVM)) {
    return isPlainObject(fileTree.SVM.low_shot)
      ? { command: 'train_svm_low_shot', why: 'it sets SVM.low_shot' }
      : { command: 'train_svm', why: 'it sets SVM' };
  }
  return { command: 'run_distributed_engines', why: 'it is a training config' };
}

/**
 * Why `command` cannot run a file written for another command, or null when it can. `run` runs
 * any file that names its engine (ENGINE_NAME or engine_name), and training configs.
 */
export function wrongCommand(
  command: Command,
  fileTree: Readonly<Record<string, unknown>>,
  file: string,
): string | null {
  const intended = commandFor(fileTree);
  if (intended.command === command) return null;
  if (SVM_TOOLS.includes(intended.command) && SVM_TOOLS.includes(command)) return null;
  if (command === 'run' && (typeof fileTree.ENGINE_NAME === 'string' || intended.command === 'run_distributed_engines'))
    return null;
  const usage =
    intended.command === 'run' ? `clusterfit run config=${file}` : `clusterfit ${intended.command} config=${file}`;
  return (
    `${file} was written for ${intended.command === 'run' ? 'clusterfit run' : `VISSL's ${intended.command}`} ` +
    `(${intended.why}), not for ${command}: run \`${usage}\`` +
    (command === 'run' ? ' (or name its engine with config.ENGINE_NAME=...)' : '')
  );
}
