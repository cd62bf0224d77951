#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# match-settlement: every settlement line matched, every payout reconciled.

load test_helper

setup_file() {
	# One generated month (10,020 orders, 119 payouts) and the same month
	# with planted anomalies, each run day by day through one index.
	export MONTH=$BATS_FILE_TMPDIR/month ANOM=$BATS_FILE_TMPDIR/anom
	"$DATA/match-settlement/gen-month" "$BIN" "$MONTH"
	"$DATA/match-settlement/run-month" "$BIN" "$MONTH" "$MONTH/index"
	"$DATA/match-settlement/gen-month" "$BIN" "$ANOM" --anomalies
	"$DATA/match-settlement/run-month" "$BIN" "$ANOM" "$ANOM/index" \
	    --fail-on unbalanced
}

setup() {
	CASES=$DATA/match-settlement/cases
	OUT=$BATS_TEST_TMPDIR
	DAY=$TOP/samples/day/10-normalize.expected.ndjson
}

# The last payout_recon of each payout in the month's outputs.
final_recons() {
	cat "$1"/[0-9][0-9].out.ndjson |
	    jq -c 'select(.kind == "payout_recon")' |
	    jq -sc 'group_by(.key) | map(.[-1]) | .[]'
}

@test "--help, --version and bad usage" {
	run -0 "$BIN/match-settlement" --help
	assert_line --index 0 --partial "usage: match-settlement [--index DIR"
	run -0 "$BIN/match-settlement" --version
	assert_output "match-settlement (tillroll) 0.1.0"
	run -64 --separate-stderr "$BIN/match-settlement" --fail-on sometimes
	[[ $stderr == "match-settlement: --fail-on: 'sometimes' is not a list of unbalanced, incomplete, unmatched, duplicate"* ]]
	run -64 --separate-stderr "$BIN/match-settlement" --date 2026-02-30
	[[ $stderr == "match-settlement: --date: '2026-02-30' is not a date YYYY-MM-DD"* ]]
	run -64 --separate-stderr "$BIN/match-settlement" --overdue-days -1
	[[ $stderr == "match-settlement: --overdue-days: '-1' is not a number of days"* ]]
	run -64 --separate-stderr "$BIN/match-settlement" --index-readonly
	[[ $stderr == "match-settlement: --index-readonly needs --index"* ]]
	run -64 "$BIN/match-settlement" --no-such-option
}

@test "data-driven cases give their expected records, rejects and status" {
	local n=0 name
	for in in "$CASES"/*.in.ndjson; do
		name=$(basename "$in" .in.ndjson)
		"$DATA/match-settlement/run-case" "$BIN" "$name" "$OUT"
		for x in out.ndjson rejects.ndjson stderr status; do
			diff -u "$CASES/$name.$x" "$OUT/$name.$x" ||
			    fail "case $name: $x differs"
		done
		assert_ledger "$OUT/$name.stats.json"
		n=$((n + 1))
	done
	[ "$n" -ge 2 ]
}

@test "PayPal, Stripe and CSV-export lines match by their own rules" {
	"$DATA/match-settlement/run-case" "$BIN" gateways "$OUT"
	run jq -r 'select(.kind == "settlement") |
	    [.key, .match.status, .match.rule, .match.payment_key,
	     .match.refund_key, (.match.candidates // [] | join(","))] | @tsv' \
	    "$OUT/gateways.out.ndjson"
	assert_line --index 0 $'demo/settlement/paypal:9XK11\tmatched\tgateway_transaction_id\tdemo/payment/11\t\t'
	# A PayPal refund names the charge it refunds: the refund is found.
	assert_line --index 1 $'demo/settlement/paypal:9XR77\tmatched\tgateway_transaction_id\tdemo/payment/12\tdemo/refund/13\t'
	assert_line --index 2 $'demo/settlement/stripe:txn_1\tmatched\tgateway_transaction_id\tdemo/payment/21\t\t'
	assert_line --index 3 $'demo/settlement/stripe:txn_2\tunmatched\tgateway_transaction_id\t\t\t'
	assert_line --index 4 $'demo/settlement/shopify_payments:csv-2\tmatched\torder_name_amount_date\tdemo/payment/31\t\t'
	assert_line --index 5 $'demo/settlement/shopify_payments:csv-3\tambiguous\torder_name_amount_date\t\t\tdemo/payment/41,demo/payment/42'
	# Same name and amount, but 15 days apart: outside the window.
	assert_line --index 6 $'demo/settlement/shopify_payments:csv-4\tunmatched\torder_name_amount_date\t\t\t'
	assert_line --index 7 $'demo/settlement/shopify_payments:csv-5\tnot_applicable\tnone\t\t\t'
	# A wider window finds it.
	run -0 bash -c "'$BIN/match-settlement' --date-window 20 --stats /dev/null \
	    '$CASES/gateways.in.ndjson' | jq -r 'select(.key ==
	    \"demo/settlement/shopify_payments:csv-4\") | .match.status'"
	assert_output "matched"
	# A payout no record has brought yet is incomplete, its amount null.
	run jq -r 'select(.kind == "payout_recon") | "\(.key) \(.status) \(.amount) \(.lines_net)"' \
	    "$OUT/gateways.out.ndjson"
	assert_line --index 2 "demo/payout_recon/po_1 incomplete null 40.18"
}

@test "the sample day: every line matched, both payouts balanced, entries sum to zero" {
	run -0 --separate-stderr "$BIN/match-settlement" --stats "$OUT/stats" "$DAY"
	printf '%s\n' "$output" >"$OUT/out"
	assert_ledger "$OUT/stats"
	run jq -r 'select(.kind == "settlement") | .match.status' "$OUT/out"
	[ "$(printf '%s\n' "$output" | sort | uniq -c | tr -s ' ')" = \
	    "$(printf ' 39 matched\n 3 not_applicable')" ]
	run jq -r 'select(.kind == "payout_recon") | "\(.status) \(.difference) \(.summary_check)"' "$OUT/out"
	assert_output $'balanced 0.00 ok\nbalanced 0.00 ok'
	# Input order kept: the day, then the reconciliations.
	diff <(jq -c 'del(.match)' "$OUT/out" | head -n "$(wc -l <"$DAY")") \
	    <(jq -c . "$DAY")
	run jq -e 'select(.kind == "payout_recon") | .entry.lines |
	    (map(.debit | tonumber * 100 | round) | add) ==
	    (map(.credit | tonumber * 100 | round) | add)' "$OUT/out"
	refute_output --partial false
	# Running it on its own output changes nothing.
	run -0 bash -c "'$BIN/match-settlement' --stats /dev/null '$OUT/out' | cmp - '$OUT/out'"
}

@test "a generated month reconciles: every payout balanced, every line accounted for once" {
	[ "$(cat "$MONTH"/*.status | sort -u)" = 0 ]
	# At least 10,000 orders and 20 payouts, refunds on later payouts,
	# two chargebacks and one won, a reserve held and released.
	[ "$(cat "$MONTH"/[0-9][0-9].ndjson | grep -c '"kind":"order"')" -ge 10000 ]
	final_recons "$MONTH" >"$OUT/final"
	[ "$(wc -l <"$OUT/final")" -ge 20 ]
	run jq -r .status "$OUT/final"
	refute_output --partial incomplete
	refute_output --partial unbalanced
	run jq -r '.entry.lines[] | select(.account_role == "chargebacks") | .name' "$OUT/final"
	assert_output $'Chargebacks\nChargebacks\nChargebacks won'
	run jq -r '.entry.lines[] | select(.account_role == "reserves") | "\(.name) \(.debit) \(.credit)"' "$OUT/final"
	assert_output $'Reserve held 200.00 0.00\nReserve released 0.00 200.00'
	# Refunds of a day's last hours come on the next day's payout.
	run jq -r 'select(.key | test("/8")) | .entry.lines[] | select(.name == "Customer refunds") | .debit' "$OUT/final"
	[ "${#lines[@]}" -ge 20 ]
	# No line left unmatched, ambiguous or duplicate, and no overdue.
	run bash -c "cat '$MONTH'/*.out.ndjson | jq -r 'select(.kind == \"settlement\") | .match.status' | sort -u"
	assert_output $'matched\nnot_applicable'
	run bash -c "cat '$MONTH'/*.out.ndjson | grep -c payment_overdue"
	assert_output 0
	# Each entry balances to the cent (integers, no floating point).
	run jq -r '.entry.lines | map(.debit | sub("\\."; "") | tonumber) | add' "$OUT/final"
	local debits=$output
	run jq -r '.entry.lines | map(.credit | sub("\\."; "") | tonumber) | add' "$OUT/final"
	[ "$debits" = "$output" ]
	# Every line of a payout is covered once by the non-fee entry lines,
	# and each line with a fee once by a fee line.
	run jq -r '([.entry.lines[] | select(.account_role | IN("fees", "chargeback_fees") | not) | .settlements[]] | length) == (.counts | add)' "$OUT/final"
	refute_output --partial false
	run jq -r '[.entry.lines[] | select(.account_role | IN("fees", "chargeback_fees") | not) | .settlements[]] | length == (unique | length)' "$OUT/final"
	refute_output --partial false
	# The payout whose lines came a day late was incomplete, then balanced.
	late=$(jq -r .late_payout "$MONTH/planted.json")
	run jq -r --arg k "$late" 'select(.kind == "payout_recon" and .payout_key == $k) | .status' "$MONTH/27.out.ndjson"
	assert_output incomplete
	run jq -r --arg k "$late" 'select(.kind == "payout_recon" and .payout_key == $k) | .status' "$MONTH/28.out.ndjson"
	assert_output balanced
}

@test "planted anomalies are flagged, each with its status, and nothing else" {
	local p=$ANOM/planted.json
	run bash -c "cat '$ANOM'/*.out.ndjson | jq -r 'select(.kind == \"settlement\" and
	    (.match.status | IN(\"matched\", \"not_applicable\") | not)) | \"\(.match.status) \(.key)\"'"
	assert_output "duplicate $(jq -r '.duplicate[0]' "$p")
unmatched $(jq -r '.unmatched[0]' "$p")"
	final_recons "$ANOM" >"$OUT/final"
	run jq -r 'select(.status != "balanced") | "\(.status) \(.payout_key) \(.difference)"' "$OUT/final"
	assert_output "unbalanced $(jq -r '.unbalanced[0]' "$p") 0.01"
	run jq -r '.adjusting[] | "\(.order_key) \(.difference)"' "$OUT/final"
	assert_output "$(jq -r '.adjusting[0]' "$p") -5.00"
	# --fail-on unbalanced made that day, and only that day, exit 65.
	run cat "$ANOM"/*.status
	[ "$(printf '%s\n' "$output" | grep -c 65)" -eq 1 ]
	run cat "$ANOM/15.status"
	assert_output 65
	run cat "$ANOM/15.stderr"
	assert_output "match-settlement: payout '$(jq -r '.unbalanced[0]' "$p")' is unbalanced by 0.01"
}

@test "the index: a replayed day gives the same bytes and the same index" {
	local idx=$OUT/idx
	cp -r "$MONTH/index" "$idx"
	# Replay day 12 of the month against the index the month left.
	run -0 bash -c "'$BIN/match-settlement' --index '$idx' --date 2026-10-12 \
	    --stats /dev/null '$MONTH/12.ndjson' >'$OUT/12.out'"
	cmp "$OUT/12.out" "$MONTH/12.out.ndjson"
	cmp "$idx/match-index.tsv" "$MONTH/index/match-index.tsv"
	# The same day under the next day's date: every paid line is a duplicate.
	run -0 bash -c "'$BIN/match-settlement' --index '$idx' --index-readonly \
	    --date 2026-10-13 --stats /dev/null '$MONTH/12.ndjson' |
	    jq -r 'select(.kind == \"settlement\" and .payout_status == \"paid\") | .match.status' | sort -u"
	assert_output duplicate
	cmp "$idx/match-index.tsv" "$MONTH/index/match-index.tsv"
}

@test "pending lines paid out later are not duplicates; overdue payments are reported" {
	local idx=$OUT/idx
	jq -c 'select(.kind == "settlement" and .payout_status == "pending")' \
	    "$DAY" >"$OUT/pending"
	[ "$(wc -l <"$OUT/pending")" -eq 2 ]
	run -0 "$BIN/match-settlement" --index "$idx" --date 2026-11-26 \
	    --stats /dev/null "$DAY"
	# Nine days later one of them is paid out; the other is overdue.
	head -n 1 "$OUT/pending" | jq -c '.payout_status = "paid" |
	    .payout_key = "demo/payout/77" | .payout_id = "77"' >"$OUT/late"
	jq -c '{kind: "payout", key: "demo/payout/77", shop: "demo", v: 1,
	    id: "77", gateway: "shopify_payments", currency: "EUR",
	    amount: .net, date: "2026-12-05", status: "paid", summary: null,
	    src: null}' "$OUT/late" >>"$OUT/late"
	run -0 --separate-stderr "$BIN/match-settlement" --index "$idx" \
	    --date 2026-12-05 --stats /dev/null "$OUT/late"
	run jq -r 'select(.kind == "settlement") | .match.status' <<<"$output"
	assert_output matched
	run -65 --separate-stderr "$BIN/match-settlement" --index "$idx" \
	    --date 2026-12-05 --fail-on unbalanced --stats /dev/null "$OUT/late"
	local out=$output
	run jq -r 'select(.kind == "payment_overdue") | "\(.payment_key) \(.days)"' <<<"$out"
	assert_output "$(sed -n 2p "$OUT/pending" | jq -r .payment_key) 9"
	[[ $stderr == "match-settlement: payment '$(sed -n 2p "$OUT/pending" | jq -r .payment_key)' has not settled since 2026-11-26" ]]
	run jq -r 'select(.kind == "payout_recon") | "\(.status) \(.amount)"' <<<"$out"
	assert_output "balanced $(head -n 1 "$OUT/pending" | jq -r .net)"
}

@test "a damaged or locked index stops the run before any output" {
	mkdir "$OUT/idx"
	printf 'something else\n' >"$OUT/idx/match-index.tsv"
	run -65 --separate-stderr "$BIN/match-settlement" --index "$OUT/idx" \
	    --stats "$OUT/stats" "$DAY"
	assert_output ""
	assert_equal "$stderr" "match-settlement: $OUT/idx/match-index.tsv: not a match-settlement index"
	assert_ledger "$OUT/stats"
	run jq -r '.dropped_by_reason.index_unusable' "$OUT/stats"
	assert_output "$(wc -l <"$DAY")"
	grep -qx 'something else' "$OUT/idx/match-index.tsv"
	printf 'tillroll-match-index\t1\nP\t2026-01-01\tx\n' >"$OUT/idx/match-index.tsv"
	run -65 --separate-stderr "$BIN/match-settlement" --index "$OUT/idx" \
	    --stats /dev/null "$DAY"
	assert_equal "$stderr" "match-settlement: $OUT/idx/match-index.tsv: line 2: not a row of the index"
	rm "$OUT/idx/match-index.tsv"
	run -75 --separate-stderr flock "$OUT/idx/match-index.lock" \
	    "$BIN/match-settlement" --index "$OUT/idx" --stats /dev/null "$DAY"
	assert_output ""
	assert_equal "$stderr" "match-settlement: '$OUT/idx' is locked by another run; try again later"
	assert_file_not_exists "$OUT/idx/match-index.tsv"
}

@test "write errors and unreadable input have their exit status" {
	run -74 --separate-stderr bash -c "'$BIN/match-settlement' --stats /dev/null '$DAY' >/dev/full"
	[[ $stderr == *"match-settlement: write error on standard output: No space left on device"* ]]
	run -66 --separate-stderr "$BIN/match-settlement" --stats /dev/null "$OUT/none"
	[[ $stderr == "match-settlement: cannot open '$OUT/none'"* ]]
	# Input that could not be read never updates the index.
	run -66 "$BIN/match-settlement" --index "$OUT/idx" --stats /dev/null "$DAY" "$OUT/none"
	assert_file_not_exists "$OUT/idx/match-index.tsv"
}
