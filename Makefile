# Weft: the two commands are `make demo` and `make test` (README.md). Both install what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help
APT_PACKAGES := iproute2 iputils-ping nftables tcpdump procps util-linux kmod wireguard-go wireguard-tools iperf3 strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-standard-plugins libstrongswan-extra-plugins strongswan-pki openvpn openssl smcroute
STAMP := .tmp/stamps

help:
	@echo "make demo   install what is missing, build, start a three-site lab linked by WireGuard, IPsec and OpenVPN (Ctrl-C ends it)"
	@echo "make test   install what is missing, then lint, type check, spec drift, unit, integration, e2e"
	@echo "make bench  benchmarks (routes, wireguard, ipsec, openvpn, multicast): each prints its baseline from the same run and the ratio"

$(STAMP):
	@mkdir -p $(STAMP)

# Debian packages: installed only when one is missing.
deps-apt: | $(STAMP)
	@missing=$$(for p in $(APT_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "apt: installing $$missing"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# npm: `npm ci` when node_modules is missing or older than the lock file.
deps-npm: | $(STAMP)
	@if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then \
	  npm ci --no-audit --no-fund; \
	fi

deps: deps-apt deps-npm

build: deps
	npx tsc -b

lint: build
	npx eslint --max-warnings 0 .
	npx prettier --check . >/dev/null || (npx prettier --check . ; exit 1)

spec-drift: deps
	npm run -s -w @weft/api-spec check

test: build lint spec-drift
	node tools/test.mjs

test-unit: build
	node tools/test.mjs unit

test-integration: build
	node tools/test.mjs integration

test-e2e: build
	node tools/test.mjs e2e

bench: build
	npm run -s -w @weft/bench routes
	npm run -s -w @weft/bench wireguard
	npm run -s -w @weft/bench ipsec
	npm run -s -w @weft/bench openvpn
	npm run -s -w @weft/bench multicast

demo: build
	node e2e/dist/lib/demo.js

clean:
	rm -rf .tmp */dist modules/*/dist *.tsbuildinfo */*.tsbuildinfo modules/*/*.tsbuildinfo

.PHONY: help deps deps-apt deps-npm build lint spec-drift test test-unit test-integration test-e2e bench demo clean
