// The `clusterfit` commands, one row each: name, summary, options, example and handler. Adding a
// command is adding a row (its handler may live in its own module). Handlers import the heavy
// modules (tasks, torch) when they run, so `--help`, `--version` and `configs` work without libtorch.
import { join, resolve } from 'node:path';
import { availableConfigs, loadConfig } from '../config/index.js';
import { PIPELINE_PRESETS, PIPELINE_STAGES } from '../tasks/pipeline-presets.js';
import type { PipelineOptions } from '../tasks/pipeline.js';
import type { ParsedArgs } from './args.js';
import { EXPLORE_COMMANDS } from './explore.js';
import { PACKAGE_ROOT } from './features.js';
import { MAX_RESTARTS_OPTION, maxRestartsOverrides } from './launch/restarts.js';
import { STOPPED, type Command } from './registry.js';

const PRESETS = Object.keys(PIPELINE_PRESETS);
// Streams: stderr is for people (messages, warnings, the progress bar); stdout holds the command's
// result (the results table, a file's path, status lines), so `clusterfit demo > results.txt`
// keeps the table. With --json, stdout holds the run's JSON lines instead (`| jq`), and the plain
// result goes to stderr, so the stream stays JSON.
function cliLog(args: ParsedArgs): { jsonToStdout: boolean } {
  return { jsonToStdout: args.json };
}

/** The command's result: stdout, or stderr when stdout carries JSON lines. */
function result(args: ParsedArgs, text: string): void {
  (args.json ? process.stderr : process.stdout).write(`${text}\n`);
}
const STAGES = PIPELINE_STAGES;
const NODE_ID_OPTION = {
  name: 'node_id',
  value: '<K>',
  description: 'this machine in a DISTRIBUTED.NUM_NODES run: 0 on the RUN_ID host, then 1..NUM_NODES-1',
};

/** Runs `body` with Ctrl-C turned into a clean stop at the next step. */
async function withStopSignal<T>(
  body: (stop: import('../engine/stop-signal.js').StopSignal) => Promise<T>,
): Promise<T> {
  const { stopOnSignals } = await import('../engine/stop-signal.js');
  const stop = stopOnSignals(() => process.stderr.write('\nstopping after this step (Ctrl-C again to quit now)\n'));
  try {
    return await body(stop);
  } finally {
    stop.dispose();
  }
}

async function pipeline(args: ParsedArgs, defaults: Partial<PipelineOptions>): Promise<number> {
  const out = args.options.get('out') ?? defaults.outputDir!;
  const options = {
    preset: args.options.get('preset') ?? defaults.preset!,
    outputDir: out,
    dataRoot: args.options.has('data') ? resolve(args.options.get('data')!) : defaults.dataRoot,
    overrides: [...args.overrides, ...maxRestartsOverrides(args.options.get('max_restarts'))],
    stageOverrides: Object.fromEntries(args.stageOverrides),
    log: cliLog(args),
  };
  const { runPipeline, pipelineLaunchConfigs } = await import('../tasks/pipeline.js');
  const { launch } = await import('./launch/index.js');
  // As `clusterfit run`: NUM_PROC_PER_NODE workers here (each runs every stage), or one worker
  // under torchrun/srun; the workers' logs in <out>/logs.
  return launch(
    pipelineLaunchConfigs(options),
    args.options.get('node_id'),
    async () => {
      const outcome = await withStopSignal((stop) => runPipeline({ ...options, stop }));
      if (!outcome.completed) return STOPPED;
      if (outcome.table && (await isMainProcess())) {
        result(args, outcome.table);
        // Where the time went is about this run on this machine, not a result: for people, on stderr.
        process.stderr.write(`\n${outcome.timeTable}\n\n`);
        process.stderr.write(`finished in ${(outcome.seconds / 60).toFixed(1)} min; outputs in ${resolve(out)}\n`);
      }
      return 0;
    },
    { runDir: resolve(out), runDirKey: 'out', json: args.json },
  );
}

/** Rank 0 of a distributed run, or a process running alone: the one that reports to the user. */
async function isMainProcess(): Promise<boolean> {
  const { rendezvousFromEnv } = await import('../torch/distributed/env.js');
  return (rendezvousFromEnv(process.env)?.rank ?? 0) === 0;
}

export const COMMANDS: Command[] = [
  {
    name: 'demo',
    json: true,
    summary: 'The whole pipeline on the small CIFAR-10 subset shipped with the package (a few minutes on a CPU).',
    usage: '[out=<folder>] [config.KEY=value ...] [<stage>.config.KEY=value ...]',
    options: [
      { name: 'out', value: '<folder>', description: 'the run folder (default runs/demo)' },
      NODE_ID_OPTION,
      MAX_RESTARTS_OPTION,
    ],
    config: true,
    stages: STAGES,
    example: ['clusterfit demo', 'clusterfit demo out=runs/quick config.OPTIMIZER.num_epochs=2'],
    needs: ['native', 'image'],
    handler: (args) =>
      pipeline(args, {
        preset: 'demo',
        outputDir: 'runs/demo',
        dataRoot: join(PACKAGE_ROOT, 'data', 'demo', 'cifar10'),
      }),
  },
  {
    name: 'run',
    json: true,
    summary: 'Runs one stage: the engine the config names (as VISSL run_distributed_engines).',
    usage: 'config=<name or path> [config.KEY.SUB=value ...] [node_id=K]',
    description:
      'ENGINE_NAME picks the stage: train, extract_features, cluster_features, evaluate, nearest_neighbor, svm, svm_low_shot.\n' +
      'Outputs go where the config says (CHECKPOINT.DIR, CLUSTERFIT.OUTPUT_DIR). Values are YAML:\n' +
      'config.DATA.TRAIN.DATA_PATHS=[a,b]. Ctrl-C stops cleanly; the same command resumes.\n' +
      'DISTRIBUTED.NUM_PROC_PER_NODE=N starts N worker processes here (logs in <run dir>/logs); with\n' +
      'NUM_NODES=M, run the same command on each machine with RUN_ID=<host of node 0>:<port> and\n' +
      'node_id=0..M-1. Under torchrun or srun it runs as one worker. max_restarts=N starts every worker\n' +
      'again (resuming from the last checkpoint) when one fails, up to N times.',
    options: [
      {
        name: 'config',
        value: '<name or path>',
        description: 'a shipped config (`clusterfit configs`) or a YAML file',
        required: true,
      },
      NODE_ID_OPTION,
      MAX_RESTARTS_OPTION,
    ],
    config: true,
    hints: { out: 'config.CHECKPOINT.DIR=<folder>', data: 'config.DATA.TRAIN.DATA_PATHS=[<folder>]' },
    example: 'clusterfit run config=demo/rotnet config.CHECKPOINT.DIR=runs/rotnet config.OPTIMIZER.num_epochs=1',
    needs: ['native', 'image'],
    async handler(args) {
      const overrides = [...args.overrides, ...maxRestartsOverrides(args.options.get('max_restarts'))];
      const cfg = loadConfig({ config: args.config!, overrides, command: 'run' });
      const { launch } = await import('./launch/index.js');
      return launch(
        cfg,
        args.options.get('node_id'),
        async () => {
          const { runConfig } = await import('../tasks/index.js');
          const result = await withStopSignal((stop) => runConfig(cfg, { stop, log: cliLog(args) }));
          return result.kind === 'train' && !result.completed ? STOPPED : 0;
        },
        { json: args.json },
      );
    },
  },
  {
    name: 'pipeline',
    json: true,
    summary: 'RotNet pretraining -> features + k-means -> ClusterFit training -> evaluation, in one folder.',
    usage: `preset=<${PRESETS.join('|')}> out=<folder> [data=<root>] [config.KEY=value ...] [<stage>.config.KEY=value ...]`,
    description:
      'Each stage is a shipped config; the pipeline wires their paths together. Running it again skips\n' +
      'finished stages and resumes a stopped one. config.DISTRIBUTED.NUM_PROC_PER_NODE=N runs every stage on\n' +
      'N processes (logs in <out>/logs); NUM_NODES as for `clusterfit run`.',
    options: [
      { name: 'preset', value: `<${PRESETS.join('|')}>`, description: 'which shipped configs to run', required: true },
      { name: 'out', value: '<folder>', description: 'the run folder; every stage writes under it', required: true },
      { name: 'data', value: '<root>', description: 'an image-folder root with train/ and test/ (<class>/<image>)' },
      NODE_ID_OPTION,
      MAX_RESTARTS_OPTION,
    ],
    config: true,
    stages: STAGES,
    example:
      'clusterfit pipeline preset=cifar10 out=runs/cifar10 data=data/cifar10 train.config.OPTIMIZER.num_epochs=50',
    needs: ['native', 'image'],
    handler: (args) => pipeline(args, {}),
  },
  {
    name: 'convert',
    summary: "A VISSL-layout checkpoint's trunk as a plain torchvision-style state dict.",
    usage: '<vissl checkpoint> <output.pth>',
    options: [],
    positional: ['vissl checkpoint', 'output.pth'],
    example: 'clusterfit convert runs/demo/clusterfit/checkpoint.torch resnet20.pth',
    needs: ['native'],
    async handler(args) {
      const [input, output] = args.positional as [string, string];
      const { convertToTorchvision } = await import('../engine/checkpoint.js');
      const names = convertToTorchvision(input, output);
      console.log(`wrote ${names.length} tensors to ${output}`);
    },
  },
  {
    name: 'status',
    summary: 'What a run folder holds, per stage: done, running or resumable, and the key numbers.',
    usage: '<run folder>',
    options: [],
    positional: ['run folder'],
    example: 'clusterfit status runs/demo',
    async handler(args) {
      const { runStatus, formatStatus } = await import('../tasks/status.js');
      const dir = args.positional[0]!;
      console.log(formatStatus(dir, runStatus(dir)));
    },
  },
  {
    name: 'assign',
    json: true,
    summary: 'Labels new images with the nearest cluster of a finished run (the .npy files of the cluster stage).',
    usage: 'run=<run folder> images=<folder or .npy list> out=<folder>',
    description:
      "Uses the run's cluster stage as it was: the same model, layer, transforms and normalisation,\n" +
      'then the nearest centroid. Writes <dataset>_assign_<layer>_N<K>_D<dim>_labels.npy (int64) with\n' +
      '_images.npy (same order), _distances.npy and _cluster_sizes.npy.',
    options: [
      {
        name: 'run',
        value: '<run folder>',
        description: 'a pipeline folder, or a cluster stage folder',
        required: true,
      },
      {
        name: 'images',
        value: '<folder or .npy>',
        description: 'images (searched recursively) or a list of paths',
        required: true,
      },
      { name: 'out', value: '<folder>', description: 'where the labels go', required: true },
    ],
    example: 'clusterfit assign run=runs/demo images=photos/ out=runs/demo/assigned',
    needs: ['native', 'image'],
    async handler(args) {
      const { assignTask } = await import('../tasks/assign.js');
      const labels = await withStopSignal((stop) =>
        assignTask({
          run: args.options.get('run')!,
          images: args.options.get('images')!,
          outputDir: args.options.get('out')!,
          log: cliLog(args),
          stop,
        }),
      );
      result(args, labels.labels);
    },
  },
  {
    name: 'configs',
    summary: 'Lists the shipped configs (names for config=).',
    usage: '',
    options: [],
    example: 'clusterfit configs',
    handler() {
      console.log(availableConfigs().join('\n'));
    },
  },
  ...EXPLORE_COMMANDS,
];
