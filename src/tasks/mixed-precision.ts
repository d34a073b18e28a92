// MODEL.AMP_PARAMS and the MACHINE speed switches, from config to what the engine takes: VISSL's
// keys (USE_AMP, AMP_TYPE, AMP_ARGS with apex's opt_level) mapped to PyTorch's native AMP, and the
// GradScaler's state carried through checkpoints.
import type { Config } from '../config/index.js';
import type { RunLogger } from '../engine/run-logger.js';
import type { MixedPrecision } from '../engine/train-step.js';
import { amp, backends, type Device } from '../torch/index.js';

const APEX_LEVELS: Record<string, string> = {
  O0: 'float32 training',
  O1: 'autocast with dynamic loss scaling',
  O2: 'float16 weights with float32 master weights',
  O3: 'pure float16 without loss scaling',
};

/** Where a checkpoint's `extra` keeps the GradScaler's state_dict(). */
const SCALER_KEY = 'grad_scaler';

function dtypeFor(cfg: Config, device: Device): amp.AutocastDType {
  const asked = cfg.MODEL.AMP_PARAMS.DTYPE;
  if (device === 'cpu') {
    if (asked === 'float16') {
      throw new Error(
        'MODEL.AMP_PARAMS.DTYPE is float16 but MACHINE.DEVICE is cpu: autocast on CPU runs in bfloat16; ' +
          "set config.MODEL.AMP_PARAMS.DTYPE=bfloat16 (or '')",
      );
    }
    return 'bfloat16';
  }
  return asked === '' ? 'float16' : asked;
}

/** The initial scale apex's AMP_ARGS.loss_scale asks for, or undefined for 'dynamic'. */
function initialScale(args: Readonly<Record<string, unknown>>, logger: RunLogger): number | undefined {
  const scale = args.loss_scale;
  if (scale === undefined || scale === 'dynamic') return undefined;
  if (typeof scale !== 'number' || !(scale > 0)) {
    throw new Error(
      `MODEL.AMP_PARAMS.AMP_ARGS.loss_scale must be 'dynamic' or a positive number, got ${JSON.stringify(scale)}`,
    );
  }
  logger.warn(
    `MODEL.AMP_PARAMS.AMP_ARGS.loss_scale=${scale}: used as the GradScaler's initial scale; ` +
      "the scale still adapts (backs off on inf/NaN gradients), unlike apex's static loss scale",
  );
  return scale;
}

/**
 * The training run's mixed precision, or null when AMP is off (USE_AMP false, or apex opt_level O0).
 * Warns where a VISSL setting runs as something else here, and says what.
 */
export function mixedPrecisionForTraining(cfg: Config, device: Device, logger: RunLogger): MixedPrecision | null {
  const params = cfg.MODEL.AMP_PARAMS;
  if (!params.USE_AMP) return null;
  const args = params.AMP_ARGS ?? {};
  const level = String(args.opt_level ?? 'O1');
  if (!(level in APEX_LEVELS)) {
    throw new Error(`MODEL.AMP_PARAMS.AMP_ARGS.opt_level must be O0, O1, O2 or O3 (apex's levels), got '${level}'`);
  }
  if (params.AMP_TYPE === 'apex') {
    logger.warn(
      "MODEL.AMP_PARAMS.AMP_TYPE is 'apex', but NVIDIA apex does not exist here: running PyTorch's native AMP " +
        "(torch.autocast + GradScaler, what apex's O1 does) instead; set AMP_TYPE: pytorch to silence this",
    );
  }
  if (level === 'O0') {
    logger.warn("MODEL.AMP_PARAMS.AMP_ARGS.opt_level is O0 (apex's float32 training): AMP is off");
    return null;
  }
  if (level !== 'O1') {
    logger.warn(
      `MODEL.AMP_PARAMS.AMP_ARGS.opt_level ${level} (${APEX_LEVELS[level]}) runs as O1 here: ` +
        "autocast with float32 weights and dynamic loss scaling, PyTorch's replacement for apex",
    );
  }
  const ignored = Object.keys(args).filter((k) => k !== 'opt_level' && k !== 'loss_scale');
  if (ignored.length > 0) {
    logger.warn(`MODEL.AMP_PARAMS.AMP_ARGS: ${ignored.join(', ')} are apex options with no effect here`);
  }
  const dtype = dtypeFor(cfg, device);
  const deviceType = amp.autocastDeviceType(device);
  // bfloat16 has float32's exponent range: gradients do not underflow, so PyTorch uses no scaler.
  const initScale = initialScale(args, logger);
  const scaler =
    dtype === 'float16' ? new amp.GradScaler({ device, ...(initScale !== undefined ? { initScale } : {}) }) : null;
  logger.info(`mixed precision: autocast to ${dtype} on ${deviceType}${scaler ? ' with a GradScaler' : ''}`);
  return { deviceType, dtype, scaler };
}

/** Autocast for extraction and evaluation (MODEL.AMP_PARAMS.USE_AMP_FOR_INFERENCE), or null. */
export function mixedPrecisionForInference(cfg: Config, device: Device): MixedPrecision | null {
  if (!cfg.MODEL.AMP_PARAMS.USE_AMP_FOR_INFERENCE) return null;
  return { deviceType: amp.autocastDeviceType(device), dtype: dtypeFor(cfg, device), scaler: null };
}

/** The checkpoint `extra` fields that carry the scaler's state (none without a scaler). */
export function scalerCheckpointFields(mixed: MixedPrecision | null): Record<string, unknown> {
  return mixed?.scaler ? { [SCALER_KEY]: mixed.scaler.stateDict() } : {};
}

/** Restores the scaler from a resumed checkpoint's `extra`; a checkpoint without one starts it afresh. */
export function restoreScaler(mixed: MixedPrecision | null, extra: Record<string, unknown>, logger: RunLogger): void {
  if (!mixed?.scaler) return;
  const saved = extra[SCALER_KEY];
  if (saved === undefined || saved === null) {
    logger.info('the checkpoint has no GradScaler state (saved without AMP): the scaler starts afresh');
    return;
  }
  mixed.scaler.loadStateDict(saved as amp.GradScalerState);
}

/** MACHINE.CUDNN_BENCHMARK / ALLOW_TF32_MATMUL / ALLOW_TF32_CONV, set process-wide. */
export function applyBackendSwitches(cfg: Config): void {
  backends.setFlags({
    cudnnBenchmark: cfg.MACHINE.CUDNN_BENCHMARK,
    allowTF32Matmul: cfg.MACHINE.ALLOW_TF32_MATMUL,
    allowTF32Conv: cfg.MACHINE.ALLOW_TF32_CONV,
  });
}
