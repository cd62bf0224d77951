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
	    --restore-rate 100000
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
