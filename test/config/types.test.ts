// The typed Config interface (src/config/types.ts) and configs/defaults.yaml must describe the same
// tree: the interface's key paths, read with the TypeScript compiler, equal the key paths of a
// loaded config (free-form values excepted, whose insides neither side lists).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { loadConfig } from '../../src/config/index.js';

const TYPES_FILE = fileURLToPath(new URL('../../../src/config/types.ts', import.meta.url));

/** Dotted key paths of an interface, descending into object types (not arrays, unions or primitives). */
function interfacePaths(checker: ts.TypeChecker, type: ts.Type, prefix: string): string[] {
  return checker.getPropertiesOfType(type).flatMap((symbol) => {
    const path = prefix === '' ? symbol.name : `${prefix}.${symbol.name}`;
    const propertyType = checker.getNonNullableType(checker.getTypeOfSymbol(symbol));
    const isRecord =
      propertyType.flags & ts.TypeFlags.Object && !checker.isArrayType(propertyType) && !propertyType.isUnion();
    return isRecord ? [path, ...interfacePaths(checker, propertyType, path)] : [path];
  });
}

/** Dotted key paths of a config value (mappings only; lists are leaves). */
function valuePaths(value: unknown, prefix: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return [];
  return Object.entries(value).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    return [path, ...valuePaths(child, path)];
  });
}

describe('Config interface', () => {
  it('lists exactly the keys of configs/defaults.yaml', () => {
    const program = ts.createProgram([TYPES_FILE], {
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      // Only the declarations the config types use: no @types/node, the plain ES library.
      types: [],
      lib: ['lib.es2022.d.ts'],
    });
    const checker = program.getTypeChecker();
    const source = program.getSourceFile(TYPES_FILE)!;
    const moduleSymbol = checker.getSymbolAtLocation(source)!;
    const configSymbol = checker.getExportsOfModule(moduleSymbol).find((s) => s.name === 'Config')!;
    const fromInterface = interfacePaths(checker, checker.getDeclaredTypeOfSymbol(configSymbol), '').sort();

    const cfg = loadConfig({ config: 'demo/rotnet', warn: () => undefined });
    const fromDefaults = valuePaths(cfg, '').sort();
    assert.ok(fromDefaults.length > 150, `${fromDefaults.length} keys`);
    assert.deepEqual(
      fromInterface.filter((p) => !fromDefaults.includes(p)),
      [],
      'keys in the interface but not in defaults.yaml',
    );
    assert.deepEqual(
      fromDefaults.filter((p) => !fromInterface.includes(p)),
      [],
      'keys in defaults.yaml but not in the interface',
    );
  });
});
