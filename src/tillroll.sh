#!/bin/sh
# See LICENSE file for copyright and license details.
# tillroll: run one of the tillroll programs by name.
libexec='@LIBEXEC@'
[ -n "$libexec" ] || libexec=$(dirname "$0")
version='@VERSION@'

usage() {
	cat <<USAGE
usage: tillroll PROGRAM [ARG ...]
       tillroll --help | --version
Programs:
USAGE
	for p in "$libexec"/*; do
		[ -x "$p" ] && [ ! -d "$p" ] || continue
		case "${p##*/}" in tillroll|lib-check) continue ;; esac
		echo "  ${p##*/}"
	done
	echo "Jobs: daily, replay, fleet, report, stock-sync (see tillroll(1))."
	echo "Each program has its own --help and manual page."
}

case "${1-}" in
-h|--help|help)
	usage
	exit 0
	;;
--version)
	echo "tillroll $version"
	exit 0
	;;
'')
	usage >&2
	exit 64
	;;
esac
prog=$1
shift
# "tillroll diff" is recdiff: a program called diff would shadow diff(1).
[ "$prog" = diff ] && prog=recdiff
case "$prog" in
*/*|.*)
	echo "tillroll: '$prog' is not a tillroll program" >&2
	exit 64
	;;
esac
# The jobs (daily, replay, fleet, report) live in pipelines/.
for dir in "$libexec/pipelines" "$libexec/../pipelines"; do
	case "$prog" in daily|replay|fleet|report|stock-sync) ;; *) break ;; esac
	[ -x "$dir/$prog" ] && exec "$dir/$prog" "$@"
done
if [ ! -x "$libexec/$prog" ] || [ -d "$libexec/$prog" ] ||
    [ "$prog" = tillroll ] || [ "$prog" = lib-check ]; then
	echo "tillroll: '$prog' is not a tillroll program (see tillroll --help)" >&2
	exit 64
fi
exec "$libexec/$prog" "$@"
