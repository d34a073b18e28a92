// Messages between the loader and its worker threads. Pixels travel as transferable ArrayBuffers.
import type { ImageStore } from './datasets.js';
import type { GeometricStep } from './transforms.js';

export interface WorkerConfig {
  geometric: GeometricStep[];
  outputSize: [number, number];
  copies: number;
  seed: number;
  shrinkOnLoad: boolean;
  /** Images with more pixels are refused before decoding (PIL's decompression-bomb limit). */
  maxImagePixels: number;
  /** The dataset's images held in memory (shared with the workers, not copied), if it has them. */
  store?: ImageStore;
}

export interface BatchRequest {
  id: number;
  epoch: number;
  samples: { index: number; path: string; label: number; record?: number }[];
  /** A pixel buffer of an earlier batch to reuse (transferred), saving an allocation and its GC. */
  buffer?: ArrayBuffer;
}

export interface Failure {
  index: number;
  path: string;
  message: string;
}

export interface BatchResult {
  id: number;
  /** count x 3 x H x W uint8 at the start: the outputs of the samples that decoded, in request order. */
  pixels: ArrayBuffer;
  /** Per output: its sample index, which copy (RotNet's all-rotations variant), its label. */
  indices: Int32Array;
  copies: Uint8Array;
  labels: Float64Array;
  failures: Failure[];
}

/** What a worker answers: the batch, or why the whole batch failed. */
export type WorkerReply = BatchResult | { id: number; error: string };
