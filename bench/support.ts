// What the benchmarks share: the median they report, the --amp option's variants, and the
// long-lived Python peer process they talk to one line at a time.
import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The median (the mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** `--amp off|on|off,on`: which variants to run, in order (true: under autocast). */
export function ampVariants(option: string): boolean[] {
  return option.split(',').map((v) => {
    if (v !== 'off' && v !== 'on') throw new Error(`--amp takes off, on or off,on; got '${option}'`);
    return v === 'on';
  });
}

/** The Python that runs the peers (it needs torch, torchvision, faiss as each peer imports). */
export const PYTHON = process.env.CLUSTERFIT_PYTHON ?? '/usr/bin/python3';

/** bench/peers/<name> in the source tree (the compiled benches run from dist/bench). */
export function peerScript(name: string): string {
  return join(resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'), 'bench', 'peers', name);
}

// Longer than any one request of the benches takes (a peer's epoch of 3,200 images at 224 px on
// 2 cores is a few minutes); a peer silent for longer is stuck and is killed.
const REPLY_TIMEOUT_MS = 15 * 60_000;

export interface Peer {
  /** Sends `line` (none: only reads) and resolves with the peer's next line, parsed as JSON. */
  reply(line?: string): Promise<Record<string, unknown>>;
  /** reply() to a request sent as one JSON line. */
  ask(request: object): Promise<Record<string, unknown>>;
  /** Ends the peer's input: it exits when it reads the end. */
  close(): void;
}

/** Starts `python3 bench/peers/<name> ...args`, which answers each line of its input with one
 * JSON line; its errors go to this process's stderr. */
export function startPeer(name: string, args: string[] = []): Peer {
  const script = peerScript(name);
  const child = spawn(PYTHON, [script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const who = `the PyTorch peer (${PYTHON} ${script})`;
  const peer: Peer = {
    async reply(line?: string) {
      if (line !== undefined) child.stdin.write(`${line}\n`);
      let timer: NodeJS.Timeout | undefined;
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`${who} gave no answer in ${REPLY_TIMEOUT_MS / 60_000} minutes; killed`));
        }, REPLY_TIMEOUT_MS);
      });
      try {
        const next = await Promise.race([lines.next(), silent]);
        if (next.done) throw new Error(`${who} exited before answering; see its error above`);
        return JSON.parse(next.value) as Record<string, unknown>;
      } finally {
        clearTimeout(timer);
      }
    },
    ask: (request) => peer.reply(JSON.stringify(request)),
    close: () => child.stdin.end(),
  };
  return peer;
}
