# tillroll: one non-recursive GNU makefile.
#
#   make                 build every program into bin/
#   make test            run the Bats suite against bin/
#   make asan            build with ASan+UBSan into build-asan/ and bin-asan/
#   make test-asan       run the whole suite against bin-asan/
#   make bench           speed and memory of each stage against its baselines
#                        (BENCH_ORDERS=1000000 for a million orders)
#   make deps            install the Debian packages the build and tests need
#   make install PREFIX=/usr/local DESTDIR=
#   make uninstall, make clean, make format, make samples

VERSION = 0.1.0
PREFIX = /usr/local
DESTDIR =

BUILD = build
BIN = bin
SAN =

CC = gcc
CPPFLAGS = -D_DEFAULT_SOURCE -DTILLROLL_VERSION='"$(VERSION)"' -Isrc/lib
CFLAGS = -std=c11 -O2 -g -Wall -Wextra -Wpedantic -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wformat=2 -Wvla \
	-Wwrite-strings -Werror -MMD -MP $(SAN)
LDFLAGS = $(SAN)
LDLIBS = -ljq -lcsv -lz $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)

# Every src/<program>.c is a program with its manual page src/<program>.1.
PROGS = $(notdir $(basename $(wildcard src/*.c)))
MAN1 = $(PROGS:%=src/%.1) src/tillroll.1
MAN5 = src/tillroll-records.5
PIPELINES = daily replay fleet report stock-sync passthrough lib.sh

LIBSRC = $(wildcard src/lib/*.c)
LIBOBJ = $(LIBSRC:src/lib/%.c=$(BUILD)/lib/%.o)
LIBA = $(BUILD)/libtillroll.a

all: $(PROGS:%=$(BIN)/%) $(BIN)/tillroll

$(BUILD)/lib/%.o: src/lib/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/%.o: src/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIBA): $(LIBOBJ)
	rm -f $@
	ar rcs $@ $(LIBOBJ)

$(BIN)/%: $(BUILD)/%.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# The tillroll command dispatches to the programs; in the build tree it
# finds them beside itself.
$(BIN)/tillroll: src/tillroll.sh
	@mkdir -p $(@D)
	sed -e 's|@LIBEXEC@||' -e 's|@VERSION@|$(VERSION)|' src/tillroll.sh >$@
	chmod 755 $@

# The library's own checks, driven by tests/lib.bats.
$(BIN)/lib-check: $(BUILD)/tests/lib-check.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

$(BUILD)/tests/%.o: tests/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# The floor of every filter's speed, for make bench.
$(BIN)/parse-only: $(BUILD)/tests/bench/parse-only.o $(LIBA)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $< $(LIBA) $(LDLIBS)

# Speed and memory against their baselines, in one run (not part of test).
bench: all $(BIN)/parse-only
	TILLROLL_BIN=$(CURDIR)/$(BIN) tests/bench/run

# Bats prints TAP; tests/run counts it and ends with "N passed, N failed".
test: all $(BIN)/lib-check
	TILLROLL_BIN=$(CURDIR)/$(BIN) tests/run

asan:
	$(MAKE) BUILD=build-asan BIN=bin-asan all bin-asan/lib-check \
	    SAN='-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer'

test-asan: asan
	TILLROLL_BIN=$(CURDIR)/bin-asan \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp:print_suppressions=0 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    tests/run

# The day's job on the committed sample day: the whole pipeline, with the
# extract taken from the sample file and the Odoo side in --dry-run, so
# that no network is needed.
demo: all
	@rm -rf demo
	TILLROLL_BIN=$(CURDIR)/$(BIN) pipelines/daily --config samples/demo.json \
	    --date 2026-11-26 --root demo \
	    --extract-file samples/day/00-extract.ndjson --dry-run; \
	    status=$$?; \
	    echo "the day's folder: demo/demo/2026-11-26/"; \
	    echo "the report: demo/demo/2026-11-26/report.html"; \
	    exit $$status

# The sample day and what normalize makes of it; committed, and checked by
# the tests to stay byte-identical.
samples: all
	@mkdir -p samples/day
	$(BIN)/gen-day --seed 20261126 --orders 40 --date 2026-11-26 \
	    --shop demo --facts samples/day/facts.ndjson \
	    --paypal-srf samples/settlement/STL-20261127.01.009.CSV \
	    >samples/day/00-extract.ndjson
	cd samples/day && ../../$(BIN)/normalize --stats /dev/null \
	    00-extract.ndjson >10-normalize.expected.ndjson

# Build: the compiler and the four libraries.  Tests and jobs: Bats and
# its helpers, jq, python3 (the test doubles), GNU parallel, curl and
# openssl (talking to the doubles), man-db and groff (the manual pages are
# rendered in a test), GNU time and column (make bench).
DEBS = build-essential pkg-config libjq-dev libcsv-dev zlib1g-dev libcurl4-openssl-dev \
	bats bats-assert bats-support bats-file parallel jq python3 \
	ca-certificates curl openssl man-db groff-base time bsdextrautils

deps:
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $(DEBS)

install: all
	mkdir -p $(DESTDIR)$(PREFIX)/libexec/tillroll $(DESTDIR)$(PREFIX)/bin \
	    $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5
	cp $(PROGS:%=$(BIN)/%) $(DESTDIR)$(PREFIX)/libexec/tillroll/
	mkdir -p $(DESTDIR)$(PREFIX)/libexec/tillroll/pipelines
	cp $(PIPELINES:%=pipelines/%) $(DESTDIR)$(PREFIX)/libexec/tillroll/pipelines/
	sed -e 's|@LIBEXEC@|$(PREFIX)/libexec/tillroll|' -e 's|@VERSION@|$(VERSION)|' \
	    src/tillroll.sh >$(DESTDIR)$(PREFIX)/bin/tillroll
	chmod 755 $(DESTDIR)$(PREFIX)/bin/tillroll
	cp $(MAN1) $(DESTDIR)$(PREFIX)/share/man/man1/
	cp $(MAN5) $(DESTDIR)$(PREFIX)/share/man/man5/

uninstall:
	rm -f $(PROGS:%=$(DESTDIR)$(PREFIX)/libexec/tillroll/%)
	rm -f $(PIPELINES:%=$(DESTDIR)$(PREFIX)/libexec/tillroll/pipelines/%)
	-rmdir $(DESTDIR)$(PREFIX)/libexec/tillroll/pipelines
	-rmdir $(DESTDIR)$(PREFIX)/libexec/tillroll
	rm -f $(DESTDIR)$(PREFIX)/bin/tillroll
	rm -f $(MAN1:src/%=$(DESTDIR)$(PREFIX)/share/man/man1/%)
	rm -f $(MAN5:src/%=$(DESTDIR)$(PREFIX)/share/man/man5/%)

format:
	clang-format -i src/*.c src/lib/*.c src/lib/*.h

clean:
	rm -rf build bin build-asan bin-asan tests/out demo

.PHONY: all test asan test-asan bench demo samples deps install uninstall format clean
.SECONDARY:

-include $(wildcard $(BUILD)/*.d $(BUILD)/lib/*.d $(BUILD)/tests/*.d $(BUILD)/tests/bench/*.d)
