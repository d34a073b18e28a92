#!/usr/bin/env node
// The `clusterfit` command. Every failure ends in one line that names the problem (the stack only
// with CLUSTERFIT_DEBUG=1), and Ctrl-C stops at the next step with a checkpoint, so the same
// command resumes.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { availableConfigs, loadConfig } from '../config/index.js';
import { convertToTorchvision } from '../engine/checkpoint.js';
import { stopOnSignals } from '../engine/stop-signal.js';
import { PIPELINE_PRESETS, runConfig, runPipeline, type PipelineOptions } from '../tasks/index.js';
import { parseArgs, type ParsedArgs } from './args.js';
import { isVisslTool, runVisslTool } from './vissl.js';

const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const USAGE = `clusterfit: ClusterFit (Yan et al., CVPR 2020) on libtorch

usage:
  clusterfit demo [out=runs/demo]
      The whole pipeline on the small CIFAR-10 subset shipped in data/demo (a few minutes on a CPU).
  clusterfit run config=<name or path> [config.KEY.SUB=value ...]
      Runs the engine the config names (ENGINE_NAME: train, extract_features, cluster_features,
      evaluate, nearest_neighbor). Values are YAML: config.DATA.TRAIN.DATA_PATHS=[a,b].
  clusterfit pipeline preset=<${Object.keys(PIPELINE_PRESETS).join('|')}> out=<folder> [data=<root with train/ and test/>]
                      [config.KEY=value ...] [<stage>.config.KEY=value ...]
      RotNet pretraining -> features + k-means -> ClusterFit training -> evaluation, in one folder.
      Stages: pretrain, cluster, train, evaluate.
  clusterfit convert <vissl checkpoint> <output.pth>
      A VISSL-layout checkpoint's trunk as a plain torchvision-style state dict.
  clusterfit configs
      Lists the shipped configs.
  clusterfit run_distributed_engines | cluster_features_and_label | nearest_neighbor_test config=... [...]
      VISSL's tools, with its Hydra words (+config/<group>=<name>, ~config.KEY); --help for each.

Ctrl-C stops cleanly; the same command resumes. CLUSTERFIT_DEBUG=1 shows stack traces.`;

async function pipeline(args: ParsedArgs, defaults: Partial<PipelineOptions>): Promise<void> {
  const preset = args.options.get('preset') ?? defaults.preset;
  const out = args.options.get('out') ?? defaults.outputDir;
  if (preset === undefined || out === undefined) throw new Error('pipeline needs preset=<name> and out=<folder>');
  const stop = stopOnSignals(() => process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)\n'));
  try {
    const result = await runPipeline({
      preset,
      outputDir: out,
      dataRoot: args.options.has('data') ? resolve(args.options.get('data') as string) : defaults.dataRoot,
      overrides: args.overrides,
      stageOverrides: Object.fromEntries(args.stageOverrides),
      stop,
    });
    if (result.table) {
      process.stderr.write(
        `\n${result.table}\n\nfinished in ${(result.seconds / 60).toFixed(1)} min; outputs in ${resolve(out)}\n`,
      );
    } else {
      process.exitCode = 130;
    }
  } finally {
    stop.dispose();
  }
}

async function run(args: ParsedArgs): Promise<void> {
  if (args.config === undefined)
    throw new Error('run needs config=<name or path>; `clusterfit configs` lists the shipped ones');
  const cfg = loadConfig({ config: args.config, overrides: args.overrides, command: 'run' });
  const stop = stopOnSignals(() => process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)\n'));
  try {
    const result = (await runConfig(cfg, { stop })) as { completed?: boolean };
    if (result.completed === false) process.exitCode = 130;
  } finally {
    stop.dispose();
  }
}

async function main(words: string[]): Promise<void> {
  const [command, ...rest] = words;
  if (command !== undefined && isVisslTool(command)) {
    process.exitCode = await runVisslTool(command, rest);
    return;
  }
  const args = parseArgs(rest);
  if (command === undefined || command === 'help' || command === '--help' || command === '-h' || args.help) {
    console.log(USAGE);
    return;
  }
  switch (command) {
    case 'run':
      return run(args);
    case 'pipeline':
      return pipeline(args, {});
    case 'demo':
      return pipeline(args, {
        preset: 'demo',
        outputDir: 'runs/demo',
        dataRoot: join(PACKAGE_ROOT, 'data', 'demo', 'cifar10'),
      });
    case 'convert': {
      const [input, output] = args.positional;
      if (input === undefined || output === undefined) throw new Error('convert needs <vissl checkpoint> <output.pth>');
      const names = convertToTorchvision(input, output);
      console.log(`wrote ${names.length} tensors to ${output}`);
      return;
    }
    case 'configs':
      console.log(availableConfigs().join('\n'));
      return;
    default:
      throw new Error(`unknown command '${command}'\n\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  const err = error as Error;
  process.stderr.write(`\nerror: ${err.message}\n`);
  if (process.env.CLUSTERFIT_DEBUG) process.stderr.write(`${err.stack ?? ''}\n`);
  process.exit(1);
});
