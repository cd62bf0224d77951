#!/usr/bin/env python3
# See LICENSE file for copyright and license details.
"""An Odoo 16/17/18 JSON-RPC server on 127.0.0.1 for odoo-load's tests.

It keeps state in memory and enforces what Odoo enforces for the models
odoo-load uses (reference/odoo.md, reference/odoo-transcript.md): required
fields, many2one ids that exist, balanced entries, posting rules, one
transaction per call (a failing call changes nothing), private methods
refused, ir.model.data uniqueness, load() with its messages and the
one2many trap.  It computes taxes as Odoo does (odoo.md section 5.1),
speaks the field names of the version it was started as, and fails on
demand.  Answers have the transcript's shapes.

  odoo-double.py --port-file F [--version 16|17|18] [--log F] [--company NAME]
                 [--rounding round_per_line|round_globally]
                 [--fault JSON]...

The API key comes from ODOO_DOUBLE_KEY (default "test-key"); the user is
"etl@tillroll-demo.example" (uid 2), its password "admin-pw".

Test endpoints beside /jsonrpc: GET /_counts (records per model),
GET /_dump?model=M (records as stored), GET /_calls (every call, in order),
POST /_control {"faults": [...]} (replace the faults), POST /_seed
{"model": M, "vals": {...}} and POST /_write {"model": M, "ids": [...],
"vals": {...}} (change the database outside the write log).

The warehouse, for odoo-extract: POST /_ship {"order": ID, EXTERNAL ID or
client_order_ref, "carrier": NAME, "tracking": REF, "tracking_url": LINK,
"lines": {SKU: QTY}, "date_done": "YYYY-MM-DD HH:MM:SS", "state": S}
makes a delivery (done unless "state" says otherwise) of the order's goods
lines; POST /_stock {"sku": SKU, "location": "WH/Stock", "quantity": N,
"reserved": N} sets a quant.  Both answer the new record's id.

Faults: {"type": "drop", "method": M, "model": X, "count": N} commits the
call then closes the connection without answering; {"type": "slow",
"ms": N, "count": N}; {"type": "http", "status": 502, "count": N} answers
an HTML page without doing anything.  A fault without "count" fires forever.
"""

import argparse
import copy
import http.server
import json
import os
import socketserver
import sys
import threading
import time
from decimal import Decimal, ROUND_HALF_UP
from urllib.parse import parse_qs, urlparse

DB = "tillroll-demo"
LOGIN = "etl@tillroll-demo.example"
PASSWORD = "admin-pw"
UID = 2

# ---------------------------------------------------------------- taxes


def rnd(x, digits=2):
    """Odoo's float_round with HALF-UP (away from zero)."""
    return Decimal(x).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)


def line_taxes(price_unit, quantity, discount, taxes, method, digits=2):
    """One line as Odoo computes it.

    taxes: [{"id", "amount", "amount_type", "price_include"}] (Decimal
    amounts).  Returns (subtotal, total, [(tax, amount, rounded?)]):
    subtotal and total rounded; each tax amount rounded under
    round_per_line, left exact under round_globally for excluded taxes (the
    move rounds their sum per tax).  Included taxes: the line total stays
    the rounded tax-included price, the subtotal is rounded per line, and
    the tax is their difference, in both modes (odoo.md 5.1, measured).
    """
    base = Decimal(price_unit) * Decimal(quantity) * (1 - Decimal(discount) / 100)
    incl = [t for t in taxes if t["price_include"]]
    excl = [t for t in taxes if not t["price_include"]]
    out = []
    total_incl = rnd(base, digits)
    # price-included taxes: take them out of the base
    pct = sum((Decimal(t["amount"]) for t in incl if t["amount_type"] == "percent"), Decimal(0))
    fixed = sum((Decimal(t["amount"]) * Decimal(quantity) for t in incl if t["amount_type"] == "fixed"), Decimal(0))
    excl_base = (base - fixed) / (1 + pct / 100)
    subtotal = rnd(excl_base, digits)
    incl_total_tax = total_incl - subtotal
    # split the included tax among the included taxes, last takes the rest
    left = incl_total_tax
    for i, t in enumerate(incl):
        if i == len(incl) - 1:
            amt = left
        elif t["amount_type"] == "fixed":
            amt = rnd(Decimal(t["amount"]) * Decimal(quantity), digits)
        else:
            amt = rnd(excl_base * Decimal(t["amount"]) / 100, digits)
        left -= amt
        out.append((t, amt))
    total = total_incl if incl else subtotal
    for t in excl:
        if t["amount_type"] == "fixed":
            amt = Decimal(t["amount"]) * Decimal(quantity)
        else:
            amt = excl_base * Decimal(t["amount"]) / 100
        if method == "round_per_line":
            amt = rnd(amt, digits)
        out.append((t, amt))
        total += rnd(amt, digits) if method == "round_per_line" else amt
    return subtotal, total, out


def move_taxes(lines, method, digits=2):
    """The whole move: (per-line [(subtotal, tax, total)], untaxed, {tax id:
    amount}, tax, total), every figure rounded as Odoo shows it."""
    per_line, untaxed, by_tax = [], Decimal(0), {}
    for ln in lines:
        sub, tot, taxes = line_taxes(ln["price_unit"], ln["quantity"], ln["discount"],
                                     ln["taxes"], method, digits)
        line_tax = sum((rnd(a, digits) for _, a in taxes), Decimal(0))
        per_line.append((sub, line_tax, sub + line_tax))
        untaxed += sub
        for t, a in taxes:
            by_tax[t["id"]] = by_tax.get(t["id"], Decimal(0)) + a
    by_tax = {k: rnd(v, digits) for k, v in by_tax.items()}
    tax = sum(by_tax.values(), Decimal(0))
    return per_line, untaxed, by_tax, tax, untaxed + tax


# ---------------------------------------------------------------- errors


class OdooError(Exception):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name
        self.message = message


def user_error(msg):
    return OdooError("odoo.exceptions.UserError", msg)


def validation_error(msg):
    return OdooError("odoo.exceptions.ValidationError", msg)


def value_error(msg):
    return OdooError("builtins.ValueError", msg)


def mandatory(model, field):
    desc = MODELS[model]["desc"]
    label = MODELS[model]["fields"][field].get("string", field)
    return validation_error(
        "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n"
        "- Delete: another model requires the record being deleted. If possible, archive it instead.\n\n"
        "Model: %s (%s)\nField: %s (%s)\n" % (desc, model, label, field))


# ---------------------------------------------------------------- models

def F(type_, string=None, **kw):
    d = {"type": type_, "string": string}
    d.update(kw)
    return d


def build_models(version):
    m = {}
    m["res.currency"] = {"desc": "Currency", "fields": {"name": F("char", "Currency", required=True)}}
    m["res.country"] = {"desc": "Country", "fields": {"name": F("char", "Country"), "code": F("char", "Code")}}
    m["res.company"] = {"desc": "Companies", "fields": {
        "name": F("char", "Company Name", required=True),
        "currency_id": F("many2one", "Currency", relation="res.currency"),
        "country_id": F("many2one", "Country", relation="res.country"),
        "tax_calculation_rounding_method": F("selection", "Tax Calculation Rounding Method",
                                             selection=["round_per_line", "round_globally"]),
        "period_lock_date": F("date", "Journal Entries Lock Date")}}
    m["res.users"] = {"desc": "User", "fields": {
        "name": F("char", "Name"), "login": F("char", "Login"),
        "company_id": F("many2one", "Company", relation="res.company"),
        "company_ids": F("many2many", "Companies", relation="res.company")}}
    m["res.partner"] = {"desc": "Contact", "fields": {
        "name": F("char", "Name", required=True), "email": F("char", "Email"),
        "phone": F("char", "Phone"), "ref": F("char", "Reference"),
        "street": F("char", "Street"), "city": F("char", "City"), "zip": F("char", "Zip"),
        "country_id": F("many2one", "Country", relation="res.country"),
        "company_id": F("many2one", "Company", relation="res.company"),
        "active": F("boolean", "Active", default=True)}}
    pf = {"name": F("char", "Name", required=True), "default_code": F("char", "Internal Reference"),
          "barcode": F("char", "Barcode"), "list_price": F("float", "Sales Price", default=Decimal(1)),
          "invoice_policy": F("selection", "Invoicing Policy", selection=["order", "delivery"], default="order"),
          "taxes_id": F("many2many", "Customer Taxes", relation="account.tax"),
          "active": F("boolean", "Active", default=True)}
    if version >= 18:
        pf["type"] = F("selection", "Product Type", selection=["consu", "service", "combo"], default="consu")
        pf["is_storable"] = F("boolean", "Track Inventory", default=False)
    else:
        pf["detailed_type"] = F("selection", "Product Type", selection=["consu", "service", "product"],
                                default="consu", labels=["Consumable", "Service", "Storable Product"])
        pf["type"] = F("selection", "Type", selection=["consu", "service", "product"], default="consu", readonly=True)
    m["product.product"] = {"desc": "Product", "fields": pf}
    m["account.account"] = {"desc": "Account", "fields": {
        "code": F("char", "Code", required=True), "name": F("char", "Account Name", required=True),
        "account_type": F("char", "Type"), "reconcile": F("boolean", "Allow Reconciliation"),
        "company_id": F("many2one", "Company", relation="res.company")}}
    m["account.tax"] = {"desc": "Tax", "fields": {
        "name": F("char", "Tax Name", required=True), "amount": F("float", "Amount"),
        "amount_type": F("selection", "Tax Computation", selection=["percent", "fixed", "group", "division"]),
        "type_tax_use": F("selection", "Tax Type", selection=["sale", "purchase", "none"]),
        "price_include": F("boolean", "Included in Price"),
        "company_id": F("many2one", "Company", relation="res.company"),
        "active": F("boolean", "Active", default=True)}}
    m["account.journal"] = {"desc": "Journal", "fields": {
        "name": F("char", "Journal Name", required=True), "code": F("char", "Short Code"),
        "type": F("selection", "Type", selection=["sale", "purchase", "cash", "bank", "general"]),
        "company_id": F("many2one", "Company", relation="res.company"),
        "default_account_id": F("many2one", "Default Account", relation="account.account"),
        "payment_account_id": F("many2one", "Outstanding Account", relation="account.account"),
        "currency_id": F("many2one", "Currency", relation="res.currency")}}
    so = {"name": F("char", "Order Reference"), "partner_id": F("many2one", "Customer", relation="res.partner", required=True),
          "client_order_ref": F("char", "Customer Reference"), "origin": F("char", "Source Document"),
          "date_order": F("datetime", "Order Date"),
          "state": F("selection", "Status", selection=["draft", "sent", "sale", "done", "cancel"], default="draft"),
          "order_line": F("one2many", "Order Lines", relation="sale.order.line", inverse="order_id"),
          "company_id": F("many2one", "Company", relation="res.company"),
          "invoice_ids": F("many2many", "Invoices", relation="account.move", compute=True),
          "amount_untaxed": F("monetary", "Untaxed Amount", compute=True),
          "amount_tax": F("monetary", "Taxes", compute=True),
          "amount_total": F("monetary", "Total", compute=True)}
    if version >= 17:
        so["locked"] = F("boolean", "Locked", default=False)
    m["sale.order"] = {"desc": "Sales Order", "fields": so}
    m["sale.order.line"] = {"desc": "Sales Order Line", "fields": {
        "order_id": F("many2one", "Order Reference", relation="sale.order", required=True),
        "product_id": F("many2one", "Product", relation="product.product"),
        "name": F("char", "Description"), "product_uom_qty": F("float", "Quantity", default=Decimal(1)),
        "price_unit": F("float", "Unit Price"), "discount": F("float", "Discount (%)", default=Decimal(0)),
        "tax_id": F("many2many", "Taxes", relation="account.tax"),
        "price_subtotal": F("monetary", "Subtotal", compute=True),
        "price_tax": F("monetary", "Total Tax", compute=True),
        "price_total": F("monetary", "Total", compute=True)}}
    m["account.move"] = {"desc": "Journal Entry", "fields": {
        "name": F("char", "Number"),
        "move_type": F("selection", "Type", selection=["entry", "out_invoice", "out_refund", "in_invoice",
                                                        "in_refund", "out_receipt", "in_receipt"], default="entry"),
        "partner_id": F("many2one", "Partner", relation="res.partner"),
        "invoice_date": F("date", "Invoice/Bill Date"), "invoice_date_due": F("date", "Due Date"),
        "date": F("date", "Date"), "ref": F("char", "Reference"),
        "payment_reference": F("char", "Payment Reference"), "invoice_origin": F("char", "Origin"),
        "journal_id": F("many2one", "Journal", relation="account.journal"),
        "state": F("selection", "Status", selection=["draft", "posted", "cancel"], default="draft"),
        "payment_state": F("selection", "Payment Status", selection=["not_paid", "in_payment", "paid", "partial",
                                                                     "reversed", "invoicing_legacy"], default="not_paid"),
        "reversed_entry_id": F("many2one", "Reversal of", relation="account.move"),
        "invoice_line_ids": F("one2many", "Invoice lines", relation="account.move.line", inverse="move_id",
                              domain="product"),
        "line_ids": F("one2many", "Journal Items", relation="account.move.line", inverse="move_id"),
        "company_id": F("many2one", "Company", relation="res.company"),
        "currency_id": F("many2one", "Currency", relation="res.currency"),
        "amount_untaxed": F("monetary", "Untaxed Amount", compute=True),
        "amount_tax": F("monetary", "Tax", compute=True),
        "amount_total": F("monetary", "Total", compute=True),
        "amount_residual": F("monetary", "Amount Due", compute=True)}}
    m["account.move.line"] = {"desc": "Journal Item", "fields": {
        "move_id": F("many2one", "Journal Entry", relation="account.move", required=True),
        "account_id": F("many2one", "Account", relation="account.account"),
        "name": F("char", "Label"), "product_id": F("many2one", "Product", relation="product.product"),
        "quantity": F("float", "Quantity", default=Decimal(1)), "price_unit": F("float", "Unit Price"),
        "discount": F("float", "Discount (%)", default=Decimal(0)),
        "tax_ids": F("many2many", "Taxes", relation="account.tax"),
        "debit": F("monetary", "Debit", default=Decimal(0)), "credit": F("monetary", "Credit", default=Decimal(0)),
        "amount_residual": F("monetary", "Residual Amount", compute=True),
        "reconciled": F("boolean", "Reconciled", compute=True),
        "display_type": F("selection", "Display Type", selection=["product", "tax", "payment_term", "line_section",
                                                                  "line_note", "rounding"], default="product"),
        "payment_id": F("many2one", "Originator Payment", relation="account.payment"),
        "partner_id": F("many2one", "Partner", relation="res.partner"),
        "sale_line_ids": F("many2many", "Sales Order Lines", relation="sale.order.line"),
        "price_subtotal": F("monetary", "Subtotal", compute=True),
        "price_total": F("monetary", "Total", compute=True)}}
    pay = {"name": F("char", "Number"),
           "payment_type": F("selection", "Payment Type", selection=["outbound", "inbound"], required=True),
           "partner_type": F("selection", "Partner Type", selection=["customer", "supplier"], required=True),
           "partner_id": F("many2one", "Customer/Vendor", relation="res.partner"),
           "amount": F("monetary", "Amount"), "date": F("date", "Date"),
           "journal_id": F("many2one", "Journal", relation="account.journal", required=True),
           "move_id": F("many2one", "Journal Entry", relation="account.move", compute=True),
           "is_reconciled": F("boolean", "Is Reconciled", compute=True),
           "is_matched": F("boolean", "Is Matched With a Bank Statement", compute=True),
           "reconciled_invoice_ids": F("many2many", "Reconciled Invoices", relation="account.move", compute=True)}
    if version >= 18:
        pay["memo"] = F("char", "Memo")
        pay["state"] = F("selection", "Status", selection=["draft", "in_process", "paid", "canceled", "rejected"],
                         default="draft")
    else:
        pay["ref"] = F("char", "Reference")
        pay["state"] = F("selection", "Status", selection=["draft", "posted", "cancel"], default="draft")
    m["account.payment"] = {"desc": "Payments", "fields": pay}
    m["ir.model.data"] = {"desc": "Model Data", "fields": {
        "module": F("char", "Module", required=True), "name": F("char", "External Identifier", required=True),
        "model": F("char", "Model Name", required=True), "res_id": F("integer", "Record ID"),
        "noupdate": F("boolean", "Non Updatable"), "complete_name": F("char", "Complete ID", compute=True)}}
    m.update(stock_models(version))
    return m


def stock_models(version):
    """The warehouse, as odoo-extract reads it (stock, delivery, sale_stock).

    A done quantity is quantity_done on stock.move and qty_done on
    stock.move.line in 16; 17 replaced both with quantity plus a boolean
    picked, and 18 kept that.  Reading the other version's name is the
    ValueError Odoo gives for an unknown field.
    """
    m = {}
    m["stock.location"] = {"desc": "Inventory Locations", "fields": {
        "name": F("char", "Location Name", required=True),
        "complete_name": F("char", "Full Location Name", compute=True),
        "location_id": F("many2one", "Parent Location", relation="stock.location"),
        "usage": F("selection", "Location Type", selection=["supplier", "view", "internal", "customer",
                                                            "inventory", "production", "transit"],
                   default="internal", required=True),
        "company_id": F("many2one", "Company", relation="res.company"),
        "active": F("boolean", "Active", default=True)}}
    m["stock.picking.type"] = {"desc": "Picking Type", "fields": {
        "name": F("char", "Operation Type", required=True),
        "code": F("selection", "Type of Operation", selection=["incoming", "outgoing", "internal"],
                  required=True),
        "company_id": F("many2one", "Company", relation="res.company")}}
    m["delivery.carrier"] = {"desc": "Shipping Methods", "fields": {
        "name": F("char", "Delivery Method", required=True),
        "tracking_url": F("char", "Tracking Link"),
        "active": F("boolean", "Active", default=True)}}
    m["stock.picking"] = {"desc": "Transfer", "fields": {
        "name": F("char", "Reference"), "origin": F("char", "Source Document"),
        "partner_id": F("many2one", "Contact", relation="res.partner"),
        "picking_type_id": F("many2one", "Operation Type", relation="stock.picking.type", required=True),
        "picking_type_code": F("selection", "Type of Operation", selection=["incoming", "outgoing", "internal"],
                               compute=True),
        "state": F("selection", "Status", selection=["draft", "waiting", "confirmed", "assigned", "done",
                                                     "cancel"], default="draft"),
        "scheduled_date": F("datetime", "Scheduled Date"),
        "date_done": F("datetime", "Date of Transfer"),
        "location_id": F("many2one", "Source Location", relation="stock.location", required=True),
        "location_dest_id": F("many2one", "Destination Location", relation="stock.location", required=True),
        "sale_id": F("many2one", "Sales Order", relation="sale.order"),
        "carrier_id": F("many2one", "Carrier", relation="delivery.carrier"),
        "carrier_tracking_ref": F("char", "Tracking Reference"),
        "carrier_tracking_url": F("char", "Tracking URL", compute=True),
        "move_ids": F("one2many", "Operations", relation="stock.move", inverse="picking_id"),
        "move_line_ids": F("one2many", "Operations", relation="stock.move.line", inverse="picking_id"),
        "company_id": F("many2one", "Company", relation="res.company")}}
    mv = {"name": F("char", "Description", required=True),
          "picking_id": F("many2one", "Transfer", relation="stock.picking"),
          "product_id": F("many2one", "Product", relation="product.product", required=True),
          "product_uom_qty": F("float", "Demand", default=Decimal(0), required=True),
          "state": F("selection", "Status", selection=["draft", "waiting", "confirmed", "partially_available",
                                                       "assigned", "done", "cancel"], default="draft"),
          "location_id": F("many2one", "Source Location", relation="stock.location", required=True),
          "location_dest_id": F("many2one", "Destination Location", relation="stock.location", required=True),
          "sale_line_id": F("many2one", "Sale Line", relation="sale.order.line"),
          "move_line_ids": F("one2many", "Move Lines", relation="stock.move.line", inverse="move_id")}
    ml = {"move_id": F("many2one", "Stock Operation", relation="stock.move"),
          "picking_id": F("many2one", "Transfer", relation="stock.picking"),
          "product_id": F("many2one", "Product", relation="product.product"),
          "location_id": F("many2one", "From", relation="stock.location", required=True),
          "location_dest_id": F("many2one", "To", relation="stock.location", required=True)}
    if version >= 17:
        mv["quantity"] = F("float", "Quantity", default=Decimal(0))
        mv["picked"] = F("boolean", "Picked", default=False)
        ml["quantity"] = F("float", "Quantity", default=Decimal(0))
        ml["picked"] = F("boolean", "Picked", default=False)
    else:
        mv["quantity_done"] = F("float", "Quantity Done", default=Decimal(0))
        ml["qty_done"] = F("float", "Done", default=Decimal(0))
        ml["reserved_uom_qty"] = F("float", "Reserved", default=Decimal(0))
    m["stock.move"] = {"desc": "Stock Move", "fields": mv}
    m["stock.move.line"] = {"desc": "Product Moves (Stock Move Line)", "fields": ml}
    m["stock.quant"] = {"desc": "Quants", "fields": {
        "product_id": F("many2one", "Product", relation="product.product", required=True),
        "location_id": F("many2one", "Location", relation="stock.location", required=True),
        "quantity": F("float", "Quantity", default=Decimal(0)),
        "reserved_quantity": F("float", "Reserved Quantity", default=Decimal(0), required=True),
        "available_quantity": F("float", "Available Quantity", compute=True),
        "company_id": F("many2one", "Company", relation="res.company")}}
    return m


MODELS = {}
VERSION = 16
ROUNDING = "round_per_line"
DATE_NOW = "2026-11-27 17:00:00"  # the double's "now", fixed so runs compare

# ---------------------------------------------------------------- state


class State:
    def __init__(self):
        self.rec = {name: {} for name in MODELS}
        self.next_id = {name: 1 for name in MODELS}
        self.seq = {}

    def new_id(self, model):
        i = self.next_id[model]
        self.next_id[model] = i + 1
        return i


S = None
LOCK = threading.Lock()
CALLS = []       # every call: {"n", "service", "method", "model", "bytes"}
WRITES = []      # committed mutating calls
LOG_PATH = None
FAULTS = []
FAILED_LOGINS = {}  # address -> [count, since]

MUTATING = {"create", "write", "unlink", "load", "action_confirm", "action_post", "reconcile",
            "js_assign_outstanding_line", "action_cancel", "button_draft"}


def exists(model, rid):
    return isinstance(rid, int) and not isinstance(rid, bool) and rid in S.rec[model]


def convert_value(model, field, value):
    """A value as create/write receive it, checked as Odoo's ORM does."""
    f = MODELS[model]["fields"].get(field)
    if f is None:
        raise value_error("Invalid field %r on model %r" % (field, model))
    t = f["type"]
    if value is False or value is None:
        if t in ("many2many", "one2many"):
            return []
        return None
    if t in ("float", "monetary"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
            raise value_error("Wrong value for %s.%s: %r" % (model, field, value))
        return Decimal(str(value))
    if t == "integer":
        return int(value)
    if t == "boolean":
        return bool(value)
    if t == "selection":
        if value not in f["selection"]:
            raise value_error("Wrong value for %s.%s: %r" % (model, field, value))
        return value
    if t == "many2one":
        if not exists(f["relation"], value):
            raise OdooError("odoo.exceptions.MissingError",
                            "Record does not exist or has been deleted.\n(Record: %s(%r,), User: %d)"
                            % (f["relation"], value, UID))
        return value
    if t == "many2many":
        ids = []
        for cmd in value:
            if cmd[0] == 6:
                ids = list(cmd[2])
            elif cmd[0] == 4:
                ids.append(cmd[1])
            elif cmd[0] == 5:
                ids = []
            elif cmd[0] == 3:
                ids = [i for i in ids if i != cmd[1]]
        for i in ids:
            if not exists(f["relation"], i):
                raise OdooError("odoo.exceptions.MissingError",
                                "Record does not exist or has been deleted.\n(Record: %s(%r,), User: %d)"
                                % (f["relation"], i, UID))
        return ids
    return str(value)


def defaults(model):
    d = {}
    for name, f in MODELS[model]["fields"].items():
        if "default" in f:
            d[name] = f["default"]
        elif f["type"] in ("many2many", "one2many"):
            d[name] = []
        else:
            d[name] = None
    return d


def create(model, vals):
    fields = MODELS[model]["fields"]
    r = defaults(model)
    o2m = {}
    for k, v in vals.items():
        f = fields.get(k)
        if f is None:
            raise value_error("Invalid field %r on model %r" % (k, model))
        if f["type"] == "one2many":
            o2m[k] = v
            continue
        r[k] = convert_value(model, k, v)
    hooks_before_create(model, r)
    for name, f in fields.items():
        if f.get("required") and r.get(name) in (None, ""):
            raise mandatory(model, name)
    rid = S.new_id(model)
    r["id"] = rid
    S.rec[model][rid] = r
    for k, cmds in o2m.items():
        apply_o2m(model, rid, k, cmds)
    hooks_after_write(model, rid)
    return rid


def apply_o2m(model, rid, field, cmds):
    f = MODELS[model]["fields"][field]
    sub, inv = f["relation"], f["inverse"]
    for cmd in cmds:
        if cmd[0] == 0:
            v = dict(cmd[2])
            v[inv] = rid
            create(sub, v)
        elif cmd[0] == 1:
            write(sub, [cmd[1]], cmd[2])
        elif cmd[0] == 2:
            unlink(sub, [cmd[1]])


def write(model, ids, vals):
    fields = MODELS[model]["fields"]
    for rid in ids:
        if not exists(model, rid):
            raise OdooError("odoo.exceptions.MissingError",
                            "Record does not exist or has been deleted.\n(Record: %s(%d,), User: %d)"
                            % (model, rid, UID))
    for rid in ids:
        r = S.rec[model][rid]
        hooks_before_write(model, r, vals)
        for k, v in vals.items():
            f = fields.get(k)
            if f is None:
                raise value_error("Invalid field %r on model %r" % (k, model))
            if f["type"] == "one2many":
                apply_o2m(model, rid, k, v)
            else:
                r[k] = convert_value(model, k, v)
                if f.get("required") and r[k] in (None, ""):
                    raise mandatory(model, k)
        hooks_after_write(model, rid)
    return True


def unlink(model, ids):
    for rid in ids:
        r = S.rec[model].get(rid)
        if r is None:
            continue
        if model == "account.move" and r["state"] == "posted":
            raise user_error("You cannot delete an entry which has been posted once.")
        if model == "account.move.line":
            mv = S.rec["account.move"].get(r["move_id"])
            if mv and mv["state"] == "posted":
                raise user_error("You cannot delete an item linked to a posted entry.")
        del S.rec[model][rid]
    return True


# ---------------------------------------------------------------- business rules

def display_name(model, r):
    if model == "stock.location":
        return location_name(r)
    if model == "product.product" and r.get("default_code"):
        return "[%s] %s" % (r["default_code"], r["name"])
    if model == "account.account":
        return "%s %s" % (r["code"], r["name"])
    return r.get("name") or "%s,%d" % (model, r["id"])


def company():
    return S.rec["res.company"][1]


def tax_dicts(ids):
    out = []
    for i in ids:
        t = S.rec["account.tax"][i]
        out.append({"id": i, "amount": t["amount"], "amount_type": t["amount_type"],
                    "price_include": bool(t["price_include"])})
    return out


def children(model, field, rid):
    f = MODELS[model]["fields"][field]
    return sorted(i for i, r in S.rec[f["relation"]].items() if r.get(f["inverse"]) == rid)


def hooks_before_create(model, r):
    if model == "sale.order":
        r["name"] = next_name("SO", "S%05d")
        r["date_order"] = r["date_order"] or DATE_NOW
        r["company_id"] = r["company_id"] or 1
    if model == "account.move":
        r["company_id"] = r["company_id"] or 1
        r["currency_id"] = r["currency_id"] or company()["currency_id"]
        if r["journal_id"] is None:
            jt = "general" if r["move_type"] == "entry" else "sale"
            r["journal_id"] = min(i for i, j in S.rec["account.journal"].items() if j["type"] == jt)
        r["date"] = r["date"] or r["invoice_date"] or DATE_NOW[:10]
        r["name"] = "/"
    if model == "account.move.line":
        mv = S.rec["account.move"].get(r["move_id"])
        if mv and mv["state"] == "posted":
            raise user_error("You cannot add a line to a posted entry.")
    if model == "account.payment" and r.get("journal_id"):
        j = S.rec["account.journal"][r["journal_id"]]
        if j["type"] not in ("bank", "cash"):
            raise validation_error("Please define a payment method line on your payment.")
        if r["amount"] is None or r["amount"] <= 0:
            raise validation_error("The payment amount must be strictly positive.")
    if model == "ir.model.data":
        for x in S.rec["ir.model.data"].values():
            if x["module"] == r["module"] and x["name"] == r["name"]:
                raise validation_error(
                    "The operation cannot be completed: duplicate key value violates unique constraint "
                    "\"ir_model_data_module_name_uniq_index\"\nDETAIL:  Key (module, name)=(%s, %s) already exists.\n"
                    % (r["module"], r["name"]))
    if model == "product.product" and r.get("barcode"):
        check_barcode(r)


def check_barcode(r):
    for p in S.rec["product.product"].values():
        if p is not r and p["id"] != r.get("id") and p.get("barcode") == r["barcode"]:
            raise validation_error(
                "Barcode(s) already assigned:\n\n- Barcode \"%s\" already assigned to product(s): %s, %s"
                % (r["barcode"], display_name("product.product", p), r["name"]))


LOCKED_LINE_FIELDS = {"price_unit", "quantity", "discount", "tax_ids", "account_id", "debit", "credit", "product_id"}


def hooks_before_write(model, r, vals):
    if model == "account.move.line":
        mv = S.rec["account.move"][r["move_id"]]
        if mv["state"] == "posted" and set(vals) & LOCKED_LINE_FIELDS:
            if "tax_ids" in vals:
                raise user_error("You cannot modify the taxes related to a posted journal item, you should "
                                 "reset the journal entry to draft to do so.")
            raise user_error("You cannot modify a posted entry of this journal because it is in strict mode.")
    if model == "account.move" and r["state"] == "posted":
        bad = set(vals) & {"invoice_line_ids", "line_ids", "partner_id", "invoice_date", "date", "journal_id",
                           "move_type"}
        if bad:
            raise user_error("You cannot edit the following fields due to restrict mode: %s."
                             % ", ".join(sorted(bad)))
    if model == "sale.order" and "order_line" in vals and r["state"] == "sale" and VERSION >= 17 and r.get("locked"):
        raise user_error("It is forbidden to modify the following fields in a locked order:\nOrder Lines")


def hooks_after_write(model, rid):
    if model == "product.product":
        r = S.rec[model][rid]
        if r.get("barcode"):
            check_barcode(r)
    if model == "sale.order.line":
        ln = S.rec[model][rid]
        if ln["product_id"] is None:
            raise validation_error("Missing required fields on accountable sale order line.")
        if ln["price_unit"] is None:
            ln["price_unit"] = S.rec["product.product"][ln["product_id"]]["list_price"]
        if not ln["name"]:
            ln["name"] = display_name("product.product", S.rec["product.product"][ln["product_id"]])
    if model == "account.move.line":
        ln = S.rec[model][rid]
        if ln["display_type"] == "product" and ln["account_id"] is None:
            mv = S.rec["account.move"][ln["move_id"]]
            j = S.rec["account.journal"][mv["journal_id"]]
            ln["account_id"] = j["default_account_id"]
        if ln["account_id"] is None and ln["display_type"] not in ("line_section", "line_note"):
            raise mandatory("account.move.line", "account_id")
    if model == "account.move":
        mv = S.rec[model][rid]
        if mv["move_type"] == "entry":
            check_balanced(mv)


def money(x):
    return float(x) if isinstance(x, Decimal) else x


def check_balanced(mv):
    lines = [S.rec["account.move.line"][i] for i in children("account.move", "line_ids", mv["id"])]
    d = sum((ln["debit"] or 0 for ln in lines), Decimal(0))
    c = sum((ln["credit"] or 0 for ln in lines), Decimal(0))
    if d != c:
        name = mv["name"] if mv["name"] != "/" else "Draft Entry %s/%s/%04d" % (
            S.rec["account.journal"][mv["journal_id"]]["code"], mv["date"][:7].replace("-", "/"), mv["id"])
        text = ("The move (%s) is not balanced.\nThe total of debits equals € %.2f and the total of "
                "credits equals € %.2f.\nYou might want to specify a default account on journal \"%s\" to "
                "automatically balance each move." % (name, d, c, S.rec["account.journal"][mv["journal_id"]]["name"]))
        raise user_error("An error has occurred.\n\n" + text)


def next_name(key, fmt, year=None):
    k = (key, year)
    S.seq[k] = S.seq.get(k, 0) + 1
    return fmt % ((year, S.seq[k]) if year else S.seq[k])


def receivable_account():
    return min(i for i, a in S.rec["account.account"].items() if a["account_type"] == "asset_receivable")


def tax_account():
    return min(i for i, a in S.rec["account.account"].items() if a["account_type"] == "liability_current")


def invoice_figures(mv):
    lines = [S.rec["account.move.line"][i] for i in children("account.move", "line_ids", mv["id"])]
    prod = [ln for ln in lines if ln["display_type"] == "product"]
    spec = [{"price_unit": ln["price_unit"] or 0, "quantity": ln["quantity"], "discount": ln["discount"] or 0,
             "taxes": tax_dicts(ln["tax_ids"])} for ln in prod]
    method = company()["tax_calculation_rounding_method"]
    return prod, move_taxes(spec, method)


def post_invoice(mv):
    """Make the tax and receivable lines of an invoice and check it."""
    prod, (per_line, untaxed, by_tax, tax, total) = invoice_figures(mv)
    if not prod:
        raise user_error("You need to add a line before posting.")
    if mv["partner_id"] is None:
        raise user_error("The field 'Customer' is required, please complete it to validate the Customer Invoice.")
    sign = 1 if mv["move_type"] == "out_invoice" else -1
    for ln, (sub, _, tot) in zip(prod, per_line):
        amt = sub * sign
        ln["credit"], ln["debit"] = (amt, Decimal(0)) if amt >= 0 else (Decimal(0), -amt)
        ln["price_subtotal"], ln["price_total"] = sub, tot
    for old in [i for i in children("account.move", "line_ids", mv["id"])
                if S.rec["account.move.line"][i]["display_type"] in ("tax", "payment_term")]:
        del S.rec["account.move.line"][old]
    for tid, amt in sorted(by_tax.items()):
        if amt == 0:
            continue
        a = amt * sign
        create("account.move.line", {"move_id": mv["id"], "display_type": "tax",
                                     "name": S.rec["account.tax"][tid]["name"], "account_id": tax_account(),
                                     "credit": a if a > 0 else 0, "debit": -a if a < 0 else 0})
    t = total * sign
    create("account.move.line", {"move_id": mv["id"], "display_type": "payment_term", "name": mv["payment_reference"] or "",
                                 "account_id": receivable_account(), "partner_id": mv["partner_id"],
                                 "debit": t if t > 0 else 0, "credit": -t if t < 0 else 0})


def action_post_move(ids):
    for i in ids:
        mv = S.rec["account.move"][i]
        if mv["state"] == "posted":
            raise user_error("The entry %s (id %d) is already posted." % (mv["name"], i))
        lock = company()["period_lock_date"]
        if lock and (mv["invoice_date"] or mv["date"]) <= lock:
            raise user_error("You cannot add/modify entries prior to and inclusive of the lock date %s." % lock)
        if mv["move_type"] in ("out_invoice", "out_refund"):
            if mv["invoice_date"] is None:
                mv["invoice_date"] = DATE_NOW[:10]
            mv["date"] = mv["invoice_date"]
            post_invoice(mv)
            year = mv["invoice_date"][:4]
            prefix = "INV" if mv["move_type"] == "out_invoice" else "RINV"
            mv["name"] = next_name(prefix, prefix + "/%s/%05d", year)
        else:
            if not children("account.move", "line_ids", i):
                raise user_error("You need to add a line before posting.")
            check_balanced(mv)
            j = S.rec["account.journal"][mv["journal_id"]]
            mv["name"] = next_name(j["code"], j["code"] + "/%s/%05d", mv["date"][:4])
        mv["state"] = "posted"
        for li in children("account.move", "line_ids", i):
            ln = S.rec["account.move.line"][li]
            ln["amount_residual"] = (ln["debit"] or 0) - (ln["credit"] or 0)
    return False


def action_post_payment(ids):
    for i in ids:
        p = S.rec["account.payment"][i]
        posted = "in_process" if VERSION >= 18 else "posted"
        if p["state"] != "draft":
            raise user_error("Only a draft payment can be posted.")
        if p["partner_id"] is None:
            raise mandatory("account.payment", "partner_id")
        j = S.rec["account.journal"][p["journal_id"]]
        amt = p["amount"]
        memo = p.get("memo") if VERSION >= 18 else p.get("ref")
        mv = create("account.move", {"move_type": "entry", "journal_id": p["journal_id"], "date": p["date"] or DATE_NOW[:10],
                                     "ref": memo or False, "partner_id": p["partner_id"]})
        out, rec = (amt, -amt) if p["payment_type"] == "inbound" else (-amt, amt)
        for acc, bal in ((j["payment_account_id"], out), (receivable_account(), rec)):
            create("account.move.line", {"move_id": mv, "account_id": acc, "partner_id": p["partner_id"], "payment_id": i,
                                         "name": memo or "", "debit": bal if bal > 0 else 0, "credit": -bal if bal < 0 else 0})
        p["move_id"] = mv
        action_post_move([mv])
        p["name"] = S.rec["account.move"][mv]["name"]
        p["state"] = posted
    return None


def reconcile_lines(ids):
    lines = [S.rec["account.move.line"][i] for i in ids]
    accounts = {ln["account_id"] for ln in lines}
    if len(accounts) != 1:
        raise user_error("Entries are not from the same account: %s" %
                         ", ".join(display_name("account.account", S.rec["account.account"][a]) for a in sorted(accounts)))
    acc = S.rec["account.account"][accounts.pop()]
    if not acc["reconcile"] and acc["account_type"] not in ("asset_receivable", "liability_payable", "asset_cash"):
        raise user_error("Account %s does not allow reconciliation. First change the configuration of this account to allow it."
                         % display_name("account.account", acc))
    for ln in lines:
        mv = S.rec["account.move"][ln["move_id"]]
        if mv["state"] != "posted":
            raise user_error("You can only reconcile posted entries.")
        if ln["reconciled"]:
            raise user_error("You are trying to reconcile some entries that are already reconciled.")
    debits = [ln for ln in lines if ln["amount_residual"] > 0]
    credits = [ln for ln in lines if ln["amount_residual"] < 0]
    n = 0
    for d in debits:
        for c in credits:
            if d["amount_residual"] == 0:
                break
            amt = min(d["amount_residual"], -c["amount_residual"])
            if amt <= 0:
                continue
            d["amount_residual"] -= amt
            c["amount_residual"] += amt
            n += 1
    for ln in lines:
        if ln["amount_residual"] == 0:
            ln["reconciled"] = True
    S.seq["partial"] = S.seq.get("partial", 0) + n
    after_reconcile(lines)
    full = all(ln["reconciled"] for ln in lines)
    S.seq["full"] = S.seq.get("full", 0) + (1 if full else 0)
    return {"exchange_partials": "account.partial.reconcile()",
            "partials": "account.partial.reconcile(%s)" % "".join("%d," % (S.seq["partial"] - k) for k in range(n)),
            "full_reconcile": "account.full.reconcile(%d,)" % S.seq["full"] if full else "account.full.reconcile()"}


def after_reconcile(lines):
    for ln in lines:
        mv = S.rec["account.move"][ln["move_id"]]
        if mv["move_type"] in ("out_invoice", "out_refund"):
            term = [S.rec["account.move.line"][i] for i in children("account.move", "line_ids", mv["id"])
                    if S.rec["account.move.line"][i]["display_type"] == "payment_term"]
            res = sum((t["amount_residual"] for t in term), Decimal(0))
            mv["payment_state"] = "paid" if res == 0 else "partial"
        if ln["payment_id"]:
            p = S.rec["account.payment"][ln["payment_id"]]
            acc = S.rec["account.account"][ln["account_id"]]
            if acc["account_type"] == "asset_receivable":
                if VERSION >= 18 and ln["reconciled"]:
                    p["state"] = "paid"


def js_assign(invoice_id, line_id):
    mv = S.rec["account.move"].get(invoice_id)
    if mv is None or not exists("account.move.line", line_id):
        raise OdooError("odoo.exceptions.MissingError", "Record does not exist or has been deleted.\n"
                        "(Record: account.move.line(%r,), User: %d)" % (line_id, UID))
    if mv["state"] != "posted":
        raise user_error("You can only reconcile posted entries.")
    term = [i for i in children("account.move", "line_ids", invoice_id)
            if S.rec["account.move.line"][i]["display_type"] == "payment_term"
            and not S.rec["account.move.line"][i]["reconciled"]]
    return reconcile_lines(term + [line_id])


def compute(model, r):
    """Computed fields, as read returns them."""
    out = dict(r)
    if model == "sale.order":
        lines = [S.rec["sale.order.line"][i] for i in children("sale.order", "order_line", r["id"])]
        spec = [{"price_unit": ln["price_unit"] or 0, "quantity": ln["product_uom_qty"], "discount": ln["discount"] or 0,
                 "taxes": tax_dicts(ln["tax_id"])} for ln in lines]
        _, untaxed, _, tax, total = move_taxes(spec, company()["tax_calculation_rounding_method"])
        out.update(amount_untaxed=untaxed, amount_tax=tax, amount_total=total)
        sol = set(children("sale.order", "order_line", r["id"]))
        out["invoice_ids"] = sorted({ln["move_id"] for ln in S.rec["account.move.line"].values()
                                     if sol & set(ln["sale_line_ids"])})
        out["order_line"] = sorted(sol)
    elif model == "sale.order.line":
        spec = [{"price_unit": r["price_unit"] or 0, "quantity": r["product_uom_qty"], "discount": r["discount"] or 0,
                 "taxes": tax_dicts(r["tax_id"])}]
        per, _, _, _, _ = move_taxes(spec, company()["tax_calculation_rounding_method"])
        out.update(price_subtotal=per[0][0], price_tax=per[0][1], price_total=per[0][2])
    elif model == "account.move":
        lines = children("account.move", "line_ids", r["id"])
        out["line_ids"] = lines
        out["invoice_line_ids"] = [i for i in lines if S.rec["account.move.line"][i]["display_type"] == "product"]
        if r["move_type"] in ("out_invoice", "out_refund"):
            _, (_, untaxed, _, tax, total) = invoice_figures(r)
            out.update(amount_untaxed=untaxed, amount_tax=tax, amount_total=total)
            term = [S.rec["account.move.line"][i] for i in lines
                    if S.rec["account.move.line"][i]["display_type"] == "payment_term"]
            out["amount_residual"] = abs(sum((t["amount_residual"] or 0 for t in term), Decimal(0))) \
                if r["state"] == "posted" else total
        else:
            d = sum((S.rec["account.move.line"][i]["debit"] or 0 for i in lines), Decimal(0))
            out.update(amount_untaxed=d, amount_tax=Decimal(0), amount_total=d, amount_residual=Decimal(0))
    elif model == "account.move.line":
        if r.get("amount_residual") is None:
            out["amount_residual"] = (r["debit"] or 0) - (r["credit"] or 0)
        out["reconciled"] = bool(r.get("reconciled"))
    elif model == "account.payment":
        out["is_reconciled"] = out["is_matched"] = False
        out["reconciled_invoice_ids"] = []
        if r.get("move_id"):
            for li in children("account.move", "line_ids", r["move_id"]):
                ln = S.rec["account.move.line"][li]
                acc = S.rec["account.account"][ln["account_id"]]
                if acc["account_type"] == "asset_receivable":
                    out["is_reconciled"] = bool(ln.get("reconciled"))
                elif ln.get("reconciled"):
                    out["is_matched"] = True
    elif model == "ir.model.data":
        out["complete_name"] = "%s.%s" % (r["module"], r["name"])
    elif model == "stock.location":
        out["complete_name"] = location_name(r)
    elif model == "stock.picking":
        out["picking_type_code"] = S.rec["stock.picking.type"][r["picking_type_id"]]["code"]
        out["move_ids"] = children("stock.picking", "move_ids", r["id"])
        out["move_line_ids"] = children("stock.picking", "move_line_ids", r["id"])
        c = S.rec["delivery.carrier"].get(r["carrier_id"]) if r.get("carrier_id") else None
        # delivery's default: the carrier's link with the reference appended
        out["carrier_tracking_url"] = (c["tracking_url"] + r["carrier_tracking_ref"]
                                       if c and c.get("tracking_url") and r.get("carrier_tracking_ref") else None)
    elif model == "stock.move":
        out["move_line_ids"] = children("stock.move", "move_line_ids", r["id"])
    elif model == "stock.quant":
        out["available_quantity"] = (r["quantity"] or 0) - (r["reserved_quantity"] or 0)
    return out


def location_name(r):
    """complete_name as stock computes it: the parent's, "/", the name;
    a view location at the top (the warehouse) starts the path."""
    if r.get("location_id"):
        parent = S.rec["stock.location"][r["location_id"]]
        return "%s/%s" % (location_name(parent), r["name"])
    return r["name"]


def read_value(model, field, v):
    f = MODELS[model]["fields"].get(field)
    if f is None:
        if field == "id":
            return v
        raise value_error("Invalid field %r on model %r" % (field, model))
    if f["type"] == "many2one":
        if v is None:
            return False
        return [v, display_name(f["relation"], S.rec[f["relation"]][v])]
    if f["type"] in ("many2many", "one2many"):
        return list(v or [])
    if v is None:
        return False
    return money(v)


def read(model, ids, fields=None):
    out = []
    for i in ids:
        r = S.rec[model].get(i)
        if r is None:
            continue
        c = compute(model, r)
        names = fields or [k for k in MODELS[model]["fields"]]
        row = {"id": i}
        for fn in names:
            if fn == "id":
                continue
            row[fn] = read_value(model, fn, c.get(fn))
        out.append(row)
    return out


# ---------------------------------------------------------------- domains

def field_value(model, r, path):
    parts = path.split(".")
    c = compute(model, r)
    v = c.get(parts[0]) if parts[0] != "id" else r["id"]
    if len(parts) == 1:
        return v
    f = MODELS[model]["fields"].get(parts[0])
    if f is None or v is None:
        return None
    return field_value(f["relation"], S.rec[f["relation"]][v], ".".join(parts[1:]))


def match_leaf(model, r, leaf):
    path, op, val = leaf
    if path.split(".")[0] not in MODELS[model]["fields"] and path != "id":
        raise value_error("Invalid field %s.%s in leaf %s" % (model, path, str(tuple(leaf))))
    v = field_value(model, r, path)
    if isinstance(v, Decimal):
        v = float(v)
    if isinstance(v, list):
        if op == "in":
            return bool(set(v) & set(val))
        if op == "=":
            return val in v if val is not False else not v
        return False
    if v is None:
        v = False
    if op == "=":
        return v == val
    if op == "!=":
        return v != val
    if op == "in":
        return v in val
    if op == "not in":
        return v not in val
    if op in ("like", "ilike"):
        return isinstance(v, str) and str(val).lower() in v.lower() if op == "ilike" else str(val) in str(v)
    if op == "=like":
        # SQL LIKE: % any run, _ any one character
        import re
        rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in str(val))
        return isinstance(v, str) and re.fullmatch(rx, v, re.S) is not None
    if op == "=ilike":
        return isinstance(v, str) and v.lower() == str(val).lower()
    if op == "child_of" and isinstance(v, int) and f_rel(model, path) == "stock.location":
        want = set(val) if isinstance(val, list) else {val}
        while v:
            if v in want:
                return True
            v = S.rec["stock.location"][v].get("location_id")
        return False
    if op in (">", "<", ">=", "<="):
        if v is False:
            return False
        return {">": v > val, "<": v < val, ">=": v >= val, "<=": v <= val}[op]
    raise value_error("Invalid leaf %r" % (leaf,))


def f_rel(model, path):
    f = MODELS[model]["fields"].get(path)
    return f.get("relation") if f else None


def match(model, r, domain):
    def ev(i):
        t = domain[i]
        if t == "|" or t == "&":
            a, j = ev(i + 1)
            b, k = ev(j)
            return (a or b) if t == "|" else (a and b), k
        if t == "!":
            a, j = ev(i + 1)
            return not a, j
        return match_leaf(model, r, t), i + 1
    i, ok = 0, True
    while i < len(domain):
        a, i = ev(i)
        ok = ok and a
    return ok


def search(model, domain, ctx, limit=None, order=None):
    active_test = ctx.get("active_test", True)
    ids = []
    for i in sorted(S.rec[model]):
        r = S.rec[model][i]
        if active_test and "active" in MODELS[model]["fields"] and r.get("active") is False:
            continue
        if match(model, r, domain):
            ids.append(i)
    if limit:
        ids = ids[:limit]
    return ids


# ---------------------------------------------------------------- load()

def xmlid_split(x):
    return x.split(".", 1) if "." in x else ("__import__", x)


def xmlid_find(x):
    mod, name = xmlid_split(x)
    for r in S.rec["ir.model.data"].values():
        if r["module"] == mod and r["name"] == name:
            return r
    return None


def xmlid_make(x, model, res_id):
    mod, name = xmlid_split(x)
    create("ir.model.data", {"module": mod, "name": name, "model": model, "res_id": res_id})


class LoadError(Exception):
    def __init__(self, field, message, field_name, extra=None):
        super().__init__(message)
        self.field, self.message, self.field_name, self.extra = field, message, field_name, extra or {}


def load_value(model, field, path_tail, text):
    """Convert one cell of load() into a create/write value."""
    f = MODELS[model]["fields"].get(field)
    if f is None:
        raise value_error("Invalid field %r on model %r" % (field, model))
    label = f.get("string") or field
    t = f["type"]
    if text == "":
        return False
    if path_tail in ("id", ".id"):
        rel = f["relation"]
        ids = []
        for part in text.split(",") if t == "many2many" else [text]:
            part = part.strip()
            if path_tail == ".id":
                try:
                    rid = int(part)
                except ValueError:
                    raise LoadError(field, "Invalid database id '%s' for the field '%s'" % (part, label), label)
                if rid not in S.rec[rel]:
                    raise LoadError(field, "No matching record found for database id '%s' in field '%s'"
                                    % (part, label), label)
            else:
                x = xmlid_find(part)
                if x is None or x["res_id"] not in S.rec.get(x["model"], {}):
                    raise LoadError(field, "No matching record found for external id '%s' in field '%s'"
                                    % (part, label), label)
                rid = x["res_id"]
            ids.append(rid)
        return [(6, 0, ids)] if t == "many2many" else ids[0]
    if t in ("float", "monetary"):
        try:
            return Decimal(text)
        except Exception:
            raise LoadError(field, "'%s' does not seem to be a number for field '%s'" % (text, label), label)
    if t == "integer":
        try:
            return int(text)
        except ValueError:
            raise LoadError(field, "'%s' does not seem to be an integer for field '%s'" % (text, label), label)
    if t == "boolean":
        if text.lower() in ("1", "true", "yes"):
            return True
        if text.lower() in ("0", "false", "no"):
            return False
        raise LoadError(field, "Unknown value '%s' for boolean field '%s'" % (text, label), label)
    if t == "selection":
        if text not in f["selection"]:
            raise LoadError(field, "Value '%s' not found in selection field '%s'" % (text, label), label,
                            {"moreinfo": f.get("labels", f["selection"])})
        return text
    if t in ("many2one", "many2many"):
        rel = f["relation"]
        found = [i for i, r in S.rec[rel].items() if display_name(rel, r) == text or r.get("name") == text]
        if not found:
            raise LoadError(field, "No matching record found for name '%s' in field '%s'" % (text, label), label)
        return found[0] if t == "many2one" else [(6, 0, found[:1])]
    return text


def load_records(model, fields, rows):
    """Group rows into records: [(row index, {col: text}, [sub rows])]."""
    head = [i for i, f in enumerate(fields) if "/" not in f or f.split("/")[0] in ("id", ".id")
            or MODELS[model]["fields"].get(f.split("/")[0], {}).get("type") != "one2many"]
    recs = []
    for n, row in enumerate(rows):
        if len(row) != len(fields):
            raise value_error("Row %d has %d values for %d fields" % (n + 1, len(row), len(fields)))
        is_head = n == 0 or any(row[i] != "" for i in head)
        if is_head:
            recs.append((n, row, [row]))
        else:
            recs[-1][2].append(row)
    return recs


def load_one(model, fields, first, rows):
    """Create or update one record from its rows; returns its id."""
    vals, xid, dbid = {}, None, None
    subs = {}
    for i, col in enumerate(fields):
        parts = col.split("/")
        if col == "id":
            xid = first[i] or None
            continue
        if col == ".id":
            dbid = int(first[i]) if first[i] else None
            continue
        f = MODELS[model]["fields"].get(parts[0])
        if f is None:
            raise value_error("Invalid field %r on model %r" % (parts[0], model))
        if f["type"] == "one2many":
            subs.setdefault(parts[0], []).append((i, "/".join(parts[1:])))
            continue
        tail = parts[1] if len(parts) > 1 else None
        vals[parts[0]] = load_value(model, parts[0], tail, first[i])
    # one2many lines: one per row that has any of the o2m's columns set
    o2m_cmds = {}
    for fld, cols in subs.items():
        rel = MODELS[model]["fields"][fld]["relation"]
        cmds = []
        for row in rows:
            if all(row[i] == "" for i, _ in cols):
                continue
            sv, sx = {}, None
            for i, sub in cols:
                sp = sub.split("/")
                if sub == "id":
                    sx = row[i] or None
                    continue
                sv[sp[0]] = load_value(rel, sp[0], sp[1] if len(sp) > 1 else None, row[i])
            cmds.append((sx, sv))
        o2m_cmds[fld] = cmds
    existing = None
    if xid:
        x = xmlid_find(xid)
        if x is not None:
            if x["model"] != model:
                raise validation_error("External ID %s refers to a record of model %s, not %s"
                                       % (xid, x["model"], model))
            if x["res_id"] in S.rec[model]:
                existing = x["res_id"]
            else:  # stale id: drop it, create anew
                del S.rec["ir.model.data"][x["id"]]
    elif dbid:
        if dbid not in S.rec[model]:
            raise OdooError("odoo.exceptions.MissingError", "Record does not exist or has been deleted.")
        existing = dbid
    if existing is None:
        rid = create(model, vals)
        if xid:
            xmlid_make(xid, model, rid)
    else:
        rid = existing
        if vals:
            write(model, [rid], vals)
    for fld, cmds in o2m_cmds.items():
        rel = MODELS[model]["fields"][fld]["relation"]
        inv = MODELS[model]["fields"][fld]["inverse"]
        for sx, sv in cmds:
            x = xmlid_find(sx) if sx else None
            if x is not None and x["res_id"] in S.rec[rel]:
                write(rel, [x["res_id"]], sv)
                continue
            if x is not None:
                del S.rec["ir.model.data"][x["id"]]
            sv[inv] = rid
            if model == "account.move" and S.rec[model][rid]["state"] == "posted":
                raise user_error("You cannot add a line to a posted entry.")
            sub_id = create(rel, sv)
            if sx:
                xmlid_make(sx, rel, sub_id)
        hooks_after_write(model, rid)
    return rid


def load(model, fields, rows):
    global S
    recs = load_records(model, fields, rows)
    snapshot = copy.deepcopy(S)
    ids, messages = [], []
    try:
        for n, first, rr in recs:
            ids.append(load_one(model, fields, first, rr))
        return {"ids": ids, "messages": [], "nextrow": 0}
    except (OdooError, LoadError):
        S = copy.deepcopy(snapshot)
    # retry record by record, collecting messages
    for k, (n, first, rr) in enumerate(recs):
        before = copy.deepcopy(S)
        info = {"rows": {"from": n, "to": n + len(rr) - 1}, "record": k}
        try:
            ids.append(load_one(model, fields, first, rr))
        except LoadError as e:
            S = before
            m = dict(info, type="error", field=e.field, message=e.message, field_name=e.field_name)
            m.update(e.extra)
            messages.append(m)
        except OdooError as e:
            S = before
            messages.append(dict(info, type="error", message=e.message))
        if len([m for m in messages if m["type"] == "error"]) >= 10:
            messages.append({"type": "warning", "message": "Found more than 10 errors and more than one error "
                             "per 10 records, interrupted to avoid showing too many errors."})
            break
    S = snapshot
    return {"ids": False, "messages": messages, "nextrow": 0}


# ---------------------------------------------------------------- dispatch

def execute_kw(model, method, args, kwargs):
    global S
    if model not in MODELS:
        raise user_error("Object %s doesn't exist" % model)
    if method.startswith("_"):
        raise OdooError("odoo.exceptions.AccessError",
                        "Private methods (such as %s) cannot be called remotely." % method)
    ctx = kwargs.get("context") or {}
    comp = ctx.get("allowed_company_ids")
    if comp is not None and any(c not in S.rec["res.company"] for c in comp):
        raise OdooError("odoo.exceptions.AccessError", "Access to unauthorized or invalid companies.")
    if method in ("search", "search_read", "search_count"):
        domain = args[0] if args else kwargs.get("domain", [])
        ids = search(model, domain, ctx, kwargs.get("limit"))
        if method == "search":
            return ids
        if method == "search_count":
            return len(ids)
        return read(model, ids, kwargs.get("fields"))
    if method == "read":
        return read(model, args[0], args[1] if len(args) > 1 else kwargs.get("fields"))
    if method == "fields_get":
        names = args[0] if args else None
        attrs = kwargs.get("attributes") or ["type", "string", "required", "readonly", "relation"]
        out = {}
        for n, f in MODELS[model]["fields"].items():
            if names and n not in names:
                continue
            d = {"type": f["type"], "string": f["string"], "required": bool(f.get("required")),
                 "readonly": bool(f.get("compute") or f.get("readonly"))}
            if "relation" in f:
                d["relation"] = f["relation"]
            out[n] = {k: v for k, v in d.items() if k in attrs}
        return out
    if method == "check_object_reference" and model == "ir.model.data":
        x = xmlid_find("%s.%s" % (args[0], args[1]))
        if x is None:
            raise ValueError_("External ID not found in the system: %s.%s" % (args[0], args[1]))
        return [x["model"], x["res_id"]]
    if method == "load":
        return load(model, args[0], args[1])
    if method == "create":
        v = args[0]
        if isinstance(v, list):
            return [create(model, x) for x in v]
        return create(model, v)
    if method == "write":
        return write(model, args[0], args[1])
    if method == "unlink":
        return unlink(model, args[0])
    if method == "action_confirm" and model == "sale.order":
        for i in args[0]:
            so = S.rec[model][i]
            if so["state"] not in ("draft", "sent"):
                if VERSION >= 18:
                    raise user_error("Some orders are not in a state requiring confirmation.")
            so["state"] = "sale"
            so["date_order"] = DATE_NOW  # as Odoo does: confirm overwrites the date
        return True
    if method == "action_post" and model == "account.move":
        return action_post_move(args[0])
    if method == "action_post" and model == "account.payment":
        return action_post_payment(args[0])
    if method == "js_assign_outstanding_line" and model == "account.move":
        return js_assign(args[0][0] if isinstance(args[0], list) else args[0], args[1])
    if method == "reconcile" and model == "account.move.line":
        return reconcile_lines(args[0])
    raise OdooError("builtins.AttributeError", "The method '%s' does not exist on the model '%s'" % (method, model))


class ValueError_(OdooError):
    def __init__(self, msg):
        super().__init__("builtins.ValueError", msg)


def error_obj(rid, name, message, code=200):
    return {"jsonrpc": "2.0", "id": rid, "error": {"code": code, "message": "Odoo Server Error", "data": {
        "name": name, "debug": "Traceback (most recent call last):\n  (cut)\n%s: %s" % (name.split(".")[-1], message),
        "message": message, "arguments": [message], "context": {}}}}


def log_write(entry):
    WRITES.append(entry)
    if LOG_PATH:
        with open(LOG_PATH, "a") as f:
            f.write(json.dumps(entry, sort_keys=True) + "\n")


def take_fault(kind, method=None, model=None):
    for f in FAULTS:
        if f["type"] != kind or f.get("count", 1) == 0:
            continue
        if f.get("method") and f["method"] != method:
            continue
        if f.get("model") and f["model"] != model:
            continue
        if "count" in f:
            f["count"] -= 1
        return f
    return None


def handle_rpc(req, addr):
    """Returns (response object, drop connection after commit?)."""
    global S
    rid = req.get("id")
    p = req.get("params") or {}
    service, method, args = p.get("service"), p.get("method"), p.get("args") or []
    if service == "common":
        if method == "version":
            return {"jsonrpc": "2.0", "id": rid, "result": {
                "server_version": "%d.0" % VERSION, "server_version_info": [VERSION, 0, 0, "final", 0, ""],
                "server_serie": "%d.0" % VERSION, "protocol_version": 1}}, False
        if method in ("login", "authenticate"):
            return {"jsonrpc": "2.0", "id": rid, "result": login(args, addr)}, False
        return error_obj(rid, "builtins.Exception", "Method not found: %s" % method), False
    if service == "db":
        return error_obj(rid, "odoo.exceptions.AccessDenied", "Access Denied"), False
    if service != "object" or method not in ("execute_kw", "execute"):
        return error_obj(rid, "builtins.Exception", "Method not found: %s" % method), False
    db, uid, pw, model, meth = args[:5]
    margs = args[5] if len(args) > 5 else []
    kwargs = (args[6] if len(args) > 6 else {}) or {}
    if db != DB:
        return error_obj(rid, "psycopg2.OperationalError",
                         "connection to server at \"127.0.0.1\", port 5433 failed: FATAL:  database \"%s\" does not exist\n" % db), False
    if uid != UID or not check_password(pw, addr):
        return error_obj(rid, "odoo.exceptions.AccessDenied", "Access Denied"), False
    snapshot = copy.deepcopy(S)
    try:
        result = execute_kw(model, meth, margs, kwargs)
    except OdooError as e:
        S = snapshot
        if meth in MUTATING:
            log_write({"model": model, "method": meth, "outcome": "rolled_back"})
        return error_obj(rid, e.name, e.message), False
    if meth == "load" and result.get("ids") is False:
        S = snapshot
        log_write({"model": model, "method": meth, "outcome": "rolled_back"})
    elif meth in MUTATING:
        n = len(margs[1]) if meth == "load" else (len(margs[0]) if margs and isinstance(margs[0], list) else 1)
        log_write({"model": model, "method": meth, "outcome": "committed", "rows": n})
    drop = take_fault("drop", meth, model) is not None
    resp = {"jsonrpc": "2.0", "id": rid}
    if result is not None:
        resp["result"] = result
    return resp, drop


def check_password(pw, addr):
    f = FAILED_LOGINS.get(addr)
    if f and f[0] >= 5 and time.time() - f[1] < 60:
        return False
    return pw in (PASSWORD, os.environ.get("ODOO_DOUBLE_KEY", "test-key"))


def login(args, addr):
    db, user, pw = args[:3]
    f = FAILED_LOGINS.setdefault(addr, [0, 0])
    if f[0] >= 5 and time.time() - f[1] < 60:
        return False  # Odoo's cooldown: even the right password is refused
    if db == DB and user == LOGIN and check_password(pw, addr):
        return UID
    f[0] += 1
    f[1] = time.time()
    return False


def json_default(o):
    if isinstance(o, Decimal):
        return float(o)
    raise TypeError(repr(o))


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Werkzeug/2.2.2 Python/3.11.2"

    def log_message(self, *a):
        pass

    def send(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self):
        u = urlparse(self.path)
        with LOCK:
            if u.path == "/_counts":
                body = {m: len(r) for m, r in S.rec.items()}
            elif u.path == "/_dump":
                m = parse_qs(u.query).get("model", [""])[0]
                body = [read(m, [i])[0] for i in sorted(S.rec.get(m, {}))] if m in MODELS else []
            elif u.path == "/_calls":
                body = CALLS
            elif u.path == "/_writes":
                body = WRITES
            else:
                self.send(404, "text/html; charset=utf-8", b"<h1>Not Found</h1>")
                return
        self.send(200, "application/json", json.dumps(body, default=json_default, sort_keys=True).encode())

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n)
        u = urlparse(self.path)
        if u.path == "/_control":
            global FAULTS
            with LOCK:
                FAULTS = json.loads(raw).get("faults", [])
            self.send(200, "application/json", b"{}")
            return
        if u.path == "/_write":
            d = json.loads(raw)
            with LOCK:
                write(d["model"], d["ids"], d["vals"])
            self.send(200, "application/json", b"true")
            return
        if u.path in ("/_ship", "/_stock"):
            d = json.loads(raw)
            with LOCK:
                try:
                    rid = ship(d) if u.path == "/_ship" else set_stock(d)
                except OdooError as e:
                    self.send(400, "application/json", json.dumps({"error": e.message}).encode())
                    return
            self.send(200, "application/json", json.dumps(rid).encode())
            return
        if u.path == "/_seed":
            d = json.loads(raw)
            with LOCK:
                rid = create(d["model"], d["vals"])
            self.send(200, "application/json", json.dumps(rid).encode())
            return
        if u.path != "/jsonrpc":
            self.send(404, "text/html; charset=utf-8", b"<h1>Not Found</h1>")
            return
        if "application/json" not in (self.headers.get("Content-Type") or ""):
            self.send(400, "text/html; charset=utf-8",
                      b"<!doctype html>\n<html lang=en>\n<title>400 Bad Request</title>\n<h1>Bad Request</h1>\n"
                      b"<p>Request inferred type is compatible with [&#39;http&#39;] but &#39;/jsonrpc&#39; is "
                      b"type=&#39;json&#39;.</p>\n")
            return
        try:
            req = json.loads(raw)
        except ValueError:
            self.send(400, "text/html; charset=utf-8", b"Invalid JSON data")
            return
        p = req.get("params") or {}
        a = p.get("args") or []
        with LOCK:
            CALLS.append({"n": len(CALLS) + 1, "service": p.get("service"),
                          "method": a[4] if p.get("method") == "execute_kw" and len(a) > 4 else p.get("method"),
                          "model": a[3] if p.get("method") == "execute_kw" and len(a) > 3 else None,
                          "bytes_in": len(raw)})
            f = take_fault("http")
            if f is not None:
                st = f.get("status", 502)
                self.send(st, "text/html", b"<html><head><title>%d Bad Gateway</title></head><body><center><h1>%d "
                          b"Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n" % (st, st))
                return
            slow = take_fault("slow")
            resp, drop = handle_rpc(req, self.client_address[0])
        if slow is not None:
            time.sleep(slow.get("ms", 1000) / 1000.0)
        if drop:
            # the transaction committed; the answer never arrives
            self.close_connection = True
            try:
                self.connection.shutdown(2)
            except OSError:
                pass
            return
        body = json.dumps(resp, default=json_default).encode()
        CALLS[-1]["bytes_out"] = len(body)
        self.send(200, "application/json", body)


def seed(conf_rounding, company_name="Tillroll Goods SRL"):
    """A company as the shop config expects it: journals, accounts, taxes."""
    S.rec["res.currency"][1] = {"id": 1, "name": "EUR"}
    S.rec["res.currency"][2] = {"id": 2, "name": "USD"}
    S.next_id["res.currency"] = 3
    S.rec["res.country"][1] = {"id": 1, "name": "Belgium", "code": "BE"}
    S.next_id["res.country"] = 2
    create("res.company", {"name": company_name, "currency_id": 1, "country_id": 1,
                           "tax_calculation_rounding_method": conf_rounding})
    create("res.company", {"name": "Other Company SA", "currency_id": 1, "country_id": 1,
                           "tax_calculation_rounding_method": "round_per_line"})
    S.rec["res.users"][UID] = {"id": UID, "name": "ETL", "login": LOGIN, "company_id": 1, "company_ids": [1, 2]}
    acc = {}
    for code, name, typ, rec in [("400000", "Customers", "asset_receivable", True),
                                 ("451000", "VAT payable", "liability_current", False),
                                 ("700000", "Sales", "income", False),
                                 ("499100", "Shopify Payments clearing", "asset_current", True),
                                 ("499200", "PayPal clearing", "asset_current", True),
                                 ("499300", "Reserves held by gateways", "asset_current", True),
                                 ("499900", "Outstanding receipts", "asset_current", True),
                                 ("656000", "Payment fees", "expense", False),
                                 ("656100", "Chargeback fees", "expense", False),
                                 ("658000", "Chargebacks", "expense", False),
                                 ("658900", "Gateway adjustments", "expense", False),
                                 ("709000", "Refunds and returns", "income", False),
                                 ("487000", "Gift cards outstanding", "liability_current", False),
                                 ("758000", "Rounding differences", "income_other", False),
                                 ("550000", "Bank", "asset_cash", False)]:
        acc[code] = create("account.account", {"code": code, "name": name, "account_type": typ,
                                               "reconcile": rec, "company_id": 1})
    for name, code, typ, dflt, pay in [("Customer Invoices", "INV", "sale", "700000", None),
                                       ("Miscellaneous Operations", "MISC", "general", None, None),
                                       ("Shopify Payments", "SHOP", "bank", "499100", "499100"),
                                       ("PayPal", "PYPL", "bank", "499200", "499200"),
                                       ("Bank", "BNK1", "bank", "550000", "499900")]:
        create("account.journal", {"name": name, "code": code, "type": typ, "company_id": 1,
                                   "default_account_id": acc[dflt] if dflt else False,
                                   "payment_account_id": acc[pay] if pay else False})
    for amt in ("21", "12", "6", "0", "6.25", "1"):
        for incl in (False, True):
            create("account.tax", {"name": "%s%%%s" % (amt, " incl" if incl else ""), "amount": amt,
                                   "amount_type": "percent", "type_tax_use": "sale", "price_include": incl,
                                   "company_id": 1})
    # the taxes samples/tax-map.json names, as a Belgian chart has them
    for name, amt, incl in (("21% S", "21", True), ("6% S", "6", True), ("21%", "21", False),
                            ("0% S", "0", True), ("0% EU G", "0", False), ("CA State 6.25%", "6.25", False),
                            ("Los Angeles County 1%", "1", False)):
        create("account.tax", {"name": name, "amount": amt, "amount_type": "percent", "type_tax_use": "sale",
                               "price_include": incl, "company_id": 1})
    pv = {"name": "Shopify item", "default_code": "SHOPIFY-MISC", "list_price": 0, "invoice_policy": "order"}
    if VERSION >= 18:
        pv["type"] = "service"
    else:
        pv["detailed_type"] = "service"
    create("product.product", pv)


def seed_stock():
    """A warehouse as a fresh database has it: WH/Stock under the WH view,
    the partner locations, receipts and delivery orders."""
    create("stock.location", {"name": "Partners", "usage": "view"})
    create("stock.location", {"name": "Customers", "usage": "customer", "location_id": 1})
    create("stock.location", {"name": "WH", "usage": "view", "company_id": 1})
    create("stock.location", {"name": "Stock", "usage": "internal", "location_id": 3, "company_id": 1})
    create("stock.picking.type", {"name": "Receipts", "code": "incoming", "company_id": 1})
    create("stock.picking.type", {"name": "Delivery Orders", "code": "outgoing", "company_id": 1})


def find_order(ref):
    """A sale.order by id, by external id (module.name or a tillroll
    name) or by client_order_ref."""
    if isinstance(ref, str) and ref.isdigit():
        ref = int(ref)
    if isinstance(ref, int):
        return ref if exists("sale.order", ref) else None
    x = xmlid_find(ref if "." in ref else "tillroll." + ref)
    if x is not None and x["model"] == "sale.order":
        return x["res_id"]
    for i, so in sorted(S.rec["sale.order"].items()):
        if so.get("client_order_ref") == ref:
            return i
    return None


def find_location(name):
    for i, r in sorted(S.rec["stock.location"].items()):
        if location_name(r) == name:
            return i
    return None


def ship(d):
    """The warehouse ships an order: a done delivery with its carrier and
    tracking reference; lines {sku: qty} (default: every goods line in
    full), done quantities in the version's field names."""
    so_id = find_order(d["order"])
    if so_id is None:
        raise user_error("no sale order %r" % d["order"])
    so = S.rec["sale.order"][so_id]
    carrier = None
    if d.get("carrier"):
        carrier = next((i for i, c in S.rec["delivery.carrier"].items() if c["name"] == d["carrier"]), None)
        if carrier is None:
            carrier = create("delivery.carrier", {"name": d["carrier"], "tracking_url": d.get("tracking_url")})
    stock = find_location(d.get("location", "WH/Stock"))
    cust = find_location("Partners/Customers")
    want = d.get("lines")
    moves = []
    for li in children("sale.order", "order_line", so_id):
        ln = S.rec["sale.order.line"][li]
        if not ln.get("product_id"):
            continue
        p = S.rec["product.product"][ln["product_id"]]
        if (p.get("detailed_type") or p.get("type")) == "service":
            continue
        qty = ln["product_uom_qty"]
        if want is not None:
            if p.get("default_code") not in want:
                continue
            qty = Decimal(str(want[p["default_code"]]))
        moves.append((li, ln["product_id"], ln["product_uom_qty"], qty))
    S.seq["picking"] = S.seq.get("picking", 0) + 1
    state = d.get("state", "done")
    pk = create("stock.picking", {
        "name": "WH/OUT/%05d" % S.seq["picking"], "origin": so["name"], "partner_id": so["partner_id"],
        "picking_type_id": 2, "state": state, "scheduled_date": d.get("date_done", DATE_NOW),
        "date_done": d.get("date_done", DATE_NOW) if state == "done" else False,
        "location_id": stock, "location_dest_id": cust, "sale_id": so_id, "carrier_id": carrier or False,
        "carrier_tracking_ref": d.get("tracking") or False, "company_id": 1})
    for li, prod, demand, qty in moves:
        mv = {"name": S.rec["product.product"][prod]["name"], "picking_id": pk, "product_id": prod,
              "product_uom_qty": demand, "state": state if qty else "cancel", "location_id": stock,
              "location_dest_id": cust, "sale_line_id": li}
        ml = {"picking_id": pk, "product_id": prod, "location_id": stock, "location_dest_id": cust}
        if VERSION >= 17:
            mv.update(quantity=qty, picked=True)
            ml.update(quantity=qty, picked=True)
        else:
            mv["quantity_done"] = qty
            ml["qty_done"] = qty
        mid = create("stock.move", mv)
        if qty:
            ml["move_id"] = mid
            create("stock.move.line", ml)
    return pk


def set_stock(d):
    """Stock on hand (and reserved) of a SKU at a location, as an
    inventory adjustment would leave it; the location is made when new."""
    prod = next((i for i, p in sorted(S.rec["product.product"].items()) if p.get("default_code") == d["sku"]),
                None)
    if prod is None:
        raise user_error("no product with SKU %r" % d["sku"])
    name = d.get("location", "WH/Stock")
    loc = find_location(name)
    if loc is None:
        parent = find_location(name.rsplit("/", 1)[0]) if "/" in name else None
        loc = create("stock.location", {"name": name.rsplit("/", 1)[-1], "location_id": parent or False,
                                        "usage": "internal", "company_id": 1})
    vals = {"quantity": d.get("quantity", 0), "reserved_quantity": d.get("reserved", 0)}
    for i, q in S.rec["stock.quant"].items():
        if q["product_id"] == prod and q["location_id"] == loc:
            write("stock.quant", [i], vals)
            return i
    vals.update(product_id=prod, location_id=loc, company_id=1)
    return create("stock.quant", vals)


def demo_company():
    """The company samples/demo.json names, so the double matches it."""
    try:
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "samples", "demo.json")) as f:
            return json.load(f)["odoo"]["company"]
    except (OSError, ValueError, KeyError):
        return "Tillroll Goods SRL"


def main():
    global MODELS, VERSION, ROUNDING, S, LOG_PATH, FAULTS
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--version", type=int, default=16, choices=[16, 17, 18])
    ap.add_argument("--rounding", default="round_per_line")
    ap.add_argument("--log")
    ap.add_argument("--company", default=demo_company())
    ap.add_argument("--fault", action="append", default=[])
    a = ap.parse_args()
    VERSION, ROUNDING, LOG_PATH = a.version, a.rounding, a.log
    MODELS.update(build_models(VERSION))
    S = State()
    seed(a.rounding, a.company)
    seed_stock()
    FAULTS = [json.loads(f) for f in a.fault]
    if LOG_PATH:
        open(LOG_PATH, "w").close()

    class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % srv.server_address[1])
    os.rename(tmp, a.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
