// Small real image folders for task tests: class-coloured 32x32 JPEGs with noise, so a network can
// learn something and every decode path is the real one.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const COLOURS = [
  [200, 40, 40],
  [40, 200, 40],
  [40, 40, 200],
];

/** root/{train,test}/<class>/<n>.jpg with `perClass` train and `testPerClass` test images per class. */
export async function makeImageFolders(perClass: number, testPerClass = 2): Promise<string> {
  const root = mkdtempSync(join(tmpdir(), 'clusterfit-task-'));
  let seed = 1;
  const noise = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return (seed % 61) - 30;
  };
  for (const [split, count] of [
    ['train', perClass],
    ['test', testPerClass],
  ] as const) {
    for (const [c, colour] of COLOURS.entries()) {
      const dir = join(root, split, `class${c}`);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < count; i++) {
        const pixels = Buffer.alloc(32 * 32 * 3);
        for (let p = 0; p < pixels.length; p++) {
          const y = Math.floor(p / 96);
          // A gradient from top to bottom makes rotations tell apart.
          pixels[p] = Math.max(0, Math.min(255, (colour[p % 3] as number) * (0.3 + y / 40) + noise()));
        }
        await sharp(pixels, { raw: { width: 32, height: 32, channels: 3 } })
          .jpeg()
          .toFile(join(dir, `${String(i).padStart(3, '0')}.jpg`));
      }
    }
  }
  return root;
}

/** Words that shrink a shipped demo/cifar config to seconds on a tiny folder. */
export function tinyRun(dir: string, epochs: number): string[] {
  return [
    `config.CHECKPOINT.DIR=${JSON.stringify(dir)}`,
    `config.OPTIMIZER.num_epochs=${epochs}`,
    'config.DATA.TRAIN.BATCHSIZE_PER_REPLICA=4',
    'config.DATA.TEST.BATCHSIZE_PER_REPLICA=4',
    'config.DATA.NUM_DATALOADER_WORKERS=1',
    'config.LOG_FREQUENCY=1',
  ];
}
