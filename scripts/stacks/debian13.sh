#!/usr/bin/env bash
# The Debian 13 (trixie) legs of CI: PyTorch 2.x checked on every change (README, "Supported stacks").
#
#   bash scripts/stacks/debian13.sh [tests] [pip] [cuda]     (no argument: all three, in that order)
#
#   tests  scripts/setup.sh, then npm test, in a Debian 13 root: setup.sh itself installs libtorch 2.6 there.
#   pip    the addon built with LIBTORCH_USE_PYTORCH=1 through Debian 13's python3-torch 2.6 (torch.utils.cpp_extension's
#          folders), then the tensor library's tests (test/torch/) on that build. Not the whole suite again: Debian's
#          python3-torch is the very libtorch the tests leg ran (its torch/include and torch/lib are symlinks to
#          /usr/include and /usr/lib/<arch>), so what this leg adds is the Python route of the build, and CI's time
#          budget (README, "Supported stacks") has no room for a third full suite.
#   cuda   a compile-only leg: libtorch-cuda-dev, libtorch-cuda-2.6, nvidia-cuda-dev, libnccl-dev and libcu++-dev
#          are downloaded (apt-get download) and unpacked for their headers and libraries, never installed, and
#          the native addon is built with CUDA and NCCL on. Any compile error, or either feature switched off,
#          fails the leg. Nothing runs on a GPU.
#
# The root is made once with debootstrap and reused from $CLUSTERFIT_STACK_CACHE (default
# /var/cache/clusterfit-debian13, outside the repository); delete the folder to start afresh. The working tree
# (tracked and untracked, not ignored files) is copied in for each run. Needs root (debootstrap, unshare, chroot);
# every mount lives in a private mount namespace that ends with the leg (scripts/stacks/root.sh).
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/stacks/root.sh

if [[ $(id -u) -ne 0 ]]; then
  echo "debian13: needs root (debootstrap, unshare, chroot): run it as root or with sudo" >&2
  exit 1
fi
cache=${CLUSTERFIT_STACK_CACHE:-/var/cache/clusterfit-debian13}
root=$cache/root
legs=("$@")
((${#legs[@]} > 0)) || legs=(tests pip cuda)
for leg in "${legs[@]}"; do
  [[ $leg =~ ^(tests|pip|cuda)$ ]] || {
    echo "debian13: unknown leg '$leg' (tests, pip or cuda)" >&2
    exit 2
  }
done

started=$(date +%s)
stack_root trixie "$root"
echo "debian13: root ready in $(($(date +%s) - started)) s"

summary=()
run_leg() {
  local leg=$1 dir=/work/$1 start status=0 what
  start=$(date +%s)
  echo "debian13: leg $leg in $root$dir"
  stack_copy_tree "$root" "$dir"
  case $leg in
    tests) stack_run "$root" "cd $dir && bash scripts/setup.sh && npm test" || status=$? ;;
    pip)
      stack_run "$root" "cd $dir && export LIBTORCH_USE_PYTORCH=1 && bash scripts/setup.sh &&
        node scripts/run-tests.mjs dist/test/torch/" || status=$?
      ;;
    cuda) stack_run "$root" "cd $dir && bash scripts/stacks/cuda-compile.sh" || status=$? ;;
  esac
  what=$(stack_run "$root" "cd $dir && node scripts/stacks/built-with.mjs" 2>/dev/null || echo "no build")
  summary+=("debian13 $leg: $( ((status == 0)) && echo passed || echo "FAILED (exit $status)"), $what, $(($(date +%s) - start)) s")
  echo "${summary[-1]}"
  return "$status"
}

failed=0
for leg in "${legs[@]}"; do run_leg "$leg" || failed=1; done
echo "debian13: summary (Debian 13 trixie root $root, $(($(date +%s) - started)) s in all)"
printf '  %s\n' "${summary[@]}"
exit "$failed"
