#include "dev/acpipm.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

#include "util/log.h"
#include "hw/iobus.h"

/* The three 16-bit registers, in port order: register r is at 2 * r. */
enum { REG_STS, REG_EN, REG_CNT, NR_REGS };

#define CNT_SCI_EN	0x0001
#define CNT_BM_RLD	0x0002
#define CNT_GBL_RLS	0x0004
#define CNT_SLP_TYP	0x1c00
#define CNT_SLP_TYP_SHIFT 10
#define CNT_SLP_EN	0x2000
/* What PM1_CNT remembers; SCI_EN is forced on at read time. */
#define CNT_STORED	(CNT_BM_RLD | CNT_SLP_TYP)

enum sleep { SLEEP_NONE, SLEEP_POWEROFF, SLEEP_UNSUPPORTED };

struct acpipm {
	pthread_mutex_t lock;	/* everything below */
	struct acpipm_config cfg;
	uint16_t sts, en, cnt;
	bool warned;		/* about an unsupported sleep state */
	struct acpipm_stats stats;
};

static uint16_t reg_read(const struct acpipm *pm, unsigned reg)
{
	switch (reg) {
	case REG_STS:
		return pm->sts;
	case REG_EN:
		return pm->en;
	default:
		return pm->cnt | CNT_SCI_EN;
	}
}

/* Only the bits in mask were written: a byte access must not look like
 * a write of zeroes to the other byte (W1C and SLP_EN care). */
static enum sleep reg_write(struct acpipm *pm, unsigned reg, uint16_t val,
			    uint16_t mask)
{
	unsigned typ;

	val &= mask;
	switch (reg) {
	case REG_STS:
		pm->sts &= ~val;
		return SLEEP_NONE;
	case REG_EN:
		pm->en = (pm->en & ~mask) | val;
		return SLEEP_NONE;
	}
	pm->cnt = ((pm->cnt & ~mask) | val) & CNT_STORED;
	if (!(val & CNT_SLP_EN))
		return SLEEP_NONE;
	typ = (pm->cnt & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;
	if (typ == ACPIPM_SLP_TYP_S5) {
		pm->stats.poweroffs++;
		return SLEEP_POWEROFF;
	}
	pm->stats.unsupported_sleeps++;
	return SLEEP_UNSUPPORTED;
}

static int acpipm_io(void *opaque, struct vcpu *vcpu, uint64_t offset,
		     void *data, unsigned len, bool is_write)
{
	struct acpipm *pm = opaque;
	uint8_t *b = data;
	uint16_t val[NR_REGS] = { 0 }, mask[NR_REGS] = { 0 };
	enum sleep sleep = SLEEP_NONE;
	bool warn = false;
	unsigned typ = 0;

	pthread_mutex_lock(&pm->lock);
	for (unsigned i = 0; i < len; i++) {
		uint64_t port = offset + i;
		unsigned reg = port / 2, shift = port % 2 * 8;

		if (port >= ACPIPM_NR_PORTS) {	/* straddles past the block */
			if (!is_write)
				b[i] = 0xff;
		} else if (is_write) {
			val[reg] |= b[i] << shift;
			mask[reg] |= 0xff << shift;
		} else {
			b[i] = reg_read(pm, reg) >> shift;
		}
	}
	/* One write per register touched, so that a 16- or 32-bit write acts
	 * once on the whole of each register it covers. */
	for (unsigned reg = 0; is_write && reg < NR_REGS; reg++) {
		enum sleep s;

		if (!mask[reg])
			continue;
		s = reg_write(pm, reg, val[reg], mask[reg]);
		if (s == SLEEP_NONE)
			continue;
		sleep = s;
		typ = (pm->cnt & CNT_SLP_TYP) >> CNT_SLP_TYP_SHIFT;
		if (s == SLEEP_UNSUPPORTED && !pm->warned)
			warn = pm->warned = true;
	}
	pthread_mutex_unlock(&pm->lock);

	if (warn)
		pr_warn("acpipm: guest asked for sleep type %u, which this "
			"machine does not have; ignored", typ);
	if (sleep == SLEEP_POWEROFF) {
		pr_info("acpipm: guest requested power off");
		if (pm->cfg.poweroff)
			pm->cfg.poweroff(pm->cfg.poweroff_opaque);
	}
	return 0;
}

struct acpipm *acpipm_new(const struct acpipm_config *cfg)
{
	struct acpipm *pm = calloc(1, sizeof(*pm));

	if (!pm)
		return NULL;
	pm->cfg = *cfg;
	pthread_mutex_init(&pm->lock, NULL);
	return pm;
}

void acpipm_free(struct acpipm *pm)
{
	if (!pm)
		return;
	pthread_mutex_destroy(&pm->lock);
	free(pm);
}

int acpipm_register(struct acpipm *pm, struct iobus *bus)
{
	return iobus_register(bus, IO_PIO, ACPIPM_BASE, ACPIPM_NR_PORTS,
			      acpipm_io, pm, "acpipm");
}

void acpipm_get_stats(struct acpipm *pm, struct acpipm_stats *out)
{
	pthread_mutex_lock(&pm->lock);
	*out = pm->stats;
	pthread_mutex_unlock(&pm->lock);
}
