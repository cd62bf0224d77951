#!/usr/bin/env bats
# gen-day: a deterministic, consistent Shopify day in raw envelopes.

bats_require_minimum_version 1.5.0

setup() {
	bats_load_library bats-support
	bats_load_library bats-assert
	bats_load_library bats-file
	BIN=${TILLROLL_BIN:-$BATS_TEST_DIRNAME/../bin}
	TMP=$BATS_TEST_TMPDIR
}

# The invariants, checked in integer minor units: amounts are split at the
# point, never multiplied as floats.  Prints one line per broken rule.
# Input: the day (jq -n, [inputs]); $facts: the facts file, slurped.
CHECK='
def pow10(e): reduce range(e) as $i (1; . * 10);
def exp: {"JPY": 0, "KWD": 3}[.] // 2;
def minor(e):
	if startswith("-") then -(.[1:] | minor(e))
	else split(".") as $p | ($p[1] // "") as $f
	| if ($p | length) > 2 or ($f | length) > e and ($f[e:] | test("^0*$") | not)
	  then error("bad amount \(.)") else . end
	| ($p[0] | tonumber) * pow10(e)
	  + (($f + "0000")[:e] | if . == "" then 0 else tonumber end)
	end;
def m: .currencyCode as $c | .amount | minor($c | exp);
def s: .shopMoney | m;
def sum(f): reduce f as $x (0; . + $x);
def rdiv(a; b): if a >= 0 then (2 * a + b) / (2 * b) | floor
	else -((-2 * a + b) / (2 * b) | floor) end;
def bp: .ratePercentage * 100 + 0.5 | floor;
def tax_ok(net; incl):
	(.priceSet | s) == (if incl then net - rdiv(net * 10000; 10000 + bp)
	                    else rdiv(net * bp; 10000) end);
def bad(cond; what): if cond then empty else what end;

def order_errors:
	.taxesIncluded as $incl | .name as $n | .currencyCode as $cur
	| .presentmentCurrencyCode as $pcur
	| (.lineItems.nodes[] | (.discountedTotalSet | s) as $net | .sku as $sku
	   | bad((.originalTotalSet | s) == (.originalUnitPriceSet | s) * .quantity;
	         "\($n) \($sku): originalTotal != unit x quantity"),
	     bad((.totalDiscountSet | s) == sum(.discountAllocations[].allocatedAmountSet | s);
	         "\($n) \($sku): totalDiscount != allocations"),
	     bad($net == (.originalTotalSet | s) - (.totalDiscountSet | s);
	         "\($n) \($sku): discountedTotal"),
	     bad(all(.taxLines[]; tax_ok($net; $incl)); "\($n) \($sku): line tax"),
	     bad((.isGiftCard | not) or (.taxLines == [] and .taxable == false);
	         "\($n) \($sku): taxed gift card")),
	  (.shippingLines.nodes[] | (.discountedPriceSet | s) as $net
	   | bad($net == (.originalPriceSet | s) - sum(.discountAllocations[].allocatedAmountSet | s);
	         "\($n): shipping discount"),
	     bad(all(.taxLines[]; tax_ok($net; $incl)); "\($n): shipping tax")),
	  ([.lineItems.nodes[].taxLines[], .shippingLines.nodes[].taxLines[]]
	   as $taxes
	   | bad((.totalTaxSet | s) == sum($taxes[].priceSet | s); "\($n): totalTax"),
	     bad((.totalTaxSet | s) == sum(.taxLines[].priceSet | s); "\($n): order taxLines"),
	     bad((.taxLines | map(.title) | sort) == ($taxes | map(.title) | unique);
	         "\($n): order taxLines titles")),
	  bad((.totalLineItemsPriceSet | s) == sum(.lineItems.nodes[].originalTotalSet | s);
	      "\($n): totalLineItemsPrice"),
	  bad((.subtotalPriceSet | s) == sum(.lineItems.nodes[].discountedTotalSet | s);
	      "\($n): subtotal != sum of discountedTotal"),
	  bad((.totalShippingPriceSet | s) == sum(.shippingLines.nodes[].originalPriceSet | s);
	      "\($n): totalShipping (before shipping discounts)"),
	  bad((.totalDiscountsSet | s) == sum(.lineItems.nodes[].totalDiscountSet | s)
	      + sum(.shippingLines.nodes[].discountAllocations[].allocatedAmountSet | s);
	      "\($n): totalDiscounts"),
	  bad((.totalPriceSet | s) == (.subtotalPriceSet | s)
	      + sum(.shippingLines.nodes[].discountedPriceSet | s)
	      + (if $incl then 0 else .totalTaxSet | s end);
	      "\($n): total != subtotal + shipping + tax"),
	  bad((.totalTipReceivedSet | s) == 0; "\($n): tip"),
	  bad(all(.transactions[]; (.amountSet | s) > 0); "\($n): transaction amount"),
	  bad(.currencyCode == .totalPriceSet.shopMoney.currencyCode
	      and .presentmentCurrencyCode == .totalPriceSet.presentmentMoney.currencyCode;
	      "\($n): currencies"),
	  bad(sum(.transactions[] | select(.status == "SUCCESS" and
	          (.kind == "SALE" or .kind == "CAPTURE")) | .amountSet | s)
	      == (if .displayFinancialStatus | IN("PENDING", "AUTHORIZED", "VOIDED")
	          then 0 else .totalPriceSet | s end);
	      "\($n): money taken != total"),
	  bad((.totalRefundedSet | s) == sum(.transactions[]
	          | select(.kind == "REFUND" and .status == "SUCCESS") | .amountSet | s);
	      "\($n): totalRefunded != refund transactions"),
	  bad((.currentTotalPriceSet | s) == (.totalPriceSet | s) - (.totalRefundedSet | s);
	      "\($n): currentTotalPrice"),
	  (.refunds[] | (.totalRefundedSet | s) as $r
	   | bad($r == sum(.refundLineItems.nodes[].subtotalSet | s)
	         + sum(.refundShippingLines.nodes[].subtotalAmountSet | s)
	         + (if $incl then 0 else sum(.refundLineItems.nodes[].totalTaxSet | s)
	            + sum(.refundShippingLines.nodes[].taxAmountSet | s) end);
	         "\($n): refund total != its parts"),
	     bad($r == sum(.transactions.nodes[].amountSet | s);
	         "\($n): refund total != its transactions"));

def fee_of: sum(.fees[].amount | m);

[inputs] as $day
| [$day[] | select(.kind == "shopify.order") | .data] as $orders
| [$day[] | select(.kind == "shopify.payout") | .data] as $payouts
| [$day[] | select(.kind == "shopify.balance_transaction") | .data] as $bts
| ([$orders[].transactions[] | {key: (.id | split("/")[-1]), value: .}]
   | from_entries) as $txns
| ($orders[] | order_errors),
  ($bts[] | bad((.net | m) == (.amount | m) - (.fee | m); "bt \(.id): net != amount - fee")),
  ($bts[] | select(.type == "CHARGE" or .type == "REFUND")
   | $txns[.sourceOrderTransactionId] as $t
   | bad($t != null and (.amount | m) == ($t.amountSet | s)
         * (if .type == "REFUND" then -1 else 1 end) and (.fee | m) == ($t | fee_of);
         "bt \(.id): does not match its order transaction")),
  ([$bts[].sourceOrderTransactionId | select(. != null) | {key: ., value: 1}]
   | from_entries) as $booked
  | ($orders[].transactions[]
   | bad(.gateway != "shopify_payments" or .status != "SUCCESS"
         or (.kind | IN("SALE", "CAPTURE", "REFUND") | not)
         or $booked[.id | split("/")[-1]] == 1;
         "\(.id): money moved without a balance transaction")),
  ($payouts[] | .id as $id | (.net | m) as $net
   | [$bts[] | select(.associatedPayout.id == $id)] as $rows
   | bad($net == sum($rows[] | select(.type != "TRANSFER") | .net | m);
         "payout \($id): net != sum of its rows"),
     bad([$rows[] | select(.type == "TRANSFER") | .amount | m] == [-$net];
         "payout \($id): TRANSFER != -net"),
     bad($net == sum(.summary | to_entries[] | select(.key | endswith("Gross")) | .value | m)
         - sum(.summary | to_entries[] | select(.key | endswith("Fee")) | .value | m);
         "payout \($id): net != gross - fee"),
     bad((.summary.chargesGross | m) == sum($rows[] | select(.type == "CHARGE") | .amount | m);
         "payout \($id): chargesGross")),
  # The facts file agrees with the data.
  ([$facts[] | select(.fact == "order")] as $fo
   | bad(($fo | length) == ($orders | length); "facts: order count"),
     ($orders[] | . as $o | ($fo[] | select(.key | endswith("/order/" + $o.legacyResourceId)))
      as $f
      | bad(($f.total | minor($cur | exp)) == ($o.totalPriceSet | s)
            and ($f.refunded | minor($cur | exp)) == ($o.totalRefundedSet | s)
            and ($f.tax | minor($cur | exp)) == ($o.totalTaxSet | s)
            and $f.lines == ($o.lineItems.nodes | length)
            and $f.taxes_included == $o.taxesIncluded;
            "facts: order \($o.name)"))),
  ($payouts[] | . as $p
   | [$facts[] | select(.fact == "payout" and
       .key == "\($shop)/payout/\($p.legacyResourceId)")] as $f
   | bad(($f | length) == 1 and ($f[0].amount | minor($cur | exp)) == ($p.net | m)
         and $f[0].lines == ([$bts[] | select(.associatedPayout.id == $p.id
                                and .type != "TRANSFER")] | length);
         "facts: payout \($p.id)")),
  ($facts[] | select(.fact == "day")
   | bad(.orders == ($orders | length) and .payouts == ($payouts | length)
         and .balance_transactions == ($bts | length)
         and .pending == ([$bts[] | select(.associatedPayout.status == "PENDING")] | length);
         "facts: day"))
'

# Generate a day and its facts into $TMP, then check every invariant.
check_day() {
	local cur=$1
	shift
	run "$BIN/gen-day" --currency "$cur" --facts "$TMP/facts" "$@"
	assert_success
	printf '%s\n' "$output" >"$TMP/day"
	run jq -n -r --slurpfile facts "$TMP/facts" --arg cur "$cur" \
	    --arg shop demo "$CHECK" "$TMP/day"
	assert_success
	assert_output ''
}

@test "gen-day: --help prints usage on stdout and exits 0" {
	run -0 "$BIN/gen-day" --help
	assert_line --partial 'usage: gen-day'
	run -0 "$BIN/gen-day" -h
	assert_line --partial '--orders N'
}

@test "gen-day: --version names the program" {
	run -0 "$BIN/gen-day" --version
	assert_output --regexp '^gen-day [0-9]+\.[0-9]+'
}

@test "gen-day: a bad option or value exits 64 with usage on stderr" {
	run -64 --separate-stderr "$BIN/gen-day" --bogus
	assert_output ''
	[[ $stderr == *'usage: gen-day'* ]]
	run -64 --separate-stderr "$BIN/gen-day" --orders 12x
	[[ $stderr == *"'--orders' takes a number"* ]]
	run -64 "$BIN/gen-day" --orders 1000001
	run -64 "$BIN/gen-day" --payouts -1
	run -64 "$BIN/gen-day" --date 2026-02-30
	run -64 "$BIN/gen-day" --date 1999-12-31
	run -64 "$BIN/gen-day" --currency eur
	run -64 "$BIN/gen-day" --shop 'a"b'
	run -64 "$BIN/gen-day" operand
}

@test "gen-day: a write error on stdout exits 74" {
	run -74 --separate-stderr bash -c '"$1" --orders 2000 >/dev/full' _ "$BIN/gen-day"
	[[ $stderr == *'gen-day: stdout: No space left on device'* ]]
	run -74 --separate-stderr bash -c '"$1" --orders 3 >/dev/full' _ "$BIN/gen-day"
	run -74 bash -c '"$1" --help >/dev/full' _ "$BIN/gen-day"
}

@test "gen-day: an unwritable facts file exits 74" {
	run -74 --separate-stderr "$BIN/gen-day" --facts "$TMP/no/such/dir/facts"
	[[ $stderr == *'No such file or directory'* ]]
}

@test "gen-day: the same arguments give the same bytes, another seed others" {
	"$BIN/gen-day" --orders 200 --facts "$TMP/f1" >"$TMP/a"
	"$BIN/gen-day" --orders 200 --facts "$TMP/f2" >"$TMP/b"
	"$BIN/gen-day" --orders 200 --seed 2 >"$TMP/c"
	cmp "$TMP/a" "$TMP/b"
	cmp "$TMP/f1" "$TMP/f2"
	run ! cmp -s "$TMP/a" "$TMP/c"
	# Another date moves every id of the day but not the catalogue's.
	"$BIN/gen-day" --orders 200 --date 2026-11-27 >"$TMP/d"
	run -0 jq -r 'select(.kind == "shopify.product") | .data.id' "$TMP/a"
	local products=$output
	run -0 jq -r 'select(.kind == "shopify.product") | .data.id' "$TMP/d"
	assert_equal "$output" "$products"
	run -0 jq -r 'select(.kind == "shopify.order") | .data.id' "$TMP/a" "$TMP/d"
	assert_equal "$(sort <<<"$output" | uniq -d)" ''
}

@test "gen-day: the default day is 13 products, 40 orders, 2 payouts, in that order" {
	run -0 bash -c '"$1" | jq -r "[.kind, .shop, .api] | join(\" \")" | uniq -c' _ "$BIN/gen-day"
	assert_output "$(printf '%7d %s\n' 13 'shopify.product demo 2025-07' \
	    40 'shopify.order demo 2025-07' 2 'shopify.payout demo 2025-07' \
	    36 'shopify.balance_transaction demo 2025-07')"
}

@test "gen-day: every line is an envelope with a known kind and a data object" {
	"$BIN/gen-day" --orders 100 --shop acme-eu --api 2025-10 >"$TMP/day"
	run -0 jq -c 'select((keys != ["api", "data", "kind", "shop", "shop_currency"])
	    or .shop_currency != "EUR"
	    or (.kind | IN("shopify.product", "shopify.order", "shopify.payout",
	        "shopify.balance_transaction") | not)
	    or .shop != "acme-eu" or .api != "2025-10"
	    or (.data | type) != "object" or (.data.id | test("^gid://shopify/[A-Za-z]+/[0-9]{13}$") | not))' \
	    "$TMP/day"
	assert_output ''
	run -0 jq -r '.shop' "$TMP/day"
	assert_equal "$(sort -u <<<"$output")" acme-eu
}

@test "gen-day: GraphQL amounts drop trailing zeros but keep a fraction digit" {
	"$BIN/gen-day" --orders 300 >"$TMP/eur"
	run ! grep -E '"amount":"-?[0-9]+(\.[0-9]+0)?"' "$TMP/eur"
	grep -q '"amount":"0.0"' "$TMP/eur"
	grep -qE '"amount":"[0-9]+\.[1-9]"' "$TMP/eur"
	"$BIN/gen-day" --orders 50 --currency JPY >"$TMP/jpy"
	run ! grep -E '"amount":"-?[0-9]+(\.[0-9]*[1-9][0-9]*)?","currencyCode":"JPY"' "$TMP/jpy"
	grep -q '"amount":"[0-9]*\.0","currencyCode":"JPY"' "$TMP/jpy"
	# Variant prices are the padded Money scalar.
	run -0 jq -r 'select(.kind == "shopify.product") | .data.variants.nodes[0].price' "$TMP/eur"
	assert_line '19.99'
	assert_line '55.20'
}

@test "gen-day: orders come in processedAt order and balance transactions by payout" {
	"$BIN/gen-day" --orders 300 --payouts 3 >"$TMP/day"
	run -0 jq -s -r '[.[] | select(.kind == "shopify.order") | .data.processedAt]
	    | . == sort' "$TMP/day"
	assert_output true
	# Payout blocks follow each other, each closed by its TRANSFER; the
	# pending ones come last.
	run -0 jq -r 'select(.kind == "shopify.balance_transaction") | .data
	    | "\(.associatedPayout.id // "pending") \(.type)"' "$TMP/day"
	printf '%s\n' "$output" | uniq -c | awk '{print $2}' | uniq -c >"$TMP/runs"
	run -0 awk '{print $2}' "$TMP/runs"
	assert_equal "$(grep -c ShopifyPaymentsPayout <<<"$output")" 3
	assert_equal "$(tail -n 1 <<<"$output")" pending
	run -0 jq -s -r '[.[] | select(.kind == "shopify.balance_transaction") | .data
	    | select(.type != "TRANSFER" and .type != "ADJUSTMENT") | .transactionDate]
	    | . == sort' "$TMP/day"
	assert_output true
}

@test "gen-day: a 300-order EUR day is consistent to the cent" {
	check_day EUR --orders 300 --payouts 3
	# It holds what the day is for: refunds, both tax modes, both
	# presentments, failures, captures, voids, gift cards, exempt orders.
	run -0 jq -r -s '[.[] | select(.kind == "shopify.order") | .data] |
	    [(map(select(.refunds != [])) | length > 10),
	     (map(select(.taxesIncluded)) | length > 100),
	     (map(select(.taxesIncluded | not)) | length > 20),
	     (map(select(.presentmentCurrencyCode != .currencyCode)) | length | . > 10 and . < 60),
	     (map(.transactions[] | select(.status == "FAILURE")) | length > 0),
	     (map(.transactions[] | select(.kind == "CAPTURE")) | length > 0),
	     (map(.transactions[] | select(.kind == "VOID")) | length > 0),
	     (map(.lineItems.nodes[] | select(.isGiftCard)) | length > 0),
	     (map(select(.taxLines == [])) | length > 0),
	     (map(select(.paymentGatewayNames == ["paypal"])) | length > 20),
	     (map(select(.displayFinancialStatus == "PENDING" and .transactions == [])) | length > 0),
	     (map(.lineItems.nodes[].taxLines | select(length == 2)) | length > 0),
	     (map(.discountApplications.nodes[].value.__typename) | unique == ["MoneyV2", "PricingPercentageValue"])]
	    | all' "$TMP/day"
	assert_output true
	# About 5% of the balance transactions wait for a later payout.
	run -0 jq -r 'select(.fact == "day") | .pending * 100 / .balance_transactions
	    | . >= 3 and . <= 10' "$TMP/facts"
	assert_output true
}

@test "gen-day: the consistency check notices a cent out of place" {
	"$BIN/gen-day" --orders 60 --facts "$TMP/facts" >"$TMP/good"
	# One line's tax one cent off, and one balance transaction dropped.
	jq -c 'if .kind == "shopify.order" and .data.name == "#1003"
	    then .data.lineItems.nodes[0].taxLines[0].priceSet.shopMoney.amount
	        |= (split(".") | .[0] + "." + ((.[1] + "00")[:2] | tonumber + 1 | tostring))
	    else . end' "$TMP/good" >"$TMP/bad"
	run -0 jq -n -r --slurpfile facts "$TMP/facts" --arg cur EUR --arg shop demo \
	    "$CHECK" "$TMP/bad"
	assert_line --partial '#1003'
	assert_line --partial ': totalTax'
	grep -v '"type":"CHARGE".*"name":"#1001"' "$TMP/good" >"$TMP/bad"
	run -0 jq -n -r --slurpfile facts "$TMP/facts" --arg cur EUR --arg shop demo \
	    "$CHECK" "$TMP/bad"
	assert_line --partial 'money moved without a balance transaction'
	assert_line --partial 'net != sum of its rows'
}

@test "gen-day: a JPY day (no minor unit) is consistent" {
	check_day JPY --orders 300 --seed 7
}

@test "gen-day: a KWD day (three decimals) is consistent" {
	check_day KWD --orders 300 --seed 11 --payouts 1
}

@test "gen-day: a USD shop presents in EUR and small days still add up" {
	check_day USD --orders 120 --seed 3
	run -0 jq -r 'select(.kind == "shopify.order") | .data.presentmentCurrencyCode' "$TMP/day"
	assert_line EUR
	check_day EUR --orders 7 --payouts 4
	check_day EUR --orders 1
}

@test "gen-day: fixed discounts split over lines to the cent, remainder last" {
	"$BIN/gen-day" --orders 300 >"$TMP/day"
	run -0 jq -r 'select(.kind == "shopify.order") | .data
	    | select(.discountCodes | index("TENOFF"))
	    | [.lineItems.nodes[] | select(.isGiftCard | not)
	       | .discountAllocations[0].allocatedAmountSet.shopMoney.amount
	         | split(".") | .[0] + ((.[1] // "") + "00")[:2] | tonumber]
	    | add' "$TMP/day"
	[ -n "$output" ]
	assert_equal "$(sort -u <<<"$output")" 1000
}

@test "gen-day: --payouts 0 leaves every balance transaction pending" {
	run -0 bash -c '"$1" --payouts 0 --orders 60 | jq -r "select(.kind | test(\"payout|balance\"))
	    | .data.associatedPayout.status // .kind" | sort -u' _ "$BIN/gen-day"
	assert_output PENDING
}

@test "gen-day: --orders 0 writes the catalogue and empty payouts" {
	"$BIN/gen-day" --orders 0 --facts "$TMP/facts" >"$TMP/day"
	run -0 jq -r .kind "$TMP/day"
	assert_equal "$(uniq -c <<<"$output" | awk '{print $1, $2}')" \
	    "$(printf '13 shopify.product\n2 shopify.payout\n2 shopify.balance_transaction')"
	run -0 jq -c 'select(.fact == "day")' "$TMP/facts"
	assert_output '{"fact":"day","orders":0,"payouts":2,"balance_transactions":2,"pending":0,"products":13}'
}
