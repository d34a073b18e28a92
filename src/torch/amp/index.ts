// torch.amp: autocast scopes and the gradient scaler.
export * from './autocast.js';
export * from './grad-scaler.js';
