// One native backward call for Tensor.backward and autograd.backward, with a place where a layer
// that joins in during backward (distributed training: its gradient all-reduces run inside the
// autograd engine) can add context to the errors it causes, such as which rank failed.
import { native, type Handle } from './native.js';

type Decorator = (error: unknown) => unknown;
let decorate: Decorator | null = null;

/** Installs (or, with null, removes) the function that rewrites errors thrown by backward. */
export function setBackwardErrorDecorator(fn: Decorator | null): void {
  decorate = fn;
}

export function runBackward(
  tensors: Handle[],
  grads: (Handle | null)[],
  retainGraph: boolean | undefined,
  createGraph: boolean,
): void {
  try {
    native.backward(tensors, grads, retainGraph, createGraph);
  } catch (error) {
    throw decorate === null ? error : decorate(error);
  }
}
