// liblinear through its addon (native/liblinear, built by scripts/build-liblinear.mjs when Debian's
// liblinear-dev is installed): many binary linear SVMs on one feature matrix, trained in parallel by
// the addon's thread pool. This module maps scikit-learn's LinearSVC arguments (as VISSL passes them)
// onto liblinear's and checks the problems before they reach C.
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One binary problem: rows of the feature matrix (all when absent) with a +1/-1 label each. */
export interface SvmProblem {
  rows?: Int32Array;
  labels: Int8Array;
  /** The cost C. */
  C: number;
  /** Class weights: C is multiplied by these for the +1 and -1 rows (VISSL: {1: 2, -1: 1}). */
  weightPositive: number;
  weightNegative: number;
}

export interface SvmSolution {
  /** d weights of the +1 class: decision = x . weights + bias (scikit-learn's coef_, intercept_). */
  weights: Float64Array;
  bias: number;
  /** liblinear's iteration count (dual solvers), -1 when it does not report one. */
  iterations: number;
  /** liblinear stopped at its iteration cap before reaching the tolerance. */
  maxIterReached: boolean;
}

/** LinearSVC's penalty / loss / dual, which together pick the liblinear solver. */
export interface LinearSvcOptions {
  penalty: string;
  loss: string;
  dual: boolean;
  /** LinearSVC's tol: liblinear's eps. */
  tol: number;
  /** LinearSVC's intercept_scaling (fit_intercept is always on in VISSL): liblinear's bias feature. */
  interceptScaling: number;
  /** Threads of the addon's pool. */
  threads: number;
}

interface LiblinearAddon {
  train(
    x: Float32Array,
    n: number,
    d: number,
    problems: SvmProblem[],
    options: { solver: number; eps: number; bias: number; threads: number },
  ): Promise<SvmSolution[]>;
  version: number;
}

const HELP =
  "VISSL's SVM benchmark (train_svm, train_svm_low_shot) needs liblinear: apt-get install liblinear-dev, then npm run build";

let addon: LiblinearAddon | undefined;

function addonPath(): string {
  const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
  return process.env.CLUSTERFIT_LIBLINEAR ?? join(root, 'build', 'Release', 'clusterfit_liblinear.node');
}

function load(): LiblinearAddon {
  if (addon) return addon;
  const file = addonPath();
  if (!existsSync(file)) throw new Error(`${HELP} (${file} is not built)`);
  try {
    addon = createRequire(import.meta.url)(file) as LiblinearAddon;
  } catch (error) {
    throw new Error(`${HELP} (${file} does not load: ${(error as Error).message})`);
  }
  return addon;
}

/** True when the liblinear addon is built. */
export function liblinearAvailable(): boolean {
  return addon !== undefined || existsSync(addonPath());
}

/** liblinear's version number (230 for 2.3.0). */
export function liblinearVersion(): number {
  return load().version;
}

/**
 * scikit-learn's _get_liblinear_solver_type for one-vs-rest classification: the liblinear solver
 * number of (penalty, loss, dual), or an error naming the unsupported combination as LinearSVC does.
 */
export function liblinearSolver(penalty: string, loss: string, dual: boolean): number {
  const solvers: Record<string, Record<string, Partial<Record<'true' | 'false', number>>>> = {
    hinge: { l2: { true: 3 } },
    squared_hinge: { l1: { false: 5 }, l2: { false: 2, true: 1 } },
  };
  const byPenalty = solvers[loss];
  if (byPenalty === undefined) throw new Error(`SVM.loss: '${loss}' is not supported (hinge or squared_hinge)`);
  const byDual = byPenalty[penalty];
  if (byDual === undefined) {
    throw new Error(`SVM.penalty: the combination of penalty='${penalty}' and loss='${loss}' is not supported`);
  }
  const solver = byDual[String(dual) as 'true' | 'false'];
  if (solver === undefined) {
    throw new Error(
      `SVM.dual: penalty='${penalty}' and loss='${loss}' are not supported when dual=${dual ? 'True' : 'False'}`,
    );
  }
  return solver;
}

/** Trains every problem on `x` (n x d, row-major float32); solutions come back in problem order. */
export async function trainLinearSvms(
  x: Float32Array,
  n: number,
  d: number,
  problems: SvmProblem[],
  options: LinearSvcOptions,
): Promise<SvmSolution[]> {
  const lib = load();
  if (!(options.interceptScaling > 0)) throw new Error('intercept_scaling must be > 0 (LinearSVC breaks otherwise)');
  problems.forEach((p, i) => {
    let positives = 0;
    for (const label of p.labels) positives += label === 1 ? 1 : 0;
    if (positives === 0 || positives === p.labels.length) {
      throw new Error(
        `SVM problem ${i} has ${positives === 0 ? 'no positive' : 'no negative'} example: ` +
          'a binary SVM needs both (a class with no image, or only that class, in the training rows)',
      );
    }
  });
  return lib.train(x, n, d, problems, {
    solver: liblinearSolver(options.penalty, options.loss, options.dual),
    eps: options.tol,
    bias: options.interceptScaling,
    threads: options.threads,
  });
}
