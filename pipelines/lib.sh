# See LICENSE file for copyright and license details.
# Shared by pipelines/daily and pipelines/replay: running one stage into
# the day's archive so that a kill at any moment leaves either the stage's
# complete output or nothing, and a rerun picks up where it stopped.
#
# Every stage writes <out>, rejects/<stage>.ndjson and stats/<stage>.json
# under temporary names and renames them when the stage has finished; the
# output is renamed last, so its presence means the stage is complete.
# Stage outcomes are kept in .stages/<stage> ("status start end") for
# run.json.

# The programs: TILLROLL_BIN, else where an installed tillroll keeps them,
# else the build tree's bin/.
pipeline_bin() {
	if [ -n "${TILLROLL_BIN-}" ]; then
		echo "$TILLROLL_BIN"
	elif [ -x "$here/../normalize" ]; then
		# Installed: <prefix>/libexec/tillroll/pipelines/daily.
		(cd "$here/.." && pwd)
	else
		(cd "$here/../bin" && pwd)
	fi
}

say() {
	printf '%s: %s\n' "$prog" "$*" >&2
}

die() {
	local status=$1
	shift
	say "$@"
	exit "$status"
}

# now: seconds since the epoch with milliseconds, for run.json.
now() {
	date +%s.%3N
}

# The rank of an exit status, for the worst of a run: 0 best, data errors
# (65, already in the rejects) next, anything operational worst.
rank() {
	case "$1" in
	0) echo 0 ;;
	65) echo 1 ;;
	*) echo 2 ;;
	esac
}

# worse A B: the graver of two statuses.
worse() {
	if [ "$(rank "$2")" -gt "$(rank "$1")" ]; then echo "$2"; else echo "$1"; fi
}

# stage_done NAME OUT: true when the stage's output is already in place.
stage_done() {
	[ -e "$day/$2" ]
}

# run_stage NAME OUT INPUT... -- COMMAND...: run COMMAND with --rejects
# and --stats added, reading the INPUT files (gzip or not) on its stdin,
# writing OUT (gzip, no name or time in the header, so the bytes depend
# on the records alone).  Returns the command's status; an output is kept
# when the status is 0 or 65 (records rejected, the rest fine).
run_stage() {
	local name=$1 out=$2 inputs=() rc gz start
	shift 2
	while [ "$1" != -- ]; do
		inputs+=("$1")
		shift
	done
	shift
	if stage_done "$name" "$out"; then
		say "stage '$name' is complete already, not run again"
		return 0
	fi
	mkdir -p "$day/rejects" "$day/stats" "$day/.stages"
	rm -f "$day/.$name".*
	start=$(now)
	# A program that rejects nothing takes no --rejects (NO_REJECTS=1).
	local rejects=(--rejects "$day/.$name.rejects")
	if [ -n "${NO_REJECTS-}" ]; then
		rejects=()
		: >"$day/.$name.rejects"
	fi
	# The caller (stage) runs this with errexit off: every status here
	# is looked at.
	if [ ${#inputs[@]} -gt 0 ]; then
		gzip -dcf -- "${inputs[@]}"
	else
		: </dev/null
	fi | (cd "$day" && exec "$@" "${rejects[@]}" \
	    --stats "$day/.$name.stats") | gzip -n -6 >"$day/.$name.out"
	local statuses=("${PIPESTATUS[@]}")
	rc=${statuses[1]}
	gz=${statuses[2]}
	# A program killed by a signal has no sysexits status: it is an
	# internal error.
	if [ "$rc" -gt 128 ]; then
		say "stage '$name': '$(basename "$1")' died of signal $((rc - 128))"
		rc=70
	fi
	[ "${statuses[0]}" -eq 0 ] || rc=$(worse "$rc" 74)
	[ "$gz" -eq 0 ] || rc=$(worse "$rc" 74)
	echo "$rc $start $(now)" >"$day/.stages/$name"
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 65 ]; then
		rm -f "$day/.$name".*
		return "$rc"
	fi
	# Times belong to run.json: the stats kept are the counts, so that
	# the archive of a replay is byte-identical to the first run's.
	jq -cS 'del(.wall_ms)' "$day/.$name.stats" >"$day/.$name.counts" &&
	    mv -f "$day/.$name.rejects" "$day/rejects/$name.ndjson" &&
	    mv -f "$day/.$name.counts" "$day/stats/$name.json" &&
	    rm -f "$day/.$name.stats" &&
	    mv -f "$day/.$name.out" "$day/$out" || return 74
	return "$rc"
}

# write_manifest: MANIFEST in sha256sum format over every file of the day,
# so that `sha256sum -c MANIFEST` verifies it.
write_manifest() {
	(cd "$day" && find . -type f ! -name MANIFEST ! -path './.*' \
	    ! -path './replay/*' ! -path './reprocessed/*' -printf '%P\n' | LC_ALL=C sort |
	    while IFS= read -r f; do sha256sum -- "$f"; done) >"$day/.MANIFEST.tmp"
	mv -f "$day/.MANIFEST.tmp" "$day/MANIFEST"
}

# file_sha FILE: the SHA-256 of a file, or null when there is none.
file_sha() {
	if [ -f "$1" ]; then
		sha256sum <"$1" | cut -d' ' -f1
	else
		echo null
	fi
}

# --- the day's configuration and stages, shared by daily and replay -----

# load_config FILE: read the shop's config into shop, tz, tax_map, inbox,
# pii, confdir, config (absolute).
load_config() {
	[ -r "$1" ] || die 66 "cannot read '$1'"
	confdir=$(cd "$(dirname "$1")" && pwd)
	config=$confdir/$(basename "$1")
	jq -e 'type == "object"' "$config" >/dev/null 2>&1 ||
	    die 78 "'$config' is not a JSON object"
	shop=$(jq -r '.shop // empty' "$config")
	[[ "$shop" =~ ^[A-Za-z0-9._-]+$ ]] ||
	    die 78 "'$config': 'shop' is missing or not a shop handle"
	tz=$(jq -r '.time_zone // "UTC"' "$config")
	[ -e "/usr/share/zoneinfo/$tz" ] || die 78 "'$config': time zone '$tz' is unknown"
	tax_map=$(config_path "$(jq -r '.tax_map // "tax-map.json"' "$config")")
	inbox=$(jq -r '.inbox // empty' "$config")
	[ -z "$inbox" ] || inbox=$(config_path "$inbox")
	pii=$(jq -r '.pii // "keep"' "$config")
}

config_path() {
	case "$1" in /*) echo "$1" ;; *) echo "$confdir/$1" ;; esac
}

# step NAME STATUS: fold a stage's status into the run's.
step() {
	local name=$1 rc=$2
	if [ "$rc" -eq 65 ]; then
		say "stage '$name' rejected records: see $day/rejects/$name.ndjson"
	elif [ "$rc" -ne 0 ]; then
		say "stage '$name' failed with status $rc"
		failed_stage=$name
	fi
	status=$(worse "$status" "$rc")
}

# stage NAME OUT INPUT... -- COMMAND...: run_stage, folded into the run.
stage() {
	local name=$1 rc
	set +e
	run_stage "$@"
	rc=$?
	set -e
	step "$name" "$rc"
}

STAGES="extract settlement normalize enrich-tax match-settlement odoo-load
odoo-extract normalize-back shopify-load"

# The way back (odoo-extract, normalize-back, shopify-load) reads what the
# warehouse shipped in Odoo and writes it to Shopify; a --dry-run day,
# which loads nothing into Odoo, has none.
BACK_STAGES="odoo-extract normalize-back shopify-load"

# stage_output NAME: the file a stage leaves in the day.
stage_output() {
	case "$1" in
	extract) echo 00-extract.ndjson.gz ;;
	settlement) echo 01-settlement.ndjson.gz ;;
	normalize) echo 10-normalize.ndjson.gz ;;
	enrich-tax) echo 20-enrich-tax.ndjson.gz ;;
	match-settlement) echo 30-match-settlement.ndjson.gz ;;
	odoo-load) echo 40-odoo-load.ndjson.gz ;;
	odoo-extract) echo 50-odoo-extract.ndjson.gz ;;
	normalize-back) echo 60-normalize-back.ndjson.gz ;;
	shopify-load) echo 70-shopify-load.ndjson.gz ;;
	*) return 1 ;;
	esac
}

# stage_input NAME: the file(s) a stage reads from the day.
stage_input() {
	case "$1" in
	normalize) echo "$day/00-extract.ndjson.gz $day/01-settlement.ndjson.gz" ;;
	enrich-tax) echo "$day/10-normalize.ndjson.gz" ;;
	match-settlement) echo "$day/20-enrich-tax.ndjson.gz" ;;
	odoo-load) echo "$day/30-match-settlement.ndjson.gz" ;;
	normalize-back) echo "$day/50-odoo-extract.ndjson.gz" ;;
	shopify-load) echo "$day/60-normalize-back.ndjson.gz" ;;
	esac
}

# run_from FIRST [INPUT]: run the stages from FIRST to the end, stopping
# at the first that fails.  INPUT, when given, replaces FIRST's usual
# input (replay of rejects).  Uses day, bin, config and the options.
run_from() {
	local first=$1 input=${2-} started= s in
	for s in $STAGES; do
		[ "$s" = "$first" ] && started=1
		[ -n "$started" ] || continue
		case " $BACK_STAGES " in
		*" $s "*) [ -z "${dry_run-}" ] || continue ;;
		esac
		in=$(stage_input "$s")
		if [ -n "$input" ] && [ "$s" = "$first" ]; then
			in=$input
		fi
		# shellcheck disable=SC2086
		case "$s" in
		extract) stage_extract ;;
		settlement) stage_settlement ;;
		normalize) stage normalize "$(stage_output normalize)" $in -- \
		    "$bin/normalize" --pii "$pii" ;;
		enrich-tax) stage enrich-tax "$(stage_output enrich-tax)" $in -- \
		    "$bin/enrich-tax" --map "$tax_map" ;;
		match-settlement) stage_match $in ;;
		odoo-load) stage_load $in ;;
		odoo-extract) stage_odoo_extract ;;
		normalize-back) stage normalize-back "$(stage_output normalize-back)" \
		    $in -- "$bin/normalize" --pii "$pii" ;;
		shopify-load) stage_shopify_load $in ;;
		esac
		[ -z "$failed_stage" ] || return 0
	done
}

# The extract writes its own file beside its state, checkpointed together
# (shopify-extract --output --state): a run killed half way resumes where
# the file was last committed, so neither is thrown away between tries.
stage_extract() {
	local rc start extra=()
	if [ -n "${extract_file-}" ]; then
		stage extract 00-extract.ndjson.gz "$extract_file" -- "$here/passthrough"
		return
	fi
	if stage_done extract 00-extract.ndjson.gz; then
		say "stage 'extract' is complete already, not run again"
		return
	fi
	[ -z "${cacert-}" ] || extra+=(--cacert "$cacert")
	mkdir -p "$day/rejects" "$day/stats" "$day/.stages"
	start=$(now)
	set +e
	"$bin/shopify-extract" --config "$config" --since "$since" --until "$until" \
	    --state "$day/.extract.state" --output "$day/.extract.ndjson" \
	    --stats "$day/.extract.stats" "${extra[@]}"
	rc=$?
	set -e
	if [ "$rc" -gt 128 ]; then
		say "stage 'extract': 'shopify-extract' died of signal $((rc - 128))"
		rc=70
	fi
	# The counts kept are those of the whole file: a resumed run's own
	# stats count only what it fetched after the kill.
	if [ "$rc" -eq 0 ]; then
		gzip -n -6 <"$day/.extract.ndjson" >"$day/.extract.out" &&
		    : >"$day/.extract.rejects" &&
		    jq -r .kind "$day/.extract.ndjson" | LC_ALL=C sort | uniq -c |
		    jq -cSR --slurpfile run "$day/.extract.stats" -s '
			[split("\n")[] | select(length > 0) | capture("^ *(?<n>[0-9]+) (?<k>.*)$")
			 | {key: .k, value: (.n | tonumber)}] | from_entries as $kinds
			| ($kinds | add // 0) as $n
			| $run[0] + {in: $n, out: $n, in_by_kind: $kinds, out_by_kind: $kinds,
			    rejected: 0, dropped: 0, split: 0, passed: 0}
			| del(.wall_ms)' >"$day/stats/extract.json" &&
		    mv -f "$day/.extract.rejects" "$day/rejects/extract.ndjson" &&
		    mv -f "$day/.extract.out" "$day/00-extract.ndjson.gz" &&
		    rm -f "$day/.extract.ndjson" "$day/.extract.state" "$day/.extract.stats" ||
		    rc=74
	fi
	echo "$rc $start $(now)" >"$day/.stages/extract"
	step extract "$rc"
}

# The gateway files waiting in the inbox are copied into the day as
# received, then read.
stage_settlement() {
	local f files=()
	mkdir -p "$day/01-settlement-files"
	if [ -n "$inbox" ] && [ -d "$inbox" ] && ! stage_done settlement 01-settlement.ndjson.gz; then
		for f in "$inbox"/*; do
			[ -f "$f" ] || continue
			[ -e "$day/01-settlement-files/$(basename "$f")" ] && continue
			cp -p -- "$f" "$day/01-settlement-files/.$(basename "$f").tmp"
			mv -f "$day/01-settlement-files/.$(basename "$f").tmp" \
			    "$day/01-settlement-files/$(basename "$f")"
		done
	fi
	for f in "$day"/01-settlement-files/*; do
		[ -f "$f" ] && files+=("$f")
	done
	# Named from inside the day, so that the envelopes do not depend on
	# where the archive is.
	if [ ${#files[@]} -gt 0 ]; then
		stage settlement 01-settlement.ndjson.gz -- \
		    "$bin/settlement-extract" --shop "$shop" "${files[@]#"$day"/}"
	else
		stage settlement 01-settlement.ndjson.gz /dev/null -- "$here/passthrough"
	fi
}

# match-settlement keeps the shop's index of earlier days.  It tags what
# it adds with the day and reads only earlier days' entries, so a rerun of
# a day killed after the index was written gives the same records again;
# a replay reads it without writing (keep_index unset).
stage_match() {
	local opts=(--index "$shopdir/index" --date "$date")
	[ -n "${keep_index-}" ] || opts+=(--index-readonly)
	mkdir -p "$shopdir/index"
	stage match-settlement 30-match-settlement.ndjson.gz "$@" -- \
	    "$bin/match-settlement" "${opts[@]}"
}

stage_load() {
	local load=(--config "$config")
	[ -z "${dry_run-}" ] || load+=(--dry-run)
	[ -z "${cacert-}" ] || load+=(--cacert "$cacert")
	stage odoo-load 40-odoo-load.ndjson.gz "$@" -- "$bin/odoo-load" "${load[@]}"
}

# The deliveries Odoo marked done in the day's window.
# (stock-sync sets odoo_resources=stock: a snapshot, with no window.)
stage_odoo_extract() {
	local extra=()
	[ -z "${cacert-}" ] || extra+=(--cacert "$cacert")
	if [ "${odoo_resources:-pickings}" = pickings ]; then
		extra+=(--since "$since" --until "$until")
	fi
	NO_REJECTS=1 stage odoo-extract 50-odoo-extract.ndjson.gz -- \
	    "$bin/odoo-extract" --config "$config" \
	    --resources "${odoo_resources:-pickings}" "${extra[@]}"
}

stage_shopify_load() {
	local extra=()
	[ -z "${cacert-}" ] || extra+=(--cacert "$cacert")
	[ -z "${dry_run-}" ] || extra+=(--dry-run)
	stage shopify-load 70-shopify-load.ndjson.gz "$@" -- \
	    "$bin/shopify-load" --config "$config" "${extra[@]}"
}

# write_run_json: run.json for the day (or replay folder) in $day.
write_run_json() {
	local stages='{}' versions='{}' f p rc start end
	for f in "$day"/.stages/*; do
		[ -e "$f" ] || continue
		read -r rc start end <"$f"
		stages=$(jq -c --arg n "$(basename "$f")" --argjson rc "$rc" \
		    --argjson s "$start" --argjson e "$end" \
		    '.[$n] = {status: $rc, start: $s, end: $e}' <<<"$stages")
	done
	for p in shopify-extract settlement-extract normalize enrich-tax \
	    match-settlement odoo-load odoo-extract shopify-load; do
		[ -x "$bin/$p" ] || continue
		versions=$(jq -c --arg p "$p" \
		    --arg v "$("$bin/$p" --version 2>/dev/null | head -1)" \
		    '.[$p] = $v' <<<"$versions")
	done
	jq -n --arg shop "$shop" --arg date "$date" --arg tz "$tz" \
	    --arg since "${since-}" --arg until "${until-}" \
	    --arg config "$config" --arg config_sha "$(file_sha "$config")" \
	    --arg map "$tax_map" --arg map_sha "$(file_sha "$tax_map")" \
	    --argjson args "$(printf '%s\n' "${args[@]}" | jq -R . | jq -sc .)" \
	    --argjson versions "$versions" --argjson stages "$stages" \
	    --argjson status "$status" --arg failed "$failed_stage" \
	    --argjson start "$run_start" --argjson finish "$(now)" \
	    --argjson dry "${dry_run:-0}" \
	    --slurpfile prev <(cat "$day/run.json" 2>/dev/null || echo '{}') \
	    '{shop: $shop, date: $date, time_zone: $tz,
	      window: {since: $since, until: $until},
	      config: {path: $config, sha256: $config_sha},
	      tax_map: {path: $map, sha256: $map_sha},
	      arguments: $args, dry_run: ($dry == 1), versions: $versions,
	      stages: $stages, status: $status,
	      failed_stage: (if $failed == "" then null else $failed end),
	      start: $start, "end": $finish, replays: ($prev[0].replays // [])}' \
	    >"$day/.run.json.tmp"
	mv -f "$day/.run.json.tmp" "$day/run.json"
}
