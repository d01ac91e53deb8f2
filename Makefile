# ngx_evbus: build, run, test, bench.  See README.md.
#
# Every target a README command names installs the Debian packages it
# needs first (scripts/deps.sh, a no-op when they are there).

SHELL        := /bin/bash
NGX_SRC      ?= /usr/share/nginx/src
BUILD        := $(CURDIR)/build
MODULE       := $(BUILD)/ngx_http_evbus_module.so
NGINX        ?= /usr/sbin/nginx
KAFKA_PORT   ?= 9092
export KAFKA_PORT

SOURCES := config ngx_evbus_module.c $(wildcard src/*.c src/*.h)

# The event core: the sources without nginx types that the unit tests
# (t/unit/test_*.c), the fuzz targets (fuzz/fuzz_*.c) and the core bench
# (t/unit/bench_core.c) are linked with, and the libraries they need.  A
# new core file is one line here; scripts/unit.sh, scripts/fuzz.sh and
# scripts/bench-core.sh get the list from the environment (or, run alone,
# from `make -s core-sources`).
CORE_SRCS := \
    src/ngx_evbus_event.c \
    src/ngx_evbus_tokens.c \
    src/ngx_evbus_text.c \
    src/ngx_evbus_build.c \
    src/ngx_evbus_json.c \
    src/ngx_evbus_trace.c \
    src/ngx_evbus_inflate.c \
    src/ngx_evbus_clock.c \
    src/ngx_evbus_segment.c \
    src/ngx_evbus_spool_record.c \
    src/ngx_evbus_schema.c \
    src/ngx_evbus_schema_compile.c \
    src/ngx_evbus_validate.c \
    src/ngx_evbus_format.c \
    src/ngx_evbus_regex.c \
    src/ngx_evbus_uuid.c

CORE_LIBS := -lyajl -lpcre2-8 -lz

export EVBUS_CORE_SRCS := $(strip $(CORE_SRCS))
export EVBUS_CORE_LIBS := $(strip $(CORE_LIBS))

.PHONY: all module deps kafka-fetch kafka-start kafka-stop run stop test \
        test-asan test-cluster unit fuzz bench bench-core bench-cost clean \
        core-sources core-libs deb test-deb test-mainline

all: module

module: $(MODULE)

deps:
	@scripts/deps.sh build

$(MODULE): $(SOURCES)
	@scripts/deps.sh build
	@scripts/build.sh "$(NGX_SRC)" "$(BUILD)" "$(EVBUS_CC_OPT)" \
	    "$(EVBUS_LD_OPT)" "$(MODULE)"

kafka-fetch:
	@scripts/deps.sh test
	@scripts/kafka.sh fetch

kafka-start:
	@scripts/deps.sh test
	@scripts/kafka.sh start

kafka-stop:
	@scripts/kafka.sh stop

# a broker (the one answering on KAFKA_PORT, or one started here), nginx
# with the quick start's configuration, one event posted and read back
run: module
	@scripts/deps.sh run
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

# the event core's unit tests under ASan/UBSan (make test runs them too,
# once, as t/00-unit.t)
unit:
	@scripts/deps.sh build
	@scripts/unit.sh "$(BUILD)/unit"

test: module
	@scripts/deps.sh test
	@scripts/test.sh

# the module built against another nginx source tree (NGX_SRC, e.g.
# nginx.org's mainline) into build/mainline/, and the suite (or TESTS)
# run against the nginx built from that tree (EVBUS_NGINX); a manual
# check, CI has no such tree (docs/mainline.md)
test-mainline:
	@if [ "$(origin NGX_SRC)" = file ] || [ -z "$(EVBUS_NGINX)" ]; then \
	    echo "usage: make test-mainline NGX_SRC=<nginx source tree>" \
	         "EVBUS_NGINX=<the nginx built from it> [TESTS=t/...]" >&2; \
	    exit 1; \
	fi
	@$(MAKE) -s module BUILD="$(BUILD)/mainline" \
	    EVBUS_NGINX="$(abspath $(EVBUS_NGINX))"
	@scripts/deps.sh test
	@EVBUS_NGINX="$(abspath $(EVBUS_NGINX))" \
	    EVBUS_MODULE="$(BUILD)/mainline/ngx_http_evbus_module.so" \
	    scripts/test.sh $(TESTS)

test-asan:
	@scripts/deps.sh test
	@scripts/test-asan.sh

# three-broker Kafka fault tests (slow; see docs/faults.md)
test-cluster: module
	@scripts/deps.sh test
	@scripts/test-cluster.sh

# libFuzzer over the event core: every fuzz/fuzz_*.c, its regression
# inputs first, then FUZZ_TIME seconds in all (default 60)
fuzz:
	@scripts/deps.sh fuzz
	@scripts/fuzz.sh

bench: module
	@scripts/deps.sh bench
	@scripts/bench.sh

# instruction counts of the event core alone (callgrind)
bench-core:
	@scripts/deps.sh bench-core
	@scripts/bench-core.sh "$(BUILD)/bench-core"

core-sources:
	@echo $(EVBUS_CORE_SRCS)

core-libs:
	@echo $(EVBUS_CORE_LIBS)

clean:
	rm -rf $(BUILD)

# Debian package libnginx-mod-http-evbus into build/ (docs/packaging.md)
deb:
	@scripts/deps.sh deb
	@scripts/deb.sh

# installs build/'s package on the system nginx, end to end, and purges it
test-deb: deb
	@scripts/deps.sh test
	@scripts/test-deb.sh

# instructions per request and per event of nginx with the module, under
# callgrind with the real broker (docs/bench.md)
bench-cost: module
	@scripts/deps.sh bench
	@scripts/bench-cost.sh
