// File formats for tensors: PyTorch checkpoints (zip and legacy), safetensors and NumPy .npy.
export { disposeTensors, isCompleteCheckpoint, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
export { removeStaleTemporaries, symlinkAtomic, writeFileAtomic } from './atomic-write.js';
export { readSafetensors, writeSafetensors, type Safetensors } from './safetensors.js';
export { readNpy, writeNpy, NpyReader, NpyWriter, type NpyHeader, type NpyElement } from './npy.js';
export { RefusedGlobalError } from './pickle.js';
