// A small seedable PRNG (sfc32) whose state is derived from (seed, epoch, index, stream). Every
// sample gets its own generator, so its random transforms depend on nothing else: not on which
// worker decoded it, nor on the order in which workers finished.

/** Independent random streams of one sample, so adding a draw to one never shifts another. */
export const enum Stream {
  Geometric = 0,
  Photometric = 1,
}

/** A 32-bit avalanche mix (murmur3's finaliser): nearby keys give unrelated states. */
function mix32(x: number): number {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** `keys` are non-negative integers below 2^32 (seed, epoch, sample index, stream, copy...). */
  constructor(...keys: number[]) {
    let h = 0x9e3779b9;
    const state: number[] = [];
    for (let i = 0; i < 4; i++) {
      for (const key of keys) h = mix32(h ^ mix32(key + i * 0x632be5ab));
      state.push(h);
    }
    [this.a, this.b, this.c, this.d] = state as [number, number, number, number];
    for (let i = 0; i < 12; i++) this.nextUint32(); // sfc32 needs a few rounds to decorrelate
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** Uniform on [0, 1). */
  uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** Uniform on [low, high). */
  uniformRange(low: number, high: number): number {
    return low + (high - low) * this.uniform();
  }

  /** An integer uniform on [low, high) (as torch.randint(low, high)). */
  randint(low: number, high: number): number {
    return low + Math.floor(this.uniform() * (high - low));
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): number[] {
    const out = Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = this.randint(0, i + 1);
      [out[i], out[j]] = [out[j] as number, out[i] as number];
    }
    return out;
  }
}
