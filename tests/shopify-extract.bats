#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# shopify-extract against the Shopify GraphQL test double (shopify-double.py)
# over HTTPS with a throwaway certificate, so TLS verification stays on.

load test_helper

DOUBLE=$BATS_TEST_DIRNAME/shopify-double.py
TOKEN=shpat_0123456789abcdef0123456789abcdef

# start_double DIR ARGS...: a double on DIR/port, its pid in DIR/pid.
start_double() {
	local dir=$1
	shift
	mkdir -p "$dir"
	SHOPIFY_DOUBLE_TOKEN=$TOKEN python3 "$DOUBLE" --port-file "$dir/port" \
	    --log "$dir/log.ndjson" --cert "$BATS_FILE_TMPDIR/cert.pem" \
	    --key "$BATS_FILE_TMPDIR/key.pem" "$@" 3>&- >"$dir/double.err" 2>&1 &
	echo $! >"$dir/pid"
	echo $! >>"$BATS_FILE_TMPDIR/pids"
	for _ in $(seq 100); do
		[ -s "$dir/port" ] && break
		sleep 0.05
	done
	[ -s "$dir/port" ] || { cat "$dir/double.err"; return 1; }
	printf '{"shop":"demo","shopify":{"domain":"tillroll-demo.myshopify.com","api_version":"2025-07","currency":"EUR","endpoint":"https://127.0.0.1:%s"}}\n' \
	    "$(cat "$dir/port")" >"$dir/config.json"
}

stop_double() {
	kill "$(cat "$1/pid")" 2>/dev/null || true
}

# extract DIR ARGS...: the extractor against the double in DIR.
extract() {
	local dir=$1
	shift
	SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-extract" \
	    --config "$dir/config.json" --cacert "$BATS_FILE_TMPDIR/cert.pem" "$@"
}

# What a comparison ignores: nulls (Shopify's for fields the world lacks)
# and pageInfo (a followed connection ends with hasNextPage false).
canon() {
	jq -c 'walk(if type == "object" then with_entries(select(.value != null
	    and .key != "pageInfo")) else . end)' "$@" | jq -S -c . | sort
}

setup_file() {
	cd "$BATS_FILE_TMPDIR"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
	    -addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem \
	    2>/dev/null
	"$BIN/gen-day" --orders 150 --seed 11 >world.ndjson
	: >pids
	start_double "$BATS_FILE_TMPDIR/clean" --world world.ndjson \
	    --restore-rate 100000
}

teardown_file() {
	local pid
	while read -r pid; do
		kill "$pid" 2>/dev/null || true
	done <"$BATS_FILE_TMPDIR/pids"
}

setup() {
	W=$BATS_FILE_TMPDIR/world.ndjson
	C=$BATS_FILE_TMPDIR/clean
	T=$BATS_TEST_TMPDIR
	DAY="--since 2026-11-26T00:00:00Z --until 2026-11-27T00:00:00Z"
}

@test "--help, --version and bad usage" {
	run --separate-stderr "$BIN/shopify-extract" --help
	assert_success
	assert_line --index 0 --partial 'usage: shopify-extract --config FILE'
	run "$BIN/shopify-extract" --version
	assert_output "shopify-extract (tillroll) 0.1.0"
	run -64 --separate-stderr "$BIN/shopify-extract" --bogus
	run -64 --separate-stderr "$BIN/shopify-extract"
	[ "${stderr_lines[0]}" = "shopify-extract: --config is required" ]
	run -64 --separate-stderr "$BIN/shopify-extract" --config x --overlap 1y
	[ "${stderr_lines[0]}" = "shopify-extract: --overlap: '1y' is not a duration such as 90s, 30m, 1h" ]
	run -64 --separate-stderr "$BIN/shopify-extract" --config x --resources orders,refunds
	[[ "${stderr_lines[0]}" == "shopify-extract: --resources: 'refunds' is not one of"* ]]
	run -64 --separate-stderr "$BIN/shopify-extract" --config x --since yesterday
	[ "$stderr" = "shopify-extract: --since: 'yesterday' is not a timestamp with an offset" ]
}

@test "configuration and token errors name what is missing" {
	run -66 --separate-stderr "$BIN/shopify-extract" --config "$T/none.json"
	[[ "$stderr" == *"cannot open '$T/none.json'"* ]]
	echo '{"shopify":{"api_version":"2025-07"}}' >"$T/c.json"
	run -78 --separate-stderr "$BIN/shopify-extract" --config "$T/c.json"
	[ "$stderr" = "shopify-extract: '$T/c.json' lacks 'shop'" ]
	echo '{"shop":"demo","shopify":{"domain":"x","api_version":"2025-07"}}' >"$T/c.json"
	run -78 --separate-stderr env -u SHOPIFY_ACCESS_TOKEN "$BIN/shopify-extract" --config "$T/c.json"
	[ "$stderr" = "shopify-extract: no token: set SHOPIFY_ACCESS_TOKEN or shopify.token_file" ]
	# A token file is read relative to the config, and must be private.
	echo '{"shop":"demo","shopify":{"domain":"x","api_version":"2025-07","token_file":"tok"}}' >"$T/c.json"
	echo "$TOKEN" >"$T/tok"
	chmod 644 "$T/tok"
	run -77 --separate-stderr env -u SHOPIFY_ACCESS_TOKEN "$BIN/shopify-extract" --config "$T/c.json"
	[ "$stderr" = "shopify-extract: the key file is readable by group or others (chmod 600 it)" ]
	# A wrong token: Shopify's 401.
	run -77 --separate-stderr env SHOPIFY_ACCESS_TOKEN=shpat_wrong "$BIN/shopify-extract" \
	    --config "$C/config.json" --cacert "$BATS_FILE_TMPDIR/cert.pem" $DAY \
	    --stats /dev/null
	[ "$stderr" = "shopify-extract: Shopify refused the access token (HTTP 401): check SHOPIFY_ACCESS_TOKEN or shopify.token_file" ]
}

@test "TLS is verified: without the test CA the double is refused" {
	run -69 --separate-stderr env SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-extract" \
	    --config "$C/config.json" --retries 1 $DAY
	[[ "$stderr" == "shopify-extract: ShopProbe: SSL certificate problem"* ]]
	assert_equal "$output" ""
}

@test "a clean run gives back the world, node for node, and normalizes the same" {
	run --separate-stderr extract "$C" $DAY --stats "$T/stats.json"
	assert_success
	printf '%s\n' "$output" >"$T/out.ndjson"
	assert_ledger "$T/stats.json"
	# Every node of the world, as the world holds it.
	jq -c 'select(.kind != "shopify.customer" and .kind != "shopify.inventory_level")' \
	    "$T/out.ndjson" >"$T/core.ndjson"
	diff <(canon "$W") <(canon "$T/core.ndjson")
	# Envelopes carry what normalize needs.
	run jq -r '[.shop, .api, .shop_currency] | join(" ")' "$T/out.ndjson"
	[ "$(sort -u <<<"$output")" = "demo 2025-07 EUR" ]
	[ "$(jq -r '.kind' "$T/out.ndjson" | sort -u | tr '\n' ' ')" = \
	  "shopify.balance_transaction shopify.customer shopify.inventory_level shopify.order shopify.payout shopify.product " ]
	# normalize accepts all of it, with the same records as from the world.
	"$BIN/normalize" --stats /dev/null "$T/core.ndjson" | jq -c 'del(.src)' | sort >"$T/b"
	"$BIN/normalize" --stats /dev/null "$W" | jq -c 'del(.src)' | sort >"$T/a"
	diff "$T/a" "$T/b"
	"$BIN/normalize" --stats "$T/n.json" "$T/out.ndjson" >/dev/null
	[ "$(jq .rejected "$T/n.json")" -eq 0 ]
	# Orders with more lines than the first page were followed.
	grep -q '"op": "OrderLineItems"' "$C/log.ndjson"
}

@test "an order with 300 line items is followed to the end and merged" {
	python3 - "$W" "$T/fat.ndjson" <<-'EOF'
	import json, sys
	for line in open(sys.argv[1]):
	    e = json.loads(line)
	    if e['kind'] == 'shopify.order':
	        li = e['data']['lineItems']['nodes']
	        base = li[0]
	        e['data']['lineItems']['nodes'] = [dict(base, id='gid://shopify/LineItem/9%012d' % i) for i in range(300)]
	        open(sys.argv[2], 'w').write(json.dumps(e) + '\n')
	        break
	EOF
	start_double "$T/d" --world "$T/fat.ndjson" --restore-rate 100000
	run --separate-stderr extract "$T/d" $DAY --resources orders
	assert_success
	run jq -r '.data.lineItems | "\(.nodes | length) \(.nodes | map(.id) | unique | length) \(.pageInfo.hasNextPage)"' <<<"$output"
	assert_output "300 300 false"
	[ "$(grep -c '"op": "OrderLineItems"' "$T/d/log.ndjson")" -ge 2 ]
	stop_double "$T/d"
}

@test "a world of orders with 10% of requests failing give the records of a clean run" {
	# The acceptance size, 5000 orders: about a minute here.
	# TILLROLL_EXTRACT_ORDERS=N runs another.
	"$BIN/gen-day" --orders "${TILLROLL_EXTRACT_ORDERS:-5000}" --payouts 20 \
	    --seed 5000 >"$T/big.ndjson"
	start_double "$T/d" --world "$T/big.ndjson" --restore-rate 1000000 \
	    --fault-rate 0.1 --seed 7 --retry-after 0 \
	    --fault-kinds 500,502,503,429,drop,reset,throttle
	run --separate-stderr extract "$T/d" $DAY --resources orders,payouts,balance,products \
	    --backoff 5 --retries 12 --stats "$T/stats.json" --output "$T/out.ndjson"
	assert_success
	assert_ledger "$T/stats.json"
	# Faults of every kind were played, and some follow-ups needed.
	run jq -r 'select(.fault != null) | .fault' "$T/d/log.ndjson"
	for k in 500 502 503 429 drop reset throttle; do assert_line "$k"; done
	"$BIN/normalize" --stats /dev/null "$T/big.ndjson" | jq -c 'del(.src)' | sort >"$T/a"
	"$BIN/normalize" --stats /dev/null "$T/out.ndjson" | jq -c 'del(.src)' | sort >"$T/b"
	[ "$(wc -l <"$T/a")" -gt "${TILLROLL_EXTRACT_ORDERS:-5000}" ]
	diff "$T/a" "$T/b"
	# No query arrived while the bucket lacked its cost.
	run jq -c 'select(.cost != null and .fault == "ok" and .available < .cost)' "$T/d/log.ndjson"
	assert_output ""
	stop_double "$T/d"
}

@test "no query is sent before the bucket can pay for it; waits follow the restore rate" {
	start_double "$T/d" --world "$W" --max-available 1000 --restore-rate 20000
	run --separate-stderr extract "$T/d" $DAY --resources orders --verbose
	assert_success
	# Costly pages drained the bucket, so the extractor had to wait...
	[[ "$stderr" == *"waiting "*" ms for the bucket"* ]]
	# ...and no query came while the bucket held less than its cost.
	run jq -c 'select(.available < .cost or .throttled)' "$T/d/log.ndjson"
	assert_output ""
	# Every Orders page stays under the 1000-point single-query ceiling.
	run jq -c 'select(.cost > 1000)' "$T/d/log.ndjson"
	assert_output ""
	stop_double "$T/d"
}

@test "THROTTLED answers are waited out; a missing throttleStatus is tolerated" {
	start_double "$T/d" --world "$W" --restore-rate 100000 --faults ok,throttle,throttle
	run --separate-stderr extract "$T/d" $DAY --resources payouts
	assert_success
	[ "$(jq -c 'select(.throttled)' "$T/d/log.ndjson" | wc -l)" -eq 2 ]
	[ "$(jq -r .kind <<<"$output" | sort -u)" = shopify.payout ]
	stop_double "$T/d"
	start_double "$T/e" --world "$W" --restore-rate 100000 --no-throttle-status
	run --separate-stderr extract "$T/e" $DAY --resources payouts
	assert_success
	[ "${#lines[@]}" -eq "$(grep -c shopify.payout "$W")" ]
	stop_double "$T/e"
}

@test "429 waits Retry-After, slow answers time out and are retried" {
	start_double "$T/d" --world "$W" --restore-rate 100000 --faults ok,429,slow \
	    --retry-after 1 --slow 3
	run --separate-stderr extract "$T/d" $DAY --resources payouts --timeout 1 --backoff 10 --verbose
	assert_success
	[[ "$stderr" == *"Payouts: cost "*"HTTP 429"* ]]
	[[ "$stderr" == *"Payouts: cost "*"failed: Operation timed out"* ]]
	# The retry after the 429 came at least Retry-After (1 s) later.
	run jq -s '[.[] | select(.op == "Payouts")] | (.[1].t - .[0].t) >= 1' "$T/d/log.ndjson"
	assert_output true
	stop_double "$T/d"
}

@test "retries run out: exit 75, the watermark stays where it was" {
	start_double "$T/d" --world "$W" --restore-rate 100000 --faults ok,500,502,500
	run --separate-stderr extract "$T/d" $DAY --resources payouts --retries 3 --backoff 5 \
	    --state "$T/state.json"
	assert_failure 75
	[[ "$stderr" == "shopify-extract: Payouts: gave up after 3 attempts: HTTP 500"* ]]
	run jq -c '.watermarks' "$T/state.json"
	assert_output null
	stop_double "$T/d"
}

@test "a missing scope exits 77 and names the scope" {
	start_double "$T/d" --world "$W" --restore-rate 100000 --deny-scope read_shopify_payments_payouts
	run -77 --separate-stderr extract "$T/d" $DAY --resources payouts
	[[ "$stderr" == "shopify-extract: Payouts: the access token lacks the scope 'read_shopify_payments_payouts'"* ]]
	stop_double "$T/d"
}

@test "watermarks: the next run starts an overlap before the last one's end" {
	run --separate-stderr extract "$C" --resources orders --since 2026-11-26T00:00:00Z \
	    --until 2026-11-26T12:00:00Z --state "$T/state.json"
	assert_success
	[ "$(jq -r .watermarks.orders "$T/state.json")" = 2026-11-26T12:00:00Z ]
	[ "$(jq -r .run "$T/state.json")" = null ]
	first=$(jq -r '.data.updatedAt' <<<"$output" | sort | tail -1)
	[[ "$first" < 2026-11-26T12:00:00Z ]]
	run --separate-stderr extract "$C" --resources orders --until 2026-11-27T00:00:00Z \
	    --state "$T/state.json" --overlap 30m
	assert_success
	run jq -r 'select(.op == "Orders") | .variables.query' "$C/log.ndjson"
	assert_line "updated_at:>='2026-11-26T11:30:00Z' AND updated_at:<'2026-11-27T00:00:00Z'"
	[ "$(jq -r .watermarks.orders "$T/state.json")" = 2026-11-27T00:00:00Z ]
}

@test "killed at random moments and resumed: every node exactly once" {
	start_double "$T/d" --world "$W" --restore-rate 40000
	local n=0 rc=1
	while [ "$rc" -ne 0 ] && [ "$n" -lt 12 ]; do
		SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-extract" \
		    --config "$T/d/config.json" --cacert "$BATS_FILE_TMPDIR/cert.pem" \
		    $DAY --state "$T/state.json" --output "$T/out.ndjson" \
		    --stats /dev/null 3>&- 2>>"$T/err" &
		pid=$!
		# Killed at a random moment, the last run left to finish.
		if [ "$n" -lt 8 ]; then
			sleep "0.$((RANDOM % 5))$((RANDOM % 10))"
			kill -9 "$pid" 2>/dev/null || true
		fi
		wait "$pid" 2>/dev/null && rc=0 || rc=$?
		n=$((n + 1))
		# The watermark never passes what the output holds.
		if [ "$rc" -ne 0 ] && [ -s "$T/state.json" ]; then
			size=$(jq -r '.run.output_size // 0' "$T/state.json")
			[ "$(stat -c %s "$T/out.ndjson")" -ge "$size" ]
		fi
	done
	[ "$rc" -eq 0 ] || { cat "$T/err"; false; }
	[ "$n" -gt 1 ]
	# Each node once: the world's, plus customers and inventory levels.
	[ "$(jq -r '"\(.kind) \(.data.id)"' "$T/out.ndjson" | sort | uniq -d | wc -l)" -eq 0 ]
	jq -c 'select(.kind != "shopify.customer" and .kind != "shopify.inventory_level")' \
	    "$T/out.ndjson" >"$T/core.ndjson"
	diff <(canon "$W") <(canon "$T/core.ndjson")
	stop_double "$T/d"
}

@test "a balance transaction pending on day 1 comes again on day 2 with its payout" {
	"$BIN/gen-day" --orders 60 --seed 4 --date 2026-11-26 >"$T/day1.ndjson"
	pending=$(jq -r 'select(.kind == "shopify.balance_transaction" and .data.associatedPayout.status == "PENDING") | .data.id' "$T/day1.ndjson" | head -1)
	[ -n "$pending" ]
	jq -c --arg p "$pending" 'if .data.id == $p then .data.associatedPayout = {"id": "gid://shopify/ShopifyPaymentsPayout/1194270000009", "status": "PAID"} else . end' \
	    "$T/day1.ndjson" >"$T/day2.ndjson"
	jq -c 'select(.kind == "shopify.payout") | .data.id = "gid://shopify/ShopifyPaymentsPayout/1194270000009" | .data.legacyResourceId = "1194270000009" | .data.issuedAt = "2026-11-27T23:00:00Z"' \
	    "$T/day1.ndjson" | head -1 >>"$T/day2.ndjson"
	start_double "$T/d1" --world "$T/day1.ndjson" --restore-rate 100000
	run --separate-stderr extract "$T/d1" --resources payouts,balance --since 2026-11-26T00:00:00Z \
	    --until 2026-11-27T00:00:00Z --state "$T/state.json"
	assert_success
	run jq -r --arg p "$pending" 'select(.data.id == $p) | .data.associatedPayout.status' <<<"$output"
	assert_output PENDING
	start_double "$T/d2" --world "$T/day2.ndjson" --restore-rate 100000
	run --separate-stderr extract "$T/d2" --resources payouts,balance \
	    --until 2026-11-28T00:00:00Z --state "$T/state.json"
	assert_success
	run jq -r --arg p "$pending" 'select(.data.id == $p) | "\(.data.associatedPayout.id) \(.data.associatedPayout.status)"' <<<"$output"
	assert_output "gid://shopify/ShopifyPaymentsPayout/1194270000009 PAID"
	stop_double "$T/d1"
	stop_double "$T/d2"
}

@test "bulk operation: the same envelopes as the paginated run" {
	start_double "$T/d" --world "$W" --restore-rate 100000 --bulk-polls 3
	run --separate-stderr extract "$T/d" $DAY --resources orders --bulk --poll 20
	assert_success
	printf '%s\n' "$output" >"$T/bulk.ndjson"
	run jq -r '.op' "$T/d/log.ndjson"
	assert_line BulkOperationRunQuery
	assert_line "GET bulk"
	# Children were not next to their parents in the result file.
	run --separate-stderr extract "$T/d" $DAY --resources orders
	assert_success
	diff <(jq -S -c . "$T/bulk.ndjson" | sort) <(jq -S -c . <<<"$output" | sort)
	stop_double "$T/d"
	start_double "$T/e" --world "$W" --restore-rate 100000 --bulk-polls 2 --bulk-fail
	run -75 --separate-stderr extract "$T/e" $DAY --resources orders --bulk --poll 20 \
	    --stats /dev/null
	[ "$stderr" = "shopify-extract: the bulk operation ended FAILED (INTERNAL_SERVER_ERROR)" ]
	stop_double "$T/e"
}

@test "the token appears nowhere: stdout, stderr, state file, argv" {
	start_double "$T/d" --world "$W" --restore-rate 3000
	SHOPIFY_ACCESS_TOKEN=$TOKEN "$BIN/shopify-extract" --config "$T/d/config.json" \
	    --cacert "$BATS_FILE_TMPDIR/cert.pem" $DAY --state "$T/state.json" \
	    --verbose --stats "$T/stats.json" >"$T/out" 2>"$T/err" 3>&- &
	pid=$!
	sleep 0.3
	tr '\0' ' ' </proc/$pid/cmdline >"$T/argv" || true
	wait "$pid"
	[ -s "$T/out" ] && [ -s "$T/err" ] && [ -s "$T/argv" ]
	grep -q 'Orders: cost' "$T/err"
	for f in out err argv state.json stats.json; do
		! grep -q "$TOKEN" "$T/$f"
		! grep -q "0123456789abcdef" "$T/$f"
	done
	stop_double "$T/d"
}

@test "a write error on standard output exits 74" {
	run -74 --separate-stderr bash -c "SHOPIFY_ACCESS_TOKEN=$TOKEN '$BIN/shopify-extract' \
	    --config '$C/config.json' --cacert '$BATS_FILE_TMPDIR/cert.pem' $DAY \
	    --resources payouts --stats /dev/null >/dev/full"
	[[ "$stderr" == *"write error on standard output"* ]]
}
