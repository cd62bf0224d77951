#!/usr/bin/env python3
# See LICENSE file for copyright and license details.
"""Stand-in for enrich-tax and match-settlement until they exist.

Reads normalize's output on stdin and writes the same stream with the
blocks of the lead's contract (/tmp/contracts.md, tillroll-records(5)):
a "tax" and an "invoice_plan" block on every order and refund, a "match"
block on every settlement, and one "payout_recon" record per payout.  The
plan's figures are what Odoo computes, by the double's tax code (odoo.md
5.1); a plan that cannot reach Shopify's total gets a rounding line.

  make-inputs.py [--rounding round_per_line|round_globally] <in >out
"""

import argparse
import importlib.machinery
import json
import os
import sys
from decimal import Decimal

here = os.path.dirname(os.path.abspath(__file__))
dbl = importlib.machinery.SourceFileLoader(
    "odoo_double", os.path.join(here, "..", "odoo-double.py")).load_module()

MAP_HASH = "0" * 64
with open(os.path.join(here, "..", "..", "samples", "demo.json")) as f:
    COMPANY = json.load(f)["odoo"]["company"]


def cents(d):
    return "%.2f" % Decimal(d)


def odoo_tax(rate, included):
    pct = (Decimal(rate) * 100).normalize()
    amt = format(pct, "f")
    return {"name": "%s%%%s" % (amt, " incl" if included else ""), "xmlid": None, "amount": amt,
            "amount_type": "percent", "price_include": bool(included)}


def taxes_of(tax_lines, included):
    seen, out = set(), []
    for t in tax_lines or []:
        if t["rate"] in seen:
            continue
        seen.add(t["rate"])
        out.append(odoo_tax(t["rate"], included))
    return out


def plan(rec, lines, target, move_type, rounding):
    spec = [{"price_unit": Decimal(ln["price_unit"]), "quantity": ln["quantity"], "discount": Decimal(ln["discount"]),
             "taxes": [{"id": t["name"], "amount": Decimal(t["amount"]), "amount_type": t["amount_type"],
                        "price_include": t["price_include"]} for t in ln["taxes"]]} for ln in lines]
    per, untaxed, _, tax, total = dbl.move_taxes(spec, rounding)
    status = "exact"
    diff = Decimal(target) - total
    if diff != 0:
        lines.append({"ref": "rounding", "role": "rounding", "account_role": "rounding", "sku": None,
                      "name": "Rounding difference", "quantity": 1, "price_unit": cents(diff), "discount": "0",
                      "taxes": []})
        per.append((diff, Decimal(0), diff))
        untaxed += diff
        status = "rounding"
    for ln, (s, t, tot) in zip(lines, per):
        ln.update(subtotal=cents(s), tax=cents(t), total=cents(tot))
    date = (rec.get("processed_at") or rec.get("created_at"))[:10]
    p = {"move_type": move_type, "company": COMPANY, "currency": rec["currency"], "date": date,
         "rounding_method": rounding, "lines": lines, "untaxed": cents(untaxed), "tax": cents(tax),
         "total": cents(untaxed + tax)}
    shopify_tax = sum((Decimal(x.get("tax") or 0) for x in rec.get("lines", [])), Decimal(0))
    t = {"status": status, "map": MAP_HASH, "company": COMPANY, "rounding_method": rounding,
         "shopify_tax": cents(shopify_tax), "odoo_tax": cents(tax), "shopify_total": cents(target),
         "odoo_total": cents(total), "difference": cents(diff),
         "lines": [{"ref": ln["ref"], "taxes": ln["taxes"]} for ln in lines if ln["role"] != "rounding"]}
    return t, p


def order_plan(o, rounding):
    inc = o["taxes_included"]
    lines = []
    for ln in o["lines"]:
        tx = taxes_of(ln["tax_lines"], inc)
        lines.append({"ref": "line:" + ln["id"], "role": "product", "account_role": "revenue", "sku": ln["sku"],
                      "name": ln["name"], "quantity": ln["quantity"], "price_unit": ln["unit_price"],
                      "discount": "0", "taxes": tx})
        if Decimal(ln["discount"]) != 0:
            lines.append({"ref": "discount:" + ln["id"], "role": "discount", "account_role": "revenue", "sku": None,
                          "name": "Discount on " + ln["name"], "quantity": 1, "price_unit": cents(-Decimal(ln["discount"])),
                          "discount": "0", "taxes": tx})
    for s in o["shipping_lines"]:
        if Decimal(s["net"]) == 0:
            continue
        lines.append({"ref": "shipping:" + s["id"], "role": "shipping", "account_role": "shipping", "sku": None,
                      "name": s["title"], "quantity": 1, "price_unit": s["net"], "discount": "0",
                      "taxes": taxes_of(s["tax_lines"], inc)})
    return plan(o, lines, o["totals"]["total"], "out_invoice", rounding)


def refund_plan(r, order, rounding):
    inc = r["taxes_included"]
    by_line = {ln["id"]: ln for ln in (order or {}).get("lines", [])}
    lines = []
    for ln in r["lines"]:
        src = by_line.get(ln["line_item_id"], {})
        sub, q = Decimal(ln["subtotal"]), ln["quantity"]
        if q and (sub / q) == Decimal(cents(sub / q)):
            pu, qty = cents(sub / q), q
        else:
            pu, qty = cents(sub), 1
        if not inc:
            pass
        lines.append({"ref": "line:" + ln["line_item_id"], "role": "product", "account_role": "revenue",
                      "sku": ln.get("sku"), "name": src.get("name", "Refunded item"), "quantity": qty,
                      "price_unit": pu, "discount": "0", "taxes": taxes_of(src.get("tax_lines"), inc)})
    for s in r.get("shipping") or []:
        amt = Decimal(s["amount"]) + (0 if inc else 0)
        lines.append({"ref": "shipping:" + s["shipping_line_id"], "role": "shipping", "account_role": "shipping",
                      "sku": None, "name": "Shipping refund", "quantity": 1, "price_unit": cents(amt),
                      "discount": "0", "taxes": []})
    for a in r.get("adjustments") or []:
        lines.append({"ref": "adjustment:" + a["id"], "role": "adjustment", "account_role": "refund_adjustment",
                      "sku": None, "name": a.get("reason") or a["kind"], "quantity": 1,
                      "price_unit": cents(-Decimal(a["amount"])), "discount": "0", "taxes": []})
    return plan(r, lines, r["total"], "out_refund", rounding)


def recon(payout, rows, gateway_of):
    charges, refunds, fees, adj = Decimal(0), Decimal(0), Decimal(0), Decimal(0)
    cpay, rpay, cset, rset, fset, aset = [], [], [], [], [], []
    for s in rows:
        fees += Decimal(s["fee"])
        if Decimal(s["fee"]) != 0:
            fset.append(s["key"])
        if s["type"] == "charge":
            charges += Decimal(s["amount"])
            cset.append(s["key"])
            if s.get("payment_key"):
                cpay.append(s["payment_key"])
        elif s["type"] == "refund":
            refunds += -Decimal(s["amount"])
            rset.append(s["key"])
            if s.get("payment_key"):
                rpay.append(s["payment_key"])
        else:
            adj += Decimal(s["amount"])
            aset.append(s["key"])
    amount = Decimal(payout["amount"])
    net = sum((Decimal(s["net"]) for s in rows), Decimal(0))
    diff = amount - net
    lines = []

    def add(role, name, dr, cr, sets, pays):
        if dr == 0 and cr == 0:
            return
        lines.append({"account_role": role, "name": name, "debit": cents(dr), "credit": cents(cr),
                      "settlements": sets, "payments": pays})
    add("clearing", "Charges settled", 0, charges, cset, cpay)
    add("clearing", "Refunds settled", refunds, 0, rset, rpay)
    add("fees", "Gateway fees", fees, 0, fset, [])
    add("adjustments", "Adjustments", -adj if adj < 0 else 0, adj if adj > 0 else 0, aset, [])
    add("adjustments", "Unexplained difference", -diff if diff < 0 else 0, diff if diff > 0 else 0, [], [])
    add("bank", "Payout " + payout["id"], amount if amount > 0 else 0, -amount if amount < 0 else 0, [], [])
    return {"kind": "payout_recon", "key": "%s/payout_recon/%s" % (payout["shop"], payout["id"]),
            "shop": payout["shop"], "v": 1, "src": payout["src"], "payout_key": payout["key"],
            "gateway": payout["gateway"], "currency": payout["currency"], "date": payout["date"],
            "amount": payout["amount"], "lines_net": cents(net), "difference": cents(diff),
            "summary_check": "ok", "status": "balanced" if diff == 0 else "unbalanced",
            "counts": {"matched": len(rows), "unmatched": 0, "duplicate": 0, "ambiguous": 0, "not_applicable": 0},
            "entry": {"date": payout["date"], "ref": payout["id"], "lines": lines}}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounding", default="round_per_line")
    a = ap.parse_args()
    recs = [json.loads(l) for l in sys.stdin if l.strip()]
    orders = {r["key"]: r for r in recs if r["kind"] == "order"}
    by_payout = {}
    for r in recs:
        if r["kind"] == "settlement" and r.get("payout_key") and r["type"] != "payout":
            by_payout.setdefault(r["payout_key"], []).append(r)
    out = []
    for r in recs:
        if r["kind"] == "order":
            r["tax"], r["invoice_plan"] = order_plan(r, a.rounding)
        elif r["kind"] == "refund":
            r["tax"], r["invoice_plan"] = refund_plan(r, orders.get(r["order_key"]), a.rounding)
        elif r["kind"] == "settlement":
            r["match"] = {"status": "matched" if r["type"] != "payout" else "not_applicable",
                          "rule": "source_order_transaction_id" if r.get("payment_key") else "none",
                          "payment_key": r.get("payment_key"), "refund_key": None, "order_key": r.get("order_key"),
                          "duplicate_of": None}
        out.append(r)
        if r["kind"] == "payout":
            out.append(recon(r, by_payout.get(r["key"], []), None))
    for r in out:
        sys.stdout.write(json.dumps(r, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
