# mdeck - markdown notes to Anki and Quizlet decks.
#
#   make            build ./mdeck (objects under build/)
#   make run        install missing packages, build, build every deck into out/
#   make test       install missing packages, build, run every test
#   make asan       build with AddressSanitizer + UBSan into build/asan/mdeck
#   make test-asan  the unit and end-to-end tests against the ASan build

VERSION := $(shell cat VERSION)
PKGS    := sqlite3 libzip libxml-2.0 md4c jansson yaml-0.1 nettle

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN    := -std=c17 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wno-unused-parameter
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
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

.PHONY: all run test deps check-tests asan test-asan clean decks tests bench fuzz
all: mdeck

deps:
	@sh packaging/install-deps.sh

mdeck: $(B)/mdeck
	@cp $(B)/mdeck mdeck

$(B)/mdeck: $(CMD_OBJ) $(B)/libmdeck.a
	$(CC) $(CFLAGS) $(EXTRA_CFLAGS) -o $@ $(CMD_OBJ) $(B)/libmdeck.a $(LDLIBS)

$(B)/libmdeck.a: $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $(LIB_OBJ)

$(B)/obj/%.o: src/%.c $(wildcard include/mdeck/*.h) VERSION
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/tests/%: tests/unit/%.c $(TEST_HELPERS) $(B)/libmdeck.a
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit -o $@ $< $(TEST_HELPERS) $(B)/libmdeck.a \
	    $(LDLIBS) $(shell pkg-config --libs cmocka)

tests: $(UNIT_BIN)

decks: mdeck
	./mdeck build -o out

run: deps
	@$(MAKE) --no-print-directory mdeck
	./mdeck build -o out

test: deps
	@$(MAKE) --no-print-directory mdeck tests
	@sh tests/run-tests.sh

asan:
	@$(MAKE) --no-print-directory B=build/asan CFLAGS='-O1 -g -fno-omit-frame-pointer' \
	    EXTRA_CFLAGS='-fsanitize=address,undefined -fno-sanitize-recover=undefined' \
	    build/asan/mdeck tests

test-asan: asan
	@MDECK_BUILD=build/asan MDECK=$(CURDIR)/build/asan/mdeck sh tests/run-tests.sh

clean:
	rm -rf build mdeck
