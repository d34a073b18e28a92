// clusterfit: ClusterFit (Yan et al., CVPR 2020) end to end on libtorch. The pipeline stages and
// configs are the main entry points; each layer is also importable on its own.
export * as torch from './torch/index.js';
export * as data from './data/index.js';
export * as models from './models/index.js';
export * as cluster from './cluster/index.js';
export * as engine from './engine/index.js';
export * as tasks from './tasks/index.js';
export { loadConfig, configToYaml, availableConfigs, type Config } from './config/index.js';
export { runConfig, runPipeline, trainTask, extractTask, clusterTask, evaluateTask } from './tasks/index.js';
