#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# settlement-extract: gateway settlement files in, raw envelopes out; and
# what normalize makes of those envelopes.

load test_helper

setup() {
	SAMPLES=$TOP/samples/settlement
	D=$DATA/settlement-extract
	OUT=$BATS_TEST_TMPDIR
	PAYPAL=$SAMPLES/STL-20261127.01.009.CSV
	SHOPIFY=$SAMPLES/payment_transactions_export_1.csv
	STRIPE=$SAMPLES/stripe_balance_change_from_activity_itemized_3.csv
}

# extract FILE...: envelopes of FILEs into $OUT/env, stats into $OUT/st.
extract() {
	"$BIN/settlement-extract" --shop demo --stats "$OUT/st" \
	    --rejects "$OUT/rej" "$@" >"$OUT/env"
}

# to_minor: decimal amount strings to integer minor units (2 digits).
MINOR='def minor: (if startswith("-") then -1 else 1 end) *
    (ltrimstr("-") | split(".") | (.[0] | tonumber) * 100 + (.[1] | tonumber));'

@test "each sample extracts and normalizes, and net = amount - fee everywhere" {
	for f in "$PAYPAL" "$SHOPIFY" "$STRIPE"; do
		run --separate-stderr "$BIN/settlement-extract" --shop demo \
		    --stats "$OUT/st" "$f"
		assert_success
		printf '%s\n' "$output" >"$OUT/env"
		assert_ledger "$OUT/st"
		rows=$(jq '.in' "$OUT/st")
		[ "$rows" -gt 0 ]
		[ "$(wc -l <"$OUT/env")" -eq "$rows" ]
		run --separate-stderr "$BIN/normalize" --stats "$OUT/nst" "$OUT/env"
		assert_success
		printf '%s\n' "$output" >"$OUT/rec"
		assert_ledger "$OUT/nst"
		# One settlement record per row, and every one balances.
		[ "$(jq -s 'map(select(.kind == "settlement")) | length' "$OUT/rec")" -eq "$rows" ]
		run jq -r "$MINOR"' select(.kind == "settlement")
		    | select((.amount | minor) - (.fee | minor) != (.net | minor)) | .key' "$OUT/rec"
		assert_output ""
	done
}

@test "the totals of a PayPal file equal its report footer" {
	extract "$PAYPAL"
	"$BIN/normalize" --stats /dev/null "$OUT/env" >"$OUT/rec"
	# The footer as the file says it: RF,currency,gross CR,gross DR,fee CR,fee DR.
	footer=$(tr -d '\r"' <"$PAYPAL" | awk -F, '$1 == "RF" { print $2, $3, $4, $5, $6 }')
	[ -n "$footer" ]
	summed=$(jq -rs "$MINOR"' map(select(.kind == "settlement")) as $s
	    | [$s[0].currency,
	       ($s | map(.amount | minor | select(. > 0)) | add),
	       ($s | map(.amount | minor | select(. < 0) | -.) | add),
	       ($s | map(.fee | minor | select(. < 0) | -.) | add // 0),
	       ($s | map(.fee | minor | select(. > 0)) | add)] | map(tostring) | join(" ")' "$OUT/rec")
	assert_equal "$summed" "$footer"
	# The PayPal payments carry their transaction ids for match-settlement.
	run jq -r 'select(.kind == "settlement" and .type == "charge")
	    | "\(.order_name) \(.payment_reference)"' "$OUT/rec"
	assert_output "$(printf '%s\n' '#1016 DXA32Z9IFKZF8W0Q3' '#1035 6R1P39QODTYKZLVHE' '#1040 1J2I3GM6W0LQXTU1H')"
	# Those are the sample day's PayPal orders and their authorizations.
	run jq -r 'select(.kind == "shopify.order") | .data
	    | .name as $n | .transactions[] | select(.gateway == "paypal")
	    | "\($n) \(.authorizationCode)"' "$TOP/samples/day/00-extract.ndjson"
	assert_output "$(printf '%s\n' '#1016 DXA32Z9IFKZF8W0Q3' '#1035 6R1P39QODTYKZLVHE' '#1040 1J2I3GM6W0LQXTU1H')"
	# The withdrawal to the bank is a payout.
	run jq -r 'select(.kind == "payout") | "\(.key) \(.amount)"' "$OUT/rec"
	assert_output "demo/payout/paypal:3O3R35LEYG1E4C9UY 285.10"
}

@test "a PayPal file whose footer total is wrong is rejected whole" {
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats "$OUT/st" \
	    --rejects "$OUT/rej" "$D/STL-bad-footer.CSV"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "settlement-extract: $D/STL-bad-footer.CSV: line 11: the report footer (RF) says EUR gross credits are 29623 hundredths but the rows add up to 29622; the file is rejected, nothing of it is written"
	assert_ledger "$OUT/st"
	run jq -c '[.in, .out, .rejected, .rejected_by_reason]' "$OUT/st"
	assert_output '[4,0,4,{"bad_footer":4}]'
	# Every row is in the rejects file, whole, with the reason.
	run jq -r '"\(.line) \(.reason) \(.record.data["Transaction ID"])"' "$OUT/rej"
	assert_output "$(printf '%s\n' '5 bad_footer 63009' '6 bad_footer 37248' \
	    '7 bad_footer 12930' '8 bad_footer 4WD91726LP0938211')"
}

@test "a PayPal section count that disagrees, and a missing footer, are rejected" {
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/STL-bad-count.CSV"
	assert_failure 65
	assert_equal "$stderr" "settlement-extract: $D/STL-bad-count.CSV: line 10: the section count (SC) says 3 body rows but there are 4; the file is rejected, nothing of it is written"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/STL-no-ff.CSV"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "settlement-extract: $D/STL-no-ff.CSV: line 12: the file ends without its file footer (FF): it is truncated; the file is rejected, nothing of it is written"
}

@test "a truncated file is rejected whole, whether cut between rows or within one" {
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/STL-truncated.CSV"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "settlement-extract: $D/STL-truncated.CSV: line 7: the file ends without the section's footer (SF) and count (SC): it is truncated; the file is rejected, nothing of it is written"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/STL-cut-mid-row.CSV"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "settlement-extract: $D/STL-cut-mid-row.CSV: line 8: the row has 8 fields but the column header (CH) has 22; the file is rejected, nothing of it is written"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/truncated-export.csv"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "settlement-extract: $D/truncated-export.csv: line 2: the row has 12 fields but the header has 17; the file is rejected, nothing of it is written"
}

@test "an unbalanced or stray quote rejects the file with the row's line" {
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats "$OUT/st" \
	    --rejects "$OUT/rej" "$D/unbalanced-quote.csv"
	assert_failure 65
	assert_output ""
	assert_equal "$stderr" "settlement-extract: $D/unbalanced-quote.csv: line 3: a quoted field is not closed before the end of the file (an unbalanced quote, or a truncated file); the file is rejected, nothing of it is written"
	assert_ledger "$OUT/st"
	run jq -r '"\(.line) \(.reason) \(.record.data.Order)"' "$OUT/rej"
	assert_output "2 bad_csv #1001"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/stray-quote.csv"
	assert_failure 65
	assert_equal "$stderr" "settlement-extract: $D/stray-quote.csv: line 3: a field is malformed (a stray or unbalanced quote); the file is rejected, nothing of it is written"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    "$D/latin1.csv"
	assert_failure 65
	assert_equal "$stderr" "settlement-extract: $D/latin1.csv: line 3: a field is not valid UTF-8 text; the file is rejected, nothing of it is written"
}

@test "BOM, CRLF, quoted commas and newlines, and a last line without newline" {
	tail -c 3 "$D/export-variant.csv" | od -c | grep -q 'U   R' # no final newline
	head -c 3 "$D/export-variant.csv" | od -An -tx1 | grep -q 'ef bb bf'
	extract "$D/export-variant.csv"
	assert_ledger "$OUT/st"
	run jq -r '"\(.row) \(.line) \(.data.Order | @json) \(.data.Currency) \(.data.VAT | @json)"' "$OUT/env"
	assert_output "$(printf '%s\n' '2 2 "AI-1018, gift" EUR "0.14"' '3 3 "#1019" EUR "0.00"' \
	    '4 4 "#1020\nsecond line" EUR ""' '5 6 "#1021" EUR ""')"
	# The first column's name lost its byte order mark.
	run jq -r '.data | keys[] | select(endswith("Transaction Date"))' "$OUT/env"
	assert_line --index 0 "Transaction Date"
	# PayPal's sample has a BOM and CRLF too.
	extract "$PAYPAL"
	run jq -r '.data["Transaction  Debit or Credit"]' "$OUT/env"
	assert_output "$(printf '%s\n' CR CR CR DR)"
}

@test "Shopify export variants map by header name; refunds and types with spaces" {
	extract "$D/export-variant.csv" "$D/export-entity.csv"
	"$BIN/normalize" --stats /dev/null "$OUT/env" >"$OUT/rec"
	run jq -r '"\(.type) \(.amount) \(.fee) \(.net) \(.payout_id) \(.order_name | @json)"' "$OUT/rec"
	assert_output "$(printf '%s\n' 'charge 13.25 0.68 12.57 null "AI-1018, gift"' \
	    'refund -29.78 0.00 -29.78 null "#1019"' \
	    'marketplace_sales_tax -9.52 0.00 -9.52 null "#1020\nsecond line"' \
	    'shop_cash_credit 15.00 0.37 14.63 null "#1021"' \
	    'refund -29.78 0.00 -29.78 1194260000002 "#1019"' \
	    'refund -29.78 0.00 -29.78 1194260000002 "#1019"')"
	# The refund's positive Presentment Amount stays what the file said.
	run jq -r 'select(.data.Type == "refund") | .data["Presentment Amount"]' "$OUT/env"
	assert_output "$(printf '%s\n' 29.78 29.78 29.78)"
}

@test "the same row in a re-sent file has the same key; two equal rows in one file do not" {
	extract "$D/export-variant.csv" "$D/export-entity.csv"
	"$BIN/normalize" --stats /dev/null "$OUT/env" >"$OUT/rec"
	run jq -r 'select(.type == "refund") | "\(.src.file | split("/") | last) \(.key)"' "$OUT/rec"
	[ "${#lines[@]}" -eq 3 ]
	k1=${lines[0]#* } k2=${lines[1]#* } k3=${lines[2]#* }
	# export-variant.csv and export-entity.csv: the same refund, re-sent
	# in another layout, with a payout id it did not have before.
	assert_equal "$k1" "$k2"
	[ "$k2" != "$k3" ]
	[[ "$k1" == demo/settlement/shopify_payments:csv-* ]]
	# The whole sample export, sent twice under two names: same keys.
	cp "$SHOPIFY" "$OUT/again.csv"
	extract "$SHOPIFY"
	"$BIN/normalize" --stats /dev/null "$OUT/env" | jq -r .key >"$OUT/k1"
	extract "$OUT/again.csv"
	"$BIN/normalize" --stats /dev/null "$OUT/env" | jq -r .key >"$OUT/k2"
	cmp "$OUT/k1" "$OUT/k2"
	[ "$(sort -u "$OUT/k1" | wc -l)" -eq "$(wc -l <"$OUT/k1")" ]
}

@test "the Shopify export sample matches the sample day's balance transactions" {
	extract "$SHOPIFY"
	"$BIN/normalize" --stats /dev/null "$OUT/env" >"$OUT/rec"
	jq -r 'select(.kind == "settlement") | [.processed_at, .type, .amount, .fee, .net, (.payout_id // "-")] | join(" ")' \
	    "$OUT/rec" | sort >"$OUT/from-file"
	"$BIN/normalize" --stats /dev/null "$TOP/samples/day/00-extract.ndjson" \
	    | jq -r 'select(.kind == "settlement") | [.processed_at, .type, .amount, .fee, .net, (.payout_id // "-")] | join(" ")' \
	    | sort >"$OUT/from-api"
	diff -u "$OUT/from-api" "$OUT/from-file"
	# Its payout rows give the API's payouts, by the same key and amount.
	run jq -r 'select(.kind == "payout") | "\(.key) \(.amount)"' "$OUT/rec"
	assert_output "$(printf '%s\n' 'demo/payout/1194260000001 1581.26' 'demo/payout/1194260000002 1215.16')"
	run jq -r 'select(.kind == "shopify.payout") | "demo/payout/\(.data.legacyResourceId) \(.data.net.amount)"' \
	    "$TOP/samples/day/00-extract.ndjson"
	assert_output "$(printf '%s\n' 'demo/payout/1194260000001 1581.26' 'demo/payout/1194260000002 1215.16')"
}

@test "Stripe: columns by name, lower-case currency, payout row, payment reference" {
	extract "$STRIPE"
	"$BIN/normalize" --stats /dev/null "$OUT/env" >"$OUT/rec"
	run jq -r 'select(.kind == "settlement") | "\(.id) \(.currency) \(.type) \(.net) \(.payout_key) \(.payment_reference)"' "$OUT/rec"
	assert_line --index 0 "txn_3TdemoA0000000001 EUR charge 47.27 demo/payout/stripe:po_1TdemoP000000001 ch_3TdemoA0000000001"
	assert_line --index 4 "txn_1TdemoP0000000005 EUR payout -140.22 demo/payout/stripe:po_1TdemoP000000001 null"
	# The payout is the sum of its lines' net.
	run jq -rs "$MINOR"' (map(select(.kind == "settlement" and .type != "payout") | .net | minor) | add)
	    == (map(select(.kind == "payout"))[0].amount | minor)' "$OUT/rec"
	assert_output "true"
	run jq -r '.data.description' "$OUT/env"
	assert_line --index 2 'Refund for Order #0998 "wrong size"'
}

@test "the format is detected from the header, or named; a wrong one is refused" {
	cat "$PAYPAL" | "$BIN/settlement-extract" --shop demo --stats /dev/null >"$OUT/a"
	"$BIN/settlement-extract" --shop demo --stats /dev/null --format paypal-srf "$PAYPAL" >"$OUT/b"
	jq -r .kind "$OUT/a" | sort -u | grep -qx paypal.srf.row
	jq -c 'del(.file)' "$OUT/a" >"$OUT/a2"
	jq -c 'del(.file)' "$OUT/b" >"$OUT/b2"
	cmp "$OUT/a2" "$OUT/b2"
	jq -r .file "$OUT/a" | sort -u | grep -qx '<stdin>'
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null "$D/unknown.csv"
	assert_failure 65
	assert_equal "$stderr" "settlement-extract: $D/unknown.csv: line 1: the header is not that of a Shopify payout export, a PayPal settlement report or a Stripe balance report; name the format with --format; the file is rejected, nothing of it is written"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null \
	    --format stripe-balance "$SHOPIFY"
	assert_failure 65
	assert_equal "$stderr" "settlement-extract: $SHOPIFY: line 1: the header has no 'balance_transaction_id' column, which a stripe-balance file has; the file is rejected, nothing of it is written"
	: >"$OUT/empty.csv"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats /dev/null "$OUT/empty.csv"
	assert_failure 65
	assert_equal "$stderr" "settlement-extract: $OUT/empty.csv: the file is empty; the file is rejected, nothing of it is written"
}

@test "a good file is written and a bad one is not, in one run; output is byte-identical" {
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats "$OUT/st" \
	    "$STRIPE" "$D/STL-bad-footer.CSV" "$PAYPAL"
	assert_failure 65
	printf '%s\n' "$output" >"$OUT/both"
	run jq -r .kind "$OUT/both"
	[ "${#lines[@]}" -eq 9 ]
	assert_ledger "$OUT/st"
	run jq -c '[.in, .out, .rejected]' "$OUT/st"
	assert_output '[13,9,4]'
	"$BIN/settlement-extract" --shop demo --stats /dev/null "$STRIPE" "$PAYPAL" >"$OUT/again"
	cmp "$OUT/both" "$OUT/again"
	# The digest is the file's own.
	run jq -r .sha256 "$OUT/again"
	assert_line --index 0 "$(sha256sum "$STRIPE" | cut -d' ' -f1)"
	assert_line --index 5 "$(sha256sum "$PAYPAL" | cut -d' ' -f1)"
}

@test "--shop is required; --help, --version and bad usage" {
	run --separate-stderr "$BIN/settlement-extract" "$PAYPAL"
	assert_failure 64
	[[ "$stderr" == "settlement-extract: --shop is required"* ]]
	run --separate-stderr "$BIN/settlement-extract" --shop a/b "$PAYPAL"
	assert_failure 64
	assert_equal "$stderr" "settlement-extract: --shop: 'a/b' is not a shop handle"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --format csv "$PAYPAL"
	assert_failure 64
	[[ "$stderr" == "settlement-extract: --format: 'csv' is not shopify-payouts, paypal-srf or stripe-balance"* ]]
	run "$BIN/settlement-extract" --help
	assert_success
	assert_line --index 0 --partial "usage: settlement-extract --shop HANDLE"
	run "$BIN/settlement-extract" --version
	assert_output --regexp '^settlement-extract \(tillroll\) [0-9]+\.[0-9]+\.[0-9]+$'
	run --separate-stderr "$BIN/settlement-extract" --bogus
	assert_failure 64
	[[ "$stderr" == *"usage: settlement-extract"* ]]
}

@test "a write error on stdout exits 74; a missing input exits 66 and the rest is read" {
	run bash -c "'$BIN/settlement-extract' --shop demo --stats /dev/null '$PAYPAL' >/dev/full"
	assert_failure 74
	assert_output --partial "settlement-extract: write error on standard output"
	run --separate-stderr "$BIN/settlement-extract" --shop demo --stats "$OUT/st" \
	    "$OUT/missing.csv" "$STRIPE"
	assert_failure 66
	assert_equal "$stderr" "settlement-extract: cannot open '$OUT/missing.csv': No such file or directory"
	[ "${#lines[@]}" -eq 5 ]
	assert_ledger "$OUT/st"
}

# 2026-11-27: the PayPal payout was unbalanced by its whole amount, its
# rows naming no payout.  A row names the withdrawal that took it to the
# bank: the first at or after it in its section.
@test "PayPal rows name the withdrawal that took them to the bank" {
	local srf=$TOP/samples/settlement/STL-20261127.01.009.CSV
	run --separate-stderr "$BIN/settlement-extract" --shop demo "$srf"
	assert_success
	run jq -r '"\(.data."Transaction Event Code") \(.withdrawal // "none")"' <<<"$output"
	assert_output "T0006 3O3R35LEYG1E4C9UY
T0006 3O3R35LEYG1E4C9UY
T0006 3O3R35LEYG1E4C9UY
T0400 3O3R35LEYG1E4C9UY"
	# The same report with the withdrawal before the last sale: that sale
	# is still in the PayPal balance.
	awk 'NR == 7 { held = $0; next } { print } NR == 8 { print held }' \
	    "$srf" >"$BATS_TEST_TMPDIR/moved.CSV"
	run --separate-stderr "$BIN/settlement-extract" --shop demo "$BATS_TEST_TMPDIR/moved.CSV"
	assert_success
	run jq -r '"\(.data."Transaction ID") \(.withdrawal // "none")"' <<<"$output"
	assert_line --index 2 "3O3R35LEYG1E4C9UY 3O3R35LEYG1E4C9UY"
	assert_line --index 3 "1J2I3GM6W0LQXTU1H none"
	# normalize puts them on the payout, and the payout balances.
	"$BIN/settlement-extract" --shop demo "$srf" | "$BIN/normalize" --stats /dev/null |
	    "$BIN/match-settlement" --stats /dev/null >"$BATS_TEST_TMPDIR/recon"
	run jq -r 'select(.kind == "payout_recon") | "\(.status) \(.amount) \(.lines_net)"' \
	    "$BATS_TEST_TMPDIR/recon"
	assert_output "balanced 285.10 285.10"
}
