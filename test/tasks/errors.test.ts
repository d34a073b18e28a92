// Bad input gives one clear error that names the problem and the fix, before any work is lost.
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { RunLogger } from '../../src/engine/run-logger.js';
import { clusterTask, trainTask } from '../../src/tasks/index.js';
import { PYTHON } from '../support/oracle.js';
import { makeImageFolders, tinyRun } from './support.js';

const quiet = { logger: new RunLogger({ quiet: true, jsonToStdout: false }) };

describe('bad input', () => {
  let root = '';
  const data = (): string[] => [
    `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
    `config.DATA.TEST.DATA_PATHS=[${JSON.stringify(join(root, 'test'))}]`,
  ];
  before(async () => {
    root = await makeImageFolders(2, 1);
  });

  it('a missing data path names the key and the path', async () => {
    const cfg = loadConfig({
      config: 'demo/rotnet',
      overrides: [...tinyRun(join(root, 'a'), 1), 'config.DATA.TRAIN.DATA_PATHS=[/nowhere/train]'],
    });
    await assert.rejects(trainTask(cfg, quiet), /DATA\.TRAIN\.DATA_PATHS: data path '\/nowhere\/train' does not exist/);
  });

  it('a label file whose length differs from the image list', async () => {
    const labels = join(root, 'labels.npy');
    const images = join(root, 'images.npy');
    execFileSync(PYTHON, [
      '-c',
      `import numpy as np, glob, sys
np.save(sys.argv[1], np.array(sorted(glob.glob(sys.argv[3] + '/train/*/*.jpg'))))
np.save(sys.argv[2], np.zeros(5, dtype=np.int64))`,
      images,
      labels,
      root,
    ]);
    const cfg = loadConfig({
      config: 'demo/clusterfit',
      overrides: [
        ...tinyRun(join(root, 'b'), 1),
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(images)}]`,
        `config.DATA.TRAIN.LABEL_PATHS=[${JSON.stringify(labels)}]`,
      ],
    });
    await assert.rejects(trainTask(cfg, quiet), /labels\.npy has 5 labels but the dataset has 6 images/);
  });

  it('a missing label file is an error, not silently dropped as in VISSL', async () => {
    const cfg = loadConfig({
      config: 'demo/clusterfit',
      overrides: [
        ...tinyRun(join(root, 'c'), 1),
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'images.npy'))}]`,
        'config.DATA.TRAIN.LABEL_PATHS=[/nowhere/labels.npy]',
      ],
    });
    await assert.rejects(
      trainTask(cfg, quiet),
      /DATA\.TRAIN\.LABEL_PATHS: label file \(\.npy\) '\/nowhere\/labels\.npy' does not exist/,
    );
  });

  it('NUM_CLUSTERS larger than the number of points', async () => {
    const rotnet = join(root, 'rotnet');
    await trainTask(loadConfig({ config: 'demo/rotnet', overrides: [...data(), ...tinyRun(rotnet, 1)] }), quiet);
    const cfg = loadConfig({
      config: 'demo/cluster_features',
      overrides: [
        ...data(),
        ...tinyRun(join(root, 'clusters'), 1),
        `config.MODEL.WEIGHTS_INIT.PARAMS_FILE=${JSON.stringify(join(rotnet, 'checkpoint.torch'))}`,
        `config.CLUSTERFIT.FEATURES.PATH=${JSON.stringify(join(root, 'features'))}`,
        `config.CLUSTERFIT.OUTPUT_DIR=${JSON.stringify(join(root, 'clusters'))}`,
        'config.CLUSTERFIT.NUM_CLUSTERS=50',
      ],
    });
    await assert.rejects(
      clusterTask(cfg, quiet),
      /CLUSTERFIT\.NUM_CLUSTERS is 50 but there are only 6 train features to cluster; set config\.CLUSTERFIT\.NUM_CLUSTERS to at most 6/,
    );
  });

  it('a checkpoint whose shapes do not match the model', async () => {
    const rotnet = join(root, 'rotnet');
    // The RotNet checkpoint's head is 64 -> 4; a model with a 64 -> 50 head cannot take it.
    const cfg = loadConfig({
      config: 'demo/clusterfit',
      overrides: [
        `config.DATA.TRAIN.DATA_PATHS=[${JSON.stringify(join(root, 'train'))}]`,
        ...tinyRun(join(root, 'd'), 1),
        'config.DATA.TRAIN.DATA_SOURCES=[disk_folder]',
        'config.DATA.TRAIN.LABEL_SOURCES=[disk_folder]',
        `config.MODEL.WEIGHTS_INIT.PARAMS_FILE=${JSON.stringify(join(rotnet, 'checkpoint.torch'))}`,
      ],
    });
    await assert.rejects(
      trainTask(cfg, quiet),
      /heads\.0\.clf\.0\.weight.*\[4, 64\].*\[50, 64\]|heads\.0\.clf\.0\.weight.*\[50, 64\].*\[4, 64\]/,
    );
  });

  it('an unwritable output folder is reported before any work', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const cfg = loadConfig({ config: 'demo/rotnet', overrides: [...data(), ...tinyRun(join(file, 'run'), 1)] });
    await assert.rejects(trainTask(cfg, quiet), /CHECKPOINT\.DIR: the output folder '.*a-file\/run' cannot be written/);
  });

  it('a run that asks for several processes or a GPU this build lacks says how to fix it', async () => {
    mkdirSync(join(root, 'e'), { recursive: true });
    const many = loadConfig({
      config: 'demo/rotnet',
      overrides: [...data(), ...tinyRun(join(root, 'e'), 1), 'config.DISTRIBUTED.NUM_PROC_PER_NODE=8'],
    });
    await assert.rejects(
      trainTask(many, quiet),
      /set config\.DISTRIBUTED\.NUM_NODES=1 config\.DISTRIBUTED\.NUM_PROC_PER_NODE=1/,
    );
    const gpu = loadConfig({
      config: 'demo/rotnet',
      overrides: [...data(), ...tinyRun(join(root, 'e'), 1), 'config.MACHINE.DEVICE=gpu'],
    });
    await assert.rejects(trainTask(gpu, quiet), /no CUDA device.*config\.MACHINE\.DEVICE=cpu/);
  });
});
