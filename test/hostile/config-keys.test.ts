// Config keys that name JavaScript's object machinery (__proto__, constructor, prototype) are
// refused by name wherever they appear: in an override's dotted path, inside an override's value,
// and in a config file. Nothing reaches Object.prototype.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { tempDir } from './files.js';

test('__proto__, constructor and prototype keys are refused by name', () => {
  const dir = tempDir();
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const refused = new RegExp(`'${key}' is not a config key \\(it names JavaScript's object machinery`);
    assert.throws(() => loadConfig({ config: 'demo/rotnet', overrides: [`config.${key}.polluted=1`] }), refused);
    assert.throws(
      () => loadConfig({ config: 'demo/rotnet', overrides: [`config.DATA={${key}: {polluted: 1}}`] }),
      new RegExp(`DATA\\.${key}: ${refused.source}`),
    );
    const file = join(dir, `${key}.yaml`);
    writeFileSync(file, `config:\n  OPTIMIZER:\n    ${key}:\n      polluted: 1\n`);
    assert.throws(() => loadConfig({ config: file }), new RegExp(`${key}\\.yaml: config\\.OPTIMIZER\\.${key}: `));
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype is untouched');
});
