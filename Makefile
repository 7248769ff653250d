# GEARS — top-level build. `make` builds build/gears; see README.md for the rest.
#
#   make            libgears (static + shared) and the gears command, in build/
#   make image      the default guest image (Debian kernel + busybox initramfs)
#   make image VARIANT=mpi  the default image plus Debian's MPICH and the MPI service's
#                   guest side, in build/image-mpi/ (services/mpi)
#   make image KERNEL=PKG   the same for another Debian kernel package (e.g.
#                   linux-image-rt-amd64), in build/image-PKG/; `make initrd KERNEL=PKG`
#                   without the kernel modules (which need that kernel's headers: make deps KERNEL=PKG)
#   make demo       install dependencies, build everything, boot a guest, show it
#   make test       install dependencies, then every test (unit, fuzz, VM) under ASan/UBSan
#   make bench      benchmarks (optimised build), printed as ratios
#
# SAN=1 builds everything under build/asan with AddressSanitizer + UBSan.
# V=1 shows the full commands.

CC      ?= gcc
ifeq ($(V),1)
Q :=
say = @true
else
Q := @
say = @printf '  %-6s %s\n' $(1) $(2)
endif
CLANG   ?= clang
SAN     ?= 0
ROOT    := $(abspath .)

ifeq ($(SAN),1)
O       := build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT     := -O1 -g
else
O       := build
SANFLAGS :=
OPT     := -O2 -g
endif

PKGS    := jansson libbpf
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wvla
CFLAGS  := -std=gnu11 $(OPT) $(WARN) $(SANFLAGS) -Iinclude -Ilib -Isupervisor -Ibuild/gen -Iguest/include -D_GNU_SOURCE \
           -fvisibility=hidden -fPIC $(PKG_CFLAGS) \
           -DGEARS_IMAGE_DIR='"$(ROOT)/build/image"' -DGEARS_GUEST_DIR='"$(ROOT)/build/guest"' \
           -DGEARS_SRC_DIR='"$(ROOT)"' $(EXTRA_CFLAGS)
LDLIBS  := $(PKG_LIBS) -lelf -lz -lpthread
LDFLAGS := $(SANFLAGS)

# Host-side sources: the library; the supervisor and the services' host halves
# (linked into the command, which registers them); the command.
LIB_SRCS := $(wildcard lib/*.c)
SUP_SRCS := $(wildcard supervisor/*.c) $(wildcard services/*/host/*.c) $(wildcard services/*/decode/*.c)
CLI_SRCS := $(wildcard cli/*.c)
LIB_OBJS := $(LIB_SRCS:%.c=$(O)/obj/%.o)
SUP_OBJS := $(SUP_SRCS:%.c=$(O)/obj/%.o)
CLI_OBJS := $(CLI_SRCS:%.c=$(O)/obj/%.o)
UNIT_SRCS := $(wildcard tests/unit/test_*.c) $(wildcard services/*/tests/unit/test_*.c)
UNIT_BINS := $(patsubst %.c,$(O)/tests/%,$(notdir $(UNIT_SRCS)))
FUZZ_SRCS := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRCS))
BENCH_SRCS := $(wildcard bench/*.c)
BENCH_BINS := $(patsubst bench/%.c,build/bench/%,$(BENCH_SRCS)) build/bench/broker_copy

.PHONY: all deps image image-debian demo test unit fuzz vmtest bench clean guest gen payloads
all: $(O)/gears $(O)/libgears.so

# ---- generated sources (shared by every build flavour) ----
GEN := build/gen/sysnames_gen.h build/gen/sc_stub.h build/gen/xlat_gen.h
gen: $(GEN)
build/gen/sysnames_gen.h: scripts/gen-sysnames.sh
	@mkdir -p $(dir $@)
	./scripts/gen-sysnames.sh $@
# The trace decoder's flag and constant names, from the kernel's UAPI headers.
build/gen/xlat_gen.h: scripts/gen-xlat.sh
	@mkdir -p $(dir $@)
	$(call say,GEN,$@)
	$(Q)CC=$(CC) ./scripts/gen-xlat.sh $@

# Guest-context kernel code: freestanding, no SSE, no red zone, linked to run at
# its address in the GEARS region, embedded in libgears as bytes.
STUB_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Iguest/include -ffreestanding -fno-builtin \
	-nostdlib -fpie -fvisibility=hidden -mno-red-zone -mgeneral-regs-only -fno-stack-protector \
	-fno-asynchronous-unwind-tables -fno-jump-tables -fcf-protection=none -fno-plt \
	-mindirect-branch=keep -mfunction-return=keep
build/gen/sc_stub.elf: guest/stubs/sc_stub.c guest/stubs/sc_entry.S guest/stubs/sc_stub.lds \
		guest/include/gears-guest/sc_abi.h
	@mkdir -p $(dir $@)
	$(call say,STUB,$@)
	$(Q)$(CC) $(STUB_CFLAGS) -c guest/stubs/sc_entry.S -o build/gen/sc_entry.o
	$(Q)$(CC) $(STUB_CFLAGS) -c guest/stubs/sc_stub.c -o build/gen/sc_stub.o
	$(Q)ld -nostdlib -static --no-warn-rwx-segments -T guest/stubs/sc_stub.lds -o $@ \
		build/gen/sc_entry.o build/gen/sc_stub.o
build/gen/sc_stub.h: build/gen/sc_stub.elf scripts/stub2c.sh
	./scripts/stub2c.sh $< sc_stub $@

$(LIB_OBJS) $(SUP_OBJS) $(CLI_OBJS): | $(GEN)

deps:
	@KERNEL=$(KERNEL) ./scripts/install-deps.sh

$(O)/obj/%.o: %.c | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,CC,$@)
	$(Q)$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(O)/libgears.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

# The version script lists exactly the functions the public headers declare
# with GEARS_API (scripts/gen-libmap.sh); `make unit` checks the exports.
build/gen/libgears.map: scripts/gen-libmap.sh $(wildcard include/gears/*.h)
	@mkdir -p $(dir $@)
	$(Q)./scripts/gen-libmap.sh include/gears >$@

$(O)/libgears.so: $(LIB_OBJS) build/gen/libgears.map
	$(call say,LD,$@)
	$(Q)$(CC) -shared $(LDFLAGS) -Wl,--version-script=build/gen/libgears.map -Wl,-soname,libgears.so.0 \
		-o $@ $(LIB_OBJS) $(LDLIBS)

# The supervisor and services, as an archive for their unit tests (the command
# links the objects themselves: their SUP_SERVICE registrations must all be in).
$(O)/libgears-sup.a: $(SUP_OBJS)
	@mkdir -p $(dir $@)
	$(call say,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(O)/gears: $(CLI_OBJS) $(SUP_OBJS) $(O)/libgears.a
	$(call say,LD,$@)
	$(Q)$(CC) $(LDFLAGS) -o $@ $(CLI_OBJS) $(SUP_OBJS) $(O)/libgears.a $(LDLIBS)

# ---- guest side: static programs that go into the default image ----
GUEST_CC      := gcc
GUEST_CFLAGS  := -std=gnu11 -O2 -Wall -Wextra -Werror -static -D_GNU_SOURCE -Iguest/include
GUEST_PROGS   := $(patsubst guest/progs/%.c,build/guest/bin/%,$(wildcard guest/progs/*.c)) \
                 $(patsubst guest/progs32/%.c,build/guest/bin/%,$(wildcard guest/progs32/*.c)) \
                 build/guest/bin/gears-agent build/guest/bin/envdump-dyn
# LD_PRELOAD libraries (guest/preload/NAME.c), in the image's /lib/gears.
GUEST_LIBS    := $(patsubst guest/preload/%.c,build/guest/lib/%.so,$(wildcard guest/preload/*.c))
GUEST_DYN_CFLAGS := $(filter-out -static,$(GUEST_CFLAGS))
guest: $(GUEST_PROGS) $(GUEST_LIBS)
build/guest/bin/%: guest/progs/%.c $(wildcard guest/include/*/*.h)
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -o $@ $<
# 32-bit guest programs (compat int 0x80), freestanding: no i386 libc needed.
build/guest/bin/%: guest/progs32/%.c
	@mkdir -p $(dir $@)
	$(call say,GUEST32,$@)
	$(Q)$(GUEST_CC) -m32 -static -nostdlib -ffreestanding -fno-pie -no-pie -O2 -Wall -Wextra -Werror -o $@ $<
build/guest/bin/gears-agent: guest/agent/gears-agent.c
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -o $@ $<
# The same envdump, dynamically linked (the image has the loader and libc).
build/guest/bin/envdump-dyn: guest/progs/envdump.c
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_DYN_CFLAGS) -o $@ $<
build/guest/lib/%.so: guest/preload/%.c
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_DYN_CFLAGS) -shared -fPIC -o $@ $< -ldl

# The MPI accelerator's guest side (services/mpi/guest/NAME.c -> build/mpi/guest/NAME.so):
# PMPI preload libraries, built against Debian's MPICH headers; their PMPI_* calls
# bind, lazily, to the MPI library of the program they are preloaded into.
MPI_CFLAGS     := $(shell pkg-config --cflags mpich 2>/dev/null)
MPI_GUEST_LIBS := $(patsubst services/mpi/guest/%.c,build/mpi/guest/%.so,$(wildcard services/mpi/guest/*.c))
build/mpi/guest/%.so: services/mpi/guest/%.c $(wildcard services/mpi/guest/*.h) guest/include/gears-guest/hypercall.h
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) $(GUEST_DYN_CFLAGS) $(MPI_CFLAGS) -shared -fPIC -fvisibility=hidden -o $@ $< -ldl
# MPI test programs, built with the host's mpicc as a user would (run in the
# guests by gears mpirun, through the share service).
MPI_TEST_PROGS := $(patsubst services/mpi/tests/progs/%.c,build/mpi/tests/%,$(wildcard services/mpi/tests/progs/*.c))
build/mpi/tests/%: services/mpi/tests/progs/%.c
	@mkdir -p $(dir $@)
	$(call say,MPICC,$@)
	$(Q)mpicc -O2 -Wall -Wextra -Werror -o $@ $<
# The MPI benchmark programs (services/mpi/bench/osu_NAME.c), built the same way.
MPI_BENCH_PROGS := $(patsubst services/mpi/bench/%.c,build/mpi/bench/%,$(wildcard services/mpi/bench/osu_*.c))
build/mpi/bench/%: services/mpi/bench/%.c
	@mkdir -p $(dir $@)
	$(call say,MPICC,$@)
	$(Q)mpicc -O2 -Wall -Wextra -Werror -o $@ $<
mpi: $(MPI_GUEST_LIBS) $(MPI_TEST_PROGS) $(MPI_BENCH_PROGS)
.PHONY: mpi

# Payloads for `gears inject`: static-pie, no libc, no SSE (the target's vector
# registers are not saved around them); the runtime (rt.c) is linked into each.
PAYLOAD_CFLAGS := -std=gnu11 -O2 -Wall -Wextra -Werror -Iguest/include -fPIE -static-pie -nostdlib \
	-ffreestanding -fno-builtin -fno-stack-protector -mgeneral-regs-only -fno-asynchronous-unwind-tables \
	-fcf-protection=none -Wl,-z,norelro -Wl,--no-dynamic-linker -Wl,-e,_start -Wl,--build-id=none
PAYLOADS := $(patsubst guest/payloads/%.c,build/guest/payloads/%,$(filter-out guest/payloads/rt.c,$(wildcard guest/payloads/*.c)))
payloads: $(PAYLOADS)
build/guest/payloads/%: guest/payloads/%.c guest/payloads/rt.c guest/include/gears-guest/payload.h \
		guest/include/gears-guest/hypercall.h
	@mkdir -p $(dir $@)
	$(call say,PAYLOAD,$@)
	$(Q)$(GUEST_CC) $(PAYLOAD_CFLAGS) -o $@ guest/payloads/rt.c $<

# ---- guest images and kernel modules ----
# KERNEL=PKG picks the guest kernel package; the default image (build/image, whose
# modules are build/guest/modules) is linux-image-cloud-amd64's. Any other package gets
# its own image directory, cached like the default one, with its modules inside.
DEFAULT_KERNEL := linux-image-cloud-amd64
KERNEL  ?= $(DEFAULT_KERNEL)
ifeq ($(KERNEL),$(DEFAULT_KERNEL))
IMAGE_DIR := build/image
KMOD_DIR  := build/guest/modules
else
IMAGE_DIR := build/image-$(KERNEL)
KMOD_DIR  := $(IMAGE_DIR)/modules
endif
# The kernels of the VM tests' smoke matrix (tests/vm/test_kernel_*.sh: one boot each;
# test_rt.sh boots the PREEMPT_RT one again). One that cannot be downloaded says why in
# its image's `unavailable` file, and its tests skip with that reason.
MATRIX_KERNELS := linux-image-cloud-amd64 linux-image-amd64 linux-image-rt-amd64 \
	linux-image-6.12-cloud-amd64 linux-image-6.12-amd64 linux-image-6.12-rt-amd64
# VARIANT=mpi: the same kernel and initramfs plus MPICH (scripts/build-image.sh), in
# IMAGE_DIR-mpi; no kernel modules of its own (the plain image's serve it).
VARIANT ?=
ifneq ($(VARIANT),)
IMAGE_DIR := $(IMAGE_DIR)-$(VARIANT)
endif

# guest/modules/NAME.c -> $(KMOD_DIR)/NAME.ko, built by kbuild against
# /usr/src/linux-headers-REL (scripts/install-deps.sh installs it), REL being the
# guest kernel's release as the image build recorded it in $(IMAGE_DIR)/release. kbuild
# writes next to its sources, so each module is built from a copy in
# $(KMOD_DIR)/src/NAME/. MAKEFLAGS is dropped so that our command line (CC=,
# O=, EXTRA_CFLAGS=, ...) cannot override the headers' own settings (gcc-12).
# Not put in the initramfs: these are loaded into the guest from the host.
# Services' guest modules (services/NAME/accel/guest/*.c) are built the same way,
# with their service's directory on the include path (its host<->guest ABI header).
SVC_MOD_SRCS := $(wildcard services/*/accel/guest/*.c)
GUEST_MODS := $(patsubst guest/modules/%.c,$(KMOD_DIR)/%.ko,$(wildcard guest/modules/*.c)) \
	$(foreach m,$(SVC_MOD_SRCS),$(KMOD_DIR)/$(notdir $(m:.c=.ko)))
$(IMAGE_DIR)/release: $(IMAGE_DIR)/initrd.img ;
# $(call kmod,NAME,SOURCE,EXTRA_CCFLAGS)
define kmod
	@mkdir -p $(KMOD_DIR)/src/$(1)
	$(call say,KMOD,$@)
	$(Q)rel=$$(cat $(IMAGE_DIR)/release) && kdir=/usr/src/linux-headers-$$rel && \
	if [ ! -f "$$kdir/Makefile" ]; then \
		echo "no $$kdir: install linux-headers-$$rel (make deps KERNEL=$(KERNEL))" >&2; exit 1; fi && \
	d=$(KMOD_DIR)/src/$(1) && \
	{ cmp -s $(2) $$d/$(1).c || cp $(2) $$d/$(1).c; } && \
	printf 'obj-m := %s.o\nccflags-y := -Werror %s\n' $(1) '$(3)' >$$d/Kbuild && \
	env -u MAKEFLAGS -u MFLAGS $(MAKE) -s -C "$$kdir" M=$(ROOT)/$$d modules && \
	cp $$d/$(1).ko $@
endef
$(KMOD_DIR)/%.ko: guest/modules/%.c $(IMAGE_DIR)/release
	$(call kmod,$*,$<,)
$(KMOD_DIR)/gears_vnet_accel.ko: services/vnet/accel/guest/gears_vnet_accel.c services/vnet/accel/vnet_accel_abi.h \
		$(IMAGE_DIR)/release
	$(call kmod,gears_vnet_accel,$<,-I$(ROOT)/services/vnet/accel)

.PHONY: initrd
ifeq ($(VARIANT),)
image: $(IMAGE_DIR)/initrd.img $(GUEST_MODS)
else
image: $(IMAGE_DIR)/initrd.img
endif
initrd: $(IMAGE_DIR)/initrd.img
VARIANT_DEPS := $(if $(filter mpi,$(VARIANT)),$(MPI_GUEST_LIBS) $(wildcard services/mpi/guest/*.sh))
$(IMAGE_DIR)/initrd.img: $(GUEST_PROGS) $(GUEST_LIBS) guest/init/init scripts/build-image.sh $(VARIANT_DEPS)
	VARIANT=$(VARIANT) MPI_GUEST_DIR=$(ROOT)/build/mpi/guest ./scripts/build-image.sh $(IMAGE_DIR) build/guest $(KERNEL)

# A real distribution on a disk for the disk-guest tests (debootstrap; root only),
# with the default image's kernel package so its modules load there too.
image-debian: build/image/release
	@./scripts/build-debian-image.sh build/image-debian \
		"$$(ls build/image/dl/linux-image-$$(cat build/image/release)_*.deb | head -n 1)"

# ---- tests ----
$(O)/tests/%: tests/unit/%.c $(O)/libgears.a tests/unit/testlib.h
	@mkdir -p $(dir $@)
	$(call say,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(O)/libgears.a $(LDLIBS) $(LDFLAGS)
$(O)/tests/%: services/*/tests/unit/%.c $(O)/libgears-sup.a $(O)/libgears.a tests/unit/testlib.h
	@mkdir -p $(dir $@)
	$(call say,TEST,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -o $@ $< $(O)/libgears-sup.a $(O)/libgears.a $(LDLIBS) $(LDFLAGS)

# payload loader test data: a static-pie payload, embedded as bytes in the
# unit test and the fuzzer (scripts/bin2c.sh: xxd is not in a minimal Debian).
build/gen/payload_sample.elf: tests/unit/payload_sample.c
	@mkdir -p $(dir $@)
	$(call say,GUEST,$@)
	$(Q)$(GUEST_CC) -O2 -fPIE -static-pie -nostdlib -ffreestanding -fno-stack-protector -mgeneral-regs-only \
		-fno-asynchronous-unwind-tables -Wl,-z,norelro -Wl,--no-dynamic-linker -Wl,-e,_start -o $@ $<
build/gen/payload_sample.h: build/gen/payload_sample.elf scripts/bin2c.sh
	$(Q)./scripts/bin2c.sh payload_sample $< $@
$(O)/tests/test_payload: build/gen/payload_sample.h
build/fuzz/fuzz_payload: build/gen/payload_sample.h

unit: $(UNIT_BINS) $(O)/libgears.so
	@./tests/run-unit.sh $(UNIT_BINS)
	@./tests/check-exports.sh $(O)/libgears.so include/gears

# libFuzzer targets: each links the library sources built with clang.
FUZZ_CFLAGS := -std=gnu11 -g -O1 -Iinclude -Ilib -Ibuild/gen -Iguest/include -D_GNU_SOURCE $(PKG_CFLAGS) \
               -DGEARS_IMAGE_DIR='"$(ROOT)/build/image"' -DGEARS_GUEST_DIR='"$(ROOT)/build/guest"' \
               -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
build/fuzz/%: tests/fuzz/%.c $(LIB_SRCS) | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(LDLIBS)
# The VNET fuzzer reaches into the service's parsers and switching core
# (services/vnet/host: no supervisor needed for those).
VNET_CORE_SRCS := services/vnet/host/vnet_wire.c services/vnet/host/vnet_switch.c services/vnet/host/vnet_virtq.c
build/fuzz/fuzz_vnet: tests/fuzz/fuzz_vnet.c $(LIB_SRCS) $(VNET_CORE_SRCS) | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(VNET_CORE_SRCS) $(LDLIBS)
# The accelerator's fuzzer drives its host half (and its loop) as QEMU and the guest would.
VNET_ACCEL_SRCS := $(VNET_CORE_SRCS) services/vnet/host/vnet_accel.c services/vnet/host/vnet_loop.c
build/fuzz/fuzz_vnet_accel: tests/fuzz/fuzz_vnet_accel.c $(LIB_SRCS) $(VNET_ACCEL_SRCS) | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) $(VNET_ACCEL_SRCS) $(LDLIBS)
# The MPI broker's fuzzer drives its hypercalls with hostile page tables.
build/fuzz/fuzz_mpi_broker: tests/fuzz/fuzz_mpi_broker.c $(LIB_SRCS) services/mpi/host/mpi_broker.c | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,FUZZ,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -o $@ $< $(LIB_SRCS) services/mpi/host/mpi_broker.c $(LDLIBS)
FUZZ_SECONDS ?= 20
fuzz: $(FUZZ_BINS)
	@./tests/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# The disk-guest test needs the Debian disk, which only root can build.
VMTEST_IMAGES := image $(if $(filter 0,$(shell id -u)),image-debian)
vmtest: $(O)/gears $(VMTEST_IMAGES) payloads
	@for k in $(filter-out $(DEFAULT_KERNEL),$(MATRIX_KERNELS)); do \
		$(MAKE) -s KERNEL=$$k image || \
		echo "vmtest: no $$k image ($$(cat build/image-$$k/unavailable 2>/dev/null || echo 'build failed')): its tests will skip" >&2; \
	done
	@$(MAKE) -s VARIANT=mpi image mpi
	@GEARS=$(ROOT)/$(O)/gears ./tests/run-vm.sh

test:
	@KERNEL="$(MATRIX_KERNELS)" ./scripts/install-deps.sh
	$(MAKE) SAN=1 all unit
	$(MAKE) fuzz
	$(MAKE) SAN=1 vmtest

build/bench/%: bench/%.c build/libgears.a | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,BENCH,$@)
	$(Q)$(CC) $(CFLAGS) -o $@ $< build/libgears.a $(LDLIBS)

# The MPI broker's copy alone (services/mpi/bench/broker_copy.c: no VM, no MPI).
build/bench/broker_copy: services/mpi/bench/broker_copy.c build/libgears-sup.a build/libgears.a | $(GEN)
	@mkdir -p $(dir $@)
	$(call say,BENCH,$@)
	$(Q)$(CC) $(CFLAGS) -Itests/unit -o $@ $< build/libgears-sup.a build/libgears.a $(LDLIBS)

bench: deps all $(VMTEST_IMAGES) payloads $(BENCH_BINS)
	@$(MAKE) -s VARIANT=mpi image mpi
	@GEARS=$(ROOT)/build/gears ./bench/run.sh

demo: deps
	$(MAKE) all image payloads
	./scripts/demo.sh

clean:
	rm -rf build

-include $(shell find build/obj build/asan/obj -type f -name '*.d' 2>/dev/null)
