// FAISS's random numbers (faiss/utils/random.cpp): a std::mt19937 seeded with the low 32 bits of
// the seed, `rand_int(max) = mt() % max`, `rand_float = mt() / float(mt.max())`, and `rand_perm`
// as a forward Fisher-Yates shuffle. Reproducing them bit for bit lets our k-means pick the same
// training sample, the same initial centroids and the same cluster to split as FAISS does.

const N = 624;
const M = 397;
const MAX_UINT32_AS_FLOAT = Math.fround(4294967295);

/** The 32-bit Mersenne Twister, exactly as std::mt19937. */
export class Mt19937 {
  readonly #state = new Uint32Array(N);
  #index = N;

  constructor(seed: number) {
    const s = this.#state;
    s[0] = seed >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = s[i - 1]! ^ (s[i - 1]! >>> 30);
      // 1812433253 * prev mod 2^32, split in 16-bit halves to stay exact in doubles.
      s[i] = (((((prev & 0xffff0000) >>> 16) * 1812433253) << 16) + (prev & 0x0000ffff) * 1812433253 + i) >>> 0;
    }
  }

  #twist(): void {
    const s = this.#state;
    for (let i = 0; i < N; i++) {
      const y = (s[i]! & 0x80000000) | (s[(i + 1) % N]! & 0x7fffffff);
      s[i] = s[(i + M) % N]! ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
    }
    this.#index = 0;
  }

  /** The next 32-bit output, as an unsigned number. */
  next(): number {
    if (this.#index >= N) this.#twist();
    let y = this.#state[this.#index++]!;
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** FAISS's `rand_int(max)`: uniform-ish on [0, max), by modulo as FAISS does. */
  randInt(max: number): number {
    return this.next() % max;
  }

  /** FAISS's `rand_float()`: the output converted to float32, divided by float32(2^32 - 1). */
  randFloat(): number {
    return Math.fround(Math.fround(this.next()) / MAX_UINT32_AS_FLOAT);
  }
}

/** FAISS's `rand_perm(perm, n, seed)`: a permutation of 0..n-1. */
export function randPerm(n: number, seed: number): Int32Array {
  const perm = new Int32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  // FAISS seeds its generator with `(unsigned int) seed`.
  const rng = new Mt19937(Number(BigInt.asUintN(32, BigInt(seed))));
  for (let i = 0; i + 1 < n; i++) {
    const j = i + rng.randInt(n - i);
    const t = perm[i]!;
    perm[i] = perm[j]!;
    perm[j] = t;
  }
  return perm;
}
