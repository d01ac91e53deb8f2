# ngx_evbus: build, run, test, bench.  See README.md.

SHELL        := /bin/bash
NGX_SRC      ?= /usr/share/nginx/src
BUILD        := $(CURDIR)/build
MODULE       := $(BUILD)/ngx_http_evbus_module.so
NGINX        ?= /usr/sbin/nginx
KAFKA_PORT   ?= 9092
export KAFKA_PORT

SOURCES := config ngx_evbus_module.c $(wildcard src/*.c src/*.h)

.PHONY: all module deps kafka-fetch kafka-start kafka-stop run stop test \
        test-asan unit bench clean

all: module

module: $(MODULE)

deps:
	@scripts/deps.sh build

$(MODULE): $(SOURCES)
	@scripts/deps.sh build
	@scripts/build.sh "$(NGX_SRC)" "$(BUILD)" "$(EVBUS_CC_OPT)" \
	    "$(EVBUS_LD_OPT)" "$(MODULE)"

kafka-fetch:
	@scripts/kafka.sh fetch

kafka-start:
	@scripts/kafka.sh start

kafka-stop:
	@scripts/kafka.sh stop

run: module
	@scripts/run.sh start

stop:
	@scripts/run.sh stop

unit:
	@scripts/deps.sh build
	@scripts/unit.sh "$(BUILD)/unit"

test: module unit
	@scripts/deps.sh test
	@scripts/test.sh

test-asan: unit
	@scripts/deps.sh test
	@scripts/test-asan.sh

bench: module
	@scripts/deps.sh bench
	@scripts/bench.sh

clean:
	rm -rf $(BUILD)

# three-broker Kafka fault tests (slow; see docs/faults.md)
.PHONY: test-cluster
test-cluster: module
	@scripts/deps.sh test
	@scripts/test-cluster.sh

# libFuzzer over the event core and schemas, FUZZ_TIME seconds (default 60)
.PHONY: fuzz
fuzz:
	@scripts/deps.sh build
	@scripts/fuzz.sh

# Debian package libnginx-mod-http-evbus into build/ (docs/packaging.md)
.PHONY: deb test-deb
deb:
	@scripts/deps.sh deb
	@scripts/deb.sh

# installs build/'s package on the system nginx, end to end, and purges it
test-deb: deb
	@scripts/deps.sh test
	@scripts/test-deb.sh
