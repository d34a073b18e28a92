// One place that turns what a malformed file provokes in the JS engine into a message naming the file.

/**
 * JS engine errors that malformed data can provoke below the checks (a stack overflow on absurd
 * nesting, an invalid length) become one message that names the file.
 */
export function explainMalformed(path: string, error: unknown): unknown {
  if (!(error instanceof RangeError || error instanceof TypeError)) return error;
  const what = /call stack/.test(error.message) ? 'its data is nested too deeply' : error.message;
  return new Error(`${path}: malformed or corrupt file (${what})`, { cause: error });
}
