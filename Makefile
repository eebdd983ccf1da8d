# xdpwg — WireGuard-compatible VPN gateway with an XDP/AF_XDP data plane.
#
#   make            build/xdpwgd, build/xdpwgctl (and the BPF object + skeleton)
#   make deps       install build and test dependencies from Debian 12 (apt-get, idempotent)
#   make test       build and run every test (TAP through prove); SAN=1 for ASan+UBSan
#   make check      clang-format and cppcheck clean
#   make demo       the roaming demo (namespaces, needs root)
#   make bench      throughput benchmark against wireguard-go; bench-roam, bench-flood too
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
	    -D_GNU_SOURCE -pthread -Iheaders -Iuser -I$(BUILD) $(SANFLAGS)
LDFLAGS  += -pthread $(SANFLAGS)
LDLIBS   := -lbpf -lxdp -lsodium -lcrypto -lmnl -lelf -lz

BPF_CFLAGS := -O2 -g -Wall -Werror -target bpf -I/usr/include/x86_64-linux-gnu -Iheaders

# The core library: every user/*.c except the daemon's main.
LIB_SRCS   := $(filter-out user/main.c,$(wildcard user/*.c))
LIB_OBJS   := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
LIB        := $(BUILD)/libxdpwg.a
CTL_SRCS   := $(wildcard tools/xdpwgctl/*.c)
CTL_OBJS   := $(CTL_SRCS:%.c=$(BUILD)/obj/%.o)
TOOL_SRCS  := $(wildcard tools/*.c)
TOOLS      := $(TOOL_SRCS:tools/%.c=$(BUILD)/tools/%)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNITS      := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%)
BPFT_SRCS  := $(wildcard tests/bpf/test_*.c)
BPFTS      := $(BPFT_SRCS:tests/bpf/%.c=$(BUILD)/tests/bpf/%)
NET_TESTS  := $(sort $(wildcard tests/net/*.t))
# the fuzz harnesses' seed corpora and kept crash/mismatch inputs, replayed (not fuzzed)
FUZZ_TESTS := tests/fuzz/replay.t
BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.bpf.o)
SKELS      := $(BPF_SRCS:bpf/%.bpf.c=$(BUILD)/%.skel.h)

BINS := $(BUILD)/xdpwgd $(BUILD)/xdpwgctl

.PHONY: all deps deps-vm test test-unit check format demo bench bench-roam bench-flood fuzz \
	vmtest install clean
.DEFAULT_GOAL := all
# keep the BPF object and skeleton when a later step fails
.SECONDARY:

all: $(BINS) $(TOOLS)

deps:
	@tools/deps.sh

deps-vm:
	@tools/deps.sh --vm

$(BUILD)/%.bpf.o: bpf/%.bpf.c $(wildcard headers/*.h bpf/*.h) | $(BUILD)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/%.skel.h: $(BUILD)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $* > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c | $(SKELS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/xdpwgd: $(BUILD)/obj/user/main.o $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/xdpwgctl: $(CTL_OBJS) $(LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tools/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(BUILD)/obj/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/bpf/%: $(BUILD)/obj/tests/bpf/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD):
	@mkdir -p $@

# Everything, then prove over unit, BPF and namespace tests. XDPWG_BUILD tells the
# scripts which binaries to drive (build/ or build/san/).
test: deps
	@$(MAKE) --no-print-directory all-tests
	@XDPWG_BUILD=$(abspath $(BUILD)) tests/run $(UNITS) $(BPFTS) $(NET_TESTS) $(FUZZ_TESTS)

test-unit: all-tests
	@XDPWG_BUILD=$(abspath $(BUILD)) tests/run $(UNITS)

.PHONY: all-tests
all-tests: all $(UNITS) $(BPFTS)

check:
	@tools/check.sh

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

demo: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) tools/demo.sh

bench bench-roam bench-flood: deps
	@$(MAKE) --no-print-directory all
	@XDPWG_BUILD=$(abspath $(BUILD)) tools/$@.sh

fuzz:
	@tools/fuzz.sh

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
	install -m 0644 docs/man/xdpwgd.8 docs/man/xdpwgctl.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 tools/systemd/xdpwgd.env.example $(DESTDIR)$(PREFIX)/share/doc/xdpwg/
	sed -e 's|/usr/sbin/xdpwgd|$(PREFIX)/sbin/xdpwgd|g' \
	    -e 's|/usr/bin/xdpwgctl|$(PREFIX)/bin/xdpwgctl|g' \
	    tools/systemd/xdpwgd@.service >$(BUILD)/xdpwgd@.service
	install -m 0644 $(BUILD)/xdpwgd@.service \
		$(DESTDIR)$(if $(filter /usr,$(PREFIX)),,$(PREFIX))/lib/systemd/system/xdpwgd@.service

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
