// clusterfit/cluster: k-means with FAISS's semantics on torch tensors, PCA whitening, and the
// optional backend that calls the real FAISS library.
export {
  assign,
  assignChunk,
  prepareCentroids,
  chunkRows,
  type AssignOptions,
  type Assignment,
  type Metric,
} from './assign.js';
export {
  defaultBoundsMemory,
  kmeans,
  trainingSample,
  type KMeansOptions,
  type KMeansResult,
  type KMeansShard,
  type IterationStats,
} from './kmeans.js';
export { type DistancePrecision, type Rechecked } from './fast-assign.js';
export { Mt19937, randPerm } from './random.js';
export { PCA, l2Normalize, type PCAShard } from './pca.js';
export { faissKmeans, faissAssign, faissAvailable, setFaissThreads } from './faiss.js';
export { readTrainingSet, assignNpy, type StreamOptions } from './stream.js';
// A type the API above names, so the reference documents it too.
export type { PreparedCentroids } from './assign.js';
