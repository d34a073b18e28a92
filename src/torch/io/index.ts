// File formats for tensors: PyTorch checkpoints (zip and legacy), safetensors and NumPy .npy.
export { disposeTensors, loadCheckpoint, saveCheckpoint } from './checkpoint.js';
export { readSafetensors, writeSafetensors, type Safetensors } from './safetensors.js';
export { readNpy, writeNpy, NpyReader, NpyWriter, type NpyHeader, type NpyElement } from './npy.js';
export { RefusedGlobalError } from './pickle.js';
