# See LICENSE file for copyright and license details.
# Helpers for tests/odoo-load.bats: start the Odoo double, write a shop
# config that points at it, ask it what it holds.

DOUBLE=$BATS_TEST_DIRNAME/odoo-double.py
export ODOO_DOUBLE_KEY=k3y-$$-do-not-leak

# start_double VERSION [double options...]: sets PORT, DPID, CONF.
start_double() {
	local v=$1
	shift
	rm -f "$BATS_TEST_TMPDIR/port"
	python3 "$DOUBLE" --port-file "$BATS_TEST_TMPDIR/port" --version "$v" \
	    --log "$BATS_TEST_TMPDIR/writes.ndjson" "$@" \
	    >"$BATS_TEST_TMPDIR/double.err" 2>&1 3>&- &
	DPID=$!
	local i=0
	while [ ! -s "$BATS_TEST_TMPDIR/port" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -s "$BATS_TEST_TMPDIR/port" ] || fail "the double did not start"
	PORT=$(cat "$BATS_TEST_TMPDIR/port")
	CONF=$BATS_TEST_TMPDIR/shop.json
	jq --arg u "http://127.0.0.1:$PORT" \
	    '.odoo.url = $u | .odoo.key_file = "odoo-key"' \
	    "$TOP/samples/demo.json" >"$CONF"
	printf '%s\n' "$ODOO_DOUBLE_KEY" >"$BATS_TEST_TMPDIR/odoo-key"
	chmod 600 "$BATS_TEST_TMPDIR/odoo-key"
}

stop_double() {
	[ -z "${DPID:-}" ] || kill "$DPID" 2>/dev/null || true
	DPID=
}

# GET a test endpoint of the double.
double_get() {
	curl -sf "http://127.0.0.1:$PORT$1"
}

double_post() {
	curl -sf -H 'Content-Type: application/json' -d "$2" \
	    "http://127.0.0.1:$PORT$1"
}

# count MODEL: records the double holds.
count() {
	double_get /_counts | jq -r --arg m "$1" '.[$m]'
}

writes() {
	wc -l <"$BATS_TEST_TMPDIR/writes.ndjson"
}

# The sample day as odoo-load reads it: normalize, then the contract's
# blocks (make-inputs.py stands in for enrich-tax and match-settlement).
make_day() {
	"$BIN/normalize" --stats /dev/null "$TOP/samples/day/00-extract.ndjson" |
	    python3 "$BATS_TEST_DIRNAME/odoo-load/make-inputs.py" "$@"
}
