# xdpwg — WireGuard-compatible VPN gateway with an XDP/AF_XDP data plane.
#
#   make            build/xdpwgd, build/xdpwgctl (and the BPF object + skeleton)
#   make deps       install build and test dependencies from Debian 12 (apt-get, idempotent)
#   make test       build and run every test (TAP through prove); SAN=1 for ASan+UBSan
#   make check      clang-format, cppcheck and the layering check clean
#   make demo       the roaming demo (namespaces, needs root); demo-cluster across three gateways
#   make bench      throughput benchmark against wireguard-go (bench-tunnels last); bench-roam
#                   (then bench-paths), bench-flood, bench-tunnels, bench-paths, bench-cluster
#                   (roaming across the gateways of a cluster) alone too
#   make vmtest     the suite inside a VM with the kernel's WireGuard as peer
#   make install    DESTDIR and PREFIX honoured

CC       ?= gcc
CLANG    ?= clang
BPFTOOL  ?= bpftool
PREFIX   ?= /usr/local
SAN      ?= 0

ifeq ($(SAN),1)
BUILD    ?= build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else
BUILD    ?= build
SANFLAGS :=
endif

CFLAGS   ?= -O2 -g
CFLAGS   += -std=gnu11 -Wall -Wextra -Werror -Wshadow -Wno-missing-field-initializers \
	    -D_GNU_SOURCE -pthread $(SANFLAGS)
LDFLAGS  += -pthread $(SANFLAGS)
LDLIBS   := -lbpf -lxdp -lsodium -lcrypto -lmnl -lelf -lz
# the etcd client (lib/etcd.c): libcurl for HTTP, json-c for etcd's JSON gateway
CFLAGS   += $(shell pkg-config --cflags libcurl json-c)
LDLIBS   += $(shell pkg-config --libs libcurl json-c)

BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu -Iheaders

# The layers (docs/architecture.md), one static library each. A layer sees only the include
# directories of the layers it may use, so a wrong include fails the build; scripts/layers.sh
# (make check) also checks the symbols each library calls.
#   lib     what every binary may link      headers/ lib/
#   engine  the protocol, no I/O            + engine/
#   io      the back-ends                   + io/ (and the BPF skeleton)
#   daemon  xdpwgd                          + daemon/
#   ctl     xdpwgctl                        headers/ lib/ ctl/ only
LAYER_INC_lib    := -Iheaders -Ilib
LAYER_INC_engine := $(LAYER_INC_lib) -Iengine
LAYER_INC_io     := $(LAYER_INC_engine) -Iio -I$(BUILD)
LAYER_INC_daemon := $(LAYER_INC_io) -Idaemon
LAYER_INC_ctl    := $(LAYER_INC_lib) -Ictl
# tests, benchmarks and test helpers may reach into any layer but the ctl
LAYER_INC_all    := $(LAYER_INC_daemon) -Itests/unit

LAYERS      := lib engine io daemon
LAYER_SRCS   = $(filter-out daemon/main.c,$(wildcard $(1)/*.c))
LAYER_LIB    = $(BUILD)/libxdpwg-$(1).a
LIB_LIB     := $(call LAYER_LIB,lib)
ENGINE_LIB  := $(call LAYER_LIB,engine)
IO_LIB      := $(call LAYER_LIB,io)
DAEMON_LIB  := $(call LAYER_LIB,daemon)
# link order: a layer before the layers it uses
ALL_LIBS    := $(DAEMON_LIB) $(IO_LIB) $(ENGINE_LIB) $(LIB_LIB)
CTL_SRCS    := $(wildcard ctl/*.c)
CTL_OBJS    := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
BENCH_SRCS  := $(wildcard bench/*.c)
BENCHES     := $(BENCH_SRCS:bench/%.c=$(BUILD)/bench/%)
HELPER_SRCS := $(wildcard tests/helpers/*.c)
HELPERS     := $(HELPER_SRCS:tests/helpers/%.c=$(BUILD)/tests/helpers/%)
UNIT_SRCS   := $(wildcard tests/unit/test_*.c)
UNITS       := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
BPFT_SRCS   := $(wildcard tests/bpf/test_*.c)
BPFTS       := $(BPFT_SRCS:tests/bpf/%.c=$(BUILD)/tests/bpf/%)
NET_TESTS   := $(sort $(wildcard tests/net/*.t))
BUILD_TESTS := $(sort $(wildcard tests/build/*.t))
# the fuzz harnesses' seed corpora and kept crash/mismatch inputs, replayed (not fuzzed)
FUZZ_TESTS  := tests/fuzz/replay.t
BPF_SRCS    := $(wildcard bpf/*.bpf.c)
BPF_OBJS    := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.bpf.o)
SKELS       := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)

BINS := $(BUILD)/xdpwgd $(BUILD)/xdpwgctl

.PHONY: all deps deps-vm test test-unit check format demo demo-cluster bench bench-roam \
	bench-flood bench-tunnels bench-paths bench-cluster fuzz vmtest install clean
.DEFAULT_GOAL := all
# keep the BPF object and skeleton when a later step fails
.SECONDARY: $(BPF_OBJS) $(SKELS)

all: $(BINS) $(BENCHES) $(HELPERS)

deps:
	@scripts/deps.sh

deps-vm:
	@scripts/deps.sh --vm

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard headers/*.h bpf/*.h) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/lib/%.o: INC = $(LAYER_INC_lib)
$(BUILD)/obj/engine/%.o: INC = $(LAYER_INC_engine)
$(BUILD)/obj/io/%.o: INC = $(LAYER_INC_io)
$(BUILD)/obj/daemon/%.o: INC = $(LAYER_INC_daemon)
$(BUILD)/obj/ctl/%.o: INC = $(LAYER_INC_ctl)
$(BUILD)/obj/%.o: INC ?= $(LAYER_INC_all)

$(BUILD)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(INC) -MMD -MP -c $< -o $@

define LAYER_RULE
$(call LAYER_LIB,$(1)): $$(patsubst %.c,$(BUILD)/obj/%.o,$$(call LAYER_SRCS,$(1)))
	@rm -f $$@
	ar rcs $$@ $$^
endef
$(foreach l,$(LAYERS),$(eval $(call LAYER_RULE,$(l))))

$(BUILD)/xdpwgd: $(BUILD)/obj/daemon/main.o $(ALL_LIBS)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# the ctl links lib/ alone: `nm build/xdpwgctl` shows no engine, io or daemon symbol
$(BUILD)/xdpwgctl: $(CTL_OBJS) $(LIB_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/helpers/%: $(BUILD)/obj/tests/helpers/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# every allocation counted, so that each can be refused in turn
$(BUILD)/tests/unit/test_apply_atomic: LDFLAGS += \
	-Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc,--wrap=crypto_secure_alloc

$(BUILD)/tests/bpf/%: $(BUILD)/obj/tests/bpf/%.o $(ALL_LIBS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD):
	@mkdir -p $@

# Everything, then prove over unit, BPF and namespace tests. XDPWG_BUILD tells the
# scripts which binaries to drive (build/ or build/san/).
test: deps
	@$(MAKE) --no-print-directory all-tests
	@XDPWG_BUILD=$(abspath $(BUILD)) tests/run $(UNITS) $(BPFTS) $(BUILD_TESTS) $(NET_TESTS) $(FUZZ_TESTS)

test-unit: all-tests
	@XDPWG_BUILD=$(abspath $(BUILD)) tests/run $(UNITS)

.PHONY: all-tests
all-tests: all $(UNITS) $(BPFTS)

check: all
	@XDPWG_BUILD=$(abspath $(BUILD)) scripts/check.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

demo: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) scripts/demo.sh

demo-cluster: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) scripts/demo-cluster.sh

bench-flood bench-tunnels bench-paths: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) bench/$@.sh

# make bench-cluster: roaming across gateways (bench/bench-cluster.sh), then the peer set in etcd
# (bench/bench-cluster-etcd.sh, a lab of its own after the first is gone); BENCH_ETCD=0 leaves
# the second out, BENCH_MILLION=1 adds its first sync of a million peers (issue #21, ~10 min)
bench-cluster: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) bench/bench-cluster.sh
	@[ "$(BENCH_ETCD)" = 0 ] || XDPWG_BUILD=$(abspath $(BUILD)) bench/bench-cluster-etcd.sh
	@[ "$(BENCH_MILLION)" != 1 ] || [ "$(BENCH_ETCD)" = 0 ] || N=1000000 SYNC_REPS=1 ADD_REPS=5 \
		BASELINE=0 XDPWG_BUILD=$(abspath $(BUILD)) bench/bench-cluster-etcd.sh

# make bench-roam: bench/bench-roam.sh (the client's uplink goes away), then bench/bench-paths.sh
# (the path dies while the link stays up, ~13 min); BENCH_PATHS=0 leaves the second out
bench-roam: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) bench/bench-roam.sh
	@[ "$(BENCH_PATHS)" = 0 ] || XDPWG_BUILD=$(abspath $(BUILD)) bench/bench-paths.sh

# make bench ends with bench/bench-tunnels.sh (two tunnels on two cores vs one, ~1.5-2 min), its
# table appended to bench.txt; BENCH_TUNNELS=0 leaves it out
bench: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) bench/bench.sh
	@[ "$(BENCH_TUNNELS)" = 0 ] || \
		XDPWG_BUILD=$(abspath $(BUILD)) BENCH_TUNNELS_APPEND=1 bench/bench-tunnels.sh

fuzz:
	@scripts/fuzz.sh

vmtest: deps-vm
	@$(MAKE) --no-print-directory all-tests
	@vmtest/run

# The daemon goes to sbin: it is a system daemon that needs root (CAP_NET_ADMIN...), and
# wg-quick finds it there through root's PATH. xdpwgctl goes to bin, as wg(8) does: genkey and
# pubkey are for anyone. The unit names the binaries by their installed paths. Its directory is
# systemd's own (/lib/systemd/system) for PREFIX=/usr, $(PREFIX)/lib/systemd/system otherwise.
install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin \
		$(DESTDIR)$(PREFIX)/share/man/man8 $(DESTDIR)$(PREFIX)/share/doc/xdpwg \
		$(DESTDIR)$(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system
	install -m 0755 $(BUILD)/xdpwgd $(DESTDIR)$(PREFIX)/sbin/xdpwgd
	install -m 0755 $(BUILD)/xdpwgctl $(DESTDIR)$(PREFIX)/bin/xdpwgctl
	install -m 0644 dist/man/xdpwgd.8 dist/man/xdpwgctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 dist/systemd/xdpwgd.env.example $(DESTDIR)$(PREFIX)/share/doc/xdpwg/
	sed -e 's|/usr/sbin/xdpwgd|$(PREFIX)/sbin/xdpwgd|g' \
	    -e 's|/usr/bin/xdpwgctl|$(PREFIX)/bin/xdpwgctl|g' \
	    dist/systemd/xdpwgd@.service >$(BUILD)/xdpwgd@.service
	install -m 0644 $(BUILD)/xdpwgd@.service \
		$(DESTDIR)$(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system/xdpwgd@.service
	sed -e 's|/usr/sbin/xdpwgd|$(PREFIX)/sbin/xdpwgd|g' \
	    dist/systemd/xdpwg-quick@.service >$(BUILD)/xdpwg-quick@.service
	install -m 0644 $(BUILD)/xdpwg-quick@.service \
		$(DESTDIR)$(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system/xdpwg-quick@.service

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
