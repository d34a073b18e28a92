// The model a config describes, with its starting weights: MODEL.WEIGHTS_INIT when the run starts
// fresh (VISSL's rule: never when resuming), with heads loaded only when VISSL would load them.
import type { Config } from '../config/index.js';
import { buildModel, type ModelConfig, type SSLModel } from '../models/index.js';
import { initModelFromWeights, type Logger } from '../models/weights-init.js';
import type { Device } from '../torch/index.js';

export function modelFromConfig(cfg: Config, device: Device): SSLModel {
  return buildModel(cfg.MODEL as unknown as ModelConfig, { device });
}

/** Loads MODEL.WEIGHTS_INIT.PARAMS_FILE into `model` when one is set; returns whether it did. */
export function initWeightsFromConfig(model: SSLModel, cfg: Config, logger: Logger): boolean {
  const init = cfg.MODEL.WEIGHTS_INIT;
  if (init.PARAMS_FILE === '') return false;
  const settings = cfg.MODEL.FEATURE_EVAL_SETTINGS;
  initModelFromWeights(model, {
    PARAMS_FILE: init.PARAMS_FILE,
    STATE_DICT_KEY_NAME: init.STATE_DICT_KEY_NAME,
    SKIP_LAYERS: init.SKIP_LAYERS,
    REMOVE_PREFIX: init.REMOVE_PREFIX,
    APPEND_PREFIX: init.APPEND_PREFIX,
    // VISSL's should_init_head_weights.
    initHeads: !settings.EVAL_MODE_ON || settings.EVAL_TRUNK_AND_HEAD,
    logger,
  });
  return true;
}

/** FEATURE_EVAL_SETTINGS that freeze the trunk without a pooling map (buildModel freezes the rest). */
export function applyTrunkFreezing(model: SSLModel, cfg: Config): void {
  const settings = cfg.MODEL.FEATURE_EVAL_SETTINGS;
  if (settings.EVAL_MODE_ON && (settings.FREEZE_TRUNK_ONLY || settings.FREEZE_TRUNK_AND_HEAD) && !model.trunkFrozen) {
    model.freezeTrunk();
  }
}
