// Builds the demo dataset shipped in data/demo/cifar10: a small, class-balanced subset of the
// CIFAR-10 JPEG copy in ../shared/data (not available to users, which is why the subset is
// committed). Deterministic: the first N files of every class folder, in sorted order, so
// running it again reproduces the same bytes.
//
//   node scripts/make-demo-data.mjs [--source ../shared/data/cifar10_jpeg/cifar10_jpeg.tar.gz]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync, cpSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const PER_CLASS = { train: 140, test: 50 };
const SIZE_LIMIT_BYTES = 2 * 1024 * 1024;

const sourceFlag = process.argv.indexOf('--source');
const source =
  sourceFlag > 0
    ? resolve(process.argv[sourceFlag + 1])
    : resolve(root, '../shared/data/cifar10_jpeg/cifar10_jpeg.tar.gz');
try {
  statSync(source);
} catch {
  console.error(`make-demo-data: ${source} not found; pass --source <cifar10_jpeg.tar.gz>`);
  process.exit(1);
}

const scratch = mkdtempSync(join(tmpdir(), 'cifar10-'));
try {
  execFileSync('tar', ['-xzf', source, '-C', scratch]);
  const target = join(root, 'data/demo/cifar10');
  rmSync(target, { recursive: true, force: true });
  let files = 0;
  let bytes = 0;
  for (const [split, perClass] of Object.entries(PER_CLASS)) {
    for (const cls of readdirSync(join(scratch, split)).sort()) {
      const chosen = readdirSync(join(scratch, split, cls))
        .sort()
        .slice(0, perClass);
      mkdirSync(join(target, split, cls), { recursive: true });
      for (const name of chosen) {
        cpSync(join(scratch, split, cls, name), join(target, split, cls, name));
        bytes += statSync(join(target, split, cls, name)).size;
        files += 1;
      }
    }
  }
  if (bytes > SIZE_LIMIT_BYTES) throw new Error(`demo set is ${bytes} bytes, over the 2 MB limit`);
  writeFileSync(
    join(target, 'README.md'),
    `# Demo dataset: a CIFAR-10 subset

${files} JPEG images (${(bytes / 1e6).toFixed(2)} MB): the first ${PER_CLASS.train} images of every class of
the training split and the first ${PER_CLASS.test} of every class of the test split, in sorted file order, taken
from the CIFAR-10 JPEG copy (32x32 RGB, re-encoded at about quality 75) that the team keeps at
\`../shared/data/cifar10_jpeg/cifar10_jpeg.tar.gz\`. Layout \`train|test/<class>/NNNN.jpg\`; the class folders in
alphabetical order give the standard CIFAR-10 label order.

Made by \`node scripts/make-demo-data.mjs\` (deterministic: running it again gives the same files).

CIFAR-10 has no formal licence; cite Krizhevsky 2009, "Learning Multiple Layers of Features from Tiny Images".
`,
  );
  console.log(`make-demo-data: ${files} images, ${bytes} bytes in ${target}`);
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
