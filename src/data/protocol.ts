// Messages between the loader and its worker threads. Pixels travel as transferable ArrayBuffers.
import type { GeometricStep } from './transforms.js';

export interface WorkerConfig {
  geometric: GeometricStep[];
  outputSize: [number, number];
  copies: number;
  seed: number;
  shrinkOnLoad: boolean;
}

export interface BatchRequest {
  id: number;
  epoch: number;
  samples: { index: number; path: string; label: number }[];
}

export interface Failure {
  index: number;
  path: string;
  message: string;
}

export interface BatchResult {
  id: number;
  /** count x H x W x 3 uint8, the outputs of the samples that decoded, in request order. */
  pixels: ArrayBuffer;
  /** Per output: its sample index, which copy (RotNet's all-rotations variant), its label. */
  indices: Int32Array;
  copies: Uint8Array;
  labels: Float64Array;
  failures: Failure[];
}
