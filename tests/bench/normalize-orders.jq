# What a user would write instead of normalize for the order mapping:
# the same records (order, its payments and refunds) from the same
# GraphQL envelopes, money padded to two decimals as text.  The baseline
# that `make bench` measures normalize against.
def id: if . == null then null else tostring | sub(".*/"; "") | sub("\\?.*"; "") end;
def pad: if . == null then null else
    tostring | if test("\\.") then (split(".") | .[0] + "." + ((.[1] + "00")[0:2]))
    else . + ".00" end end;
def shop: if . == null then null else .shopMoney.amount | pad end;
def utc: if . == null then null else (sub("\\+00:00$"; "Z")) end;
def lower: if . == null then null else ascii_downcase end;
def items: if . == null then [] elif type == "array" then . else .nodes end;
def taxes: [.taxLines // [] | .[] | {title, rate: (.rate | tostring), amount: (.priceSet | shop),
    channel_liable: .channelLiable}];
def sum(f): (map(f | tonumber) | add // 0) * 100 | round / 100 | pad;
def payment($o): {kind: "payment", key: ($o.shop + "/payment/" + (.id | id)), shop: $o.shop, v: 1,
    id: (.id | id), order_id: ($o.data.id | id), order_name: $o.data.name,
    type: (.kind | lower), status: (.status | lower), gateway,
    moves_money: ((.status == "SUCCESS") and (.kind | IN("SALE", "CAPTURE", "REFUND"))),
    amount: (.amountSet | shop), currency: .amountSet.shopMoney.currencyCode,
    parent_id: (.parentTransaction.id | id), processed_at: (.processedAt | utc),
    fees: [.fees // [] | .[] | {amount: (.amount.amount | pad), type, rate}]};
select(.kind == "shopify.order") | . as $o | .data as $d
| ({kind: "order", key: ($o.shop + "/order/" + ($d.id | id)), shop: $o.shop, v: 1,
    id: ($d.id | id), name: $d.name, currency: $d.currencyCode,
    created_at: ($d.createdAt | utc), processed_at: ($d.processedAt | utc),
    updated_at: ($d.updatedAt | utc), taxes_included: $d.taxesIncluded,
    financial_status: ($d.displayFinancialStatus | lower),
    customer: ($d.customer | if . then {id: (.id | id), email, first_name: .firstName,
        last_name: .lastName} else null end),
    lines: [$d.lineItems | items | .[] | {id: (.id | id), sku, title, quantity,
        unit_price: (.originalUnitPriceSet | shop),
        discount: ([.discountAllocations[] | .allocatedAmountSet.shopMoney.amount] | sum(.)),
        tax_lines: taxes, tax: ([.taxLines[] | .priceSet.shopMoney.amount] | sum(.))}],
    shipping_lines: [$d.shippingLines | items | .[] | {id: (.id | id), title,
        price: (.originalPriceSet | shop), net: (.discountedPriceSet | shop), tax_lines: taxes}],
    totals: {subtotal: ($d.subtotalPriceSet | shop), tax: ($d.totalTaxSet | shop),
        total: ($d.totalPriceSet | shop), discounts: ($d.totalDiscountsSet | shop),
        shipping: ($d.totalShippingPriceSet | shop)},
    payments: [$d.transactions[] | $o.shop + "/payment/" + (.id | id)]}),
  ($d.transactions[] | payment($o)),
  ($d.refunds[] | {kind: "refund", key: ($o.shop + "/refund/" + (.id | id)), shop: $o.shop, v: 1,
    id: (.id | id), order_id: ($d.id | id),
    lines: [.refundLineItems | items | .[] | {line_item_id: (.lineItem.id | id), quantity,
        subtotal: (.subtotalSet | shop), tax: (.totalTaxSet | shop)}],
    total: (.totalRefundedSet | shop)})
