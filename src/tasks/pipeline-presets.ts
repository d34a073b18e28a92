// The pipeline's stages and the shipped configs each preset runs. Kept free of heavy imports so the
// command line can list the presets in `--help` without loading libtorch.

export const PIPELINE_STAGES = ['pretrain', 'cluster', 'train', 'evaluate'] as const;
export type PipelineStage = (typeof PIPELINE_STAGES)[number];

/** The shipped configs each preset runs, by stage. */
export const PIPELINE_PRESETS: Record<string, Record<PipelineStage, string>> = {
  demo: {
    pretrain: 'demo/rotnet',
    cluster: 'demo/cluster_features',
    train: 'demo/clusterfit',
    evaluate: 'demo/evaluate',
  },
  cifar10: {
    pretrain: 'cifar10/rotnet_resnet20',
    cluster: 'cifar10/cluster_features',
    train: 'cifar10/clusterfit_resnet20',
    evaluate: 'cifar10/evaluate',
  },
  // An ImageNet ResNet-18 on 64-pixel images, sized for a CPU (docs/experiment-imagenette.md).
  small64: {
    pretrain: 'small64/rotnet_resnet18',
    cluster: 'small64/cluster_features',
    train: 'small64/clusterfit_resnet18',
    evaluate: 'small64/evaluate',
  },
};
