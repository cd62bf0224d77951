#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# normalize: raw envelopes in, canonical records out.

load test_helper

setup() {
	CASES=$BATS_TEST_DIRNAME/normalize/cases
	OUT=$BATS_TEST_TMPDIR
}

# Every case under normalize/cases: CASE.in.ndjson (+ CASE.args) gives
# exactly CASE.out.ndjson, CASE.rejects.ndjson, CASE.stderr and the exit
# status in CASE.status; the ledger balances; and every input line is
# accounted for, in the output (by its digest in src, or passed through
# as it was) or in the rejects (by its line number).
@test "data-driven cases give their expected records, rejects and status" {
	local n=0 name
	for in in "$CASES"/*.in.ndjson; do
		name=$(basename "$in" .in.ndjson)
		"$DATA/normalize/run-case" "$BIN" "$name" "$OUT"
		for x in out.ndjson rejects.ndjson stderr status; do
			diff -u "$CASES/$name.$x" "$OUT/$name.$x" ||
			    fail "case $name: $x differs"
		done
		assert_ledger "$OUT/$name.stats.json"
		run "$DATA/normalize/accounted" "$in" "$OUT/$name.out.ndjson" \
		    "$OUT/$name.rejects.ndjson" "$OUT/$name.stats.json"
		[ "$status" -eq 0 ] || fail "case $name: $output"
		n=$((n + 1))
	done
	[ "$n" -ge 10 ]
}

@test "every Shopify sample payload normalizes or is rejected with its reason" {
	[ -d "$FIXTURES" ] || fail "no fixtures at $FIXTURES"
	run "$DATA/normalize/fixture-outcomes" "$BIN" "$FIXTURES"
	assert_success
	diff -u "$DATA/normalize/fixtures.expected" <(printf '%s\n' "$output")
	# The table covers every kind the issue names, and both outcomes.
	grep -q ': ok (order' "$DATA/normalize/fixtures.expected"
	grep -q 'inconsistent_totals: payout' "$DATA/normalize/fixtures.expected"
}

@test "money keeps its exact value and its currency's scale" {
	run jq -r 'select(.key == "demo/payout/512467833") | .amount' \
	    "$CASES/graphql-payments.out.ndjson"
	assert_output "41.90"   # GraphQL "41.9"
	run jq -r 'select(.kind == "settlement" and .type == "payout") | .net' \
	    "$CASES/graphql-payments.out.ndjson"
	assert_output "-41.90"  # GraphQL "-41.9"
	run jq -r 'select(.kind == "refund") | .lines[0].subtotal' \
	    "$CASES/rest-refund-number.out.ndjson"
	assert_output "195.66"  # the JSON number 195.66
	run jq -r 'select(.kind == "order") | .totals.total' \
	    "$CASES/tenth.out.ndjson"
	assert_output "1.00"    # ten lines of "0.1"
	run jq -r 'select(.kind == "order") | "\(.currency) \(.lines[0].unit_price) \(.totals.total)"' \
	    "$CASES/currencies.out.ndjson"
	assert_line --index 0 "JPY 1650 4070"
	assert_line --index 1 "KWD 1.500 4.500"
}

@test "an id above 2^53 is kept digit for digit as text, or rejected as a number" {
	run jq -r '.reason + " " + .detail' "$CASES/ids.rejects.ndjson"
	assert_output "bad_id 'id' is a JSON number above 2^53 whose digits were not kept exactly"
	# The reject keeps the line as it came, digits and all.
	grep -q '"id":9007199254740993,' "$CASES/ids.rejects.ndjson"
	run jq -r 'select(.kind == "payment") | .id + " " + .order_id' \
	    "$CASES/ids.out.ndjson"
	assert_line --index 0 "9007199254740993 12345678901234567890"
}

@test "every amount in an order record is a string" {
	for f in "$CASES"/*.out.ndjson; do
		# Numbers are allowed only for counts, indexes and the version.
		run jq -c 'select(.kind == "order") | [paths(numbers)]
		    | map(select(.[-1] | IN("quantity", "current_quantity",
		        "application_index", "v", "line") | not)) | select(length > 0)' "$f"
		assert_output ""
	done
	run jq -c 'select(.kind == "order") | .totals.total | type' \
	    "$CASES/graphql-order.out.ndjson"
	assert_output '"string"'
}

@test "the same input gives byte-identical output, from a file, stdin or gzip" {
	cd "$CASES"
	"$BIN/normalize" --stats /dev/null graphql-order.in.ndjson >"$OUT/a"
	"$BIN/normalize" --stats /dev/null graphql-order.in.ndjson >"$OUT/b"
	cmp "$OUT/a" "$OUT/b"
	gzip -c graphql-order.in.ndjson >"$OUT/graphql-order.in.ndjson.gz"
	"$BIN/normalize" --stats /dev/null - <"$OUT/graphql-order.in.ndjson.gz" \
	    | jq -c 'del(.src.file)' >"$OUT/c"
	jq -c 'del(.src.file)' "$OUT/a" >"$OUT/a2"
	cmp "$OUT/a2" "$OUT/c"
}

@test "the sample day normalizes to the committed expected file" {
	[ -f "$TOP/samples/day/00-extract.ndjson" ] || fail "no sample day"
	cd "$TOP/samples/day"
	run --separate-stderr "$BIN/normalize" --stats "$OUT/stats" 00-extract.ndjson
	assert_success
	printf '%s\n' "$output" >"$OUT/day"
	cmp "$OUT/day" 10-normalize.expected.ndjson
	assert_ledger "$OUT/stats"
	run jq -e '.rejected == 0 and .in > 0' "$OUT/stats"
	assert_success
}

@test "--help, --version and bad usage" {
	run "$BIN/normalize" --help
	assert_success
	assert_line --index 0 --partial "usage: normalize"
	run "$BIN/normalize" --version
	assert_output --regexp '^normalize \(tillroll\) [0-9]+\.[0-9]+\.[0-9]+$'
	run --separate-stderr "$BIN/normalize" --bogus
	assert_failure 64
	[[ "$stderr" == *"usage: normalize"* ]]
	run --separate-stderr "$BIN/normalize" --pii maybe
	assert_failure 64
	[[ "$stderr" == "normalize: --pii: 'maybe' is not keep, hash or drop"* ]]
	run --separate-stderr "$BIN/normalize" --currency euro
	assert_failure 64
}

@test "a write error on stdout exits 74" {
	run bash -c "'$BIN/normalize' --stats /dev/null '$CASES/graphql-order.in.ndjson' >/dev/full"
	assert_failure 74
	assert_output --partial "normalize: write error on standard output"
}

@test "a truncated .gz exits 74 after the records it could read" {
	for i in $(seq 1 3000); do cat "$CASES/tenth.in.ndjson"; done | gzip >"$OUT/full.gz"
	head -c 2000 "$OUT/full.gz" >"$OUT/cut.gz"
	run --separate-stderr "$BIN/normalize" --stats "$OUT/stats" "$OUT/cut.gz"
	assert_failure 74
	[[ "$stderr" == *"cut.gz': truncated gzip input"* ]]
	run jq -e '.in > 0 and .in == .out' "$OUT/stats"
	assert_success
}

@test "an input that cannot be opened exits 66, and the rest is still read" {
	run --separate-stderr "$BIN/normalize" --stats /dev/null "$OUT/missing" \
	    "$CASES/tenth.in.ndjson"
	assert_failure 66
	[[ "$stderr" == "normalize: cannot open '$OUT/missing': No such file or directory" ]]
	[ "${#lines[@]}" -eq 1 ]
	if [ "$(id -u)" -ne 0 ]; then
		cp "$CASES/tenth.in.ndjson" "$OUT/secret" && chmod 000 "$OUT/secret"
		run "$BIN/normalize" --stats /dev/null "$OUT/secret"
		assert_failure 66
	fi
	# A directory opens but cannot be read: an I/O error.
	run --separate-stderr "$BIN/normalize" --stats /dev/null "$OUT"
	assert_failure 74
}

@test "a rejects file that cannot be created exits 74 before reading" {
	run --separate-stderr "$BIN/normalize" --rejects /nonexistent/dir/r \
	    "$CASES/tenth.in.ndjson"
	assert_failure 74
	assert_output ""
}

@test "stats go to stderr by default, as one JSON object with the counts" {
	run --separate-stderr "$BIN/normalize" "$CASES/bad-money.in.ndjson"
	assert_failure 65
	jq -e '.stage == "normalize" and .in == 11 and .rejected == 11
	    and .rejected_by_reason.inconsistent_totals == 3
	    and (.wall_ms | type) == "number"' <<<"${stderr_lines[-1]}"
}

@test "--pii hash replaces personal data by a keyed hash that still joins" {
	printf 'k3y-for-tests\n' >"$OUT/key"
	chmod 600 "$OUT/key"
	run --separate-stderr "$BIN/normalize" --pii hash --pii-key-file "$OUT/key" \
	    --stats /dev/null "$CASES/graphql-order.in.ndjson"
	assert_success
	local email cust_email
	email=$(jq -r 'select(.kind == "order") | .email' <<<"$output")
	cust_email=$(jq -r 'select(.kind == "order") | .customer.email' <<<"$output")
	# "Ada@Example.com" on both: equal values give equal hashes.
	[ "$email" = "$cust_email" ]
	expected=$(printf 'ada@example.com' | "$BIN/lib-check" hmac k3y-for-tests)
	[ "$email" = "hmac:$expected" ]
	refute_output --partial "Lovelace"
	refute_output --partial "Rue Neuve"
	refute_output --partial "k3y-for-tests"
	jq -s -e 'map(select(.kind == "order"))[0].billing_address.city == "Bruxelles"' <<<"$output"
	# The same through the environment.
	TILLROLL_PII_KEY=k3y-for-tests run --separate-stderr "$BIN/normalize" \
	    --pii hash --stats /dev/null "$CASES/graphql-order.in.ndjson"
	[ "$(jq -r 'select(.kind == "order") | .email' <<<"$output")" = "$email" ]
}

@test "--pii hash refuses a key file others can read (77) and no key (78)" {
	printf 'k3y-for-tests\n' >"$OUT/key"
	chmod 644 "$OUT/key"
	run --separate-stderr "$BIN/normalize" --pii hash --pii-key-file "$OUT/key" </dev/null
	assert_failure 77
	[[ "$stderr" == *"readable by group or others"* ]]
	[[ "$stderr" != *"k3y"* ]]
	run --separate-stderr env -u TILLROLL_PII_KEY "$BIN/normalize" --pii hash </dev/null
	assert_failure 78
}

@test "--jq: a program that does not compile exits 78, a runtime error rejects" {
	printf '.kind |||' >"$OUT/bad.jq"
	run --separate-stderr "$BIN/normalize" --jq "$OUT/bad.jq" </dev/null
	assert_failure 78
	[[ "$stderr" == *"'$OUT/bad.jq' does not compile"* ]]
	printf 'if .kind == "customer" then error("no customers here") else . end' >"$OUT/err.jq"
	run --separate-stderr "$BIN/normalize" --jq "$OUT/err.jq" --rejects "$OUT/rej" \
	    --stats /dev/null "$CASES/jq.in.ndjson"
	assert_failure 65
	[ "$(jq -r .reason "$OUT/rej" | sort -u)" = "jq_error" ]
	[ "$(jq -r .detail "$OUT/rej" | sort -u)" = "jq: no customers here" ]
	[ "$(jq -s length <<<"$output")" -eq 1 ]
}

# The generator plants its figures in a facts file; normalize must find
# every one of them again, to the cent, in every currency scale.
@test "generated days normalize without a reject and agree with their facts" {
	for cur in EUR JPY KWD; do
		"$BIN/gen-day" --orders 600 --seed 11 --currency "$cur" \
		    --facts "$OUT/facts" >"$OUT/day"
		run --separate-stderr "$BIN/normalize" --stats "$OUT/stats" "$OUT/day"
		assert_success
		printf '%s\n' "$output" >"$OUT/out"
		jq -e '.rejected == 0' "$OUT/stats"
		jq -sc '[.[] | select(.fact == "order")
		    | {key, total, subtotal, tax, shipping, discounts, refunded}]
		    | sort_by(.key)' "$OUT/facts" >"$OUT/planted"
		jq -sc '[.[] | select(.kind == "order") | {key, total: .totals.total,
		    subtotal: .totals.subtotal, tax: .totals.tax,
		    shipping: .totals.shipping, discounts: .totals.discounts,
		    refunded: .totals.refunded}] | sort_by(.key)' "$OUT/out" >"$OUT/found"
		diff "$OUT/planted" "$OUT/found" || fail "$cur: orders differ from the facts"
		jq -sc '[.[] | select(.fact == "payout") | {key, amount}] | sort_by(.key)' \
		    "$OUT/facts" >"$OUT/planted"
		jq -sc '[.[] | select(.kind == "payout") | {key, amount}] | sort_by(.key)' \
		    "$OUT/out" >"$OUT/found"
		diff "$OUT/planted" "$OUT/found" || fail "$cur: payouts differ from the facts"
		# Each payout's settlement lines (all but its own row) sum to it,
		# in integer minor units.
		run jq -rs '
		    def minor: (split(".") + ["0"]) as $p
		        | ($p[0] | ltrimstr("-") | tonumber) * pow(10; $p[1] | length)
		          + ($p[1] | tonumber)
		        | if $p[0] | startswith("-") then -. else . end;
		    (map(select(.kind == "payout") | {key: .key, value: (.amount | minor)})
		        | from_entries) as $payouts
		    | [.[] | select(.kind == "settlement" and .type != "payout"
		        and .payout_key != null)]
		    | group_by(.payout_key)
		    | map({key: .[0].payout_key, sum: (map(.net | minor) | add)})
		    | (length | tostring), (.[] | select(.sum != $payouts[.key])
		        | "\(.key): lines sum to \(.sum), payout is \($payouts[.key])")' \
		    "$OUT/out"
		assert_success
		[ "${lines[0]}" -ge 1 ]
		[ "${#lines[@]}" -eq 1 ] || fail "$cur: ${lines[*]:1}"
	done
}
