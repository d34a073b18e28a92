// clusterfit/torch nn: modules and layers over the functional ops (torch.nn).
export {
  Module,
  clearGrad,
  type AnyModule,
  type StateDict,
  type LoadStateDictResult,
  type FactoryOptions,
} from './module.js';
export { Conv2d, type Conv2dOptions } from './conv.js';
export { Linear, type LinearOptions } from './linear.js';
export { BatchNorm2d, type BatchNormOptions } from './batchnorm.js';
export { ReLU, MaxPool2d, AvgPool2d, AdaptiveAvgPool2d, Flatten, Dropout, Identity } from './parameter-free.js';
export { Sequential, ModuleList, ModuleDict } from './containers.js';
export * as init from './init.js';
export * as functional from './functional.js';
