#include "vmm/board.h"

#include <stdio.h>
#include <stdlib.h>

#include "dev/acpipm.h"
#include "dev/debugexit.h"
#include "dev/fwcfg.h"
#include "dev/i8042.h"
#include "dev/pit.h"
#include "dev/rstcnt.h"
#include "dev/rtc.h"
#include "dev/testdev.h"
#include "dev/uart.h"
#include "irq/irqline.h"
#include "pci/pci.h"
#include "util/log.h"
#include "vmm/vm.h"

struct board {
	struct vm *vm;
	struct uart *com1;
	struct rtc *rtc;
	struct i8042 *kbc;
	struct testdev *testdev;
	struct pit *pit;
	struct acpipm *pm;
	struct rstcnt *rst;
	struct fwcfg *fwcfg;
	struct debugexit *dbgexit;	/* NULL unless asked for */
	struct pcibus *pci;		/* NULL without PCI devices */
};


static void on_reset(void *opaque)
{
	struct board *b = opaque;

	vm_stop(b->vm, 0, "guest reset via i8042");
}

static void on_rstcnt(void *opaque)
{
	struct board *b = opaque;

	vm_stop(b->vm, 0, "guest reset via the reset control register (0xcf9)");
}

static void on_debug_exit(void *opaque, int status)
{
	struct board *b = opaque;

	vm_stop(b->vm, status, "guest wrote to isa-debug-exit: status %d", status);
}

static void on_poweroff(void *opaque)
{
	struct board *b = opaque;

	vm_stop(b->vm, 0, "guest powered off (ACPI S5)");
}

static void on_test_exit(void *opaque, int status)
{
	struct board *b = opaque;

	vm_stop(b->vm, status, "test guest exited with status %d", status);
}

struct board *board_create(struct vm *vm, int console_out, int console_in,
			   const struct board_options *opt, char *err, size_t errlen)
{
	struct board *b = calloc(1, sizeof(*b));
	struct uart_config com1 = {
		.base = 0x3f8, .irq = { vm_set_irq, vm, 4 },
		.out_fd = console_out, .in_fd = console_in, .name = "com1",
	};
	struct rtc_config rtc = {
		.mem_below_4g = vm->mem.low_size,
		.mem_above_4g = vm->mem.size - vm->mem.low_size,
	};
	struct acpipm_config pm = { .poweroff = on_poweroff, .poweroff_opaque = b };
	struct fwcfg_config fc = {
		.nr_cpus = (uint16_t)vm->nr_vcpus, .max_cpus = (uint16_t)vm->nr_vcpus,
		.ram_size = vm->mem.size,
	};
	struct i8042_config kbc = {
		.kbd_irq = { vm_set_irq, vm, 1 },
		.aux_irq = { vm_set_irq, vm, 12 },
		.reset = on_reset,
	};

	snprintf(err, errlen, "cannot create the board's devices");
	if (!b)
		return NULL;
	kbc.reset_opaque = b;
	b->vm = vm;
	b->com1 = uart_new(&com1);
	b->rtc = rtc_new(&rtc);
	b->kbc = i8042_new(&kbc);
	b->testdev = testdev_new(on_test_exit, b);
	b->pm = acpipm_new(&pm);
	b->rst = rstcnt_new(on_rstcnt, b);
	b->fwcfg = fwcfg_new(&fc);
	if (!b->com1 || !b->rtc || !b->kbc || !b->testdev || !b->pm || !b->rst ||
	    !b->fwcfg)
		goto fail;
	if (opt->debug_exit) {
		b->dbgexit = debugexit_new(opt->debug_exit_iobase, opt->debug_exit_iosize,
					   on_debug_exit, b);
		if (!b->dbgexit)
			goto fail;
		if (debugexit_register(b->dbgexit, vm->iobus)) {
			snprintf(err, errlen, "isa-debug-exit: ports %#x-%#x are taken by another device",
				 opt->debug_exit_iobase,
				 opt->debug_exit_iobase + opt->debug_exit_iosize - 1);
			goto fail_quiet;
		}
	}
	if (pcibus_wanted(&opt->pci)) {
		if (pcibus_create(vm, &opt->pci, opt->pci_links, &b->pci, err, errlen))
			goto fail_quiet;
	}
	if (opt->with_pit) {
		struct pit_config pc = { .irq0 = { vm_set_irq, vm, 0 } };

		b->pit = pit_new(&pc);
		if (!b->pit || pit_register(b->pit, vm->iobus))
			goto fail;
	}
	if (uart_register(b->com1, vm->iobus) || rtc_register(b->rtc, vm->iobus) ||
	    i8042_register(b->kbc, vm->iobus) ||
	    testdev_register(b->testdev, vm->iobus) ||
	    acpipm_register(b->pm, vm->iobus) || rstcnt_register(b->rst, vm->iobus) ||
	    fwcfg_register(b->fwcfg, vm->iobus))
		goto fail;
	return b;
fail:
	snprintf(err, errlen, "cannot create the board's devices");
fail_quiet:
	board_destroy(b);
	return NULL;
}

void board_flush(struct board *b)
{
	if (b && b->com1)
		uart_flush(b->com1);
}

void board_destroy(struct board *b)
{
	if (!b)
		return;
	if (b->com1)
		uart_free(b->com1);
	if (b->rtc)
		rtc_free(b->rtc);
	if (b->kbc)
		i8042_free(b->kbc);
	if (b->testdev)
		testdev_free(b->testdev);
	if (b->pit)
		pit_free(b->pit);
	if (b->pm)
		acpipm_free(b->pm);
	rstcnt_free(b->rst);
	fwcfg_free(b->fwcfg);
	debugexit_free(b->dbgexit);
	pcibus_destroy(b->pci);
	free(b);
}

void board_print_stats(struct board *b, FILE *f)
{
	if (b)
		pcibus_print_stats(b->pci, f);
}

void board_boot_facts(struct boot_board *out, bool pci)
{
	*out = (struct boot_board){
		.sci_irq = ACPIPM_SCI_IRQ,
		.pm1_base = ACPIPM_BASE,
		.slp_typ_s5 = ACPIPM_SLP_TYP_S5,
		/* Reset through the reset control register, as on q35. */
		.reset_port = RSTCNT_PORT,
		.reset_value = RSTCNT_RESET_VALUE,
	};
	if (pci) {
		out->pci_ecam_base = PCI_ECAM_BASE;
		out->pci_ecam_size = PCI_ECAM_SIZE;
		out->pci_mmio_base = (uint32_t)PCI_MMIO_BASE;
		out->pci_mmio_size = (uint32_t)PCI_MMIO_SIZE;
		out->pci_intx_gsi_base = PCI_INTX_GSI_BASE;
	}
}
