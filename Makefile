# mdeck - markdown notes to Anki and Quizlet decks.
#
#   make            build ./mdeck (objects under build/)
#   make run        install missing packages, build, build every deck into out/
#   make test       install missing packages, build, run every test
#   make asan       build with AddressSanitizer + UBSan into build/asan/mdeck
#   make test-asan  the unit and end-to-end tests against the ASan build
#                   (`make test` runs it too when CI is set or MDECK_TEST_ASAN=1,
#                   and its last line then counts both passes)
#   make fuzz       libFuzzer harnesses, FUZZ_SECONDS each (tests/fuzz/README.md)

VERSION := $(shell cat VERSION)
PKGS    := sqlite3 libzip libxml-2.0 md4c jansson yaml-0.1 nettle zlib libisal

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wno-unused-parameter
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
# libxml2 is not linked: src/xmllib.c opens it when first needed
PKG_LIBS   := $(shell pkg-config --libs $(filter-out libxml-2.0,$(PKGS)) 2>/dev/null)
ALL_CFLAGS  = $(WARN) $(CFLAGS) -Iinclude -D_GNU_SOURCE \
              -DMDECK_VERSION='"$(VERSION)"' $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS  = $(PKG_LIBS) -lm

B       ?= build
LIB_SRC := $(filter-out src/main.c src/cmd-%.c,$(wildcard src/*.c))
CMD_SRC := src/main.c $(wildcard src/cmd-*.c)
LIB_OBJ := $(LIB_SRC:src/%.c=$(B)/obj/%.o)
CMD_OBJ := $(CMD_SRC:src/%.c=$(B)/obj/%.o)
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
TEST_HELPERS := $(filter-out $(UNIT_SRC),$(wildcard tests/unit/*.c))

PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
MANDIR  ?= $(PREFIX)/share/man

.PHONY: all run test deps asan test-asan clean decks tests bench fuzz
all: mdeck

deps:
	@sh packaging/install-deps.sh

# Replaced by a rename, never rewritten in place: a running mdeck (a test,
# a watcher) keeps its binary, and cp would fail with "Text file busy".
mdeck: $(B)/mdeck
	@cp $(B)/mdeck mdeck.tmp && mv -f mdeck.tmp mdeck

$(B)/mdeck: $(CMD_OBJ) $(B)/libmdeck.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $(CMD_OBJ) $(B)/libmdeck.a $(LDLIBS)

$(B)/libmdeck.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $(LIB_OBJ)

# Dependencies on headers come from the compiler (-MMD: build/obj/*.d).
$(B)/obj/%.o: src/%.c VERSION
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(B)/libmdeck.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -MF $@.d -Itests/unit -o $@ $< $(TEST_HELPERS) $(B)/libmdeck.a \
	    $(LDLIBS) $(shell pkg-config --libs cmocka)

tests: $(UNIT_BIN)

decks: mdeck
	./mdeck build -o out

run: deps
	@$(MAKE) --no-print-directory mdeck
	./mdeck build -o out

test: deps
	@$(MAKE) --no-print-directory mdeck tests
	@rm -f $(B)/test-totals
	@MDECK_TEST_TOTALS=$(CURDIR)/$(B)/test-totals sh tests/run-tests.sh
	@if [ -n "$${CI:-}" ] || [ "$${MDECK_TEST_ASAN:-}" = 1 ]; then MDECK_TEST_TOTALS=$(CURDIR)/$(B)/test-totals $(MAKE) --no-print-directory test-asan; fi

asan:
	@$(MAKE) --no-print-directory B=build/asan CFLAGS='-O1 -g -fno-omit-frame-pointer' \
	    EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
	    build/asan/mdeck tests

test-asan: asan
	@MDECK_BUILD=build/asan MDECK=$(CURDIR)/build/asan/mdeck sh tests/run-tests.sh

clean:
	rm -rf build mdeck

# --- install, dist, Debian package (docs/install.md) ------------------------
#
#   make install    PREFIX (default /usr/local) and DESTDIR honoured: the
#                   binary, man pages, bash and zsh completions, the systemd
#                   user unit and its wrapper, the docs
#   make uninstall  removes what install installs (same PREFIX, DESTDIR)
#   make man        build/man/: the man pages with the version filled in
#   make man-lint   groff -ww, then mandoc -Tlint when installed
#   make dist       build/mdeck-VERSION.tar.gz (git ls-files, or a file list)
#   make deb        build/mdeck_VERSION-1_ARCH.deb with dpkg-buildpackage

LIBEXECDIR     ?= $(PREFIX)/libexec
DATADIR        ?= $(PREFIX)/share
DOCDIR         ?= $(DATADIR)/doc/mdeck
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR     ?= $(DATADIR)/zsh/vendor-completions
SYSTEMDUSERDIR ?= $(PREFIX)/lib/systemd/user
INSTALL        ?= install

MAN_PAGES := $(B)/man/mdeck.1 $(B)/man/mdeck-format.5
DOC_FILES := README.md $(sort $(wildcard docs/*.md))
DIST      := mdeck-$(VERSION)

.PHONY: install uninstall man man-lint dist deb deb-deps

# The version is defined once, in VERSION; the man sources say @VERSION@.
man: $(MAN_PAGES)

$(B)/man/%: man/% VERSION
	@mkdir -p $(dir $@)
	sed 's/@VERSION@/$(VERSION)/g' $< >$@.tmp && mv $@.tmp $@

man-lint: man
	@for p in $(MAN_PAGES); do \
	    out=$$(groff -man -Tutf8 -ww -z $$p 2>&1); \
	    [ -z "$$out" ] || { echo "$$out"; exit 1; }; \
	    if command -v mandoc >/dev/null; then mandoc -Tlint -Wall $$p || exit 1; fi; \
	done; echo "man pages: no warnings"

# The wrapper and the unit name installed paths: filled in here, for this
# PREFIX, into $(B)/install/ (always redone: PREFIX may differ each time).
install: $(B)/mdeck man
	@rm -rf $(B)/install && mkdir -p $(B)/install
	sed 's|@BINDIR@|$(BINDIR)|g' packaging/systemd/mdeck-watch-user >$(B)/install/mdeck-watch-user
	sed 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' packaging/systemd/mdeck.service >$(B)/install/mdeck.service
	$(INSTALL) -d "$(DESTDIR)$(BINDIR)" "$(DESTDIR)$(MANDIR)/man1" "$(DESTDIR)$(MANDIR)/man5" \
	    "$(DESTDIR)$(BASHCOMPDIR)" "$(DESTDIR)$(ZSHCOMPDIR)" "$(DESTDIR)$(LIBEXECDIR)/mdeck" \
	    "$(DESTDIR)$(SYSTEMDUSERDIR)" "$(DESTDIR)$(DOCDIR)/docs"
	$(INSTALL) -m 755 $(B)/mdeck "$(DESTDIR)$(BINDIR)/mdeck"
	$(INSTALL) -m 644 $(B)/man/mdeck.1 "$(DESTDIR)$(MANDIR)/man1/mdeck.1"
	$(INSTALL) -m 644 $(B)/man/mdeck-format.5 "$(DESTDIR)$(MANDIR)/man5/mdeck-format.5"
	$(INSTALL) -m 644 completions/mdeck.bash "$(DESTDIR)$(BASHCOMPDIR)/mdeck"
	$(INSTALL) -m 644 completions/_mdeck "$(DESTDIR)$(ZSHCOMPDIR)/_mdeck"
	$(INSTALL) -m 755 $(B)/install/mdeck-watch-user "$(DESTDIR)$(LIBEXECDIR)/mdeck/mdeck-watch-user"
	$(INSTALL) -m 644 $(B)/install/mdeck.service "$(DESTDIR)$(SYSTEMDUSERDIR)/mdeck.service"
	@for f in $(DOC_FILES); do \
	    echo "$(INSTALL) -m 644 $$f $(DESTDIR)$(DOCDIR)/$$f"; \
	    $(INSTALL) -m 644 "$$f" "$(DESTDIR)$(DOCDIR)/$$f" || exit 1; \
	done

# Removes the files install writes, then the folders only mdeck uses (if
# empty); shared folders (bin, share/man/man1, ...) stay.
uninstall:
	rm -f "$(DESTDIR)$(BINDIR)/mdeck" \
	    "$(DESTDIR)$(MANDIR)/man1/mdeck.1" "$(DESTDIR)$(MANDIR)/man5/mdeck-format.5" \
	    "$(DESTDIR)$(BASHCOMPDIR)/mdeck" "$(DESTDIR)$(ZSHCOMPDIR)/_mdeck" \
	    "$(DESTDIR)$(LIBEXECDIR)/mdeck/mdeck-watch-user" \
	    "$(DESTDIR)$(SYSTEMDUSERDIR)/mdeck.service"
	rm -f $(foreach f,$(DOC_FILES),"$(DESTDIR)$(DOCDIR)/$(f)")
	-rmdir "$(DESTDIR)$(LIBEXECDIR)/mdeck" "$(DESTDIR)$(DOCDIR)/docs" "$(DESTDIR)$(DOCDIR)" 2>/dev/null

# The tarball holds what git knows: tracked files plus untracked ones that
# .gitignore does not exclude (new files not committed yet are not
# forgotten), minus tracked files deleted from the work tree.  Outside a
# git checkout (an unpacked tarball, even one unpacked inside another
# checkout's build/), every file but the build outputs.
dist:
	@rm -rf $(B)/dist && mkdir -p $(B)/dist
	@if [ -z "$$(git rev-parse --show-prefix 2>/dev/null || echo no)" ]; then \
	    git -c core.quotepath=off ls-files --cached --others --exclude-standard; \
	else \
	    find . \( -path ./build -o -path ./out -o -path ./.git -o -path ./bench/cache \) -prune \
	        -o \( -type f -o -type l \) ! -path ./mdeck ! -name '*.o' -print | sed 's|^\./||'; \
	fi | while IFS= read -r f; do \
	    if [ -f "$$f" ] || [ -L "$$f" ]; then printf '%s\n' "$$f"; fi; \
	done | LC_ALL=C sort -u >$(B)/dist/files
	tar --create --file=- --no-recursion --verbatim-files-from --files-from=$(B)/dist/files \
	    --transform='flags=r;s|^|$(DIST)/|' --sort=name --owner=0 --group=0 \
	    --numeric-owner --mode=u+w,go-w | gzip -n -9 >$(B)/$(DIST).tar.gz.tmp
	@mv $(B)/$(DIST).tar.gz.tmp $(B)/$(DIST).tar.gz
	@echo "$(B)/$(DIST).tar.gz: $$(wc -l <$(B)/dist/files) files"

deb-deps:
	@sh packaging/install-deb-deps.sh

# debian/ lives in packaging/debian: copied into an unpacked dist tree under
# $(B)/deb/, where dpkg-buildpackage runs (the .orig tarball beside it).
# The changelog's top entry says @VERSION@: filled in from VERSION here.
# MAKEFLAGS is dropped so that this make's variables (B, PREFIX, DESTDIR)
# do not leak into the package build.  DEB_BUILD_OPTIONS=nocheck skips the
# unit tests in the package build.
deb: deps deb-deps dist
	rm -rf $(B)/deb && mkdir -p $(B)/deb
	cp $(B)/$(DIST).tar.gz $(B)/deb/mdeck_$(VERSION).orig.tar.gz
	tar -C $(B)/deb -xzf $(B)/deb/mdeck_$(VERSION).orig.tar.gz
	cp -R packaging/debian $(B)/deb/$(DIST)/debian
	sed -i '1s/@VERSION@/$(VERSION)/' $(B)/deb/$(DIST)/debian/changelog
	cd $(B)/deb/$(DIST) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES \
	    dpkg-buildpackage -us -uc -b
	cp $(B)/deb/mdeck_$(VERSION)-1_*.deb $(B)/
	@ls $(B)/mdeck_$(VERSION)-1_*.deb

# --- fuzzing (tests/fuzz/README.md) -------------------------------------------
#
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="index sanitize"]
#
# Builds the libFuzzer harnesses with clang (installing clang and its
# runtime with apt when missing) under build/fuzz/ and runs each for
# FUZZ_SECONDS; fails when one finds a crash, a leak, undefined behaviour
# or a hang.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

fuzz:
	@FUZZ_SECONDS=$(FUZZ_SECONDS) sh tests/fuzz/run.sh $(FUZZ_TARGETS)

# --- benchmarks (docs/performance.md) ----------------------------------------
#
#   make bench      synthetic decks of 1k, 10k and 100k questions
#                   (bench/gen-deck.py), each built several times: medians of
#                   wall time, CPU time and peak memory, output sizes, the
#                   peers (sqlite3 + zip, anki-apkg-export) and watch latency.
#                   BENCH_SIZES=1000,10000 and BENCH_RUNS=N narrow it.
#                   Not a test: nothing fails on a slow number.

bench: $(B)/mdeck $(B)/runstat
	@MDECK=$(CURDIR)/$(B)/mdeck RUNSTAT=$(CURDIR)/$(B)/runstat python3 bench/bench.py

# bench/bench.py runs every measured command under it (bench/runstat.c)
$(B)/runstat: bench/runstat.c
	@mkdir -p $(@D)
	$(CC) -O2 $(WARN) -o $@ $<

-include $(wildcard $(B)/obj/*.d $(B)/tests/*.d)
