#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# enrich-tax: Shopify taxes mapped to Odoo's, invoice lines planned so that
# Odoo's own computation totals to Shopify's cent.

load test_helper

setup() {
	D=$DATA/enrich-tax
	MAP=$D/map.json
	OUT=$BATS_TEST_TMPDIR
}

# plan FILE [MAP]: enrich FILE with MAP (default the test map).
plan() {
	"$BIN/enrich-tax" --map "${2:-$MAP}" --stats "$OUT/stats.json" "$1"
}

@test "the real tax-included order plans to 55.20/9.58, 4.99/0.87, total 60.19" {
	[ -f "$FIXTURES/ALAppExtensions/Order.json" ] || fail "no fixture"
	jq -c '{kind: "shopify.rest.order", shop: "demo", data: .order}' \
	    "$FIXTURES/ALAppExtensions/Order.json" |
	    "$BIN/normalize" --stats /dev/null >"$OUT/order.ndjson"
	run --separate-stderr "$BIN/enrich-tax" --map "$TOP/samples/tax-map.json" \
	    --stats /dev/null "$OUT/order.ndjson"
	assert_success
	printf '%s\n' "$output" >"$OUT/enriched.ndjson"
	run jq -r '.invoice_plan.lines[] | "\(.ref) \(.quantity) x \(.price_unit) -\(.discount)% \(.subtotal) \(.tax) \(.total) \(.taxes[0].name)"' \
	    "$OUT/enriched.ndjson"
	assert_line --index 0 "line:11883238293576 1 x 55.20 -0% 45.62 9.58 55.20 21% S"
	assert_line --index 1 "shipping:4058238582856 1 x 4.99 -0% 4.12 0.87 4.99 21% S"
	[ "${#lines[@]}" -eq 2 ]
	run jq -r '"\(.tax.status) \(.tax.odoo_tax) \(.tax.odoo_total) \(.invoice_plan.total) \(.invoice_plan.move_type) \(.invoice_plan.date) \(.tax.map)"' \
	    "$OUT/enriched.ndjson"
	assert_output "exact 10.45 60.19 60.19 out_invoice 2022-07-12 $(sha256sum <"$TOP/samples/tax-map.json" | cut -c1-64)"
}

@test "3 x 8.26 at 21 % excluded: 5.19 per line, 5.20 globally with a rounding line" {
	run --separate-stderr plan "$D/excluded.ndjson"
	assert_success
	run jq -r '"\(.tax.status) \(.tax.rounding_method) \(.tax.odoo_tax) \(.invoice_plan.total) \(.invoice_plan.lines | length)"' <<<"$output"
	assert_output "exact round_per_line 5.19 29.97 3"
	run --separate-stderr plan "$D/excluded.ndjson" "$D/map-global.json"
	assert_success
	run jq -r '"\(.tax.status) \(.tax.rounding_method) \(.tax.odoo_tax) \(.tax.odoo_total) \(.tax.difference) \(.invoice_plan.total) \(.invoice_plan.lines[-1] | "\(.role) \(.account_role) \(.price_unit) \(.taxes | length)")"' <<<"$output"
	assert_output "rounding round_globally 5.20 29.98 -0.01 29.97 rounding rounding -0.01 0"
}

@test "a US order maps state and county taxes; 3.33/3.33/3.34 plans to the cent" {
	run --separate-stderr plan "$D/us-tenoff.ndjson"
	assert_success
	printf '%s\n' "$output" >"$OUT/us.ndjson"
	run jq -r 'select(.id == "2") | .invoice_plan.lines[] | "\(.ref) \(.price_unit) \(.discount) \(.subtotal) \(.tax) \([.taxes[].name] | join("+"))"' "$OUT/us.ndjson"
	assert_line --index 0 "line:21 20.00 16.65 16.67 1.21 CA State 6.25%+LA County 1%"
	assert_line --index 1 "line:22 20.00 16.65 16.67 1.21 CA State 6.25%+LA County 1%"
	assert_line --index 2 "line:23 20.00 16.7 16.66 1.21 CA State 6.25%+LA County 1%"
	assert_line --index 3 "shipping:24 4.99 0 4.99 0.00 "
	# 3.33 off 1000.00: no percentage reaches it, 0.33 % and 0.03 do.
	run jq -r 'select(.id == "3") | .invoice_plan.lines[] | "\(.ref) \(.role) \(.price_unit) \(.discount) \(.subtotal) \(.tax) \(.taxes | length)"' "$OUT/us.ndjson"
	assert_line --index 0 "line:31 product 1000.00 0.33 996.70 72.26 2"
	assert_line --index 1 "discount:31 discount -0.03 0 -0.03 0.00 2"
	run jq -r '"\(.tax.status) \(.tax.shopify_total) \(.invoice_plan.total) \(.invoice_plan.date)"' "$OUT/us.ndjson"
	assert_line --index 0 "exact 58.62 58.62 2026-11-26"
	assert_line --index 1 "exact 1068.93 1068.93 2026-11-26"
}

@test "exempt lines take the exempt rule's tax; a gift card is a liability; a tip is a line" {
	run --separate-stderr plan "$D/kinds.ndjson"
	assert_failure 65
	run jq -r 'select(.id == "4") | .invoice_plan.lines[] | "\(.ref) \(.role) \(.account_role) \(.price_unit) \([.taxes[].name] | join("+"))"' <<<"$output"
	assert_line --index 0 "line:41 product revenue 14.90 0% EU G"
	assert_line --index 1 "line:42 gift_card gift_card_liability 25.00 "
	assert_line --index 2 "tip tip tip 3.00 "
	[ "${#lines[@]}" -eq 3 ]
}

@test "an unmapped tax rejects with its title, rate and jurisdiction (65)" {
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --rejects "$OUT/rej.ndjson" \
	    --stats "$OUT/stats.json" "$D/kinds.ndjson"
	[ "$status" -eq 65 ]
	[ "${stderr_lines[0]}" = "enrich-tax: $D/kinds.ndjson: line 3: order '#5': line:51: tax 'FR TVA' at rate 0.2 in FR is not in the tax map" ]
	# A refund maps the tax lines normalize copied from its order's line.
	[ "${stderr_lines[1]}" = "enrich-tax: $D/kinds.ndjson: line 4: refund '6': line:51: tax 'FR TVA' at rate 0.2 in FR is not in the tax map" ]
	[ "${stderr_lines[2]}" = "enrich-tax: $D/kinds.ndjson: line 5: refund '7': the refund has no 'jurisdiction' (it came without its order), so its taxes are unknown" ]
	run jq -r '"\(.reason) \(.line) \(.record.key)"' "$OUT/rej.ndjson"
	assert_output "unmapped_tax 3 demo/order/5
unmapped_tax 4 demo/refund/6
order_data_missing 5 demo/refund/7"
	assert_ledger "$OUT/stats.json"
	# The product passed through byte for byte.
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --stats /dev/null "$D/kinds.ndjson"
	assert_line --index 0 "$(head -1 "$D/kinds.ndjson")"
}

@test "--unmapped pass lets unmapped records through marked, with no plan" {
	run --separate-stderr "$BIN/enrich-tax" --unmapped pass --map "$MAP" \
	    --stats "$OUT/stats.json" "$D/kinds.ndjson"
	assert_success
	run jq -r 'select(.tax.status == "unmapped") | "\(.key) \(.invoice_plan) \(.tax.unmapped[0] | "\(.title) \(.rate) \(.country)")"' <<<"$output"
	assert_output "demo/order/5 null FR TVA 0.2 FR
demo/refund/6 null FR TVA 0.2 FR
demo/refund/7 null null null null"
	assert_ledger "$OUT/stats.json"
}

@test "10,000 generated orders: every plan totals to Shopify's or is marked rounding" {
	# A map where the shop books US sales in a US company that rounds
	# globally, and the rest in one that rounds per line.
	"$BIN/gen-day" --orders 10000 --seed 5 | "$BIN/normalize" --stats /dev/null |
	    "$BIN/enrich-tax" --map "$D/map-two-companies.json" \
	    --stats "$OUT/stats.json" >"$OUT/day.ndjson"
	assert_ledger "$OUT/stats.json"
	run jq -r 'select(.tax) | [.kind, .tax.rounding_method, .tax.status,
	    (.invoice_plan.total == .tax.shopify_total),
	    (.tax.odoo_total == .tax.shopify_total),
	    ((.invoice_plan.lines | map(select(.role == "rounding")) | length) > 0)] | @tsv' \
	    "$OUT/day.ndjson"
	printf '%s\n' "$output" >"$OUT/plans.tsv"
	sort "$OUT/plans.tsv" | uniq -c >&3
	# Both tax modes and rounding methods, orders and refunds, were there.
	grep -q '^order	round_per_line	' "$OUT/plans.tsv"
	grep -q '^order	round_globally	' "$OUT/plans.tsv"
	grep -q '^refund	round_per_line	' "$OUT/plans.tsv"
	grep -q '^refund	round_globally	' "$OUT/plans.tsv"
	# Every plan reaches Shopify's total; each is exact or rounding; a
	# rounding line is there exactly when Odoo alone would miss the total,
	# and never on an exact one.
	run awk -F'\t' '$4 != "true" ||
	    ($3 != "exact" && $3 != "rounding") ||
	    (($5 == "true") == ($6 == "true")) ||
	    ($3 == "exact" && $6 == "true")' "$OUT/plans.tsv"
	assert_output ""
	rounded=$(awk -F'\t' '$6 == "true" {n++} END {print n + 0}' "$OUT/plans.tsv")
	total=$(wc -l <"$OUT/plans.tsv")
	echo "# $rounded of $total plans needed a rounding line" >&3
	[ "$total" -ge 10000 ]
	[ "$rounded" -gt 0 ]
	[ "$rounded" -lt $((total / 10)) ]
	# Under round_per_line every order is exact.
	! grep -q '^order	round_per_line	rounding' "$OUT/plans.tsv"
	# And Odoo's float arithmetic, redone independently, agrees with every plan.
	run "$D/odoo-compute" "$OUT/day.ndjson"
	assert_success
	assert_output --regexp '^[0-9]+ plans checked, 0 disagreements$'
}

@test "the sample day enriches deterministically and Odoo's arithmetic agrees" {
	"$BIN/normalize" --stats /dev/null "$TOP/samples/day/00-extract.ndjson" >"$OUT/day.ndjson"
	plan "$OUT/day.ndjson" "$TOP/samples/tax-map.json" >"$OUT/a.ndjson"
	plan "$OUT/day.ndjson" "$TOP/samples/tax-map.json" >"$OUT/b.ndjson"
	cmp "$OUT/a.ndjson" "$OUT/b.ndjson"
	assert_ledger "$OUT/stats.json"
	run "$D/odoo-compute" "$OUT/a.ndjson"
	assert_success
	run jq -r 'select(.kind == "order" or .kind == "refund") | .tax.status' "$OUT/a.ndjson"
	[ "${#lines[@]}" -eq 46 ]
	run jq -r 'select(.invoice_plan) | select(([.invoice_plan.lines[].subtotal | tonumber * 100 | round] | add) != (.invoice_plan.untaxed | tonumber * 100 | round)) | .key' "$OUT/a.ndjson"
	assert_output ""
}

@test "records not in canonical form give the same bytes as canonical ones" {
	# The canonical text of an order or refund is copied, the rest is
	# printed anew: the two ways must not differ, nor must a second run
	# on the program's own output.  (Other records pass byte for byte.)
	"$BIN/normalize" --stats /dev/null "$TOP/samples/day/00-extract.ndjson" |
	    jq -c 'select(.kind == "order" or .kind == "refund")' >"$OUT/day.ndjson"
	plan "$OUT/day.ndjson" "$TOP/samples/tax-map.json" >"$OUT/canonical.ndjson"
	jq -c 'to_entries | reverse | from_entries' "$OUT/day.ndjson" >"$OUT/unsorted.ndjson"
	sed -e 's/^{/{ /' -e 's/"v":1/"v":1.0/' "$OUT/day.ndjson" >"$OUT/spaced.ndjson"
	! cmp -s "$OUT/day.ndjson" "$OUT/spaced.ndjson"
	plan "$OUT/unsorted.ndjson" "$TOP/samples/tax-map.json" >"$OUT/from-unsorted.ndjson"
	cmp "$OUT/canonical.ndjson" "$OUT/from-unsorted.ndjson"
	plan "$OUT/spaced.ndjson" "$TOP/samples/tax-map.json" >"$OUT/from-spaced.ndjson"
	cmp "$OUT/canonical.ndjson" "$OUT/from-spaced.ndjson"
	plan "$OUT/canonical.ndjson" "$TOP/samples/tax-map.json" >"$OUT/again.ndjson"
	cmp "$OUT/canonical.ndjson" "$OUT/again.ndjson"
}

@test "usage, help, version and a bad map" {
	run --separate-stderr "$BIN/enrich-tax" </dev/null
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "enrich-tax: --map is required" ]
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --unmapped maybe </dev/null
	[ "$status" -eq 64 ]
	[ "${stderr_lines[0]}" = "enrich-tax: --unmapped: 'maybe' is not reject or pass" ]
	run -0 "$BIN/enrich-tax" --help
	assert_line --index 0 --partial "usage: enrich-tax --map FILE"
	run -0 "$BIN/enrich-tax" --version
	assert_output --regexp '^enrich-tax \(tillroll\) [0-9]'
	run --separate-stderr "$BIN/enrich-tax" --map "$OUT/none.json" </dev/null
	[ "$status" -eq 66 ]
	[ "$stderr" = "enrich-tax: cannot open '$OUT/none.json': No such file or directory" ]
	jq '.rules[1].rate = "21%"' "$MAP" >"$OUT/bad.json"
	run --separate-stderr "$BIN/enrich-tax" --map "$OUT/bad.json" </dev/null
	[ "$status" -eq 78 ]
	[ "$stderr" = "enrich-tax: $OUT/bad.json: rule 2: 'rate' is not a decimal rate such as \"0.21\"" ]
	jq '.rules[0].tax = "nope"' "$MAP" >"$OUT/bad.json"
	run -78 --separate-stderr "$BIN/enrich-tax" --map "$OUT/bad.json" </dev/null
	[ "$stderr" = "enrich-tax: $OUT/bad.json: rule 1: 'tax' does not name a tax of 'taxes'" ]
	jq '.companies[0].rounding_method = "round_up"' "$MAP" >"$OUT/bad.json"
	run -78 --separate-stderr "$BIN/enrich-tax" --map "$OUT/bad.json" </dev/null
	[ "$stderr" = "enrich-tax: $OUT/bad.json: company 'Test US': 'rounding_method' is not round_per_line or round_globally" ]
	jq '.taxes.ca.amount = "6.25001"' "$MAP" >"$OUT/bad.json"
	run -78 --separate-stderr "$BIN/enrich-tax" --map "$OUT/bad.json" </dev/null
	[ "$stderr" = "enrich-tax: $OUT/bad.json: tax 'ca': 'amount' is not a decimal string with at most 4 decimals" ]
	echo '{"version": "x"}' >"$OUT/bad.json"
	run -78 --separate-stderr "$BIN/enrich-tax" --map "$OUT/bad.json" </dev/null
	[ "$stderr" = "enrich-tax: $OUT/bad.json: not a tax map: expected \"tillroll_tax_map\": 1" ]
}

@test "bad records, unreadable input and a full stdout" {
	printf '%s\n' 'not json' '[1]' \
	    '{"kind":"order","key":"demo/order/9","shop":"demo","name":"#9","currency":"EUR","taxes_included":true,"lines":[{"id":"1","quantity":1,"unit_price":"1.005","discount":"0.00","net":"1.00","tax":"0.00","tax_lines":[]}],"shipping_lines":[],"totals":{"tax":"0.00","total":"1.00"}}' \
	    >"$OUT/bad.ndjson"
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --rejects "$OUT/rej.ndjson" \
	    --stats "$OUT/stats.json" "$OUT/bad.ndjson"
	[ "$status" -eq 65 ]
	[ "${stderr_lines[0]}" = "enrich-tax: $OUT/bad.ndjson: line 1: not JSON" ]
	[ "${stderr_lines[1]}" = "enrich-tax: $OUT/bad.ndjson: line 2: not a record: expected an object with a 'kind'" ]
	[ "${stderr_lines[2]}" = "enrich-tax: $OUT/bad.ndjson: line 3: order '#9': 'unit_price' has more decimal places than its currency" ]
	run jq -r .reason "$OUT/rej.ndjson"
	assert_output "bad_json
not_record
bad_record"
	assert_ledger "$OUT/stats.json"
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" "$OUT/missing.ndjson"
	[ "$status" -eq 66 ]
	[[ "${stderr_lines[0]}" == "enrich-tax: "*"missing.ndjson"* ]]
	run bash -c '"$1" --map "$2" --stats /dev/null "$3" >/dev/full' _ \
	    "$BIN/enrich-tax" "$MAP" "$D/excluded.ndjson"
	[ "$status" -eq 74 ]
	[[ "$output" == "enrich-tax: write error on standard output: No space left on device" ]]
}

# A generated day, normalized, in $OUT/day.ndjson (orders with refunds).
generated_day() {
	"$BIN/gen-day" --orders "$1" --seed "$2" | "$BIN/normalize" --stats /dev/null \
	    >"$OUT/day.ndjson"
}

@test "split with parallel --pipe between orders and their refunds: byte-identical to one process" {
	generated_day 1000 7
	"$BIN/enrich-tax" --map "$TOP/samples/tax-map.json" --stats "$OUT/stats.json" \
	    "$OUT/day.ndjson" >"$OUT/one.ndjson"
	assert_ledger "$OUT/stats.json"
	# The blocks are small enough that some refund lands in another
	# block than its order: the number of the block of every line, beside
	# each order's key and each refund's order_key.
	parallel --pipe --block 100k -k -j 4 'sed "s/^/{#} /"' <"$OUT/day.ndjson" |
	    cut -d' ' -f1 >"$OUT/blocks"
	jq -r '[.kind, .key, .order_key // "-"] | @tsv' "$OUT/day.ndjson" |
	    paste "$OUT/blocks" - >"$OUT/where.tsv"
	apart=$(awk -F'\t' '$2 == "order" {block[$3] = $1}
	    $2 == "refund" && block[$4] != "" && block[$4] != $1 {n++}
	    END {print n + 0}' "$OUT/where.tsv")
	echo "# $apart refunds in another block than their order" >&3
	[ "$apart" -gt 0 ]
	parallel --pipe --block 100k -k -j 4 "$BIN/enrich-tax" \
	    --map "$TOP/samples/tax-map.json" --stats /dev/null \
	    <"$OUT/day.ndjson" >"$OUT/split.ndjson"
	cmp "$OUT/one.ndjson" "$OUT/split.ndjson"
	# And the refunds were planned, not passed over.
	run jq -r 'select(.kind == "refund") | .tax.status' "$OUT/split.ndjson"
	[ "${#lines[@]}" -gt 50 ]
	refute_line --regexp '^(unmapped|null)$'
}

@test "a refund is enriched from itself: alone, it gives what it gives after its order" {
	generated_day 400 11
	"$BIN/enrich-tax" --map "$TOP/samples/tax-map.json" --stats /dev/null \
	    "$OUT/day.ndjson" | grep '"kind":"refund"' >"$OUT/with-orders.ndjson"
	grep '"kind":"refund"' "$OUT/day.ndjson" >"$OUT/refunds.ndjson"
	"$BIN/enrich-tax" --map "$TOP/samples/tax-map.json" --stats "$OUT/stats.json" \
	    "$OUT/refunds.ndjson" >"$OUT/alone.ndjson"
	assert_ledger "$OUT/stats.json"
	[ "$(wc -l <"$OUT/alone.ndjson")" -gt 20 ]
	cmp "$OUT/with-orders.ndjson" "$OUT/alone.ndjson"
}

@test "normalize copies onto each refund its order's jurisdiction, lines and shipping lines" {
	generated_day 400 11
	# Every refund against its order in the same file: the jurisdiction
	# from the shipping (else billing) address, each refunded line's and
	# shipping line's data as the order has it.
	run jq -rs 'INDEX(.[] | select(.kind == "order"); .key) as $o
	    | .[] | select(.kind == "refund") | . as $r | $o[$r.order_key] as $ord
	    | ($ord.shipping_address // $ord.billing_address) as $a
	    | def taxes: [.tax_lines[] | {title, rate, channel_liable}];
	    [$r.jurisdiction == {country_code: $a.country_code, province_code: $a.province_code}]
	    + [$r.lines[] | . as $l | ($ord.lines[] | select(.id == $l.line_item_id))
	        | $l.line_item == {sku, title, name, quantity, unit_price, discount,
	            gift_card, taxable, tax_lines: taxes}]
	    + [$r.shipping[] | . as $s | ($ord.shipping_lines[] | select(.id == $s.shipping_line_id))
	        | $s.shipping_line == {title, tax_lines: taxes}]
	    | "\(length > 1) \(all)"' "$OUT/day.ndjson"
	assert_success
	[ "${#lines[@]}" -gt 20 ]
	refute_line --partial false
	# Shipping refunds and tax lines were among them.
	run jq -r 'select(.kind == "refund") | .shipping[] | "\(.shipping_line | type) \(.shipping_line.tax_lines | length)"' "$OUT/day.ndjson"
	[ "${#lines[@]}" -gt 5 ]
	refute_line --regexp '^null'
	assert_line --regexp '^object [1-9]'
	run jq -r 'select(.kind == "refund") | .lines[].line_item.tax_lines | length' "$OUT/day.ndjson"
	assert_line --regexp '^[1-9]'
	refute_line null
}

@test "a refund plans from the order data it carries; without them it is rejected (order_data_missing)" {
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --rejects "$OUT/rej.ndjson" \
	    --stats "$OUT/stats.json" "$D/refunds.ndjson"
	[ "$status" -eq 65 ]
	[ "${stderr_lines[0]}" = "enrich-tax: $D/refunds.ndjson: line 2: refund '9': line:91: the refund has no 'line_item' (its order has no such line, or it came without its order), so its taxes are unknown" ]
	[ "${#stderr_lines[@]}" -eq 1 ]
	run jq -r '"\(.reason) \(.line) \(.record.key)"' "$OUT/rej.ndjson"
	assert_output "order_data_missing 2 demo/refund/9"
	assert_ledger "$OUT/stats.json"
	# No order in the input: prices, taxes, names and the gift card's
	# liability all come from the refund's copies.
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --stats /dev/null "$D/refunds.ndjson"
	run jq -r '.invoice_plan.lines[] | "\(.ref) \(.role) \(.account_role) \(.name) \(.quantity) x \(.price_unit) \(.subtotal) \(.tax) \([.taxes[].name] | join("+"))"' <<<"$output"
	assert_output "line:101 product revenue Mug - Blue 1 x 12.10 10.00 2.10 21% S
line:103 gift_card gift_card_liability Gift card 1 x 25.00 25.00 0.00 
shipping:102 shipping shipping Standard 1 x 4.99 4.12 0.87 21% S"
	run --separate-stderr "$BIN/enrich-tax" --unmapped pass --map "$MAP" --stats /dev/null "$D/refunds.ndjson"
	assert_success
	run jq -r '"\(.key) \(.tax.status) \(.tax.shopify_total) \(.invoice_plan.total) \([.tax.unmapped[]?.ref] | join(","))"' <<<"$output"
	assert_output "demo/refund/10 exact 42.09 42.09 
demo/refund/9 unmapped 17.09 null line:91,shipping:92"
}

@test "a REST refund alone keeps its lines' data but, without its order's jurisdiction, is rejected" {
	f=$FIXTURES/shopify-api-node/refund/res/create.json
	[ -f "$f" ] || fail "no fixture"
	jq -c '{kind: "shopify.rest.refund", shop: "demo", data: .refund}' "$f" |
	    "$BIN/normalize" --currency USD --stats /dev/null >"$OUT/alone.ndjson"
	run jq -r 'select(.kind == "refund") | "\(.jurisdiction) \(.lines[0].line_item | "\(.unit_price) \(.sku) \(.tax_lines[0].title) \(.tax_lines[0].rate)")"' \
	    "$OUT/alone.ndjson"
	assert_output "null 199.00 IPOD2008RED State Tax 0.06"
	run --separate-stderr "$BIN/enrich-tax" --map "$MAP" --rejects "$OUT/rej.ndjson" \
	    --stats "$OUT/stats.json" "$OUT/alone.ndjson"
	[ "$status" -eq 65 ]
	[ "${stderr_lines[0]}" = "enrich-tax: $OUT/alone.ndjson: line 1: refund '929361464': the refund has no 'jurisdiction' (it came without its order), so its taxes are unknown" ]
	run jq -r '"\(.reason) \(.record.key)"' "$OUT/rej.ndjson"
	assert_output "order_data_missing demo/refund/929361464"
	assert_ledger "$OUT/stats.json"
}
