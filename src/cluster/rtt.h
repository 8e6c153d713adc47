/* The baseline every remote-fault figure is compared with: a raw TCP round
 * trip (64-byte request, 4 KiB reply) between the same two node processes,
 * with no framing, no protocol and no userfaultfd. Each joining node runs
 * an echo server; the coordinator measures before the guest starts.
 * A request whose first byte is RTT_TSC_PROBE is answered with 64 bytes
 * instead, starting with the server's host TSC read on arrival: equal sizes
 * both ways keep the round trip symmetric, which is what lets the
 * coordinator tell how far apart the two hosts' TSCs are
 * (cpu/tscsync.h). Every socket has a send and receive timeout, so a
 * silent peer costs seconds, not a hang. */
#ifndef AMALGAM_CLUSTER_RTT_H
#define AMALGAM_CLUSTER_RTT_H

#include <stdint.h>


#define RTT_REQ_BYTES 64
#define RTT_REPLY_BYTES 4096
#define RTT_TSC_PROBE 'T'
#define RTT_IO_TIMEOUT_S 5

/* One TSC probe: this node's host TSC when it asked (t_send) and when the
 * answer came (t_recv), and the peer's host TSC on arrival (peer_tsc).
 * What the probes tell is cpu/tscsync.h's business. */
struct tsc_probe {
	uint64_t t_send, peer_tsc, t_recv;
};

struct rtt_server;

/* Listen on host (the node's listen host) port 0; serves one client at a
 * time until rtt_server_stop. */
int rtt_server_start(const char *host, struct rtt_server **out);
int rtt_server_port(struct rtt_server *s);
void rtt_server_stop(struct rtt_server *s);

struct rtt_result {
	unsigned samples;
	double p50_us, p99_us, min_us;
};

/* Connect to host:port and time n round trips (percentiles within 1/16,
 * util/lathist.h; the minimum exact). */
int rtt_measure(const char *host, int port, unsigned n, struct rtt_result *out);
/* Connect to host:port and take n TSC probes (after a short warm-up). */
int rtt_tsc_probe(const char *host, int port, unsigned n, struct tsc_probe *out);

#endif
