/* The baseline every remote-fault figure is compared with: a raw TCP round
 * trip (64-byte request, 4 KiB reply) between the same two node processes,
 * with no framing, no protocol and no userfaultfd. Each joining node runs
 * an echo server; the coordinator measures before the guest starts.
 * A request whose first byte is RTT_TSC_PROBE is answered with 64 bytes
 * instead: equal sizes both ways keep the round trip symmetric, which is
 * what lets the coordinator tell how far apart the two hosts' TSCs are
 * (cpu/tscsync.h).
 *
 * Authenticated with the cluster key (the echo is not part of the sealed
 * links: their framing and a receive thread shared with guest traffic
 * would blur the very round trip it measures). Each connection starts
 * with a challenge: the server sends 32 random bytes C, the client answers
 * BLAKE2b-256(k_echo, "hello" || C), k_echo = BLAKE2b-256(cluster key,
 * "AMLG-echo-v1"); a wrong answer closes the connection, so a prober
 * without the key learns nothing but C. Every reply then starts with
 *     struct rtt_stamp { tsc_in, tsc_out, mac }
 * the server's host TSC when the request arrived and when the reply left,
 * and a 16-byte BLAKE2b MAC over C, the reply's number and both TSCs, so
 * a forged or replayed reply is refused (-EBADMSG) by the TSC probe. The
 * midpoint of tsc_in and tsc_out stands for the peer's TSC; the one part
 * of the server's time to answer it does not cancel is the MAC computed
 * after tsc_out (one BLAKE2b block, well under a microsecond), far inside
 * the half round trip the probe's error bound already allows.
 *
 * The server serves up to RTT_MAX_CLIENTS connections at once, each on its
 * own thread; a client has RTT_HELLO_MS to answer the challenge. Every
 * socket has a send and receive timeout, so a silent peer costs seconds,
 * not a hang. */
#ifndef AMALGAM_CLUSTER_RTT_H
#define AMALGAM_CLUSTER_RTT_H

#include <stdint.h>

#include "net/auth.h"

#define RTT_REQ_BYTES 64
#define RTT_REPLY_BYTES 4096
#define RTT_TSC_PROBE 'T'
#define RTT_IO_TIMEOUT_S 5
#define RTT_CHALLENGE_BYTES 32
#define RTT_MAC_BYTES 16
#define RTT_MAX_CLIENTS 8
#define RTT_HELLO_MS 1000

struct rtt_stamp {
	uint64_t tsc_in, tsc_out;
	uint8_t mac[RTT_MAC_BYTES];
};
static_assert(sizeof(struct rtt_stamp) <= RTT_REQ_BYTES, "a stamp fits the short reply");

/* One TSC probe: this node's host TSC when it asked (t_send) and when the
 * answer came (t_recv), and the peer's host TSC in between (peer_tsc, the
 * midpoint of its arrival and departure stamps). What the probes tell is
 * cpu/tscsync.h's business. */
struct tsc_probe {
	uint64_t t_send, peer_tsc, t_recv;
};

struct rtt_server;

/* Listen on host (the node's listen host) port 0, answering clients that
 * hold key; until rtt_server_stop. */
int rtt_server_start(const char *host, const struct auth_key *key, struct rtt_server **out);
int rtt_server_port(struct rtt_server *s);
void rtt_server_stop(struct rtt_server *s);

struct rtt_result {
	unsigned samples;
	double p50_us, p99_us, min_us;
};

/* Connect to host:port and time n round trips (percentiles within 1/16,
 * util/lathist.h; the minimum exact). */
int rtt_measure(const char *host, int port, const struct auth_key *key, unsigned n,
		struct rtt_result *out);
/* Connect to host:port and take n TSC probes (after a short warm-up).
 * -EBADMSG if a reply's MAC is wrong; -ECONNRESET if the server refused
 * our answer to its challenge (another cluster key). */
int rtt_tsc_probe(const char *host, int port, const struct auth_key *key, unsigned n,
		  struct tsc_probe *out);

#endif
