#!/usr/bin/env node
// The `clusterfit` command. Every failure ends in one line that names the problem (the stack only
// with CLUSTERFIT_DEBUG=1), and Ctrl-C stops at the next step with a checkpoint, so the same
// command resumes. The commands are the rows of COMMANDS (commands.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from './args.js';
import { COMMANDS } from './commands.js';
import { PACKAGE_ROOT, requireAddons, unavailable, unavailableFeatures } from './features.js';
import { checkArgs, closest, commandHelp, overview, STOPPED } from './registry.js';
import { isVisslTool, runVisslTool } from './vissl.js';

function version(): string {
  return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
}

function usage(): string {
  const missing = unavailableFeatures();
  return [
    'clusterfit: ClusterFit (Yan et al., CVPR 2020) on libtorch',
    '',
    'usage: clusterfit <command> [name=value ...] [config.KEY=value ...]',
    '',
    'commands:',
    overview(COMMANDS),
    '',
    '`clusterfit <command> --help` shows its options and an example. --version prints the version.',
    "VISSL's tools run too: clusterfit run_distributed_engines | cluster_features_and_label | nearest_neighbor_test | train_svm | train_svm_low_shot config=...",
    'Ctrl-C stops cleanly; the same command resumes. CLUSTERFIT_DEBUG=1 shows stack traces.',
    ...(missing.length > 0 ? ['', 'unavailable in this installation:', ...missing.map((m) => `  ${m}`)] : []),
  ].join('\n');
}

async function main(words: string[]): Promise<void> {
  const [name, ...rest] = words;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = name === 'help' ? COMMANDS.find((c) => c.name === rest[0]) : undefined;
    console.log(topic ? commandHelp(topic, unavailable) : usage());
    return;
  }
  if (name === '--version' || name === '-v' || name === '-V' || name === 'version') {
    console.log(version());
    return;
  }
  // VISSL's tools take Hydra's words (+config/<group>=<name>, ~config.KEY), parsed by their module.
  if (isVisslTool(name)) {
    process.exitCode = await runVisslTool(name, rest);
    return;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (command === undefined) {
    const near = closest(
      name,
      COMMANDS.map((c) => c.name),
    );
    throw new Error(
      `unknown command '${name}'${near ? `; did you mean '${near}'?` : ''} (commands: ${COMMANDS.map((c) => c.name).join(', ')}; \`clusterfit --help\` explains them)`,
    );
  }
  const args = parseArgs(rest);
  if (args.help) {
    console.log(commandHelp(command, unavailable));
    return;
  }
  const unknownFlag = args.flags[0];
  if (unknownFlag !== undefined) {
    const option = command.options.find((o) => `--${o.name}` === unknownFlag);
    throw new Error(
      option
        ? `${name}: ${unknownFlag} needs a value: ${option.name}=${option.value} (or ${unknownFlag}=...)`
        : `${name} has no flag '${unknownFlag}' (options are name=value words; \`clusterfit ${name} --help\`)`,
    );
  }
  checkArgs(command, args);
  requireAddons(command.needs ?? []);
  // The status the command resolved with is the process's, whatever a library set before.
  process.exitCode = (await command.handler(args)) ?? 0;
}

/** One line for any thrown value: an Error without a message still says what it was. */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error) || 'an empty error was thrown (CLUSTERFIT_DEBUG=1 shows where)';
  const message = error.message.trim();
  return message !== '' ? message : `${error.name} without a message (CLUSTERFIT_DEBUG=1 shows where)`;
}

main(process.argv.slice(2)).catch((error: unknown) => {
  // A stop the user asked for, where the work could not checkpoint: said calmly, status 130.
  if (error instanceof Error && error.name === 'StopRequested') {
    process.stderr.write(`${error.message}\n`);
    process.exit(STOPPED);
  }
  process.stderr.write(`error: ${describeError(error)}\n`);
  if (process.env.CLUSTERFIT_DEBUG) process.stderr.write(`${(error as Error)?.stack ?? ''}\n`);
  process.exit(1);
});
