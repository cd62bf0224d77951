#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# odoo-load: the day into Odoo, against the Odoo double, in 16, 17 and 18.

load test_helper
load odoo-load/helpers

setup_file() {
	export DAY=$BATS_FILE_TMPDIR/day.ndjson
	make_day >"$DAY"
	make_day --rounding round_globally >"$BATS_FILE_TMPDIR/day-global.ndjson"
}

teardown() {
	stop_double
}

# run_load [options]: odoo-load on the sample day with rejects and stats.
run_load() {
	run --separate-stderr "$BIN/odoo-load" --config "$CONF" \
	    --rejects "$BATS_TEST_TMPDIR/rejects.ndjson" \
	    --stats "$BATS_TEST_TMPDIR/stats.json" "$@"
}

# The acceptance: the day loads; the rerun changes nothing and writes
# nothing; --verify finds no difference.
day_loads_once() {
	start_double "$1"
	run_load "$DAY"
	assert_success
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/first.ndjson"
	assert_ledger "$BATS_TEST_TMPDIR/stats.json"
	# one result per input record, in order
	[ "$(wc -l <"$BATS_TEST_TMPDIR/first.ndjson")" -eq "$(wc -l <"$DAY")" ]
	diff <(jq -r .key "$DAY") <(jq -r .record_key "$BATS_TEST_TMPDIR/first.ndjson")
	run jq -r 'select(.action != "skipped") | .action' "$BATS_TEST_TMPDIR/first.ndjson"
	refute_output --partial unchanged
	[ "$(count sale.order)" -eq 40 ]
	[ "$(jq -s '[.[] | select(.record_kind == "order")] | length' "$BATS_TEST_TMPDIR/first.ndjson")" -eq 40 ]
	run jq -r 'select(.record_kind == "order") | .steps | join(",")' "$BATS_TEST_TMPDIR/first.ndjson"
	assert_line --index 0 "confirm,date_order,post_invoice"
	# authorizations and voids load nothing
	[ "$(count account.payment)" -eq "$(jq -s '[.[] | select(.kind == "payment" and .moves_money and .status == "success")] | length' "$DAY")" ]
	# the order keeps Shopify's date although confirm overwrote it
	run double_get '/_dump?model=sale.order'
	[ "$(jq -r '.[0].date_order' <<<"$output")" = "2026-11-26 00:28:20" ]
	local w
	w=$(writes)
	run_load "$DAY"
	assert_success
	run jq -r '.action' <<<"$output"
	refute_output --partial created
	refute_output --partial updated
	[ "$(writes)" -eq "$w" ] || fail "the rerun wrote: $(tail -n +$((w + 1)) "$BATS_TEST_TMPDIR/writes.ndjson")"
	[ "$(count sale.order)" -eq 40 ]
	run --separate-stderr "$BIN/odoo-load" --config "$CONF" --verify \
	    --stats /dev/null "$DAY"
	assert_success
	run jq -r 'select(.status == "different")' <<<"$output"
	assert_output ""
}

@test "16: the sample day loads; the rerun is unchanged and writes nothing; --verify agrees" {
	day_loads_once 16
	# 16 speaks detailed_type and ref
	run double_get '/_dump?model=product.product'
	[ "$(jq -r '.[1].detailed_type' <<<"$output")" = consu ]
	run double_get '/_dump?model=account.payment'
	[ "$(jq -r '.[0].ref' <<<"$output")" = "#1001 #1001.1" ]
}

@test "17: the sample day loads; the rerun is unchanged and writes nothing; --verify agrees" {
	day_loads_once 17
}

@test "18: the sample day loads; the rerun is unchanged and writes nothing; --verify agrees" {
	day_loads_once 18
	# 18 speaks type/is_storable and memo, and its payments end paid
	run double_get '/_dump?model=account.payment'
	[ "$(jq -r '.[0].memo' <<<"$output")" = "#1001 #1001.1" ]
	[ "$(jq -r '.[0].state' <<<"$output")" = paid ]
}

@test "round_globally: the plan's figures are Odoo's, so the day verifies" {
	start_double 16 --rounding round_globally
	run_load "$BATS_FILE_TMPDIR/day-global.ndjson"
	assert_success
	run --separate-stderr "$BIN/odoo-load" --config "$CONF" --verify \
	    --stats /dev/null "$BATS_FILE_TMPDIR/day-global.ndjson"
	assert_success
}

@test "every invoice total is Shopify's and every balanced payout clears its clearing account" {
	start_double 16
	run_load "$DAY"
	assert_success
	run double_get '/_dump?model=account.move'
	jq -c '.[] | select(.move_type == "out_invoice") | [.ref, .amount_total, .payment_state]' <<<"$output" |
	    sort >"$BATS_TEST_TMPDIR/odoo"
	jq -c 'select(.kind == "order") | [.name, (.totals.total | tonumber)]' "$DAY" | sort >"$BATS_TEST_TMPDIR/shop"
	diff <(jq -c '.[0:2]' "$BATS_TEST_TMPDIR/odoo") "$BATS_TEST_TMPDIR/shop"
	# the payout entries' clearing lines are all reconciled, and so is
	# the clearing line of every payment a payout settled
	run double_get '/_dump?model=account.move.line'
	printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/lines"
	run jq '[.[] | select(.name == "Charges settled" or .name == "Refunds settled") | .reconciled] | (length > 0 and all)' "$BATS_TEST_TMPDIR/lines"
	assert_output true
	local settled
	settled=$(jq -s '[.[] | select(.kind == "payout_recon") | .entry.lines[].payments[]] | length' "$DAY")
	run jq --argjson n "$settled" '[.[] | select(.account_id[1] | startswith("499100")) | select(.payment_id != false) | select(.reconciled)] | length == $n' "$BATS_TEST_TMPDIR/lines"
	assert_output true
}

@test "a connection dropped after Odoo committed a load() leads to no duplicate" {
	start_double 16 --fault '{"type":"drop","method":"load","model":"sale.order","count":1}'
	run_load "$DAY"
	assert_success
	[ "$(count sale.order)" -eq 40 ]
	[ "$(count sale.order.line)" -eq "$(jq -s '[.[] | select(.kind == "order") | .invoice_plan.lines[]] | length' "$DAY")" ]
	# the retry found the committed records by their external ids
	run jq -s '[.[] | select(.method == "load" and .model == "sale.order")] | length' "$BATS_TEST_TMPDIR/writes.ndjson"
	assert_output 3   # the dropped one, its retry, the date fix
}

@test "a dropped workflow call is not repeated blindly: the state is read again" {
	start_double 17 --fault '{"type":"drop","method":"action_post","model":"account.move","count":1}'
	run_load "$DAY"
	assert_success
	[[ "$stderr" == *"account.move action_post: connection lost; reading the state again"* ]]
	run double_get '/_dump?model=account.move'
	[ "$(jq '[.[] | select(.move_type == "out_invoice" and .state == "posted")] | length' <<<"$output")" -eq 40 ]
}

@test "HTML 502 answers are retried; slow answers within the timeout are waited for" {
	start_double 16 --fault '{"type":"http","status":502,"count":2}' \
	    --fault '{"type":"slow","ms":300,"count":2}'
	run_load "$DAY"
	assert_success
	[ "$(count sale.order)" -eq 40 ]
}

@test "a batch with one invalid record loads the others and rejects that one with Odoo's message" {
	for v in 16 18; do
		start_double $v
		# a product of another origin already holds APR-SAND's barcode
		double_post /_seed '{"model":"product.product","vals":{"name":"Old apron","barcode":"5400000000010"}}'
		run_load --batch 10 "$DAY"
		assert_failure 65
		[[ "$stderr" == *"Barcode(s) already assigned"* ]]
		run jq -r '[.reason, .record.sku, .detail] | join(" | ")' "$BATS_TEST_TMPDIR/rejects.ndjson"
		assert_output --partial 'odoo_refused | APR-SAND | product.product load: Barcode(s) already assigned:'
		[ "$(jq -s length "$BATS_TEST_TMPDIR/rejects.ndjson")" -eq 1 ]
		# the other 27 products and the whole day loaded
		[ "$(count product.product)" -eq $((1 + 1 + 27)) ]
		[ "$(count sale.order)" -eq 40 ]
		assert_ledger "$BATS_TEST_TMPDIR/stats.json"
		stop_double
	done
}

@test "Odoo's refusal of a workflow step is isolated and keeps its exception class and message" {
	start_double 16
	double_post /_write '{"model":"res.company","ids":[1],"vals":{"period_lock_date":"2026-10-31"}}'
	jq -c 'if .kind == "order" and .name == "#1002" then .invoice_plan.date = "2026-10-31" else . end' "$DAY" >"$BATS_TEST_TMPDIR/day.ndjson"
	run_load --batch 8 "$BATS_TEST_TMPDIR/day.ndjson"
	assert_failure 65
	run jq -r 'select(.record.name == "#1002") | .detail' "$BATS_TEST_TMPDIR/rejects.ndjson"
	assert_output "account.move action_post: odoo.exceptions.UserError: You cannot add/modify entries prior to and inclusive of the lock date 2026-10-31."
	run double_get '/_dump?model=account.move'
	[ "$(jq '[.[] | select(.move_type == "out_invoice" and .state == "posted")] | length' <<<"$output")" -eq 39 ]
	# its payment cannot be reconciled with a draft invoice: rejected too
	run jq -r '.record.kind' "$BATS_TEST_TMPDIR/rejects.ndjson"
	assert_line payment
	# a private method is refused by the double as Odoo refuses it
	run curl -s -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","sale.order","_create_invoices",[[1]],{}]}}' "http://127.0.0.1:$PORT/jsonrpc"
	assert_output --partial '"name": "odoo.exceptions.AccessError", "debug"'
	assert_output --partial 'Private methods (such as _create_invoices) cannot be called remotely.'
}

@test "an unknown tax or SKU is rejected before any call, the rest loads" {
	start_double 16
	jq -c 'if .kind == "order" and .name == "#1003" then .invoice_plan.lines[0].taxes[0].name = "99% S" else . end' "$DAY" |
	    jq -c 'if .kind == "order" and .name == "#1004" then .invoice_plan.lines[0].sku = "NO-SUCH" else . end' \
	    >"$BATS_TEST_TMPDIR/day.ndjson"
	jq '.product_fallback.on_unknown_sku = "reject"' "$CONF" >"$CONF.new" && mv "$CONF.new" "$CONF"
	run_load "$BATS_TEST_TMPDIR/day.ndjson"
	assert_failure 65
	run jq -r '"\(.reason) \(.record.name) \(.detail)"' "$BATS_TEST_TMPDIR/rejects.ndjson"
	assert_line "unmapped_tax #1003 line 'line:1500260000012': tax '99% S' is not an Odoo sale tax of the company (or differs in price inclusion)"
	assert_line --partial "unknown_sku #1004 line 'line:"
	[ "$(count sale.order)" -eq 38 ]
}

@test "a wrong key stops at once: one login, no retry, exit 77" {
	start_double 16
	printf 'wrong\n' >"$BATS_TEST_TMPDIR/odoo-key"
	run_load "$DAY"
	assert_failure 77
	[[ "$stderr" == *"login refused for user 'etl@tillroll-demo.example' on 'tillroll-demo' (wrong key or password); not retrying"* ]]
	run double_get /_calls
	[ "$(jq '[.[] | select(.method == "login")] | length' <<<"$output")" -eq 1 ]
	[ "$(jq 'length' <<<"$output")" -eq 2 ]   # version, login
}

@test "the key: from ODOO_API_KEY or ODOO_PASSWORD or a 0600 file, never in output or logs" {
	start_double 16
	chmod 644 "$BATS_TEST_TMPDIR/odoo-key"
	run_load "$DAY"
	assert_failure 77
	[[ "$stderr" == *"the key file is readable by group or others"* ]]
	chmod 600 "$BATS_TEST_TMPDIR/odoo-key"
	rm "$BATS_TEST_TMPDIR/odoo-key"
	ODOO_API_KEY=$ODOO_DOUBLE_KEY run_load --verbose "$DAY"
	assert_success
	[[ "$stderr" == *"POST http://127.0.0.1:$PORT/jsonrpc -> 200"* ]]
	[[ "$output$stderr" != *"$ODOO_DOUBLE_KEY"* ]]
	! grep -q "$ODOO_DOUBLE_KEY" "$BATS_TEST_TMPDIR/stats.json"
	ODOO_PASSWORD=admin-pw run_load "$DAY"
	assert_success
	run_load "$DAY"
	assert_failure 66
	[[ "$stderr" == *"odoo-key: cannot open the key file"* ]]
	jq 'del(.odoo.key_file)' "$CONF" >"$CONF.new" && mv "$CONF.new" "$CONF"
	run_load "$DAY"
	assert_failure 78
	[[ "$stderr" == *"no Odoo key: set ODOO_API_KEY or ODOO_PASSWORD"* ]]
}

@test "--dry-run prints the calls, deterministically, without a connection or a key" {
	CONF=$BATS_TEST_TMPDIR/shop.json
	jq '.odoo.url = "http://127.0.0.1:9" | .odoo.key_file = "nonexistent"' "$TOP/samples/demo.json" >"$CONF"
	for v in 16 17 18; do
		run_load --dry-run --odoo-version $v "$DAY"
		assert_success
		printf '%s\n' "$output" >"$BATS_TEST_TMPDIR/dry1"
		run_load --dry-run --odoo-version $v "$DAY"
		printf '%s\n' "$output" | cmp - "$BATS_TEST_TMPDIR/dry1"
		assert_ledger "$BATS_TEST_TMPDIR/stats.json"
	done
	run jq -r '"\(.model) \(.method)"' "$BATS_TEST_TMPDIR/dry1"
	assert_line "sale.order load"
	assert_line "sale.order action_confirm"
	assert_line "account.payment load"
	run jq -c 'select(.model == "account.payment" and .method == "load") | .args[0]' "$BATS_TEST_TMPDIR/dry1"
	assert_output '["id","payment_type","partner_type","partner_id/id","amount","journal_id/.id","date","memo"]'
	# amounts travel as the records' decimal strings
	run jq -rs '[.[] | select(.model == "sale.order" and .method == "load")][0].args[1][0][9]' "$BATS_TEST_TMPDIR/dry1"
	assert_output "16.50"
	run grep -c -e "$ODOO_DOUBLE_KEY" -e admin-pw "$BATS_TEST_TMPDIR/dry1"
	assert_output 0
}

@test "calls per order do not grow with the number of orders" {
	start_double 16
	"$BIN/gen-day" --seed 7 --orders 30 --date 2026-11-26 --shop demo 2>/dev/null |
	    "$BIN/normalize" --stats /dev/null | python3 "$DATA/odoo-load/make-inputs.py" >"$BATS_TEST_TMPDIR/d30"
	ODOO_LOAD_CALLS=1 run_load "$BATS_TEST_TMPDIR/d30"
	assert_success
	local small big
	small=$(double_get /_calls | jq length)
	stop_double
	start_double 16
	"$BIN/gen-day" --seed 7 --orders 90 --date 2026-11-26 --shop demo 2>/dev/null |
	    "$BIN/normalize" --stats /dev/null | python3 "$DATA/odoo-load/make-inputs.py" >"$BATS_TEST_TMPDIR/d90"
	run_load "$BATS_TEST_TMPDIR/d90"
	assert_success
	big=$(double_get /_calls | jq length)
	# per order: 3 times the orders may cost no more than 3 times the calls
	[ "$big" -le $((small * 3)) ] || fail "30 orders: $small calls, 90 orders: $big calls"
}

@test "--verify reports a difference and exits 65" {
	start_double 16
	run_load "$DAY"
	assert_success
	jq -c 'if .kind == "order" and .name == "#1001" then .totals.total = "124.05" else . end' "$DAY" >"$BATS_TEST_TMPDIR/day.ndjson"
	run --separate-stderr "$BIN/odoo-load" --config "$CONF" --verify --stats /dev/null "$BATS_TEST_TMPDIR/day.ndjson"
	assert_failure 65
	[[ "$stderr" == *"demo/order/5828260000000: 1 difference(s) with Odoo"* ]]
	run jq -c 'select(.status == "different") | .differences' <<<"$output"
	assert_output '[{"expected":"124.05","odoo":"124.04","what":"invoice total"}]'
}

@test "the double computes taxes as the real Odoo 16 did (odoo.md 5.1)" {
	run python3 - "$DATA/odoo-double.py" <<-'PY'
	import importlib.machinery, sys
	from decimal import Decimal as D
	d = importlib.machinery.SourceFileLoader("d", sys.argv[1]).load_module()
	t = lambda incl: [{"id": 1, "amount": D(21), "amount_type": "percent", "price_include": incl}]
	for m in ("round_per_line", "round_globally"):
	    for price, n, incl in (("10.00", 3, True), ("55.20", 1, True), ("8.26", 3, False)):
	        r = d.move_taxes([{"price_unit": price, "quantity": 1, "discount": 0, "taxes": t(incl)}] * n, m)
	        print(m, price, r[1], r[3], r[4])
	PY
	assert_success
	assert_output - <<-EOF
	round_per_line 10.00 24.78 5.22 30.00
	round_per_line 55.20 45.62 9.58 55.20
	round_per_line 8.26 24.78 5.19 29.97
	round_globally 10.00 24.78 5.22 30.00
	round_globally 55.20 45.62 9.58 55.20
	round_globally 8.26 24.78 5.20 29.98
	EOF
}

@test "the double answers in the transcript's shapes" {
	start_double 16
	run curl -s -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"call","params":{"service":"common","method":"version","args":[]},"id":1}' "http://127.0.0.1:$PORT/jsonrpc"
	assert_output '{"jsonrpc": "2.0", "id": 1, "result": {"server_version": "16.0", "server_version_info": [16, 0, 0, "final", 0, ""], "server_serie": "16.0", "protocol_version": 1}}'
	run curl -s -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"call","params":' "http://127.0.0.1:$PORT/jsonrpc"
	assert_output "Invalid JSON data"
	# load() with a bad row: ids false, messages, nothing kept
	run curl -s -H 'Content-Type: application/json' -d '{"jsonrpc":"2.0","method":"call","id":64,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","product.product","load",[["id","name","list_price","detailed_type"],[["t.a","OK row","1","consu"],["t.b","Bad row","abc","nope"]]],{}]}}' "http://127.0.0.1:$PORT/jsonrpc"
	assert_output '{"jsonrpc": "2.0", "id": 64, "result": {"ids": false, "messages": [{"rows": {"from": 1, "to": 1}, "record": 1, "type": "error", "field": "list_price", "message": "'"'"'abc'"'"' does not seem to be a number for field '"'"'Sales Price'"'"'", "field_name": "Sales Price"}], "nextrow": 0}}'
	[ "$(count product.product)" -eq 1 ]
	# the one2many trap: lines without ids are appended on a re-load
	local body='{"jsonrpc":"2.0","method":"call","id":65,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","sale.order","load",[["id","partner_id/id","order_line/product_id/.id","order_line/product_uom_qty"],[["t.so","t.p","1","2"]]],{}]}}'
	double_post /jsonrpc '{"jsonrpc":"2.0","method":"call","id":1,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","res.partner","load",[["id","name"],[["t.p","P"]]],{}]}}'
	double_post /jsonrpc "$body"
	double_post /jsonrpc "$body"
	[ "$(count sale.order)" -eq 1 ]
	[ "$(count sale.order.line)" -eq 2 ]
	# an unbalanced entry is refused whole
	run double_post /jsonrpc '{"jsonrpc":"2.0","method":"call","id":82,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","account.move","create",[{"move_type":"entry","journal_id":2,"line_ids":[[0,0,{"name":"a","account_id":8,"debit":10,"credit":0}],[0,0,{"name":"b","account_id":1,"debit":0,"credit":9}]]}],{}]}}'
	assert_output --partial '"name": "odoo.exceptions.UserError"'
	assert_output --partial 'is not balanced'
	[ "$(count account.move)" -eq 0 ]
	# a payment with no result key: action_post returns None
	run double_post /jsonrpc '{"jsonrpc":"2.0","method":"call","id":35,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","account.payment","create",[{"payment_type":"inbound","partner_type":"customer","partner_id":1,"amount":71.13,"journal_id":3,"date":"2024-05-03","ref":"x"}],{}]}}'
	run double_post /jsonrpc '{"jsonrpc":"2.0","method":"call","id":36,"params":{"service":"object","method":"execute_kw","args":["tillroll-demo",2,"admin-pw","account.payment","action_post",[[1]],{}]}}'
	assert_output '{"jsonrpc": "2.0", "id": 36}'
}

@test "usage errors, --help and --version" {
	run --separate-stderr "$BIN/odoo-load"
	assert_failure 64
	[[ "$stderr" == *"odoo-load: --config is required"* ]]
	run --separate-stderr "$BIN/odoo-load" --config x --batch 0
	assert_failure 64
	[[ "$stderr" == *"--batch: '0' is not a number from 1 to 10000"* ]]
	run --separate-stderr "$BIN/odoo-load" --config x --dry-run --verify
	assert_failure 64
	run --separate-stderr "$BIN/odoo-load" --config /nonexistent
	assert_failure 66
	[ "$stderr" = "odoo-load: cannot open '/nonexistent': No such file or directory" ]
	run "$BIN/odoo-load" --help
	assert_success
	assert_line --index 0 --partial "usage: odoo-load --config FILE"
	run "$BIN/odoo-load" --version
	assert_output "odoo-load (tillroll) 0.1.0"
}

@test "a full stdout is an I/O error" {
	start_double 16
	run bash -c '"$0" --config "$1" --stats /dev/null "$2" >/dev/full' "$BIN/odoo-load" "$CONF" "$DAY"
	[ "$status" -eq 74 ]
}

@test "Odoo unreachable: exit 69 after the retries" {
	CONF=$BATS_TEST_TMPDIR/shop.json
	jq '.odoo.url = "http://127.0.0.1:9"' "$TOP/samples/demo.json" >"$CONF"
	ODOO_API_KEY=x run --separate-stderr timeout 60 "$BIN/odoo-load" --config "$CONF" --stats /dev/null "$DAY"
	assert_failure 69
	[[ "$stderr" == *"http://127.0.0.1:9/jsonrpc: gave up after"* ]]
}

@test "the real pipeline: normalize | enrich-tax | match-settlement | odoo-load" {
	"$BIN/normalize" --stats /dev/null "$TOP/samples/day/00-extract.ndjson" |
	    "$BIN/enrich-tax" --map "$TOP/samples/tax-map.json" --stats /dev/null |
	    "$BIN/match-settlement" --stats /dev/null >"$BATS_TEST_TMPDIR/day.ndjson"
	start_double 16 --company "$(jq -r .odoo.company "$TOP/samples/demo.json")"
	# The sample shop books every sale in its one company.
	run_load "$BATS_TEST_TMPDIR/day.ndjson"
	assert_success
	assert_ledger "$BATS_TEST_TMPDIR/stats.json"
	[ "$(count sale.order)" -eq 40 ]
	# Every invoice total is Shopify's, every balanced payout's entry is
	# there with its bank line and leaves the clearing account at zero.
	run --separate-stderr "$BIN/odoo-load" --config "$CONF" --verify \
	    --stats /dev/null "$BATS_TEST_TMPDIR/day.ndjson"
	assert_success
	run jq -r 'select(.status == "different") | .record_key' <<<"$output"
	assert_output ""
	# A second run writes nothing.
	local w
	w=$(writes)
	run_load "$BATS_TEST_TMPDIR/day.ndjson"
	assert_success
	[ "$(writes)" -eq "$w" ]
	run jq -r 'select(.action != "unchanged" and .action != "skipped") | .record_key' \
	    <<<"$output"
	assert_output ""
}
