#!/usr/bin/env bash
# Bounded fuzzing of ctwatch's parsers of untrusted input (cargo-fuzz / libFuzzer, ASan).
#
# Usage: .ci/fuzz.sh [SECONDS_PER_TARGET]   (default 20)
#
# Environment:
#   CTWATCH_FUZZ_SANITIZER   address (default) or none. CI uses none: the build is several
#                            times faster and every target still runs with debug assertions
#                            (overflow checks); long runs keep ASan.
#   CTWATCH_FUZZ_TARGET_DIR  where the targets are built (default fuzz/target for ASan,
#                            fuzz/target/nosan without a sanitizer, so the two builds never
#                            overwrite each other).
#
# Installs cargo-fuzz if missing, builds every target of fuzz/, writes the seed corpora from
# ../shared/data (or $CTWATCH_DATA_DIR) into fuzz/corpus/<target> (ignored by git), runs each
# target for SECONDS_PER_TARGET and fails if any of them finds a crash, an overflow, a leak, an
# out-of-memory or a slow input. Prints the executions and executions per second of each run.
# The toolchain is stable; RUSTC_BOOTSTRAP=1 lets cargo-fuzz use the sanitizer flags. Longer
# runs: see fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-20}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -lt 1 ]; then
  echo "usage: $0 [SECONDS_PER_TARGET]" >&2
  exit 64
fi

export RUSTC_BOOTSTRAP=1
export CARGO_TERM_COLOR=never
export CTWATCH_DATA_DIR="${CTWATCH_DATA_DIR:-$(cd .. && pwd)/shared/data}"

sanitizer="${CTWATCH_FUZZ_SANITIZER:-address}"
case "$sanitizer" in
  address) default_dir=fuzz/target ;;
  none) default_dir=fuzz/target/nosan ;;
  *) echo "CTWATCH_FUZZ_SANITIZER must be address or none, not $sanitizer" >&2; exit 64 ;;
esac
target_dir="$(mkdir -p "${CTWATCH_FUZZ_TARGET_DIR:-$default_dir}" && cd "${CTWATCH_FUZZ_TARGET_DIR:-$default_dir}" && pwd)"
fuzz_flags=(--sanitizer "$sanitizer" --target-dir "$target_dir")

targets=(leaf_input tile checkpoint cert_facts lint caa_rdata caa_dns crl key_import config log_list)

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "== installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

start=$(date +%s)
echo "== build (release, sanitizer: $sanitizer, debug assertions) in $target_dir"
host=$(rustc -vV | sed -n 's/^host: //p')
if [ "$sanitizer" = address ]; then
  cargo fuzz build "${fuzz_flags[@]}"
  seed="$target_dir/$host/release/seed"
else
  # Without ASan's runtime nothing defines the coverage callbacks in `seed` (not a libFuzzer
  # binary): build the targets one by one, and `seed` as an ordinary program.
  for target in "${targets[@]}"; do
    cargo fuzz build "${fuzz_flags[@]}" "$target"
  done
  cargo build --quiet --manifest-path fuzz/Cargo.toml --bin seed --target-dir "$target_dir/plain"
  seed="$target_dir/plain/debug/seed"
fi
echo "== built in $(( $(date +%s) - start ))s"

echo "== seed corpora from $CTWATCH_DATA_DIR"
"$seed" fuzz/corpus

logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
failed=()
printf '== fuzzing, %ss per target\n' "$seconds"
for target in "${targets[@]}"; do
  log="$logs/$target.log"
  # -timeout: one input running longer than 10 s is a finding; -rss_limit_mb: so is 2 GiB.
  if cargo fuzz run "${fuzz_flags[@]}" "$target" -- -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
      -print_final_stats=1 >"$log" 2>&1; then
    status=ok
  else
    status=FAILED
    failed+=("$target")
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  if [ -z "$execs" ]; then
    # Without final stats (a crash), the last status line still has the count.
    execs=$(grep -o '^#[0-9]*' "$log" | tail -n 1 | tr -d '#')
    rate=$(grep -o 'exec/s: [0-9]*' "$log" | tail -n 1 | sed 's/exec.s: //')
  fi
  corpus=$(find "fuzz/corpus/$target" -type f | wc -l)
  printf '%-12s %-6s execs=%-10s exec/s=%-8s corpus=%s\n' "$target" "$status" "${execs:-?}" "${rate:-?}" "$corpus"
  if [ "$status" = FAILED ]; then
    echo "---- $target: last 60 lines of libFuzzer output"
    tail -n 60 "$log"
    echo "----"
  fi
done

echo "== done in $(( $(date +%s) - start ))s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]} (inputs in fuzz/artifacts/<target>/)" >&2
  exit 1
fi
