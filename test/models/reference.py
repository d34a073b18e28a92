"""PyTorch references for the model tests, imported into the oracle's namespace (see support.ts).

- CifarResNet: the CIFAR ResNet of akamaster/pytorch_resnet_cifar10 (He et al. 2016, option-A
  shortcut), written from its description so the tests can compare logits and load checkpoints.
- vissl_width_trunk: VISSL's ResNeXt construction (torchvision blocks re-made with planes 64 * w).
- randomize_bn: non-trivial BN affine parameters and running statistics, so eval-mode outputs
  depend on every buffer.
"""
import collections
import json

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision


class OptionA(nn.Module):
    def __init__(self, planes):
        super().__init__()
        self.planes = planes

    def forward(self, x):
        return F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.planes // 4, self.planes // 4), "constant", 0)


class CifarBlock(nn.Module):
    def __init__(self, in_planes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = OptionA(planes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth, num_classes=10):
        super().__init__()
        n = (depth - 2) // 6
        self.in_planes = 16
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(16, n, 1)
        self.layer2 = self._make_layer(32, n, 2)
        self.layer3 = self._make_layer(64, n, 2)
        self.linear = nn.Linear(64, num_classes)

    def _make_layer(self, planes, n, stride):
        layers = []
        for s in [stride] + [1] * (n - 1):
            layers.append(CifarBlock(self.in_planes, planes, s))
            self.in_planes = planes
        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer3(self.layer2(self.layer1(out)))
        out = F.avg_pool2d(out, out.size()[3])
        return self.linear(out.view(out.size(0), -1))


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                c = m.num_features
                m.weight.copy_(torch.rand(c, generator=g) + 0.5)
                m.bias.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_mean.copy_(torch.randn(c, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    return model


def vissl_width_trunk(depth_layers, width_multiplier, groups=1, width_per_group=64):
    """The trunk VISSL's ResNeXt builds, as a torchvision ResNet whose stem and stages are re-made."""
    from torchvision.models.resnet import Bottleneck
    model = torchvision.models.resnet.ResNet(Bottleneck, depth_layers, groups=groups, width_per_group=width_per_group)
    model.inplanes = 64 * width_multiplier
    dim = 64 * width_multiplier
    model.conv1 = nn.Conv2d(3, model.inplanes, 7, 2, 3, bias=False)
    model.bn1 = nn.BatchNorm2d(model.inplanes)
    model.layer1 = model._make_layer(Bottleneck, dim, depth_layers[0])
    model.layer2 = model._make_layer(Bottleneck, dim * 2, depth_layers[1], stride=2)
    model.layer3 = model._make_layer(Bottleneck, dim * 4, depth_layers[2], stride=2)
    model.layer4 = model._make_layer(Bottleneck, dim * 8, depth_layers[3], stride=2)
    del model.fc
    return model


def shapes_json(state_dict):
    """{name: shape} of a state dict, as a uint8 tensor of JSON (the oracle returns tensors)."""
    shapes = collections.OrderedDict((k, list(v.shape)) for k, v in state_dict.items())
    return torch.tensor(list(json.dumps(shapes).encode()), dtype=torch.uint8)


def resnet_stages(model, x):
    """torchvision ResNet outputs at VISSL's conv1, res1..res5, res5avg, flatten."""
    conv1 = model.relu(model.bn1(model.conv1(x)))
    res1 = model.maxpool(conv1)
    res2 = model.layer1(res1)
    res3 = model.layer2(res2)
    res4 = model.layer3(res3)
    res5 = model.layer4(res4)
    res5avg = model.avgpool(res5)
    return conv1, res1, res2, res3, res4, res5, res5avg, torch.flatten(res5avg, 1)
