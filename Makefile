# cxm - see README.md. `make run`, `make test`.
CC      ?= cc
CLANG   ?= clang
PKGS    := libmicrohttpd libcjson sqlite3 zlib libsodium
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lm -pthread
OPT     ?= -O2 -g
SAN     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

LIB_SRC := $(wildcard lib/*/*.c)
SRC     := $(wildcard src/*.c)
HDRS    := $(wildcard lib/*/*.h src/*.h)
DATA    ?= ./cxm-data

.PHONY: all deps run test unit api fuzz fuzz-smoke bench clean
all: build/cxm

build/cxm: $(LIB_SRC) $(SRC) $(HDRS)
	@mkdir -p build
	$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $(LIB_SRC) $(SRC) $(LIBS)

build/asan/cxm: $(LIB_SRC) $(SRC) $(HDRS)
	@mkdir -p build/asan
	$(CC) $(CFLAGS_BASE) $(SAN) -o $@ $(LIB_SRC) $(SRC) $(LIBS)

# Installs what is missing: Debian packages (as root or through sudo), and
# the npm packages the tests use into tests/node_modules (git-ignored).
deps:
	@./scripts/deps.sh

run: deps build/cxm
	./build/cxm serve --data $(DATA)

# unit tests (cmocka) with the sanitizers
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,build/asan/%,$(UNIT_SRC))
build/asan/test_%: tests/unit/test_%.c $(LIB_SRC) $(HDRS)
	@mkdir -p build/asan
	$(CC) $(CFLAGS_BASE) $(SAN) -o $@ $< $(LIB_SRC) $(LIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

api: build/asan/cxm
	cd tests && CXM_BIN=$(CURDIR)/build/asan/cxm node --test --test-concurrency=1 api/

# libFuzzer targets (clang); `make fuzz` runs each for FUZZ_SECONDS
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
build/fuzz/%: fuzz/%.c $(LIB_SRC) $(HDRS)
	@mkdir -p build/fuzz
	$(CLANG) $(CFLAGS_BASE) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  -o $@ $< $(LIB_SRC) $(LIBS)

fuzz: $(FUZZ_BIN)
	@set -e; for f in $(FUZZ_BIN); do n=$$(basename $$f); mkdir -p build/fuzz/corpus-$$n; \
	  echo "== $$n ($(FUZZ_SECONDS)s)"; $$f -max_total_time=$(FUZZ_SECONDS) -max_len=40000 \
	  build/fuzz/corpus-$$n fuzz/corpus/$$n; done

fuzz-smoke:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=10

test: deps
	@./scripts/test.sh

bench: deps build/cxm
	./bench/run.sh

clean:
	rm -rf build
