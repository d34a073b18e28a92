// A folder of broken images must never abort the process natively. The image addon used to
// allocate each decode's pixels itself (napi_create_arraybuffer), and V8 aborts the whole process
// when that allocation fails ("FATAL ERROR: v8::ArrayBuffer::New Allocation failed - process out
// of memory", exit 134); a failed decode also threw its fresh buffer away, so a folder of broken
// images allocated one per image. Under an address-space limit (ulimit -v, as the attack that found
// it ran) it came intermittently, whichever decoder hit the limit first. Here the limit is set on
// the live process just above what it uses, so the JPEG decode's allocation fails every time: each
// variant (training's random crops and extraction's centre crop, with and without SKIP_BAD_IMAGES,
// with worker threads and without) must end in an error or a skip naming the allocation.
// Runs alone (scripts/run-tests.mjs): it runs its capped child processes side by side, one per core.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { tempDir } from './files.js';

const CHILD = new URL('./address-space-child.js', import.meta.url).pathname;
/** Room left above the child's address space when the limit is set: far below the 504 MiB the
 * hostile JPEG's frame needs, well above what the loader's other allocations take. */
const HEADROOM_BYTES = 200 * 2 ** 20;
const prlimit = spawnSync('prlimit', ['--version']).status === 0;

/** A real JPEG whose frame header claims width x height (its data ends long before). */
function jpegClaiming(bytes: Buffer, width: number, height: number): Buffer {
  const out = Buffer.from(bytes);
  for (let at = 2; at + 4 <= out.length; at += 2 + out.readUInt16BE(at + 2)) {
    if (out[at + 1] === 0xc0) {
      out.writeUInt16BE(height, at + 5);
      out.writeUInt16BE(width, at + 7);
      return out;
    }
  }
  throw new Error('no baseline frame header');
}

async function folders(): Promise<{ warmup: string; hostile: string }> {
  const dir = tempDir();
  const warmup = join(dir, 'warmup', 'a');
  const hostile = join(dir, 'hostile', 'a');
  mkdirSync(warmup, { recursive: true });
  mkdirSync(hostile, { recursive: true });
  const raw = { raw: { width: 64, height: 64, channels: 3 as const } };
  const jpeg = await sharp(Buffer.alloc(64 * 64 * 3, 100), raw)
    .jpeg()
    .toBuffer();
  // A JPEG and a PNG, so both decoders (and libvips' threads) have run before the limit.
  writeFileSync(join(warmup, '0.jpg'), jpeg);
  writeFileSync(
    join(warmup, '1.png'),
    await sharp(Buffer.alloc(64 * 64 * 3, 50), raw)
      .png()
      .toBuffer(),
  );
  // 16000 x 11000 is just under DATA.MAX_IMAGE_PIXELS, so it is decoded rather than refused.
  const claiming = jpegClaiming(jpeg, 16000, 11000);
  for (let i = 0; i < 3; i++) writeFileSync(join(hostile, `huge${i}.jpg`), claiming);
  writeFileSync(join(hostile, 'empty.jpg'), Buffer.alloc(0));
  writeFileSync(join(hostile, 'text.jpg'), 'not an image at all');
  writeFileSync(join(hostile, 'truncated.jpg'), jpeg.subarray(0, jpeg.length >> 1));
  return { warmup: join(dir, 'warmup'), hostile: join(dir, 'hostile') };
}

/** Calls `work` on every item, at most `width` at a time. */
async function eachAtOnce<T>(items: T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const lane = async (): Promise<void> => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) await work(item);
  };
  await Promise.all(Array.from({ length: width }, lane));
}

interface Outcome {
  code: number | null;
  signal: string | null;
  stderr: string;
  result: { images: number; skipped: string[] } | { error: string } | { data: number } | undefined;
}

/**
 * Runs a child (`args` to node), caps its address space `headroom` bytes above what it uses once
 * it prints `vmsize <kB>`, and tells it to go on.
 */
function capped(args: string[], env: NodeJS.ProcessEnv, headroom = HEADROOM_BYTES): Promise<Outcome> {
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString();
    const size = /^vmsize (\d+)$/m.exec(stdout);
    if (size && !child.stdin.writableEnded) {
      const limit = Number(size[1]) * 1024 + headroom;
      const set = spawnSync('prlimit', [`--pid=${child.pid}`, `--as=${limit}`], { encoding: 'utf8' });
      assert.equal(set.status, 0, set.stderr);
      child.stdin.end('go\n');
    }
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const line = stdout.split('\n').find((l) => l.startsWith('{'));
      resolve({ code, signal, stderr, result: line ? JSON.parse(line) : undefined });
    });
  });
}

test(
  'a failed allocation for a decode is an error naming it, never a native abort, in every loader variant',
  { timeout: 300_000, skip: prlimit ? false : 'prlimit (util-linux) is not installed' },
  async () => {
    const { warmup, hostile } = await folders();
    // Twice each: the abort this guards against came in about one run of two.
    const variants = [0, 1].flatMap(() =>
      ['random', 'center'].flatMap((crop) =>
        [1, 0].flatMap((numWorkers) => [true, false].map((skip) => ({ crop, numWorkers, skip }))),
      ),
    );
    // Each child is its own process under its own limit: they run side by side, one per core.
    await eachAtOnce(variants, Math.min(4, availableParallelism()), async ({ crop, numWorkers, skip }) => {
      const job = { warmup, hostile, numWorkers, skip, crop };
      const label = JSON.stringify({ crop, numWorkers, skip });
      const outcome = await capped([CHILD], { CLUSTERFIT_ADDRESS_SPACE_CHILD: JSON.stringify(job) });
      assert.doesNotMatch(outcome.stderr, /FATAL ERROR|Allocation failed/, label);
      assert.equal(outcome.signal, null, `${label}: ${outcome.stderr}`);
      assert.equal(outcome.code, 0, `${label}: ${outcome.stderr}`);
      const result = outcome.result;
      assert.ok(result, `${label}: no result (${outcome.stderr})`);
      if (skip) {
        assert.ok('skipped' in result, label);
        assert.equal(result.images, 0, label);
        assert.equal(result.skipped.length, 6, label);
        // Memory freed by one failure can let a later decode allocate (and then fail on
        // the missing data): at least one allocation must have failed, and been named.
        const named = result.skipped.filter((m) => /cannot allocate 504 MiB to decode this 16000x11000 JPEG/.test(m));
        assert.ok(named.length >= 1, `${label}: ${result.skipped.join(' | ')}`);
      } else {
        assert.ok('error' in result, label);
        // The first batch holds empty.jpg and huge0.jpg; whichever decoder ran out names it.
        assert.match(result.error, /huge0\.jpg: (cannot allocate 504 MiB|.*out of memory)/, label);
        assert.match(result.error, /empty\.jpg: empty file/, label);
        assert.match(result.error, /SKIP_BAD_IMAGES=True/, label);
      }
    });
  },
);

test(
  "a tensor's data that cannot be allocated is a RangeError, not a native abort (the libtorch addon)",
  { timeout: 120_000, skip: prlimit ? false : 'prlimit (util-linux) is not installed' },
  async () => {
    const torch = new URL('../../src/torch/index.js', import.meta.url).href;
    // A 256 MiB tensor, then its data asked for with less than that left.
    const script = `
      const { zeros } = await import(${JSON.stringify(torch)});
      const t = zeros([64 * 2 ** 20]);
      const size = /VmSize:\\s+(\\d+) kB/.exec((await import('node:fs')).readFileSync('/proc/self/status', 'utf8'))[1];
      process.stdout.write('vmsize ' + size + '\\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
      process.stdin.pause();
      let result;
      try { result = { data: t.data().length }; } catch (error) { result = { error: error.name + ': ' + error.message }; }
      process.stdout.write(JSON.stringify(result) + '\\n');`;
    for (let round = 0; round < 2; round++) {
      const outcome = await capped(['--input-type=module', '-e', script], {}, 100 * 2 ** 20);
      assert.doesNotMatch(outcome.stderr, /FATAL ERROR|Allocation failed/);
      assert.equal(outcome.signal, null, outcome.stderr);
      assert.equal(outcome.code, 0, outcome.stderr);
      assert.ok(outcome.result && 'error' in outcome.result, JSON.stringify(outcome.result));
      assert.match(outcome.result.error, /RangeError: toBuffer: cannot allocate 268435456 bytes for the tensor's data/);
    }
  },
);
