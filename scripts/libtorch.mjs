// Where libtorch is, for the native addon's build and for the install script's check. Looked for,
// in order, in:
//   1. LIBTORCH               a folder with include/ and lib/ (the zip from pytorch.org) or lib/<arch>
//   2. LIBTORCH_USE_PYTORCH=1 the copy inside the Python `torch` package (python3, or $PYTHON)
//   3. the system             Debian/Ubuntu `libtorch-dev` (/usr/include/torch, /usr/lib/<arch>)
// A libtorch that is not there throws a LibtorchMissing error whose message says how to install one.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const INSTALL_HELP = `Install it one of these ways, then build again:
  - Debian/Ubuntu:   apt-get install libtorch-dev
  - a libtorch zip:  unzip it and set LIBTORCH=/path/to/libtorch (the folder with include/ and lib/)
  - a PyTorch wheel: pip install torch, then set LIBTORCH_USE_PYTORCH=1 (uses python3's torch, or $PYTHON's)`;

export class LibtorchMissing extends Error {}

const ARCH = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' }[process.arch] ?? '';

// A zip's folder has lib/; a Debian-layout prefix (Debian's libtorch packages unpacked with
// dpkg-deb -x, LIBTORCH=<dir>/usr) has lib/<arch>.
function fromFolder(folder, origin) {
  const include = join(folder, 'include');
  const lib = [join(folder, 'lib', ARCH), join(folder, 'lib')].find((d) => existsSync(join(d, 'libtorch.so')));
  if (!existsSync(join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'version.h'))) {
    throw new LibtorchMissing(`${origin}=${folder} has no include/torch/csrc/api/include/torch/version.h`);
  }
  if (!lib) throw new LibtorchMissing(`${origin}=${folder} has no lib/libtorch.so (nor lib/${ARCH}/libtorch.so)`);
  return { origin, includes: [include, join(include, 'torch', 'csrc', 'api', 'include')], lib };
}

function fromPython() {
  const python = process.env.PYTHON || 'python3';
  // The folders torch.utils.cpp_extension's include_paths() and library_paths() name, found without
  // importing it: it imports setuptools, which Python 3.12+ virtual environments and Debian 13's
  // python3-torch (setuptools only recommended) do not have.
  const script = [
    'import json, os, torch',
    'root = os.path.dirname(torch.__file__)',
    'include = os.path.join(root, "include")',
    'print(json.dumps({"includes": [include, os.path.join(include, "torch", "csrc", "api", "include")],',
    ' "lib": os.path.join(root, "lib"), "abi": int(torch._C._GLIBCXX_USE_CXX11_ABI),',
    ' "version": torch.__version__.split("+")[0]}))',
  ].join('\n');
  let found;
  try {
    found = JSON.parse(execFileSync(python, ['-c', script], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }));
  } catch (error) {
    throw new LibtorchMissing(`LIBTORCH_USE_PYTORCH=1 but '${python} -c "import torch"' failed: ${error.message}`);
  }
  return {
    origin: `PyTorch (${python})`,
    includes: found.includes,
    lib: found.lib,
    abi: found.abi,
    version: found.version,
  };
}

function fromSystem() {
  for (const prefix of ['/usr', '/usr/local']) {
    const version = join(prefix, 'include', 'torch', 'csrc', 'api', 'include', 'torch', 'version.h');
    const lib = [join(prefix, 'lib', ARCH), join(prefix, 'lib')].find((d) => existsSync(join(d, 'libtorch.so')));
    if (existsSync(version) && lib) {
      return {
        origin: `system (${prefix})`,
        includes: [join(prefix, 'include'), join(prefix, 'include', 'torch', 'csrc', 'api', 'include')],
        lib,
      };
    }
  }
  throw new LibtorchMissing('libtorch was not found (LIBTORCH unset, LIBTORCH_USE_PYTORCH unset, no libtorch-dev)');
}

/** {origin, includes, lib, version, abi?}; throws LibtorchMissing. */
export function findLibtorch() {
  const found = process.env.LIBTORCH
    ? fromFolder(resolve(process.env.LIBTORCH), 'LIBTORCH')
    : process.env.LIBTORCH_USE_PYTORCH === '1'
      ? fromPython()
      : fromSystem();
  return { ...found, version: found.version ?? torchVersion(found.includes) };
}

function torchVersion(includes) {
  for (const dir of includes) {
    const file = join(dir, 'torch', 'version.h');
    if (existsSync(file)) {
      const text = readFileSync(file, 'utf8');
      const part = (name) => new RegExp(`#define TORCH_VERSION_${name} (\\d+)`).exec(text)?.[1];
      if (part('MAJOR')) return `${part('MAJOR')}.${part('MINOR')}.${part('PATCH')}`;
    }
  }
  return 'unknown';
}
