// Wall and CPU time of a piece of work, for the `seconds` / `cpu_seconds` fields of metrics lines.
// CPU time is the whole process's (libtorch's threads and the loader's worker threads included): on
// a machine shared with other programs it measures the work itself, where wall time also counts
// the turns the other programs took.

export interface Elapsed {
  /** Wall-clock seconds. */
  seconds: number;
  /** CPU seconds (user + system) of every thread of this process. */
  cpu_seconds: number;
}

export class Stopwatch {
  #wall = performance.now();
  #cpu = process.cpuUsage();

  /** The time since the stopwatch started (or was last restarted). */
  read(): Elapsed {
    const cpu = process.cpuUsage(this.#cpu);
    return { seconds: (performance.now() - this.#wall) / 1000, cpu_seconds: (cpu.user + cpu.system) / 1e6 };
  }

  /** The time since the start, and starts again from now. */
  lap(): Elapsed {
    const elapsed = this.read();
    this.#wall = performance.now();
    this.#cpu = process.cpuUsage();
    return elapsed;
  }
}
