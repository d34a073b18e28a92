// clusterfit/models: trunks with VISSL/torchvision/akamaster-compatible names, VISSL's heads, the
// SSL model (trunk + heads) built from a MODEL config, and features by VISSL layer name.
export { Trunk, buildPoolOp, type PoolOpSpec, type PoolOpsEntry, type FeatureOptions } from './trunk.js';
export { ResNeXt, torchvisionToVissl, visslToTorchvision, type ResNetOptions } from './resnet.js';
export {
  CifarResNetTrunk,
  CifarResNet,
  loadAkamasterStateDict,
  CIFAR_DEPTHS,
  type CifarResNetOptions,
} from './cifar-resnet.js';
export {
  MLP,
  LinearEvalMLP,
  buildHead,
  type HeadSettings,
  type MlpParams,
  type EvalMlpParams,
  type HeadModuleSpec,
} from './heads.js';
export {
  SSLModel,
  FeatureExtractor,
  buildModel,
  modelConfig,
  type ModelConfigOptions,
  buildTrunk,
  TRUNK_NAMES,
  type ModelConfig,
  type ResNetsConfig,
} from './model.js';
