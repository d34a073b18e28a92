// VISSL's torchvision_dataset data source: the files torchvision's dataset classes read from a root
// folder, read here without Python, for the datasets VISSL's adapter names (CIFAR10, CIFAR100,
// STL10, MNIST, SVHN). VISSL's split TRAIN reads torchvision's train split and any other its test
// split. Nothing is downloaded (VISSL's adapter does not download either): a missing file is an
// error naming it and how to get it.
import { statSync } from 'node:fs';
import type { Dataset } from '../datasets.js';
import { cifarFiles, readCifar } from './cifar.js';
import { mnistImageFiles, readMnist } from './mnist.js';
import { readStl10, stl10ImageFile } from './stl10.js';
import { readSvhn, svhnFile } from './svhn.js';
import { inMemoryDataset } from './store.js';

/** The dataset names VISSL's torchvision_dataset accepts (DATA.<split>.DATASET_NAMES). */
export const TORCHVISION_DATASETS = ['CIFAR10', 'CIFAR100', 'STL10', 'MNIST', 'SVHN'] as const;
export type TorchvisionDatasetName = (typeof TORCHVISION_DATASETS)[number];

export function isTorchvisionDataset(name: string): name is TorchvisionDatasetName {
  return (TORCHVISION_DATASETS as readonly string[]).includes(name);
}

/**
 * The images and labels torchvision.datasets.<name>(root) gives for the train split (`train`) or the
 * test split, in torchvision's order, with its labels. Images are held in memory, as torchvision holds them.
 */
export function torchvisionDataset(name: string, root: string, train: boolean): Dataset {
  if (!isTorchvisionDataset(name))
    throw new Error(
      `torchvision_dataset: unsupported dataset '${name}'; supported: ${TORCHVISION_DATASETS.join(', ')}`,
    );
  if (statSync(root, { throwIfNoEntry: false })?.isDirectory() !== true)
    throw new Error(`torchvision_dataset ${name}: the root folder '${root}' does not exist (or is not a folder)`);
  switch (name) {
    case 'CIFAR10':
    case 'CIFAR100':
      return inMemoryDataset(readCifar(name, root, train));
    case 'MNIST':
      return inMemoryDataset(readMnist(root, train));
    case 'STL10':
      return inMemoryDataset(readStl10(root, train));
    case 'SVHN':
      return inMemoryDataset(readSvhn(root, train));
  }
}

/** The image files torchvision.datasets.<name>(root) may read for the train or test split. */
export function torchvisionImageFiles(name: TorchvisionDatasetName, root: string, train: boolean): string[] {
  switch (name) {
    case 'CIFAR10':
    case 'CIFAR100':
      return cifarFiles(name, root, train);
    case 'MNIST':
      return mnistImageFiles(root, train);
    case 'STL10':
      return [stl10ImageFile(root, train)];
    case 'SVHN':
      return [svhnFile(root, train)];
  }
}
