// clusterfit/torch optim: optimizers and parameter schedules (torch.optim).
export { SGD, type SGDOptions, type ParamGroup, type ParamGroupSpec, type SGDStateDict } from './sgd.js';
export { LarcSGD, type LarcOptions } from './larc.js';
export * from './lr-scheduler.js';
