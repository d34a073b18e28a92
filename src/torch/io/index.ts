// File formats for tensors: PyTorch checkpoints (zip and legacy), safetensors and NumPy .npy.
export { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
