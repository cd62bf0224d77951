#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# shopify-load against the Shopify GraphQL test double (shopify-double.py)
# over HTTPS with a throwaway certificate: fulfillments and stock from
# Odoo's side written into Shopify, once.

load test_helper

DOUBLE=$BATS_TEST_DIRNAME/shopify-double.py
TOKEN=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
IN=$BATS_TEST_DIRNAME/shopify-load

# start_double DIR: a fresh double (its own state) on DIR/port, with the
# world of the fixtures: six orders of gen-day's seed 7, and every item
# stocked at two locations.
start_double() {
	local dir=$1
	mkdir -p "$dir"
	SHOPIFY_DOUBLE_TOKEN=$TOKEN python3 "$DOUBLE" --port-file "$dir/port" \
	    --log "$dir/log.ndjson" --dump "$dir/dump.json" \
	    --cert "$BATS_FILE_TMPDIR/cert.pem" --key "$BATS_FILE_TMPDIR/key.pem" \
	    --world "$BATS_FILE_TMPDIR/world.ndjson" \
	    --world "$BATS_FILE_TMPDIR/levels.ndjson" --restore-rate 100000 \
	    3>&- >"$dir/double.err" 2>&1 &
	echo $! >"$dir/pid"
	echo $! >>"$BATS_FILE_TMPDIR/pids"
	for _ in $(seq 100); do
		[ -s "$dir/port" ] && break
		sleep 0.05
	done
	[ -s "$dir/port" ] || { cat "$dir/double.err"; return 1; }
	printf '{"shop":"demo","shopify":{"domain":"tillroll-demo.myshopify.com","api_version":"2025-07","endpoint":"https://127.0.0.1:%s"}}\n' \
	    "$(cat "$dir/port")" >"$dir/config.json"
}

# load DIR ARGS...: the loader against the double in DIR.
load_into() {
	local dir=$1
	shift
	SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-load" \
	    --config "$dir/config.json" --cacert "$BATS_FILE_TMPDIR/cert.pem" "$@"
}

# mutations DIR: how many mutations the double has received.
mutations() {
	jq -s '[.[] | select(.kind == "mutation" and .status == 200)] | length' \
	    "$1/log.ndjson"
}

setup_file() {
	cd "$BATS_FILE_TMPDIR"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem \
	    2>/dev/null
	"$BIN/gen-day" --orders 6 --seed 7 >world.ndjson
	jq -c 'select(.kind == "shopify.product") | .data.variants.nodes[]
	    | .inventoryItem.id as $i | (1, 2) as $l
	    | {kind: "shopify.inventory_level", shop: "demo", data: {
	        id: "gid://shopify/InventoryLevel/\($i | split("/")[-1])?l=\($l)",
	        item: {id: $i},
	        location: {id: "gid://shopify/Location/700000000000\($l)"},
	        quantities: [{name: "available", quantity: 5}],
	        updatedAt: "2026-11-26T00:00:00Z"}}' world.ndjson >levels.ndjson
	: >pids
}

teardown_file() {
	local pid
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/pids"
}

setup() {
	T=$BATS_TEST_TMPDIR
}

@test "--help, --version and bad usage" {
	run --separate-stderr "$BIN/shopify-load" --help
	assert_success
	assert_line --index 0 --partial 'usage: shopify-load --config FILE'
	run "$BIN/shopify-load" --version
	assert_output "shopify-load (tillroll) 0.1.0"
	run -64 --separate-stderr "$BIN/shopify-load" --bogus
	run -64 --separate-stderr "$BIN/shopify-load"
	[ "${stderr_lines[0]}" = "shopify-load: --config is required" ]
}

@test "configuration and token errors name what is missing" {
	run -66 --separate-stderr "$BIN/shopify-load" --config "$T/none.json"
	[[ "$stderr" == *"cannot open '$T/none.json'"* ]]
	echo '{"shop":"demo","shopify":{"domain":"x"}}' >"$T/c.json"
	run -78 --separate-stderr "$BIN/shopify-load" --config "$T/c.json"
	[ "$stderr" = "shopify-load: '$T/c.json' lacks 'shopify.api_version'" ]
	echo '{"shop":"demo","shopify":{"domain":"x","api_version":"2025-07"}}' >"$T/c.json"
	run -78 --separate-stderr env -u SHOPIFY_ACCESS_TOKEN "$BIN/shopify-load" \
	    --config "$T/c.json" "$IN/inventory.ndjson"
	[ "$stderr" = "shopify-load: no token: set SHOPIFY_ACCESS_TOKEN or shopify.token_file" ]
	echo '{"shop":"demo","shopify":{"domain":"x","api_version":"2025-07","token_file":"tok"}}' >"$T/c.json"
	echo "$TOKEN" >"$T/tok"
	chmod 644 "$T/tok"
	run -77 --separate-stderr env -u SHOPIFY_ACCESS_TOKEN "$BIN/shopify-load" \
	    --config "$T/c.json" "$IN/inventory.ndjson"
	[ "$stderr" = "shopify-load: the key file is readable by group or others (chmod 600 it)" ]
}

@test "a day's fulfillments: every order fulfilled with its tracking; a rerun sends no mutation" {
	start_double "$T/d"
	# The token from the config's token_file (0600), not the environment.
	echo "$TOKEN" >"$T/d/token"
	chmod 600 "$T/d/token"
	jq -c '.shopify.token_file = "token"' "$T/d/config.json" >"$T/d/c.json"
	run --separate-stderr env -u SHOPIFY_ACCESS_TOKEN "$BIN/shopify-load" \
	    --config "$T/d/c.json" --cacert "$BATS_FILE_TMPDIR/cert.pem" \
	    --stats "$T/stats.json" "$IN/fulfillments.ndjson"
	assert_success
	[ "${#lines[@]}" -eq 4 ]
	run jq -r '.action' <<<"$output"
	assert_output "$(printf 'created\n%.0s' 1 2 3 4)"
	assert_ledger "$T/stats.json"
	[ "$(mutations "$T/d")" -eq 4 ]
	# In the double: each order has one fulfillment with the record's
	# tracking and lines, and nothing is left to ship.
	jq -S -c '{o: "gid://shopify/Order/\(.order_id)", t: .tracking, l: .lines}' \
	    "$IN/fulfillments.ndjson" | sort >"$T/want"
	jq -S -c '.fulfillments | to_entries[] | select(.value != []) | .key as $o
	    | .value[] | {o: $o, t: .trackingInfo[0], l: .lineItems}' \
	    "$T/d/dump.json" | sort >"$T/have"
	diff "$T/want" "$T/have"
	# The rerun reads, finds the tracking numbers, and writes nothing.
	: >"$T/d/log.ndjson"
	run --separate-stderr load_into "$T/d" --stats /dev/null "$IN/fulfillments.ndjson"
	assert_success
	run jq -r '[.action, .reason, .shopify.fulfillment_id] | join(" ")' <<<"$output"
	assert_line --index 0 "unchanged fulfilled_with_tracking 5600000000001"
	[ "$(mutations "$T/d")" -eq 0 ]
	[ "$(jq -s 'length' "$T/d/log.ndjson")" -eq 4 ]
}

@test "stock: every item and location holds what was asked; a rerun sends no mutation" {
	start_double "$T/d"
	run --separate-stderr load_into "$T/d" --stats "$T/stats.json" "$IN/inventory.ndjson"
	assert_success
	results=$output
	[ "$(jq -s 'length' <<<"$results")" -eq 56 ]
	assert_ledger "$T/stats.json"
	# The fixture asks 5 (the double's figure) for some: no mutation there.
	want=$(jq -s '[.[] | select(.available != 5)] | length' "$IN/inventory.ndjson")
	[ "$want" -gt 0 ] && [ "$want" -lt 56 ]
	[ "$(mutations "$T/d")" -eq "$want" ]
	[ "$(jq -s '[.[] | select(.action == "updated")] | length' <<<"$results")" -eq "$want" ]
	jq -c '{i: "gid://shopify/InventoryItem/\(.inventory_item_id)",
	    l: "gid://shopify/Location/\(.location_id)", q: .available}' \
	    "$IN/inventory.ndjson" | sort >"$T/want"
	jq -c '.levels | to_entries[] | .key as $i | .value | to_entries[]
	    | {i: $i, l: .key, q: .value}' "$T/d/dump.json" | sort >"$T/have"
	diff "$T/want" "$T/have"
	# Each mutation is Shopify's documented shape.
	jq -e -s '[.[] | select(.op == "InventorySetQuantities") | .variables.input
	    | .name == "available" and .reason == "correction"
	      and .ignoreCompareQuantity == true and (.quantities | length) == 1]
	    | all' "$T/d/log.ndjson"
	: >"$T/d/log.ndjson"
	run --separate-stderr load_into "$T/d" --stats /dev/null "$IN/inventory.ndjson"
	assert_success
	[ "$(jq -s '[.[] | select(.action == "unchanged")] | length' <<<"$output")" -eq 56 ]
	[ "$(mutations "$T/d")" -eq 0 ]
}

@test "Shopify's userErrors reject their record with its message; the others apply" {
	start_double "$T/d"
	run -65 --separate-stderr load_into "$T/d" --rejects "$T/rej" \
	    --stats "$T/stats.json" "$IN/mixed.ndjson"
	results=$output
	errors=("${stderr_lines[@]}")
	assert_ledger "$T/stats.json"
	run jq -r '[.record_key, .action] | join(" ")' <<<"$results"
	assert_output "demo/fulfillment/5828260000005 created
demo/inventory/APR-SAND@7000000000001 updated
demo/inventory/4455000000002@7000000000001 updated
demo/inventory/variant-4137000000004@7000000000002 updated
demo/payout/1 skipped"
	run jq -r '[.line, .reason, .detail] | join(" | ")' "$T/rej"
	assert_output "1 | shopify_user_error | fulfillment 'demo/fulfillment/5828260000001': Shopify refused it: Invalid fulfillment order line item quantity requested.
2 | unmapped_sku | fulfillment 'demo/fulfillment/5828260000003': SKU 'NOPE-1' is not on a fulfillment order of order 5828260000003
3 | unknown_order | fulfillment 'demo/fulfillment/999': order 999 is not in Shopify
5 | unknown_inventory_item | inventory 'demo/inventory/4455999999999@7000000000001': inventory item 4455999999999 is not in Shopify
6 | shopify_user_error | inventory 'demo/inventory/4455000000001@7000000000009': Shopify refused it: The specified location could not be found.
8 | unmapped_sku | inventory 'demo/inventory/NOPE-2@7000000000001': no Shopify inventory item has SKU 'NOPE-2'
11 | unknown_variant | inventory 'demo/inventory/variant-4137999999999@7000000000002': variant 4137999999999 is not in Shopify or has no inventory item"
	# Rejects keep the whole record.
	[ "$(jq -c .record "$T/rej" | head -1)" = "$(jq -c . "$IN/mixed.ndjson" | head -1)" ]
	[[ "${errors[0]}" == "shopify-load: $IN/mixed.ndjson: line 1: fulfillment 'demo/fulfillment/5828260000001': Shopify refused it: Invalid"* ]]
	# No mutation was sent for what was rejected before Shopify saw it.
	jq -r 'select(.kind == "mutation") | .op' "$T/d/log.ndjson" | sort | uniq -c >"$T/ops"
	[ "$(cat "$T/ops" | tr -s ' ')" = " 2 FulfillmentCreate
 4 InventorySetQuantities" ]
	[ "$(jq -c '.levels["gid://shopify/InventoryItem/4455000000001"]' "$T/d/dump.json")" = \
	    '{"gid://shopify/Location/7000000000001":40,"gid://shopify/Location/7000000000002":5}' ]
	[ "$(jq '.fulfillments["gid://shopify/Order/5828260000001"] | length' "$T/d/dump.json")" -eq 0 ]
	# Odoo's record names the variant: its inventory item is the one set.
	[ "$(jq -c '.levels["gid://shopify/InventoryItem/4455000000004"]["gid://shopify/Location/7000000000002"]' "$T/d/dump.json")" = 17 ]
}

@test "--dry-run prints the mutations, deterministic, connects nowhere, shows no token" {
	echo '{"shop":"demo","shopify":{"domain":"x","api_version":"2025-07","endpoint":"https://127.0.0.1:1"}}' >"$T/c.json"
	SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-load" --config "$T/c.json" --dry-run \
	    --stats "$T/stats.json" "$IN/fulfillments.ndjson" "$IN/mixed.ndjson" \
	    >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	tr '\0' ' ' </proc/$pid/cmdline >"$T/argv" 2>/dev/null || true
	wait "$pid"
	diff "$IN/dry-run.expected.ndjson" "$T/out"
	assert_ledger "$T/stats.json"
	run --separate-stderr env SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-load" \
	    --config "$T/c.json" --dry-run --stats /dev/null \
	    "$IN/fulfillments.ndjson" "$IN/mixed.ndjson"
	assert_success
	diff "$IN/dry-run.expected.ndjson" - <<<"$output"
	for f in out err argv stats.json; do
		! grep -q "$TOKEN" "$T/$f"
		! grep -q "fedcba9876543210" "$T/$f"
	done
	# The stock mutation is complete; ids only Shopify knows are "@" names.
	run jq -c 'select(.record_key == "demo/inventory/APR-SAND@7000000000001")
	    | .variables.input.quantities' "$T/out"
	assert_output '[{"inventoryItemId":"@item_of_sku:APR-SAND","locationId":"gid://shopify/Location/7000000000001","quantity":40}]'
}

@test "the token appears nowhere in a live run: stdout, stderr, argv, stats" {
	start_double "$T/d"
	load_into "$T/d" --verbose --stats "$T/stats.json" "$IN/inventory.ndjson" \
	    >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	sleep 0.2
	tr '\0' ' ' </proc/$pid/cmdline >"$T/argv" 2>/dev/null || true
	wait "$pid"
	grep -q 'InventorySetQuantities: cost 10' "$T/err"
	for f in out err argv stats.json; do
		! grep -q "$TOKEN" "$T/$f"
		! grep -q "fedcba9876543210" "$T/$f"
	done
	# The double saw the token in the header, as Shopify wants it.
	[ "$(jq -s '[.[] | select(.status == 401)] | length' "$T/d/log.ndjson")" -eq 0 ]
}

@test "Shopify unreachable: 69, and every record kept in the rejects for a rerun" {
	echo '{"shop":"demo","shopify":{"domain":"x","api_version":"2025-07","endpoint":"https://127.0.0.1:1"}}' >"$T/c.json"
	run -69 --separate-stderr env SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-load" \
	    --config "$T/c.json" --retries 2 --backoff 10 --cacert "$BATS_FILE_TMPDIR/cert.pem" \
	    --rejects "$T/rej" --stats "$T/stats.json" "$IN/fulfillments.ndjson"
	[[ "${stderr_lines[0]}" == "shopify-load: OrderFulfillmentState: "* ]]
	assert_output ""
	assert_ledger "$T/stats.json"
	run jq .status "$T/stats.json"
	assert_output 69
	run jq -r .reason "$T/rej"
	assert_output "shopify_failed
not_attempted
not_attempted
not_attempted"
	# A wrong token: Shopify's 401, said as the extractor says it.
	start_double "$T/d"
	run -77 --separate-stderr env SHOPIFY_ACCESS_TOKEN=shpat_wrong "$BIN/shopify-load" \
	    --config "$T/d/config.json" --cacert "$BATS_FILE_TMPDIR/cert.pem" \
	    --stats /dev/null "$IN/inventory.ndjson"
	[ "${stderr_lines[0]}" = "shopify-load: Shopify refused the access token (HTTP 401): check SHOPIFY_ACCESS_TOKEN or shopify.token_file" ]
}

@test "a record that is not one is rejected; a write error on standard output exits 74" {
	printf '%s\n' 'not json' '{"kind":"fulfillment","key":"demo/fulfillment/1","order_id":"1","lines":[]}' \
	    '{"kind":"inventory","key":"demo/inventory/1@2","inventory_item_id":"1","location_id":"2","available":"4"}' >"$T/bad"
	run -65 --separate-stderr "$BIN/shopify-load" --config "$IN/config.json" \
	    --dry-run --stats /dev/null "$T/bad"
	assert_output ""
	[ "${stderr_lines[0]}" = "shopify-load: $T/bad: line 1: not a record: expected an object with a 'kind'" ]
	[ "${stderr_lines[1]}" = "shopify-load: $T/bad: line 2: fulfillment 'demo/fulfillment/1': 'lines' is missing or empty" ]
	[ "${stderr_lines[2]}" = "shopify-load: $T/bad: line 3: inventory 'demo/inventory/1@2': 'available' is missing or not an integer" ]
	run -74 --separate-stderr bash -c "'$BIN/shopify-load' --config '$IN/config.json' \
	    --dry-run --stats /dev/null '$IN/inventory.ndjson' >/dev/full"
	[[ "$stderr" == *"write error on standard output"* ]]
}
