// Elementwise math and comparisons. A number operand is passed as a Scalar, as Python does: an
// integral number keeps an integer tensor integral, a fractional one promotes it to float.
import { op, type Op } from '../dispatch.js';
import { wrap, type Tensor } from '../tensor.js';

type Operand = Tensor | number;

// Only the arguments given reach the addon: an explicit `undefined` (`x.add(y)` has no alpha)
// would cost it N-API calls to tell "not given" from a value, on every call.
function binary(tensorOp: Op, scalarOp: Op) {
  return (self: Tensor, other: Operand, extra?: unknown): Tensor => {
    const op = typeof other === 'number' ? scalarOp : tensorOp;
    const operand = typeof other === 'number' ? other : other.handle;
    return wrap(extra === undefined ? op.callHandle(self.handle, operand) : op.callHandle(self.handle, operand, extra));
  };
}

function unary(unaryOp: Op) {
  return (self: Tensor): Tensor => wrap(unaryOp.callHandle(self.handle));
}

const ADD = binary(
  op('aten::add.Tensor', ['self', 'other', 'alpha']),
  op('aten::add.Scalar', ['self', 'other', 'alpha']),
);
const SUB = binary(
  op('aten::sub.Tensor', ['self', 'other', 'alpha']),
  op('aten::sub.Scalar', ['self', 'other', 'alpha']),
);

/** self + alpha * other */
export function add(self: Tensor, other: Operand, alpha?: number): Tensor {
  return ADD(self, other, alpha);
}
/** self - alpha * other */
export function sub(self: Tensor, other: Operand, alpha?: number): Tensor {
  return SUB(self, other, alpha);
}
export const mul = binary(op('aten::mul.Tensor', ['self', 'other']), op('aten::mul.Scalar', ['self', 'other'])) as (
  self: Tensor,
  other: Operand,
) => Tensor;

const DIV = binary(op('aten::div.Tensor', ['self', 'other']), op('aten::div.Scalar', ['self', 'other']));
const DIV_MODE = binary(
  op('aten::div.Tensor_mode', ['self', 'other', 'rounding_mode']),
  op('aten::div.Scalar_mode', ['self', 'other', 'rounding_mode']),
);
/** True division, or rounded division with `roundingMode` 'trunc' or 'floor'. */
export function div(self: Tensor, other: Operand, roundingMode?: 'trunc' | 'floor'): Tensor {
  return roundingMode === undefined ? DIV(self, other) : DIV_MODE(self, other, roundingMode);
}

export const pow = binary(
  op('aten::pow.Tensor_Tensor', ['self', 'exponent']),
  op('aten::pow.Tensor_Scalar', ['self', 'exponent']),
) as (self: Tensor, exponent: Operand) => Tensor;
export const remainder = binary(
  op('aten::remainder.Tensor', ['self', 'other']),
  op('aten::remainder.Scalar', ['self', 'other']),
) as (self: Tensor, other: Operand) => Tensor;
export const fmod = binary(op('aten::fmod.Tensor', ['self', 'other']), op('aten::fmod.Scalar', ['self', 'other'])) as (
  self: Tensor,
  other: Operand,
) => Tensor;

const MAXIMUM = op('aten::maximum', ['self', 'other']);
const MINIMUM = op('aten::minimum', ['self', 'other']);
export function maximum(self: Tensor, other: Tensor): Tensor {
  return wrap(MAXIMUM.callHandle(self.handle, other.handle));
}
export function minimum(self: Tensor, other: Tensor): Tensor {
  return wrap(MINIMUM.callHandle(self.handle, other.handle));
}

export const neg = unary(op('aten::neg', ['self']));
export const abs = unary(op('aten::abs', ['self']));
export const sign = unary(op('aten::sign', ['self']));
export const exp = unary(op('aten::exp', ['self']));
export const log = unary(op('aten::log', ['self']));
export const log1p = unary(op('aten::log1p', ['self']));
export const sqrt = unary(op('aten::sqrt', ['self']));
export const rsqrt = unary(op('aten::rsqrt', ['self']));
export const square = unary(op('aten::square', ['self']));
export const reciprocal = unary(op('aten::reciprocal', ['self']));
export const sin = unary(op('aten::sin', ['self']));
export const cos = unary(op('aten::cos', ['self']));
export const tanh = unary(op('aten::tanh', ['self']));
export const sigmoid = unary(op('aten::sigmoid', ['self']));
export const relu = unary(op('aten::relu', ['self']));
export const floor = unary(op('aten::floor', ['self']));
export const ceil = unary(op('aten::ceil', ['self']));
export const round = unary(op('aten::round', ['self']));
export const isnan = unary(op('aten::isnan', ['self']));
export const isfinite = unary(op('aten::isfinite', ['self']));
export const logicalNot = unary(op('aten::logical_not', ['self']));

const LOGICAL_AND = op('aten::logical_and', ['self', 'other']);
const LOGICAL_OR = op('aten::logical_or', ['self', 'other']);
export function logicalAnd(self: Tensor, other: Tensor): Tensor {
  return wrap(LOGICAL_AND.callHandle(self.handle, other.handle));
}
export function logicalOr(self: Tensor, other: Tensor): Tensor {
  return wrap(LOGICAL_OR.callHandle(self.handle, other.handle));
}

const CLAMP = op('aten::clamp', ['self', 'min', 'max']);
/** Limits values to [min, max]; either bound may be omitted (null or undefined). */
export function clamp(self: Tensor, min?: number | null, max?: number | null): Tensor {
  if ((min ?? null) === null && (max ?? null) === null) throw new Error('clamp: give at least one of min and max');
  return wrap(CLAMP.callHandle(self.handle, min ?? null, max ?? null));
}

type Comparison = (self: Tensor, other: Operand) => Tensor;
export const eq = binary(
  op('aten::eq.Tensor', ['self', 'other']),
  op('aten::eq.Scalar', ['self', 'other']),
) as Comparison;
export const ne = binary(
  op('aten::ne.Tensor', ['self', 'other']),
  op('aten::ne.Scalar', ['self', 'other']),
) as Comparison;
export const lt = binary(
  op('aten::lt.Tensor', ['self', 'other']),
  op('aten::lt.Scalar', ['self', 'other']),
) as Comparison;
export const le = binary(
  op('aten::le.Tensor', ['self', 'other']),
  op('aten::le.Scalar', ['self', 'other']),
) as Comparison;
export const gt = binary(
  op('aten::gt.Tensor', ['self', 'other']),
  op('aten::gt.Scalar', ['self', 'other']),
) as Comparison;
export const ge = binary(
  op('aten::ge.Tensor', ['self', 'other']),
  op('aten::ge.Scalar', ['self', 'other']),
) as Comparison;

const WHERE = op('aten::where.self', ['condition', 'self', 'other']);
/** Elements of `self` where `condition` holds, else of `other` (broadcast together). */
export function where(condition: Tensor, self: Tensor, other: Tensor): Tensor {
  return wrap(WHERE.callHandle(condition.handle, self.handle, other.handle));
}

const LERP = op('aten::lerp.Scalar', ['self', 'end', 'weight']);
export function lerp(self: Tensor, end: Tensor, weight: number): Tensor {
  return wrap(LERP.callHandle(self.handle, end.handle, weight));
}
