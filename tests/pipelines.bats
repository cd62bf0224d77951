#!/usr/bin/env bats
# See LICENSE file for copyright and license details.
# pipelines/daily, replay and report, end to end on the sample day.

load test_helper

setup() {
	export TILLROLL_BIN=$BIN
	ROOT=$BATS_TEST_TMPDIR/archive
	DAY=$ROOT/demo/2026-11-26
	P=$TOP/pipelines
}

# day [ARGS...]: the sample day, offline: the extract from the sample
# file, the Odoo side in --dry-run.
day() {
	"$P/daily" --config "$TOP/samples/demo.json" --date 2026-11-26 \
	    --root "$ROOT" --extract-file "$TOP/samples/day/00-extract.ndjson" \
	    --dry-run "$@"
}

# same_days A B: the two day folders hold the same files with the same
# bytes, but for the records of the run itself.
same_days() {
	diff -r -x run.json -x metrics.prom -x MANIFEST -x '.*' -x replay \
	    -x reprocessed "$1" "$2"
}

@test "a day runs and leaves every file of DESIGN section 4" {
	run --separate-stderr day
	assert_success
	for f in 00-extract.ndjson.gz 01-settlement-files 10-normalize.ndjson.gz \
	    20-enrich-tax.ndjson.gz 30-match-settlement.ndjson.gz \
	    40-odoo-load.ndjson.gz MANIFEST run.json report.html \
	    exceptions.csv metrics.prom; do
		assert_exists "$DAY/$f"
	done
	for s in extract settlement normalize enrich-tax match-settlement odoo-load; do
		assert_file_exists "$DAY/rejects/$s.ndjson"
		assert_file_exists "$DAY/stats/$s.json"
		jq -e '.in + .split == .out + .rejected + .dropped' "$DAY/stats/$s.json"
	done
	# The PayPal report waiting in the inbox was kept as received.
	cmp "$DAY/01-settlement-files/STL-20261127.01.009.CSV" \
	    "$TOP/samples/settlement/STL-20261127.01.009.CSV"
	jq -e '.status == 0 and .failed_stage == null and .dry_run
	    and (.stages | keys | length) == 6 and .config.sha256 != null' "$DAY/run.json"
	# No temporary file is left behind.
	run find "$DAY" -name '.*.tmp' -o -name '.*.out'
	assert_output ""
}

@test "the MANIFEST verifies the day, and a tampered file fails it" {
	day
	(cd "$DAY" && sha256sum --quiet -c MANIFEST)
	gzip -dc "$DAY/10-normalize.ndjson.gz" | sed 's/"1581.26"/"1581.27"/' |
	    gzip -n >"$DAY/10-normalize.ndjson.gz.new"
	mv "$DAY/10-normalize.ndjson.gz.new" "$DAY/10-normalize.ndjson.gz"
	run sh -c "cd '$DAY' && sha256sum --quiet -c MANIFEST"
	assert_failure
	assert_output --partial "10-normalize.ndjson.gz: FAILED"
}

@test "the report, exceptions and metrics say what the day holds" {
	day
	# The report is one well-formed, self-contained HTML file.
	python3 - "$DAY/report.html" <<'PY'
import sys
from html.parser import HTMLParser
VOID = {"meta", "br", "img", "rect", "link", "input", "hr"}
class Check(HTMLParser):
    def __init__(self):
        super().__init__()
        self.stack = []
    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value and "://" in value:
                sys.exit("refers to the network: %s=%s" % (name, value))
        if tag not in VOID:
            self.stack.append(tag)
    def handle_startendtag(self, tag, attrs):
        pass
    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack.pop() != tag:
            sys.exit("unbalanced </%s>" % tag)
c = Check()
c.feed(open(sys.argv[1], encoding="utf-8").read())
if c.stack:
    sys.exit("unclosed: %s" % c.stack)
PY
	grep -q '<svg' "$DAY/report.html"
	grep -q 'demo/payout/1194260000001' "$DAY/report.html"
	# One CSV row per exception, with its header.
	head -1 "$DAY/exceptions.csv" | grep -qx '"kind","key","status","amount","currency","detail"'
	# As many rows as the archive holds exceptions, counted here apart.
	local expected
	expected=$(( $(gzip -dc "$DAY/30-match-settlement.ndjson.gz" | jq -s '
	    [.[] | select((.kind == "payout_recon" and .status != "balanced")
	        or (.kind == "settlement" and (.match.status | IN("matched", "not_applicable") | not)))]
	    | length') + $(gzip -dc "$DAY/20-enrich-tax.ndjson.gz" | jq -s '
	    [.[] | select(.tax and .tax.status != "exact")] | length') + $(cat "$DAY"/rejects/*.ndjson | wc -l) ))
	[ "$(($(wc -l <"$DAY/exceptions.csv") - 1))" -eq "$expected" ]
	# Prometheus textfile: every sample line is "name{labels} value".
	run grep -Ev '^(# (HELP|TYPE) .*|[a-z_]+\{[^}]*\} [-0-9.e+]+)$' "$DAY/metrics.prom"
	assert_output ""
	grep -q '^tillroll_unbalanced_payouts{shop="demo",date="2026-11-26"} ' "$DAY/metrics.prom"
	grep -q '^tillroll_last_success_timestamp_seconds' "$DAY/metrics.prom"
	grep -q 'stage="normalize",direction="in"} 101$' "$DAY/metrics.prom"
}

@test "a second run of the same day while one runs is refused" {
	mkdir -p "$DAY"
	flock "$DAY/.lock" sleep 5 3>&- &
	local holder=$!
	sleep 0.3
	run --separate-stderr day
	kill "$holder" 2>/dev/null || true
	assert_failure 75
	[[ "$stderr" == *"'$DAY' is being written by another run; try again when it ends"* ]]
}

@test "a rerun of a complete day runs nothing again and changes nothing" {
	day
	cp -a "$DAY" "$BATS_TEST_TMPDIR/first"
	run --separate-stderr day
	assert_success
	[[ "$stderr" == *"stage 'normalize' is complete already, not run again"* ]]
	same_days "$BATS_TEST_TMPDIR/first" "$DAY"
}

# A stage killed with SIGKILL at any moment leaves either its complete
# output or nothing; the rerun resumes there and ends with the same
# files as a run that was never interrupted.
@test "killed (kill -9) during each stage and rerun, a day ends as if never killed" {
	"$P/daily" --config "$TOP/samples/demo.json" --date 2026-11-26 \
	    --root "$BATS_TEST_TMPDIR/clean" \
	    --extract-file "$TOP/samples/day/00-extract.ndjson" --dry-run 2>/dev/null
	local slow=$BATS_TEST_TMPDIR/slowbin
	mkdir -p "$slow"
	for p in "$BIN"/*; do
		cat >"$slow/$(basename "$p")" <<W
#!/bin/sh
# Slow the stage under test down, so that the kill lands inside it.
[ "\$SLOW_STAGE" = "$(basename "$p")" ] && sleep 30
exec "$p" "\$@"
W
		chmod +x "$slow/$(basename "$p")"
	done
	for stage in settlement-extract normalize enrich-tax match-settlement odoo-load; do
		rm -rf "$ROOT"
		TILLROLL_BIN=$slow SLOW_STAGE=$stage setsid "$P/daily" \
		    --config "$TOP/samples/demo.json" --date 2026-11-26 --root "$ROOT" \
		    --extract-file "$TOP/samples/day/00-extract.ndjson" --dry-run \
		    >/dev/null 2>&1 3>&- &
		local pid=$! tries=0
		# Wait until the stage has begun writing.
		until compgen -G "$DAY/.*.out" >/dev/null; do
			sleep 0.1
			tries=$((tries + 1))
			[ "$tries" -lt 100 ] || fail "stage $stage never started"
		done
		sleep 0.3
		kill -9 -- "-$pid"
		wait "$pid" || true
		TILLROLL_BIN=$BIN run --separate-stderr day
		assert_success
		same_days "$BATS_TEST_TMPDIR/clean/demo/2026-11-26" "$DAY" ||
		    fail "killed in $stage: the rerun differs from a clean run"
		(cd "$DAY" && sha256sum --quiet -c MANIFEST)
	done
}

@test "a replay from any stage gives byte-identical files" {
	day
	for s in normalize enrich-tax match-settlement odoo-load; do
		run --separate-stderr "$P/replay" "$DAY" --from "$s" \
		    --into "$BATS_TEST_TMPDIR/replay-$s" --dry-run
		assert_success
		same_days "$DAY" "$BATS_TEST_TMPDIR/replay-$s" ||
		    fail "replay from $s differs"
		run "$BIN/tillroll" diff "$DAY/30-match-settlement.ndjson.gz" \
		    "$BATS_TEST_TMPDIR/replay-$s/30-match-settlement.ndjson.gz"
		assert_success
	done
	# A replay changed neither the day nor the shop's index.
	(cd "$DAY" && sha256sum --quiet -c MANIFEST)
}

@test "replay refuses what it cannot do" {
	day
	run --separate-stderr "$P/replay" "$DAY" --from nowhere
	assert_failure 64
	[[ "$stderr" == *"'nowhere' is not a stage"* ]]
	run --separate-stderr "$P/replay" "$BATS_TEST_TMPDIR" --from normalize
	assert_failure 66
	run --separate-stderr "$P/replay" "$DAY" --rejects normalize
	assert_failure 66
	[[ "$stderr" == *"has no rejects"* ]]
}

@test "rejects, once their cause is fixed, are reprocessed and recorded" {
	# A tax map without the 6% rate: the day's book orders are rejected.
	jq '.rules |= map(select(.rate != "0.06"))' \
	    "$TOP/samples/tax-map.json" >"$BATS_TEST_TMPDIR/map-short.json"
	! cmp -s "$BATS_TEST_TMPDIR/map-short.json" "$TOP/samples/tax-map.json"
	jq --arg m "$BATS_TEST_TMPDIR/map-short.json" '.tax_map = $m | .inbox = null' \
	    "$TOP/samples/demo.json" >"$BATS_TEST_TMPDIR/demo.json"
	run --separate-stderr "$P/daily" --config "$BATS_TEST_TMPDIR/demo.json" \
	    --date 2026-11-26 --root "$ROOT" \
	    --extract-file "$TOP/samples/day/00-extract.ndjson" --dry-run
	assert_failure 65
	local n
	n=$(wc -l <"$DAY/rejects/enrich-tax.ndjson")
	[ "$n" -gt 0 ]
	# The map is fixed; the rejects go through the rest of the pipeline.
	cp "$TOP/samples/tax-map.json" "$BATS_TEST_TMPDIR/map-short.json"
	run --separate-stderr "$P/replay" "$DAY" --rejects enrich-tax --dry-run
	assert_success
	jq -e --argjson n "$n" '.replays | length == 1 and .[0].mode == "rejects"
	    and .[0].stage == "enrich-tax" and .[0].records == $n
	    and .[0].status == 0 and .[0].tax_map_sha256 != null' "$DAY/run.json"
	local into
	into=$DAY/$(jq -r '.replays[0].into' "$DAY/run.json")
	[ "$(gzip -dc "$into/20-enrich-tax.ndjson.gz" | jq -s 'map(select(.kind == "order")) | length')" -gt 0 ]
	run jq -s length "$into/rejects/enrich-tax.ndjson"
	assert_output 0
	(cd "$DAY" && sha256sum --quiet -c MANIFEST)
}

@test "bad usage and a bad config are refused with their status" {
	run "$P/daily" --date 2026-11-26
	assert_failure 64
	run --separate-stderr "$P/daily" --config "$TOP/samples/demo.json" --date 2026-13-45
	assert_failure 64
	[[ "$stderr" == *"'2026-13-45' is not a date"* ]]
	run --separate-stderr "$P/daily" --config "$BATS_TEST_TMPDIR/none.json" --date 2026-11-26
	assert_failure 66
	echo '{"shop": "a/b"}' >"$BATS_TEST_TMPDIR/bad.json"
	run --separate-stderr "$P/daily" --config "$BATS_TEST_TMPDIR/bad.json" --date 2026-11-26
	assert_failure 78
	[[ "$stderr" == *"'shop' is missing or not a shop handle"* ]]
	run "$P/daily" --help
	assert_success
}
