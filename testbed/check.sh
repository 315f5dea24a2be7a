#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make check: host unit tests of tools/ (which include the module's parser)
# and lints, and the in-guest end-to-end suite on each kernel: the 6.12
# test-bed kernels, fast and debug, and Debian's own 7.3 (debian-7.3: its
# unpatched image and modules, the module built for it by
# testbed/distro-module.sh), where a boot under lockdown also checks the
# refusal of the unsigned module (the patched 7.3 test kernel runs in make
# soak).  The kernels (and Debian's module) build in the background, and
# the host tests run beside the last guest suite (see below), so that both
# cores stay busy.
# Installs what it needs.  Last line: "N passed, M failed"; the tests a
# kernel cannot run (the suite's SKIP lines) count as neither, and their
# number is printed before it.
set -euo pipefail
. "$(dirname "$0")/env.sh"

"$TOP/testbed/deps.sh"
logs="$CACHE/logs"
mkdir -p "$logs"
passed=0 failed=0 skipped=0

count() { # adds the "N passed, M failed[, K skipped]" line of a log to the totals
	local line n
	# The serial console ends lines with \r\n.
	line=$(tr -d '\r' <"$1" | grep -aE '^[0-9]+ passed, [0-9]+ failed' | tail -1 || true)
	if [ -z "$line" ]; then
		echo "check: no result line in $1" >&2
		failed=$((failed + 1))
		return
	fi
	passed=$((passed + $(echo "$line" | cut -d' ' -f1)))
	failed=$((failed + $(echo "$line" | cut -d' ' -f3 | tr -d ,)))
	n=$(echo "$line" | sed -nE 's/^[0-9]+ passed, [0-9]+ failed, ([0-9]+) skipped.*/\1/p')
	skipped=$((skipped + ${n:-0}))
}

# The kernels, as guest.sh names them: the 6.12 test-bed kernels fast and
# debug (kernel.sh), Debian's own 7.3 (debian-7.3).  The first must be a
# test-bed kernel (the kernel-side lints use its tree); it builds at full
# priority, the others at the lowest, beside the suites (their build order
# is their order here).
kernels=${GFN_KERNELS:-fast debug debian-7.3}
logs_of() { echo "$logs/kernel-$1.log"; }
phase=$SECONDS
took() { # prints how long the phase just ended took
	echo "== $1: $((SECONDS - phase)) s"
	phase=$SECONDS
}

# The kernels build in the background while the guest tools build, all but
# the first at the lowest priority so that they only take what the rest
# leaves idle (serial link steps, the first guest suite's idle moments) and
# never slow a suite's timed tests.  Each in a session
# of its own, so that an interrupted check stops the whole build.  A new
# session is a new scheduler autogroup, where nice alone means nothing
# against other sessions: the autogroup gets the same nice value.  The
# later builds start a moment later, so that one of a series unpacks its
# shared sources and the other waits for them.
builds=()
trap 'for b in "${builds[@]}"; do kill -- "-$b" 2>/dev/null || true; done' EXIT
background() { # nice delay log command...: starts it; its pid is ${builds[-1]}
	local nice=$1 delay=$2 log=$3
	shift 3
	setsid bash -c 'echo "$1" >/proc/self/autogroup 2>/dev/null; sleep "$2"; n=$1
		shift 2; exec nice -n "$n" "$@"' background "$nice" "$delay" "$@" >"$log" 2>&1 &
	builds+=($!)
}
build() { # kernel nice delay: starts the kernel's build; its pid is ${builds[-1]}
	case "$1" in
	# A distribution's kernel is not built: it is fetched, and the module
	# is built for it (in a root of that release, with its toolchain).
	debian-*) background "$2" "$3" "$(logs_of "$1")" bash -c \
		'"$1/testbed/distro-kernel.sh" "$2" && "$1/testbed/distro-module.sh" "$2"' \
		build "$TOP" "$1" ;;
	*) background "$2" "$3" "$(logs_of "$1")" "$TOP/testbed/kernel.sh" "$1" ;;
	esac
}
finish() { # kernel pid: waits for the build (in this shell: a subshell
	# cannot wait for it); fails, saying why, when it did not build
	if ! wait "$2"; then
		echo "check: the $1 kernel (or its module) did not build ($(logs_of "$1")):" >&2
		tail -20 "$(logs_of "$1")" >&2
		return 1
	fi
}
declare -A kernel_build
first=${kernels%% *}
case "$first" in
debian-*) echo "check: GFN_KERNELS must begin with a test-bed kernel (fast, debug, 7.3-fast...), not $first" >&2
	exit 2 ;;
esac
delay=0
for k in $kernels; do
	if [ "$k" = "$first" ]; then
		build "$k" 0 0
	else
		delay=$((delay + 3))
		build "$k" 19 "$delay"
	fi
	kernel_build[$k]=${builds[-1]}
done

export CARGO_TARGET_DIR="$CACHE/cargo-target"
host_log="$logs/host-tests.log"
rm -f "$logs"/lint-*.rc
lint_rc() { # name: one more test passed or failed, by the exit status in lint-NAME.rc
	if [ "$(cat "$logs/lint-$1.rc" 2>/dev/null)" = 0 ]; then
		passed=$((passed + 1)) && echo "PASS lint $1"
	else
		failed=$((failed + 1)) && echo "FAIL lint $1 ($logs/lint-$1.log)" && tail -5 "$logs/lint-$1.log"
	fi
}
lint() { # name command...: runs the lint, then counts it as lint_rc does
	local rc=0
	"${@:2}" >"$logs/lint-$1.log" 2>&1 || rc=$?
	echo "$rc" >"$logs/lint-$1.rc"
	lint_rc "$1"
}
host_results() { # counts what host_checks left in the logs
	local h_pass
	echo "== host: cargo test (tools/, shared parser)"
	grep -aE '^test .* FAILED|panicked' "$host_log" | head -20 >&2 || true
	h_pass=$(grep -aoE 'test result: [a-zA-Z]+\. [0-9]+ passed; [0-9]+ failed' "$host_log" |
		awk '{p += $4; f += $6} END {print p + 0, f + 0}')
	if ! grep -aq 'test result:' "$host_log"; then
		echo "check: host tests did not run (see $host_log)" >&2
		tail -20 "$host_log" >&2
		failed=$((failed + 1))
	fi
	echo "host: ${h_pass% *} passed, ${h_pass#* } failed"
	passed=$((passed + ${h_pass% *}))
	failed=$((failed + ${h_pass#* }))
	echo "== lint: cargo fmt, clippy"
	lint_rc cargo-fmt
	lint_rc clippy
}

"$TOP/testbed/tools.sh"
took "guest tools (kernels building meanwhile)"
echo "== waiting for the $first kernel"
if ! finish "$first" "${kernel_build[$first]}"; then
	echo "$passed passed, $((failed + 1)) failed"
	exit 1
fi
kdir=$(tail -1 "$(logs_of "$first")")
took "rest of the $first kernel"
echo "== lint: kernel rustfmt, checkpatch"
lint kernel-rustfmt rustfmt --edition 2021 --config-path "$kdir/source/.rustfmt.toml" --check "$TOP/module/gfn_main.rs"
# An out-of-tree module must test the kernel's version (shim/compat.h),
# which checkpatch discourages for code merged into one kernel.
lint checkpatch "$kdir/source/scripts/checkpatch.pl" --no-tree --quiet \
	--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON -f "$TOP"/shim/*.c "$TOP"/shim/*.h
# The boundary is the only kernel Rust with unsafe code or raw bindings.
lint boundary "$TOP/testbed/boundary.sh"
echo "== dkms: dkms.conf builds the module against the $first kernel"
"$TOP/testbed/dkms-test.sh" "$kdir" >"$logs/dkms-test.log" 2>&1 || true
grep -aE '^(PASS|FAIL)' "$logs/dkms-test.log" || true
count "$logs/dkms-test.log"

guest_job() { # kernel job log: boots the kernel for the job, shows and counts its results
	if "$TOP/testbed/guest.sh" "$1" "$2" "$3"; then
		:
	else
		echo "check: the $1 guest run ($2) failed (serial log: $3)" >&2
		# A splat or a missing exit line fails the run even if tests passed.
		grep -aq '^GUEST-EXIT rc=0' "$3" && failed=$((failed + 1))
	fi
	sed -n '/^GUEST-START/,/^---- guest dmesg/p' "$3" | grep -aE '^(suite:|PASS|FAIL|SKIP|TIMEOUT|GUEST)' || true
	count "$3"
}

slowest= host_job=
for flavour in $kernels; do
	if [ "$flavour" != "$first" ]; then
		echo "== waiting for the $flavour kernel"
		if ! finish "$flavour" "${kernel_build[$flavour]}"; then
			failed=$((failed + 1))
			continue
		fi
		took "rest of the $flavour kernel"
	fi
	if [ "$flavour" = "${kernels##* }" ]; then
		# The last suite: the host tests and lints run beside it, at the
		# lowest priority, taking what its two vCPUs leave idle (it waits
		# on timers and child processes) without slowing its timed tests.
		background 19 0 "$logs/host-checks.log" "$TOP/testbed/host-checks.sh"
		host_job=${builds[-1]}
	fi
	echo "== guest suite on the $flavour kernel"
	log="$logs/guest-$flavour-check.log"
	guest_job "$flavour" check "$log"
	# What guest tests handed over, checked here by programs the guest
	# lacks (promtool, the Prometheus client, rsvg-convert).
	art_log="$logs/host-artifacts-$flavour.log"
	PROMTOOL="$PROMTOOL" /usr/bin/python3 "$TOP/testbed/artifacts.py" "$log" "$log.artifacts" \
		"$CACHE/artifacts/$flavour" >"$art_log" 2>&1 || true
	grep -aE '^(PASS|FAIL)' "$art_log" || true
	count "$art_log"
	slowest+=$("$TOP/testbed/slowest.sh" "$log" "$flavour" || true)$'\n'
	took "$flavour guest suite"
	case "$flavour" in
	debian-*)
		# A kernel with the lockdown LSM: its refusal of the unsigned
		# module, in a boot of its own (testbed/refusals-guest.sh).
		echo "== refusals on the $flavour kernel (a boot under lockdown)"
		guest_job "$flavour" refusals "$logs/guest-$flavour-refusals.log"
		took "$flavour refusals"
		;;
	esac
done

if [ -z "$host_job" ]; then # the last suite did not run
	background 19 0 "$logs/host-checks.log" "$TOP/testbed/host-checks.sh"
	host_job=${builds[-1]}
fi
echo "== waiting for the host tests"
wait "$host_job" || true
took "rest of the host tests"
host_results

printf '%s' "$slowest"
echo "== make check: $((SECONDS / 60)) min $((SECONDS % 60)) s"

echo "logs: $logs"
echo "$skipped skipped (counted neither passed nor failed; the SKIP lines above say why)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
