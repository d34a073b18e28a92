// VISSL's MODEL.INPUT_TYPE (vissl/models/model_helpers.py transform_model_input_data_type and
// resnext.py's INPUT_CHANNEL): batches arrive as RGB, or as LAB from ImgPil2LabTensor; the trunk
// sees RGB, the channels reversed (BGR), or only L (colorization models, whose conv1 takes 1 channel).
import { indexSelect, narrow, tensor, type Tensor } from '../torch/index.js';

export const INPUT_TYPES = ['rgb', 'bgr', 'lab'] as const;
export type InputType = (typeof INPUT_TYPES)[number];

/** The channels of the trunk's first convolution for an input type. */
export function inputChannels(type: InputType): number {
  return type === 'lab' ? 1 : 3;
}

/** The trunk's input for an N x 3 x H x W batch: `x` itself for rgb. */
export function modelInput(x: Tensor, type: InputType): Tensor {
  if (type === 'rgb') return x;
  if (x.shape.length !== 4 || x.shape[1] !== 3) {
    throw new Error(
      `MODEL.INPUT_TYPE ${type}: the trunk needs N x 3 x H x W batches (got ${JSON.stringify(x.shape)}); ${type === 'lab' ? 'end DATA.*.TRANSFORMS with ImgPil2LabTensor' : 'feed RGB images'}`,
    );
  }
  if (type === 'lab') return narrow(x, 1, 0, 1);
  return indexSelect(
    x,
    1,
    tensor(Int32Array.from([2, 1, 0]))
      .long()
      .to(x.device),
  );
}
