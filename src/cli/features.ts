// Which native addons this installation has, found without loading them (so `--help`, `--version`
// and `configs` work on a machine where libtorch is missing), and, for a missing one, why and the
// command that fixes it. The install script (scripts/install.mjs) records what it found missing
// in build/install-report.json; that reason is repeated here.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export type AddonName = 'native' | 'image' | 'faiss' | 'liblinear';

const ADDONS: Record<AddonName, { env: string; file: string; purpose: string }> = {
  native: { env: 'CLUSTERFIT_NATIVE', file: 'clusterfit_native.node', purpose: 'libtorch (every training command)' },
  image: { env: 'CLUSTERFIT_IMAGE', file: 'clusterfit_image.node', purpose: 'TurboJPEG image decoding (data loading)' },
  faiss: { env: 'CLUSTERFIT_FAISS', file: 'clusterfit_faiss.node', purpose: 'FAISS (CLUSTER_BACKEND faiss, optional)' },
  liblinear: {
    env: 'CLUSTERFIT_LIBLINEAR',
    file: 'clusterfit_liblinear.node',
    purpose: "liblinear (VISSL's SVM tools train_svm and train_svm_low_shot, optional)",
  },
};

interface InstallReport {
  addons?: Partial<Record<AddonName, { ok: boolean; missing?: string; fix?: string }>>;
}

/** The command that builds the addons again: inside node_modules, npm rebuild; in a clone, npm run build. */
export function rebuildCommand(): string {
  return PACKAGE_ROOT.split(sep).includes('node_modules') ? 'npm rebuild clusterfit' : 'npm run build';
}

function installReport(): InstallReport {
  try {
    return JSON.parse(readFileSync(join(PACKAGE_ROOT, 'build', 'install-report.json'), 'utf8')) as InstallReport;
  } catch {
    return {};
  }
}

export function addonFile(name: AddonName): string {
  return process.env[ADDONS[name].env] ?? join(PACKAGE_ROOT, 'build', 'Release', ADDONS[name].file);
}

/** Undefined when the addon is there; else one line: what is unavailable, why, and the fix. */
export function unavailable(name: string): string | undefined {
  const addon = ADDONS[name as AddonName];
  if (addon === undefined) return undefined;
  const file = addonFile(name as AddonName);
  if (existsSync(file)) return undefined;
  const recorded = installReport().addons?.[name as AddonName];
  if (recorded && !recorded.ok && recorded.missing) {
    return `${addon.purpose}: ${recorded.missing}; fix: ${recorded.fix ?? rebuildCommand()}`;
  }
  if (process.env[addon.env] !== undefined) {
    return `${addon.purpose}: ${addon.env}=${file} does not exist; fix: point ${addon.env} at a built ${addon.file}, or unset it`;
  }
  return `${addon.purpose}: ${file} is not built; fix: ${rebuildCommand()}`;
}

/** Throws the install instruction when an addon a command needs is missing (before anything loads it). */
export function requireAddons(needs: readonly string[]): void {
  const missing = needs.filter((n) => n !== 'faiss').map(unavailable);
  const lines = missing.filter((m): m is string => m !== undefined);
  if (lines.length > 0)
    throw new Error(`this command needs native addons that are not available:\n  ${lines.join('\n  ')}`);
}

/** Lines for `--help`: every missing addon, or nothing when all are there. */
export function unavailableFeatures(): string[] {
  return (Object.keys(ADDONS) as AddonName[]).map(unavailable).filter((m): m is string => m !== undefined);
}
