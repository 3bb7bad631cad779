# evkit: the top-level build.
#
#   make               build every program into bin/ (-O2 -g, warnings are errors)
#   make check         AddressSanitizer + UBSan tree, unit, CLI and conformance tests
#   make conformance   the external suites in ../shared/conformance (when present)
#   make bench         optimised build, then the benchmarks
#   make demo          install missing packages, build, run the main demo
#   make deps          install the Debian packages the build and the tests need
#   make install       PREFIX (default /usr/local) and DESTDIR are honoured
#   make uninstall
#   make lint          mandoc -Tlint on every man page
#   make fuzz          libFuzzer targets, each for FUZZ_SECONDS (clang)
#   make fault         the fault tests (kill -9 and friends) on the release build
#
# Everything built lives under bin/: programs in bin/, objects in bin/.obj/,
# the sanitizer tree in bin/.san/. Programs are found by folder: each
# src/NAME/ other than src/lib/ is the program NAME.

CC      = gcc
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR  = $(PREFIX)/bin
MANDIR  = $(PREFIX)/share/man
COMPDIR = $(PREFIX)/share/bash-completion/completions

PKGS    = libpcre2-8 sqlite3 libmicrohttpd libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
LIBS    = -Wl,--as-needed $(PKG_LIBS) -ljq -lpthread -lm

WARN    = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
          -Wpointer-arith -Wformat=2 -Wno-unused-parameter -Wvla -Wundef
CPPFLAGS_ALL = -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Isrc/lib $(PKG_CFLAGS) \
          -DEVKIT_VERSION='"$(VERSION)"'
CFLAGS_REL = -std=c17 -O2 -g $(WARN) -fno-strict-aliasing
CFLAGS_SAN = -std=c17 -O1 -g $(WARN) -fno-omit-frame-pointer \
          -fsanitize=address,undefined -fno-sanitize-recover=undefined
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)

PROGS    := $(sort $(filter-out lib,$(notdir $(wildcard src/*))))
LIB_SRC  := $(sort $(wildcard src/lib/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
CONF_SRC := $(sort $(wildcard tests/conformance/*.c))
MAN1     := $(sort $(wildcard man/*.1))
MANALL   := $(sort $(wildcard man/*.[1-8]))
COMPS    := $(sort $(wildcard completions/*))

REL = bin/.obj

# Quiet by default; make V=1 shows the commands.
ifeq ($(V),1)
Q =
else
Q = @
endif
SAN = bin/.san

# Keep intermediate objects: they are what makes a second build fast.
.SECONDARY:

.PHONY: all check unit cli conformance bench demo deps install uninstall lint fuzz fault clean
all: $(addprefix bin/,$(PROGS))

# ---- release tree ---------------------------------------------------------
$(REL)/%.o: src/%.c $(wildcard src/*/*.h) | $(REL)/lib
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC      $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_REL) -c -o $@ $<
$(REL)/libevkit.a: $(patsubst src/%.c,$(REL)/%.o,$(LIB_SRC))
	@rm -f $@
	$(Q)ar rcs $@ $^
$(REL)/lib:
	@mkdir -p $@

# One rule per program, built from all the .c files of its folder.
define prog_rules
bin/$(1): $$(patsubst src/%.c,$(REL)/%.o,$$(wildcard src/$(1)/*.c)) $(REL)/libevkit.a
	@[ "$(V)" = 1 ] || echo "  LD      $$@"
	$(Q)$$(CC) $(CFLAGS_REL) -o $$@ $$^ $$(LIBS)
$(SAN)/bin/$(1): $$(patsubst src/%.c,$(SAN)/%.o,$$(wildcard src/$(1)/*.c)) $(SAN)/libevkit.a
	@mkdir -p $$(dir $$@)
	$(Q)$$(CC) $(CFLAGS_SAN) -o $$@ $$^ $$(LIBS)
endef
$(foreach p,$(PROGS),$(eval $(call prog_rules,$(p))))

# ---- sanitizer tree -------------------------------------------------------
$(SAN)/%.o: src/%.c $(wildcard src/*/*.h)
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC san  $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_SAN) -c -o $@ $<
$(SAN)/tests/%.o: tests/%.c $(wildcard src/lib/*.h) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	@[ "$(V)" = 1 ] || echo "  CC san  $<"
	$(Q)$(CC) $(CPPFLAGS_ALL) -Itests/unit $(CFLAGS_SAN) -c -o $@ $<
$(SAN)/libevkit.a: $(patsubst src/%.c,$(SAN)/%.o,$(LIB_SRC))
	@rm -f $@
	$(Q)ar rcs $@ $^
$(SAN)/unit/%: $(SAN)/tests/unit/%.o $(SAN)/libevkit.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_SAN) -o $@ $^ $(LIBS)
$(SAN)/conformance/%: $(SAN)/tests/conformance/%.o $(SAN)/libevkit.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS_SAN) -o $@ $^ $(LIBS)
$(REL)/conformance/%: tests/conformance/%.c $(REL)/libevkit.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CPPFLAGS_ALL) $(CFLAGS_REL) -o $@ $^ $(LIBS)

SAN_PROGS = $(addprefix $(SAN)/bin/,$(PROGS))
SAN_UNITS = $(patsubst tests/unit/%.c,$(SAN)/unit/%,$(UNIT_SRC))
SAN_CONFS = $(patsubst tests/conformance/%.c,$(SAN)/conformance/%,$(CONF_SRC))
REL_CONFS = $(patsubst tests/conformance/%.c,$(REL)/conformance/%,$(CONF_SRC))

# make check: every test reports TAP; tests/run counts them and prints the
# closing "N passed, N failed" line.
check: $(SAN_PROGS) $(SAN_UNITS) $(SAN_CONFS) all
	@sh tests/run $(SAN)

conformance: all $(REL_CONFS)
	@sh tests/conformance/run $(REL) --report

bench: all $(REL_CONFS)
	@sh tests/bench/run

demo:
	@sh tests/need-deps >/dev/null 2>&1 || $(MAKE) deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh

DEBS = build-essential pkg-config libjq-dev libpcre2-dev libsqlite3-dev \
       libmicrohttpd-dev libssl-dev bats mandoc sqlite3 jq
deps:
	@if [ "$$(id -u)" = 0 ]; then \
	    apt-get update && apt-get install -y $(DEBS); \
	elif command -v sudo >/dev/null 2>&1; then \
	    sudo apt-get update && sudo apt-get install -y $(DEBS); \
	else \
	    echo "make deps: run as root: apt-get install -y $(DEBS)" >&2; exit 1; \
	fi

lint:
	@mandoc -Tlint -Wwarning $(MANALL) && echo "mandoc -Tlint: $(words $(MANALL)) pages clean"

fuzz:
	@sh tests/fuzz/run

fault: all
	@for t in tests/fault/*.sh; do sh $$t || exit 1; done

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	    $(DESTDIR)$(MANDIR)/man7 $(DESTDIR)$(COMPDIR)
	install -m 755 $(addprefix bin/,$(PROGS)) $(DESTDIR)$(BINDIR)
	for m in $(MANALL); do \
	    s=$${m##*.}; install -m 644 $$m $(DESTDIR)$(MANDIR)/man$$s/; done
	for c in $(COMPS); do install -m 644 $$c $(DESTDIR)$(COMPDIR)/; done

uninstall:
	for p in $(PROGS); do rm -f $(DESTDIR)$(BINDIR)/$$p; done
	for m in $(MANALL); do \
	    s=$${m##*.}; rm -f $(DESTDIR)$(MANDIR)/man$$s/$${m##*/}; done
	for c in $(COMPS); do rm -f $(DESTDIR)$(COMPDIR)/$${c##*/}; done

clean:
	rm -rf bin
