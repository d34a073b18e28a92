// A process layout that cannot work on this machine is refused before any worker starts (and
// before any run folder is made): with MACHINE.DEVICE gpu each local worker drives its own
// cuda:LOCAL_RANK, so the machine needs at least NUM_PROC_PER_NODE CUDA devices. Without this, N
// workers start, each fails on the same missing GPU, and the user reads N logs to learn one fact.
import type { Config } from '../../config/index.js';

/** Throws when `procsPerNode` workers of these configs cannot each get a device here. */
export function checkDeviceLayout(configs: readonly Config[], procsPerNode: number, cudaDevices: number): void {
  const gpu = configs.find((cfg) => cfg.MACHINE.DEVICE === 'gpu');
  if (gpu === undefined || cudaDevices >= procsPerNode) return;
  const workers = procsPerNode === 1 ? 'one process' : `${procsPerNode} processes (DISTRIBUTED.NUM_PROC_PER_NODE)`;
  const fix =
    cudaDevices === 0
      ? `set config.MACHINE.DEVICE=cpu${procsPerNode > 1 ? ' (CPU workers meet over Gloo)' : ''}, or run on a machine with GPUs and a CUDA ` +
        'build of the native addon (LIBTORCH_USE_PYTORCH=1 npm run build:native)'
      : `set config.DISTRIBUTED.NUM_PROC_PER_NODE=${cudaDevices} (one worker per GPU), or config.MACHINE.DEVICE=cpu`;
  throw new Error(
    `config.MACHINE.DEVICE is gpu on ${workers}, but this machine has ${cudaDevices === 0 ? 'no' : `only ${cudaDevices}`} ` +
      `CUDA device${cudaDevices === 1 ? '' : 's'} visible to this build: nothing was started; ${fix}`,
  );
}
