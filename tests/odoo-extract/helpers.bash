# See LICENSE file for copyright and license details.
# Helpers for tests/odoo-extract.bats: the Odoo double (odoo-load's
# helpers start it), holding the sample day as odoo-load loads it, and a
# warehouse that ships and counts.

load odoo-load/helpers

# start_loaded VERSION: the double with the sample day loaded, and a
# config whose locations map WH/Stock to a Shopify location.
start_loaded() {
	start_double "$1"
	jq '.locations = {"WH/Stock": "7000000000001"}' "$CONF" >"$CONF.new"
	mv "$CONF.new" "$CONF"
	"$BIN/odoo-load" --config "$CONF" --stats /dev/null "$DAY" >/dev/null ||
	    fail "odoo-load could not load the day"
}

# ship ORDER CARRIER TRACKING [DATE] [LINES]: the warehouse ships an order.
ship() {
	double_post /_ship "$(jq -cn --arg o "$1" --arg c "$2" --arg t "$3" \
	    --arg d "${4:-2026-11-27 09:00:00}" --argjson l "${5:-null}" \
	    '{order: $o, carrier: $c, tracking: $t, date_done: $d,
	      tracking_url: "https://track.example/?n="}
	     + (if $l then {lines: $l} else {} end)')" >/dev/null
}

# stock SKU QTY [RESERVED] [LOCATION]
stock() {
	double_post /_stock "$(jq -cn --arg s "$1" --argjson q "$2" \
	    --argjson r "${3:-0}" --arg l "${4:-WH/Stock}" \
	    '{sku: $s, quantity: $q, reserved: $r, location: $l}')" >/dev/null
}
