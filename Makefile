# SPDX-License-Identifier: GPL-2.0
#
# Out-of-tree build of gfn_to_pfn.ko against a configured and built 6.12 or
# 7.3 tree with CONFIG_RUST=y and that series' patches (patches/SERIES/)
# applied:
#
#   make KDIR=/path/to/linux LLVM=-19 RUSTC=/usr/bin/rustc BINDGEN=bindgen
#
# LLVM, RUSTC, BINDGEN and other variables given on the command line reach
# the kernel's build system unchanged.  The test bed targets (demo, check,
# bench, soak, kernel) live in testbed/.

KDIR ?= /lib/modules/$(shell uname -r)/build

# First testbed/kdir-check.sh: a wrong KDIR or rustc fails with one line
# saying what to do, not with pages of compiler errors.  It checks the
# rustc the kernel's build will run: RUSTC from make's command line, else
# rustc (the kernel's Makefile sets RUSTC over the environment's).  A copy
# of the sources without testbed/ builds unchecked.
modules:
	$(if $(wildcard testbed/kdir-check.sh),@RUSTC='$(if $(filter command line,$(origin RUSTC)),$(RUSTC),rustc)' \
		bash testbed/kdir-check.sh '$(KDIR)')
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean

# Build the patched test kernel and module, boot it, translate a live guest.
demo:
	bash testbed/demo.sh

# Host unit tests, then the in-guest suite on the fast and debug kernels.
check:
	bash testbed/check.sh

# Translation speed against pagemap, printed as a table of ratios.
bench:
	bash testbed/bench.sh

# The long hardening run (fuzzing, races, leaks scaled up), about an hour.
soak:
	bash testbed/soak.sh

kernel:
	bash testbed/kernel.sh fast

# gfn_to_pfn.ko for a distribution's own, unmodified kernel, built as its
# users would: in a root of that release, with its toolchain and its
# kernel's source and headers packages (testbed/distro/NAME.conf; cached,
# needs root).  The .ko's absolute path is the last line of output.
#   make distro-module DISTRO=debian-7.3 [GFN_SYMBOLS=kallsyms]
distro-module:
	@bash testbed/distro-module.sh '$(DISTRO)'

.PHONY: modules clean demo check bench soak kernel distro-module
