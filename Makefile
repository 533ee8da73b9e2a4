# gatewarden - one non-recursive GNU Makefile.
#
#   make            build build/gatewarden
#   make run        install missing packages, build, run on conf/gatewarden.json
#   make test       install what tests need, build, run every test
#   make bench      benchmarks (figures, not pass/fail)
#   make bench-compare  gatewarden beside opendkim and rspamd, one run
#   make fuzz       bounded fuzzing runs (clang, libFuzzer)
#   make soak       1,000,000 messages under reloads, RSS plotted, and
#                   20,000 through Postfix under reloads (minutes)
#   make fuzz-long  every fuzz target for 30 minutes (hours)
#   make install    PREFIX=/usr/local SYSCONFDIR=/etc DESTDIR= STRIP=strip
#   make uninstall  the same variables; removes what install put there
#
# BUILD selects the output folder, so that several builds (the sanitizer
# one, parallel work) never share objects.

BUILD	?= build
PREFIX	?= /usr/local
SYSCONFDIR ?= /etc
DATADIR	?= $(PREFIX)/share
DESTDIR	?=
CC	?= cc
STRIP	?= strip
VERSION	:= 0.1.0

# CFLAGS, CPPFLAGS, LDFLAGS and LDLIBS are the user's (`make CFLAGS=-O0`):
# the project's own flags are added to them, never replaced by them, so the
# warnings, -Werror and the libraries' flags are always there.
PKGS	:= jansson libunbound hiredis libpcre2-8 opendkim libcrypto libsodium \
	   libpsl zlib libmicrohttpd
CFLAGS	?= -O2 -g
WARN	:= -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Werror
SAN	?=
override CPPFLAGS += -D_GNU_SOURCE -DGW_VERSION='"$(VERSION)"' -I.
override CFLAGS	+= $(WARN) $(SAN) -pthread -MMD -MP \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
override LDLIBS	+= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lspf2 -lpthread -lm
override LDFLAGS += $(SAN)

# Debian's hardening (dpkg-buildflags with hardening=+all): stack
# protector, _FORTIFY_SOURCE=2 (which needs an optimised build, so only
# when CFLAGS asks for one), PIE, full RELRO.  libmilter.a is PIC in Debian,
# so it links into the PIE.  tests/suites/reliability/hardening.sh checks
# the binary.
HARDEN_CPPFLAGS := $(if $(filter -O1 -O2 -O3 -Os -Og,$(CFLAGS)),-D_FORTIFY_SOURCE=2)
override CPPFLAGS += $(HARDEN_CPPFLAGS)
override CFLAGS += -fstack-protector-strong -fPIE
override LDFLAGS += -pie -Wl,-z,relro -Wl,-z,now

# The configuration read when no -c is given follows SYSCONFDIR.  Only the
# two objects that use it see the define, and they are rebuilt when
# SYSCONFDIR changes (the stamp holds the path last built with).
GW_DEFAULT_CONF := $(SYSCONFDIR)/gatewarden/gatewarden.json
CONF_OBJ := $(BUILD)/obj/filter/main.o $(BUILD)/obj/filter/limits_cli.o
$(CONF_OBJ): override CPPFLAGS += -DGW_DEFAULT_CONF='"$(GW_DEFAULT_CONF)"'
$(CONF_OBJ): $(BUILD)/default-conf.stamp
$(BUILD)/default-conf.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(GW_DEFAULT_CONF)' | cmp -s - $@ || echo '$(GW_DEFAULT_CONF)' > $@
.PHONY: FORCE

# libmilter is linked statically so that its accept() and read() can be
# wrapped (filter/milter_wrap.c): TCP_NODELAY + TCP_QUICKACK on milter
# sockets, which removes the delayed-ACK stall of TCP milters; listen(),
# poll() and sigwait() too, so that a stop lets messages in flight finish
# and an idle daemon stops at once.
LIBMILTER_A := $(firstword $(wildcard /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/libmilter.a /usr/lib/*-linux-*/libmilter.a /usr/lib/libmilter.a))
MILTER_LD := -Wl,--wrap=accept -Wl,--wrap=read -Wl,--wrap=listen \
	     -Wl,--wrap=poll -Wl,--wrap=sigwait -Wl,--wrap=close $(LIBMILTER_A)

# The daemon-only objects: everything else goes into libgw.a, which the
# unit tests, fuzzers and benchmarks link against.
DAEMON_SRC := filter/main.c filter/milter.c filter/milter_wrap.c
LIB_SRC	:= $(filter-out $(DAEMON_SRC),$(wildcard filter/*.c filter/*/*.c)) \
	   $(wildcard policies/*.c policies/*/*.c)
LIB_OBJ	:= $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
DAEMON_OBJ := $(DAEMON_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_LIB_SRC := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))
UNIT_LIB_OBJ := $(UNIT_LIB_SRC:%.c=$(BUILD)/obj/%.o)

# Test drivers: programs the suites run, each built here from tests/ and
# libgw.a (never by a cc line inside a suite).
TEST_DRIVERS := $(BUILD)/tests/dnsq $(BUILD)/tests/spfcheck \
	$(BUILD)/tests/dkimvec $(BUILD)/tests/redis_store_check \
	$(BUILD)/tests/arcvec

# Fuzz targets (clang, libFuzzer + ASan + UBSan): the replay suites run their
# seed corpora in `make test`, `make fuzz` fuzzes each for a bounded time.
CC_FUZZ	?= clang
CFLAGS_FUZZ := -g -O1 -std=c11 -Wall -D_GNU_SOURCE -DGW_VERSION='"$(VERSION)"' -I. \
	$(shell pkg-config --cflags $(PKGS) 2>/dev/null) \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_BASE := filter/util/arena.c filter/util/xalloc.c filter/util/log.c \
	filter/util/clock.c
FUZZ_SRC_fuzz_spf_record := policies/spf/spf_eval.c policies/spf/spf_record.c \
	policies/spf/spf_macro.c $(FUZZ_BASE)
FUZZ_SRC_fuzz_spf_macro := policies/spf/spf_macro.c $(FUZZ_BASE)
FUZZ_SRC_fuzz_spf_libspf2 := policies/spf/spf_libspf2.c $(FUZZ_BASE)
FUZZ_LIBS_fuzz_spf_libspf2 := -lspf2
FUZZ_SRC_fuzz_mime := policies/rules/rules_mime.c \
	policies/rules/rules_mime_header.c policies/rules/rules_mime_html.c \
	$(FUZZ_BASE)
FUZZ_SRC_fuzz_dns_rdata := filter/dns/dns.c filter/dns/dns_rr.c \
	filter/dns/dns_cache.c \
	tests/unit/dns_static.c filter/dns/dns_ub.c filter/dns/dns_conf.c \
	filter/util/cidr.c filter/conf/conf_build.c filter/conf/conf_locate.c \
	filter/stage.c $(FUZZ_BASE)
FUZZ_LIBS_fuzz_dns_rdata := -lunbound -ljansson -lsodium -lpthread
FUZZ_SRC_fuzz_arc := policies/arc/arc_tags.c policies/arc/arc_canon.c \
	policies/arc/arc_key.c policies/arc/arc_verify.c policies/arc/arc_seal.c \
	filter/dns/dns_rr.c filter/util/cidr.c $(FUZZ_BASE)
FUZZ_LIBS_fuzz_arc := -lcrypto
FUZZ_SRC_fuzz_envelope := filter/util/addr.c filter/util/cidr.c \
	filter/authres.c policies/ratelimit/ratelimit_key.c $(FUZZ_BASE)
FUZZ_LIBS_fuzz_envelope := -lsodium
FUZZ_SRC_fuzz_dmarc := policies/dmarc/dmarc_record.c \
	policies/dmarc/dmarc_eval.c $(filter-out $(FUZZ_BASE), \
	$(FUZZ_SRC_fuzz_dns_rdata)) $(FUZZ_BASE)
FUZZ_LIBS_fuzz_dmarc := -lpsl $(FUZZ_LIBS_fuzz_dns_rdata)
FUZZ_SRC_fuzz_dkim := policies/dkim/dkim_keys.c policies/dkim/dkim_keycache.c \
	filter/util/secret.c \
	policies/dkim/dkim_sign.c policies/dkim/dkim_verify.c $(FUZZ_BASE)
FUZZ_LIBS_fuzz_dkim := -lopendkim -lcrypto
# the whole loader: every policy's config() is reached from conf_load()
FUZZ_SRC_fuzz_conf := $(LIB_SRC)
FUZZ_LIBS_fuzz_conf := $(shell pkg-config --libs $(PKGS) 2>/dev/null) \
	-lspf2 -lpthread -lm
FUZZ_TARGETS := fuzz_spf_record fuzz_spf_macro fuzz_spf_libspf2 fuzz_mime \
	fuzz_dns_rdata fuzz_arc fuzz_envelope fuzz_dmarc fuzz_conf fuzz_dkim
FUZZ_BIN := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/%)

# Benchmark tools: milterload (milter protocol load client), nullmilter (a
# do-nothing libmilter filter, dynamically linked, the peer for ratios),
# bench_store (the store back-ends).
BENCH_TOOLS := $(BUILD)/bench/milterload $(BUILD)/bench/nullmilter \
	$(BUILD)/bench/bench_store

.PHONY: all run test test-tools check asan deps deps-test bench bench-compare \
	bench-tools fuzz fuzz-tools fuzz-long soak install uninstall lint clean
.DEFAULT_GOAL := all
# The unit tests' helper objects are kept between builds, not treated as
# intermediate files to delete.
.SECONDARY: $(UNIT_LIB_OBJ)

all: $(BUILD)/gatewarden

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/libgw.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/gatewarden: $(DAEMON_OBJ) $(BUILD)/libgw.a
	$(CC) $(LDFLAGS) -pthread -o $@ $(DAEMON_OBJ) $(BUILD)/libgw.a \
	    $(MILTER_LD) $(LDLIBS)

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_LIB_OBJ) $(BUILD)/libgw.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(UNIT_LIB_OBJ) \
	    $(BUILD)/libgw.a $(LDFLAGS) $(LDLIBS)

# DRIVER_LINK - one test driver from its source and libgw.a
define DRIVER_LINK
@mkdir -p $(@D)
$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libgw.a $(LDFLAGS) $(LDLIBS)
endef

# The resolver's command-line driver (tests/suites/dns/).
$(BUILD)/tests/dnsq: tests/dns/dnsq.c $(BUILD)/libgw.a
	$(DRIVER_LINK)

# The SPF conformance and differential driver (tests/suites/spf/spf.sh).
$(BUILD)/tests/spfcheck: tests/conformance/spf/spfcheck.c $(BUILD)/libgw.a
	$(DRIVER_LINK)

# The DKIM exact-signature and interop driver (tests/suites/dkim/).
$(BUILD)/tests/dkimvec: tests/dkim/dkimvec.c $(BUILD)/libgw.a
	$(DRIVER_LINK)

# The Redis store back-end against a real redis-server
# (tests/suites/ratelimit/ratelimit.sh).
$(BUILD)/tests/redis_store_check: tests/ratelimit/redis_store_check.c \
    $(BUILD)/libgw.a
	$(DRIVER_LINK)

# The hostile milter peer (tests/suites/reliability/hostile.sh).
$(BUILD)/tests/hostile: tests/reliability/hostile.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $<

# Everything `make test` runs, built before the first suite starts.
# The bench tools are built here too, so that `make test` fails when one
# no longer compiles (only `make bench*` runs them).
test-tools: $(BUILD)/gatewarden $(UNIT_BIN) $(TEST_DRIVERS) $(FUZZ_BIN) \
	    $(BENCH_TOOLS) $(BUILD)/tests/hostile

.SECONDEXPANSION:
$(FUZZ_BIN): $(BUILD)/fuzz/%: tests/fuzz/%.c $$(FUZZ_SRC_$$*)
	@mkdir -p $(@D)
	$(CC_FUZZ) $(CFLAGS_FUZZ) -o $@ $< $(FUZZ_SRC_$*) $(FUZZ_LIBS_$*)

# The ARC conformance driver (tests/suites/arc/arc.sh).
$(BUILD)/tests/arcvec: tests/arc/arcvec.c $(BUILD)/libgw.a
	$(DRIVER_LINK)

fuzz-tools: $(FUZZ_BIN)

BENCH_CFLAGS = $(CFLAGS) -D_GNU_SOURCE

$(BUILD)/bench/milterload: tests/bench/milterload.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lpthread

$(BUILD)/bench/nullmilter: tests/bench/nullmilter.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(shell pkg-config --cflags milter) -o $@ $< \
	    $(shell pkg-config --libs milter) -lpthread

$(BUILD)/bench/bench_store: tests/bench/bench_store.c $(BUILD)/libgw.a
	$(DRIVER_LINK)

bench-tools: $(BENCH_TOOLS)

# Unit tests alone (no packages beyond the build ones).
check: $(BUILD)/gatewarden $(UNIT_BIN)
	@tests/unit/run.sh $(BUILD)/tests

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan CFLAGS='-O1 -g' \
	    SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    build/asan/gatewarden $(UNIT_BIN:$(BUILD)/%=build/asan/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    tests/unit/run.sh build/asan/tests asan

# --- packages (Debian 12) -------------------------------------------------
DEPS_BUILD := gcc make pkg-config libmilter-dev libspf2-dev libopendkim-dev \
	libjansson-dev libunbound-dev libevent-dev libhiredis-dev libpcre2-dev \
	libssl-dev libsodium-dev libpsl-dev zlib1g-dev libmicrohttpd-dev
DEPS_TEST := postfix miltertest swaks redis-server nsd bind9-dnsutils bind9-utils \
	python3-dnslib python3-jsonschema python3-yaml python3-dkim python3-authres python3-spf \
	libmail-dkim-perl opendkim opendkim-tools clang libclang-rt-14-dev \
	libio-socket-inet6-perl man-db groff-base util-linux procps openssl \
	valgrind iproute2 publicsuffix libxml2-utils git file binutils m4 libwrap0 \
	cppcheck clang-format prometheus stunnel4 curl \
	python3-matplotlib

# Peers that only `make bench-compare` runs (docs/performance.md).
DEPS_BENCH := rspamd

deps:
	@tests/deps.sh $(DEPS_BUILD)

# Sendmail for tests/suites/e2e/sendmail.sh is extracted, not installed (it
# would remove Postfix): tests/sendmail/fetch.sh.
deps-test:
	@tests/deps.sh $(DEPS_BUILD) $(DEPS_TEST)
	@tests/sendmail/fetch.sh

# --- the two commands -----------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/gatewarden -f -c conf/gatewarden.json

test: deps-test
	@$(MAKE) --no-print-directory test-tools
	@tests/run-all.sh

# Figures, not pass/fail (tests/bench/README.md).
bench: deps-test
	@$(MAKE) --no-print-directory all bench-tools
	@tests/bench/run.sh

# gatewarden beside no milter, a do-nothing libmilter filter, opendkim and
# rspamd in one run (tests/bench/compare.sh; figures in docs/performance.md).
bench-compare: deps-test
	@tests/deps.sh $(DEPS_BENCH)
	@$(MAKE) --no-print-directory all bench-tools
	@tests/bench/compare.sh

fuzz: deps-test
	@$(MAKE) --no-print-directory fuzz-tools
	@tests/fuzz/run.sh

# The long campaigns of docs/reliability.md, not part of `make test` (which
# runs their bounded versions: reliability/soak-short and the fuzz replays).
SOAK_OUT ?= $(BUILD)/soak
soak: deps-test
	@$(MAKE) --no-print-directory all test-tools
	@SOAK_PLOT=1 tests/reliability/soak.sh $(SOAK_OUT)
	@E2E_RELOAD_MSGS=20000 tests/e2e/41-reload-load.sh

FUZZ_LONG_SECS ?= 1800
fuzz-long: deps-test
	@$(MAKE) --no-print-directory fuzz-tools
	@tests/fuzz/run.sh $(FUZZ_LONG_SECS)

# --- install --------------------------------------------------------------
# What an operator reads goes beside the binary: the man pages, docs/*.md,
# the JSON Schema, the examples and the MTA snippets (conf/sendmail when the
# tree has it).  `make uninstall` removes exactly these files; the
# configuration only while it is the one installed (an edited one is kept),
# and then the package's own folders when they are left empty.
SBINDIR	:= $(PREFIX)/sbin
MAN5DIR	:= $(PREFIX)/share/man/man5
MAN8DIR	:= $(PREFIX)/share/man/man8
DOCDIR	:= $(DATADIR)/doc/gatewarden
PKGDATADIR := $(DATADIR)/gatewarden
UNITDIR	:= $(PREFIX)/lib/systemd/system
CONFDIR	:= $(SYSCONFDIR)/gatewarden
INST_DOCS := $(wildcard docs/*.md)
# conf/X/... goes to $(PKGDATADIR)/X/...
INST_DATA := conf/gatewarden.schema.json \
	$(sort $(wildcard conf/examples/*.json conf/examples/*/*)) \
	$(wildcard conf/postfix/README conf/postfix/*.snippet) \
	$(wildcard conf/sendmail/*.mc)
INST_FILES := $(SBINDIR)/gatewarden $(MAN8DIR)/gatewarden.8 \
	$(MAN5DIR)/gatewarden.json.5 $(UNITDIR)/gatewarden.service \
	$(INST_DOCS:docs/%=$(DOCDIR)/%) $(INST_DATA:conf/%=$(PKGDATADIR)/%)

install: $(BUILD)/gatewarden
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MAN8DIR) $(DESTDIR)$(MAN5DIR) \
	    $(DESTDIR)$(CONFDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	install -m 0755 $(BUILD)/gatewarden $(DESTDIR)$(SBINDIR)/gatewarden
	$(if $(STRIP),$(STRIP) $(DESTDIR)$(SBINDIR)/gatewarden)
	install -m 0644 docs/gatewarden.8 $(DESTDIR)$(MAN8DIR)/
	install -m 0644 docs/gatewarden.json.5 $(DESTDIR)$(MAN5DIR)/
	install -m 0644 $(INST_DOCS) $(DESTDIR)$(DOCDIR)/
	for f in $(INST_DATA); do \
		install -D -m 0644 $$f $(DESTDIR)$(PKGDATADIR)/$${f#conf/} || exit 1; \
	done
	[ -e $(DESTDIR)$(CONFDIR)/gatewarden.json ] || \
	    install -m 0644 conf/gatewarden.json $(DESTDIR)$(CONFDIR)/gatewarden.json
	sed 's|@SBINDIR@|$(SBINDIR)|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    conf/gatewarden.service > $(DESTDIR)$(UNITDIR)/gatewarden.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/gatewarden.service

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INST_FILES))
	if cmp -s conf/gatewarden.json $(DESTDIR)$(CONFDIR)/gatewarden.json; then \
		rm -f $(DESTDIR)$(CONFDIR)/gatewarden.json; \
	elif [ -e $(DESTDIR)$(CONFDIR)/gatewarden.json ]; then \
		echo "kept $(DESTDIR)$(CONFDIR)/gatewarden.json (edited)"; \
	fi
	for d in $$(printf '%s\n' $(dir $(INST_DATA:conf/%=$(DESTDIR)$(PKGDATADIR)/%)) \
	    $(DESTDIR)$(PKGDATADIR)/ $(DESTDIR)$(DOCDIR)/ $(DESTDIR)$(CONFDIR)/ | \
	    sort -ru); do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; \
	done

# make lint fails on a finding: cppcheck over every source, and
# clang-format over every line changed since LINT_BASE (the commit where
# the rule starts; tests/lint/format.sh says why not the whole tree).
LINT_BASE := eb85d4d349e0d31c1418a5b77a45c56271256643
LINT_SRC = $(LIB_SRC) $(DAEMON_SRC) $(wildcard filter/*.h filter/*/*.h \
	policies/*.h policies/*/*.h)
lint:
	cppcheck --quiet --std=c11 -I. --enable=warning --error-exitcode=1 \
	    --inline-suppr $(LIB_SRC) $(DAEMON_SRC)
	tests/lint/format.sh $(LINT_BASE) $(LINT_SRC)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(UNIT_LIB_OBJ:.o=.d)
