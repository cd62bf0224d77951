#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# The daily job end to end against both test doubles: Shopify serves the
# sample day over HTTPS, Odoo keeps what is loaded.

load test_helper

TOKEN=shpat_e2e0123456789abcdef0123456789ab
ODOO_KEY=e2e-odoo-k3y-do-not-leak

# serve NAME PORTFILE COMMAND...: a double in the background, its pid kept
# for teardown_file.
serve() {
	local portfile=$1
	shift
	"$@" 3>&- >"$portfile.err" 2>&1 &
	echo $! >>"$BATS_FILE_TMPDIR/pids"
	for _ in $(seq 200); do
		[ -s "$portfile" ] && return 0
		sleep 0.05
	done
	cat "$portfile.err" >&2
	return 1
}

setup_file() {
	cd "$BATS_FILE_TMPDIR"
	: >pids
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem \
	    2>/dev/null
	SHOPIFY_DOUBLE_TOKEN=$TOKEN serve shopify.port python3 \
	    "$BATS_TEST_DIRNAME/shopify-double.py" --world "$TOP/samples/day/00-extract.ndjson" \
	    --port-file shopify.port --log shopify.log --cert cert.pem --key key.pem \
	    --restore-rate 100000 --dump shopify-dump.json
	ODOO_DOUBLE_KEY=$ODOO_KEY serve odoo.port python3 \
	    "$BATS_TEST_DIRNAME/odoo-double.py" --port-file odoo.port --version 16 \
	    --log odoo-writes.ndjson --company "$(jq -r .odoo.company "$TOP/samples/demo.json")"
	printf '%s\n' "$ODOO_KEY" >odoo-key
	chmod 600 odoo-key
	# The sample shop, pointed at the doubles; its day in UTC so that the
	# window holds the whole generated day.
	jq --arg s "https://127.0.0.1:$(cat shopify.port)" \
	    --arg o "http://127.0.0.1:$(cat odoo.port)" \
	    --arg k "$BATS_FILE_TMPDIR/odoo-key" --arg map "$TOP/samples/tax-map.json" \
	    --arg inbox "$TOP/samples/inbox" \
	    '.shopify.endpoint = $s | .odoo.url = $o | .odoo.key_file = $k
	     | .tax_map = $map | .inbox = $inbox | .time_zone = "UTC"
	     | del(.shopify.token_file)' "$TOP/samples/demo.json" >shop.json
}

teardown_file() {
	local pid
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/pids"
}

setup() {
	export TILLROLL_BIN=$BIN SHOPIFY_ACCESS_TOKEN=$TOKEN
	F=$BATS_FILE_TMPDIR
	P=$TOP/pipelines
}

daily() {
	"$P/daily" --config "$F/shop.json" --date 2026-11-26 --cacert "$F/cert.pem" "$@"
}

odoo_writes() {
	wc -l <"$F/odoo-writes.ndjson"
}

@test "a day runs end to end: Shopify to Odoo, every payout balanced" {
	run --separate-stderr daily --root "$F/a"
	assert_success
	local day=$F/a/demo/2026-11-26
	# The extractor saw the whole day: normalize gives the sample's records
	# (but for their lineage: the extractor writes its envelopes itself).
	gzip -dc "$day/10-normalize.ndjson.gz" | jq -c 'select((.kind | IN("order", "payment", "refund", "payout", "settlement"))
	    and (.src.kind | startswith("shopify.")))' >"$F/got"
	jq -c 'select(.kind | IN("order", "payment", "refund", "payout", "settlement"))' \
	    "$TOP/samples/day/10-normalize.expected.ndjson" >"$F/want"
	run "$BIN/recdiff" --ignore src "$F/want" "$F/got"
	assert_success
	# Odoo holds the day, and every Shopify Payments payout balances.
	jq -e '.status == 0' "$day/run.json"
	run sh -c "gzip -dc '$day/30-match-settlement.ndjson.gz' | jq -r 'select(.kind == \"payout_recon\" and .gateway == \"shopify_payments\") | .status' | sort -u"
	assert_output balanced
	jq -e '.rejected == 0 and .in > 0' "$day/stats/odoo-load.json"
	run curl -sf "http://127.0.0.1:$(cat "$F/odoo.port")/_counts"
	assert_success
	jq -e '."sale.order" == 40' <<<"$output"
	[ "$(odoo_writes)" -gt 0 ]
	# The token went nowhere it should not.
	run grep -rl "$TOKEN" "$F/a"
	assert_output ""
	run grep -rl "$ODOO_KEY" "$F/a"
	assert_output ""
}

@test "the same day again, in a new archive, loads nothing twice" {
	[ -e "$F/a/demo/2026-11-26/run.json" ] || daily --root "$F/a"
	local before
	before=$(odoo_writes)
	run --separate-stderr daily --root "$F/b"
	assert_success
	[ "$(odoo_writes)" -eq "$before" ]
	run sh -c "gzip -dc '$F/b/demo/2026-11-26/40-odoo-load.ndjson.gz' | jq -r 'select(.kind == \"loaded\") | .action' | sort -u"
	refute_line created
	refute_line updated
}

@test "killed (kill -9) during the extract and rerun, the day ends the same" {
	[ -e "$F/a/demo/2026-11-26/run.json" ] || daily --root "$F/a"
	local slow=$BATS_TEST_TMPDIR/slowbin root=$F/k
	mkdir -p "$slow"
	for p in "$BIN"/*; do
		ln -s "$p" "$slow/$(basename "$p")"
	done
	rm "$slow/shopify-extract"
	cat >"$slow/shopify-extract" <<W
#!/bin/sh
# Let the extractor write part of the day, then stop in the middle of it.
"$BIN/shopify-extract" "\$@" &
child=\$!
sleep 0.2
kill -STOP \$child
sleep 30
W
	chmod +x "$slow/shopify-extract"
	TILLROLL_BIN=$slow setsid "$P/daily" --config "$F/shop.json" --date 2026-11-26 \
	    --cacert "$F/cert.pem" --root "$root" >/dev/null 2>&1 3>&- &
	local pid=$!
	sleep 1.5
	kill -9 -- "-$pid"
	wait "$pid" || true
	[ ! -e "$root/demo/2026-11-26/00-extract.ndjson.gz" ]
	run --separate-stderr daily --root "$root"
	assert_success
	# Odoo had the day already (from the first test): the load found it
	# all; every other file is the first run's, byte for byte.
	diff -r -x run.json -x metrics.prom -x MANIFEST -x '.*' \
	    -x 40-odoo-load.ndjson.gz -x odoo-load.json -x report.html \
	    "$F/a/demo/2026-11-26" "$root/demo/2026-11-26"
	run sh -c "gzip -dc '$root/demo/2026-11-26/40-odoo-load.ndjson.gz' | jq -r 'select(.kind == \"loaded\") | .action' | sort -u"
	refute_line created
}

@test "a fleet of days runs through GNU parallel with a joblog, and resumes" {
	printf '%s 2026-11-26\n%s 2026-11-27\n' "$F/shop.json" "$F/shop.json" >"$BATS_TEST_TMPDIR/jobs"
	run --separate-stderr "$P/fleet" "$BATS_TEST_TMPDIR/jobs" --root "$F/fleet" --jobs 2 \
	    -- --cacert "$F/cert.pem"
	[[ "$stderr" == *"2 jobs done"* ]] || fail "$stderr"
	assert_success
	assert_file_exists "$F/fleet/demo/2026-11-26/report.html"
	assert_file_exists "$F/fleet/demo/2026-11-27/report.html"
	[ "$(awk -F'\t' 'NR > 1 && $7 == 0' "$F/fleet/fleet.joblog" | wc -l)" -eq 2 ]
	# Nothing failed, so --resume-failed has nothing to run again.
	run --separate-stderr "$P/fleet" "$BATS_TEST_TMPDIR/jobs" --root "$F/fleet" --resume-failed \
	    -- --cacert "$F/cert.pem"
	assert_success
	[ "$(awk -F'\t' 'NR > 1' "$F/fleet/fleet.joblog" | wc -l)" -eq 2 ]
}

# shopify_mutations: how many mutations the Shopify double has applied.
shopify_mutations() {
	jq -s '[.[] | select(.kind == "mutation" and .status == 200)] | length' \
	    "$F/shopify.log"
}

odoo_post() {
	curl -sf -H 'Content-Type: application/json' -d "$2" \
	    "http://127.0.0.1:$(cat "$F/odoo.port")$1"
}

# The way back (issue 10): the warehouse ships in Odoo, Shopify shows it.
@test "orders shipped in Odoo are fulfilled in Shopify with their tracking; a rerun sends nothing" {
	[ -e "$F/a/demo/2026-11-26/run.json" ] || daily --root "$F/a"
	# The warehouse ships every paid order with goods and no refund.
	jq -r 'select(.kind == "order" and .financial_status == "paid"
	    and (.refunds | length) == 0
	    and any(.lines[]; .requires_shipping and (.gift_card | not))) | .name' \
	    "$TOP/samples/day/10-normalize.expected.ndjson" >"$BATS_TEST_TMPDIR/shipped"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/shipped")" -ge 10 ]
	while read -r name; do
		odoo_post /_ship "$(jq -cn --arg o "$name" '{order: $o,
		    carrier: "DHL Express", tracking: ("TR" + ($o | ltrimstr("#"))),
		    date_done: "2026-11-26 21:00:00"}')" >/dev/null
	done <"$BATS_TEST_TMPDIR/shipped"
	local before
	before=$(shopify_mutations)
	run --separate-stderr daily --root "$F/ship"
	local day=$F/ship/demo/2026-11-26
	[ "$status" -eq 0 ] || { cat "$day"/rejects/*.ndjson | cut -c1-400; echo "$stderr"; false; }
	[ "$(gzip -dc "$day/60-normalize-back.ndjson.gz" | jq -s '[.[] | select(.kind == "fulfillment")] | length')" \
	    -eq "$(wc -l <"$BATS_TEST_TMPDIR/shipped")" ]
	# Every shipped order has one fulfillment with its tracking number.
	jq -r '"TR" + ltrimstr("#")' -R "$BATS_TEST_TMPDIR/shipped" | sort >"$BATS_TEST_TMPDIR/want"
	jq -r '.fulfillments[][] | .trackingInfo[0].number' "$F/shopify-dump.json" |
	    sort >"$BATS_TEST_TMPDIR/have"
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/have"
	[ "$(shopify_mutations)" -eq $((before + $(wc -l <"$BATS_TEST_TMPDIR/shipped"))) ]
	# The same day again: Shopify already shows it, nothing is sent.
	before=$(shopify_mutations)
	run --separate-stderr daily --root "$F/ship-again"
	assert_success
	[ "$(shopify_mutations)" -eq "$before" ]
}

@test "a stock sync sets Shopify to Odoo's available quantity; an unmapped SKU is reported" {
	[ -e "$F/a/demo/2026-11-26/run.json" ] || daily --root "$F/a"
	local skus
	skus=$(jq -r 'select(.kind == "product") | .sku' "$TOP/samples/day/10-normalize.expected.ndjson" | head -3)
	local q=7
	for sku in $skus; do
		odoo_post /_stock "$(jq -cn --arg s "$sku" --argjson q "$q" \
		    '{sku: $s, location: "WH/Stock", quantity: $q, reserved: 2}')" >/dev/null
		q=$((q + 5))
	done
	# A product Odoo has but tillroll never mapped.
	odoo_post /_seed '{"model": "product.product", "vals": {"name": "Back room stool", "default_code": "ZZ-UNMAPPED"}}' >/dev/null
	odoo_post /_stock '{"sku": "ZZ-UNMAPPED", "location": "WH/Stock", "quantity": 4}' >/dev/null
	run --separate-stderr "$P/stock-sync" --config "$F/shop.json" --root "$F/stock" \
	    --cacert "$F/cert.pem"
	assert_success
	[[ "$stderr" == *"ZZ-UNMAPPED"* ]] || fail "the unmapped SKU was not reported: $stderr"
	local run
	run=$(ls -d "$F/stock/demo/stock/"*/ | head -1)
	jq -e '.dropped_by_reason.unmapped_sku >= 1' "$run/stats/odoo-extract.json"
	# Shopify holds Odoo's on hand less reserved for each item stocked.
	q=7
	for sku in $skus; do
		local item
		item=$(jq -r --arg s "$sku" 'select(.kind == "product" and .sku == $s) | .inventory_item_id' \
		    "$TOP/samples/day/10-normalize.expected.ndjson")
		run jq -r --arg i "gid://shopify/InventoryItem/$item" \
		    '.levels[$i]["gid://shopify/Location/7000000000001"]' "$F/shopify-dump.json"
		assert_output "$((q - 2))"
		q=$((q + 5))
	done
	# Again: nothing differs, nothing is sent.
	local before
	before=$(shopify_mutations)
	run --separate-stderr "$P/stock-sync" --config "$F/shop.json" --root "$F/stock" \
	    --cacert "$F/cert.pem"
	assert_success
	[ "$(shopify_mutations)" -eq "$before" ]
}
