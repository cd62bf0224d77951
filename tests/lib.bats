#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# The shared library, through tests/lib-check.c.

load test_helper

# table FILE: run "lib-check ARGS..." for each "args<TAB>expected" line.
table() {
	local args expected n=0
	while IFS='	' read -r args expected; do
		case "$args" in '#'*|'') continue ;; esac
		# shellcheck disable=SC2086
		run "$BIN/lib-check" $args
		[ "$output" = "$expected" ] ||
		    fail "lib-check $args: got '$output', expected '$expected'"
		n=$((n + 1))
	done <"$1"
	[ "$n" -gt 0 ] || fail "no cases in $1"
}

@test "money parses Shopify's texts exactly, in each currency's scale" {
	cat >"$BATS_TEST_TMPDIR/t" <<'T'
money-parse EUR -41.9	-4190
money-parse EUR 195.66	19566
money-parse EUR 0.0	0
money-parse EUR 12.30	1230
money-parse EUR 348.0	34800
money-parse EUR -0.05	-5
money-parse JPY 1000	1000
money-parse JPY 1000.0	1000
money-parse KWD 1.5	1500
money-parse KWD -0.005	-5
money-parse CLF 1.2345	12345
money-parse EUR 92233720368547758.07	9223372036854775807
money-parse EUR 92233720368547758.08	error: is out of range
money-parse EUR 1.005	error: has more decimal places than its currency
money-parse JPY 1.5	error: has more decimal places than its currency
money-parse EUR 12.3.4	error: is not a decimal amount
money-parse EUR 1e2	error: is not a decimal amount
money-parse EUR .5	error: is not a decimal amount
money-parse EUR 5.	error: is not a decimal amount
money-parse EUR +5	error: is not a decimal amount
money-parse EUR -	error: is not a decimal amount
money-parse EUR 1,00	error: is not a decimal amount
T
	table "$BATS_TEST_TMPDIR/t"
}

@test "money formats with exactly the currency's minor digits" {
	cat >"$BATS_TEST_TMPDIR/t" <<'T'
money-format EUR 1230	12.30
money-format EUR -5	-0.05
money-format EUR 0	0.00
money-format JPY 1000	1000
money-format JPY -7	-7
money-format KWD 1500	1.500
money-format KWD -5	-0.005
money-format EUR -9223372036854775808	-92233720368547758.08
T
	table "$BATS_TEST_TMPDIR/t"
}

@test "ten times 0.1 is exactly 1.00, and overflow is caught" {
	run "$BIN/lib-check" money-sum EUR 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1 0.1
	assert_output "1.00"
	run "$BIN/lib-check" money-sum EUR 92233720368547758.07 0.01
	assert_failure
	assert_output --partial "error: '0.01'"
}

@test "currency exponents come from ISO 4217, unknown text is refused" {
	run "$BIN/lib-check" money-parse eur 1
	assert_failure 64
	run "$BIN/lib-check" money-parse EURO 1
	assert_failure 64
}

@test "timestamps with any offset become UTC RFC 3339" {
	cat >"$BATS_TEST_TMPDIR/t" <<'T'
utc 2022-07-12T10:01:39+02:00	2022-07-12T08:01:39Z
utc 2024-01-10T07:34:56-05:00	2024-01-10T12:34:56Z
utc 2025-06-30T23:32:39-0400	2025-07-01T03:32:39Z
utc 2026-11-26T14:03:00Z	2026-11-26T14:03:00Z
utc 2026-11-26T14:03:00.120Z	2026-11-26T14:03:00.120Z
utc 2024-02-29T23:30:00-01:00	2024-03-01T00:30:00Z
utc 2026-01-01T00:30:00+01	2025-12-31T23:30:00Z
utc 2026-11-26T14:03:00	error: is not a timestamp with an offset
utc 2026-02-29T00:00:00Z	error: is not a timestamp with an offset
utc 2026-11-26T24:00:00Z	error: is not a timestamp with an offset
utc 2019-11-12	error: is not a timestamp with an offset
date 2019-11-12	ok
date 2019-13-12	error: is not a date (YYYY-MM-DD)
T
	table "$BATS_TEST_TMPDIR/t"
	# The CSV export's form has a space before the offset.
	run "$BIN/lib-check" utc "2025-06-30 23:32:39 -0400"
	assert_output "2025-07-01T03:32:39Z"
}

@test "durations and instants for watermarks" {
	cat >"$BATS_TEST_TMPDIR/t" <<'T'
duration 90	90
duration 90s	90
duration 30m	1800
duration 1h	3600
duration 2d	172800
duration 1w	-1
duration -5	-1
duration h	-1
duration 1hh	-1
epoch 2026-11-26T00:00:00Z	1795651200 2026-11-26T00:00:00Z
epoch 2026-11-26T01:00:00+01:00	1795651200 2026-11-26T00:00:00Z
epoch 2026-11-26	error
day 1970-01-01	0
day 2000-01-01	10957
day 2000-03-01	11017
day 2026-11-26	20783
day 2028-02-29	21243
day 2027-02-29	-1
day 2026-11-26T00:00:00Z	-1
T
	table "$BATS_TEST_TMPDIR/t"
}

@test "ids are kept digit for digit or refused, never rounded" {
	cat >"$BATS_TEST_TMPDIR/t" <<'T'
id 450789469	450789469
id "5730011234"	5730011234
id "gid://shopify/Order/4573850468424"	4573850468424
id "gid://shopify/InventoryLevel/9?inventory_item_id=8"	9
id "12345678901234567890"	12345678901234567890
id 9007199254740991	9007199254740991
id 9007199254740993	error: is a JSON number above 2^53 whose digits were not kept exactly
id 1e20	error: is a JSON number above 2^53 whose digits were not kept exactly
id 7128676925696.5	error: is not an identifier
id -4	error: is not an identifier
id "abc"	error: is not an identifier
id null	error: is not an identifier
T
	table "$BATS_TEST_TMPDIR/t"
}

@test "the canonical writer prints what jq -cS prints, in any member order" {
	local cases="$TOP/tests/lib/jw-cases.ndjson" records="$TOP/samples/day/10-normalize.expected.ndjson"
	local mode
	jq -cS . "$cases" >"$BATS_TEST_TMPDIR/want"
	jq -cS . "$records" >>"$BATS_TEST_TMPDIR/want"
	for mode in jv build reversed; do
		cat "$cases" "$records" | "$BIN/lib-check" jw "$mode" >"$BATS_TEST_TMPDIR/got"
		cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" ||
		    fail "jw $mode differs from jq -cS"
	done
}

@test "jr reads every line as libjq does: values, numbers, errors" {
	# Tricky lines, every fixture and the sample day, then fuzzed lines:
	# jr's reading written back must be libjq's byte for byte, and a line
	# libjq refuses is refused with libjq's words.
	local in="$BATS_TEST_TMPDIR/in" seed
	cat "$TOP/tests/lib/jr-cases.ndjson" "$TOP/samples/day/00-extract.ndjson" >"$in"
	cat "$FIXTURES"/shopify/*.json | jq -c . >>"$in"
	for seed in 1 2 3; do
		python3 "$TOP/tests/lib/jr-fuzz.py" "$seed" 3000 >>"$in"
	done
	"$BIN/lib-check" jr jv <"$in" >"$BATS_TEST_TMPDIR/want"
	"$BIN/lib-check" jr jr <"$in" >"$BATS_TEST_TMPDIR/got"
	cmp "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" ||
	    fail "jr and libjq differ: $(diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got" | head -5)"
	# The comparison covers both sides of the line: some are refused.
	run -0 grep -c '^error: ' "$BATS_TEST_TMPDIR/got"
	[ "$output" -gt 1000 ]
	run -0 grep -c -v '^error: ' "$BATS_TEST_TMPDIR/got"
	[ "$output" -gt 1000 ]
	run -0 grep -Fx 'error: Exceeds depth limit for parsing at line 1, column 257' "$BATS_TEST_TMPDIR/got"
	run -0 grep -Fx '{"n":[9007199254740992,1.7976931348623157e+308,-1.7976931348623157e+308,0,0.1,0.30000000000000004,3.141592653589793,1e+20]}' "$BATS_TEST_TMPDIR/got"
}

@test "jr answers lookups: the last of a name given twice, numbers as libjq prints them, ids" {
	run -0 "$BIN/lib-check" jr-get a b r i big gid s none <<'EOF'
{"a":1,"b":"x","a":"second","r":0.060,"i":450789469,"big":9007199254740993,"gid":"gid://shopify/Order/450789469","s":"a\u0000b"}
EOF
	assert_line 'a: "second" kind=5 len=0 str=second id-error=is not an identifier'
	assert_line 'b: "x" kind=5 len=0 str=x id-error=is not an identifier'
	assert_line 'r: 0.06 kind=4 len=0 number=0.06 id-error=is not an identifier'
	assert_line 'i: 450789469 kind=4 len=0 number=450789469 id=450789469'
	assert_line 'big: 9007199254740992 kind=4 len=0 number=9007199254740992 id-error=is a JSON number above 2^53 whose digits were not kept exactly'
	assert_line 'gid: "gid://shopify/Order/450789469" kind=5 len=0 str=gid://shopify/Order/450789469 id=450789469'
	assert_line 's: "a\u0000b" kind=5 len=0 str=a id-error=is not an identifier'
	assert_line 'none: null kind=0 len=0 id-error=is not an identifier'
	run -65 "$BIN/lib-check" jr-get a <<<'{"a":'
	assert_output 'error: Unfinished JSON term at EOF at line 2, column 0'
}

@test "canonical text is recognised, and only canonical text" {
	local cases="$TOP/tests/lib/canon-cases.txt" n=0 line want got
	cut -f1 "$cases" | "$BIN/lib-check" canon >"$BATS_TEST_TMPDIR/out"
	grep -v '^{' "$BATS_TEST_TMPDIR/out" >"$BATS_TEST_TMPDIR/verdicts"
	while IFS='	' read -r line want; do
		n=$((n + 1))
		got=$(sed -n "${n}p" "$BATS_TEST_TMPDIR/verdicts")
		[ "$got" = "$want" ] || fail "case $n ($line): got '$got', expected '$want'"
	done <"$cases"
	[ "$n" -gt 20 ]
	# Whatever it calls canonical, jq prints the same, and the merged
	# members land where jq -cS would put them.
	cat "$TOP/samples/day/10-normalize.expected.ndjson" >"$BATS_TEST_TMPDIR/in"
	cut -f1 "$cases" >>"$BATS_TEST_TMPDIR/in"
	"$BIN/lib-check" canon <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/out"
	grep -A1 '^canonical' "$BATS_TEST_TMPDIR/out" | grep '^{' >"$BATS_TEST_TMPDIR/merged"
	jq -cS . "$BATS_TEST_TMPDIR/merged" | cmp - "$BATS_TEST_TMPDIR/merged"
	run -0 bash -c "'$BIN/lib-check' canon <'$TOP/samples/day/10-normalize.expected.ndjson' | grep -c '^canonical'"
	assert_output "$(wc -l <"$TOP/samples/day/10-normalize.expected.ndjson")"
}

@test "text kept in a pool stays put across blocks, large pieces and a reset" {
	# Pieces smaller and larger than a block (64 kB), a reset that keeps
	# the blocks, then pieces that do not fit the blocks kept.
	run -0 "$BIN/lib-check" textpool 10 70000 10 65536 reset 5 70000 100000 65535 1 0 200000 3
	assert_output "8 pieces intact"
}

@test "a member written twice keeps the value written last" {
	run "$BIN/lib-check" jw-twice
	assert_success
	assert_output '{"a":{"x":"-41.90","y":[null,false]},"z":"2"}'
}

@test "SHA-256 and HMAC-SHA256 match the published test vectors" {
	sha_vectors
}

@test "the portable SHA-256 (no x86 SHA extensions) matches them too" {
	TILLROLL_PORTABLE_SHA256=1 sha_vectors
}

sha_vectors() {
	export TILLROLL_PORTABLE_SHA256
	run "$BIN/lib-check" sha256 < <(printf abc)
	assert_output ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
	run "$BIN/lib-check" sha256 < /dev/null
	assert_output e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855
	# 1,000,000 'a' (FIPS 180-2 appendix B.3) crosses many blocks.
	run "$BIN/lib-check" sha256 < <(head -c 1000000 /dev/zero | tr '\0' a)
	assert_output cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0
	# RFC 4231 test case 2.
	run "$BIN/lib-check" hmac Jefe < <(printf 'what do ya want for nothing?')
	assert_output 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843
}

@test "the line reader: files in order, CRLF, blank lines, no final newline" {
	printf '{"a":1}\r\n\n  \n{"b":2}' >"$BATS_TEST_TMPDIR/one"
	printf '{"c":3}\n' >"$BATS_TEST_TMPDIR/two"
	run "$BIN/lib-check" lines "$BATS_TEST_TMPDIR/one" "$BATS_TEST_TMPDIR/two"
	assert_success
	assert_line --index 0 "$BATS_TEST_TMPDIR/one:1:{\"a\":1}"
	assert_line --index 1 "$BATS_TEST_TMPDIR/one:4:{\"b\":2}"
	assert_line --index 2 "$BATS_TEST_TMPDIR/two:1:{\"c\":3}"
}

@test "the line reader reads gzip transparently, also on stdin" {
	printf '{"a":1}\n{"b":2}\n' | gzip >"$BATS_TEST_TMPDIR/x.gz"
	run "$BIN/lib-check" lines "$BATS_TEST_TMPDIR/x.gz"
	assert_success
	assert_line --index 1 "$BATS_TEST_TMPDIR/x.gz:2:{\"b\":2}"
	run "$BIN/lib-check" lines < "$BATS_TEST_TMPDIR/x.gz"
	assert_line --index 0 '<stdin>:1:{"a":1}'
}

@test "a truncated gzip file is an error, not a short file" {
	seq 1 20000 | sed 's/.*/{"n":&}/' | gzip >"$BATS_TEST_TMPDIR/full.gz"
	head -c 20000 "$BATS_TEST_TMPDIR/full.gz" >"$BATS_TEST_TMPDIR/cut.gz"
	run --separate-stderr "$BIN/lib-check" lines "$BATS_TEST_TMPDIR/cut.gz"
	assert_failure 74
	[[ "$stderr" == *"cut.gz': truncated gzip input"* ]]
}

@test "a long line (2 MB) is read whole" {
	{ printf '{"x":"'; head -c 2000000 /dev/zero | tr '\0' y; printf '"}\n'; } \
	    >"$BATS_TEST_TMPDIR/long"
	run "$BIN/lib-check" lines "$BATS_TEST_TMPDIR/long"
	assert_success
	[ "${#output}" -eq $((${#BATS_TEST_TMPDIR} + 5 + 3 + 2000008)) ]
}

@test "a missing file is reported and the others are still read" {
	printf '{"a":1}\n' >"$BATS_TEST_TMPDIR/ok"
	run --separate-stderr "$BIN/lib-check" lines "$BATS_TEST_TMPDIR/nope" "$BATS_TEST_TMPDIR/ok"
	assert_failure 66
	assert_output "$BATS_TEST_TMPDIR/ok:1:{\"a\":1}"
	[[ "$stderr" == "lib-check: cannot open '$BATS_TEST_TMPDIR/nope': No such file or directory" ]]
}
