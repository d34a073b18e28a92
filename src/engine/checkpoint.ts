// Training checkpoints in VISSL's layout (vissl/hooks/log_hooks.py plus ClassyVision's
// get_classy_state), so VISSL's tools and MODEL.WEIGHTS_INIT with classy_state_dict read ours:
//
//   { phase_idx, iteration, iteration_num, train_phase_idx, type: 'consolidated', loss: {},
//     classy_state_dict: { train, base_model: { model: { trunk, heads }, meta: { trunk: {}, heads: [] } },
//                          meters: [], optimizer, phase_idx, train_phase_idx, num_updates, losses,
//                          hooks: {}, loss: {} },
//     extra: { ...what our resume needs beyond VISSL's fields } }
//
// Every file opens with torch.load(path, weights_only=True), torch 1.13 included. That loader has
// no opcode for Python floats, so floats are stored as 0-d float64 tensors (float(x) in Python
// reads one) and the per-iteration `losses` as one float64 tensor; loadTrainingCheckpoint turns
// them back into numbers. The LR schedule needs no state of its own: it is a function of the
// epoch and iteration stored here.
//
// Files: model_phase{N}.torch after epoch N, model_final_checkpoint_phase{N}.torch at the end,
// each written atomically, and then checkpoint.torch, a symlink to the newest (as VISSL), moved
// into place atomically once that file is complete. Resuming takes the final checkpoint if there is
// one, else the newest complete model_phase file; temporary files of an interrupted write never
// match those names.
import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MAX_PICKLE_BYTES } from '../torch/io/checkpoint.js';
import { makeDirectories } from '../torch/io/file-bytes.js';
import { ZipReader } from '../torch/io/zip.js';
import { tensor, Tensor } from '../torch/index.js';
import {
  disposeTensors,
  isCompleteCheckpoint,
  loadCheckpoint,
  removeStaleTemporaries,
  saveCheckpoint,
  symlinkAtomic,
} from '../torch/io/index.js';
import type { AnyModule, StateDict } from '../torch/nn/module.js';
import type { SGD, SGDStateDict } from '../torch/optim/sgd.js';

export interface TrainingState {
  /** A model whose state dict names all start with 'trunk.' or 'heads.'. */
  model: AnyModule;
  optimizer?: SGD;
  /** The epoch (VISSL phase) this checkpoint closes; a run resumes at epoch + 1. */
  epoch: number;
  /** Optimizer steps taken so far in the whole run. */
  iteration: number;
  /** Samples trained on so far (ClassyVision's num_updates). */
  numUpdates?: number;
  /** The loss of each iteration of this epoch, as VISSL keeps them. */
  losses?: number[];
  /** Anything else resuming needs (sampler position, RNG state, config text): plain data and tensors. */
  extra?: Record<string, unknown>;
}

export interface TrainingCheckpoint {
  path: string;
  epoch: number;
  iteration: number;
  numUpdates: number;
  /** Trunk state dict, names without 'trunk.' (as VISSL stores it). */
  trunk: StateDict;
  /** Heads state dict, names without 'heads.'. */
  heads: StateDict;
  /** trunk.* and heads.* together (the same tensors), what model.loadStateDict takes. */
  model: StateDict;
  /** null when the checkpoint holds no optimizer state. */
  optimizer: SGDStateDict | null;
  losses: number[];
  extra: Record<string, unknown>;
  /** Frees the checkpoint's tensors. */
  dispose(): void;
}

export const LATEST_POINTER = 'checkpoint.torch';
const PHASE_FILE = /^model_phase(\d+)\.torch$/;
const FINAL_FILE = /^model_final_checkpoint_phase(\d+)\.torch$/;

export function checkpointFileName(epoch: number, final = false): string {
  return final ? `model_final_checkpoint_phase${epoch}.torch` : `model_phase${epoch}.torch`;
}

/**
 * Writes the checkpoint of `state` into `dir` (created if needed), then points checkpoint.torch
 * at it. Returns the checkpoint's path. Temporary files left by a killed earlier writer are removed.
 */
export function saveTrainingCheckpoint(dir: string, state: TrainingState, options: { final?: boolean } = {}): string {
  makeDirectories(dir);
  removeStaleTemporaries(dir);
  const name = checkpointFileName(state.epoch, options.final);
  const path = join(dir, name);
  const owned: Tensor[] = [];
  try {
    const { trunk, heads } = splitModelState(state.model, owned);
    const optimizer = state.optimizer ? optimizerForFile(state.optimizer.stateDict(), owned) : {};
    const losses = tensor(Float64Array.from(state.losses ?? []));
    owned.push(losses);
    const { epoch, iteration } = state;
    saveCheckpoint(path, {
      phase_idx: epoch,
      iteration,
      iteration_num: iteration,
      train_phase_idx: epoch,
      type: 'consolidated',
      loss: {},
      classy_state_dict: {
        train: true,
        base_model: { model: { trunk, heads }, meta: { trunk: {}, heads: [] } },
        meters: [],
        optimizer,
        phase_idx: epoch,
        train_phase_idx: epoch,
        num_updates: state.numUpdates ?? 0,
        losses,
        hooks: {},
        loss: {},
      },
      extra: encodePlain(state.extra ?? {}, owned, 'extra'),
    });
  } finally {
    for (const t of owned) t.dispose();
  }
  symlinkAtomic(name, join(dir, LATEST_POINTER));
  return path;
}

/** The model's state dict split by its top-level 'trunk.' / 'heads.' names, as VISSL stores it. */
function splitModelState(
  model: AnyModule,
  owned: Tensor[],
): { trunk: Map<string, Tensor>; heads: Map<string, Tensor> } {
  const parts = { trunk: new Map<string, Tensor>(), heads: new Map<string, Tensor>() };
  const other: string[] = [];
  for (const [name, t] of Object.entries(model.stateDict())) {
    owned.push(t);
    const dot = name.indexOf('.');
    const part = name.slice(0, dot);
    if (part === 'trunk' || part === 'heads') parts[part].set(name.slice(dot + 1), t);
    else other.push(name);
  }
  if (other.length > 0) {
    throw new Error(
      `a VISSL-layout checkpoint needs a model whose state dict names start with 'trunk.' or 'heads.'; these do not: ${other.slice(0, 5).join(', ')}`,
    );
  }
  return parts;
}

/** PyTorch's optimizer.state_dict(): int keys for the per-parameter state. */
function optimizerForFile(dict: SGDStateDict, owned: Tensor[]): unknown {
  const state = new Map<number, Map<string, Tensor | null>>();
  for (const [index, entry] of Object.entries(dict.state)) {
    if (entry.momentum_buffer) owned.push(entry.momentum_buffer);
    state.set(Number(index), new Map([['momentum_buffer', entry.momentum_buffer]]));
  }
  return { state, param_groups: encodePlain(dict.param_groups, owned, 'optimizer.param_groups') };
}

/** Plain data in the form torch 1.13's weights_only loader accepts (see the top of this file). */
function encodePlain(value: unknown, owned: Tensor[], where: string): unknown {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) return value;
    const scalar = tensor(value, { dtype: 'float64' });
    owned.push(scalar);
    return scalar;
  }
  if (typeof value !== 'object' || value === null || value instanceof Tensor) return value;
  if (value instanceof Uint8Array || value instanceof Set) {
    throw new Error(
      `checkpoint ${where}: a ${value.constructor.name} cannot be opened by torch.load(weights_only=True); store bytes as a uint8 Tensor and sets as arrays`,
    );
  }
  if (Array.isArray(value)) {
    const items = value.map((item, i) => encodePlain(item, owned, `${where}[${i}]`));
    return Object.isFrozen(value) ? Object.freeze(items) : items;
  }
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return new Map(entries.map(([key, item]) => [key, encodePlain(item, owned, `${where}.${String(key)}`)]));
}

/** Our `extra` values are a few levels deep; a file nesting deeper is not ours to trust. */
const MAX_PLAIN_DEPTH = 64;

/** The inverse of encodePlain; tensors that stay tensors are added to `kept`. */
function decodePlain(value: unknown, kept: Set<Tensor>, depth = 0): unknown {
  if (depth > MAX_PLAIN_DEPTH) throw new Error(`values nested more than ${MAX_PLAIN_DEPTH} levels deep`);
  if (value instanceof Tensor) {
    if (value.ndim === 0 && value.dtype === 'float64') return value.toArray()[0];
    kept.add(value);
    return value;
  }
  if (Array.isArray(value)) {
    const items = value.map((item) => decodePlain(item, kept, depth + 1));
    return Object.isFrozen(value) ? Object.freeze(items) : items;
  }
  if (value instanceof Map) {
    const entries = [...value].map(([key, item]) => [key, decodePlain(item, kept, depth + 1)] as const);
    return entries.every(([key]) => typeof key === 'string') ? Object.fromEntries(entries) : new Map(entries);
  }
  return value;
}

/**
 * The checkpoint to resume from in `dir`, by VISSL's rule: the final checkpoint if there is one,
 * else the newest model_phase file. Files that are not complete checkpoints (cut short by a
 * crash, or damaged) are passed over. null when there is none.
 */
export function findResumeCheckpoint(dir: string, warn: (message: string) => void = () => {}): string | null {
  if (!existsSync(dir)) return null;
  const names = readdirSync(dir);
  const newestFirst = (pattern: RegExp) =>
    names
      .map((name) => ({ name, phase: pattern.exec(name)?.[1] }))
      .filter((entry): entry is { name: string; phase: string } => entry.phase !== undefined)
      .sort((a, b) => Number(b.phase) - Number(a.phase))
      .map((entry) => join(dir, entry.name));
  const candidates = [...newestFirst(FINAL_FILE), ...newestFirst(PHASE_FILE)];
  const found = candidates.find(isCompleteCheckpoint) ?? null;
  // Passing over a file is worth saying: it means lost epochs, or a disk that damages files.
  for (const skipped of candidates.slice(0, found === null ? undefined : candidates.indexOf(found))) {
    warn(
      `${skipped} is damaged or incomplete (cut short, or failing its CRC check): ` +
        (found ? `resuming from ${found} instead` : 'no earlier complete checkpoint, starting over'),
    );
  }
  return found;
}

/**
 * Deletes all but the newest `keepLast` model_phase checkpoints in `dir` (CHECKPOINT.KEEP_LAST,
 * ours; VISSL keeps every one). `resumeFrom`, the checkpoint a resume would load, is never deleted,
 * and neither are final checkpoints. Returns the deleted paths.
 */
export function pruneCheckpoints(dir: string, keepLast: number, resumeFrom: string): string[] {
  if (keepLast < 0) return [];
  const phases = readdirSync(dir)
    .map((name) => ({ path: join(dir, name), phase: PHASE_FILE.exec(name)?.[1] }))
    .filter((entry): entry is { path: string; phase: string } => entry.phase !== undefined)
    .sort((a, b) => Number(b.phase) - Number(a.phase));
  const doomed = phases
    .slice(keepLast)
    .map((entry) => entry.path)
    .filter((path) => path !== resumeFrom);
  for (const path of doomed) rmSync(path, { force: true });
  return doomed;
}

/** Reads a checkpoint in VISSL's layout (ours, or VISSL's own). The caller disposes the result. */
export function loadTrainingCheckpoint(path: string): TrainingCheckpoint {
  const root = loadCheckpoint(path);
  const kept = new Set<Tensor>();
  try {
    const classy = member(root, ['classy_state_dict'], path);
    const trunk = stateDictAt(member(classy, ['base_model', 'model', 'trunk'], path), 'trunk', path, kept);
    const heads = stateDictAt(member(classy, ['base_model', 'model', 'heads'], path), 'heads', path, kept);
    const model: StateDict = {};
    for (const [name, t] of Object.entries(trunk)) model[`trunk.${name}`] = t;
    for (const [name, t] of Object.entries(heads)) model[`heads.${name}`] = t;
    const number = (value: unknown, fallback: number) => {
      const decoded = decodePlain(value, kept);
      return typeof decoded === 'number' ? decoded : typeof decoded === 'bigint' ? Number(decoded) : fallback;
    };
    const top = (key: string) => optionalMember(root, key);
    const result: TrainingCheckpoint = {
      path,
      epoch: number(top('train_phase_idx') ?? top('phase_idx'), 0),
      iteration: number(top('iteration'), 0),
      numUpdates: number(optionalMember(classy, 'num_updates'), 0),
      trunk,
      heads,
      model,
      optimizer: readOptimizer(optionalMember(classy, 'optimizer'), path, kept),
      losses: readLosses(optionalMember(classy, 'losses')),
      extra: decodePlain(top('extra') ?? new Map(), kept) as Record<string, unknown>,
      dispose: () => {
        for (const t of kept) t.dispose();
      },
    };
    disposeTensors(root, kept);
    return result;
  } catch (error) {
    disposeTensors(root);
    throw error;
  }
}

function optionalMember(value: unknown, key: string): unknown {
  return value instanceof Map ? value.get(key) : undefined;
}

function member(value: unknown, keys: string[], path: string): unknown {
  return keys.reduce((current, key, i) => {
    if (!(current instanceof Map) || !current.has(key)) {
      throw new Error(
        `${path} is not a VISSL-layout checkpoint: it has no ${[...keys.slice(0, i + 1)].join(' > ')} (use MODEL.WEIGHTS_INIT to load other files)`,
      );
    }
    return current.get(key);
  }, value);
}

function stateDictAt(value: unknown, part: string, path: string, kept: Set<Tensor>): StateDict {
  const out: StateDict = {};
  for (const [name, t] of value as Map<string, unknown>) {
    if (!(t instanceof Tensor)) throw new Error(`${path}: ${part} entry '${String(name)}' is not a tensor`);
    out[String(name)] = t;
    kept.add(t);
  }
  return out;
}

function readOptimizer(value: unknown, path: string, kept: Set<Tensor>): SGDStateDict | null {
  // ClassyVision wraps the torch optimizer's state dict as {optim: ...}.
  const dict = optionalMember(value, 'param_groups') !== undefined ? value : optionalMember(value, 'optim');
  if (!(dict instanceof Map)) return null;
  const saved = dict.get('state');
  if (!(saved instanceof Map)) throw new Error(`${path}: the optimizer state has no 'state' dict`);
  const state: SGDStateDict['state'] = {};
  for (const [index, entry] of saved as Map<number, unknown>) {
    const buffer = optionalMember(entry, 'momentum_buffer');
    if (buffer instanceof Tensor) kept.add(buffer);
    state[index] = { momentum_buffer: buffer instanceof Tensor ? buffer : null };
  }
  const paramGroups = decodePlain(dict.get('param_groups'), kept) as SGDStateDict['param_groups'];
  return { state, param_groups: paramGroups };
}

function readLosses(value: unknown): number[] {
  if (value instanceof Tensor) return value.toArray();
  return Array.isArray(value) ? value.map(Number) : [];
}

/**
 * Writes the trunk of a VISSL-layout checkpoint as a torchvision-style state dict (names without
 * '_feature_blocks.', and without the 'base_model.' of a frozen-trunk checkpoint), as VISSL's
 * extra_scripts/convert_vissl_to_torchvision.py does. The file opens with torch.load(weights_only=True)
 * and loads into torchvision's ResNet with strict=False (it has no fc). Returns the names written.
 */
export function convertToTorchvision(inputPath: string, outputPath: string): string[] {
  refuseToReplaceCheckpoint(inputPath, outputPath);
  const checkpoint = loadTrainingCheckpoint(inputPath);
  try {
    const renamed = new Map<string, Tensor>();
    for (const [name, t] of Object.entries(checkpoint.trunk)) {
      const plain = stripLeading(stripLeading(name, 'base_model.'), '_feature_blocks.');
      if (renamed.has(plain)) throw new Error(`${inputPath}: two trunk tensors map to the torchvision name '${plain}'`);
      renamed.set(plain, t);
    }
    if (renamed.size === 0) throw new Error(`${inputPath}: the checkpoint's trunk is empty, nothing to convert`);
    saveCheckpoint(outputPath, renamed);
    return [...renamed.keys()];
  } finally {
    checkpoint.dispose();
  }
}

/**
 * convert writes a new file: it never replaces its input, the checkpoint.torch link, or any
 * training checkpoint (a swapped argument order would otherwise destroy a run's weights).
 */
function refuseToReplaceCheckpoint(inputPath: string, outputPath: string): void {
  const existing = lstatSync(outputPath, { throwIfNoEntry: false });
  if (!existing) return;
  const refuse = (why: string): never => {
    throw new Error(`convert: refusing to overwrite ${outputPath}: ${why}; give a new file name for the output`);
  };
  if (existing.isSymbolicLink()) refuse("it is a symlink (such as a run folder's checkpoint.torch)");
  if (realpathSync(outputPath) === realpathSync(inputPath)) refuse('it is the input checkpoint');
  const name = basename(outputPath);
  if (name === LATEST_POINTER || PHASE_FILE.test(name) || FINAL_FILE.test(name))
    refuse('it has the name of a training checkpoint');
  if (holdsTrainingState(outputPath)) refuse('it is a training checkpoint (it holds classy_state_dict)');
}

/** Whether a file's pickle mentions classy_state_dict, read without loading its tensors. */
function holdsTrainingState(path: string): boolean {
  const marker = Buffer.from('classy_state_dict');
  try {
    const zip = ZipReader.open(path);
    if (zip === null)
      return readFileSync(path)
        .subarray(0, 1 << 20)
        .includes(marker);
    try {
      const pickle = [...zip.entries.values()].find((entry) => /^[^/]+\/data\.pkl$/.test(entry.name));
      return pickle !== undefined && zip.read(pickle, MAX_PICKLE_BYTES).includes(marker);
    } finally {
      zip.close();
    }
  } catch {
    return false;
  }
}

function stripLeading(name: string, prefix: string): string {
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}
