#include "pci/msix.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci.h"

#define CTRL_ENABLE 0x8000
#define CTRL_MASKALL 0x4000
#define ENTRY_MASKED 1u

struct msix {
	pthread_mutex_t lock;	/* table, pending, enabled, masked */
	struct pci_dev *dev;
	unsigned cap;		/* config offset of the capability */
	unsigned nvec;
	uint32_t table_off, pba_off;
	uint32_t table[MSIX_MAX_VECTORS][4];	/* addr lo, addr hi, data, control */
	uint64_t pending;
	bool enabled, masked;
	msix_send_fn send;
	void *opaque;
};

struct msix *msix_new(struct pci_dev *d, unsigned nvec, int bar, uint32_t table_off,
		      uint32_t pba_off, msix_send_fn send, void *opaque)
{
	struct msix *m;
	uint16_t ctrl = (uint16_t)(nvec - 1);
	uint32_t t = table_off | (uint32_t)bar, p = pba_off | (uint32_t)bar;

	if (!nvec || nvec > MSIX_MAX_VECTORS || bar < 0 || bar >= PCI_NR_BARS ||
	    (table_off & 7) || (pba_off & 7))
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	/* id, next, message control (the guest writes its top two bits),
	 * table offset/BIR, PBA offset/BIR. */
	m->cap = pci_add_cap(d, PCI_CAP_ID_MSIX, 12, 12);
	if (!m->cap) {
		free(m);
		return NULL;
	}
	pci_cfg_set(d, m->cap + 2, &ctrl, 2);
	pci_cfg_set_wmask(d, m->cap + 3, 0xc0, 1);
	pci_cfg_set(d, m->cap + 4, &t, 4);
	pci_cfg_set(d, m->cap + 8, &p, 4);
	pthread_mutex_init(&m->lock, NULL);
	m->dev = d;
	m->nvec = nvec;
	m->table_off = table_off;
	m->pba_off = pba_off;
	m->send = send;
	m->opaque = opaque;
	/* Vectors start masked (6.8.2.9). */
	for (unsigned i = 0; i < nvec; i++)
		m->table[i][3] = ENTRY_MASKED;
	return m;
}

void msix_free(struct msix *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/* With the lock held: may vector v's message leave now? */
static bool can_send(const struct msix *m, unsigned v)
{
	return m->enabled && !m->masked && !(m->table[v][3] & ENTRY_MASKED);
}

/* With the lock held: collect pending vectors that may now leave, clearing
 * their bits; returns how many, their messages in addr[] and data[]. */
static unsigned take_unmasked(struct msix *m, uint64_t *addr, uint32_t *data)
{
	unsigned n = 0;

	for (unsigned v = 0; v < m->nvec; v++) {
		if (!(m->pending >> v & 1) || !can_send(m, v))
			continue;
		m->pending &= ~(1ULL << v);
		addr[n] = (uint64_t)m->table[v][1] << 32 | m->table[v][0];
		data[n++] = m->table[v][2];
	}
	return n;
}

static void send_all(struct msix *m, unsigned n, const uint64_t *addr, const uint32_t *data)
{
	for (unsigned i = 0; i < n; i++)
		m->send(m->opaque, addr[i], data[i]);
}

bool msix_bar_io(struct msix *m, uint64_t offset, void *data, unsigned len,
		 bool is_write)
{
	uint64_t addr[MSIX_MAX_VECTORS];
	uint32_t msg[MSIX_MAX_VECTORS];
	unsigned n = 0;

	if (offset >= m->table_off && offset < m->table_off + m->nvec * MSIX_ENTRY_SIZE) {
		uint64_t o = offset - m->table_off;
		unsigned v = (unsigned)(o / MSIX_ENTRY_SIZE), w = (unsigned)(o % 16) / 4;

		/* Dword or qword accesses, aligned (6.8.2): anything else
		 * reads as zero and writes nothing. */
		if ((len != 4 && len != 8) || (o & (len - 1))) {
			if (!is_write)
				memset(data, 0, len);
			return true;
		}
		pthread_mutex_lock(&m->lock);
		if (is_write) {
			memcpy(&m->table[v][w], data, len);
			m->table[v][3] &= ENTRY_MASKED;	/* other control bits reserved */
			n = take_unmasked(m, addr, msg);
		} else {
			memcpy(data, &m->table[v][w], len);
		}
		pthread_mutex_unlock(&m->lock);
		send_all(m, n, addr, msg);
		return true;
	}
	if (offset >= m->pba_off && offset < m->pba_off + 8) {
		unsigned o = (unsigned)(offset - m->pba_off);

		if (!is_write) {	/* the PBA is read-only */
			uint64_t p;

			pthread_mutex_lock(&m->lock);
			p = m->pending;
			pthread_mutex_unlock(&m->lock);
			memset(data, 0, len);
			memcpy(data, (uint8_t *)&p + o, len < 8 - o ? len : 8 - o);
		}
		return true;
	}
	return false;
}

void msix_cfg_written(struct msix *m)
{
	uint64_t addr[MSIX_MAX_VECTORS];
	uint32_t msg[MSIX_MAX_VECTORS];
	uint16_t ctrl;
	unsigned n;

	pci_cfg_get(m->dev, m->cap + 2, &ctrl, 2);
	pthread_mutex_lock(&m->lock);
	m->enabled = ctrl & CTRL_ENABLE;
	m->masked = ctrl & CTRL_MASKALL;
	n = take_unmasked(m, addr, msg);
	pthread_mutex_unlock(&m->lock);
	send_all(m, n, addr, msg);
}

bool msix_enabled(struct msix *m)
{
	bool e;

	pthread_mutex_lock(&m->lock);
	e = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return e;
}

bool msix_notify(struct msix *m, unsigned vector)
{
	uint64_t addr;
	uint32_t data;

	if (vector >= m->nvec)
		return false;
	pthread_mutex_lock(&m->lock);
	if (!can_send(m, vector)) {
		m->pending |= 1ULL << vector;
		pthread_mutex_unlock(&m->lock);
		return true;
	}
	addr = (uint64_t)m->table[vector][1] << 32 | m->table[vector][0];
	data = m->table[vector][2];
	pthread_mutex_unlock(&m->lock);
	m->send(m->opaque, addr, data);
	return true;
}
