#include "hw/iobus.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

struct range {
	uint64_t base, len;
	io_fn fn;
	void *opaque;
	const char *name;
};

struct space {
	struct range *r;	/* sorted by base, non-overlapping */
	unsigned n, cap;
	uint64_t accesses, unclaimed;
};

struct iobus {
	struct space sp[IO_NR_SPACES];
	io_fallback_fn fallback;
	void *fallback_opaque;
};

void iobus_set_fallback(struct iobus *bus, io_fallback_fn fn, void *opaque)
{
	bus->fallback_opaque = opaque;
	bus->fallback = fn;
}

struct iobus *iobus_new(void)
{
	return calloc(1, sizeof(struct iobus));
}

void iobus_free(struct iobus *bus)
{
	if (!bus)
		return;
	for (int i = 0; i < IO_NR_SPACES; i++)
		free(bus->sp[i].r);
	free(bus);
}

int iobus_register(struct iobus *bus, enum io_space space, uint64_t base,
		   uint64_t len, io_fn fn, void *opaque, const char *name)
{
	struct space *s = &bus->sp[space];
	unsigned i;

	if (!len || base + len < base)
		return -EINVAL;
	for (i = 0; i < s->n; i++) {
		struct range *r = &s->r[i];
		if (base < r->base + r->len && r->base < base + len) {
			pr_err("io range %s %#lx+%#lx overlaps %s", name,
			       (unsigned long)base, (unsigned long)len, r->name);
			return -EEXIST;
		}
		if (r->base > base)
			break;
	}
	if (s->n == s->cap) {
		unsigned cap = s->cap ? s->cap * 2 : 16;
		struct range *nr = realloc(s->r, cap * sizeof(*nr));
		if (!nr)
			return -ENOMEM;
		s->r = nr;
		s->cap = cap;
	}
	memmove(&s->r[i + 1], &s->r[i], (s->n - i) * sizeof(*s->r));
	s->r[i] = (struct range){ base, len, fn, opaque, name };
	s->n++;
	return 0;
}

static struct range *lookup(struct space *s, uint64_t addr)
{
	unsigned lo = 0, hi = s->n;

	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		struct range *r = &s->r[mid];
		if (addr < r->base)
			hi = mid;
		else if (addr >= r->base + r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

int iobus_access(struct iobus *bus, enum io_space space, struct vcpu *vcpu,
		 uint64_t addr, void *data, unsigned len, bool is_write)
{
	struct space *s = &bus->sp[space];
	struct range *r = lookup(s, addr);

	__atomic_add_fetch(&s->accesses, 1, __ATOMIC_RELAXED);
	if (!r && bus->fallback) {
		return bus->fallback(bus->fallback_opaque, vcpu, space, addr, data,
				     len, is_write);
	}
	if (!r) {
		__atomic_add_fetch(&s->unclaimed, 1, __ATOMIC_RELAXED);
		if (!is_write)
			memset(data, 0xff, len);
		pr_debug("unclaimed %s %s %#lx len %u",
			 space == IO_PIO ? "port" : "mmio",
			 is_write ? "write" : "read", (unsigned long)addr, len);
		return 0;
	}
	return r->fn(r->opaque, vcpu, addr - r->base, data, len, is_write);
}

const char *iobus_owner(struct iobus *bus, enum io_space space, uint64_t addr)
{
	struct range *r = lookup(&bus->sp[space], addr);
	return r ? r->name : NULL;
}

bool iobus_range_at(struct iobus *bus, enum io_space space, unsigned i,
		    struct iobus_range *out)
{
	struct space *sp = &bus->sp[space];

	if (i >= sp->n)
		return false;
	*out = (struct iobus_range){ sp->r[i].base, sp->r[i].len, sp->r[i].name };
	return true;
}

void iobus_stats(struct iobus *bus, struct iobus_stats *out)
{
	for (int i = 0; i < IO_NR_SPACES; i++) {
		out->accesses[i] = __atomic_load_n(&bus->sp[i].accesses, __ATOMIC_RELAXED);
		out->unclaimed[i] = __atomic_load_n(&bus->sp[i].unclaimed, __ATOMIC_RELAXED);
	}
}
