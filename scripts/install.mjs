#!/usr/bin/env node
// npm's install step when clusterfit is installed as a package: puts the native addons in
// build/Release. It uses the prebuilt ones shipped in prebuilds/<platform>-<arch>/ (node-gyp-build's
// layout) when they load here and were built against the libtorch version found here; otherwise it
// builds them from native/ against the libtorch it finds (scripts/libtorch.mjs's search order).
//
// Something missing (libtorch, TurboJPEG, FAISS, liblinear, a compiler, Node's headers) is never a stack trace:
// it prints what is missing and the one command that fixes it, records that in
// build/install-report.json (the CLI's --help repeats it), and the install still succeeds, so the
// CLI is there to say it (npm removes a package whose install fails, and hides the output of one
// that succeeds). CLUSTERFIT_INSTALL_STRICT=1 fails the install instead; CLUSTERFIT_BUILD_FROM_SOURCE=1
// ignores the prebuilt addons. In a development checkout it does nothing: `npm run build` builds.
// The addons that need building build side by side: the one-file ones compile while the native
// one is busy with its precompiled header and its link, each on a core it leaves idle.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { addonApiIncludeDir, findLibrary, nodeIncludeDir, root } from './addon-build.mjs';
import { LIBRARIES } from './libraries.mjs';
import { findLibtorch, LibtorchMissing } from './libtorch.mjs';

const ADDONS = ['native', 'image', 'faiss', 'liblinear'];
// Optional: only CLUSTER_BACKEND faiss needs FAISS, only the SVM tools need liblinear.
const OPTIONAL = new Set(['faiss', 'liblinear']);
const REBUILD = 'npm rebuild clusterfit';
const release = join(root, 'build', 'Release');
const file = (name) => join(release, `clusterfit_${name}.node`);

function say(message) {
  process.stderr.write(`clusterfit install: ${message}\n`);
}

/** True when `path` loads as an addon in a fresh Node process (a missing library fails there, not here). */
function loads(path) {
  const run = spawnSync(process.execPath, ['-e', 'require(process.argv[1])', path], { encoding: 'utf8' });
  return run.status === 0 ? true : (run.stderr.split('\n').find((l) => l.includes('Error')) ?? 'does not load');
}

function libtorchHere() {
  try {
    return findLibtorch();
  } catch (error) {
    if (error instanceof LibtorchMissing) return { missing: error.message };
    throw error;
  }
}

/** Copies the prebuilt addons that fit this machine into build/Release; returns their names. */
function usePrebuilt() {
  const dir = join(root, 'prebuilds', `${process.platform}-${process.arch}`);
  if (process.env.CLUSTERFIT_BUILD_FROM_SOURCE === '1' || !existsSync(dir)) return [];
  const used = [];
  mkdirSync(release, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(dir, 'native-config.json'), 'utf8'));
  const libtorch = libtorchHere();
  for (const name of ADDONS) {
    const prebuilt = join(dir, `clusterfit_${name}.node`);
    if (!existsSync(prebuilt)) continue;
    if (name === 'native' && libtorch.version !== manifest.torchVersion) {
      say(`prebuilt addon is for libtorch ${manifest.torchVersion}, found ${libtorch.version ?? 'none'}: building`);
      continue;
    }
    copyFileSync(prebuilt, file(name));
    const ok = loads(file(name));
    if (ok === true) {
      used.push(name);
    } else {
      rmSync(file(name));
      say(`prebuilt ${name} addon does not load here (${ok}): building it`);
    }
  }
  if (used.includes('native')) copyFileSync(join(dir, 'native-config.json'), join(root, 'build', 'native-config.json'));
  if (used.length > 0) say(`using prebuilt addons: ${used.join(', ')}`);
  return used;
}

/** What stops `name` from building here, as {missing, fix}, or undefined. */
function missingFor(name) {
  if (spawnSync('g++', ['--version']).status !== 0) {
    return { missing: 'no C++ compiler (g++)', fix: `apt-get install g++ && ${REBUILD}` };
  }
  if (nodeIncludeDir() === undefined) {
    return {
      missing: "Node.js's headers (node_api.h) were not found",
      fix: `NODE_INCLUDE_DIR=<folder with node_api.h> ${REBUILD}`,
    };
  }
  if (addonApiIncludeDir() === undefined) return { missing: 'node-addon-api is not installed', fix: 'npm install' };
  if (name === 'native') {
    const libtorch = libtorchHere();
    if (libtorch.missing) {
      return {
        missing: libtorch.missing,
        fix: `apt-get install libtorch-dev && ${REBUILD}  (or, with PyTorch installed: LIBTORCH_USE_PYTORCH=1 ${REBUILD})`,
      };
    }
    return undefined;
  }
  const library = LIBRARIES[name];
  if (findLibrary(library.search) === undefined) {
    return { missing: `${library.libraryName} was not found`, fix: `${library.install} && ${REBUILD}` };
  }
  return undefined;
}

/** Runs scripts/build-<name>.mjs; resolves to whether it made the addon. */
function build(name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'scripts', `build-${name}.mjs`)], { stdio: 'inherit' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0 && existsSync(file(name))));
  });
}

async function main() {
  if (!root.split(sep).includes('node_modules') && process.env.CLUSTERFIT_INSTALL_FORCE !== '1') {
    say('development checkout: nothing to do here (`npm run build` builds the addons)');
    return 0;
  }
  const report = { addons: {} };
  const prebuilt = usePrebuilt();
  const builds = [];
  for (const name of ADDONS) {
    if (prebuilt.includes(name)) {
      report.addons[name] = { ok: true, prebuilt: true };
      continue;
    }
    const problem = missingFor(name);
    if (problem) {
      report.addons[name] = { ok: false, ...problem };
      say(`${OPTIONAL.has(name) ? 'optional ' : ''}${name} addon not built: ${problem.missing}. Fix: ${problem.fix}`);
      continue;
    }
    builds.push(
      build(name).then((ok) => {
        report.addons[name] = ok
          ? { ok: true }
          : { ok: false, missing: `building the ${name} addon failed (see the install log)`, fix: REBUILD };
      }),
    );
  }
  await Promise.all(builds);
  // The native build's precompiled header (~0.3 GB) only speeds up rebuilding; an installed package keeps none.
  rmSync(join(root, 'build', 'obj', 'pch'), { recursive: true, force: true });
  report.addons = Object.fromEntries(ADDONS.map((name) => [name, report.addons[name]])); // in a fixed order
  mkdirSync(join(root, 'build'), { recursive: true });
  writeFileSync(join(root, 'build', 'install-report.json'), JSON.stringify(report, null, 2));
  const failed = ADDONS.filter((n) => !report.addons[n].ok && !OPTIONAL.has(n));
  if (failed.length > 0) {
    say(`installed without the ${failed.join(' and ')} addon(s): \`npx clusterfit --help\` says what is unavailable`);
    return process.env.CLUSTERFIT_INSTALL_STRICT === '1' ? 1 : 0;
  }
  return 0;
}

process.exitCode = await main();
