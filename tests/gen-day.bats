#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# gen-day: a deterministic, consistent Shopify day in raw envelopes, and
# the PayPal settlement report of its PayPal payments.

load test_helper

setup() {
	TMP=$BATS_TEST_TMPDIR
}

# The invariants, checked in integer minor units: amounts are split at the
# point, never multiplied as floats.  Prints one line per broken rule.
# Input: the day (jq -n, [inputs]); $facts: the facts file, slurped; $prev:
# the day before, slurped, whose orders the rows --prior-pending brings
# back settle ([] for none).
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

def fee15: if ($cur | exp) == 3 then rdiv(15000; 3) else 1500 end;
def gross(t): sum(.[] | select(.type | IN(t)) | .amount | m);
def fees(t): sum(.[] | select(.type | IN(t)) | .fee | m);

[inputs] as $day
| [$day[] | select(.kind == "shopify.order") | .data] as $orders
| [$day[] | select(.kind == "shopify.payout") | .data] as $payouts
| [$day[] | select(.kind == "shopify.balance_transaction") | .data] as $bts
| [$day[] | select(.kind == "shopify.dispute") | .data] as $disputes
| ($orders[0].processedAt // "")[:10] as $date
| ([($orders + [$prev[] | select(.kind == "shopify.order") | .data])[]
    | .transactions[] | {key: (.id | split("/")[-1]), value: .}]
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
     bad((.summary.chargesGross | m) == ($rows | gross("CHARGE"))
         and (.summary.chargesFee | m) == ($rows | fees("CHARGE"))
         and (.summary.refundsFeeGross | m) == ($rows | gross("REFUND"))
         and (.summary.adjustmentsGross | m) == ($rows | gross("ADJUSTMENT", "DISPUTE"))
         and (.summary.adjustmentsFee | m) == ($rows | fees("ADJUSTMENT", "DISPUTE"))
         and (.summary.reservedFundsGross | m) == ($rows | gross("RESERVE"));
         "payout \($id): summary != its rows by type")),
  # A chargeback takes back the charge of its order, 15.00 more; a won
  # one gives both back.  Reserves are released as held.
  ($disputes[] | .legacyResourceId as $id | (.amount | m) as $a
   | [$bts[] | select(.type == "DISPUTE" and .sourceId == $id)] as $rows
   | .order.id as $oid
   | bad([$orders[] | select(.id == $oid) | .transactions[]
          | select(.status == "SUCCESS" and (.kind | IN("SALE", "CAPTURE"))
                   and .gateway == "shopify_payments") | .amountSet | s] == [$a];
         "dispute \($id): amount != the charge of its order"),
     bad(($rows | map([(.amount | m), (.fee | m)]))
         == if .status == "WON" then [[-$a, fee15], [$a, -fee15]] else [[-$a, fee15]] end
         and all($rows[]; .associatedOrder.id == $oid and .associatedPayout.status == "PAID");
         "dispute \($id): its balance transactions")),
  bad(($bts | gross("RESERVE")) == 0 and ($bts | gross("DISPUTE"))
      == -sum($disputes[] | select(.status != "WON") | .amount | m);
      "reserves or disputes do not add up"),
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
  ($facts[] | select(.fact == "dispute") | . as $f
   | bad([$disputes[] | select("\($shop)/dispute/\(.legacyResourceId)" == $f.key
          and (.amount | m) == ($f.amount | minor($cur | exp))
          and (.status | ascii_downcase) == $f.status)] | length == 1;
         "facts: dispute \($f.key)")),
  ($facts[] | select(.fact == "day")
   | bad(.orders == ($orders | length) and .payouts == ($payouts | length)
         and .balance_transactions == ($bts | length)
         and .pending == ([$bts[] | select(.associatedPayout.status == "PENDING")] | length)
         and .prior_pending == ([$bts[] | select(.transactionDate < $date)] | length)
         and .disputes == ($disputes | length);
         "facts: day"))
'

# Generate a day and its facts into $TMP, then check every invariant.
check_day() {
	local cur=$1
	shift
	run "$BIN/gen-day" --currency "$cur" --facts "$TMP/facts" "$@"
	assert_success
	printf '%s\n' "$output" >"$TMP/day"
	run jq -n -r --slurpfile facts "$TMP/facts" --slurpfile prev /dev/null \
	    --arg cur "$cur" --arg shop demo "$CHECK" "$TMP/day"
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
	run -0 jq -n -r --slurpfile facts "$TMP/facts" --slurpfile prev /dev/null \
	    --arg cur EUR --arg shop demo "$CHECK" "$TMP/bad"
	assert_line --partial '#1003'
	assert_line --partial ': totalTax'
	grep -v '"type":"CHARGE".*"name":"#1001"' "$TMP/good" >"$TMP/bad"
	run -0 jq -n -r --slurpfile facts "$TMP/facts" --slurpfile prev /dev/null \
	    --arg cur EUR --arg shop demo "$CHECK" "$TMP/bad"
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
	assert_output '{"fact":"day","orders":0,"payouts":2,"balance_transactions":2,"pending":0,"prior_pending":0,"disputes":0,"products":13}'
}

# --- PayPal ---------------------------------------------------------------

# Minor units of a decimal string with two decimals, in jq.
MINOR='def minor: (if startswith("-") then -1 else 1 end)
    * (ltrimstr("-") | split(".") | (.[0] | tonumber) * 100
       + (((.[1] // "") + "00")[:2] | tonumber));'

@test "gen-day: every PayPal transaction has its own 17-character PayPal id, across days" {
	for d in 2026-11-25 2026-11-26 2026-11-27; do
		"$BIN/gen-day" --orders 400 --date "$d" --seed 1
	done >"$TMP/days"
	# Sales, captures, authorizations, voids and refunds: each one id.
	jq -r 'select(.kind == "shopify.order") | .data
	    | (.transactions[], .refunds[].transactions.nodes[])
	    | select(.gateway == "paypal" and .status == "SUCCESS")
	    | "\(.kind) \(.authorizationCode)"' "$TMP/days" | sort -u >"$TMP/pp"
	run -0 awk '{print $1}' "$TMP/pp"
	assert_equal "$(sort -u <<<"$output" | tr '\n' ' ')" \
	    'AUTHORIZATION CAPTURE REFUND SALE VOID '
	run grep -vE '^[A-Z]+ [0-9A-Z]{17}$' "$TMP/pp"
	assert_output ''
	# Unique across the three days, though ids restart with each day.
	[ "$(awk '{print $2}' "$TMP/pp" | sort -u | wc -l)" -eq "$(wc -l <"$TMP/pp")" ]
	[ "$(wc -l <"$TMP/pp")" -gt 150 ]
	# The refunds of PayPal orders too, as listed on the order.
	run -0 jq -r 'select(.kind == "shopify.order") | .data.transactions[]
	    | select(.gateway == "paypal" and .kind == "REFUND") | .authorizationCode' "$TMP/days"
	[ -n "$output" ]
	# A failed PayPal sale has none; Shopify Payments keep their codes.
	run -0 jq -r 'select(.kind == "shopify.order") | .data.transactions[]
	    | select(.gateway == "paypal" and .status == "FAILURE") | .authorizationCode' "$TMP/days"
	assert_equal "$(sort -u <<<"$output")" null
	run -0 jq -r 'select(.kind == "shopify.order") | .data.transactions[]
	    | select(.gateway == "shopify_payments" and .kind == "SALE" and .status == "SUCCESS")
	    | .authorizationCode | test("^[0-9]{5}$")' "$TMP/days"
	assert_equal "$(sort -u <<<"$output")" true
}

# paypal_check CUR [gen-day options]: a day and its PayPal report, the
# report through settlement-extract and normalize, both into $TMP.
paypal_check() {
	local cur=$1
	shift
	"$BIN/gen-day" --currency "$cur" --paypal-srf "$TMP/STL.CSV" \
	    --facts "$TMP/facts" "$@" >"$TMP/day"
	run --separate-stderr "$BIN/settlement-extract" --shop demo \
	    --stats "$TMP/st" "$TMP/STL.CSV"
	assert_success
	assert_equal "$stderr" ''
	printf '%s\n' "$output" >"$TMP/env"
	assert_ledger "$TMP/st"
	run --separate-stderr "$BIN/normalize" --stats "$TMP/nst" \
	    --rejects "$TMP/rej" "$TMP/env"
	assert_success
	printf '%s\n' "$output" >"$TMP/rec"
	assert_ledger "$TMP/nst"
	run jq -c '[.rejected, .out_by_kind]' "$TMP/nst"
	assert_output "[0,{\"payout\":1,\"settlement\":$(jq .in "$TMP/st")}]"
	assert_file_empty "$TMP/rej"
}

@test "gen-day: --paypal-srf writes a report that settles every PayPal payment of the day" {
	paypal_check EUR --orders 400
	# Every row balances, in integer cents; the withdrawal moves the net.
	run -0 jq -r -s "$MINOR"' map(select(.kind == "settlement")) as $s
	    | map(select(.kind == "payout"))[0] as $p
	    | [($s | map(select((.amount | minor) - (.fee | minor) != (.net | minor))) | length),
	       ($s | map(select(.type != "payout") | .net | minor) | add)
	         == ($p.amount | minor),
	       ($s | map(select(.type == "payout"))[0].amount | minor) == -($p.amount | minor),
	       ($s | map(.processed_at[:10]) | unique) == ["2026-11-26"],
	       ($s | map(.type) | unique)] | @json' "$TMP/rec"
	assert_output '[0,true,true,true,["charge","payout","refund"]]'
	# One row per PayPal payment taken or given back, by its PayPal id,
	# with its amount and order; the fee 3.4% + 0.35 on payments only.
	jq -r "$MINOR"'select(.kind == "settlement" and .type != "payout")
	    | [.payment_reference, .order_name, (.amount | minor), (.fee | minor),
	       .source_id // "-"] | @tsv' "$TMP/rec" | sort >"$TMP/rows"
	jq -r "$MINOR"'select(.kind == "shopify.order") | .data | .name as $n
	    | (.transactions | map({key: .id, value: .authorizationCode}) | from_entries) as $ids
	    | .transactions[] | select(.gateway == "paypal" and .status == "SUCCESS"
	        and (.kind | IN("SALE", "CAPTURE", "REFUND")))
	    | (.amountSet.shopMoney.amount | minor) as $a
	    | if .kind == "REFUND"
	      then [.authorizationCode, $n, -$a, 0, $ids[.parentTransaction.id]]
	      else [.authorizationCode, $n, $a, ((2 * $a * 34 + 1000) / 2000 | floor) + 35, "-"]
	      end | @tsv' "$TMP/day" | sort >"$TMP/payments"
	diff "$TMP/payments" "$TMP/rows"
	[ "$(grep -c . "$TMP/rows")" -gt 50 ]
	grep -q '	-' "$TMP/rows"
	# The facts say what the rows add up to.
	run -0 jq -r -s "$MINOR"' [map(select(.kind == "settlement" and .type != "payout")) as $s
	    | ($s | length), ($s | map(.amount | minor) | add), ($s | map(.fee | minor) | add),
	      (map(select(.kind == "payout"))[0] | .amount | minor),
	      (map(select(.kind == "payout"))[0] | .id)] | @json' "$TMP/rec"
	local found=$output
	run -0 jq -r "$MINOR"'select(.fact == "paypal") | [.rows, (.gross | minor), (.fee | minor),
	    (.net | minor), .payout] | @json' "$TMP/facts"
	assert_equal "$output" "$found"
}

@test "gen-day: the PayPal report keeps PayPal's record order, CR/DR and hundredths" {
	"$BIN/gen-day" --orders 300 --currency JPY --date 2026-12-31 \
	    --paypal-srf "$TMP/STL.CSV" >/dev/null
	# UTF-8 with a BOM and CRLF lines, as PayPal sends them.
	run -0 head -c 3 "$TMP/STL.CSV"
	assert_output $'\xef\xbb\xbf'
	[ "$(grep -c $'\r$' "$TMP/STL.CSV")" -eq "$(wc -l <"$TMP/STL.CSV")" ]
	tr -d '\r' <"$TMP/STL.CSV" | sed '1s/^\xef\xbb\xbf//' >"$TMP/lf"
	run -0 awk -F, '{print $1}' "$TMP/lf"
	assert_equal "$(uniq <<<"$output" | tr -d '"' | tr '\n' ' ')" \
	    'RH FH SH CH SB SF SC RF RC FF '
	# Generated the next day, for the day; yen in hundredths (x100).
	run -0 awk -F, '$1 == "\"RH\"" || $1 == "\"SH\"" {print $2, $3}' "$TMP/lf"
	assert_line --index 0 '2027/01/01 02:10:41 +0000 "A"'
	assert_line --index 1 '2026/12/31 00:00:00 +0000 2026/12/31 23:59:59 +0000'
	run -0 awk -F, '$1 == "\"SB\"" && ($10 % 100 != 0 || $13 % 100 != 0)' "$TMP/lf"
	assert_output ''
	# T0006 credits with a fee debited, T1107 debits naming their payment,
	# one T0400 withdrawal last.
	run -0 awk -F, '$1 == "\"SB\"" {print $6, $9, ($12 == "\"\"" ? "nofee" : $12), ($4 == "\"\"" ? "noref" : "ref")}' "$TMP/lf"
	assert_equal "$(sort <<<"$output" | uniq | tr '\n' ';')" \
	    '"T0006" "CR" "DR" noref;"T0400" "DR" nofee noref;"T1107" "DR" nofee ref;'
	run -0 awk -F, '$1 == "\"SB\"" {t = $6} END {print t}' "$TMP/lf"
	assert_output '"T0400"'
	# The footers count the body rows and total them.
	run -0 awk -F, '$1 == "\"SB\"" {n++; if ($9 == "\"CR\"") cr += $10; else dr += $10; fee += $13}
	    $1 == "\"SF\"" || $1 == "\"RF\"" {print $3 == cr, $4 == dr, $6 == fee, $NF == n}
	    $1 == "\"SC\"" || $1 == "\"RC\"" || $1 == "\"FF\"" {print $2 == n}' "$TMP/lf"
	assert_equal "$(sort -u <<<"$output")" '1
1 1 1 1'
	paypal_check JPY --orders 300 --seed 5
}

@test "gen-day: a day without PayPal payments writes an empty, valid report" {
	"$BIN/gen-day" --orders 1 --paypal-srf "$TMP/STL.CSV" --facts "$TMP/facts" >/dev/null
	run -0 "$BIN/settlement-extract" --shop demo --stats "$TMP/st" "$TMP/STL.CSV"
	assert_output ''
	run -0 jq -c 'select(.fact == "paypal")' "$TMP/facts"
	assert_output '{"fact":"paypal","payout":null,"currency":"EUR","rows":0,"gross":"0.00","fee":"0.00","net":"0.00"}'
}

@test "gen-day: --paypal-srf is deterministic; KWD, a bad path and a full disk are refused" {
	"$BIN/gen-day" --orders 200 --paypal-srf "$TMP/a.csv" --facts "$TMP/fa" >"$TMP/a"
	"$BIN/gen-day" --orders 200 --paypal-srf "$TMP/b.csv" --facts "$TMP/fb" >"$TMP/b"
	cmp "$TMP/a.csv" "$TMP/b.csv"
	cmp "$TMP/fa" "$TMP/fb"
	cmp "$TMP/a" "$TMP/b"
	# The report changes nothing of the day itself.
	"$BIN/gen-day" --orders 200 >"$TMP/c"
	cmp "$TMP/a" "$TMP/c"
	"$BIN/gen-day" --orders 200 --seed 9 --paypal-srf "$TMP/c.csv" >/dev/null
	run ! cmp -s "$TMP/a.csv" "$TMP/c.csv"
	run -64 --separate-stderr "$BIN/gen-day" --currency KWD --paypal-srf "$TMP/k.csv"
	assert_output ''
	[[ $stderr == "gen-day: '--paypal-srf' counts hundredths, and KWD has 3 decimals"* ]]
	assert_file_not_exists "$TMP/k.csv"
	run -74 --separate-stderr "$BIN/gen-day" --paypal-srf "$TMP/no/such/STL.CSV"
	assert_equal "$stderr" "gen-day: $TMP/no/such/STL.CSV: No such file or directory"
	run -74 --separate-stderr "$BIN/gen-day" --orders 3000 --paypal-srf /dev/full
	assert_equal "$stderr" 'gen-day: /dev/full: No space left on device'
}

# --- disputes and reserves -------------------------------------------------

@test "gen-day: --disputes and --reserve add up on the payouts, in every currency" {
	check_day EUR --orders 300 --disputes 3 --reserve 250.00 --payouts 3
	run -0 jq -r 'select(.kind == "shopify.dispute") | .data | "\(.status) \(.type)"' "$TMP/day"
	assert_equal "$(tr '\n' ';' <<<"$output")" \
	    'WON CHARGEBACK;NEEDS_RESPONSE CHARGEBACK;NEEDS_RESPONSE CHARGEBACK;'
	# The reserve is held on the first payout and released on the last.
	run -0 jq -r 'select(.kind == "shopify.balance_transaction" and .data.type == "RESERVE")
	    | .data | "\(.amount.amount) \(.associatedPayout.id | split("/")[-1])"' "$TMP/day"
	assert_equal "$(tr '\n' ';' <<<"$output")" '-250.0 1194260000001;250.0 1194260000003;'
	run -0 jq -r 'select(.kind == "shopify.payout") | .data.summary.reservedFundsGross.amount' "$TMP/day"
	assert_equal "$(tr '\n' ' ' <<<"$output")" '-250.0 0.0 250.0 '
	check_day JPY --orders 200 --disputes 2 --reserve 5000 --seed 4
	check_day KWD --orders 200 --disputes 2 --reserve 12.345 --payouts 1
	run -0 jq -r 'select(.kind == "shopify.balance_transaction" and .data.type == "DISPUTE")
	    | .data.fee.amount' "$TMP/day"
	assert_equal "$(tr '\n' ' ' <<<"$output")" '5.0 -5.0 5.0 '
	# More disputes than the day has charges: as many as it has.
	check_day EUR --orders 10 --disputes 50
	run -0 jq -r 'select(.fact == "day") | .disputes' "$TMP/facts"
	[ "$output" -ge 1 ] && [ "$output" -lt 10 ]
}

@test "gen-day: disputes and reserves normalize without a reject" {
	"$BIN/gen-day" --orders 300 --disputes 4 --reserve 100.00 --facts "$TMP/facts" >"$TMP/day"
	run --separate-stderr "$BIN/normalize" --stats "$TMP/nst" --rejects "$TMP/rej" "$TMP/day"
	assert_success
	printf '%s\n' "$output" >"$TMP/rec"
	assert_file_empty "$TMP/rej"
	run -0 jq -r 'select(.kind == "dispute") | "\(.key) \(.order_key) \(.amount) \(.status)"' "$TMP/rec"
	local found=$output
	run -0 jq -r 'select(.fact == "dispute") | "\(.key) \(.order) \(.amount) \(.status)"' "$TMP/facts"
	assert_equal "$found" "$output"
	[ "$(grep -c . <<<"$found")" -eq 4 ]
	run -0 jq -r 'select(.kind == "settlement" and (.type | IN("dispute", "reserve")))
	    | "\(.type) \(.amount) \(.fee) \(.net) \(.payout_status)"' "$TMP/rec"
	assert_line --index 0 'reserve -100.00 0.00 -100.00 paid'
	assert_line --partial 'dispute -'
	assert_line --regexp '^dispute [0-9]+\.[0-9]{2} -15.00 [0-9.]+ paid$'
}

@test "gen-day: bad --disputes or --reserve values exit 64" {
	run -64 --separate-stderr "$BIN/gen-day" --disputes 101
	[[ $stderr == *"'--disputes' takes a number from 0 to 100, not '101'"* ]]
	run -64 --separate-stderr "$BIN/gen-day" --reserve -5
	[[ $stderr == *"'--reserve' takes a positive amount in EUR, not '-5'"* ]]
	run -64 --separate-stderr "$BIN/gen-day" --reserve 1.005
	[[ $stderr == *"not '1.005'"* ]]
	run -64 "$BIN/gen-day" --reserve 0
	run -64 "$BIN/gen-day" --reserve 10.5 --currency JPY
	run -64 "$BIN/gen-day" --reserve abc
	run -64 --separate-stderr "$BIN/gen-day" --disputes 1 --payouts 0
	[[ $stderr == *"'--disputes' and '--reserve' need '--payouts' of 1 or more"* ]]
	run -64 "$BIN/gen-day" --reserve 10 --payouts 0
	run -64 "$BIN/gen-day" --prior-pending=yes
}

# --- a sequence of days ----------------------------------------------------

@test "gen-day: --prior-pending pays yesterday's pending rows on today's first payout" {
	local opts=(--orders 250 --seed 3 --disputes 2 --reserve 20.00)
	"$BIN/gen-day" "${opts[@]}" --date 2026-11-24 >"$TMP/d1"
	"$BIN/gen-day" "${opts[@]}" --date 2026-11-25 --prior-pending \
	    --facts "$TMP/f2" >"$TMP/d2"
	run -0 jq -n -r --slurpfile facts "$TMP/f2" --slurpfile prev "$TMP/d1" \
	    --arg cur EUR --arg shop demo "$CHECK" "$TMP/d2"
	assert_output ''
	# The same rows, ids, amounts and dates, now paid by the first payout.
	jq -c 'select(.kind == "shopify.balance_transaction") | .data
	    | select(.associatedPayout.status == "PENDING") | del(.associatedPayout)' \
	    "$TMP/d1" >"$TMP/pending"
	jq -c 'select(.kind == "shopify.balance_transaction") | .data
	    | select(.transactionDate < "2026-11-25") | del(.associatedPayout)' \
	    "$TMP/d2" >"$TMP/arrived"
	[ -s "$TMP/pending" ]
	diff "$TMP/pending" "$TMP/arrived"
	run -0 jq -r 'select(.kind == "shopify.balance_transaction") | .data
	    | select(.transactionDate < "2026-11-25") | .associatedPayout | "\(.id) \(.status)"' "$TMP/d2"
	assert_equal "$(sort -u <<<"$output")" 'gid://shopify/ShopifyPaymentsPayout/1194250000001 PAID'
	run -0 jq -r 'select(.fact == "day") | .prior_pending' "$TMP/f2"
	assert_output "$(wc -l <"$TMP/pending")"
	# Deterministic; and without the option, today's own rows are unchanged.
	"$BIN/gen-day" "${opts[@]}" --date 2026-11-25 --prior-pending >"$TMP/again"
	cmp "$TMP/d2" "$TMP/again"
	"$BIN/gen-day" "${opts[@]}" --date 2026-11-25 >"$TMP/alone"
	diff <(jq -c 'select(.kind == "shopify.balance_transaction") | .data
	    | select(.transactionDate >= "2026-11-25" and .type != "TRANSFER")
	    | del(.associatedPayout)' "$TMP/alone") \
	    <(jq -c 'select(.kind == "shopify.balance_transaction") | .data
	    | select(.transactionDate >= "2026-11-25" and .type != "TRANSFER")
	    | del(.associatedPayout)' "$TMP/d2")
	# The first day of the id space has no day before it.
	run -0 "$BIN/gen-day" --orders 50 --date 2000-01-01 --prior-pending --facts "$TMP/f0"
	run -0 jq -r 'select(.fact == "day") | .prior_pending' "$TMP/f0"
	assert_output 0
}

@test "gen-day: consecutive --prior-pending days reconcile in match-settlement, PayPal included" {
	local d n pp opts=(--orders 200 --seed 8 --disputes 2 --reserve 30.00)
	mkdir "$TMP/index"
	for n in 1 2 3; do
		d=2026-11-0$n
		pp=--prior-pending
		[ "$n" = 1 ] && pp=
		"$BIN/gen-day" "${opts[@]}" --date "$d" $pp --paypal-srf "$TMP/STL-$n.CSV" \
		    --facts "$TMP/f$n" >"$TMP/d$n"
		{
			"$BIN/normalize" --stats /dev/null "$TMP/d$n"
			"$BIN/settlement-extract" --shop demo --stats /dev/null "$TMP/STL-$n.CSV" |
			    "$BIN/normalize" --stats /dev/null
		} >"$TMP/n$n"
		run --separate-stderr "$BIN/match-settlement" --index "$TMP/index" \
		    --date "$d" --stats "$TMP/ms$n" "$TMP/n$n"
		assert_success
		printf '%s\n' "$output" >"$TMP/m$n"
		assert_ledger "$TMP/ms$n"
		# Every Shopify payout balances to the cent, its summary too.
		run -0 jq -r 'select(.kind == "payout_recon" and .gateway == "shopify_payments")
		    | "\(.status) \(.summary_check) \(.difference)"' "$TMP/m$n"
		assert_equal "$(sort -u <<<"$output")" 'balanced ok 0.00'
		# Every line that settles a payment finds it, PayPal's by their id.
		run -0 jq -r 'select(.kind == "settlement") | "\(.gateway) \(.type) \(.match.status)"' "$TMP/m$n"
		assert_equal "$(sort -u <<<"$output" | grep -v not_applicable | tr '\n' ';')" \
		    'paypal charge matched;paypal refund matched;shopify_payments charge matched;shopify_payments dispute matched;shopify_payments refund matched;'
	done
	# What was pending is paid later; only the last day's stay pending.
	run -0 bash -c 'cat "$1"/m[123] | jq -r "select(.kind == \"settlement\") | \"\(.key) \(.payout_status)\"" |
	    awk "{last[\$1] = \$2} END {for (k in last) print last[k]}" | sort | uniq -c' _ "$TMP"
	assert_line --regexp "^ *$(jq '.pending' <(jq -c 'select(.fact == "day")' "$TMP/f3")) pending$"
	run -0 jq -r 'select(.fact == "day") | "\(.pending) \(.prior_pending)"' "$TMP/f1" "$TMP/f2" "$TMP/f3"
	assert_equal "$(awk 'NR > 1 && $2 != prev {print "lost"} {prev = $1}' <<<"$output")" ''
}
