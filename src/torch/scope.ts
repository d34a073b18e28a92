// Deterministic memory management: `tidy(fn)` frees every tensor created inside `fn` except what
// it returns or what was `keep()`-ed. Scopes are synchronous on purpose: a scope spanning an
// `await` would capture tensors of unrelated concurrent work (tfjs learned this the hard way).
// Code that spans awaits uses a `tidy` per step, or explicit `dispose()` / `using`.
import { releaseBatch } from './release.js';

/** Something that owns native memory and can release it. */
export interface Disposable {
  dispose(): void;
  /** Set when the object must outlive every enclosing scope (see `keep`). */
  kept?: boolean;
  /** Called when no scope owns the object any more: it then relies on its own safety net. */
  leaveScopes?(): void;
}

const scopes: Disposable[][] = [];

/** Called by every tensor constructor: the innermost open scope takes ownership. Returns false
 * when no scope is open. */
export function trackInScope(item: Disposable): boolean {
  // The length test comes first: `scopes[-1]` is a slow keyed lookup of the property "-1".
  if (scopes.length === 0) return false;
  // An indexed store, not push(): V8 cannot inline push() on an array read from another array
  // (it does not know its map there) and calls the builtin, which costs a tiny op about 1%.
  const scope = scopes[scopes.length - 1]!;
  scope[scope.length] = item;
  return true;
}

/** Marks `item` as surviving all enclosing `tidy` scopes; its owner disposes it explicitly. */
export function keep<T extends Disposable>(item: T): T {
  item.kept = true;
  item.leaveScopes?.();
  return item;
}

/** Collects every Disposable reachable in a tidy result: itself, array elements, object values. */
function collectResult(value: unknown, into: Set<unknown>): void {
  if (value === null || typeof value !== 'object' || into.has(value)) return;
  into.add(value);
  if (Array.isArray(value)) {
    for (const item of value) collectResult(item, into);
  } else if (value instanceof Map) {
    for (const item of value.values()) collectResult(item, into);
  } else if (Object.getPrototypeOf(value) === Object.prototype) {
    for (const item of Object.values(value as object)) collectResult(item, into);
  }
}

/**
 * Runs `fn` and disposes every tensor it created, except those in its result (which move to the
 * enclosing scope) and those passed to `keep`. Exceptions dispose the scope too.
 */
export function tidy<T>(fn: () => T): T {
  const scope: Disposable[] = [];
  scopes.push(scope);
  let result: T | undefined;
  try {
    result = fn();
    if (result instanceof Promise) {
      throw new Error(
        'tidy() cannot take an async function: its tensors would outlive the scope. Use a tidy per step.',
      );
    }
    return result;
  } finally {
    scopes.pop();
    const survivors = new Set<unknown>();
    collectResult(result, survivors);
    const parent = scopes.length > 0 ? scopes[scopes.length - 1] : undefined;
    releaseBatch(() => {
      for (const item of scope) {
        if (item.kept) continue;
        if (survivors.size === 0 || !survivors.has(item)) item.dispose();
        else if (parent) parent.push(item);
        else item.leaveScopes?.();
      }
    });
  }
}

/** How many tidy scopes are open (for diagnostics and tests). */
export function scopeDepth(): number {
  return scopes.length;
}
