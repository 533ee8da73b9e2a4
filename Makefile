# gatewarden - one non-recursive GNU Makefile.
#
#   make            build build/gatewarden
#   make run        install missing packages, build, run on conf/gatewarden.json
#   make test       install what tests need, build, run every test
#   make bench      benchmarks (figures, not pass/fail)
#   make fuzz       bounded fuzzing runs (clang, libFuzzer)
#   make install    PREFIX=/usr/local DESTDIR=
#
# BUILD selects the output folder, so that several builds (the sanitizer
# one, parallel work) never share objects.

BUILD	?= build
PREFIX	?= /usr/local
SYSCONFDIR ?= /etc
DESTDIR	?=
CC	?= cc
VERSION	:= 0.1.0

PKGS	:= jansson libunbound hiredis libpcre2-8 opendkim libcrypto libsodium \
	   libpsl zlib
OPT	?= -O2 -g
WARN	:= -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
	   -Wmissing-prototypes -Werror
SAN	?=
CPPFLAGS += -D_GNU_SOURCE -DGW_VERSION='"$(VERSION)"' -I.
CFLAGS	:= $(OPT) $(WARN) $(SAN) -pthread -MMD -MP \
	   $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LDLIBS	:= $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lspf2 -lpthread -lm
LDFLAGS	+= $(SAN)

# libmilter is linked statically so that its accept() and read() can be
# wrapped (filter/milter_wrap.c): TCP_NODELAY + TCP_QUICKACK on milter
# sockets, which removes the delayed-ACK stall of TCP milters.
LIBMILTER_A := $(firstword $(wildcard /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/libmilter.a /usr/lib/*-linux-*/libmilter.a /usr/lib/libmilter.a))
MILTER_LD := -Wl,--wrap=accept -Wl,--wrap=read -Wl,--wrap=sigwait $(LIBMILTER_A)

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

.PHONY: all run test check asan deps deps-test bench fuzz install lint clean
.DEFAULT_GOAL := all

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

# The resolver's command-line driver (tests/suite-25-dns.sh).
$(BUILD)/tests/dnsq: tests/dns/dnsq.c $(BUILD)/libgw.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libgw.a $(LDFLAGS) $(LDLIBS)

# The SPF conformance and differential driver (tests/suite-30-spf.sh).
$(BUILD)/tests/spfcheck: tests/conformance/spf/spfcheck.c $(BUILD)/libgw.a
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< $(BUILD)/libgw.a $(LDFLAGS) $(LDLIBS)

# Unit tests alone (no packages beyond the build ones).
check: $(BUILD)/gatewarden $(UNIT_BIN)
	@tests/unit/run.sh $(BUILD)/tests

# The same unit tests under AddressSanitizer + UndefinedBehaviorSanitizer.
asan:
	@$(MAKE) --no-print-directory BUILD=build/asan OPT='-O1 -g' \
	    SAN='-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    build/asan/gatewarden $(UNIT_BIN:$(BUILD)/%=build/asan/%)
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    tests/unit/run.sh build/asan/tests asan

# --- packages (Debian 12) -------------------------------------------------
DEPS_BUILD := gcc make pkg-config libmilter-dev libspf2-dev libopendkim-dev \
	libjansson-dev libunbound-dev libevent-dev libhiredis-dev libpcre2-dev \
	libssl-dev libsodium-dev libpsl-dev zlib1g-dev
DEPS_TEST := postfix miltertest swaks redis-server nsd bind9-dnsutils bind9-utils \
	python3-dnslib python3-jsonschema python3-yaml python3-dkim python3-spf \
	libmail-dkim-perl opendkim opendkim-tools clang libclang-rt-14-dev \
	libio-socket-inet6-perl man-db groff-base util-linux procps openssl \
	valgrind iproute2 publicsuffix libxml2-utils stunnel4

deps:
	@tests/deps.sh $(DEPS_BUILD)

deps-test:
	@tests/deps.sh $(DEPS_BUILD) $(DEPS_TEST)

# --- the two commands -----------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/gatewarden -f -c conf/gatewarden.json

test: deps-test
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@tests/run-all.sh

bench: deps-test
	@$(MAKE) --no-print-directory all
	@tests/bench/run.sh

fuzz: deps-test
	@tests/fuzz/run.sh

# --- bench (tests/bench; owned by the test infrastructure) ----------------
# milterload: milter protocol load client; nullmilter: a do-nothing
# libmilter filter, dynamically linked, the peer for ratios.  Both are
# built into $(BUILD)/bench/ before `make bench` runs tests/bench/run.sh.
BENCH_TOOLS := $(BUILD)/bench/milterload $(BUILD)/bench/nullmilter
BENCH_CFLAGS = $(OPT) $(WARN) -D_GNU_SOURCE -pthread

.PHONY: bench-tools
bench-tools: $(BENCH_TOOLS)

bench: bench-tools

$(BUILD)/bench/milterload: tests/bench/milterload.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) -o $@ $< -lpthread

$(BUILD)/bench/nullmilter: tests/bench/nullmilter.c
	@mkdir -p $(@D)
	$(CC) $(BENCH_CFLAGS) $(shell pkg-config --cflags milter) -o $@ $< \
	    $(shell pkg-config --libs milter) -lpthread
# --- end bench --------------------------------------------------------------

# --- install --------------------------------------------------------------
install: $(BUILD)/gatewarden
	install -d $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	    $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(SYSCONFDIR)/gatewarden \
	    $(DESTDIR)$(PREFIX)/lib/systemd/system
	install -m 0755 $(BUILD)/gatewarden $(DESTDIR)$(PREFIX)/sbin/gatewarden
	install -m 0644 docs/gatewarden.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/gatewarden.json.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	[ -e $(DESTDIR)$(SYSCONFDIR)/gatewarden/gatewarden.json ] || \
	    install -m 0644 conf/gatewarden.json $(DESTDIR)$(SYSCONFDIR)/gatewarden/gatewarden.json
	sed 's|@SBINDIR@|$(PREFIX)/sbin|g; s|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
	    conf/gatewarden.service > $(DESTDIR)$(PREFIX)/lib/systemd/system/gatewarden.service
	chmod 0644 $(DESTDIR)$(PREFIX)/lib/systemd/system/gatewarden.service

lint:
	clang-format --dry-run $(LIB_SRC) $(DAEMON_SRC)
	cppcheck --quiet --std=c11 -I. $(LIB_SRC) $(DAEMON_SRC)

clean:
	rm -rf build

-include $(LIB_OBJ:.o=.d) $(DAEMON_OBJ:.o=.d) $(UNIT_LIB_OBJ:.o=.d)
