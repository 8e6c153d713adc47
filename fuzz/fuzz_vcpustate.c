/* libFuzzer target for a vCPU's state blob as it arrives from a peer
 * (VCPU_STATE, x86/vcpustate.c): vcpustate_restore against a fake KVM that
 * reads every byte each ioctl would (so an argument pointing past the blob
 * is an out-of-bounds read ASan reports), refuses MSRs and fails ioctls
 * where the input says. Whatever the bytes: 0 or -errno, never a crash,
 * never a read past the blob, and -EINVAL for anything that is not exactly
 * a blob of this VM's shape.
 *
 * vcpustate.c is included, with its ioctl() replaced, so that its private
 * context (which KVM features, the xsave size) can be set without a KVM.
 *
 * Input: flags (F_*), fix-ups (bit 0: make the header and the length
 * right, so the fuzzer gets past the checks), the ioctl number that fails
 * (0xff: none), how many MSRs KVM refuses, the xsave size (4096 + 64 x),
 * the MSR count; then the blob's body (or, without fix-ups, the whole
 * blob). Seeds: fuzz_wire_corpus DIR fuzz_vcpustate. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "util/log.h"

#define CHECK(cond) do { if (!(cond)) __builtin_trap(); } while (0)

static int fake_ioctl(int fd, unsigned long req, ...);
/* vcpustate.c's one-MSR probe struct (a GNU extension gcc takes quietly). */
#pragma clang diagnostic ignored "-Wgnu-variable-sized-type-not-at-end"
#define ioctl fake_ioctl
#include "../src/x86/vcpustate.c"
#undef ioctl

static struct {
	unsigned calls, fail_at, refuse;
	volatile uint8_t sink;
} kvm;

/* Read n bytes as KVM would copy them in. */
static void touch(const void *p, size_t n)
{
	uint8_t tmp[512];

	while (n) {
		size_t k = n < sizeof(tmp) ? n : sizeof(tmp);

		memcpy(tmp, p, k);
		kvm.sink ^= tmp[k - 1];
		p = (const uint8_t *)p + k;
		n -= k;
	}
}

static int fake_ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	(void)fd;
	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (kvm.calls++ == kvm.fail_at) {
		errno = EINVAL;
		return -1;
	}
	if (req == KVM_SET_MSRS) {
		const struct kvm_msrs *m = arg;

		touch(m, sizeof(*m));
		CHECK(m->nmsrs <= MAX_MSRS);
		touch(m->entries, m->nmsrs * sizeof(m->entries[0]));
		/* KVM sets entries up to the first it refuses. */
		if (kvm.refuse && m->nmsrs) {
			kvm.refuse--;
			return (int)(kvm.sink % m->nmsrs);
		}
		return (int)m->nmsrs;
	}
	if (req == KVM_SET_DEVICE_ATTR) {
		const struct kvm_device_attr *a = arg;

		touch(a, sizeof(*a));
		touch((const void *)(uintptr_t)a->addr, sizeof(int64_t));
		return 0;
	}
	/* Everything else vcpustate_restore calls is a fixed-size set. */
	CHECK(_IOC_DIR(req) & _IOC_WRITE);
	touch(arg, _IOC_SIZE(req));
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init(1, LOG_ERROR);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vcpustate_ctx c = { 0 };
	struct hdr *h;
	uint8_t *blob;
	size_t len;
	int r;

	if (size < 6)
		return 0;
	c.flags = data[0] & 0x0f;
	c.xsave_size = XSAVE_LEGACY + 64u * (data[4] % 64);
	kvm.calls = 0;
	kvm.fail_at = data[2];
	kvm.refuse = data[3] % 4;
	if (data[1] & 1) {
		struct hdr fixed = { .magic = MAGIC, .format = VCPUSTATE_FORMAT,
				     .flags = (uint16_t)c.flags, .xsave_size = c.xsave_size,
				     .nmsrs = data[5] % 16, .tsc_adjust = (int64_t)size };

		len = blob_size(fixed.flags, fixed.xsave_size, fixed.nmsrs);
		blob = calloc(1, len);
		CHECK(blob);
		memcpy(blob + sizeof(fixed), data + 6,
		       size - 6 < len - sizeof(fixed) ? size - 6 : len - sizeof(fixed));
		memcpy(blob, &fixed, sizeof(fixed));
	} else {
		/* Exactly the input's bytes, so a read past them is caught. */
		len = size - 6;
		blob = malloc(len ? len : 1);
		CHECK(blob);
		memcpy(blob, data + 6, len);
	}
	h = (struct hdr *)blob;
	r = vcpustate_restore(&c, 3, 0, blob, len);
	CHECK(r <= 0 && r >= -4095);
	if (len < sizeof(*h) || h->magic != MAGIC || h->flags != c.flags ||
	    h->xsave_size != c.xsave_size || h->nmsrs > MAX_MSRS ||
	    len != blob_size(h->flags, h->xsave_size, h->nmsrs))
		CHECK(r == -EINVAL);
	free(blob);
	return 0;
}
