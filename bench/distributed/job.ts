// Runs one 2-rank job of ours (bench/distributed/rank.ts) or of PyTorch
// (bench/peers/torch_distributed.py) on loopback and returns rank 0's report.
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeRanks, runRanks } from '../../test/support/ranks.js';

const here = dirname(fileURLToPath(import.meta.url));
const peerScript = join(resolve(here, '..', '..', '..'), 'bench', 'peers', 'torch_distributed.py');

export interface JobReport {
  seconds: number[];
  version: string;
}

export async function runJob(
  side: 'ours' | 'pytorch',
  mode: string,
  config: object,
  timeoutMs: number,
): Promise<JobReport> {
  const python = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';
  const ranks = await runRanks(side === 'ours' ? join(here, 'rank.js') : peerScript, {
    timeoutMs,
    args: [mode, JSON.stringify(config)],
    ...(side === 'pytorch' ? { command: python } : { nodeArgs: [] }),
  });
  const report = ranks[0]!.result as JobReport | undefined;
  if (ranks.some((r) => r.code !== 0) || report === undefined) {
    throw new Error(`the ${side} ${mode} job failed:\n${describeRanks(ranks)}`);
  }
  return report;
}
