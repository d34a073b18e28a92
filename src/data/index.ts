// clusterfit/data: datasets, decoding and transforms, the parallel loader and samplers.
export {
  imageFolder,
  diskFilelist,
  withLabels,
  relabel,
  pythonCompare,
  IMG_EXTENSIONS,
  type Dataset,
  type ImageStore,
  type Sample,
} from './datasets.js';
export { torchvisionDataset, TORCHVISION_DATASETS, isTorchvisionDataset } from './torchvision/index.js';
export { TorchvisionRecords, torchvisionSplitOf } from './torchvision/records.js';
export { parseTransforms, planGeometry, type TransformConfig, type Pipeline, type GeometricOp } from './transforms.js';
export { randomResizedCropBox, centerCropBox, resizedSize, pyRound, type Box, type Draws } from './crop-params.js';
export { decode, decodeJpeg, decodeAndTransform, probe } from './geometry.js';
export { transformInto, type Pixels } from './image-addon.js';
export { applyPhotometric } from './photometric.js';
export { distributedIndices, type SamplerOptions } from './sampler.js';
export { DataLoader, type LoaderOptions, type Batch } from './loader.js';
export { Rng, Stream } from './rng.js';
export { limitDataset, replacePathPrefix, type DataLimit } from './subset.js';
export type { Failure } from './protocol.js';
// Types the API above names, so the reference documents them too.
export type { GeometricStep, PhotometricStep, JitterRanges } from './transforms.js';
export type { OutputKey } from './photometric.js';
