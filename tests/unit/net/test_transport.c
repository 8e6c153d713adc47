/* The TCP transport over 127.0.0.1: several endpoints in one process,
 * plus raw sockets playing broken or hostile peers. Every wait is bounded
 * (WAIT_MS); a hang is a failure, not a stuck test. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/addr.h"
#include "net/seal.h"
#include "net/transport.h"
#include "util/log.h"

#define WAIT_MS 5000

static struct auth_key key_a, key_b;

struct node {
	struct transport *t;
	int id;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int ups[NET_MAX_NODES];
	int downs[NET_MAX_NODES];
	int down_err[NET_MAX_NODES];
	unsigned rx[NET_MSG_NR];
	bool echo;			/* answer IO_REQ with IO_REPLY, DSM with a page */
	struct net_msg last;		/* fixed part of the last message */
	uint8_t last_data[NET_PAGE_SIZE];
	uint64_t next_seq[8];		/* per sending thread, for ordering */
	bool order_broken;
};

static uint8_t page[NET_PAGE_SIZE];

static void on_msg(void *opaque, int peer, const struct net_msg *msg)
{
	struct node *n = opaque;
	struct net_msg reply;

	pthread_mutex_lock(&n->lock);
	n->rx[msg->type]++;
	n->last = *msg;
	n->last.data = NULL;
	if (msg->data_len && msg->data_len <= sizeof(n->last_data))
		memcpy(n->last_data, msg->data, msg->data_len);
	if (msg->type == NET_MSG_DSM && msg->u.dsm.op == 99) {
		unsigned th = (unsigned)msg->u.dsm.arg;

		if (th >= 8 || msg->u.dsm.req_id != n->next_seq[th])
			n->order_broken = true;
		else
			n->next_seq[th]++;
	}
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);

	if (!n->echo)
		return;
	memset(&reply, 0, sizeof(reply));
	if (msg->type == NET_MSG_CPU && msg->u.cpu.op == NET_CPU_IO_REQ) {
		reply.type = NET_MSG_CPU;
		reply.u.cpu.op = NET_CPU_IO_REPLY;
		reply.u.cpu.io_reply.tag = msg->u.cpu.io_req.tag;
		reply.u.cpu.io_reply.vcpu = msg->u.cpu.io_req.vcpu;
		reply.u.cpu.io_reply.len = msg->u.cpu.io_req.len;
		memcpy(reply.u.cpu.io_reply.data, "\x11\x22\x33\x44\x55\x66\x77\x88", 8);
		transport_send(n->t, peer, &reply);
	} else if (msg->type == NET_MSG_DSM && msg->u.dsm.op == 1) {
		reply.type = NET_MSG_DSM;
		reply.u.dsm = msg->u.dsm;
		reply.u.dsm.op = 2;
		reply.data = page;
		reply.data_len = NET_PAGE_SIZE;
		transport_send(n->t, peer, &reply);
	}
}

static void on_up(void *opaque, int peer)
{
	struct node *n = opaque;

	pthread_mutex_lock(&n->lock);
	n->ups[peer]++;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static void on_down(void *opaque, int peer, int err)
{
	struct node *n = opaque;

	pthread_mutex_lock(&n->lock);
	n->downs[peer]++;
	n->down_err[peer] = err;
	pthread_cond_broadcast(&n->cond);
	pthread_mutex_unlock(&n->lock);
}

static const struct transport_ops ops = {
	.on_msg = on_msg, .on_peer_up = on_up, .on_peer_down = on_down,
};

/* Wait (bounded by WAIT_MS) until pred_, evaluated under nd_->lock, holds.
 * Wakes on every callback, and every 10 ms for conditions (counters) that
 * no callback signals. */
static void deadline_in(struct timespec *ts, long ms)
{
	clock_gettime(CLOCK_REALTIME, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

#define WAIT_UNTIL(nd_, pred_) ({					\
	struct timespec _slice;						\
	bool _ok = false;						\
	pthread_mutex_lock(&(nd_)->lock);				\
	for (int _i = 0; _i < WAIT_MS / 10 && !(_ok = (pred_)); _i++) {	\
		deadline_in(&_slice, 10);				\
		pthread_cond_timedwait(&(nd_)->cond, &(nd_)->lock, &_slice); \
	}								\
	pthread_mutex_unlock(&(nd_)->lock);				\
	_ok; })

/* Read a field the receive thread may be writing. */
#define LOCKED(nd_, expr_) ({						\
	pthread_mutex_lock(&(nd_)->lock);				\
	__typeof__(expr_) _v = (expr_);					\
	pthread_mutex_unlock(&(nd_)->lock);				\
	_v; })

static struct node *node_new_dead(int id, const struct auth_key *key,
				  bool listen, unsigned dead_ms);

static struct node *node_new(int id, const struct auth_key *key, bool listen)
{
	return node_new_dead(id, key, listen, 4000);
}

static struct node *node_new_dead(int id, const struct auth_key *key,
				  bool listen, unsigned dead_ms)
{
	struct node *n = calloc(1, sizeof(*n));
	struct transport_cfg cfg = {
		.node_id = (uint32_t)id,
		.key = key,
		.listen = listen ? "127.0.0.1:0" : NULL,
		.connect_timeout_ms = 1000,
		.handshake_timeout_ms = 500,
		.send_timeout_ms = 2000,
		.dead_peer_ms = dead_ms,
		.ops = &ops,
	};

	assert_non_null(n);
	n->id = id;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	cfg.opaque = n;
	assert_int_equal(transport_new(&cfg, &n->t), 0);
	return n;
}

static void node_free(struct node *n)
{
	transport_free(n->t);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->cond);
	free(n);
}

static const char *addr_of(struct node *n)
{
	static char buf[4][32];
	static int i;
	char *b = buf[i++ % 4];

	snprintf(b, 32, "127.0.0.1:%d", transport_port(n->t));
	return b;
}

/* Two nodes, 1 connected to 0, both told. */
static void pair(struct node **a, struct node **b)
{
	*a = node_new(0, &key_a, true);
	*b = node_new(1, &key_a, false);
	assert_int_equal(transport_connect((*b)->t, addr_of(*a), 0), 0);
	assert_true(WAIT_UNTIL(*a, (*a)->ups[1] == 1));
	assert_true(WAIT_UNTIL(*b, (*b)->ups[0] == 1));
}

static bool ping(struct node *from, int to)
{
	struct net_msg m = { .type = NET_MSG_PING };
	unsigned before;

	pthread_mutex_lock(&from->lock);
	before = from->rx[NET_MSG_PONG];
	pthread_mutex_unlock(&from->lock);
	m.u.ping.token = 7;
	if (transport_send(from->t, to, &m))
		return false;
	return WAIT_UNTIL(from, from->rx[NET_MSG_PONG] > before);
}

/* --- raw peers ----------------------------------------------------------- */

static int raw_connect(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct timeval tv = { .tv_sec = WAIT_MS / 1000 };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

/* True if the other side closed fd (EOF or reset) within the timeout. */
static bool raw_closed(int fd)
{
	char buf[256];
	ssize_t n;

	while ((n = recv(fd, buf, sizeof(buf), 0)) > 0)
		;
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* A hand-played peer: its socket, its next sequence numbers and, once
 * its handshake is done, the link's sealing state. */
struct raw {
	int fd;
	uint64_t seq;			/* last sent */
	bool sealed;
	struct seal tx, rx;
};

/* Encode m as the next frame of r (sealed if r is) into buf. */
static size_t raw_frame(struct raw *r, const struct net_msg *m, uint8_t *buf)
{
	uint32_t fl = NET_FLAG_SEALED;
	struct net_msg c = *m;
	ssize_t n;

	c.seq = ++r->seq;
	n = wire_encode(&c, buf, NET_SEALED_FRAME_MAX);
	assert_true(n > 0);
	if (!r->sealed)
		return (size_t)n;
	memcpy(buf + offsetof(struct net_hdr, flags), &fl, 4);
	seal_close(&r->tx, buf, (size_t)n - NET_HDR_SIZE);
	return (size_t)n + SEAL_TAG_BYTES;
}

static void raw_send(struct raw *r, const struct net_msg *m)
{
	static uint8_t buf[NET_SEALED_FRAME_MAX];
	size_t n = raw_frame(r, m, buf);

	assert_int_equal(send(r->fd, buf, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* One frame from the node, opened if r is sealed. buf holds
 * NET_SEALED_FRAME_MAX bytes. */
static int raw_recv(struct raw *r, struct net_msg *m, uint8_t *buf)
{
	size_t tag = r->sealed ? SEAL_TAG_BYTES : 0;
	struct net_hdr h;

	if (recv(r->fd, buf, NET_HDR_SIZE, MSG_WAITALL) != NET_HDR_SIZE)
		return -EIO;
	if (wire_decode_hdr(buf, NET_HDR_SIZE, &h, NULL))
		return -EPROTO;
	if (!(h.flags & NET_FLAG_SEALED) != !r->sealed)
		return -EBADMSG;
	if (h.length + tag &&
	    recv(r->fd, buf + NET_HDR_SIZE, h.length + tag, MSG_WAITALL) !=
	    (ssize_t)(h.length + tag))
		return -EIO;
	if (r->sealed && seal_open(&r->rx, buf, h.length))
		return -EKEYREJECTED;
	memset(buf + offsetof(struct net_hdr, flags), 0, 4);	/* now in clear */
	return wire_decode(buf, NET_HDR_SIZE + h.length, m, NULL);
}

/* Play the initiator's side of the handshake by hand. 0 or the error. */
static int raw_handshake(struct raw *r, const struct auth_key *key,
			 uint32_t id, bool forge)
{
	static uint8_t buf[NET_SEALED_FRAME_MAX];
	struct net_msg out[AUTH_MAX_OUT], in;
	struct auth_hs hs;
	int n, err;

	assert_int_equal(auth_init(&hs, AUTH_INITIATOR, key, id, -1), 0);
	n = auth_start(&hs, out);
	while (n >= 0) {
		for (int i = 0; i < n; i++)
			raw_send(r, &out[i]);
		if (auth_done(&hs)) {
			if (hs.status != NET_AUTH_ACCEPTED)
				return -EALREADY;
			if (auth_sealed(&hs)) {
				assert_int_equal(auth_link(&hs, &r->tx, &r->rx), 0);
				r->sealed = true;
			}
			return 0;
		}
		err = raw_recv(r, &in, buf);
		if (err)
			return err;
		n = auth_step(&hs, &in, out);
		if (n == -EACCES && forge) {
			/* Go on with a proof made with our (wrong) key. */
			uint32_t fl[2] = { hs.flags_self, hs.flags_peer };

			memset(&out[0], 0, sizeof(out[0]));
			out[0].type = NET_MSG_AUTH;
			auth_mac(key, 'I', id, hs.peer_id, hs.nonce_self,
				 hs.nonce_peer, fl, out[0].u.auth.mac);
			raw_send(r, &out[0]);
			return raw_recv(r, &in, buf) ? -EACCES : 0;
		}
	}
	return n;
}

static struct raw raw_open(struct node *n)
{
	return (struct raw){ .fd = raw_connect(transport_port(n->t)) };
}

static struct transport_stats stats_of(struct node *n)
{
	struct transport_stats s;

	transport_stats(n->t, &s);
	return s;
}

/* --- tests --------------------------------------------------------------- */

static void test_addr_parse(void **state)
{
	struct net_addr a;
	char buf[ADDR_STR_MAX];
	const char *why;

	assert_int_equal(addr_parse("127.0.0.1:7000", false, &a, &why), 0);
	addr_format((struct sockaddr *)&a.ss, buf);
	assert_string_equal(buf, "127.0.0.1:7000");
	assert_int_equal(addr_parse("[::1]:7001", false, &a, &why), 0);
	addr_format((struct sockaddr *)&a.ss, buf);
	assert_string_equal(buf, "[::1]:7001");
	assert_int_equal(addr_parse(":0", true, &a, &why), 0);
	assert_true(a.wildcard);

	const char *bad[] = { "", "127.0.0.1", "127.0.0.1:", "127.0.0.1:x",
			      "127.0.0.1:65536", "127.0.0.1:0", "::1:7000",
			      "[::1]7000", "[::1:7000", ":7000" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (addr_parse(bad[i], false, &a, &why) != -EINVAL || !why)
			fail_msg("'%s' not refused with a reason", bad[i]);
	}
	assert_int_equal(addr_parse("no-such-host.invalid:1", false, &a, &why),
			 -EHOSTUNREACH);
	assert_non_null(why);
}

static void test_exchange(void **state)
{
	struct net_msg m;
	struct node *a, *b;
	struct transport_stats s;

	pair(&a, &b);
	a->echo = true;

	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_CPU;
	m.u.cpu.op = NET_CPU_IO_REQ;
	m.u.cpu.io_req = (struct net_io_req){ .tag = 42, .addr = 0x3f8, .vcpu = 3,
		.space = NET_IO_PIO, .len = 1 };
	assert_int_equal(transport_send(b->t, 0, &m), 0);
	assert_true(WAIT_UNTIL(b, b->rx[NET_MSG_CPU] == 1));
	assert_int_equal(b->last.u.cpu.op, NET_CPU_IO_REPLY);
	assert_int_equal(b->last.u.cpu.io_reply.tag, 42);
	assert_int_equal(b->last.u.cpu.io_reply.data[0], 0x11);

	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_DSM;
	m.u.dsm.op = 1;
	m.u.dsm.gfn = 0x1234;
	assert_int_equal(transport_send(b->t, 0, &m), 0);
	assert_true(WAIT_UNTIL(b, b->rx[NET_MSG_DSM] == 1));
	assert_int_equal(b->last.u.dsm.op, 2);
	assert_int_equal(b->last.u.dsm.gfn, 0x1234);
	assert_int_equal(b->last.data_len, NET_PAGE_SIZE);
	assert_memory_equal(b->last_data, page, NET_PAGE_SIZE);
	assert_true(ping(b, 0));
	assert_true(ping(a, 1));

	/* Malformed messages are refused at the sender; unknown peers too. */
	m.u.dsm.flags = 0;
	m.data_len = 17;
	m.data = page;
	assert_int_equal(transport_send(b->t, 0, &m), -EINVAL);
	assert_int_equal(transport_send(b->t, 5, &m), -ENOTCONN);
	assert_int_equal(transport_send(b->t, NET_MAX_NODES, &m), -EINVAL);
	m = (struct net_msg){ .type = NET_MSG_HELLO };	/* handshake only */
	assert_int_equal(transport_send(b->t, 0, &m), -EINVAL);

	s = stats_of(a);
	assert_int_equal(s.accepted, 1);
	assert_int_equal(s.wire.rx_msgs[NET_MSG_CPU], 1);
	assert_int_equal(s.wire.tx_msgs[NET_MSG_CPU], 1);
	assert_int_equal(s.wire.tx_bytes[NET_MSG_DSM], NET_HDR_SIZE + 48 + NET_PAGE_SIZE +
			 SEAL_TAG_BYTES);
	assert_int_equal(s.wire.rx_msgs[NET_MSG_HELLO], 1);
	assert_int_equal(s.wire.rx_msgs[NET_MSG_AUTH], 1);
	s = stats_of(b);
	assert_int_equal(s.connected, 1);
	node_free(b);
	node_free(a);
}

struct sender {
	struct node *n;
	unsigned th;
	unsigned count;
	int err;
};

static void *send_thread(void *arg)
{
	struct sender *s = arg;
	struct net_msg m;

	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_DSM;
	m.u.dsm.op = 99;
	m.u.dsm.arg = s->th;
	for (unsigned i = 0; i < s->count && !s->err; i++) {
		m.u.dsm.req_id = i;
		/* Every other message carries a page, so frames of
		 * different sizes interleave between threads. */
		m.data = i & 1 ? page : NULL;
		m.data_len = i & 1 ? NET_PAGE_SIZE : 0;
		s->err = transport_send(s->n->t, 0, &m);
	}
	return NULL;
}

static void test_many_senders(void **state)
{
	enum { THREADS = 4, EACH = 500 };
	struct sender s[THREADS];
	pthread_t th[THREADS];
	struct node *a, *b;

	pair(&a, &b);
	for (unsigned i = 0; i < THREADS; i++) {
		s[i] = (struct sender){ .n = b, .th = i, .count = EACH };
		assert_int_equal(pthread_create(&th[i], NULL, send_thread, &s[i]), 0);
	}
	for (unsigned i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(s[i].err, 0);
	}
	/* 2,000 sealed frames: under ASan on a host busy with other runs
	 * that has taken more than WAIT_MS; a lost frame never arrives. */
	for (int k = 0; k < 4 && !WAIT_UNTIL(a, a->rx[NET_MSG_DSM] == THREADS * EACH); k++)
		print_message("many senders: %llu of %d frames after %d s\n",
			      (unsigned long long)LOCKED(a, a->rx[NET_MSG_DSM]), THREADS * EACH,
			      (k + 1) * WAIT_MS / 1000);
	assert_int_equal(LOCKED(a, a->rx[NET_MSG_DSM]), THREADS * EACH);
	assert_false(LOCKED(a, a->order_broken));
	for (unsigned i = 0; i < THREADS; i++)
		assert_int_equal(LOCKED(a, a->next_seq[i]), EACH);
	assert_int_equal(stats_of(a).bad_frames, 0);
	node_free(b);
	node_free(a);
}

static void test_garbage_peer_dropped(void **state)
{
	static const char junk[] = "GET / HTTP/1.1\r\nHost: amalgam\r\n\r\n";
	struct node *a, *b;
	int fd;

	pair(&a, &b);
	fd = raw_connect(transport_port(a->t));
	assert_int_equal(send(fd, junk, sizeof(junk) - 1, 0), (ssize_t)sizeof(junk) - 1);
	assert_true(raw_closed(fd));
	close(fd);
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_BAD_MAGIC], 1);
	assert_int_equal(stats_of(a).bad_frames, 1);

	/* A valid header for a type not allowed before authentication. */
	struct net_msg m = { .type = NET_MSG_DSM };
	struct raw r = raw_open(a);
	raw_send(&r, &m);
	assert_true(raw_closed(r.fd));
	close(r.fd);
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_UNEXPECTED], 1);

	/* The good connection never noticed. */
	assert_true(ping(b, 0));
	assert_int_equal(LOCKED(a, a->downs[1]), 0);
	assert_int_equal(LOCKED(a, a->ups[1]), 1);
	node_free(b);
	node_free(a);
}

/* An authenticated peer that then sends a bad frame is dropped and
 * reported down; the node and its other peers carry on. */
static void test_bad_frame_after_auth(void **state)
{
	uint8_t frame[NET_HDR_SIZE + 64];
	struct net_msg m;
	struct node *a, *b;
	struct raw r;
	uint32_t len;

	pair(&a, &b);
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(r.sealed);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 1));

	/* A good message first, then an IRQ claiming more payload bytes
	 * than any CPU message has (refused on its header alone). */
	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_CPU;
	m.u.cpu.op = NET_CPU_IRQ;
	m.u.cpu.irq.vector = 0x40;
	raw_send(&r, &m);
	assert_true(WAIT_UNTIL(a, a->rx[NET_MSG_CPU] == 1));
	assert_int_equal(LOCKED(a, a->last.u.cpu.irq.vector), 0x40);
	m.seq = ++r.seq;
	assert_int_equal(wire_encode(&m, frame, sizeof(frame)), NET_HDR_SIZE + sizeof(struct net_cpu));
	len = sizeof(struct net_cpu) + NET_VCPU_STATE_MAX + 1;
	memcpy(frame + 8, &len, 4);
	assert_int_equal(send(r.fd, frame, NET_HDR_SIZE + sizeof(struct net_cpu), 0),
			 (ssize_t)(NET_HDR_SIZE + sizeof(struct net_cpu)));
	assert_true(WAIT_UNTIL(a, a->downs[2] == 1));
	assert_int_equal(LOCKED(a, a->down_err[2]), -EMSGSIZE);
	assert_true(raw_closed(r.fd));
	close(r.fd);
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_BAD_LENGTH], 1);

	/* Again, with a skipped sequence number (an authentic frame). */
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 2));
	r.seq++;
	raw_send(&r, &m);
	assert_true(WAIT_UNTIL(a, a->downs[2] == 2));
	assert_int_equal(LOCKED(a, a->down_err[2]), -EPROTO);
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_BAD_SEQ], 1);
	close(r.fd);

	assert_true(ping(b, 0));
	assert_int_equal(LOCKED(a, a->downs[1]), 0);
	node_free(b);
	node_free(a);
}

/* What a node sends after the handshake is unreadable on the wire and
 * opens with the link's key into exactly what was sent. */
static void test_sealed_on_the_wire(void **state)
{
	static uint8_t buf[NET_SEALED_FRAME_MAX], pattern[NET_PAGE_SIZE];
	struct net_msg m, in;
	struct node *a;
	struct raw r;
	struct net_hdr h;

	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7);
	a = node_new(0, &key_a, true);
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 1));
	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_DSM;
	m.u.dsm.op = 5;
	m.u.dsm.gfn = 0xabcdef;
	m.data = pattern;
	m.data_len = NET_PAGE_SIZE;
	assert_int_equal(transport_send(a->t, 2, &m), 0);

	/* The bytes as they cross: a sealed header, and neither the page
	 * nor the guest frame number anywhere in them. */
	size_t want = NET_HDR_SIZE + sizeof(struct net_dsm) + NET_PAGE_SIZE + SEAL_TAG_BYTES;
	assert_int_equal(recv(r.fd, buf, want, MSG_WAITALL), (ssize_t)want);
	assert_int_equal(wire_decode_hdr(buf, NET_HDR_SIZE, &h, NULL), 0);
	assert_int_equal(h.flags, NET_FLAG_SEALED);
	assert_null(memmem(buf, want, pattern + 64, 32));
	/* All eight bytes of the field: any three turn up by chance in 4 KB
	 * of ciphertext once in some four thousand runs (seen once). */
	uint64_t gfn = 0xabcdef;
	assert_null(memmem(buf, want, &gfn, sizeof(gfn)));
	/* Opened with the link's key: what was sent. */
	assert_int_equal(seal_open(&r.rx, buf, h.length), 0);
	/* wire_decode wants a frame in clear: still flagged, it refuses. */
	assert_int_equal(wire_decode(buf, NET_HDR_SIZE + h.length, &in, NULL), -EPROTO);
	memset(buf + offsetof(struct net_hdr, flags), 0, 4);
	assert_int_equal(wire_decode(buf, NET_HDR_SIZE + h.length, &in, NULL), 0);
	assert_int_equal(in.u.dsm.gfn, 0xabcdef);
	assert_memory_equal(in.data, pattern, NET_PAGE_SIZE);
	close(r.fd);
	node_free(a);
}

/* A flipped bit in a frame from an authenticated peer ends that link as a
 * forged frame; a replayed or reordered authentic frame ends it as out of
 * order; a frame in clear on a sealed link as bad flags. Other links go
 * on. */
static void test_forged_frames(void **state)
{
	static uint8_t f1[NET_SEALED_FRAME_MAX], f2[NET_SEALED_FRAME_MAX];
	struct node *a, *b;
	struct net_msg m;
	struct raw r;
	size_t n1, n2;

	pair(&a, &b);
	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_CPU;
	m.u.cpu.op = NET_CPU_EOI;
	m.u.cpu.eoi.vector = 0x33;

	/* Tampered. */
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 1));
	n1 = raw_frame(&r, &m, f1);
	f1[NET_HDR_SIZE + 8] ^= 1;
	assert_int_equal(send(r.fd, f1, n1, 0), (ssize_t)n1);
	assert_true(WAIT_UNTIL(a, a->downs[2] == 1));
	assert_int_equal(LOCKED(a, a->down_err[2]), -EKEYREJECTED);
	assert_int_equal(stats_of(a).forged_frames, 1);
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_BAD_SEAL], 1);
	assert_int_equal(LOCKED(a, a->rx[NET_MSG_CPU]), 0);
	assert_true(raw_closed(r.fd));
	close(r.fd);
	assert_non_null(strstr(transport_down_reason(-EKEYREJECTED), "forged"));

	/* Replayed: the same authentic frame twice. */
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 2));
	n1 = raw_frame(&r, &m, f1);
	assert_int_equal(send(r.fd, f1, n1, 0), (ssize_t)n1);
	assert_true(WAIT_UNTIL(a, a->rx[NET_MSG_CPU] == 1));
	assert_int_equal(send(r.fd, f1, n1, 0), (ssize_t)n1);
	assert_true(WAIT_UNTIL(a, a->downs[2] == 2));
	assert_int_equal(LOCKED(a, a->down_err[2]), -EPROTO);
	assert_int_equal(LOCKED(a, a->rx[NET_MSG_CPU]), 1);
	close(r.fd);

	/* Reordered: two authentic frames, the second first. */
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 3));
	n1 = raw_frame(&r, &m, f1);
	n2 = raw_frame(&r, &m, f2);
	assert_int_equal(send(r.fd, f2, n2, 0), (ssize_t)n2);
	assert_int_equal(send(r.fd, f1, n1, 0), (ssize_t)n1);
	assert_true(WAIT_UNTIL(a, a->downs[2] == 3));
	assert_int_equal(LOCKED(a, a->down_err[2]), -EPROTO);
	assert_int_equal(LOCKED(a, a->rx[NET_MSG_CPU]), 1);
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_BAD_SEQ], 2);
	close(r.fd);

	/* In clear on a sealed link. */
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	assert_true(WAIT_UNTIL(a, a->ups[2] == 4));
	r.sealed = false;
	raw_send(&r, &m);
	assert_true(WAIT_UNTIL(a, a->downs[2] == 4));
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_BAD_FLAGS], 1);
	close(r.fd);

	assert_int_equal(LOCKED(a, a->rx[NET_MSG_CPU]), 1);
	assert_true(ping(b, 0));
	assert_int_equal(LOCKED(a, a->downs[1]), 0);
	node_free(b);
	node_free(a);
}

/* --insecure-network on both: frames in clear, messages go through; on
 * one only: refused, by name. */
static void test_insecure_network(void **state)
{
	static uint8_t buf[NET_SEALED_FRAME_MAX];
	struct auth_key plain = key_a;
	struct node *a, *b, *c;
	struct net_msg m, in;
	struct raw r;

	plain.insecure = true;
	a = node_new(0, &plain, true);
	b = node_new(1, &plain, false);
	c = node_new(2, &key_a, false);
	assert_int_equal(transport_connect(b->t, addr_of(a), 0), 0);
	assert_true(ping(b, 0));
	assert_int_equal(transport_connect(c->t, addr_of(a), 0), -EPROTONOSUPPORT);
	assert_false(transport_peer_up(c->t, 0));

	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &plain, 3, false), 0);
	assert_false(r.sealed);
	assert_true(WAIT_UNTIL(a, a->ups[3] == 1));
	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_CPU;
	m.u.cpu.op = NET_CPU_EOI;
	m.u.cpu.eoi.vector = 0x44;
	assert_int_equal(transport_send(a->t, 3, &m), 0);
	assert_int_equal(raw_recv(&r, &in, buf), 0);
	assert_int_equal(in.u.cpu.eoi.vector, 0x44);
	close(r.fd);
	node_free(c);
	node_free(b);
	node_free(a);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Two idle nodes with a 400 ms peer timeout stay connected for three
 * timeouts (heartbeats), silently (no PONG, no callback). */
static void test_heartbeats(void **state)
{
	struct node *a = node_new_dead(0, &key_a, true, 400);
	struct node *b = node_new_dead(1, &key_a, false, 400);

	assert_int_equal(transport_connect(b->t, addr_of(a), 0), 0);
	assert_true(WAIT_UNTIL(a, a->ups[1] == 1));
	usleep(1200 * 1000);
	assert_true(transport_peer_up(a->t, 1));
	assert_true(transport_peer_up(b->t, 0));
	assert_int_equal(LOCKED(a, a->downs[1]), 0);
	assert_int_equal(LOCKED(b, b->downs[0]), 0);
	assert_true(stats_of(a).heartbeats >= 2);
	assert_true(stats_of(b).heartbeats >= 2);
	assert_int_equal(LOCKED(a, a->rx[NET_MSG_PING] + a->rx[NET_MSG_PONG]), 0);
	assert_int_equal(stats_of(a).dead_peers, 0);
	node_free(b);
	node_free(a);
}

/* A peer that authenticates and then says nothing more, its socket open
 * (a stopped process, a hung receive thread, a cut link all look like
 * this) is declared lost after the peer timeout: -ETIMEDOUT, counted,
 * its socket closed; another peer is not affected. */
static void test_silent_peer_lost(void **state)
{
	struct node *a = node_new_dead(0, &key_a, true, 400);
	struct node *b = node_new_dead(1, &key_a, false, 400);
	int64_t t0, dt;
	struct raw r;

	assert_int_equal(transport_connect(b->t, addr_of(a), 0), 0);
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_a, 2, false), 0);
	t0 = mono_ms();
	assert_true(WAIT_UNTIL(a, a->ups[2] == 1));
	usleep(150 * 1000);
	assert_int_equal(LOCKED(a, a->downs[2]), 0);	/* not before its time */
	assert_true(WAIT_UNTIL(a, a->downs[2] == 1));
	dt = mono_ms() - t0;
	print_message("silent peer declared lost after %lld ms (timeout 400)\n",
		      (long long)dt);
	assert_int_equal(LOCKED(a, a->down_err[2]), -ETIMEDOUT);
	assert_int_equal(stats_of(a).dead_peers, 1);
	assert_true(raw_closed(r.fd));
	close(r.fd);
	assert_true(ping(b, 0));
	assert_int_equal(LOCKED(a, a->downs[1]), 0);
	node_free(b);
	node_free(a);
}

/* The stranger of issue 16: 32 idle sockets on the port, all closed and
 * reopened just before the handshake deadline would drop them (here
 * every 450 ms against 500), so that every slot stays taken. */
struct flood {
	int port;
	bool stop;			/* atomic */
	unsigned opened;
};

static void *flood_thread(void *arg)
{
	struct flood *f = arg;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(f->port) };
	int fds[32];

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (int i = 0; i < 32; i++)
		fds[i] = -1;
	while (!__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE)) {
		for (int i = 0; i < 32; i++) {
			if (fds[i] >= 0)
				close(fds[i]);
			fds[i] = socket(AF_INET, SOCK_STREAM, 0);
			if (fds[i] >= 0 &&
			    connect(fds[i], (struct sockaddr *)&sa, sizeof(sa)) == 0)
				f->opened++;
		}
		for (int k = 0; k < 45 && !__atomic_load_n(&f->stop, __ATOMIC_ACQUIRE); k++)
			usleep(10 * 1000);
	}
	for (int i = 0; i < 32; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return NULL;
}

/* While the stranger floods, 20 real peers (from the same address, the
 * worst case) each authenticate at their first try, and the node logs a
 * bounded number of lines about the stranger. */
static void test_preauth_flood(void **state)
{
	struct flood f = { 0 };
	struct node *a, *b;
	pthread_t th;
	int ok = 0, first = 0;

	a = node_new(0, &key_a, true);
	f.port = transport_port(a->t);
	assert_int_equal(pthread_create(&th, NULL, flood_thread, &f), 0);
	usleep(200 * 1000);		/* the slots are taken */
	/* Each peer tries up to 3 times, as a node's dial retries; nearly
	 * all must get in at once (without the limits, 8 of 20 did; a host
	 * loaded enough can make one miss its deadline). */
	for (int i = 1; i <= 20; i++) {
		b = node_new(i, &key_a, false);
		for (int t = 0; t < 3; t++)
			if (transport_connect(b->t, addr_of(a), 0) == 0) {
				ok++;
				first += t == 0;
				break;
			}
		node_free(b);
		usleep(50 * 1000);
	}
	__atomic_store_n(&f.stop, true, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	print_message("flood: %u stranger sockets, %d of 20 handshakes (%d at the first try), "
		      "%llu dropped, %llu log lines held back\n", f.opened, ok, first,
		      (unsigned long long)stats_of(a).evicted,
		      (unsigned long long)stats_of(a).preauth_quiet);
	assert_int_equal(ok, 20);
	assert_true(first >= 18);
	assert_true(f.opened >= 64);		/* the flood ran */
	assert_true(stats_of(a).evicted > 0);	/* and took slots */
	assert_int_equal(stats_of(a).accepted, 20);
	assert_true(stats_of(a).preauth_quiet > 0);	/* logging held back */
	node_free(a);
}

static void test_wrong_key(void **state)
{
	struct node *a, *c;
	struct raw r;

	a = node_new(0, &key_a, true);
	c = node_new(2, &key_b, false);

	/* c catches a's proof first and refuses a. */
	assert_int_equal(transport_connect(c->t, addr_of(a), -1), -EACCES);
	assert_int_equal(stats_of(c).auth_failures, 1);
	assert_int_equal(stats_of(c).wire.rejects[NET_REJ_AUTH], 1);

	/* A keyless peer that presses on anyway is refused by a. */
	r = raw_open(a);
	assert_int_equal(raw_handshake(&r, &key_b, 2, true), -EACCES);
	close(r.fd);
	assert_true(WAIT_UNTIL(a, stats_of(a).auth_failures == 1));
	assert_int_equal(stats_of(a).wire.rejects[NET_REJ_AUTH], 1);

	assert_int_equal(LOCKED(a, a->ups[2]), 0);
	assert_int_equal(LOCKED(c, c->ups[0]), 0);
	assert_false(transport_peer_up(a->t, 2));
	node_free(c);
	node_free(a);
}

static void test_disconnect_reported(void **state)
{
	struct node *a, *b;

	pair(&a, &b);
	assert_int_equal(transport_disconnect(b->t, 0), 0);
	assert_true(WAIT_UNTIL(b, b->downs[0] == 1));
	assert_int_equal(LOCKED(b, b->down_err[0]), -ESHUTDOWN);
	assert_true(WAIT_UNTIL(a, a->downs[1] == 1));
	assert_int_equal(LOCKED(a, a->down_err[1]), -ECONNRESET);
	assert_false(transport_peer_up(a->t, 1));
	assert_int_equal(transport_disconnect(b->t, 0), -ENOTCONN);

	/* Reconnect, then the whole peer goes away. */
	assert_int_equal(transport_connect(b->t, addr_of(a), 0), 0);
	assert_true(WAIT_UNTIL(a, a->ups[1] == 2));
	node_free(b);
	assert_true(WAIT_UNTIL(a, a->downs[1] == 2));
	assert_int_equal(stats_of(a).disconnects, 2);
	node_free(a);
}

static void test_timeouts(void **state)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	struct timespec t0, t1;
	struct node *a;
	char addr[32];
	int fd, lfd;

	a = node_new(0, &key_a, true);

	/* A peer that connects and says nothing is dropped. */
	fd = raw_connect(transport_port(a->t));
	assert_true(raw_closed(fd));
	close(fd);
	assert_int_equal(stats_of(a).handshake_timeouts, 1);

	/* A listener that never answers: connect gives up in time. The
	 * kernel completes the TCP handshake from the backlog, nobody
	 * ever speaks. */
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	getsockname(lfd, (struct sockaddr *)&sa, &len);
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", ntohs(sa.sin_port));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(transport_connect(a->t, addr, -1), -ETIMEDOUT);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_true(t1.tv_sec - t0.tv_sec < 3);

	/* Nobody listening; bad address. */
	close(lfd);
	assert_int_equal(transport_connect(a->t, addr, -1), -ECONNREFUSED);
	assert_int_equal(transport_connect(a->t, "127.0.0.1", -1), -EINVAL);
	node_free(a);
}

static void test_fault_injection(void **state)
{
	struct timespec t0, t1;
	struct node *a, *b;
	long ms;

	pair(&a, &b);
	assert_int_equal(transport_fault(b->t, NET_MSG_PING, NET_FAULT_DROP, 0, 1), 0);
	struct net_msg m = { .type = NET_MSG_PING };
	assert_int_equal(transport_send(b->t, 0, &m), 0);	/* dropped */
	assert_true(ping(b, 0));				/* next one goes */
	assert_int_equal(LOCKED(b, b->rx[NET_MSG_PONG]), 1);
	assert_int_equal(stats_of(a).wire.rx_msgs[NET_MSG_PING], 1);
	assert_int_equal(stats_of(b).wire.fault_drops, 1);

	assert_int_equal(transport_fault(b->t, NET_MSG_PING, NET_FAULT_DELAY, 100000, 0), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(ping(b, 0));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 100);
	transport_fault_clear(b->t);
	assert_int_equal(stats_of(b).wire.fault_delays, 1);
	node_free(b);
	node_free(a);
}

struct dialer {
	struct node *n;
	const char *addr;
	int ret;
};

static void *dial(void *arg)
{
	struct dialer *d = arg;

	d->ret = transport_connect(d->n->t, d->addr, -1);
	return NULL;
}

/* Both nodes dial each other at once: one connection survives, each side
 * hears of the other exactly once, and messages flow both ways. */
static void test_one_connection_per_pair(void **state)
{
	for (int round = 0; round < 5; round++) {
		struct node *a = node_new(0, &key_a, true);
		struct node *b = node_new(1, &key_a, true);
		struct dialer da = { a, addr_of(b), 0 }, db = { b, addr_of(a), 0 };
		pthread_t ta, tb;

		pthread_create(&ta, NULL, dial, &da);
		pthread_create(&tb, NULL, dial, &db);
		pthread_join(ta, NULL);
		pthread_join(tb, NULL);
		assert_true(da.ret == 1 || da.ret == -EALREADY);
		assert_true(db.ret == 0 || db.ret == -EALREADY);
		assert_true(WAIT_UNTIL(a, a->ups[1] == 1));
		assert_true(WAIT_UNTIL(b, b->ups[0] == 1));
		assert_true(ping(a, 1));
		assert_true(ping(b, 0));
		assert_int_equal(LOCKED(a, a->downs[1]), 0);
		assert_int_equal(LOCKED(b, b->downs[0]), 0);

		/* A second dial of an existing pair is refused. */
		assert_int_equal(transport_connect(b->t, addr_of(a), -1), -EALREADY);
		assert_true(ping(b, 0));
		assert_int_equal(LOCKED(a, a->ups[1]), 1);
		node_free(b);
		node_free(a);
	}
}

/* --- node identity ------------------------------------------------------ */

/* Node keys for ids 0, 1, 2 (fixed seeds), each trusting all three. */
static struct auth_ident ids[3];
static struct auth_key ikey[3];

static void make_idents(void)
{
	char text[400] = "", sec[128], hex[IDENT_HEX_BYTES], why[160];
	const char *w;

	for (unsigned k = 0; k < 3; k++) {
		char line[100];

		memset(&ids[k], 0, sizeof(ids[k]));
		snprintf(sec, sizeof(sec), "amalgam-node-key %064x\n", k + 0x51);
		assert_int_equal(ident_parse_secret(sec, strlen(sec), &ids[k], &w), 0);
		ident_pubkey_hex(ids[k].pk, hex);
		snprintf(line, sizeof(line), "%u %s\n", k, hex);
		strcat(text, line);
	}
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(ident_parse_trust(text, strlen(text), 16, &ids[k], why,
						   sizeof(why)), 0);
		ids[k].joiner_id = -1;
		ids[k].joiner_as = -1;
		ikey[k] = key_a;
		ikey[k].ident = &ids[k];
	}
}

/* The take-over of issue 16: a holder of the cluster key dials node 1
 * claiming id 0, the lower id, so its own verdict decides and node 1
 * replaces its live link to node 0 with the impostor's. Without node keys
 * that works (shown first, so that the test can tell); with them node 1
 * refuses the impostor, which holds node 2's key, and keeps node 0. */
static void test_identity_takeover(void **state)
{
	struct node *a, *b, *x;

	a = node_new(0, &key_a, true);
	b = node_new(1, &key_a, true);
	assert_int_equal(transport_connect(b->t, addr_of(a), 0), 0);
	assert_true(WAIT_UNTIL(b, b->ups[0] == 1));
	x = node_new(0, &key_a, false);
	assert_int_equal(transport_connect(x->t, addr_of(b), 1), 1);
	assert_true(ping(x, 1));	/* node 1 now answers the impostor */
	node_free(x);
	node_free(b);
	node_free(a);

	make_idents();
	a = node_new(0, &ikey[0], true);
	b = node_new(1, &ikey[1], true);
	assert_int_equal(transport_connect(b->t, addr_of(a), 0), 0);
	assert_true(WAIT_UNTIL(a, a->ups[1] == 1));
	assert_true(WAIT_UNTIL(b, b->ups[0] == 1));

	/* Node 2's key claiming id 0 towards node 1: node 1 checks the key
	 * against the id before any slot is touched, and hangs up. */
	x = node_new(0, &ikey[2], false);
	assert_true(transport_connect(x->t, addr_of(b), 1) < 0);
	assert_false(transport_peer_up(x->t, 1));
	node_free(x);
	assert_true(WAIT_UNTIL(b, stats_of(b).auth_failures == 1));
	/* ... and claiming id 1 towards node 0. */
	x = node_new(1, &ikey[2], false);
	assert_true(transport_connect(x->t, addr_of(a), 0) < 0);
	node_free(x);
	assert_true(WAIT_UNTIL(a, stats_of(a).auth_failures == 1));
	/* Answering as node 0 to a node that dials it: the dialer refuses. */
	x = node_new(0, &ikey[2], true);
	assert_int_equal(transport_connect(b->t, addr_of(x), -1), -EKEYREJECTED);
	node_free(x);
	/* The live link never went down, on either side, and still carries. */
	assert_true(ping(b, 0));
	assert_true(ping(a, 1));
	assert_int_equal(LOCKED(a, a->downs[1]), 0);
	assert_int_equal(LOCKED(b, b->downs[0]), 0);
	assert_int_equal(LOCKED(a, a->ups[1]), 1);
	assert_int_equal(LOCKED(b, b->ups[0]), 1);

	/* A node with the cluster key and no node key at all: refused. */
	x = node_new(2, &key_a, false);
	assert_int_equal(transport_connect(x->t, addr_of(a), 0), -EPROTONOSUPPORT);
	node_free(x);
	/* Node 2 itself, with its own key: admitted. */
	x = node_new(2, &ikey[2], false);
	assert_int_equal(transport_connect(x->t, addr_of(a), 0), 0);
	assert_true(ping(x, 0));
	node_free(x);
	node_free(b);
	node_free(a);
}

static int setup(void **state)
{
	static const char hex[] =
		"8f2b0c1d4e5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
	const char *why;

	log_init(0, getenv("NET_TEST_VERBOSE") ? LOG_DEBUG : LOG_ERROR);
	assert_int_equal(auth_key_parse(hex, 64, &key_a, &why), 0);
	key_b = key_a;
	key_b.k[0] ^= 0x80;
	for (size_t i = 0; i < sizeof(page); i++)
		page[i] = (uint8_t)(i * 13 + 1);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addr_parse),
		cmocka_unit_test(test_exchange),
		cmocka_unit_test(test_many_senders),
		cmocka_unit_test(test_garbage_peer_dropped),
		cmocka_unit_test(test_bad_frame_after_auth),
		cmocka_unit_test(test_sealed_on_the_wire),
		cmocka_unit_test(test_forged_frames),
		cmocka_unit_test(test_insecure_network),
		cmocka_unit_test(test_heartbeats),
		cmocka_unit_test(test_silent_peer_lost),
		cmocka_unit_test(test_preauth_flood),
		cmocka_unit_test(test_wrong_key),
		cmocka_unit_test(test_disconnect_reported),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_fault_injection),
		cmocka_unit_test(test_one_connection_per_pair),
		cmocka_unit_test(test_identity_takeover),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
