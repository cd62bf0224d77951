# See LICENSE file for copyright and license details.
# Loaded by every Bats file: the assertion libraries, where the programs
# are, and a few helpers.

bats_require_minimum_version 1.5.0
bats_load_library bats-support
bats_load_library bats-assert
bats_load_library bats-file

# make test sets TILLROLL_BIN (bin/ or bin-asan/); default to the build tree.
BIN=${TILLROLL_BIN:-$BATS_TEST_DIRNAME/../bin}
TOP=$(cd "$BATS_TEST_DIRNAME/.." && pwd)
FIXTURES=${TILLROLL_FIXTURES:-$TOP/../shared/fixtures/shopify}
DATA=$BATS_TEST_DIRNAME
export LC_ALL=C

# in_minus_out STATSFILE: the ledger of a stats object must balance.
assert_ledger() {
	run jq -e '.in + .split == .out + .rejected + .dropped' "$1"
	assert_success
}

# wrap SELECTOR KIND FILE: REST or GraphQL payloads as raw envelopes.
wrap() {
	jq -c --arg k "$2" "$1 | {kind: \$k, shop: \"demo\", data: .}" "$3"
}
