/* virtio-net through a host tap (run by tests/net/net.sh inside a network
 * namespace of its own, where the tap has 10.0.77.1/24 and a UDP echo
 * server listens on port 7777). The guest, 10.0.77.2 with the MAC given
 * as mac=..., drives the rings the way Linux does:
 *  - features (VERSION_1, MAC, STATUS, CSUM, HOST_TSO4), its MAC and
 *    LINK_UP in the configuration;
 *  - ARP: our request goes out, the host kernel's reply comes in (with a
 *    receive interrupt through MSI-X);
 *  - ICMP echo to the host, checksums computed here, and its reply with
 *    valid IP and ICMP checksums;
 *  - UDP with its checksum left to the device (NEEDS_CSUM, the pseudo
 *    header's sum in the field, as Linux sends with checksum offload):
 *    the host kernel would drop it with a wrong checksum, so the echo
 *    coming back shows the header reached the tap; the echo has a valid
 *    checksum (GUEST_CSUM not taken: whole frames only);
 *  - with EVENT_IDX, as Linux drives it (used_event set before each
 *    kick): every transmit completion interrupts;
 *  - with GUEST_CSUM (when the tap takes offloads): the echo again, a
 *    NEEDS_CSUM header completed here as Linux would;
 *  - garbage: a transmit chain too short for the header is dropped and the
 *    device goes on; a descriptor loop makes it DEVICE_NEEDS_RESET, and
 *    after a reset it works again.
 * With 'tapgone' it stops after ARP, prints "virtio-net: up", and waits
 * for the test to delete the tap: the device must become
 * DEVICE_NEEDS_RESET with a configuration interrupt and its link down,
 * and refuse to start again. */
#include "libguest.h"
#include "vdrv.h"

#define VEC_CFG 0x50
#define VEC_RX 0x51
#define QSZ 16
#define NRX 8
#define RXLEN 2048
#define HDR 12

#define F_CSUM (1ull << 0)
#define F_GUEST_CSUM (1ull << 1)
#define F_MAC (1ull << 5)
#define F_HOST_TSO4 (1ull << 11)
#define F_STATUS (1ull << 16)

static struct vdrv d;
static struct vdrv_q rxq, txq;
static uint8_t *rxbuf, *txbuf, mac[6], host_mac[6];
static uint8_t rx_hdr[HDR];	/* the header of the frame being matched */
static const uint8_t my_ip[4] = { 10, 0, 77, 2 }, host_ip[4] = { 10, 0, 77, 1 };
static volatile uint32_t rx_irqs, cfg_irqs;

static void rx_handler(struct irq_frame *f) { rx_irqs++; apic_eoi(); }
static void cfg_handler(struct irq_frame *f) { cfg_irqs++; apic_eoi(); }

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }

static uint32_t sum(const uint8_t *p, unsigned n, uint32_t s)
{
	for (unsigned i = 0; i + 1 < n; i += 2)
		s += be16(p + i);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* mac=52:54:00:aa:bb:01 on our command line. */
static bool parse_mac(void)
{
	const char *s = cmdline();

	for (; *s; s++) {
		if (strncmp(s, "mac=", 4))
			continue;
		s += 4;
		for (int i = 0; i < 6; i++, s += 3) {
			int h = hexval(s[0]), l = hexval(s[1]);

			if (h < 0 || l < 0)
				return false;
			mac[i] = (uint8_t)(h << 4 | l);
		}
		return true;
	}
	return false;
}

static void post_rx(uint16_t i)
{
	rxq.desc[i] = (struct vdrv_desc){ (uint64_t)rxbuf + i * RXLEN, RXLEN, VDRV_D_WRITE, 0 };
	vdrv_post(&d, &rxq, i);
}

/* Send a frame of len bytes from txbuf + HDR (header already there). */
static bool send_frame(unsigned len)
{
	uint32_t id, l;

	txq.desc[0] = (struct vdrv_desc){ (uint64_t)txbuf, HDR + len, 0, 0 };
	vdrv_post(&d, &txq, 0);
	return vdrv_used(&txq, 5000, &id, &l) && id == 0;
}

static void eth(uint8_t *f, const uint8_t *dst, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, mac, 6);
	put16(f + 12, type);
}

static void ip4(uint8_t *ip, unsigned payload, uint8_t proto)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	put16(ip + 2, (uint16_t)(20 + payload));
	put16(ip + 4, 0x1234);
	put16(ip + 6, 0x4000);
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, my_ip, 4);
	memcpy(ip + 16, host_ip, 4);
	put16(ip + 10, (uint16_t)~fold(sum(ip, 20, 0)));
}

typedef bool (*match_fn)(const uint8_t *f, unsigned len);

/* The host asks who has our address (its neighbour entry for us went
 * stale, which a slow run can take): answer, or its replies stop. Only
 * between our own sends: it reuses the transmit buffer. */
static void answer_arp(const uint8_t *f, unsigned len)
{
	uint8_t *o = txbuf + HDR;

	if (len < 42 || be16(f + 12) != 0x0806 || be16(f + 20) != 1 || memcmp(f + 38, my_ip, 4))
		return;
	memset(txbuf, 0, HDR);
	eth(o, f + 22, 0x0806);
	memcpy(o + 14, f + 14, 6);	/* htype, ptype, hlen, plen */
	put16(o + 20, 2);
	memcpy(o + 22, mac, 6);
	memcpy(o + 28, my_ip, 4);
	memcpy(o + 32, f + 22, 10);	/* the asker's MAC and IP */
	send_frame(42);
}

/* Wait for a received frame that 'match' accepts, reposting the others
 * (the host sends IPv6 neighbour traffic too). The frame's header is
 * copied to hdr_out. */
static bool wait_frame(match_fn match, unsigned ms, uint8_t *hdr_out)
{
	for (unsigned tries = 0; tries < 64; tries++) {
		uint32_t id, len;
		bool ok;

		if (!vdrv_used(&rxq, ms, &id, &len))
			return false;
		if (id >= NRX || len < HDR + 14 || len > RXLEN) {
			report(false, "a sane used entry (id %u, len %u)", id, len);
			return false;
		}
		memcpy(rx_hdr, rxbuf + id * RXLEN, HDR);
		ok = match(rxbuf + id * RXLEN + HDR, len - HDR);
		if (!ok)
			answer_arp(rxbuf + id * RXLEN + HDR, len - HDR);
		if (ok && hdr_out)
			memcpy(hdr_out, rx_hdr, HDR);
		post_rx((uint16_t)id);
		if (ok)
			return true;
	}
	return false;
}

static bool is_arp_reply(const uint8_t *f, unsigned len)
{
	if (len < 42 || be16(f + 12) != 0x0806 || be16(f + 20) != 2 ||
	    memcmp(f + 28, host_ip, 4) || memcmp(f + 38, my_ip, 4) || memcmp(f, mac, 6))
		return false;
	memcpy(host_mac, f + 22, 6);
	return true;
}

static bool arp(void)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t *f = txbuf + HDR;

	memset(txbuf, 0, HDR);
	eth(f, bcast, 0x0806);
	put16(f + 14, 1);
	put16(f + 16, 0x0800);
	f[18] = 6;
	f[19] = 4;
	put16(f + 20, 1);
	memcpy(f + 22, mac, 6);
	memcpy(f + 28, my_ip, 4);
	memset(f + 32, 0, 6);
	memcpy(f + 38, host_ip, 4);
	return send_frame(42) && wait_frame(is_arp_reply, 5000, NULL);
}

static uint16_t seq;
static bool is_echo_reply(const uint8_t *f, unsigned len)
{
	const uint8_t *ip = f + 14, *icmp = f + 34;
	unsigned tot;

	if (len < 42 || be16(f + 12) != 0x0800 || ip[9] != 1 || memcmp(ip + 12, host_ip, 4))
		return false;
	tot = be16(ip + 2);
	if (tot < 28 || tot + 14 > len || icmp[0] != 0 || be16(icmp + 6) != seq)
		return false;
	report(fold(sum(ip, 20, 0)) == 0xffff && fold(sum(icmp, tot - 20, 0)) == 0xffff,
	       "echo reply %u: IP and ICMP checksums valid", seq);
	return true;
}

static bool ping(void)
{
	uint8_t *f = txbuf + HDR, *icmp = f + 34;

	memset(txbuf, 0, HDR);
	seq++;
	eth(f, host_mac, 0x0800);
	ip4(f + 14, 8 + 56, 1);
	memset(icmp, 0, 8);
	icmp[0] = 8;
	put16(icmp + 4, 0x77);
	put16(icmp + 6, seq);
	for (unsigned i = 0; i < 56; i++)
		icmp[8 + i] = (uint8_t)i;
	put16(icmp + 2, (uint16_t)~fold(sum(icmp, 64, 0)));
	return send_frame(14 + 20 + 64) && wait_frame(is_echo_reply, 5000, NULL);
}

static const char udp_text[] = "amalgam virtio-net checksum offload";
static bool is_udp_echo(const uint8_t *f, unsigned len)
{
	const uint8_t *ip = f + 14;
	uint8_t *udp = (uint8_t *)f + 34;
	unsigned ulen;
	uint32_t ph;

	if (len < 42 || be16(f + 12) != 0x0800 || ip[9] != 17 || be16(udp) != 7777 ||
	    be16(udp + 2) != 5555)
		return false;
	ulen = be16(udp + 4);
	if (ulen != 8 + sizeof(udp_text) || 34 + ulen > len)
		return false;
	ph = sum(ip + 12, 8, 0) + 17 + ulen;
	report(!memcmp(udp + 8, udp_text, sizeof(udp_text)), "the UDP echo carries our text");
	if (rx_hdr[0] & 1) {
		/* NEEDS_CSUM (GUEST_CSUM taken): the field holds the pseudo
		 * header's sum; finish it as the header says, as Linux would. */
		uint16_t start = *(uint16_t *)(rx_hdr + 6), off = *(uint16_t *)(rx_hdr + 8);

		report(start == 34 && off == 6, "NEEDS_CSUM names the UDP checksum (%u, %u)", start,
		       off);
		if (start == 34 && off == 6) {
			uint16_t c = (uint16_t)~fold(sum(udp, ulen, 0));

			put16(udp + 6, c ? c : 0xffff);
		}
	}
	if (rx_hdr[0] & 2)
		report_info("the device says the checksum is valid (DATA_VALID)");
	else
		report(fold(sum(udp, ulen, ph)) == 0xffff, "its UDP checksum is valid");
	return true;
}

/* UDP to the echo server with the checksum left to the device. */
static bool udp_offload(bool guest_csum)
{
	uint8_t *f = txbuf + HDR, *udp = f + 34;
	unsigned ulen = 8 + sizeof(udp_text);
	uint32_t ph;
	uint8_t h[HDR];

	memset(txbuf, 0, HDR);
	txbuf[0] = 1;			/* VIRTIO_NET_HDR_F_NEEDS_CSUM */
	*(uint16_t *)(txbuf + 6) = 34;	/* csum_start: the UDP header */
	*(uint16_t *)(txbuf + 8) = 6;	/* csum_offset: its checksum */
	eth(f, host_mac, 0x0800);
	ip4(f + 14, ulen, 17);
	put16(udp, 5555);
	put16(udp + 2, 7777);
	put16(udp + 4, (uint16_t)ulen);
	memcpy(udp + 8, udp_text, sizeof(udp_text));
	ph = sum(f + 14 + 12, 8, 0) + 17 + ulen;
	put16(udp + 6, fold(ph));	/* the pseudo header's sum, as Linux leaves it */
	if (!send_frame(34 + ulen) || !wait_frame(is_udp_echo, 5000, h))
		return false;
	if (!guest_csum)
		report(h[0] == 0, "received header: flags 0 without GUEST_CSUM (%u)", h[0]);
	report(*(uint16_t *)(h + 10) == 1, "received header: num_buffers 1 (%u)",
	       *(uint16_t *)(h + 10));
	return true;
}

static uint8_t bring_up(uint64_t features)
{
	vdrv_begin(&d, features, 0);
	vdrv_queue(&d, &rxq, 0, QSZ, 1);
	vdrv_queue(&d, &txq, 1, QSZ, 2);
	/* Buffers before DRIVER_OK, as Linux posts them. */
	for (uint16_t i = 0; i < NRX; i++)
		post_rx(i);
	return vdrv_driver_ok(&d);
}

int main(void)
{
	uint64_t f, want = VDRV_F_VERSION_1 | F_MAC | F_STATUS | F_CSUM | F_HOST_TSO4;
	uint8_t st;

	rxbuf = alloc(NRX * RXLEN, 4096);
	txbuf = alloc(4096, 4096);
	irq_set_handler(VEC_RX, rx_handler);
	irq_set_handler(VEC_CFG, cfg_handler);
	if (!parse_mac()) {
		report(false, "mac=xx:xx:xx:xx:xx:xx on the command line");
		return report_summary();
	}
	if (!vdrv_find(&d, 1)) {
		report(false, "virtio-net found on the PCI bus");
		return report_summary();
	}
	report(true, "virtio-net found on the PCI bus (slot %u)", d.slot);
	report((vdrv_cfg_read(&d, 8) >> 8) == 0x020000, "class: Ethernet controller");
	f = vdrv_features(&d);
	report((f & want) == want, "features offered: %#lx (GUEST_CSUM %s)", (unsigned long)f,
	       f & F_GUEST_CSUM ? "too: the tap takes offloads" : "not");
	vdrv_msix(&d, 0, percpu[0].apic_id, VEC_CFG);
	vdrv_msix(&d, 1, percpu[0].apic_id, VEC_RX);
	vdrv_msix_enable(&d);
	st = bring_up(want);
	report(st == 0x0f, "DRIVER_OK (status %#x)", st);
	{
		uint8_t m[6];

		for (int i = 0; i < 6; i++)
			m[i] = *(volatile uint8_t *)(d.device + i);
		report(!memcmp(m, mac, 6), "the configuration's MAC is ours");
		report(*(volatile uint16_t *)(d.device + 6) == 1, "link up");
	}
	sti();
	{
		bool answered = arp();

		report(answered && (host_mac[0] | host_mac[1] | host_mac[2] | host_mac[3] |
				    host_mac[4] | host_mac[5]),
		       "ARP: the host answered with %02x:%02x:%02x:%02x:%02x:%02x", host_mac[0],
		       host_mac[1], host_mac[2], host_mac[3], host_mac[4], host_mac[5]);
	}
	report(wait_until(rx_irqs > 0, 2000), "receive interrupts through MSI-X (%u)", rx_irqs);

	if (cmdline_has("tapgone")) {
		uint32_t c = cfg_irqs;

		printf("virtio-net: up\n");
		report(wait_until(vdrv_status(&d) & VDRV_S_NEEDS_RESET, 60000),
		       "the tap went away: DEVICE_NEEDS_RESET");
		report(wait_until(cfg_irqs > c, 2000), "... with a configuration interrupt");
		report(*(volatile uint16_t *)(d.device + 6) == 0, "... and the link down");
		st = bring_up(want);
		report(st & VDRV_S_NEEDS_RESET, "a restart is refused (status %#x)", st);
		cli();
		return report_summary();
	}

	report(ping(), "ICMP echo to the host and back");
	report(udp_offload(false), "UDP with its checksum left to the device, echoed");

	/* Garbage 1: a transmit chain shorter than the header. */
	{
		uint32_t id, len;

		txq.desc[0] = (struct vdrv_desc){ (uint64_t)txbuf, 4, 0, 0 };
		vdrv_post(&d, &txq, 0);
		report(vdrv_used(&txq, 5000, &id, &len) && !(vdrv_status(&d) & VDRV_S_NEEDS_RESET),
		       "a chain too short for the header is dropped; the device goes on");
		report(ping(), "... and still carries an echo");
	}
	/* Garbage 2: a descriptor loop. */
	txq.desc[0] = (struct vdrv_desc){ (uint64_t)txbuf, 64, VDRV_D_NEXT, 0 };
	vdrv_post(&d, &txq, 0);
	report(wait_until(vdrv_status(&d) & VDRV_S_NEEDS_RESET, 5000),
	       "a descriptor loop: DEVICE_NEEDS_RESET");
	st = bring_up(want);
	report(st == 0x0f, "after a reset the device starts again (status %#x)", st);
	report(ping(), "... and carries an echo");
	{
		/* EVENT_IDX, as Linux drives it: each wait asks for an interrupt
		 * at the next used entry (used_event); a transmit completion
		 * must interrupt (vector 2) when asked. */
		uint32_t before;

		st = bring_up(want | VDRV_F_EVENT_IDX);
		report(st == 0x0f, "restarted with EVENT_IDX (status %#x)", st);
		for (int i = 0; i < 2; i++) {
			bool irq;

			before = vdrv_irqs;
			report(ping(), "echo %d with EVENT_IDX", i + 1);
			irq = wait_until(vdrv_irqs > before, 2000);
			report(irq, "... its transmit completion interrupted as used_event asked (%u)",
			       vdrv_irqs - before);
		}
	}
	if (f & F_GUEST_CSUM) {
		/* Offloads towards the guest: the tap may now hand over frames
		 * whose checksum is left to us. */
		st = bring_up(want | F_GUEST_CSUM);
		report(st == 0x0f, "restarted with GUEST_CSUM (status %#x)", st);
		report(udp_offload(true), "UDP echoed with GUEST_CSUM");
	}
	cli();
	vdrv_begin(&d, 0, 0xffff);
	return report_summary();
}
