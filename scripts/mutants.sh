#!/usr/bin/env bash
# Mutation testing of the money paths with cargo-mutants (`make mutants`).
#
#   scripts/mutants.sh [GROUP...]     GROUP: terminal fiscal checkout-units checkout-engine
#                                     (default: all four, in that order)
#
# Each group mutates exactly its money-path files and runs its tests in
# stages, from the fastest test command that still means something to the
# thorough one; a later stage runs only what the earlier ones missed
# (`--iterate`), so the slow suites run for a few mutants, not for all.
#
#   terminal         terminal/src/recovery.rs                  cargo test -p terminal
#   fiscal           payment, receipt, rounding, readback,     cargo test -p fiscal
#                    text (money formatting)
#   checkout-units   money.rs, mask.rs                         1. checkout's unit tests
#                                                              2. the kasa-tests scenarios
#   checkout-engine  engine/{mod,steps,runner,view}.rs,        1. checkout's unit tests and
#                    operations/*.rs, journal/payments.rs         the kasa-tests scenarios
#                                                              2. the crash suite (only with
#                                                                 MUTANTS_CRASH=1: it rebuilds `kasa`
#                                                                 for each survivor, ~2 min each)
#
# Results: $MUTANTS_OUT/<group>/mutants.out (caught.txt, missed.txt, ...),
# each stage's copy in $MUTANTS_OUT/<group>/stage-N, and a summary line per
# group in $MUTANTS_OUT/summary.txt. MUTANTS_ARGS adds arguments to every
# cargo-mutants call (e.g. `--in-place`, `--list`). MUTANTS_SHARD=k/n tests
# only every n-th mutant from the k-th (round-robin) in the first stage, and
# the later stages follow exactly what that shard left: the engine group's
# ~700 mutants can be run as four sessions of shards 0/4..3/4.
#
# The crash stage builds `kasa` from each mutated copy into the target
# directory: `$CARGO_TARGET_DIR/debug/kasa` is a mutated binary afterwards
# until it is built again.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${MUTANTS_OUT:-$ROOT/mutants.out}
TIMEOUT=${MUTANTS_TIMEOUT:-300}
BUILD_TIMEOUT=${MUTANTS_BUILD_TIMEOUT:-900}
NICE=${MUTANTS_NICE:-15}
read -r -a EXTRA <<<"${MUTANTS_ARGS:-}"

if ! cargo mutants --version >/dev/null 2>&1; then
  echo "Installing cargo-mutants from crates.io"
  nice -n "$NICE" cargo install cargo-mutants --locked
fi

SCENARIO_TESTS=(sale refund drawer faults http journal production day)
SCENARIO_TESTS=("${SCENARIO_TESTS[@]/#/--test=}")
SCENARIOS=("${SCENARIO_TESTS[@]/#/--cargo-test-arg=}")

# cargo-mutants runs its baseline on the mutated package only, where the
# scenario tests (in kasa-tests) do not exist; so a stage that runs them
# skips that baseline and this checks the unmutated tree instead.
baseline() {
  echo "== baseline: cargo test $*"
  nice -n "$NICE" cargo test "$@"
}

# run GROUP STAGE [cargo-mutants args...]: one stage of a group. The first
# stage takes MUTANTS_SHARD (e.g. `0/4`: every fourth mutant, round-robin);
# a later stage runs exactly the mutants the stage before missed or timed
# out, named one by one with `-F`, so a shard stays the same shard.
run() {
  local group=$1 stage=$2
  shift 2
  local dir=$OUT/$group
  mkdir -p "$dir"
  local pick=()
  if [ "$stage" -gt 1 ]; then
    local prev=$dir/stage-$((stage - 1))
    local left
    left=$(cat "$prev/missed.txt" "$prev/timeout.txt" 2>/dev/null || true)
    if [ -z "$left" ]; then
      echo "== $group stage $stage: nothing survived stage $((stage - 1))"
      return 0
    fi
    while IFS= read -r name; do
      [ -n "$name" ] && pick+=(-F "^$(printf '%s' "$name" | sed 's/[][\\.^$*+?(){}|]/\\&/g')\$")
    done <<<"$left"
  else
    rm -rf "$dir/mutants.out" "$dir/mutants.out.old" "$dir"/stage-*
    if [ -n "${MUTANTS_SHARD:-}" ]; then
      # In random order: a shard stopped part-way is still a fair sample.
      pick=(--shard "$MUTANTS_SHARD" --sharding round-robin --shuffle)
    fi
  fi
  echo "== $group stage $stage: cargo mutants $* ${pick[*]:0:6} ${EXTRA[*]}"
  local rc=0
  local order=(--no-shuffle)
  [[ " ${pick[*]} " == *" --shuffle "* ]] && order=()
  nice -n "$NICE" cargo mutants "${order[@]}" --colors never \
    --timeout "$TIMEOUT" --build-timeout "$BUILD_TIMEOUT" \
    -o "$dir" "${pick[@]}" "$@" "${EXTRA[@]}" || rc=$?
  # 0: all caught; 2: some missed; 3: some timed out. Anything else is a failure
  # of the run itself (the baseline failed, a bad flag).
  case $rc in 0 | 2 | 3) ;; *) echo "cargo mutants failed ($rc)" >&2; return $rc ;; esac
  rm -rf "$dir/stage-$stage"
  cp -r "$dir/mutants.out" "$dir/stage-$stage"
}

# summary GROUP: caught / missed / unviable / timeout over all stages.
summary() {
  local group=$1 dir=$OUT/$1
  [ -d "$dir/stage-1" ] || return 0
  count() { if [ -f "$1" ]; then grep -c . "$1" || true; else echo 0; fi; }
  # cargo-mutants 27 lets "delete field" mutants past -F, so a later stage may
  # test one again: count each mutant once, by name.
  local caught unviable missed timeout viable pct
  caught=$(cat "$dir"/stage-*/caught.txt 2>/dev/null | sort -u | grep -c . || true)
  unviable=$(count "$dir/stage-1/unviable.txt")
  left() {
    [ -f "$1" ] || { echo 0; return; }
    sort -u "$1" | comm -23 - <(cat "$dir"/stage-*/caught.txt 2>/dev/null | sort -u) | grep -c . || true
  }
  missed=$(left "$dir/mutants.out/missed.txt")
  timeout=$(left "$dir/mutants.out/timeout.txt")
  viable=$((caught + missed + timeout))
  pct=$(awk -v c="$caught" -v t="$timeout" -v v="$viable" 'BEGIN { if (v) printf "%.1f", 100 * (c + t) / v; else print "-" }')
  local line="$group: $viable viable: $caught caught, $missed missed, $timeout timeout, $unviable unviable; caught $pct %"
  echo "$line"
  mkdir -p "$OUT"
  { grep -v "^$group:" "$OUT/summary.txt" 2>/dev/null || true; echo "$line"; } >"$OUT/summary.tmp"
  mv "$OUT/summary.tmp" "$OUT/summary.txt"
}

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(terminal fiscal checkout-units checkout-engine)

for g in "${groups[@]}"; do
  case $g in
    terminal)
      run terminal 1 -f terminal/src/recovery.rs
      ;;
    fiscal)
      run fiscal 1 -f fiscal/src/driver/payment.rs -f fiscal/src/driver/receipt.rs \
        -f fiscal/src/rounding.rs -f fiscal/src/readback.rs -f fiscal/src/text.rs
      ;;
    checkout-units)
      files=(-f checkout/src/money.rs -f checkout/src/mask.rs)
      run checkout-units 1 "${files[@]}" --cargo-test-arg=--lib
      baseline -p kasa-tests "${SCENARIO_TESTS[@]}"
      run checkout-units 2 "${files[@]}" --test-package kasa-tests "${SCENARIOS[@]}" --baseline skip
      ;;
    checkout-engine)
      files=(-f checkout/src/engine/mod.rs -f checkout/src/engine/steps.rs
        -f checkout/src/engine/runner.rs -f checkout/src/engine/view.rs -f 'checkout/src/operations/*.rs'
        -f checkout/src/journal/payments.rs)
      # checkout's own unit tests catch few engine mutants, so they run in
      # one stage with the scenarios: one build per mutant, not two.
      baseline -p checkout -p kasa-tests --lib "${SCENARIO_TESTS[@]}"
      run checkout-engine 1 "${files[@]}" --test-package checkout --test-package kasa-tests \
        --cargo-test-arg=--lib "${SCENARIOS[@]}" --baseline skip
      if [ "${MUTANTS_CRASH:-0}" = 1 ]; then
        (unset KASA_BIN; baseline -p kasa-tests --test=crash
          run checkout-engine 2 "${files[@]}" --test-package kasa-tests \
          --cargo-test-arg=--test=crash --baseline skip)
      fi
      ;;
    *)
      echo "unknown group $g (terminal fiscal checkout-units checkout-engine)" >&2
      exit 1
      ;;
  esac
  summary "$g"
done
