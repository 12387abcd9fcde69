# vmrun — see README.md. `make` builds the host tool and the guest agent,
# `make guest` the kernel+initramfs, `make image` the default base image,
# `make check` runs the tests, `make bench` the benchmarks.
CC      ?= gcc
PREFIX  ?= /usr/local
BINDIR  ?= $(PREFIX)/bin
DATADIR ?= $(PREFIX)/share/vmrun
LIBEXECDIR ?= $(PREFIX)/libexec/vmrun
MANDIR  ?= $(PREFIX)/share/man
B       := build
WERROR  ?= 1
V       ?= 0

WARN := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
        -Wold-style-definition -Wpointer-arith -Wcast-align -Wwrite-strings -Wundef -Wvla \
        -Wimplicit-fallthrough -Wswitch-enum -Wno-missing-field-initializers
ifeq ($(WERROR),1)
WARN += -Werror
endif
CSTD     := -std=c17 -D_GNU_SOURCE
OPT      ?= -O2 -g
HARDEN   := -D_FORTIFY_SOURCE=3 -fstack-protector-strong
SAN      := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g
HOST_PKGS := libvirt jansson libcrypto
HOST_CFLAGS := $(shell pkg-config --cflags $(HOST_PKGS) 2>/dev/null)
HOST_LIBS   := $(shell pkg-config --libs $(HOST_PKGS) 2>/dev/null) -lm
CPPFLAGS_ALL := -Iguest-agent -Iorchestrator -DVMRUN_DATADIR='"$(DATADIR)"' \
                -DVMRUN_LIBEXECDIR='"$(LIBEXECDIR)"'

ifeq ($(V),0)
Q = @
quiet = @printf '  %-7s %s\n' $(1) $(2);
else
Q =
quiet =
endif

DIFF_SRCS  := orchestrator/diff.c orchestrator/diffcmp.c orchestrator/difftree.c orchestrator/cmd_diff.c \
              orchestrator/main_diff.c
ORCH_SRCS  := $(filter-out orchestrator/main.c orchestrator/cmd_%.c $(DIFF_SRCS),$(wildcard orchestrator/*.c)) guest-agent/wire.c
CMD_SRCS   := orchestrator/cmd_run.c orchestrator/cmd_doctor.c
DIFF_CFLAGS := $(shell pkg-config --cflags libguestfs 2>/dev/null)
DIFF_LIBS   := $(shell pkg-config --libs libguestfs 2>/dev/null)
ORCH_OBJS  := $(patsubst %.c,$(B)/host/%.o,$(ORCH_SRCS))
AGENT_SRCS := $(wildcard guest-agent/*.c)

all: $(B)/vmrun $(B)/vmrun-diff $(B)/guest/vmrun-agent
.PHONY: all guest image deps demo check install clean lint unit agent-tests vm-tests diff-tests fuzz-replay bench bench-diff

$(B)/host/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(CSTD) $(OPT) $(HARDEN) -fPIE -MMD -MP $(WARN) $(CPPFLAGS_ALL) $(HOST_CFLAGS) $(DIFF_CFLAGS) -c $< -o $@

$(B)/libvmrun.a: $(ORCH_OBJS)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(B)/vmrun: $(B)/host/orchestrator/main.o $(patsubst %.c,$(B)/host/%.o,$(CMD_SRCS)) $(B)/libvmrun.a
	$(call quiet,LINK,$@)$(CC) -pie -Wl,-z,relro,-z,now -o $@ $^ $(HOST_LIBS)

# The disk diff runs in its own helper process (orchestrator/main_diff.c says why).
$(B)/vmrun-diff: $(patsubst %.c,$(B)/host/%.o,$(DIFF_SRCS)) $(B)/libvmrun.a
	$(call quiet,LINK,$@)$(CC) -pie -Wl,-z,relro,-z,now -o $@ $^ $(DIFF_LIBS) $(HOST_LIBS)

-include $(shell find $(B)/host $(B)/san $(B)/agent $(B)/tests -name "*.d" -type f 2>/dev/null)

# ---- tests ---------------------------------------------------------------
# Unit tests link the host library built with ASan+UBSan.
SAN_OBJS   := $(patsubst %.c,$(B)/san/%.o,$(ORCH_SRCS))
UNIT_TESTS := $(patsubst tests/unit/%.c,$(B)/tests/unit/%,$(wildcard tests/unit/*.c))
TEST_WARN  := $(WARN) -Wno-write-strings

$(B)/san/%.o: %.c
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(CSTD) $(SAN) -MMD -MP $(WARN) $(CPPFLAGS_ALL) $(HOST_CFLAGS) -c $< -o $@

$(B)/libvmrun-san.a: $(SAN_OBJS)
	$(call quiet,AR,$@)rm -f $@ && ar rcs $@ $^

$(B)/tests/unit/%: tests/unit/%.c tests/tap.h $(B)/libvmrun-san.a
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(CSTD) $(SAN) $(TEST_WARN) $(CPPFLAGS_ALL) $(HOST_CFLAGS) $< $(B)/libvmrun-san.a $(HOST_LIBS) -o $@

# Agent tests drive the agent over a Unix socket, no VM: once against the
# static agent that ships, once with agent and test under ASan+UBSan.
$(B)/tests/agent/test_agent: tests/agent/test_agent.c tests/tap.h guest-agent/wire.c $(AGENT_HDRS)
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(CSTD) $(OPT) $(TEST_WARN) -Iguest-agent $< guest-agent/wire.c -ljansson -o $@
$(B)/san/tests/agent/test_agent: tests/agent/test_agent.c tests/tap.h guest-agent/wire.c $(AGENT_HDRS)
	@mkdir -p $(dir $@)
	$(call quiet,CC,$@)$(CC) $(CSTD) $(SAN) $(TEST_WARN) -Iguest-agent $< guest-agent/wire.c -ljansson -o $@
$(B)/san/guest/vmrun-agent: $(AGENT_SRCS) $(AGENT_HDRS)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(CSTD) $(SAN) $(WARN) -Iguest-agent $(AGENT_SRCS) -ljansson -o $@

# Disk layouts for the VM tests (raw, MBR, GPT, backing-file qcow2).
$(B)/images/test/.stamp: $(B)/images/default.qcow2 images/build-test-images.sh
	$(call quiet,IMAGES,$(B)/images/test)bash images/build-test-images.sh --base $< $(B)/images/test

# ---- fuzz ------------------------------------------------------------------
# Each harness in tests/fuzz is built twice: with $(CC) + ASan/UBSan and
# tests/fuzz/replay.c, replaying the kept corpus (make check, make fuzz-replay);
# and with clang + libFuzzer to explore (make fuzz FUZZ=fuzz_wire).
FUZZ_HARNESSES := fuzz_wire fuzz_qcow2 fuzz_report fuzz_cli fuzz_reply \
                  fuzz_channel fuzz_diffpath fuzz_diffimg fuzz_diff fuzz_report_build
FUZZ_SRCS_fuzz_wire   := guest-agent/wire.c
FUZZ_SRCS_fuzz_qcow2  := orchestrator/image.c orchestrator/fileio.c orchestrator/error.c
FUZZ_SRCS_fuzz_report := orchestrator/report.c orchestrator/error.c
FUZZ_SRCS_fuzz_cli    := orchestrator/cli.c orchestrator/error.c
FUZZ_SRCS_fuzz_reply  := orchestrator/reply.c guest-agent/wire.c
FUZZ_SRCS_fuzz_channel  := orchestrator/channel.c orchestrator/usock.c orchestrator/deadline.c \
                           orchestrator/error.c guest-agent/wire.c
FUZZ_SRCS_fuzz_diffpath := orchestrator/diffpath.c orchestrator/report.c orchestrator/error.c
FUZZ_SRCS_fuzz_diffimg  := orchestrator/diffimg.c orchestrator/command.c orchestrator/deadline.c \
                           orchestrator/error.c
# fuzz_diff defines the libguestfs calls and command_capture itself (a fake
# appliance and qemu-img driven by the input): no libguestfs, no command.c.
FUZZ_SRCS_fuzz_diff     := orchestrator/diff.c orchestrator/diffcmp.c orchestrator/difftree.c \
                           orchestrator/diffimg.c orchestrator/diffpath.c orchestrator/report.c \
                           orchestrator/fileio.c orchestrator/deadline.c orchestrator/error.c
FUZZ_SRCS_fuzz_report_build := orchestrator/report.c orchestrator/changes.c \
                               orchestrator/diffpath.c orchestrator/error.c
FUZZ_DEPS  := tests/fuzz/fuzz.h $(foreach h,$(FUZZ_HARNESSES),$(FUZZ_SRCS_$(h))) \
              $(wildcard guest-agent/*.h orchestrator/*.h)
FUZZ_FLAGS := $(CSTD) -Iguest-agent -Iorchestrator -Itests/fuzz
FUZZ_LIBS  := -ljansson -lcrypto -lm
FUZZ_CC    ?= clang
FUZZ_TIME  ?= 240
FUZZ       ?= $(FUZZ_HARNESSES)
FUZZ_REPLAYS := $(patsubst %,$(B)/fuzz/replay_%,$(FUZZ_HARNESSES))

$(B)/fuzz/replay_%: tests/fuzz/%.c tests/fuzz/replay.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(FUZZ_FLAGS) $(SAN) $(WARN) $< tests/fuzz/replay.c $(FUZZ_SRCS_$*) $(FUZZ_LIBS) -o $@

$(B)/fuzz/%-fuzzer: tests/fuzz/%.c $(FUZZ_DEPS)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -O1 -g $(WARN) $< $(FUZZ_SRCS_$*) $(FUZZ_LIBS) -o $@

fuzz-replay: $(FUZZ_REPLAYS)
	@rc=0; for h in $(FUZZ_HARNESSES); do echo "# $$h"; $(B)/fuzz/replay_$$h tests/fuzz/corpus/$$h || rc=1; done; exit $$rc

fuzz-build: $(patsubst %,$(B)/fuzz/%-fuzzer,$(FUZZ_HARNESSES))

# Explore each harness named in FUZZ (default: all) for FUZZ_TIME seconds, into
# a scratch corpus seeded from the kept one; crashes land in $(B)/fuzz/.
fuzz: $(patsubst %,$(B)/fuzz/%-fuzzer,$(FUZZ))
	@for h in $(FUZZ); do mkdir -p $(B)/fuzz/work/$$h; \
		$(B)/fuzz/$$h-fuzzer -max_total_time=$(FUZZ_TIME) -rss_limit_mb=2048 \
			-artifact_prefix=$(B)/fuzz/ $(B)/fuzz/work/$$h tests/fuzz/corpus/$$h || exit 1; done

# Fold what the scratch corpora found into the kept ones (only inputs with new features).
fuzz-merge: $(patsubst %,$(B)/fuzz/%-fuzzer,$(FUZZ))
	@for h in $(FUZZ); do $(B)/fuzz/$$h-fuzzer -merge=1 -rss_limit_mb=2048 \
		tests/fuzz/corpus/$$h $(B)/fuzz/work/$$h || exit 1; done
.PHONY: fuzz fuzz-build fuzz-merge

TEST_BINS := $(UNIT_TESTS) $(B)/tests/agent/test_agent $(B)/san/tests/agent/test_agent \
             $(B)/san/guest/vmrun-agent $(FUZZ_REPLAYS)

unit: $(UNIT_TESTS)
	@tests/check.sh $(foreach t,$(UNIT_TESTS),"unit $(notdir $(t))" $(t) ";;")

agent-tests: $(B)/guest/vmrun-agent $(B)/tests/agent/test_agent $(B)/san/tests/agent/test_agent $(B)/san/guest/vmrun-agent
	@tests/check.sh "agent" env VMRUN_AGENT=$(B)/guest/vmrun-agent $(B)/tests/agent/test_agent ";;" \
		"agent (asan)" env VMRUN_AGENT=$(B)/san/guest/vmrun-agent $(B)/san/tests/agent/test_agent

vm-tests: all guest image $(B)/images/test/.stamp
	@tests/vm/run.sh

diff-tests: all
	@tests/diff/run.sh

# Faults survived: the guest, agent, QEMU, libvirt or host disk fail mid-run,
# hostile channel traffic, two runs at once (root: mounts a tmpfs).
.PHONY: fault-tests stress
fault-tests: all guest image
	@tests/vm/faults.sh

# 50 hostile runs back to back, then a normal one; nothing may leak. Minutes
# under TCG, so not part of check.
stress: all guest image
	@tests/stress/hostile.sh

# Everything: unit and agent tiers under ASan+UBSan, the fuzz corpus replayed,
# then real VMs under whatever accelerator this host has.
check: all guest image $(B)/images/test/.stamp $(TEST_BINS)
	@tests/check.sh \
		$(foreach t,$(UNIT_TESTS),"unit $(notdir $(t))" $(t) ";;") \
		"agent" env VMRUN_AGENT=$(B)/guest/vmrun-agent $(B)/tests/agent/test_agent ";;" \
		"agent (asan)" env VMRUN_AGENT=$(B)/san/guest/vmrun-agent $(B)/san/tests/agent/test_agent ";;" \
		$(foreach t,$(FUZZ_REPLAYS),"fuzz replay $(notdir $(t))" $(t) tests/fuzz/corpus/$(subst replay_,,$(notdir $(t))) ";;") \
		"vm" tests/vm/run.sh ";;" \
		"faults" tests/vm/faults.sh ";;" \
		"diff" tests/diff/run.sh

# ---- guest: agent, initramfs, kernel --------------------------------------
AGENT_HDRS := $(wildcard guest-agent/*.h)
# Static (PIE) so the initramfs needs nothing but this one file.
$(B)/guest/vmrun-agent: $(AGENT_SRCS) $(AGENT_HDRS)
	@mkdir -p $(dir $@)
	$(call quiet,CCLD,$@)$(CC) $(CSTD) $(OPT) $(HARDEN) $(WARN) -Iguest-agent -fPIE -static-pie \
		-Wl,-z,relro,-z,now $(AGENT_SRCS) -ljansson -o $@

$(B)/guest/initramfs.cpio: $(B)/guest/vmrun-agent images/mkinitramfs.sh
	$(call quiet,CPIO,$@)bash images/mkinitramfs.sh $< $@

# build-kernel.sh is incremental and cached on its own stamp.
$(B)/guest/vmlinux: images/kernel/vmrun.config images/build-kernel.sh
	@mkdir -p $(dir $@)
	$(call quiet,KERNEL,$@)bash images/build-kernel.sh $(B)/kernel
	$(Q)cp $(B)/kernel/vmlinux $@

guest: $(B)/guest/vmlinux $(B)/guest/initramfs.cpio

# ---- images ----------------------------------------------------------------
$(B)/images/default.qcow2: images/build-image.sh
	@mkdir -p $(dir $@)
	$(call quiet,IMAGE,$@)bash images/build-image.sh $@

image: $(B)/images/default.qcow2

# ---- set-up and demo -------------------------------------------------------
# Debian packages vmrun needs to build, run and test (root: apt-get).
deps:
	bash images/install-deps.sh

demo: all guest image
	$(B)/vmrun $(B)/images/default.qcow2 examples/hello.py world

# ---- install ---------------------------------------------------------------
install: all guest
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(B)/vmrun $(DESTDIR)$(BINDIR)/vmrun
	install -d $(DESTDIR)$(LIBEXECDIR)
	install -m 0755 $(B)/vmrun-diff $(DESTDIR)$(LIBEXECDIR)/vmrun-diff
	install -m 0644 $(B)/guest/vmlinux $(B)/guest/initramfs.cpio $(DESTDIR)$(DATADIR)/
	install -m 0644 docs/vmrun.1 $(DESTDIR)$(MANDIR)/man1/vmrun.1

clean:
	rm -rf $(B)/host $(B)/san $(B)/tests $(B)/fuzz $(B)/guest $(B)/vmrun $(B)/vmrun-diff $(B)/libvmrun*.a

# ---- benchmarks ---------------------------------------------------------------
# Tables and ratios measured side by side in one run (bench/README.md); never
# part of the tests.
bench: all guest image
	bash bench/run.sh

# vmrun diff against virt-diff on the same pairs (issue 3). Separate from
# bench: virt-diff alone takes about half an hour here under TCG.
bench-diff: all image
	BASE=$(B)/images/default.qcow2 bash bench/diff.sh

# ---- lint --------------------------------------------------------------------
LINT_SRCS := $(wildcard orchestrator/*.[ch] guest-agent/*.[ch] tests/*.h tests/unit/*.c tests/agent/*.c tests/fuzz/*.c)
lint:
	clang-format --dry-run -Werror $(LINT_SRCS)
