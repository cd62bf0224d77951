#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# The tillroll command, make install and make uninstall.

load test_helper

@test "tillroll lists the programs and runs one by name" {
	run "$BIN/tillroll" --help
	assert_success
	assert_line "  normalize"
	assert_line "  gen-day"
	refute_line "  lib-check"
	run "$BIN/tillroll" normalize --version
	assert_output --regexp '^normalize \(tillroll\) '
	run "$BIN/tillroll" --version
	assert_output --regexp '^tillroll [0-9]'
}

@test "tillroll refuses what is not one of its programs" {
	run "$BIN/tillroll"
	assert_failure 64
	run --separate-stderr "$BIN/tillroll" frobnicate
	assert_failure 64
	[[ "$stderr" == "tillroll: 'frobnicate' is not a tillroll program"* ]]
	run "$BIN/tillroll" ../bin/normalize
	assert_failure 64
	run "$BIN/tillroll" tillroll
	assert_failure 64
}

@test "make install puts programs, command and manual pages in place; uninstall removes them" {
	local p=$BATS_TEST_TMPDIR/prefix
	make -s -C "$TOP" install PREFIX="$p" >/dev/null
	assert_file_executable "$p/libexec/tillroll/normalize"
	assert_file_executable "$p/bin/tillroll"
	assert_file_exists "$p/share/man/man1/normalize.1"
	assert_file_exists "$p/share/man/man5/tillroll-records.5"
	run "$p/bin/tillroll" normalize --version
	assert_success
	run "$p/bin/tillroll" daily --help
	assert_success
	assert_line --index 0 --partial "usage: daily"
	printf '%s\n' '{"kind":"x"}' | "$p/bin/tillroll" normalize --stats /dev/null >"$BATS_TEST_TMPDIR/o"
	assert_file_not_empty "$BATS_TEST_TMPDIR/o"
	make -s -C "$TOP" uninstall PREFIX="$p" >/dev/null
	assert_file_not_exists "$p/libexec/tillroll/normalize"
	assert_file_not_exists "$p/libexec/tillroll/pipelines/daily"
	assert_file_not_exists "$p/bin/tillroll"
	assert_file_not_exists "$p/share/man/man1/normalize.1"
}

@test "every program has a manual page that renders without errors" {
	for c in "$TOP"/src/*.c; do
		local page=${c%.c}.1
		assert_file_exists "$page"
		run sh -c "man -l -Tutf8 '$page' 2>&1 >/dev/null | grep -v 'cannot adjust line'"
		assert_output ""
	done
}
