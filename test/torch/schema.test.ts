// Every operator the TS layer calls must exist in the loaded libtorch with the argument names, in
// the order, that the TS layer passes them positionally, and with types the dispatcher converts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { declaredOps } from '../../src/torch/index.js';
import { native } from '../../src/torch/native.js';
// Importing the whole public surface declares every op (declarations happen at module load).
import '../../src/torch/nn/functional.js';

test('every declared operator exists with a compatible schema', () => {
  const ops = declaredOps();
  assert.ok(ops.length > 150, `only ${ops.length} operators declared: the registry is not being filled`);
  const problems: string[] = [];
  for (const op of ops) {
    const schema = native.opSchema(op.name, op.overload);
    if (schema === null) {
      problems.push(`${op.qualifiedName}: not in this libtorch`);
      continue;
    }
    const names = schema.args.map((a) => a.name);
    if (op.argNames.length > names.length || op.argNames.some((n, i) => names[i] !== n)) {
      problems.push(`${op.qualifiedName}: TS passes (${op.argNames.join(', ')}) but the schema is ${schema.schema}`);
    }
    const unsupported = schema.args.slice(0, op.argNames.length).filter((a) => !a.supported);
    if (unsupported.length > 0)
      problems.push(`${op.qualifiedName}: cannot convert ${unsupported.map((a) => `${a.name}: ${a.type}`).join(', ')}`);
    const skipped = schema.args.slice(op.argNames.length).filter((a) => !a.hasDefault);
    if (skipped.length > 0)
      problems.push(`${op.qualifiedName}: required arguments not passed: ${skipped.map((a) => a.name).join(', ')}`);
  }
  assert.deepEqual(problems, []);
});

test('an unknown operator is reported with the overloads that do exist', () => {
  assert.throws(
    () => native.resolveOp('aten::add', 'NoSuchOverload'),
    /aten::add\.NoSuchOverload is not in this libtorch.*\n.*aten::add\.Tensor\(/s,
  );
});
