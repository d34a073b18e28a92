// SVM benchmark: VISSL's train_svm protocol (one binary LinearSVC per class and cost, k-fold
// cross-validation, the final fit, the test AP) on our liblinear addon against scikit-learn as
// VISSL runs it (bench/peers/sklearn_svm.py: a Python thread per class), on the same synthetic
// features. Prints seconds, mAP and the ratio.
//
//   node dist/bench/eval/svm.js                        # VOC07's shape: 5,011 train / 4,952 test x 2,048, 20 classes,
//                                                      # VISSL's 11 costs, 3 folds (slow: minutes on 2 cores)
//   node dist/bench/eval/svm.js --train 10000 --test 2000 --dim 512 --classes 10 --single-label
//   node dist/bench/eval/svm.js --costs 0.1,1 --threads 16 --no-peer
//
// Features: ReLU of class prototypes plus noise (seeded), VOC07-like multi-label targets (each
// class present with probability 0.15, 5% of the present ones difficult) or single-label ones.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { svmFeatures, type SvmSettings } from '../../src/engine/svm/config.js';
import { trainAndTestSvms, type SvmSplit } from '../../src/engine/svm/svm-trainer.js';
import * as torch from '../../src/torch/index.js';

const VISSL_COSTS = '0.01,0.1,1.0,2,5,10,15,20,50,100,1000';
const { values } = parseArgs({
  options: {
    train: { type: 'string', default: '5011' },
    test: { type: 'string', default: '4952' },
    dim: { type: 'string', default: '2048' },
    classes: { type: 'string', default: '20' },
    costs: { type: 'string', default: VISSL_COSTS },
    folds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '2' },
    // Scale of the class prototypes against unit noise: smaller is harder (lower mAP, more iterations).
    signal: { type: 'string', default: '0.06' },
    'single-label': { type: 'boolean', default: false },
    'no-peer': { type: 'boolean', default: false },
  },
});
const [nTrain, nTest, d, classes, folds, threads] = ['train', 'test', 'dim', 'classes', 'folds', 'threads'].map((k) =>
  Number(values[k as keyof typeof values]),
) as [number, number, number, number, number, number];
const costs = values.costs!.split(',').map(Number);
const single = values['single-label']!;

torch.manualSeed(0);
const prototypes = torch.randn([classes, d]).mul(Number(values.signal));

/** One split: features (float32) and targets (N x classes of {-1,0,1}, or N x 1 ids). */
function makeSplit(n: number): { x: torch.Tensor; y: torch.Tensor } {
  return torch.tidy(() => {
    const presence = single
      ? torch.functional.oneHot(torch.randint(0, classes, [n]), classes).to('float32')
      : torch.rand([n, classes]).lt(0.15).to('float32');
    const x = torch.relu(torch.mm(presence, prototypes).add(torch.randn([n, d])));
    const difficult = torch.rand([n, classes]).lt(0.05).to('float32').mul(presence);
    const y = single ? torch.argmax(presence, 1, true).to('int32') : presence.sub(difficult.mul(2)).to('int32');
    return { x, y };
  });
}

function split(data: { x: torch.Tensor; y: torch.Tensor }): SvmSplit {
  const [n, dim] = data.x.shape as [number, number];
  return {
    x: svmFeatures(data.x, true),
    n,
    d: dim,
    targets: { rows: n, columns: data.y.shape[1] as number, values: data.y.contiguous().data() as Int32Array },
  };
}

const settings: SvmSettings = {
  normalize: true,
  cls_list: [],
  loss: 'squared_hinge',
  penalty: 'l2',
  dual: true,
  max_iter: 2000,
  cross_val_folds: folds,
  costs: { costs_list: costs, base: -1, power_range: [4, 20] },
  force_retrain: true,
  low_shot: { dataset_name: 'voc', sample_inds: [], k_values: [] },
};

const dir = mkdtempSync(join(tmpdir(), 'clusterfit-bench-svm-'));
try {
  const train = makeSplit(nTrain);
  const test = makeSplit(nTest);
  console.log(
    `SVM benchmark: ${nTrain} train / ${nTest} test x ${d}, ${classes} classes (${single ? 'single' : 'multi'}-label), ` +
      `costs ${costs.join(',')}, ${folds} folds, ${threads} threads`,
  );
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  const ours = await trainAndTestSvms(split(train), split(test), { settings, outputDir: join(dir, 'ours'), threads });
  const oursSeconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  const oursCpu = (cpu.user + cpu.system) / 1e6;
  console.log(
    `ours (liblinear addon): ${oursSeconds.toFixed(1)} s (CPU ${oursCpu.toFixed(1)} s), mAP ${ours.meanAp.toFixed(2)}, ` +
      `${ours.notConverged} fits at liblinear's iteration cap; chosen costs ${ours.chosenCost.join(',')}`,
  );
  if (!values['no-peer'] && !single) {
    const files = { train_x: 'train_x.npy', train_y: 'train_y.npy', test_x: 'test_x.npy', test_y: 'test_y.npy' };
    torch.io.writeNpy(join(dir, files.train_x), train.x);
    torch.io.writeNpy(join(dir, files.train_y), train.y);
    torch.io.writeNpy(join(dir, files.test_x), test.x);
    torch.io.writeNpy(join(dir, files.test_y), test.y);
    const job = Object.fromEntries(Object.entries(files).map(([k, f]) => [k, join(dir, f)]));
    writeFileSync(join(dir, 'job.json'), JSON.stringify({ ...job, costs, folds }));
    const peer = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'bench', 'peers', 'sklearn_svm.py');
    const run = spawnSync('/usr/bin/python3', [peer, join(dir, 'job.json')], {
      encoding: 'utf8',
      env: { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: '1' },
      maxBuffer: 16 << 20,
    });
    if (run.status !== 0) throw new Error(`sklearn_svm.py failed:\n${run.stderr}`);
    const theirs = JSON.parse(run.stdout.trim().split('\n').pop()!) as {
      seconds: number;
      cpu: number;
      mAP: number;
      chosen_cost: number[];
      sklearn: string;
    };
    console.log(
      `scikit-learn ${theirs.sklearn} (VISSL's thread per class): ${theirs.seconds.toFixed(1)} s (CPU ${theirs.cpu.toFixed(1)} s), mAP ${theirs.mAP.toFixed(2)}; ` +
        `chosen costs ${theirs.chosen_cost.join(',')}`,
    );
    const same = theirs.chosen_cost.filter((c, i) => c === ours.chosenCost[i]).length;
    console.log(
      `ratio ours/scikit-learn: ${(oursSeconds / theirs.seconds).toFixed(2)} wall, ${(oursCpu / theirs.cpu).toFixed(2)} CPU; ` +
        `same chosen cost for ${same}/${classes} classes`,
    );
  }
  for (const t of [train.x, train.y, test.x, test.y]) t.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
