#!/usr/bin/env python3
# See LICENSE file for copyright and license details.
"""A Shopify GraphQL Admin API test double, for shopify-extract's tests.

It serves a world read from NDJSON envelopes as bin/gen-day writes them
(shopify.order, shopify.product, shopify.payout, shopify.balance_transaction,
and also shopify.dispute, shopify.customer, shopify.inventory_level when
given; customers and inventory levels are made up from the orders and the
catalogue when the world has none), over HTTPS on 127.0.0.1 with a
certificate the test makes, and answers as Shopify does (reference/shopify.md
section 2): POST /admin/api/<version>/graphql.json with
X-Shopify-Access-Token, {"data":..., "extensions":{"cost":...}}, search
query windows, cursors and pageInfo, nested connections cut to their first,
Shopify Payments payouts, balance transactions and disputes, a leaky bucket
with THROTTLED answers, bulk operations (CREATED, RUNNING, COMPLETED or
FAILED, JSONL with __parentId, children not adjacent to their parents).

It does not parse arbitrary GraphQL: it parses the documents the extractor
sends (fields, arguments, variables, inline fragments) and projects the
world's nodes onto their selection sets, so a field the extractor forgets
to ask for is missing from its output.

Query cost, the model documented in shopify-extract(1): a scalar field 0, an
object 1 + its fields, a connection or list field with a first argument
2 + first * (1 + the node's fields), pageInfo and cursors free, a mutation
10.  The bucket holds --max-available points and regains --restore-rate a
second; a query is charged its requested cost when it arrives, and answered
THROTTLED (HTTP 200) when the bucket lacks it.

Faults on demand: --fault-rate P picks a fault for a share P of the
requests (seeded); --faults LIST plays a fixed list on the first requests
(one word a request, "ok" for none).  Kinds: 500 and 502 with an HTML
body, 503, 429 with Retry-After, slow (answers after --slow seconds), drop
(the connection is closed in the middle of the body), reset (closed before
any answer), throttle (a THROTTLED answer, as if another app drained the
bucket).

Every request is logged to --log as one JSON object a line: time,
operation, its kind (query or mutation), variables, requested cost, the
bucket level when it arrived, whether it was throttled, the fault played,
the HTTP status.

For shopify-load (the way back): every order has one fulfillment order made
from its line items that require shipping (remainingQuantity is the line's
currentQuantity), readable through order(id:) { fulfillmentOrders
fulfillments }; fulfillmentCreate checks each line against what remains
and answers userErrors [{field, message}] as Shopify does for an unknown
fulfillment order or line, a closed fulfillment order or a quantity above
what remains; productVariant(id:) { inventoryItem { id } };
inventoryItem(id:) with its inventoryLevels, inventoryItems
searched by sku:, and inventorySetQuantities (name "available" only; an
unknown item or location, or an item not stocked at the location, is a
userError and nothing changes).  --dump FILE is rewritten after every
mutation applied: {"fulfillments": {order gid: [...]}, "levels": {item
gid: {location gid: available}}}, for tests to read.
"""

import argparse
import base64
import hashlib
import json
import random
import re
import socket
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# ---------------------------------------------------------------- GraphQL


TOKEN = re.compile(r'\s*(?:(\.\.\.)|([A-Za-z_][A-Za-z0-9_]*)|(\$[A-Za-z_]\w*)'
                   r'|("(?:[^"\\]|\\.)*")|(-?\d+(?:\.\d+)?)|([{}():\[\],!=@]))')


def tokenize(text):
    text = re.sub(r'#[^\n]*', '', text)
    pos, out = 0, []
    while pos < len(text):
        if text[pos:].strip() == '':
            break
        m = TOKEN.match(text, pos)
        if not m:
            raise ValueError('syntax error at %d' % pos)
        pos = m.end()
        if m.group(1):
            out.append(('...', '...'))
        elif m.group(2):
            out.append(('name', m.group(2)))
        elif m.group(3):
            out.append(('var', m.group(3)[1:]))
        elif m.group(4):
            out.append(('str', json.loads(m.group(4))))
        elif m.group(5):
            out.append(('num', int(float(m.group(5)))))
        else:
            out.append(('p', m.group(6)))
    return out


class Parser:
    def __init__(self, text):
        self.t = tokenize(text)
        self.i = 0

    def peek(self):
        return self.t[self.i] if self.i < len(self.t) else (None, None)

    def take(self, val=None):
        tok = self.peek()
        if val is not None and tok[1] != val:
            raise ValueError('expected %r, got %r' % (val, tok[1]))
        self.i += 1
        return tok

    def document(self):
        kind, name = 'query', None
        if self.peek() == ('name', 'query') or self.peek() == ('name', 'mutation'):
            kind = self.take()[1]
            if self.peek()[0] == 'name':
                name = self.take()[1]
            if self.peek()[1] == '(':
                depth = 0
                while True:
                    tok = self.take()
                    if tok[1] == '(':
                        depth += 1
                    elif tok[1] == ')':
                        depth -= 1
                        if depth == 0:
                            break
        return kind, name, self.selection()

    def value(self):
        tok = self.take()
        if tok[1] == '[':
            out = []
            while self.peek()[1] != ']':
                out.append(self.value())
                if self.peek()[1] == ',':
                    self.take()
            self.take(']')
            return ('list', out)
        return tok

    def selection(self):
        self.take('{')
        fields = []
        while self.peek()[1] != '}':
            if self.peek()[1] == '...':
                self.take()
                self.take('on')
                typ = self.take()[1]
                fields.append({'name': '...', 'on': typ, 'args': {},
                               'sel': self.selection()})
                continue
            name = self.take()[1]
            alias = name
            if self.peek()[1] == ':':
                self.take()
                name = self.take()[1]
            args = {}
            if self.peek()[1] == '(':
                self.take()
                while self.peek()[1] != ')':
                    an = self.take()[1]
                    self.take(':')
                    args[an] = self.value()
                    if self.peek()[1] == ',':
                        self.take()
                self.take(')')
            sel = self.selection() if self.peek()[1] == '{' else None
            fields.append({'name': name, 'alias': alias, 'args': args,
                           'sel': sel})
        self.take('}')
        return fields


def argval(tok, variables):
    if tok is None:
        return None
    kind, v = tok
    if kind == 'var':
        return variables.get(v)
    if kind == 'list':
        return [argval(x, variables) for x in v]
    if kind == 'name' and v in ('true', 'false', 'null'):
        return {'true': True, 'false': False, 'null': None}[v]
    return v


def cost(sel, variables):
    """The model of shopify-extract(1): see the module's comment."""
    total = 0
    for f in sel or []:
        if f['name'] == '...':
            total += cost(f['sel'], variables)
        elif f['sel'] is None or f['name'] == 'pageInfo':
            continue
        elif 'first' in f['args']:
            n = argval(f['args']['first'], variables) or 0
            total += 2 + n * (1 + node_cost(f['sel'], variables))
        else:
            total += 1 + cost(f['sel'], variables)
    return total


def node_cost(sel, variables):
    """The fields of one node of a connection (nodes/edges) or list."""
    total = 0
    for f in sel or []:
        if f['name'] == 'pageInfo' or f['sel'] is None:
            continue
        if f['name'] == '...':
            total += node_cost(f['sel'], variables)
        elif f['name'] == 'nodes':
            total += cost(f['sel'], variables)
        elif f['name'] == 'edges':
            for g in f['sel']:
                if g['name'] == 'node':
                    total += cost(g['sel'], variables)
        else:
            total += (1 + cost(f['sel'], variables)
                      if 'first' not in f['args'] else cost([f], variables))
    return total


def gid_num(gid):
    if gid is None:
        return 0
    return int(str(gid).rsplit('/', 1)[-1].split('?')[0])


def encode_cursor(node, sortval):
    raw = json.dumps({'last_id': gid_num(node.get('id')),
                      'last_value': sortval}, separators=(',', ':'))
    return base64.b64encode(raw.encode()).decode()


def decode_cursor(cur):
    d = json.loads(base64.b64decode(cur.encode()).decode())
    return (d['last_value'], d['last_id'])


def project(node, sel, variables):
    """node (a dict from the world) seen through selection set sel."""
    if node is None:
        return None
    if isinstance(node, list):
        return [project(x, sel, variables) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for f in sel:
        if f['name'] == '...':
            typ = node.get('__typename')
            if typ is None or typ == f['on']:
                out.update(project(node, f['sel'], variables))
            continue
        v = node.get(f['name'])
        if f['sel'] is None:
            out[f['alias']] = v
        elif 'first' in f['args'] or 'after' in f['args']:
            out[f['alias']] = slice_field(v, f, variables)
        else:
            out[f['alias']] = project(v, f['sel'], variables)
    return out


def slice_field(v, f, variables):
    """A nested connection (dict with nodes) or list cut to first/after."""
    first = argval(f['args'].get('first'), variables) or 250
    after = argval(f['args'].get('after'), variables)
    if isinstance(v, list):
        return [project(x, f['sel'], variables) for x in v[:first]]
    items = (v or {}).get('nodes')
    if items is None:
        items = [e['node'] for e in (v or {}).get('edges', [])]
    start = int(base64.b64decode(after).decode().split(':')[1]) if after else 0
    page = items[start:start + first]
    return connection(page, f['sel'], variables, start + len(page) < len(items),
                      lambda n, i: base64.b64encode(
                          ('pos:%d' % (start + i + 1)).encode()).decode())


def connection(page, sel, variables, more, cursor_of):
    out = {}
    for f in sel:
        if f['name'] == 'nodes':
            out[f['alias']] = [project(n, f['sel'], variables) for n in page]
        elif f['name'] == 'edges':
            edges = []
            for i, n in enumerate(page):
                e = {}
                for g in f['sel']:
                    if g['name'] == 'node':
                        e[g['alias']] = project(n, g['sel'], variables)
                    elif g['name'] == 'cursor':
                        e[g['alias']] = cursor_of(n, i)
                edges.append(e)
            out[f['alias']] = edges
        elif f['name'] == 'pageInfo':
            info = {'hasNextPage': more,
                    'endCursor': cursor_of(page[-1], len(page) - 1) if page else None,
                    'hasPreviousPage': False, 'startCursor': None}
            out[f['alias']] = {g['alias']: info.get(g['name'])
                               for g in f['sel']}
    return out


SEARCH_TERM = re.compile(r"(\w+):(>=|<=|>|<)?'?([^' ]*)'?")


def search(query):
    """Shopify search syntax, the subset the extractor writes."""
    terms = []
    for part in re.split(r'\s+AND\s+', (query or '').strip()):
        if not part:
            continue
        m = SEARCH_TERM.fullmatch(part.strip())
        if not m:
            raise ValueError('cannot parse search %r' % part)
        terms.append((m.group(1), m.group(2) or '=', m.group(3)))
    return terms


def iso_key(s):
    """A timestamp as a sortable UTC text (the world writes Z times)."""
    return s.replace('Z', '+00:00')[:19] if s else ''


def matches(node, terms, fields):
    for field, op, value in terms:
        get = fields.get(field)
        if get is None:
            raise ValueError("unknown search field '%s'" % field)
        have = get(node)
        if field.endswith('_at'):
            have, value = iso_key(have), iso_key(value)
        if have is None:
            return False
        if op == '=' and str(have).lower() != value.lower():
            return False
        if op == '>=' and not have >= value:
            return False
        if op == '>' and not have > value:
            return False
        if op == '<=' and not have <= value:
            return False
        if op == '<' and not have < value:
            return False
    return True


# ---------------------------------------------------------------- the world


class World:
    def __init__(self, paths, currency):
        self.orders, self.products, self.payouts = [], [], []
        self.bts, self.disputes, self.customers, self.levels = [], [], [], []
        self.currency = currency
        lists = {'shopify.order': self.orders, 'shopify.product': self.products,
                 'shopify.payout': self.payouts,
                 'shopify.balance_transaction': self.bts,
                 'shopify.dispute': self.disputes,
                 'shopify.customer': self.customers,
                 'shopify.inventory_level': self.levels}
        for path in paths:
            with open(path) as f:
                for line in f:
                    if not line.strip():
                        continue
                    env = json.loads(line)
                    lists[env['kind']].append(env['data'])
                    if env.get('shop_currency') and not self.currency:
                        self.currency = env['shop_currency']
        self.currency = self.currency or 'EUR'
        if not self.customers:
            self.make_customers()
        if not self.levels:
            self.make_levels()
        self.by_id = {}
        for lst in lists.values():
            for n in lst:
                if n.get('id'):
                    self.by_id[n['id']] = n
        for o in self.orders:
            for r in o.get('refunds') or []:
                self.by_id[r['id']] = r
        self.items = {}
        for lv in self.levels:
            self.items.setdefault(lv['item']['id'], []).append(lv)
        self.item_sku = {}
        for p in self.products:
            for v in p['variants']['nodes']:
                self.by_id[v['id']] = v
                if v.get('inventoryItem'):
                    self.item_sku[v['inventoryItem']['id']] = v.get('sku')
        self.fulfillment_seq = 0
        self.fo_by_id = {}
        for o in self.orders:
            self.make_fulfillment_orders(o)

    def make_fulfillment_orders(self, o):
        """One fulfillment order an order, as a shop with one location
        has, holding the lines that require shipping."""
        lines = []
        for li in (o.get('lineItems') or {}).get('nodes') or []:
            if li.get('requiresShipping') is False:
                continue
            qty = li.get('currentQuantity', li.get('quantity')) or 0
            lines.append({'id': 'gid://shopify/FulfillmentOrderLineItem/%d'
                                % gid_num(li['id']),
                          'remainingQuantity': qty, 'totalQuantity': qty,
                          'lineItem': {'id': li['id'], 'sku': li.get('sku')}})
        fo = {'id': 'gid://shopify/FulfillmentOrder/%d' % gid_num(o['id']),
              'status': 'OPEN' if lines else 'CLOSED',
              'orderId': o['id'], 'lineItems': {'nodes': lines}}
        o['fulfillmentOrders'] = {'nodes': [fo]}
        o['fulfillments'] = []
        self.fo_by_id[fo['id']] = fo

    def item_node(self, item_id):
        if item_id not in self.items:
            return None
        return {'id': item_id, 'sku': self.item_sku.get(item_id),
                'updatedAt': max(by_updated(x) for x in self.items[item_id]),
                'inventoryLevels': {'nodes': self.items[item_id]}}

    def make_customers(self):
        seen = {}
        for o in self.orders:
            c = o.get('customer')
            if not c or c['id'] in seen:
                if c:
                    seen[c['id']]['updatedAt'] = max(seen[c['id']]['updatedAt'],
                                                     o['updatedAt'])
                continue
            n = dict(c)
            n['legacyResourceId'] = str(gid_num(c['id']))
            n['taxExempt'] = False
            n['createdAt'] = o['createdAt']
            n['updatedAt'] = o['updatedAt']
            n['defaultAddress'] = o.get('billingAddress')
            seen[c['id']] = n
        self.customers.extend(seen.values())

    def make_levels(self):
        for p in self.products:
            for v in p['variants']['nodes']:
                item = v['inventoryItem']['id']
                qty = gid_num(item) % 37
                self.levels.append({
                    'id': 'gid://shopify/InventoryLevel/%d?inventory_item_id=%d'
                          % (gid_num(item), gid_num(item)),
                    'item': {'id': item},
                    'location': {'id': 'gid://shopify/Location/7000000000001'},
                    'quantities': [{'name': 'available', 'quantity': qty}],
                    'updatedAt': p.get('updatedAt')})


def by_updated(n):
    return n.get('updatedAt') or ''


SORTS = {'UPDATED_AT': by_updated, 'ID': lambda n: gid_num(n.get('id')),
         'ISSUED_AT': lambda n: n.get('issuedAt') or '',
         'TRANSACTION_DATE': lambda n: n.get('transactionDate') or '',
         'INITIATED_AT': lambda n: n.get('initiatedAt') or ''}

SEARCH_FIELDS = {
    'updated_at': lambda n: n.get('updatedAt'),
    'created_at': lambda n: n.get('createdAt'),
    'issued_at': lambda n: n.get('issuedAt'),
    'initiated_at': lambda n: n.get('initiatedAt'),
    'payments_transfer_id': lambda n: str(gid_num(
        (n.get('associatedPayout') or {}).get('id'))),
    'payout_status': lambda n: (n.get('associatedPayout') or {}).get('status'),
    'status': lambda n: n.get('status'),
    'sku': lambda n: n.get('sku'),
}


def top_connection(nodes, f, variables, default_sort):
    a = f['args']
    first = argval(a.get('first'), variables)
    if first is None or first < 1 or first > 250:
        raise GraphQLError("'first' must be between 1 and 250")
    after = argval(a.get('after'), variables)
    sort = argval(a.get('sortKey'), variables) or default_sort
    key = SORTS[sort]
    terms = search(argval(a.get('query'), variables))
    chosen = [n for n in nodes if matches(n, terms, SEARCH_FIELDS)]
    chosen.sort(key=lambda n: (key(n), gid_num(n.get('id'))))
    if after:
        lv, lid = decode_cursor(after)
        chosen = [n for n in chosen if (key(n), gid_num(n.get('id'))) > (lv, lid)]
    page = chosen[:first]
    return connection(page, f['sel'], variables, len(chosen) > first,
                      lambda n, i: encode_cursor(n, key(n)))


class GraphQLError(Exception):
    pass


# ---------------------------------------------------------------- the server


class State:
    def __init__(self, opts):
        self.opts = opts
        self.world = World(opts.world, opts.currency)
        self.lock = threading.Lock()
        self.available = float(opts.max_available)
        self.last = time.monotonic()
        self.log = open(opts.log, 'a', buffering=1) if opts.log else None
        self.rng = random.Random(opts.seed)
        self.faults = list(opts.faults.split(',')) if opts.faults else []
        self.bulk = None
        self.bulk_seq = 0
        self.parsed = {}
        self.nreq = 0

    def refill(self):
        now = time.monotonic()
        self.available = min(float(self.opts.max_available),
                             self.available + (now - self.last) * self.opts.restore_rate)
        self.last = now

    def throttle_status(self):
        return {'maximumAvailable': float(self.opts.max_available),
                'currentlyAvailable': int(self.available),
                'restoreRate': float(self.opts.restore_rate)}

    def pick_fault(self):
        if self.faults:
            return self.faults.pop(0)
        if self.opts.fault_rate and self.rng.random() < self.opts.fault_rate:
            return self.rng.choice(self.opts.fault_kinds.split(','))
        return 'ok'

    def write_log(self, entry):
        if self.log:
            self.log.write(json.dumps(entry, sort_keys=True) + '\n')


def html_page(status, title):
    return ('<!DOCTYPE html>\n<html><head><title>%d %s</title></head>'
            '<body><h1>%s</h1><p>There was a problem loading this website. '
            'Please try again.</p></body></html>\n' % (status, title, title)).encode()


class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    server_version = 'ShopifyDouble/1'

    def log_message(self, fmt, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go in separate writes: without this, Nagle
        # and delayed ACKs add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, status, body, ctype='application/json; charset=utf-8',
             headers=(), drop=False):
        self.send_response(status)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('X-Request-Id', hashlib.sha1(body).hexdigest()[:16])
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if drop:
            # Half the body, then the connection goes: a truncated answer.
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)

    def do_GET(self):
        st = self.server.state
        m = re.fullmatch(r'/bulk/(\d+)\.jsonl', self.path)
        with st.lock:
            bulk = st.bulk
        if not m or bulk is None or bulk['seq'] != int(m.group(1)) or 'jsonl' not in bulk:
            self.send(404, b'Not Found', 'text/plain')
            return
        fault = st.pick_fault() if st.opts.fault_bulk_download else 'ok'
        st.write_log({'t': time.time(), 'op': 'GET bulk', 'fault': fault})
        if fault == 'drop':
            self.send(200, bulk['jsonl'], 'application/jsonl', drop=True)
            return
        if fault in ('500', '502', '503'):
            self.send(int(fault), html_page(int(fault), 'Error'), 'text/html')
            return
        self.send(200, bulk['jsonl'], 'application/jsonl')

    def do_POST(self):
        st = self.server.state
        n = int(self.headers.get('Content-Length') or 0)
        raw = self.rfile.read(n)
        entry = {'t': time.time(), 'path': self.path}
        if not re.fullmatch(r'/admin/api/[0-9a-z-]+/graphql\.json', self.path):
            self.send(404, b'{"errors":"Not Found"}')
            return
        token = self.headers.get('X-Shopify-Access-Token')
        if token != st.opts.token:
            entry.update(op=None, status=401)
            st.write_log(entry)
            self.send(401, b'{"errors":"[API] Invalid API key or access token '
                           b'(unrecognized login or wrong password)"}')
            return
        try:
            req = json.loads(raw)
            text, variables = req['query'], req.get('variables') or {}
            with st.lock:
                parsed = st.parsed.get(text)
                if parsed is None:
                    parsed = st.parsed[text] = Parser(text).document()
        except (ValueError, KeyError) as e:
            self.send(400, json.dumps({'errors': [{'message': str(e)}]}).encode())
            return
        kind, name, sel = parsed
        requested = 10 if kind == 'mutation' else cost(sel, variables)
        with st.lock:
            st.nreq += 1
            st.refill()
            fault = st.pick_fault()
            entry.update(op=name, kind=kind, variables=variables, cost=requested,
                         available=round(st.available, 3), fault=fault)
            if fault in ('500', '502'):
                entry['status'] = int(fault)
                st.write_log(entry)
                self.send(int(fault), html_page(int(fault), 'Internal Server Error'
                                                if fault == '500' else 'Bad Gateway'),
                          'text/html; charset=utf-8')
                return
            if fault == '503':
                entry['status'] = 503
                st.write_log(entry)
                self.send(503, html_page(503, 'Service Unavailable'),
                          'text/html; charset=utf-8')
                return
            if fault == '429':
                entry['status'] = 429
                st.write_log(entry)
                self.send(429, b'{"errors":"Exceeded 2 calls per second for api '
                               b'client. Reduce request rates to resume '
                               b'uninterrupted service."}',
                          headers=[('Retry-After', st.opts.retry_after)])
                return
            if fault == 'reset':
                entry['status'] = 0
                st.write_log(entry)
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            if requested > 1000:
                entry.update(status=200, error='MAX_COST_EXCEEDED')
                st.write_log(entry)
                body = {'errors': [{'message': 'Query cost is %d, which exceeds the '
                                    'single query max cost limit (1000).' % requested,
                                    'extensions': {'code': 'MAX_COST_EXCEEDED',
                                                   'cost': requested,
                                                   'maxCost': 1000}}]}
                self.send(200, json.dumps(body).encode())
                return
            if st.available < requested or fault == 'throttle':
                entry.update(status=200, throttled=True)
                st.write_log(entry)
                body = {'errors': [{'message': 'Throttled',
                                    'extensions': {'code': 'THROTTLED',
                                                   'documentation': 'https://shopify.dev/api/usage/rate-limits'}}],
                        'extensions': {'cost': {'requestedQueryCost': requested,
                                                'actualQueryCost': None,
                                                'throttleStatus': st.throttle_status()}}}
                self.send(200, json.dumps(body).encode())
                return
            st.available -= requested
            entry['throttled'] = False
            try:
                data = self.execute(kind, sel, variables)
                body = {'data': data}
            except GraphQLError as e:
                body = {'errors': [{'message': str(e)}]}
            except (ValueError, KeyError, TypeError) as e:
                body = {'errors': [{'message': 'double: %s' % e}]}
            ext = {'requestedQueryCost': requested, 'actualQueryCost': requested}
            if not st.opts.no_throttle_status:
                ext['throttleStatus'] = st.throttle_status()
            body['extensions'] = {'cost': ext}
            entry['status'] = 200
            st.write_log(entry)
        out = json.dumps(body, separators=(',', ':')).encode()
        if fault == 'slow':
            time.sleep(st.opts.slow)
        self.send(200, out, drop=(fault == 'drop'))

    # The root fields the extractor asks for.
    def execute(self, kind, sel, variables):
        st = self.server.state
        w = st.world
        out = {}
        for f in sel:
            name, a = f['name'], f['args']
            if kind == 'mutation':
                if name == 'fulfillmentCreate':
                    self.need('write_fulfillments', 'fulfillmentCreate')
                    res = self.fulfillment_create(argval(a['fulfillment'], variables))
                elif name == 'inventorySetQuantities':
                    self.need('write_inventory', 'inventorySetQuantities')
                    res = self.inventory_set(argval(a['input'], variables))
                elif name == 'bulkOperationRunQuery':
                    res = self.start_bulk(argval(a['query'], variables))
                else:
                    raise GraphQLError("unknown mutation '%s'" % name)
                out[f['alias']] = project(res, f['sel'], variables)
            elif name == 'shop':
                out[f['alias']] = project({'currencyCode': w.currency,
                                           'name': 'Tillroll Demo',
                                           'ianaTimezone': 'Europe/Brussels'},
                                          f['sel'], variables)
            elif name == 'orders':
                self.need('read_orders', 'orders')
                out[f['alias']] = top_connection(w.orders, f, variables, 'ID')
            elif name == 'products':
                self.need('read_products', 'products')
                out[f['alias']] = top_connection(w.products, f, variables, 'ID')
            elif name == 'customers':
                self.need('read_customers', 'customers')
                out[f['alias']] = top_connection(w.customers, f, variables, 'ID')
            elif name == 'inventoryItems':
                self.need('read_inventory', 'inventoryItems')
                items = [w.item_node(k) for k in w.items]
                out[f['alias']] = top_connection(items, f, variables, 'ID')
            elif name == 'inventoryItem':
                self.need('read_inventory', 'inventoryItem')
                out[f['alias']] = project(w.item_node(argval(a['id'], variables)),
                                          f['sel'], variables)
            elif name in ('order', 'refund', 'product', 'productVariant'):
                node = w.by_id.get(argval(a['id'], variables))
                out[f['alias']] = project(node, f['sel'], variables)
            elif name == 'shopifyPaymentsAccount':
                self.need('read_shopify_payments_payouts', 'shopifyPaymentsAccount')
                acc = {}
                for g in f['sel']:
                    src = {'payouts': (w.payouts, 'ISSUED_AT'),
                           'balanceTransactions': (w.bts, 'TRANSACTION_DATE'),
                           'disputes': (w.disputes, 'INITIATED_AT')}.get(g['name'])
                    if src is None:
                        acc[g['alias']] = None
                    else:
                        acc[g['alias']] = top_connection(src[0], g, variables, src[1])
                out[f['alias']] = acc
            elif name == 'currentBulkOperation':
                out[f['alias']] = project(self.poll_bulk(), f['sel'], variables)
            else:
                raise GraphQLError("Field '%s' doesn't exist on type 'QueryRoot'" % name)
        return out

    def need(self, scope, field):
        if self.server.state.opts.deny_scope == scope:
            raise GraphQLError('Access denied for %s field. Required access: `%s` '
                               'access scope.' % (field, scope))

    def fulfillment_create(self, inp):
        """Shopify's checks, all before any change: one order, open
        fulfillment orders, known lines, quantities within what remains."""
        w = self.server.state.world
        errors, plan, orders = [], [], set()
        for i, pair in enumerate(inp.get('lineItemsByFulfillmentOrder') or []):
            field = ['fulfillment', 'lineItemsByFulfillmentOrder', str(i)]
            fo = w.fo_by_id.get(pair.get('fulfillmentOrderId'))
            if fo is None:
                errors.append({'field': field + ['fulfillmentOrderId'],
                               'message': 'Fulfillment order does not exist.'})
                continue
            orders.add(fo['orderId'])
            if fo['status'] not in ('OPEN', 'IN_PROGRESS'):
                errors.append({'field': field + ['fulfillmentOrderId'],
                               'message': 'Fulfillment order %d has an '
                               'unfulfillable status= %s.'
                               % (gid_num(fo['id']), fo['status'].lower())})
                continue
            lines = {l['id']: l for l in fo['lineItems']['nodes']}
            asked = pair.get('fulfillmentOrderLineItems') or [
                {'id': l['id'], 'quantity': l['remainingQuantity']}
                for l in fo['lineItems']['nodes']]
            for j, want in enumerate(asked):
                lf = field + ['fulfillmentOrderLineItems', str(j)]
                line = lines.get(want.get('id'))
                if line is None:
                    errors.append({'field': lf + ['id'], 'message':
                                   'Fulfillment order line item does not exist.'})
                elif not isinstance(want.get('quantity'), int) or \
                        want['quantity'] < 1 or \
                        want['quantity'] > line['remainingQuantity']:
                    errors.append({'field': lf + ['quantity'], 'message':
                                   'Invalid fulfillment order line item '
                                   'quantity requested.'})
                else:
                    plan.append((fo, line, want['quantity']))
        if not errors and not plan:
            errors.append({'field': ['fulfillment'], 'message':
                           'Fulfillment has no line items to fulfill.'})
        if len(orders) > 1:
            errors.append({'field': ['fulfillment', 'lineItemsByFulfillmentOrder'],
                           'message': 'Fulfillment orders must belong to '
                           'the same order.'})
        if errors:
            return {'fulfillment': None, 'userErrors': errors}
        for fo, line, qty in plan:
            line['remainingQuantity'] -= qty
        touched = {id(fo): fo for fo, _, _ in plan}.values()
        for fo in touched:
            left = sum(l['remainingQuantity'] for l in fo['lineItems']['nodes'])
            fo['status'] = 'CLOSED' if left == 0 else 'IN_PROGRESS'
        order = w.by_id[next(iter(orders))]
        w.fulfillment_seq += 1
        t = inp.get('trackingInfo') or {}
        f = {'id': 'gid://shopify/Fulfillment/%d' % (5600000000000 + w.fulfillment_seq),
             'status': 'SUCCESS',
             'trackingInfo': [{'company': t.get('company'), 'number': t.get('number'),
                               'url': t.get('url')}] if t else [],
             'notifyCustomer': bool(inp.get('notifyCustomer')),
             'lineItems': [{'sku': line['lineItem']['sku'], 'quantity': qty}
                           for _, line, qty in plan]}
        order['fulfillments'].append(f)
        left = [l['remainingQuantity'] for fo in order['fulfillmentOrders']['nodes']
                for l in fo['lineItems']['nodes']]
        order['displayFulfillmentStatus'] = ('FULFILLED' if sum(left) == 0
                                             else 'PARTIALLY_FULFILLED')
        self.dump()
        return {'fulfillment': f, 'userErrors': []}

    def inventory_set(self, inp):
        w = self.server.state.world
        errors, plan = [], []
        known_locations = {lv['location']['id'] for v in w.items.values() for lv in v}
        if inp.get('name') != 'available':
            errors.append({'code': 'INVALID_NAME', 'field': ['input', 'name'],
                           'message': 'The quantity name must be available.'})
        for i, q in enumerate(inp.get('quantities') or []):
            field = ['input', 'quantities', str(i)]
            levels = w.items.get(q.get('inventoryItemId'))
            if levels is None:
                errors.append({'code': 'INVALID_INVENTORY_ITEM',
                               'field': field + ['inventoryItemId'],
                               'message': 'The specified inventory item could '
                               'not be found.'})
                continue
            if q.get('locationId') not in known_locations:
                errors.append({'code': 'INVALID_LOCATION',
                               'field': field + ['locationId'],
                               'message': 'The specified location could not '
                               'be found.'})
                continue
            at = [lv for lv in levels if lv['location']['id'] == q['locationId']]
            if not at:
                errors.append({'code': 'ITEM_NOT_STOCKED_AT_LOCATION',
                               'field': field + ['locationId'],
                               'message': 'The specified inventory item is not '
                               'stocked at the location.'})
                continue
            if not isinstance(q.get('quantity'), int):
                errors.append({'code': 'INVALID_QUANTITY',
                               'field': field + ['quantity'],
                               'message': 'The quantity is not valid.'})
                continue
            plan.append((at[0], q['quantity']))
        if errors:
            return {'inventoryAdjustmentGroup': None, 'userErrors': errors}
        changes = []
        for lv, qty in plan:
            for x in lv['quantities']:
                if x['name'] == 'available':
                    changes.append({'name': 'available', 'delta': qty - x['quantity'],
                                    'quantityAfterChange': qty})
                    x['quantity'] = qty
        w.fulfillment_seq += 1
        self.dump()
        return {'inventoryAdjustmentGroup': {
            'id': 'gid://shopify/InventoryAdjustmentGroup/%d'
                  % (7700000000000 + w.fulfillment_seq),
            'reason': inp.get('reason'), 'changes': changes}, 'userErrors': []}

    def dump(self):
        st = self.server.state
        if not st.opts.dump:
            return
        w = st.world
        out = {'fulfillments': {o['id']: o['fulfillments'] for o in w.orders},
               'levels': {k: {lv['location']['id']: [x['quantity'] for x in lv['quantities']
                                                      if x['name'] == 'available'][0]
                              for lv in v} for k, v in w.items.items()}}
        with open(st.opts.dump + '.tmp', 'w') as f:
            json.dump(out, f, sort_keys=True)
        import os
        os.rename(st.opts.dump + '.tmp', st.opts.dump)

    def start_bulk(self, text):
        st = self.server.state
        b = st.bulk
        if b is not None and b['status'] in ('CREATED', 'RUNNING'):
            return {'bulkOperation': None,
                    'userErrors': [{'field': ['query'], 'message':
                                    'A bulk query operation for this app and shop is '
                                    'already in progress: %s.' % b['id']}]}
        st.bulk_seq += 1
        _, _, sel = Parser(text).document()
        st.bulk = {'seq': st.bulk_seq, 'sel': sel, 'polls': 0, 'status': 'CREATED',
                   'id': 'gid://shopify/BulkOperation/40391841%05d' % st.bulk_seq,
                   'createdAt': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}
        return {'bulkOperation': {'id': st.bulk['id'], 'status': 'CREATED'},
                'userErrors': []}

    def poll_bulk(self):
        st = self.server.state
        b = st.bulk
        if b is None:
            return None
        b['polls'] += 1
        if b['status'] in ('CREATED', 'RUNNING'):
            if b['polls'] >= st.opts.bulk_polls:
                if st.opts.bulk_fail:
                    b.update(status='FAILED', errorCode='INTERNAL_SERVER_ERROR')
                else:
                    self.run_bulk(b)
            else:
                b['status'] = 'RUNNING'
        host, port = self.server.server_address[:2]
        return {'id': b['id'], 'status': b['status'], 'errorCode': b.get('errorCode'),
                'createdAt': b['createdAt'], 'completedAt': b.get('completedAt'),
                'objectCount': str(b.get('objectCount', 0)),
                'rootObjectCount': str(b.get('rootObjectCount', 0)),
                'fileSize': str(len(b.get('jsonl', b''))) if 'jsonl' in b else None,
                'url': ('%s://127.0.0.1:%d/bulk/%d.jsonl'
                        % ('https' if st.opts.cert else 'http', port, b['seq'])
                        if 'jsonl' in b else None),
                'partialDataUrl': None}

    def run_bulk(self, b):
        """The JSONL: a root node a line without its connections, each
        connection's nodes as their own lines with __parentId, written
        after their parent but only after the next parent's line."""
        st = self.server.state
        w = st.world
        (root,) = b['sel']
        a = root['args']
        nodes = {'orders': w.orders, 'products': w.products}[root['name']]
        terms = search(argval(a.get('query'), {}))
        chosen = sorted((n for n in nodes if matches(n, terms, SEARCH_FIELDS)),
                        key=lambda n: gid_num(n['id']))
        node_sel = None
        for g in root['sel']:
            if g['name'] == 'edges':
                node_sel = [h for h in g['sel'] if h['name'] == 'node'][0]['sel']
            elif g['name'] == 'nodes':
                node_sel = g['sel']
        lines, pending, count = [], [], 0
        for n in chosen:
            parent = {}
            children = []
            for f in node_sel:
                if f['sel'] is not None and f['name'] != '...' and isinstance(
                        n.get(f['name']), dict) and ('nodes' in n[f['name']] or 'edges' in n[f['name']]):
                    inner = [h for h in f['sel'] if h['name'] == 'edges']
                    csel = ([h for h in inner[0]['sel'] if h['name'] == 'node'][0]['sel']
                            if inner else [h for h in f['sel'] if h['name'] == 'nodes'][0]['sel'])
                    conn = n[f['name']]
                    kids = (conn['nodes'] if 'nodes' in conn
                            else [e['node'] for e in conn['edges']])
                    for c in kids:
                        cp = project(c, csel, {})
                        cp['__parentId'] = n['id']
                        children.append(cp)
                else:
                    parent.update(project(n, [f], {}))
            lines.append(parent)
            lines.extend(pending)
            pending = children
            count += 1 + len(children)
        lines.extend(pending)
        b['jsonl'] = ''.join(json.dumps(x, separators=(',', ':')) + '\n'
                             for x in lines).encode()
        b.update(status='COMPLETED', objectCount=count, rootObjectCount=len(chosen),
                 completedAt=time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime()))


def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--world', action='append', required=True)
    p.add_argument('--currency')
    p.add_argument('--port-file', required=True)
    p.add_argument('--log')
    p.add_argument('--cert')
    p.add_argument('--key')
    p.add_argument('--token-env', default='SHOPIFY_DOUBLE_TOKEN')
    p.add_argument('--max-available', type=float, default=1000)
    p.add_argument('--restore-rate', type=float, default=100)
    p.add_argument('--no-throttle-status', action='store_true')
    p.add_argument('--faults')
    p.add_argument('--fault-rate', type=float, default=0)
    p.add_argument('--fault-kinds', default='500,502,503,429,slow,drop,reset,throttle')
    p.add_argument('--fault-bulk-download', action='store_true')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--slow', type=float, default=3)
    p.add_argument('--retry-after', default='1.0')
    p.add_argument('--deny-scope')
    p.add_argument('--bulk-polls', type=int, default=3)
    p.add_argument('--bulk-fail', action='store_true')
    p.add_argument('--dump')
    opts = p.parse_args()
    import os
    opts.token = os.environ.get(opts.token_env, 'shpat_double')
    srv = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    srv.daemon_threads = True
    srv.state = State(opts)
    if opts.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(opts.cert, opts.key)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    with open(opts.port_file + '.tmp', 'w') as f:
        f.write('%d\n' % srv.server_address[1])
    os.rename(opts.port_file + '.tmp', opts.port_file)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == '__main__':
    sys.exit(main())
