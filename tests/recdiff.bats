#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# recdiff ("tillroll diff"): two record files compared by key.

load test_helper

setup() {
	A=$BATS_TEST_TMPDIR/a.ndjson
	B=$BATS_TEST_TMPDIR/b.ndjson
	cat >"$A" <<'R'
{"currency":"EUR","key":"demo/order/1","kind":"order","lines":[{"quantity":2,"sku":"TEA"}],"totals":{"total":"60.19"}}
{"amount":"60.19","currency":"EUR","key":"demo/payment/7","kind":"payment"}
{"currency":"JPY","key":"tokyo/order/9","kind":"order","id":"9","totals":{"total":"4070"}}
R
}

@test "identical files: no output, exit 0" {
	cp "$A" "$B"
	run "$BIN/recdiff" "$A" "$B"
	assert_success
	assert_output ""
}

@test "the same records in another order and key order are equal" {
	jq -cS . "$A" | tac >"$B"
	run "$BIN/recdiff" "$A" "$B"
	assert_success
}

@test "added, removed and changed records, in key order, money as money" {
	cat >"$B" <<'R'
{"currency":"EUR","key":"demo/order/1","kind":"order","lines":[{"quantity":3,"sku":"TEA"}],"totals":{"total":"60.20"},"note":"edited"}
{"currency":"JPY","key":"tokyo/order/9","kind":"order","id":"9","totals":{"total":"4000"}}
{"key":"demo/dispute/3","kind":"dispute"}
R
	run "$BIN/recdiff" "$A" "$B"
	assert_failure 1
	cat >"$BATS_TEST_TMPDIR/expected" <<'E'
+ demo/dispute/3 (dispute)
~ demo/order/1 (order)
    lines[0].quantity: 2 -> 3
    totals.total: 60.19 EUR -> 60.20 EUR (+0.01)
    note: (absent) -> "edited"
- demo/payment/7 (payment)
~ tokyo/order/9 (order)
    totals.total: "4070" -> "4000"
E
	diff -u "$BATS_TEST_TMPDIR/expected" <(printf '%s\n' "$output")
}

@test "--json writes one object per difference, and --ignore skips a field" {
	jq -c 'if .kind == "payment" then .src = {"file": "elsewhere"} else . end' "$A" >"$B"
	run "$BIN/recdiff" --json "$A" "$B"
	assert_failure 1
	assert_output '{"change":"changed","fields":[{"added":true,"from":null,"path":"src","to":{"file":"elsewhere"}}],"key":"demo/payment/7"}'
	run "$BIN/recdiff" --ignore src "$A" "$B"
	assert_success
}

@test "tillroll diff runs recdiff, and gzip files are read" {
	gzip -c "$A" >"$BATS_TEST_TMPDIR/a.gz"
	run "$BIN/tillroll" diff "$BATS_TEST_TMPDIR/a.gz" "$A"
	assert_success
}

@test "errors: usage 64, missing file 66, not JSON 65, duplicate key 65, /dev/full 74" {
	run "$BIN/recdiff" "$A"
	assert_failure 64
	run --separate-stderr "$BIN/recdiff" "$A" "$BATS_TEST_TMPDIR/none"
	assert_failure 66
	[[ "$stderr" == "recdiff: cannot open '$BATS_TEST_TMPDIR/none': No such file or directory" ]]
	printf '{"key":\n' >"$B"
	run --separate-stderr "$BIN/recdiff" "$A" "$B"
	assert_failure 65
	[[ "$stderr" == "recdiff: $B: line 1: not JSON" ]]
	cat "$A" "$A" >"$B"
	run --separate-stderr "$BIN/recdiff" "$A" "$B"
	assert_failure 65
	[[ "$stderr" == "recdiff: $B: line 4: key 'demo/order/1' appears twice (also line 1)" ]]
	printf '{"key":"x/y/1"}\n' >"$B"
	run bash -c "'$BIN/recdiff' '$A' '$B' >/dev/full"
	assert_failure 74
}
