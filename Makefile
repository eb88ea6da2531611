# cxm - see README.md. `make run`, `make test`.
CC      ?= cc
CLANG   ?= clang
PKGS    := libmicrohttpd libcjson sqlite3 zlib liblz4 libsodium libcurl gsl
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -pthread $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
LIBS    := $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lstemmer -lm -pthread
OPT     ?= -O2 -g
# CX_SELFCHECK: fast paths also take the slow way and abort when the two differ
SAN     := -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
           -DCX_SELFCHECK

LIB_SRC := $(wildcard lib/*/*.c)
SRC     := $(wildcard src/*.c)
HDRS    := $(wildcard lib/*/*.h src/*.h)
DATA    ?= ./cxm-data
LISTEN  ?= 127.0.0.1:8080

.PHONY: all deps run test unit api browser fuzz fuzz-smoke bench clean web
all: build/cxm

# ---- lib/text (sentiment and themes): its lexicons and VADER's ground truth
# (which the naive Bayes half of the score learns from), lib/text/data/*.txt,
# compiled into the binary as build/text_data.c (tools/bin2c.c); GEN_SRC is
# on every link line that links $(LIB_SRC).
TEXT_DATA := lib/text/data/vader_lexicon.txt lib/text/data/emoji_utf8_lexicon.txt \
  lib/text/data/afinn_165.txt lib/text/data/gt_amazon_snippets.txt lib/text/data/gt_tweets.txt
GEN_SRC := build/text_data.c
build/bin2c: tools/bin2c.c
	@mkdir -p build
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $<
build/text_data.c: build/bin2c $(TEXT_DATA)
	./build/bin2c $@ text_vader_lexicon=lib/text/data/vader_lexicon.txt \
	  text_emoji_lexicon=lib/text/data/emoji_utf8_lexicon.txt \
	  text_afinn_lexicon=lib/text/data/afinn_165.txt \
	  text_gt_amazon=lib/text/data/gt_amazon_snippets.txt \
	  text_gt_tweets=lib/text/data/gt_tweets.txt
# ---- end of lib/text

# The dashboard (web/: TypeScript, Vite, ECharts) is built into web/dist and
# embedded into the binary as build/web_assets.c (tools/embed.c).
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/package.json \
           web/package-lock.json web/vite.config.ts web/tsconfig.json
web/dist/index.html: $(WEB_SRC)
	@[ -d web/node_modules ] || ./scripts/deps.sh
	cd web && npm run build --silent
	@touch $@
web: web/dist/index.html

build/embed: tools/embed.c
	@mkdir -p build
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror -o $@ $< -lz

build/web_assets.c: build/embed web/dist/index.html
	./build/embed web/dist $@

build/cxm: $(LIB_SRC) $(SRC) $(HDRS) build/web_assets.c $(GEN_SRC)
	@mkdir -p build
	$(CC) $(CFLAGS_BASE) $(OPT) -o $@ $(LIB_SRC) $(SRC) build/web_assets.c $(GEN_SRC) $(LIBS)

# The sanitizer builds compile each library file once into an archive
# that the server, the unit tests and the fuzz targets link: much faster
# than compiling the whole library for each of them.
LIB_OBJ_ASAN := $(patsubst %.c,build/asan/obj/%.o,$(LIB_SRC) $(GEN_SRC))
build/asan/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_BASE) $(SAN) -c -o $@ $<
build/asan/libcxm.a: $(LIB_OBJ_ASAN)
	@rm -f $@
	ar rcs $@ $^

build/asan/cxm: $(SRC) $(HDRS) build/web_assets.c build/asan/libcxm.a
	@mkdir -p build/asan
	$(CC) $(CFLAGS_BASE) $(SAN) -o $@ $(SRC) build/web_assets.c build/asan/libcxm.a $(LIBS)

# Installs what is missing: Debian packages (as root or through sudo), and
# the npm packages of web/ and tests/ into their node_modules (git-ignored).
deps:
	@./scripts/deps.sh

# A fresh DATA directory gets the demo company first (cxm demo, ~20 s).
run: deps build/cxm
	@if [ ! -e $(DATA)/cxm.db ]; then \
	  echo "make run: creating the demo company in $(DATA) (cxm demo)..."; \
	  creds=$$(./build/cxm demo --data $(DATA)) || exit 1; \
	  tok=$$(printf '%s\n' "$$creds" | sed -n 's/.*"admin_token":"\([^"]*\)".*/\1/p'); \
	  key=$$(printf '%s\n' "$$creds" | sed -n 's/.*"write_key":"\([^"]*\)".*/\1/p'); \
	  pw=$$(printf '%s\n' "$$creds" | sed -n 's/.*"password":"\([^"]*\)".*/\1/p'); \
	  echo; echo "  Dashboard: http://$(LISTEN)/"; \
	  echo "  Sign in as lead@northwind.example (CX lead), admin@, analyst@, viewer@ or the agent"; \
	  echo "  ana@northwind.example, all with the password (shown only now; keep it):"; \
	  echo; echo "    $$pw"; echo; \
	  echo "  The admin token, for the API (also shown only now):"; \
	  echo; echo "    $$tok"; echo; \
	  echo "  Write key of the source 'default', for SDKs and /v1/ (also shown only now):"; \
	  echo; echo "    $$key"; echo; \
	else \
	  echo; echo "  Dashboard: http://$(LISTEN)/ (sign in with the demo password or the admin token printed when $(DATA) was created)"; echo; \
	fi
	./build/cxm serve --data $(DATA) --listen $(LISTEN)

# unit tests (cmocka) with the sanitizers
UNIT_SRC := $(wildcard tests/unit/test_*.c)
UNIT_BIN := $(patsubst tests/unit/%.c,build/asan/%,$(UNIT_SRC))
build/asan/test_%: tests/unit/test_%.c tests/unit/unit.h build/asan/libcxm.a
	@mkdir -p build/asan
	$(CC) $(CFLAGS_BASE) $(SAN) -o $@ $< build/asan/libcxm.a $(LIBS) -lcmocka

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; ASAN_OPTIONS=detect_leaks=1 $$t; done

api: build/asan/cxm
	cd tests && CXM_BIN=$(CURDIR)/build/asan/cxm node --test --test-concurrency=1 api/

# the dashboard in Debian's chromium (playwright-core); screenshots go to
# tests/artifacts/
browser: build/asan/cxm
	cd tests && CXM_BIN=$(CURDIR)/build/asan/cxm node --test --test-concurrency=1 browser/

# libFuzzer targets (clang); `make fuzz` runs each for FUZZ_SECONDS
FUZZ_SRC := $(wildcard fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_SECONDS ?= 60
FUZZ_FLAGS := -O1 -g -fno-sanitize-recover=all -DCX_SELFCHECK
LIB_OBJ_FUZZ := $(patsubst %.c,build/fuzz/obj/%.o,$(LIB_SRC) $(GEN_SRC))
build/fuzz/obj/%.o: %.c $(HDRS)
	@mkdir -p $(dir $@)
	$(CLANG) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer-no-link,address,undefined -c -o $@ $<
build/fuzz/libcxm.a: $(LIB_OBJ_FUZZ)
	@rm -f $@
	ar rcs $@ $^
build/fuzz/%: fuzz/%.c $(wildcard fuzz/*.h) build/fuzz/libcxm.a
	@mkdir -p build/fuzz
	$(CLANG) $(CFLAGS_BASE) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< build/fuzz/libcxm.a $(LIBS)

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
