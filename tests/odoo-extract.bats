#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# odoo-extract: deliveries and stock back from the Odoo double, in 16,
# 17 and 18; then normalize makes fulfillments and inventory of them.

load test_helper
load odoo-extract/helpers

setup_file() {
	export DAY=$BATS_FILE_TMPDIR/day.ndjson
	make_day >"$DAY"
}

teardown() {
	stop_double
}

run_extract() {
	run --separate-stderr "$BIN/odoo-extract" --config "$CONF" \
	    --stats "$BATS_TEST_TMPDIR/stats.json" "$@"
}

# The way back in one version: #1001 ships whole, #1003 ships one SKU of
# three; stock is counted less what is reserved; the Odoo-only product
# with stock is reported, not sent.
ships_and_counts() {
	start_loaded "$1"
	ship '#1001' 'DHL Express' JD000001
	sku3=$(jq -r 'select(.kind == "order" and .name == "#1003") | .lines[0].sku' "$DAY")
	ship '#1003' bpost 323299 '2026-11-27 10:30:00' "{\"$sku3\": 1}"
	stock APR-SAND 12 2
	stock SHOPIFY-MISC 3
	run_extract --since 2026-11-27T00:00:00Z
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/raw.ndjson"
	assert_ledger "$BATS_TEST_TMPDIR/stats.json"
	assert_equal "$stderr" "odoo-extract: SKU 'SHOPIFY-MISC' (product 1) has stock at 'WH/Stock' but no Shopify variant in tillroll: not sent"
	jq -e '.dropped_by_reason.unmapped_sku == 1' "$BATS_TEST_TMPDIR/stats.json"
	run jq -r 'select(.kind == "odoo.picking") | .api' "$BATS_TEST_TMPDIR/raw.ndjson"
	assert_output "$(printf '%s.0\n%s.0' "$1" "$1")"
	run --separate-stderr "$BIN/normalize" --stats /dev/null "$BATS_TEST_TMPDIR/raw.ndjson"
	assert_equal "$stderr" ""
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/canon.ndjson"
	# the fulfillments: the Shopify order, the tracking, the lines shipped
	run jq -c 'select(.kind == "fulfillment") | [.key, .order_key, .tracking.company,
	    .tracking.number, .tracking.url, .shipped_at, (.lines | map([.sku, .quantity]))]' \
	    "$BATS_TEST_TMPDIR/canon.ndjson"
	local o1 o3
	o1=$(jq -r 'select(.kind == "order" and .name == "#1001") | .id' "$DAY")
	o3=$(jq -r 'select(.kind == "order" and .name == "#1003") | .id' "$DAY")
	want1=$(jq -c '[.lines[] | select(.sku != "GIFT-25" and .sku != "GIFT-50") | [.sku, .quantity]]' \
	    <(jq -c 'select(.kind == "order" and .name == "#1001")' "$DAY"))
	assert_line --index 0 "[\"demo/fulfillment/1\",\"demo/order/$o1\",\"DHL Express\",\"JD000001\",\"https://track.example/?n=JD000001\",\"2026-11-27T09:00:00Z\",$want1]"
	assert_line --index 1 "[\"demo/fulfillment/2\",\"demo/order/$o3\",\"bpost\",\"323299\",\"https://track.example/?n=323299\",\"2026-11-27T10:30:00Z\",[[\"$sku3\",1]]]"
	# stock: every mapped variant at the location, the counted one 12 - 2
	[ "$(jq -s '[.[] | select(.kind == "inventory")] | length' "$BATS_TEST_TMPDIR/canon.ndjson")" -eq \
	    "$(jq -s '[.[] | select(.kind == "product")] | length' <(normalize_day))" ]
	run jq -c 'select(.kind == "inventory" and .sku == "APR-SAND") | [.key, .available, .variant_id, .location_id]' \
	    "$BATS_TEST_TMPDIR/canon.ndjson"
	assert_output '["demo/inventory/variant-4137000000001@7000000000001",10,"4137000000001","7000000000001"]'
	run jq -r 'select(.kind == "inventory" and .sku == "APR-CHAR") | .available' "$BATS_TEST_TMPDIR/canon.ndjson"
	assert_output 0
	run grep -c SHOPIFY-MISC "$BATS_TEST_TMPDIR/raw.ndjson"
	assert_output 0
	# the key went nowhere
	run grep -rl "$ODOO_DOUBLE_KEY" "$BATS_TEST_TMPDIR/raw.ndjson" "$BATS_TEST_TMPDIR/stats.json"
	assert_output ""
}

normalize_day() {
	"$BIN/normalize" --stats /dev/null "$TOP/samples/day/00-extract.ndjson"
}

@test "16: shipped orders come back as fulfillments (quantity_done), stock less reserved" {
	ships_and_counts 16
	run jq -r 'select(.kind == "odoo.picking") | .data.moves[0] | has("quantity_done"), has("quantity")' \
	    "$BATS_TEST_TMPDIR/raw.ndjson"
	assert_line --index 0 true
	assert_line --index 1 false
}

@test "17: shipped orders come back as fulfillments (quantity), stock less reserved" {
	ships_and_counts 17
	run jq -r 'select(.kind == "odoo.picking") | .data.moves[0] | has("quantity_done"), .picked' \
	    "$BATS_TEST_TMPDIR/raw.ndjson"
	assert_line --index 0 false
	assert_line --index 1 true
}

@test "18: shipped orders come back as fulfillments, stock less reserved" {
	ships_and_counts 18
}

@test "the watermark: the window ends at --until, the next run starts there less the overlap" {
	start_loaded 17
	ship '#1001' 'DHL Express' JD000001 '2026-11-27 09:00:00'
	ship '#1002' 'DHL Express' JD000002 '2026-11-27 11:30:00'
	local st=$BATS_TEST_TMPDIR/state.json
	run_extract --resources pickings
	assert_failure 64
	assert_equal "$stderr" "odoo-extract: no --since and no watermark for 'pickings' in the state"
	run_extract --resources pickings --state "$st" --since 2026-11-27T00:00:00Z --until 2026-11-27T10:00:00Z
	assert_success
	[ "$(grep -c . <<<"$output")" -eq 1 ]
	run jq -c . "$st"
	assert_output '{"shop":"demo","watermarks":{"pickings":"2026-11-27T10:00:00Z"}}'
	# 11:30 is after the watermark: the next run has it, and with a
	# 2-hour overlap the 09:00 one again (same key downstream)
	run_extract --resources pickings --state "$st" --until 2026-11-27T12:00:00Z --overlap 30m
	assert_success
	run jq -r '.data.carrier_tracking_ref' <<<"$output"
	assert_output JD000002
	run_extract --resources pickings --state "$st" --until 2026-11-27T12:30:00Z --overlap 4h
	assert_success
	run jq -r '.data.carrier_tracking_ref' <<<"$output"
	assert_output "$(printf 'JD000001\nJD000002')"
	run jq -r '.watermarks.pickings' "$st"
	assert_output 2026-11-27T12:30:00Z
	# a write error leaves the watermark where it was
	run --separate-stderr sh -c '"$1" --config "$2" --resources pickings \
	    --state "$3" --until 2026-11-27T13:00:00Z --stats /dev/null >/dev/full' \
	    sh "$BIN/odoo-extract" "$CONF" "$st"
	assert_failure 74
	assert_equal "$stderr" "odoo-extract: write error on standard output: No space left on device"
	run jq -r '.watermarks.pickings' "$st"
	assert_output 2026-11-27T12:30:00Z
}

@test "deliveries not done, and orders tillroll did not load, are not extracted" {
	start_loaded 16
	double_post /_ship '{"order": "#1001", "carrier": "DHL Express", "tracking": "X1", "state": "assigned"}' >/dev/null
	# an order made in Odoo by hand: no tillroll external id
	so=$(double_post /_seed '{"model": "sale.order", "vals": {"partner_id": 1, "name": "S-HAND", "state": "sale"}}')
	double_post /_seed "{\"model\": \"sale.order.line\", \"vals\": {\"order_id\": $so, \"product_id\": 2, \"product_uom_qty\": 1}}" >/dev/null
	ship "$so" 'DHL Express' X2
	run_extract --resources pickings --since 2026-11-27T00:00:00Z
	assert_success
	assert_output ""
	jq -e '.dropped_by_reason.not_tillroll_order == 1 and .out == 0' "$BATS_TEST_TMPDIR/stats.json"
	assert_ledger "$BATS_TEST_TMPDIR/stats.json"
}

@test "stock under a child location counts; an unknown location is a configuration error" {
	start_loaded 18
	stock MUG-SAG 4 0 WH/Stock
	stock MUG-SAG 6 1 WH/Stock/Shelf 2
	run_extract --resources stock
	assert_success
	run sh -c "printf '%s\n' '$output' | '$BIN/normalize' --stats /dev/null | jq -r 'select(.sku == \"MUG-SAG\") | .available'"
	assert_output 9
	jq '.locations = {"WH/Nowhere": "7000000000001"}' "$CONF" >"$CONF.new" && mv "$CONF.new" "$CONF"
	run_extract --resources stock
	assert_failure 78
	assert_equal "$stderr" "odoo-extract: config: locations: Odoo has no stock location 'WH/Nowhere'"
}

@test "a wrong key stops at once with 77 and is never printed" {
	start_loaded 16
	printf 'wrong-%s\n' "$ODOO_DOUBLE_KEY" >"$BATS_TEST_TMPDIR/odoo-key"
	run_extract --since 2026-11-27T00:00:00Z
	assert_failure 77
	assert_equal "$stderr" "odoo-extract: odoo: login refused for user 'etl@tillroll-demo.example' on 'tillroll-demo' (wrong key or password); not retrying"
	chmod 644 "$BATS_TEST_TMPDIR/odoo-key"
	run_extract --since 2026-11-27T00:00:00Z
	assert_failure 77
	refute_output --partial "$ODOO_DOUBLE_KEY"
	[[ "$stderr" != *"$ODOO_DOUBLE_KEY"* ]]
}

@test "usage: --help, --version, bad options" {
	run "$BIN/odoo-extract" --help
	assert_success
	assert_line --index 0 --partial "usage: odoo-extract --config FILE"
	run "$BIN/odoo-extract" --version
	assert_output "odoo-extract (tillroll) 0.1.0"
	run --separate-stderr "$BIN/odoo-extract"
	assert_failure 64
	assert_equal "$(head -n 1 <<<"$stderr")" "odoo-extract: --config is required"
	run --separate-stderr "$BIN/odoo-extract" --config x --resources orders
	assert_failure 64
	assert_equal "$stderr" "odoo-extract: --resources: 'orders' is not a list of pickings and stock"
	run --separate-stderr "$BIN/odoo-extract" --config x --overlap 5y
	assert_failure 64
	run --separate-stderr "$BIN/odoo-extract" --config x --since yesterday
	assert_failure 64
	assert_equal "$stderr" "odoo-extract: --since: 'yesterday' is not a timestamp with an offset"
}
