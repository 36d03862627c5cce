#!/usr/bin/env bash
# bench/run.sh: whole-service load of clerkgate with wrk, against a floor and
# the official SDK measured in the same run (docs/performance.md, "Whole
# service"). Everything listens on 127.0.0.1 and stops by itself.
#
#   bench/run.sh                       # ROUNDS=3 DURATION=10s
#   ROUNDS=5 DURATION=20s bench/run.sh
#   PERF=1 bench/run.sh                # also profile clerkgate serve under wrk (perf)
#   PERF=1 PERF_OUT=/tmp/cg.perf.data bench/run.sh   # and keep the profile
#   PERF=1 PERF_SERVER=a bench/run.sh  # profile server a (or b) instead of clerkgate
#   CLERKGATE_REF=HEAD bench/run.sh    # clerkgate built from a commit, not the working tree
#
# What it does:
#   1. builds clerkgate and the helpers in bench/cmd into a temporary
#      directory, starts "clerkgate emulator", creates a user and a 2 h token;
#   2. starts three servers, each pinned to CPU $SERVER_CPU with GOMAXPROCS=1:
#      a: bench/cmd/target -mode none  (a small JSON handler, no auth)
#      b: bench/cmd/target -mode sdk   (the same handler behind clerk-sdk-go
#         v2.7.0 RequireHeaderAuthorization, JWKS from the emulator)
#      c: clerkgate serve (SQLite, JWKS from the emulator, JSON access log to a
#         file) answering GET /auth/me;
#   3. runs wrk pinned to CPU $LOAD_CPU on a, c, b in turn (odd rounds) or
#      b, c, a (even rounds), $ROUNDS times, all with the same Authorization
#      header, and prints per-round figures (wrk's req/s and p99, the
#      server's CPU time per request and share of a core), medians, the
#      ratios c/a and b/a of the medians and the median of each round's own
#      c/a. a and c always run next to each other and swap places every
#      round: on a machine whose speed drifts within seconds (a shared
#      virtual machine), a slow spell then falls on both more often than on
#      one, and a drift in one direction favours neither;
#   4. mints $TOKENS distinct tokens (bench/cmd/mint), sends each once to
#      clerkgate's /auth/me (bench/cmd/replay) and prints clerkgate's RSS.
#
# Needs go, wrk, taskset, curl and two CPUs.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
TOKENS=${TOKENS:-100000}
SERVER_CPU=${SERVER_CPU:-0}
LOAD_CPU=${LOAD_CPU:-1}
PERF=${PERF:-0}
PERF_SERVER=${PERF_SERVER:-c} # which server PERF=1 profiles: a, b or c
CLERKGATE_REF=${CLERKGATE_REF:-} # a git commit to build clerkgate from; empty: the working tree

die() { echo "run.sh: $*" >&2; exit 1; }

for tool in go wrk taskset curl awk; do
	command -v "$tool" >/dev/null || die "$tool is required (wrk: apt-get install -y wrk)"
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "ROUNDS must be a positive number"
[[ $TOKENS =~ ^[1-9][0-9]*$ ]] || die "TOKENS must be a positive number"
(($(nproc) >= 2)) || die "needs two CPUs: one for the server, one for wrk"
if [[ $PERF == 1 ]]; then
	command -v perf >/dev/null || die "PERF=1 needs perf"
	[[ $PERF_SERVER =~ ^[abc]$ ]] || die "PERF_SERVER must be a, b or c"
fi

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clerkgate-bench.XXXXXX")
bin=$tmp/bin
pids=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The servers get a clean environment: nothing from the caller's shell
# (DATABASE_URL, CLERK_JWT_KEY, GOGC, ...) changes what is measured.
cleanenv=(env -i "PATH=$PATH" "HOME=$HOME" GOMAXPROCS=1)

# wait_for FILE REGEX PID WHAT: waits up to 15 s for a line matching REGEX.
wait_for() {
	local i
	for ((i = 0; i < 150; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		kill -0 "$3" 2>/dev/null || break
		sleep 0.1
	done
	echo "run.sh: $4 did not start; the end of its output:" >&2
	tail -n 20 "$1" "${1%.*}.log" >&2 2>/dev/null || true
	exit 1
}

# probe URL: "status header-bytes body-bytes" of GET URL with the bench token.
probe() {
	curl -s -o /dev/null -w '%{http_code} %{size_header} %{size_download}\n' --max-time 10 \
		-H "Authorization: Bearer $token" "$1" || true
}

rss_mib() { awk -v k="$2:" '$1 == k { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

echo "== build"
mkdir -p "$bin"
(cd "$root" && go build -o "$bin/" ./bench/cmd/target ./bench/cmd/mint ./bench/cmd/replay)
if [[ -n $CLERKGATE_REF ]]; then
	# A commit rather than the working tree: reproducible, and immune to
	# half-done edits in the checkout.
	mkdir -p "$tmp/src"
	git -C "$root" archive "$CLERKGATE_REF" | tar -x -C "$tmp/src"
	(cd "$tmp/src" && go build -o "$bin/" ./cmd/clerkgate)
	echo "clerkgate built from $CLERKGATE_REF ($(git -C "$root" rev-parse --short "$CLERKGATE_REF"))"
else
	(cd "$root" && go build -o "$bin/" ./cmd/clerkgate)
	echo "clerkgate built from the working tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet HEAD -- . 2>/dev/null || echo ' with local changes')"
fi
echo "go: $(go version | cut -d' ' -f3-); wrk: $(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "cpus: $(nproc); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== emulator"
"${cleanenv[@]}" "$bin/clerkgate" emulator --addr 127.0.0.1:0 >"$tmp/emulator.env" 2>"$tmp/emulator.log" &
pids+=($!)
wait_for "$tmp/emulator.env" '^CLERK_ISSUER=' "$!" "clerkgate emulator"
api_url=$(sed -n 's/^CLERK_API_URL=//p' "$tmp/emulator.env")
sk=$(sed -n 's/^CLERK_SECRET_KEY=//p' "$tmp/emulator.env")
[[ $api_url == http://127.0.0.1:* ]] || die "unexpected CLERK_API_URL $api_url"

user_id=$(curl -fsS --max-time 10 -X POST "$api_url/v1/users" \
	-H "Authorization: Bearer $sk" -H 'Content-Type: application/json' \
	-d '{"email_address":["bench@example.com"],"public_metadata":{"role":"admin"}}' |
	grep -o '"id":"user_[^"]*"' | awk -F'"' 'NR == 1 { print $4 }')
[[ -n $user_id ]] || die "the emulator created no user"
token=$(CLERK_API_URL=$api_url CLERK_SECRET_KEY=$sk "$bin/clerkgate" token --user bench@example.com --ttl 2h)
echo "user $user_id, token of ${#token} bytes"

echo "== servers (CPU $SERVER_CPU, GOMAXPROCS=1)"
declare -A pid url name
"${cleanenv[@]}" taskset -c "$SERVER_CPU" "$bin/target" -mode none >"$tmp/a.url" 2>"$tmp/a.log" &
pid[a]=$!
pids+=($!)
wait_for "$tmp/a.url" '^http://' "$!" "target -mode none"
"${cleanenv[@]}" CLERK_API_URL="$api_url" CLERK_SECRET_KEY="$sk" \
	taskset -c "$SERVER_CPU" "$bin/target" -mode sdk >"$tmp/b.url" 2>"$tmp/b.log" &
pid[b]=$!
pids+=($!)
wait_for "$tmp/b.url" '^http://' "$!" "target -mode sdk"
"${cleanenv[@]}" CLERK_API_URL="$api_url" CLERK_SECRET_KEY="$sk" \
	DATABASE_URL="sqlite://$tmp/clerkgate.db" LOG_FORMAT=json LOG_LEVEL=info \
	taskset -c "$SERVER_CPU" "$bin/clerkgate" serve --addr 127.0.0.1:0 >"$tmp/c.out" 2>"$tmp/c.log" &
cg_pid=$!
pid[c]=$cg_pid
pids+=("$cg_pid")
wait_for "$tmp/c.log" '"msg":"listening"' "$cg_pid" "clerkgate serve"

url[a]="$(head -n 1 "$tmp/a.url")/"
url[b]="$(head -n 1 "$tmp/b.url")/"
url[c]="$(grep -o '"msg":"listening","url":"[^"]*"' "$tmp/c.log" | awk -F'"' 'NR == 1 { print $8 }')/auth/me"
name[a]="a: no auth"
name[b]="b: clerk-sdk-go middleware"
name[c]="c: clerkgate serve /auth/me"
for s in a b c; do
	read -r code hsize bsize < <(probe "${url[$s]}")
	[[ $code == 200 ]] || die "warm-up of ${name[$s]} (${url[$s]}) answered ${code:-nothing}, not 200"
	echo "${name[$s]}: ${url[$s]} warm (200; answer of $hsize header and $bsize body bytes)"
done

# to_ms VALUE: a wrk latency such as 850.00us, 1.23ms or 1.02s in ms.
to_ms() {
	awk -v v="$1" 'BEGIN {
		n = v + 0
		if (v ~ /us$/) n /= 1000
		else if (v ~ /ms$/) n = n
		else if (v ~ /m$/) n *= 60000
		else if (v ~ /s$/) n *= 1000
		printf "%.2f", n
	}'
}

# cpu_ticks PID: user + system CPU time of a process, in clock ticks.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# cpu0_ticks: busy time of CPU $SERVER_CPU (all processes), in clock ticks.
cpu0_ticks() { awk -v c="cpu$SERVER_CPU" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
hz=$(getconf CLK_TCK)

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# Besides wrk's figures, each run records the server's own CPU time: its
# CPU microseconds per request hardly depend on what else the machine runs,
# and its share of the run shows whether it had its core to itself (about
# 100%) or lost it to other processes ("cpu0 busy" near 100%, server less).
declare -A rps p99 usreq share busy0
echo "== wrk (CPU $LOAD_CPU): -t1 -c$CONNS -d$DURATION --latency, $ROUNDS rounds of a, c, b (odd rounds) or b, c, a (even)"
for ((r = 1; r <= ROUNDS; r++)); do
	order="a c b"
	((r % 2)) || order="b c a"
	for s in $order; do
		out=$tmp/wrk-$s-$r.txt
		t0=$(cpu_ticks "${pid[$s]}") z0=$(cpu0_ticks)
		taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" --latency \
			-H "Authorization: Bearer $token" "${url[$s]}" >"$out"
		t1=$(cpu_ticks "${pid[$s]}") z1=$(cpu0_ticks)
		if grep -q 'Non-2xx or 3xx responses' "$out"; then
			cat "$out" >&2
			die "${name[$s]} answered errors under load (round $r)"
		fi
		if grep -q 'Socket errors' "$out"; then
			echo "warning: ${name[$s]}, round $r: $(grep 'Socket errors' "$out")" >&2
		fi
		rps[$s,$r]=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
		p99[$s,$r]=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
		[[ -n ${rps[$s,$r]} ]] || { cat "$out" >&2; die "no Requests/sec in wrk's output"; }
		read -r usreq[$s,$r] share[$s,$r] busy0[$s,$r] < <(awk -v t="$((t1 - t0))" -v z="$((z1 - z0))" -v hz="$hz" '
			/ requests in / { n = $1; d = $4; sub(/s,?$/, "", d) }
			END { printf "%.1f %.0f %.0f\n", t / hz * 1e6 / n, 100 * t / hz / d, 100 * z / hz / d }' "$out")
		printf '  round %d %-30s %7.0f req/s  p99 %7.2f ms  server CPU %5.1f us/req, %3d%% of a core (cpu%s busy %3d%%, load average %s)\n' \
			"$r" "${name[$s]}" "${rps[$s,$r]}" "${p99[$s,$r]}" "${usreq[$s,$r]}" "${share[$s,$r]}" \
			"$SERVER_CPU" "${busy0[$s,$r]}" "$(cut -d' ' -f1 /proc/loadavg)"
	done
done

declare -A med_rps med_p99 med_us
echo
echo "| server | $(for ((r = 1; r <= ROUNDS; r++)); do printf 'round %d: req/s, p99 ms, CPU us/req | ' "$r"; done)median req/s | median p99 ms | median CPU us/req |"
echo "|---|$(for ((r = 1; r <= ROUNDS; r++)); do printf -- '---:|'; done)---:|---:|---:|"
for s in a b c; do
	vals=() lats=() cpus=() cells=""
	for ((r = 1; r <= ROUNDS; r++)); do
		vals+=("${rps[$s,$r]}")
		lats+=("${p99[$s,$r]}")
		cpus+=("${usreq[$s,$r]}")
		cells+=$(printf ' %.0f, %.2f, %.1f |' "${rps[$s,$r]}" "${p99[$s,$r]}" "${usreq[$s,$r]}")
	done
	med_rps[$s]=$(median "${vals[@]}")
	med_p99[$s]=$(median "${lats[@]}")
	med_us[$s]=$(median "${cpus[@]}")
	printf '| %s |%s %.0f | %.2f | %.1f |\n' "${name[$s]}" "$cells" "${med_rps[$s]}" "${med_p99[$s]}" "${med_us[$s]}"
done
echo
awk -v a="${med_rps[a]}" -v b="${med_rps[b]}" -v c="${med_rps[c]}" \
	'BEGIN { printf "ratios of the median req/s: c/a = %.2f, b/a = %.2f, c/b = %.1f\n", c / a, b / a, c / b }'
pair_ca=() pair_ba=()
for ((r = 1; r <= ROUNDS; r++)); do
	pair_ca+=("$(awk -v a="${rps[a,$r]}" -v c="${rps[c,$r]}" 'BEGIN { printf "%.3f", c / a }')")
	pair_ba+=("$(awk -v a="${rps[a,$r]}" -v b="${rps[b,$r]}" 'BEGIN { printf "%.3f", b / a }')")
done
printf 'c/a of each round (a and c side by side): %s; median %.2f (b/a: median %.2f)\n' \
	"$(printf '%.2f ' "${pair_ca[@]}" | sed 's/ $//')" "$(median "${pair_ca[@]}")" "$(median "${pair_ba[@]}")"
awk -v a="${med_us[a]}" -v b="${med_us[b]}" -v c="${med_us[c]}" \
	'BEGIN { printf "ratios of the median CPU cost per request (a/x, comparable to req/s ratios): c: %.2f, b: %.2f\n", a / c, a / b }'

if [[ $PERF == 1 ]]; then
	echo
	echo "== perf: ${name[$PERF_SERVER]} under wrk for $DURATION (cpu-clock, 999 Hz, frame pointers)"
	perf record -q -e cpu-clock -F 999 -g -p "${pid[$PERF_SERVER]}" -o "$tmp/perf.data" -- sleep "$DURATION" 2>/dev/null &
	perf_pid=$!
	pids+=("$perf_pid")
	taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$DURATION" -H "Authorization: Bearer $token" "${url[$PERF_SERVER]}" >"$tmp/wrk-perf.txt"
	wait "$perf_pid"
	echo "$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/wrk-perf.txt") req/s while profiled"
	if [[ -n ${PERF_OUT:-} ]]; then
		cp "$tmp/perf.data" "$PERF_OUT"
		echo "perf data kept in $PERF_OUT (perf report -i $PERF_OUT; symbols come from perf's build-id cache)"
	fi
	echo "-- self (flat), top functions"
	perf report -i "$tmp/perf.data" --stdio --no-children --sort symbol -g none --percent-limit 0.7 2>/dev/null |
		grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | awk 'NR <= 40'
	echo "-- cumulative (self + callees), top functions"
	perf report -i "$tmp/perf.data" --stdio --children --sort symbol -g none --percent-limit 2 2>/dev/null |
		grep -E '^ +[0-9]' | sed -E 's/[[:space:]]+-[[:space:]]+-[[:space:]]*$//' | awk 'NR <= 60'
fi

echo
echo "== memory: $TOKENS distinct tokens, each sent once to clerkgate"
rss_before=$(rss_mib "$cg_pid" VmRSS)
CLERK_API_URL=$api_url CLERK_SECRET_KEY=$sk "$bin/mint" -user "$user_id" -n "$TOKENS" -c 8 -o "$tmp/tokens.txt"
taskset -c "$LOAD_CPU" "$bin/replay" -url "${url[c]}" -in "$tmp/tokens.txt" -c 16
rss_after=$(rss_mib "$cg_pid" VmRSS)
hwm=$(rss_mib "$cg_pid" VmHWM)
heap=$(curl -fsS --max-time 10 "${url[c]%/auth/me}/metrics" 2>/dev/null |
	awk '$1 == "go_memstats_heap_inuse_bytes" { printf "%.1f", $2 / 1048576 }' || true)
echo "clerkgate serve VmRSS: ${rss_before} MiB before, ${rss_after} MiB after (peak VmHWM ${hwm} MiB; Go heap in use ${heap:-n/a} MiB)"
awk -v r="$rss_after" 'BEGIN { printf "target <= 150 MiB: %s\n", (r <= 150 ? "met" : "NOT met") }'
echo "log: $(wc -l <"$tmp/c.log") access-log lines ($(du -h "$tmp/c.log" | cut -f1)) written by clerkgate serve"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
