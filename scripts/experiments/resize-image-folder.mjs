// Prepares an experiment's data: copies a class-folder image tree (`<split>/<class>/<image>`) at one
// square size, optionally keeping only the first N images of every class (sorted file order, so the
// subset is the same on every machine). Used by docs/experiment-imagenette.md and
// docs/experiment-transfer.md to bring Imagenette (224 px) and CIFAR-10 (32 px) to one resolution once,
// instead of decoding and resizing full-size JPEGs in every epoch of every run.
//
//   node scripts/experiments/resize-image-folder.mjs <source split folder> <target split folder> <size> [per-class limit]
//
// Resizing uses sharp's default (Lanczos 3) in both directions; the aspect ratio is not kept (both
// datasets are already square); JPEG quality 90.
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const [source, target, sizeWord, limitWord] = process.argv.slice(2);
const size = Number(sizeWord);
const perClass = limitWord === undefined ? Infinity : Number(limitWord);
if (!source || !target || !Number.isInteger(size) || size <= 0 || !(perClass > 0)) {
  console.error('usage: resize-image-folder.mjs <source split folder> <target split folder> <size> [per-class limit]');
  process.exit(2);
}

const classes = readdirSync(source)
  .filter((name) => statSync(join(source, name)).isDirectory())
  .sort();
if (classes.length === 0) {
  console.error(`resize-image-folder: ${source} has no class folders (expected <class>/<image> inside)`);
  process.exit(1);
}
sharp.concurrency(1);
let written = 0;
for (const cls of classes) {
  mkdirSync(join(target, cls), { recursive: true });
  const files = readdirSync(join(source, cls)).sort().slice(0, perClass);
  // A few images in flight at once keeps both cores busy without holding a class in memory.
  for (let i = 0; i < files.length; i += 16) {
    await Promise.all(
      files.slice(i, i + 16).map((file) =>
        sharp(join(source, cls, file))
          .removeAlpha()
          .toColourspace('srgb')
          .resize(size, size, { fit: 'fill' })
          .jpeg({ quality: 90 })
          .toFile(join(target, cls, file.replace(/\.[^.]+$/, '.jpg'))),
      ),
    );
  }
  written += files.length;
}
console.log(`resize-image-folder: ${written} images of ${classes.length} classes at ${size}x${size} in ${target}`);
