// What we train opens in PyTorch: a ResNet-18 SSL model saved by saveTrainingCheckpoint loads with
// torch.load(weights_only=True) into torchvision's resnet18 (VISSL's trunk names, and the converted
// torchvision file) plus a Linear head, and gives our outputs.
import { after, describe, it } from 'node:test';
import { join } from 'node:path';
import { convertToTorchvision, saveTrainingCheckpoint } from '../../src/engine/checkpoint.js';
import { buildModel, modelConfig } from '../../src/models/index.js';
import { manualSeed, noGrad, randn, type Tensor } from '../../src/torch/index.js';
import { assertClose } from '../support/compare.js';
import { Oracle } from '../support/oracle.js';
import { tempFolder } from './support.js';

const oracle = new Oracle();
after(() => oracle.close());

describe('checkpoints in PyTorch', () => {
  it('a ResNet-18 checkpoint of ours gives the same features and logits in torchvision', async () => {
    manualSeed(4);
    const dir = tempFolder();
    const model = buildModel(modelConfig({ depth: 18, heads: [['mlp', { dims: [512, 7] }]] }));
    // A few training-mode passes give the BatchNorms running statistics worth comparing.
    for (let i = 0; i < 3; i++) noGrad(() => model.call(randn([4, 3, 64, 64])).forEach((t) => t.dispose()));
    model.eval();
    const x = randn([2, 3, 64, 64]);
    const [logits] = noGrad(() => model.call(x)) as [Tensor];
    const features = noGrad(() => model.trunk.call(x)) as Tensor;
    const path = saveTrainingCheckpoint(dir, { model, epoch: 0, iteration: 1 });
    const converted = join(dir, 'resnet18.pth');
    convertToTorchvision(path, converted);
    const { outputs } = await oracle.run({
      setup: `
import torchvision, collections
ck = torch.load(${JSON.stringify(path)}, weights_only=True)
parts = ck['classy_state_dict']['base_model']['model']
net = torchvision.models.resnet18()
net.fc = torch.nn.Identity()
net.load_state_dict(collections.OrderedDict((k[len('_feature_blocks.'):], v) for k, v in parts['trunk'].items()))
net.eval()
head = torch.nn.Linear(512, 7)
head.load_state_dict({k[len('0.clf.0.'):]: v for k, v in parts['heads'].items()})
plain = torchvision.models.resnet18()
plain.fc = torch.nn.Identity()
plain.load_state_dict(torch.load(${JSON.stringify(converted)}, weights_only=True))
plain.eval()
`,
      code: '[net(x), head(net(x)), plain(x)]',
      inputs: { x },
    });
    assertClose(features, outputs[0] as Tensor, { rtol: 1e-4, atol: 1e-5 }, 'trunk features');
    assertClose(logits, outputs[1] as Tensor, { rtol: 1e-4, atol: 1e-5 }, 'head logits');
    assertClose(features, outputs[2] as Tensor, { rtol: 1e-4, atol: 1e-5 }, 'converted torchvision file');
    for (const t of [x, logits, features]) t.dispose();
    model.dispose();
  });
});
