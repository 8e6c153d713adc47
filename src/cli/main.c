/* amalgam: command line entry. Only main() decides to exit; everything
 * below returns errors. Exit status 2 is for bad input (flags, files,
 * host setup), 1 for a guest that crashed, otherwise the guest's own. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/config.h"
#include "irq/lapic.h"
#include "util/log.h"
#include "vmm/board.h"
#include "vmm/iobus.h"
#include "vmm/vcpu.h"
#include "vmm/vm.h"
#include "x86/boot.h"
#include "x86/regs.h"

#define EXIT_USAGE 2

static void usage(void)
{
	printf(
"Usage: amalgam COMMAND [options]\n"
"\n"
"Amalgam runs one virtual x86-64 machine across several KVM hosts.\n"
"\n"
"Commands:\n"
"  run       boot a guest (see 'amalgam run --help')\n"
"\n"
"Options:\n"
"  -h, --help     this text\n"
"  --version      print the version\n");
}

static void print_stats(struct vm *vm)
{
	struct iobus_stats io;

	iobus_stats(vm->iobus, &io);
	fprintf(stderr, "amalgam stats: pio=%lu (unclaimed %lu) mmio=%lu (unclaimed %lu)\n",
		(unsigned long)io.accesses[IO_PIO], (unsigned long)io.unclaimed[IO_PIO],
		(unsigned long)io.accesses[IO_MMIO], (unsigned long)io.unclaimed[IO_MMIO]);
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu_stats *s = &vm->vcpus[i]->stats;
		struct lapic_stats ls;
		lapic_stats(vm->vcpus[i]->lapic, &ls);
		fprintf(stderr,
			"  vcpu %u: exits=%lu io=%lu mmio=%lu msr=%lu hlt=%lu irqwin=%lu kicks=%lu injected=%lu"
			" ipis_sent=%lu irqs=%lu timer=%lu\n", i,
			(unsigned long)s->exits, (unsigned long)s->io_exits,
			(unsigned long)s->mmio_exits, (unsigned long)s->msr_exits,
			(unsigned long)s->hlt_exits, (unsigned long)s->irq_window_exits,
			(unsigned long)s->intr_exits, (unsigned long)s->injected,
			(unsigned long)ls.ipis_sent, (unsigned long)ls.irqs_accepted,
			(unsigned long)ls.timer_fires);
	}
}

static const char *kvm_error(int err)
{
	switch (err) {
	case -ENOENT: return "/dev/kvm does not exist: is KVM enabled (kvm_intel/kvm_amd loaded)?";
	case -EACCES:
	case -EPERM: return "no permission to open /dev/kvm: run as root or join the 'kvm' group";
	case -ENOTSUP: return "this kernel's KVM lacks a feature amalgam needs";
	default: return NULL;
	}
}

static int cmd_run(int argc, char **argv)
{
	struct config cfg;
	struct vm vm;
	struct vm_config vc;
	struct boot_config bc;
	struct boot_entry entry;
	struct board *board = NULL;
	char err[512];
	int r, status;

	r = config_parse_run(&cfg, argc, argv, err, sizeof(err));
	if (r == 1)
		return 0;
	if (r < 0) {
		fprintf(stderr, "amalgam: %s\n", err);
		return EXIT_USAGE;
	}
	log_init(0, cfg.log_level);
	if (access(cfg.kernel, R_OK) != 0) {
		fprintf(stderr, "amalgam: cannot read kernel '%s': %s\n", cfg.kernel,
			strerror(errno));
		return EXIT_USAGE;
	}
	if (cfg.initrd && access(cfg.initrd, R_OK) != 0) {
		fprintf(stderr, "amalgam: cannot read initrd '%s': %s\n", cfg.initrd,
			strerror(errno));
		return EXIT_USAGE;
	}
	r = vcpu_global_init();
	if (r) {
		fprintf(stderr, "amalgam: cannot set up signals: %s\n", strerror(-r));
		return 1;
	}
	vc = (struct vm_config){ .nr_vcpus = cfg.cpus, .mem_size = cfg.memory };
	r = vm_create(&vm, &vc);
	if (r) {
		const char *why = kvm_error(r);
		if (why)
			fprintf(stderr, "amalgam: %s\n", why);
		else
			fprintf(stderr, "amalgam: cannot create the VM: %s\n", strerror(-r));
		return EXIT_USAGE;
	}
	bc = (struct boot_config){
		.kernel = cfg.kernel, .initrd = cfg.initrd, .cmdline = cfg.append,
		.nr_cpus = cfg.cpus, .ioapic_base = 0xFEC00000ULL,
	};
	r = boot_load(&vm.mem, &bc, &entry, err, sizeof(err));
	if (r) {
		fprintf(stderr, "amalgam: %s\n", err);
		vm_destroy(&vm);
		return EXIT_USAGE;
	}
	board = board_create(&vm, STDOUT_FILENO, STDIN_FILENO);
	if (!board) {
		vm_destroy(&vm);
		return 1;
	}
	r = regs_set_boot64(vm.vcpus[0]->fd, &entry);
	if (r) {
		fprintf(stderr, "amalgam: cannot set boot registers: %s\n", strerror(-r));
		board_destroy(board);
		vm_destroy(&vm);
		return 1;
	}
	vm_start(&vm);
	status = vm_wait(&vm);
	board_flush(board);
	if (status != 0 || cfg.log_level >= LOG_INFO)
		pr_info("stopped: %s", vm.stop_reason);
	if (status != 0 && !strstr(vm.stop_reason, "test guest exited"))
		fprintf(stderr, "amalgam: %s\n", vm.stop_reason);
	if (cfg.stats)
		print_stats(&vm);
	board_destroy(board);
	vm_destroy(&vm);
	return status;
}

int main(int argc, char **argv)
{
	sigset_t set;

	/* Only vCPU threads take the kick signal. */
	sigemptyset(&set);
	sigaddset(&set, SIGRTMIN);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	setvbuf(stdout, NULL, _IONBF, 0);

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage();
		return argc < 2 ? EXIT_USAGE : 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("amalgam 0.1.0\n");
		return 0;
	}
	if (!strcmp(argv[1], "run"))
		return cmd_run(argc - 1, argv + 1);
	fprintf(stderr, "amalgam: unknown command '%s' (see 'amalgam --help')\n", argv[1]);
	return EXIT_USAGE;
}
