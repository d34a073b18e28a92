// A tiny model with the state dict names of VISSL's SSL model (trunk._feature_blocks.* from the
// ResNet trunk, heads.0.clf.0.* from the mlp head), for weight-loading and checkpoint tests.
import * as nn from '../../src/torch/nn/index.js';

class Head extends nn.Module {
  constructor() {
    super();
    this.registerModule('clf', new nn.Sequential(new nn.Linear(4, 2)));
  }
}

/** _feature_blocks.conv1 (4x3x3x3, no bias) and _feature_blocks.bn1 (4 channels). */
export class ToyTrunk extends nn.Module {
  constructor() {
    super();
    this.registerModule(
      '_feature_blocks',
      new nn.ModuleDict({ conv1: new nn.Conv2d(3, 4, 3, { bias: false }), bn1: new nn.BatchNorm2d(4) }),
    );
  }
}

/** A frozen trunk as VISSL's FeatureExtractorModel names it: base_model.*. */
export class ToyExtractorTrunk extends nn.Module {
  constructor() {
    super();
    this.registerModule('base_model', new ToyTrunk());
  }
}

export class ToySSLModel extends nn.Module {
  constructor(trunk: nn.Module = new ToyTrunk()) {
    super();
    this.registerModule('trunk', trunk);
    this.registerModule('heads', new nn.ModuleList([new Head()]));
  }
}

/** The same model in PyTorch, for scripts that load our files into it. */
export const TORCH_TOY_MODEL = `
import torch
def toy_model():
    head = torch.nn.Module(); head.clf = torch.nn.Sequential(torch.nn.Linear(4, 2))
    trunk = torch.nn.Module()
    trunk._feature_blocks = torch.nn.ModuleDict({'conv1': torch.nn.Conv2d(3, 4, 3, bias=False), 'bn1': torch.nn.BatchNorm2d(4)})
    model = torch.nn.Module(); model.trunk = trunk; model.heads = torch.nn.ModuleList([head])
    return model
`;
