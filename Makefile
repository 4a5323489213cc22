# mrcpd: `make run` and `make test` are the two commands a user needs.
# Both start with `deps`, which installs the Debian packages the engines and tests use.

GO        ?= go
BIN       := $(CURDIR)/bin
CONFIG    ?= conf/mrcpd.yaml
GOFLAGS_T ?= -race -count=1 -timeout 30m

# System packages: real engines (PocketSphinx with speexdsp's noise suppression, espeak-ng, flite),
# codecs (Opus), and real peers (sipp, sox, kamailio in front of several mrcpd).
DEB_PKGS := gcc pkg-config sip-tester sox espeak-ng libespeak-ng-dev flite flite1-dev libspeexdsp-dev \
            pocketsphinx pocketsphinx-en-us libpocketsphinx-dev libsphinxbase-dev sphinxtrain \
            libopus-dev libopusfile-dev kamailio

PLUGIN_DIRS := $(patsubst %/main.go,%,$(wildcard plugins/*/main.go))

.PHONY: all deps build plugins run test bench fuzz vet clean

all: build

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "deps: missing Debian packages. Run, then retry:"; \
	    echo "  sudo apt-get update && sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(GO) build -o $(BIN)/ ./cmd/...
	@mkdir -p $(BIN)/plugins
	@for d in $(PLUGIN_DIRS); do echo "build $$d"; $(GO) build -o $(BIN)/plugins/ ./$$d || exit 1; done
	@# PocketSphinx's telephone adaptation (plugins/pocketsphinx/README.md, "Telephone
	@# adaptation"): a transform, the MAP means and mixture weights estimated with it and the digit
	@# means of a second pass, once, on generated speech; delete the means to estimate them again;
	@# they are estimated again when the adaptation set's definition (speechset, the engine's
	@# adapt.go, sendump.go and denoise.go) is newer than them.
	@stale=1; if [ -f $(BIN)/plugins/pocketsphinx.means ] && [ -f $(BIN)/plugins/pocketsphinx.mixw ] && \
	  [ -f $(BIN)/plugins/pocketsphinx.digit.means ]; then stale=0; \
	  for f in plugins/pocketsphinx/speechset/*.go plugins/pocketsphinx/engine/adapt.go plugins/pocketsphinx/engine/sendump.go plugins/pocketsphinx/engine/denoise.go; do \
	    [ $$f -nt $(BIN)/plugins/pocketsphinx.means ] && stale=1; done; fi; \
	[ $$stale = 0 ] || $(BIN)/plugins/pocketsphinx adapt -synthesize -out $(BIN)/plugins/pocketsphinx.mllr \
	  -means $(BIN)/plugins/pocketsphinx.means -mixture-weights $(BIN)/plugins/pocketsphinx.mixw \
	  -digit-means $(BIN)/plugins/pocketsphinx.digit.means

run: build
	$(BIN)/mrcpd --config $(CONFIG)

# Integration tests use the binaries built above (MRCPD_BIN_DIR); run alone they build their own.
# Then every fuzz target runs FUZZTIME_CI inputs (their seed corpora already ran as tests). A count,
# not a duration: a 2 s -fuzztime can end inside the corpus warm-up and fail with Go's own "context
# deadline exceeded" when the machine is slow, which says nothing about the code.
test: build
	$(GO) vet ./...
	MRCPD_BIN_DIR=$(BIN) $(GO) test $(GOFLAGS_T) ./...
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME_CI)

# Fuzzing: every Fuzz target of the module (each network parser has one: MRCP, SIP, SDP, NLSML,
# SRGS XML and ABNF, RTP, RFC 4733, ESL, the vendor wire formats) runs for FUZZTIME. A failing
# input is written under the package's testdata/fuzz/ and fails the run; commit it with the fix.
FUZZTIME    ?= 1m
FUZZTIME_CI ?= 2000x
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
	  for n in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "fuzz $$(dirname $$f) $$n ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$n\$$" -fuzztime $(FUZZTIME) $$(dirname $$f) >/tmp/mrcpd-fuzz.$$$$ 2>&1 || \
	      { cat /tmp/mrcpd-fuzz.$$$$; rm -f /tmp/mrcpd-fuzz.$$$$; exit 1; }; \
	    rm -f /tmp/mrcpd-fuzz.$$$$; \
	  done; \
	done

bench: build
	MRCPD_BIN_DIR=$(BIN) $(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf $(BIN)
