# A report made of steps, each run under its own time limit, for scripts/gpu-check.sh and
# scripts/cpu-figures.sh (sourced, not run). The caller sets `report` (the report file), `out` (the
# folder for each step's whole output) and `started` (date +%s at its start); STEP_TAIL is how many
# lines of a step's output the report keeps (default 60).

say() { echo "$*" | tee -a "$report"; }

# step <title> <seconds> <command...>: runs it under a time limit, with the load average before it (a
# figure from a busy machine is not one), the last STEP_TAIL lines of its output in the report and all
# of it in $out/step-<n>.log (a compiler's first error may be far above). A command that is one of the
# caller's shell functions runs in a child bash (timeout runs programs): the caller exports it, and
# the variables it reads, with export -f / export.
steps=0
step() {
  local title=$1 limit=$2
  shift 2
  steps=$((steps + 1))
  say ""
  say "## $title"
  say ""
  say "\`$*\` (limit ${limit}s, started at +$(($(date +%s) - started))s, load average $(cut -d' ' -f1-3 /proc/loadavg))"
  say '```'
  local t0 run=("$@")
  t0=$(date +%s)
  declare -F "$1" > /dev/null && run=(bash -c '"$@"' step "$@")
  timeout --kill-after=10 "$limit" "${run[@]}" 2>&1 | tee "$out/step-$steps.log" | tail -n "${STEP_TAIL:-60}" | tee -a "$report"
  local rc=${PIPESTATUS[0]}
  say '```'
  say "exit $rc after $(($(date +%s) - t0))s"
  return "$rc"
}
