// VOC07 as VISSL reads it, end to end: disk_filelist image lists and N x C {-1, 0, 1} target files
// (extra_scripts/datasets/create_voc_data_files.py's layout: 1 present, 0 absent, -1 difficult),
// features extracted by train_svm itself (SVM_FEATURES_PATH empty) with the targets carried into the
// shards, then the SVMs, checked against scikit-learn on the same extracted features.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';
import { loadFeatures } from '../../src/engine/feature-files.js';
import { liblinearAvailable } from '../../src/engine/svm/liblinear.js';
import type { SvmLayerResult } from '../../src/engine/svm/svm-trainer.js';
import * as torch from '../../src/torch/index.js';
import { makeImageFolders } from '../tasks/support.js';
import { reference } from './fixtures.js';

const skip = liblinearAvailable()
  ? false
  : 'the liblinear addon is not built (apt-get install liblinear-dev, then npm run build)';
const CLI = resolve('dist/src/cli/main.js');

test('train_svm extracts VOC07 file lists with {-1, 0, 1} targets and matches scikit-learn', { skip }, async () => {
  const root = await makeImageFolders(8, 8);
  try {
    const targets: Record<string, number[][]> = {};
    for (const split of ['train', 'test']) {
      const paths: string[] = [];
      const rows: number[][] = [];
      for (let c = 0; c < 3; c++) {
        for (const file of readdirSync(join(root, split, `class${c}`)).sort()) {
          const i = paths.length;
          paths.push(join(root, split, `class${c}`, file));
          // Present for its own class (difficult now and then), sometimes for the next one too.
          const row = [0, 1, 2].map((k) =>
            k === c ? (i % 7 === 3 ? -1 : 1) : k === (c + 1) % 3 && i % 4 === 0 ? 1 : 0,
          );
          rows.push(row);
        }
      }
      torch.io.writeNpy(join(root, `${split}_images.npy`), paths);
      torch.tidy(() =>
        torch.io.writeNpy(
          join(root, `${split}_labels.npy`),
          torch.tensor(rows.flat(), { dtype: 'int64', shape: [rows.length, 3] }),
        ),
      );
      targets[split] = rows;
    }
    const out = join(root, 'svm');
    const file = join(root, 'voc07_svm.yaml');
    const split = (name: string): string[] => [
      `    ${name}:`,
      '      DATA_SOURCES: [disk_filelist]',
      '      LABEL_SOURCES: [disk_filelist]',
      '      DATASET_NAMES: [voc2007]',
      `      DATA_PATHS: [${join(root, `${name.toLowerCase()}_images.npy`)}]`,
      `      LABEL_PATHS: [${join(root, `${name.toLowerCase()}_labels.npy`)}]`,
      '      BATCHSIZE_PER_REPLICA: 8',
      '      TRANSFORMS: [{name: ToTensor}]',
    ];
    writeFileSync(
      file,
      [
        'config:',
        '  DATA:',
        '    NUM_DATALOADER_WORKERS: 1',
        ...split('TRAIN'),
        ...split('TEST'),
        '  MODEL:',
        '    TRUNK: {NAME: cifar_resnet, RESNETS: {DEPTH: 20}}',
        '    FEATURE_EVAL_SETTINGS:',
        '      EVAL_MODE_ON: True',
        '      FREEZE_TRUNK_ONLY: True',
        '      EXTRACT_TRUNK_FEATURES_ONLY: True',
        '      SHOULD_FLATTEN_FEATS: True',
        '      LINEAR_EVAL_FEAT_POOL_OPS_MAP: [["flatten", ["Identity", []]]]',
        '  MACHINE: {DEVICE: cpu}',
        '  DISTRIBUTED: {BACKEND: gloo, NUM_NODES: 1, NUM_PROC_PER_NODE: 1}',
        `  CHECKPOINT: {DIR: ${out}}`,
        '  SVM:',
        '    costs: {costs_list: [0.1, 1.0, 10]}',
        '    cross_val_folds: 3',
        '',
      ].join('\n'),
    );
    const run = spawnSync(process.execPath, [CLI, 'train_svm', `config=${file}`], {
      encoding: 'utf8',
      timeout: 300_000,
    });
    assert.equal(run.status, 0, run.stderr);

    // The extracted shards carry the targets as VISSL's do: N x 3, in dataset order.
    const features = join(out, 'features');
    const arrays: Record<string, string> = {};
    for (const name of ['train', 'test']) {
      const loaded = loadFeatures(features, name, 'flatten');
      assert.equal(loaded.targetColumns, 3);
      assert.deepEqual(Array.from(loaded.targetMatrix), targets[name]!.flat());
      arrays[`${name}_x`] = join(root, `${name}_x.npy`);
      arrays[`${name}_y`] = join(root, `${name}_y.npy`);
      torch.io.writeNpy(arrays[`${name}_x`]!, loaded.features);
      torch.tidy(() =>
        torch.io.writeNpy(
          arrays[`${name}_y`]!,
          torch.tensor(loaded.targetMatrix, { shape: [loaded.indices.length, 3] }),
        ),
      );
      loaded.features.dispose();
    }
    const summary = JSON.parse(readFileSync(join(out, 'svm.json'), 'utf8')) as {
      layers: Record<string, SvmLayerResult>;
    };
    const ours = summary.layers.flatten!;
    const python = reference<{ chosen_cost: number[]; test_ap: number[] }>('train_svm', {
      ...arrays,
      costs: [0.1, 1.0, 10],
      folds: 3,
    });
    assert.deepEqual(ours.chosenCost, python.chosen_cost);
    ours.testAp.forEach((ap, i) =>
      assert.ok(Math.abs(ap - python.test_ap[i]!) < 1e-3, `class ${i}: ${ap} vs ${python.test_ap[i]}`),
    );
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
