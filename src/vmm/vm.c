#include "vmm/vm.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "irq/apicbus.h"
#include "irq/ioapic.h"
#include "irq/lapic.h"
#include "irq/pic.h"
#include "util/log.h"
#include "hw/iobus.h"
#include "vmm/vcpu.h"
#include "x86/cpuid.h"
#include "x86/msr.h"
#include "x86/vcpustate.h"

/* The xAPIC page is per vCPU: the access goes to the lapic of whichever
 * vCPU made it. */
static int lapic_mmio_fn(void *opaque, struct vcpu *vcpu, uint64_t offset,
			 void *data, unsigned len, bool is_write)
{
	if (!vcpu)
		return -EINVAL;
	return lapic_mmio(vcpu->lapic, offset, data, len, is_write);
}

/* PIC INTR output: the BSP's LINT0 (virtual-wire mode). */
static void pic_intr(void *opaque, int level)
{
	struct vm *vm = opaque;

	if (vm->vcpus[0])
		lapic_set_lint(vm->vcpus[0]->lapic, 0, level);
}

void vm_set_irq(void *opaque, unsigned gsi, int level)
{
	struct vm *vm = opaque;

	if (gsi < 16 && vm->pic)
		pic_set_irq(vm->pic, gsi, level);
	/* ISA IRQ 0 is wired to IOAPIC pin 2 (see the MP table). */
	if (vm->ioapic)
		ioapic_set_irq(vm->ioapic, gsi == 0 ? 2 : gsi, level);
}

static int check_caps(struct vm *vm)
{
	static const struct { int cap; const char *name; } need[] = {
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_X86_USER_SPACE_MSR, "KVM_CAP_X86_USER_SPACE_MSR" },
		{ KVM_CAP_X86_MSR_FILTER, "KVM_CAP_X86_MSR_FILTER" },
		{ KVM_CAP_GET_TSC_KHZ, "KVM_CAP_GET_TSC_KHZ" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};

	for (unsigned i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			pr_err("this KVM lacks %s", need[i].name);
			return -ENOTSUP;
		}
	return 0;
}

int vm_create(struct vm *vm, const struct vm_config *cfg,
	      const struct vm_hooks *hooks, void *opaque)
{
	int err, tsc;

	memset(vm, 0, sizeof(*vm));
	vm->kvm_fd = vm->vm_fd = -1;
	vm->mem.fd = -1;
	pthread_mutex_init(&vm->stop_lock, NULL);
	pthread_cond_init(&vm->stop_cond, NULL);
	if (cfg->nr_vcpus < 1 || cfg->nr_vcpus > VM_MAX_VCPUS)
		return -EINVAL;
	vm->nr_vcpus = cfg->nr_vcpus;
	vm->hide_kvmclock = cfg->hide_kvmclock;
	vm->remote_devices = cfg->remote_devices;
	if (hooks)
		vm->hooks = *hooks;
	vm->hooks_opaque = opaque;
	for (unsigned i = 0; i < cfg->nr_vcpus; i++) {
		vm->local[i] = !cfg->place || cfg->place[i] == cfg->self;
		vm->nr_local += vm->local[i];
	}
	if (topo_init(&vm->topo, cfg->nr_vcpus, cfg->place))
		return -EINVAL;

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0)
		return -errno;
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		err = -ENOTSUP;
		goto fail;
	}
	err = check_caps(vm);
	if (err)
		goto fail;
	vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	if (vm->vm_fd < 0) {
		err = -errno;
		goto fail;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		err = -EIO;
		goto fail;
	}
	/* Real mode needs these on VMX; harmless elsewhere. Both sit in the
	 * MMIO hole below the IOAPIC. */
	ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, 0xfffbd000UL);
	{
		uint64_t idmap = 0xfffbc000ULL;
		ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap);
	}
	err = msr_setup(vm->vm_fd);
	if (err)
		goto fail;
	/* A VM-wide ioctl on newer kernels; vcpu_create asks its vCPU else. */
	tsc = ioctl(vm->vm_fd, KVM_GET_TSC_KHZ, 0);
	vm->tsc_khz = tsc > 0 ? (uint64_t)tsc : 0;

	err = guest_mem_init(&vm->mem, cfg->mem_size);
	if (err)
		goto fail;
	err = guest_mem_map(&vm->mem, vm->vm_fd);
	if (err)
		goto fail;
	err = cpuid_template(vm->kvm_fd, &vm->cpuid);
	if (err)
		goto fail;

	vm->iobus = iobus_new();
	vm->apicbus = apicbus_new(vm->nr_vcpus);
	vm->ioapic = vm->apicbus ? ioapic_new(vm->apicbus, vm->topo.ioapic_id) : NULL;
	vm->pic = pic_new(pic_intr, vm);
	if (!vm->iobus || !vm->apicbus || !vm->ioapic || !vm->pic) {
		err = -ENOMEM;
		goto fail;
	}
	err = iobus_register(vm->iobus, IO_MMIO, LAPIC_BASE_DEFAULT, LAPIC_MMIO_SIZE,
			     lapic_mmio_fn, vm, "lapic");
	if (!err && !cfg->remote_devices)
		err = iobus_register(vm->iobus, IO_MMIO, IOAPIC_BASE_DEFAULT,
				     IOAPIC_MMIO_SIZE, ioapic_mmio, vm->ioapic, "ioapic");
	if (!err && !cfg->remote_devices)
		err = pic_register(vm->pic, vm->iobus);
	if (err)
		goto fail;

	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		err = vcpu_create(vm, i, &vm->vcpus[i]);
		if (err) {
			pr_err("cannot create vcpu %u: %s", i, strerror(-err));
			goto fail;
		}
		/* IPIs to a vCPU on another node are the CPU plane's job; its
		 * lapic here refuses them until the vCPU moves here. */
		err = apicbus_attach(vm->apicbus, i, vm->vcpus[i]->lapic);
		if (!err)
			err = apicbus_set_apic_id(vm->apicbus, i, vm->topo.apic_id[i]);
		if (!err && !vm->local[i]) {
			err = apicbus_set_remote(vm->apicbus, i, true);
			lapic_set_departed(vm->vcpus[i]->lapic, true);
		}
		if (err)
			goto fail;
	}
	if (vm->hooks.irq_out)
		apicbus_set_forward(vm->apicbus, vm->hooks.irq_out, opaque);
	if (cfg->remote_devices && vm->hooks.io_out)
		iobus_set_fallback(vm->iobus, vm->hooks.io_out, opaque);
	if (cfg->place) {
		err = vcpustate_ctx_new(&vm->vstate, vm->kvm_fd, vm->vcpus[0]->fd);
		if (err) {
			pr_err("cannot read what a vCPU's state is made of: %s", strerror(-err));
			goto fail;
		}
	}
	return 0;
fail:
	vm_destroy(vm);
	return err;
}

void vm_destroy(struct vm *vm)
{
	for (unsigned i = 0; i < VM_MAX_VCPUS; i++) {
		if (vm->vcpus[i]) {
			vcpu_join(vm->vcpus[i]);
			vcpu_destroy(vm->vcpus[i]);
			vm->vcpus[i] = NULL;
		}
	}
	if (vm->pic)
		pic_free(vm->pic);
	if (vm->ioapic)
		ioapic_free(vm->ioapic);
	if (vm->apicbus)
		apicbus_free(vm->apicbus);
	if (vm->iobus)
		iobus_free(vm->iobus);
	vm->pic = NULL;
	vm->ioapic = NULL;
	vm->apicbus = NULL;
	vm->iobus = NULL;
	free(vm->cpuid);
	vm->cpuid = NULL;
	vcpustate_ctx_free(vm->vstate);
	vm->vstate = NULL;
	if (vm->mem.fd >= 0)
		guest_mem_destroy(&vm->mem);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
	vm->vm_fd = vm->kvm_fd = -1;
}

int vm_set_tsc_offset(struct vm *vm, int64_t offset)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		int err = vcpu_set_tsc_offset(vm->vcpus[i], offset);
		if (err)
			return err;
	}
	vm->tsc_offset = offset;
	return 0;
}

int vm_start(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++) {
		int err;

		/* Every vCPU gets its thread on every node; those not here
		 * wait for their vCPU to arrive. */
		err = vcpu_start(vm->vcpus[i]);
		if (err) {
			vm_stop(vm, 1, "cannot start vcpu %u: %s", i, strerror(-err));
			return err;
		}
	}
	return 0;
}

void vm_stop(struct vm *vm, int status, const char *fmt, ...)
{
	va_list ap;
	bool first;

	pthread_mutex_lock(&vm->stop_lock);
	first = !vm->stopping;
	if (first) {
		vm->exit_status = status;
		va_start(ap, fmt);
		vsnprintf(vm->stop_reason, sizeof(vm->stop_reason), fmt, ap);
		va_end(ap);
		__atomic_store_n(&vm->stopping, true, __ATOMIC_SEQ_CST);
		pthread_cond_broadcast(&vm->stop_cond);
	}
	pthread_mutex_unlock(&vm->stop_lock);
	if (!first)
		return;
	if (vm->hooks.stopped)
		vm->hooks.stopped(vm->hooks_opaque, status, vm->stop_reason);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			vcpu_kick(vm->vcpus[i]);
}

bool vm_stopping(struct vm *vm)
{
	return __atomic_load_n(&vm->stopping, __ATOMIC_SEQ_CST);
}

void vm_pause(struct vm *vm, bool paused)
{
	__atomic_store_n(&vm->paused, paused, __ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			vcpu_kick(vm->vcpus[i]);
}

bool vm_paused(struct vm *vm)
{
	return __atomic_load_n(&vm->paused, __ATOMIC_SEQ_CST);
}

int vm_wait_stopped(struct vm *vm)
{
	pthread_mutex_lock(&vm->stop_lock);
	while (!vm->stopping)
		pthread_cond_wait(&vm->stop_cond, &vm->stop_lock);
	pthread_mutex_unlock(&vm->stop_lock);
	return vm->exit_status;
}

void vm_join(struct vm *vm)
{
	for (unsigned i = 0; i < vm->nr_vcpus; i++)
		if (vm->vcpus[i])
			vcpu_join(vm->vcpus[i]);
}

int vm_wait(struct vm *vm)
{
	int status = vm_wait_stopped(vm);

	vm_join(vm);
	return status;
}
