# Functions shared by the stack legs (sourced, not run): make or reuse a Debian root with debootstrap in a cache
# folder outside the repository, copy the working tree into it, and run commands in it.
#
# Every mount of the root lives in a private mount namespace of its own pid namespace (unshare --mount
# --propagation private --pid --fork --kill-child): /proc, /sys, a tmpfs /dev with a new devpts instance, /dev/shm.
# Nothing is bind-mounted from the host's /dev or /dev/pts (doing so once took other processes' terminals away).
# When the command ends, fails or is interrupted, the namespace's last process exits and the kernel drops every
# mount with it, so nothing is ever left mounted on the host.

# The host's Debian mirror (apt's configured sources), so a machine behind a local mirror or proxy uses the same.
stack_mirror() {
  local uri
  uri=$(grep -h -o -E '^URIs:[[:space:]]+[^[:space:]]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null |
    head -n 1 | awk '{print $2}')
  [[ -z $uri ]] && uri=$(grep -h -o -E '^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?[^[:space:]]+/debian/?[[:space:]]' \
    /etc/apt/sources.list 2>/dev/null | head -n 1 | awk '{print $NF}')
  echo "${uri:-http://deb.debian.org/debian}"
}

# stack_root SUITE ROOT: make (or reuse) a Debian SUITE root at ROOT. It is made in ROOT.partial and counts as made
# (ROOT/.clusterfit-root) once Node.js is in: an interrupted debootstrap is redone, an interrupted install resumed.
stack_root() {
  local suite=$1 root=$2 mirror
  mirror=$(stack_mirror)
  if [[ -f $root/.clusterfit-root ]]; then
    echo "stack: reusing the Debian $suite root $root"
  elif [[ -f $root.partial/debootstrap.log ]]; then
    echo "stack: finishing the Debian $suite root $root.partial"
  else
    if ! command -v debootstrap >/dev/null; then
      echo "stack: installing debootstrap on this machine"
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap; } \
        >/dev/null || {
        echo "stack: debootstrap is missing and could not be installed: install it ('apt-get install debootstrap')" >&2
        return 1
      }
    fi
    echo "stack: making a Debian $suite root in $root from $mirror (debootstrap, a few minutes)"
    rm -rf "$root.partial"
    mkdir -p "$(dirname "$root")"
    # Node.js and npm come from apt afterwards: debootstrap's own resolver cannot install npm's dependencies.
    debootstrap --variant=minbase --components=main,contrib,non-free,non-free-firmware \
      --include=ca-certificates "$suite" "$root.partial" "$mirror" >"$root.partial.log" 2>&1 || {
      echo "stack: debootstrap failed; its log: $root.partial.log" >&2
      tail -n 20 "$root.partial.log" >&2
      return 1
    }
    mv "$root.partial.log" "$root.partial/debootstrap.log"
  fi
  local target=$root
  [[ -f $root/.clusterfit-root ]] || target=$root.partial
  stack_configure "$suite" "$target" "$mirror"
  if [[ $target != "$root" ]]; then
    echo "stack: installing Node.js and npm in the root (what scripts/setup.sh expects a machine to have)"
    stack_run "$target" "apt-get update -qq && apt-get install -f -y -qq --no-install-recommends nodejs npm >/dev/null" || return 1
    rm -rf "$root"
    mv "$target" "$root"
    touch "$root/.clusterfit-root"
  fi
}

# stack_configure SUITE ROOT MIRROR: apt's sources, the host's apt proxy settings, CA bundle and resolver,
# written on every run so that a changed mirror, proxy or CA applies at once.
stack_configure() {
  local suite=$1 root=$2 mirror=$3
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main contrib non-free non-free-firmware
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  rm -f "$root/etc/apt/sources.list"
  apt-config dump 2>/dev/null | grep -i -E '^Acquire::(https?|ftp)::Proxy' >"$root/etc/apt/apt.conf.d/90host-proxy" || true
  # Registry traffic may go through a machine-local CA: the host's bundle is what npm (cafile) and Node trust.
  install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/clusterfit-host-ca.crt"
  cp /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
}

# stack_copy_tree ROOT DEST: bring ROOT/DEST up to date with the working tree, by content (sync-tree.mjs), so the
# root's build/ from the last run recompiles only what changed.
stack_copy_tree() {
  node "$(git rev-parse --show-toplevel)/scripts/stacks/sync-tree.mjs" "$1$2"
}

# stack_run ROOT COMMAND: run COMMAND (a bash script) as root inside ROOT, in private mount and pid namespaces.
# unshare --fork ignores SIGINT and SIGTERM while it waits, and the namespace's first process (its pid 1) gets
# only the signals it has a handler for, so both sides forward them: here a trap passes INT, TERM or HUP to that
# pid 1, whose own trap stops every process in the namespace (kill -1 there reaches only the namespace) and
# exits; the namespace, and with it every mount, is then gone. A signal stops the whole script (exit 130).
stack_run() {
  local root=$1 command=$2 pid status=0 stopped=0
  unshare --mount --propagation private --pid --fork --kill-child -- bash -euo pipefail -c '
    root=$1; command=$2
    trap "kill -TERM -1 2>/dev/null || true; sleep 2; kill -KILL -1 2>/dev/null || true; exit 130" INT TERM HUP
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys"
    mount -t tmpfs -o mode=0755,nosuid,size=64m tmpfs "$root/dev"
    for node in "null 1 3" "zero 1 5" "full 1 7" "random 1 8" "urandom 1 9" "tty 5 0"; do
      set -- $node
      mknod -m 0666 "$root/dev/$1" c "$2" "$3"
    done
    mkdir "$root/dev/pts" "$root/dev/shm"
    mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts "$root/dev/pts"
    ln -s pts/ptmx "$root/dev/ptmx"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$root/dev/shm"
    ln -s /proc/self/fd "$root/dev/fd"
    ln -s /proc/self/fd/0 "$root/dev/stdin"
    ln -s /proc/self/fd/1 "$root/dev/stdout"
    ln -s /proc/self/fd/2 "$root/dev/stderr"
    chroot "$root" /usr/bin/env -i HOME=/root PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
      LANG=C.UTF-8 TERM=dumb DEBIAN_FRONTEND=noninteractive CI="${CI:-}" JOBS="${JOBS:-}" \
      NODE_EXTRA_CA_CERTS=/etc/clusterfit-host-ca.crt npm_config_cafile=/etc/clusterfit-host-ca.crt \
      npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false \
      bash -euo pipefail -c "$command" &
    wait $!
  ' stack-run "$root" "$command" &
  pid=$!
  trap 'stopped=1; kill -TERM $(cat /proc/$pid/task/$pid/children 2>/dev/null) 2>/dev/null || true' INT TERM HUP
  while kill -0 "$pid" 2>/dev/null; do
    wait "$pid" && status=0 || status=$?
  done
  trap - INT TERM HUP
  if ((stopped)); then
    echo "stack: stopped; the root's namespace and its mounts are gone" >&2
    exit 130
  fi
  return "$status"
}
