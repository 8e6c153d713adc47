/* Cluster key parsing and the handshake state machine, without sockets:
 * messages go through the real encoder and decoder between the two sides. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "net/auth.h"
#include "util/log.h"

static const char hex_key[] =
	"00112233445566778899aabbccddeeff0102030405060708090a0b0c0d0e0f10\n";
static struct auth_key key_a, key_b;

static int setup(void **state)
{
	const char *why;

	log_init(0, LOG_ERROR);
	assert_int_equal(auth_key_parse(hex_key, strlen(hex_key), &key_a, &why), 0);
	memcpy(&key_b, &key_a, sizeof(key_b));
	key_b.k[31] ^= 1;
	return 0;
}

/* --- keys ---------------------------------------------------------------- */

static void expect_bad_key(const char *buf, size_t len)
{
	struct auth_key k;
	const char *why = NULL;

	assert_int_equal(auth_key_parse(buf, len, &k, &why), -EINVAL);
	assert_non_null(why);
}

static void test_key_forms(void **state)
{
	uint8_t raw[32];
	struct auth_key k;
	const char *why;

	assert_int_equal(key_a.k[0], 0x00);
	assert_int_equal(key_a.k[1], 0x11);
	assert_int_equal(key_a.k[31], 0x10);
	/* Hex without newline, with CRLF, upper case. */
	assert_int_equal(auth_key_parse(hex_key, 64, &k, &why), 0);
	assert_memory_equal(&k, &key_a, sizeof(k));
	char crlf[80];
	snprintf(crlf, sizeof(crlf), "%.64s\r\n", hex_key);
	assert_int_equal(auth_key_parse(crlf, strlen(crlf), &k, &why), 0);
	assert_memory_equal(&k, &key_a, sizeof(k));
	char upper[65];
	for (int i = 0; i < 64; i++)
		upper[i] = (char)(hex_key[i] >= 'a' ? hex_key[i] - 32 : hex_key[i]);
	assert_int_equal(auth_key_parse(upper, 64, &k, &why), 0);
	assert_memory_equal(&k, &key_a, sizeof(k));
	/* 32 raw bytes, including ones that are whitespace or NUL. */
	for (int i = 0; i < 32; i++)
		raw[i] = (uint8_t)(i * 37 + 10);
	raw[0] = 0;
	raw[31] = '\n';
	assert_int_equal(auth_key_parse(raw, 32, &k, &why), 0);
	assert_memory_equal(k.k, raw, 32);
}

static void test_key_refused(void **state)
{
	uint8_t zero[32] = { 0 };
	char buf[200];

	expect_bad_key("", 0);
	expect_bad_key("\n", 1);
	expect_bad_key("short", 5);
	expect_bad_key(hex_key, 63);			/* 63 hex digits */
	expect_bad_key(hex_key, 32);			/* 32 hex digits: 128 bits */
	snprintf(buf, sizeof(buf), "%.64sab\n", hex_key);	/* 66 digits */
	expect_bad_key(buf, strlen(buf));
	snprintf(buf, sizeof(buf), "%.63sg\n", hex_key);	/* not hex */
	expect_bad_key(buf, strlen(buf));
	expect_bad_key((const char *)zero, sizeof(zero));
	expect_bad_key("0000000000000000000000000000000000000000000000000000000000000000", 64);
}

static void test_key_files(void **state)
{
	char path[] = "/tmp/amalgam-key-XXXXXX";
	struct auth_key k;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	/* Empty file: refused with a message. */
	assert_int_equal(auth_key_load(path, &k), -EINVAL);
	assert_int_equal(write(fd, hex_key, strlen(hex_key)), (ssize_t)strlen(hex_key));
	close(fd);
	assert_int_equal(auth_key_load(path, &k), 0);
	assert_memory_equal(&k, &key_a, sizeof(k));
	unlink(path);
	assert_int_equal(auth_key_load(path, &k), -ENOENT);

	/* Generated keys load, and are 0600. */
	assert_int_equal(auth_key_generate(path), 0);
	assert_int_equal(auth_key_generate(path), -EEXIST);
	assert_int_equal(auth_key_load(path, &k), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	unlink(path);
}

/* --- handshake ----------------------------------------------------------- */

/* Send a message through the real codec, as the transport would. */
static void wire(const struct net_msg *in, struct net_msg *out, uint8_t *buf)
{
	ssize_t n = wire_encode(in, buf, 256);

	assert_true(n > 0);
	assert_int_equal(wire_decode(buf, (size_t)n, out, NULL), 0);
}

struct run {
	struct auth_hs i, r;
	/* First message of each kind, as sent. */
	struct net_msg hello_i, hello_r, auth_r, auth_i, ident_i, ident_r;
	int err_i, err_r;
	int msgs;			/* messages that crossed */
};

static void record(struct run *x, bool from_i, const struct net_msg *m)
{
	struct net_msg *slot = NULL;

	if (m->type == NET_MSG_HELLO)
		slot = from_i ? &x->hello_i : &x->hello_r;
	else if (m->type == NET_MSG_AUTH)
		slot = from_i ? &x->auth_i : &x->auth_r;
	else if (m->type == NET_MSG_IDENT)
		slot = from_i ? &x->ident_i : &x->ident_r;
	if (slot && !slot->type)
		*slot = *m;
}

/* Run a whole handshake, messages in order through a queue; stops at the
 * first refusal. */
static void handshake(struct run *x, const struct auth_key *ki,
		      const struct auth_key *kr, uint32_t id_i, uint32_t id_r,
		      int expect)
{
	struct { bool to_i; struct net_msg m; } q[16];
	struct net_msg out[AUTH_MAX_OUT], in;
	uint8_t buf[256];
	int head = 0, tail = 0, n;

	memset(x, 0, sizeof(*x));
	assert_int_equal(auth_init(&x->i, AUTH_INITIATOR, ki, id_i, expect), 0);
	assert_int_equal(auth_init(&x->r, AUTH_RESPONDER, kr, id_r, -1), 0);
	assert_int_equal(auth_start(&x->r, out), 0);
	n = auth_start(&x->i, out);
	assert_int_equal(n, 1);
	q[tail].to_i = false;
	q[tail++].m = out[0];
	record(x, true, &out[0]);
	while (head < tail) {
		bool to_i = q[head].to_i;
		struct auth_hs *hs = to_i ? &x->i : &x->r;

		wire(&q[head++].m, &in, buf);
		x->msgs++;
		n = auth_step(hs, &in, out);
		if (n < 0) {
			*(to_i ? &x->err_i : &x->err_r) = n;
			return;
		}
		for (int k = 0; k < n; k++) {
			assert_true(tail < 16);
			q[tail].to_i = !to_i;
			q[tail++].m = out[k];
			record(x, to_i, &out[k]);
		}
	}
}

static void test_right_key(void **state)
{
	struct run x;

	/* The initiator has the lower id: it judges, six messages. */
	handshake(&x, &key_a, &key_a, 2, 5, -1);
	assert_int_equal(x.err_i, 0);
	assert_int_equal(x.err_r, 0);
	assert_true(auth_done(&x.i));
	assert_true(auth_done(&x.r));
	assert_int_equal(x.i.peer_id, 5);
	assert_int_equal(x.r.peer_id, 2);
	assert_true(auth_arbiter(&x.i));
	assert_int_equal(x.r.status, NET_AUTH_ACCEPTED);
	assert_int_equal(x.msgs, 6);

	/* The responder has the lower id: five messages; expected id given. */
	handshake(&x, &key_a, &key_a, 5, 2, 2);
	assert_true(auth_done(&x.i) && auth_done(&x.r));
	assert_true(auth_arbiter(&x.r));
	assert_int_equal(x.i.status, NET_AUTH_ACCEPTED);
	assert_int_equal(x.msgs, 5);
}

/* The responder proves itself first, so a responder with another key is
 * caught by the initiator... */
static void test_wrong_key_responder(void **state)
{
	struct run x;

	handshake(&x, &key_a, &key_b, 1, 2, -1);
	assert_int_equal(x.err_i, -EACCES);
	assert_int_equal(x.i.state, AUTH_FAILED);
	assert_non_null(x.i.error);
	assert_false(auth_done(&x.r));
}

/* ...and an initiator with another key that goes on anyway (it forges its
 * proof with the key it has) is caught by the responder. */
static void test_wrong_key_initiator(void **state)
{
	struct net_msg out[AUTH_MAX_OUT], forged;
	struct auth_hs r;
	struct run x;

	handshake(&x, &key_a, &key_a, 1, 2, -1);	/* for a real HELLO pair */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_step(&r, &x.hello_i, out), 2);
	memset(&forged, 0, sizeof(forged));
	forged.type = NET_MSG_AUTH;
	uint32_t fl[2] = { x.hello_i.u.hello.flags, out[0].u.hello.flags };
	auth_mac(&key_b, 'I', 1, 2, x.hello_i.u.hello.nonce,
		 out[0].u.hello.nonce, fl, forged.u.auth.mac);
	assert_int_equal(auth_step(&r, &forged, out), -EACCES);
	assert_int_equal(r.state, AUTH_FAILED);
	assert_non_null(r.error);

	/* With the right key the same construction is accepted: the test
	 * above fails for the key alone. */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_step(&r, &x.hello_i, out), 2);
	auth_mac(&key_a, 'I', 1, 2, x.hello_i.u.hello.nonce,
		 out[0].u.hello.nonce, fl, forged.u.auth.mac);
	assert_int_equal(auth_step(&r, &forged, out), 1);
	assert_int_equal(out[0].type, NET_MSG_AUTH_OK);
	assert_int_equal(r.state, AUTH_WAIT_OK);	/* follower: awaits verdict */
}

/* A recorded initiator (HELLO + AUTH) replayed against a fresh responder:
 * the responder's new nonce makes the old proof worthless. */
static void test_replayed_initiator(void **state)
{
	struct net_msg out[AUTH_MAX_OUT];
	struct auth_hs r;
	struct run x;

	handshake(&x, &key_a, &key_a, 1, 2, -1);
	assert_true(auth_done(&x.r));
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_step(&r, &x.hello_i, out), 2);
	assert_int_equal(auth_step(&r, &x.auth_i, out), -EACCES);
}

/* A recorded responder (HELLO + AUTH) replayed to a fresh initiator. */
static void test_replayed_responder(void **state)
{
	struct net_msg out[AUTH_MAX_OUT];
	struct auth_hs i;
	struct run x;

	handshake(&x, &key_a, &key_a, 1, 2, -1);
	assert_int_equal(auth_init(&i, AUTH_INITIATOR, &key_a, 1, -1), 0);
	assert_int_equal(auth_start(&i, out), 1);
	assert_int_equal(auth_step(&i, &x.hello_r, out), 0);
	assert_int_equal(auth_step(&i, &x.auth_r, out), -EACCES);
}

/* The responder's own proof reflected back as the initiator's. */
static void test_reflected(void **state)
{
	struct net_msg out[AUTH_MAX_OUT], hello;
	struct auth_hs r;

	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	memset(&hello, 0, sizeof(hello));
	hello.type = NET_MSG_HELLO;
	hello.u.hello.node_id = 1;
	assert_int_equal(auth_step(&r, &hello, out), 2);
	assert_int_equal(out[1].type, NET_MSG_AUTH);
	assert_int_equal(auth_step(&r, &out[1], out), -EACCES);
}

/* A handshake whose responder HELLO has its flags XORed with `flags` and
 * its nonce's first byte with `nonce`: the initiator's verdict on the
 * responder's proof. */
static int responder_hello_changed(uint32_t flags, uint8_t nonce)
{
	struct net_msg out[AUTH_MAX_OUT], m, auth_r;
	struct auth_hs i, r;

	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_init(&i, AUTH_INITIATOR, &key_a, 1, -1), 0);
	assert_int_equal(auth_start(&i, out), 1);
	assert_int_equal(auth_step(&r, &out[0], out), 2);
	auth_r = out[1];
	m = out[0];
	m.u.hello.flags ^= flags;
	m.u.hello.nonce[0] ^= nonce;
	assert_int_equal(auth_step(&i, &m, out), 0);
	return auth_step(&i, &auth_r, out);
}

static void test_tampered(void **state)
{
	struct net_msg out[AUTH_MAX_OUT], m;
	struct auth_hs i, r;
	struct run x;

	/* A flipped bit in the initiator's proof. */
	handshake(&x, &key_a, &key_a, 1, 2, -1);
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_init(&i, AUTH_INITIATOR, &key_a, 1, -1), 0);
	assert_int_equal(auth_start(&i, out), 1);
	m = out[0];
	assert_int_equal(auth_step(&r, &m, out), 2);
	struct net_msg auth_r = out[1];
	assert_int_equal(auth_step(&i, &out[0], out), 0);
	assert_int_equal(auth_step(&i, &auth_r, out), 1);
	m = out[0];
	m.u.auth.mac[17] ^= 0x04;
	assert_int_equal(auth_step(&r, &m, out), -EACCES);

	/* A changed nonce in the responder's HELLO (unchanged, it passes). */
	assert_int_equal(responder_hello_changed(0, 0), 1);
	assert_int_equal(responder_hello_changed(0, 1), -EACCES);
	/* Its AES offer cleared by someone on the path (to force the other
	 * cipher): the proofs cover the flags too. */
	assert_int_equal(responder_hello_changed(NET_HELLO_AES, 0), -EACCES);

	/* A changed node id in the initiator's HELLO (someone claiming to be
	 * another node with a proof made for its own id). */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_init(&i, AUTH_INITIATOR, &key_a, 1, -1), 0);
	assert_int_equal(auth_start(&i, out), 1);
	m = out[0];
	m.u.hello.node_id = 3;
	assert_int_equal(auth_step(&r, &m, out), 2);
	auth_r = out[1];
	assert_int_equal(auth_step(&i, &out[0], out), 0);
	assert_int_equal(auth_step(&i, &auth_r, out), -EACCES);
}

/* One node with --insecure-network, one without: refused both ways, by
 * whichever sees the other's HELLO first, with a reason naming the flag. */
static void test_insecure_mismatch(void **state)
{
	struct auth_key plain = key_a;
	struct run x;

	plain.insecure = true;
	handshake(&x, &plain, &key_a, 1, 2, -1);
	assert_int_equal(x.err_i, -EPROTONOSUPPORT);
	assert_non_null(strstr(x.i.error, "--insecure-network"));
	handshake(&x, &key_a, &plain, 1, 2, -1);
	assert_int_equal(x.err_i, -EPROTONOSUPPORT);
	/* An initiator that presses on: the responder refuses at its AUTH. */
	struct net_msg out[AUTH_MAX_OUT];
	struct auth_hs r;
	handshake(&x, &plain, &plain, 1, 2, -1);
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	assert_int_equal(auth_step(&r, &x.hello_i, out), 2);
	assert_int_equal(auth_step(&r, &x.auth_i, out), -EPROTONOSUPPORT);
	assert_non_null(strstr(r.error, "--insecure-network"));
	/* Both insecure: a link in clear. */
	handshake(&x, &plain, &plain, 1, 2, -1);
	assert_true(auth_done(&x.i) && auth_done(&x.r));
	assert_false(auth_sealed(&x.i));
	assert_false(auth_sealed(&x.r));
	struct seal tx, rx;
	assert_int_equal(auth_link(&x.i, &tx, &rx), -EINVAL);
}

/* One side's sealing key is the other's opening key, per direction; the
 * directions and two connections all differ; the cipher is AES-GCM only
 * when both offer it. */
static void test_link_keys(void **state)
{
	struct seal itx, irx, rtx, rrx, itx2, irx2;
	uint8_t f[NET_HDR_SIZE + 8 + SEAL_TAG_BYTES] = { 0 };
	struct auth_key portable = key_a;
	struct run x;

	handshake(&x, &key_a, &key_a, 1, 2, -1);
	assert_true(auth_sealed(&x.i));
	assert_int_equal(auth_cipher(&x.i), seal_aes_available() ?
			 SEAL_AES256_GCM : SEAL_XCHACHA20_POLY1305);
	assert_int_equal(auth_link(&x.i, &itx, &irx), 0);
	assert_int_equal(auth_link(&x.r, &rtx, &rrx), 0);
	memcpy(f + NET_HDR_SIZE, "page0123", 8);
	seal_close(&itx, f, 8);
	assert_int_equal(seal_open(&rrx, f, 8), 0);
	assert_memory_equal(f + NET_HDR_SIZE, "page0123", 8);
	seal_close(&rtx, f, 8);
	assert_int_equal(seal_open(&irx, f, 8), 0);
	/* A frame sealed for one direction does not open in the other. */
	seal_close(&itx, f, 8);
	assert_int_equal(seal_open(&irx, f, 8), -EKEYREJECTED);
	/* Nor on another connection between the same two nodes. */
	handshake(&x, &key_a, &key_a, 1, 2, -1);
	assert_int_equal(auth_link(&x.i, &itx2, &irx2), 0);
	seal_close(&itx, f, 8);
	assert_int_equal(seal_open(&irx2, f, 8), -EKEYREJECTED);

	portable.portable_cipher = true;
	handshake(&x, &portable, &key_a, 1, 2, -1);
	assert_int_equal(auth_cipher(&x.i), SEAL_XCHACHA20_POLY1305);
	assert_int_equal(auth_cipher(&x.r), SEAL_XCHACHA20_POLY1305);
	assert_int_equal(auth_link(&x.i, &itx, &irx), 0);
	assert_int_equal(auth_link(&x.r, &rtx, &rrx), 0);
	seal_close(&itx, f, 8);
	assert_int_equal(seal_open(&rrx, f, 8), 0);
}

static void test_protocol_errors(void **state)
{
	struct net_msg out[AUTH_MAX_OUT], m;
	struct auth_hs r, i;

	/* AUTH before HELLO. */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_AUTH;
	assert_int_equal(auth_step(&r, &m, out), -EPROTO);
	/* A session message during the handshake. */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	m.type = NET_MSG_PING;
	assert_int_equal(auth_step(&r, &m, out), -EPROTO);
	/* Our own id. */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &key_a, 2, -1), 0);
	memset(&m, 0, sizeof(m));
	m.type = NET_MSG_HELLO;
	m.u.hello.node_id = 2;
	assert_int_equal(auth_step(&r, &m, out), -EPERM);
	/* Not the node we dialled. */
	assert_int_equal(auth_init(&i, AUTH_INITIATOR, &key_a, 1, 4), 0);
	assert_int_equal(auth_start(&i, out), 1);
	m.u.hello.node_id = 3;
	assert_int_equal(auth_step(&i, &m, out), -EPERM);
	/* Anything after a failure. */
	m.u.hello.node_id = 4;
	assert_int_equal(auth_step(&i, &m, out), -EPROTO);
	/* Bad ids at init. */
	assert_int_equal(auth_init(&i, AUTH_INITIATOR, &key_a, NET_MAX_NODES, -1), -EINVAL);
}

/* --- node identity ------------------------------------------------------- */

/* Node keys from fixed seeds: nodes 1, 2, 3 trusted, node 9's key not. */
static struct auth_ident ids[4];
static struct auth_key node_key[4];	/* key_a with ids[k] */
static const unsigned node_of[4] = { 1, 2, 3, 9 };

static void seed_secret(unsigned k, char *out, size_t len)
{
	char hex[65];

	for (int i = 0; i < 64; i++)
		hex[i] = "0123456789abcdef"[(i * 7 + k * 3 + 1) & 15];
	hex[64] = 0;
	snprintf(out, len, "amalgam-node-key %s\n", hex);
}

static void make_ids(void)
{
	char text[512] = "# trusted nodes\n", line[128], sec[128], why[160];
	char hex[IDENT_HEX_BYTES];
	const char *w;

	for (unsigned k = 0; k < 4; k++) {
		memset(&ids[k], 0, sizeof(ids[k]));
		ids[k].joiner_id = -1;
		ids[k].joiner_as = -1;
		seed_secret(k, sec, sizeof(sec));
		assert_int_equal(ident_parse_secret(sec, strlen(sec), &ids[k], &w), 0);
		if (k < 3) {
			ident_pubkey_hex(ids[k].pk, hex);
			snprintf(line, sizeof(line), "%u  %s\n\n", node_of[k], hex);
			strcat(text, line);
		}
	}
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(ident_parse_trust(text, strlen(text), 16, &ids[k], why,
						   sizeof(why)), 0);
		node_key[k] = key_a;
		node_key[k].ident = &ids[k];
	}
}

static void test_ident_files(void **state)
{
	char path[] = "/tmp/amalgam-nodekey-XXXXXX", tpath[] = "/tmp/amalgam-trust-XXXXXX";
	char hex[IDENT_HEX_BYTES], line[128];
	struct auth_ident id;
	const char *why = NULL;
	struct stat st;
	int fd = mkstemp(path), tfd = mkstemp(tpath);

	assert_true(fd >= 0 && tfd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(ident_generate(path, hex), 0);
	assert_int_equal(ident_generate(path, hex), -EEXIST);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(strlen(hex), 64);
	snprintf(line, sizeof(line), "0 %s\n", hex);
	assert_int_equal(write(tfd, line, strlen(line)), (ssize_t)strlen(line));
	close(tfd);
	assert_int_equal(ident_load(&id, path, tpath, 16), 0);
	/* The public key printed is the one the secret file holds. */
	assert_true(id.trusted[0]);
	assert_memory_equal(id.trust[0], id.pk, NET_PUBKEY_BYTES);
	assert_int_equal(ident_find(&id, id.pk), 0);
	/* A cluster key file is not a node key file. */
	assert_int_equal(ident_parse_secret(hex_key, strlen(hex_key), &id, &why), -EINVAL);
	assert_non_null(why);
	assert_int_equal(ident_load(&id, tpath, tpath, 16), -EINVAL);
	unlink(path);
	unlink(tpath);
	assert_int_equal(ident_load(&id, path, tpath, 16), -ENOENT);
}

static void expect_bad_trust(const char *text, const char *needle)
{
	struct auth_ident id;
	char why[160] = "";

	assert_int_equal(ident_parse_trust(text, strlen(text), 16, &id, why, sizeof(why)),
			 -EINVAL);
	if (!strstr(why, needle))
		fail_msg("trust file '%s': reason '%s' lacks '%s'", text, why, needle);
}

static void test_trust_refused(void **state)
{
	char hex[IDENT_HEX_BYTES], hex2[IDENT_HEX_BYTES], buf[300];

	make_ids();
	ident_pubkey_hex(ids[0].pk, hex);
	ident_pubkey_hex(ids[1].pk, hex2);
	expect_bad_trust("", "no keys");
	expect_bad_trust("# only a comment\n", "no keys");
	expect_bad_trust("1\n", "line 1");
	snprintf(buf, sizeof(buf), "\n%s\n", hex);			/* no id */
	expect_bad_trust(buf, "line 2");
	snprintf(buf, sizeof(buf), "16 %s\n", hex);			/* id too big */
	expect_bad_trust(buf, "out of range");
	snprintf(buf, sizeof(buf), "-1 %s\n", hex);
	expect_bad_trust(buf, "line 1");
	snprintf(buf, sizeof(buf), "1 %.63s\n", hex);		/* short key */
	expect_bad_trust(buf, "line 1");
	snprintf(buf, sizeof(buf), "1 %.63sz\n", hex);		/* not hex */
	expect_bad_trust(buf, "line 1");
	snprintf(buf, sizeof(buf), "1 %s\n1 %s\n", hex, hex2);	/* id twice */
	expect_bad_trust(buf, "listed twice");
	snprintf(buf, sizeof(buf), "1 %s\n2 %s\n", hex, hex);	/* key twice */
	expect_bad_trust(buf, "one key per node");
	/* Good: comments, blank lines, tabs, CRLF. */
	struct auth_ident id;
	char why[160];
	snprintf(buf, sizeof(buf), "# c\r\n\t1\t%s\r\n\n2 %s", hex, hex2);
	assert_int_equal(ident_parse_trust(buf, strlen(buf), 16, &id, why, sizeof(why)), 0);
	assert_true(id.trusted[1] && id.trusted[2] && !id.trusted[0]);
}

/* Trusted nodes: two more messages (an IDENT each way), same verdicts. */
static void test_ident_right(void **state)
{
	struct run x;

	make_ids();
	handshake(&x, &node_key[0], &node_key[1], 1, 2, -1);
	assert_int_equal(x.err_i, 0);
	assert_int_equal(x.err_r, 0);
	assert_true(auth_done(&x.i) && auth_done(&x.r));
	assert_true(x.i.ident_ok && x.r.ident_ok);
	assert_int_equal(x.msgs, 8);
	assert_int_equal(x.ident_r.type, NET_MSG_IDENT);
	handshake(&x, &node_key[2], &node_key[0], 3, 1, 1);
	assert_true(auth_done(&x.i) && auth_done(&x.r));
	assert_int_equal(x.msgs, 7);
}

/* A holder of the cluster key whose node key is not trusted: refused by
 * either side, with a reason naming the trust list. */
static void test_ident_untrusted(void **state)
{
	struct run x;

	make_ids();
	handshake(&x, &node_key[3], &node_key[1], 9, 2, -1);
	assert_int_equal(x.err_r, -EKEYREJECTED);
	assert_non_null(strstr(x.r.error, "trust list"));
	assert_false(auth_done(&x.i));
	handshake(&x, &node_key[1], &node_key[3], 2, 9, -1);
	assert_int_equal(x.err_i, -EKEYREJECTED);
	assert_non_null(strstr(x.i.error, "trust list"));
	/* The same node with a trusted key and its own id gets in. */
	handshake(&x, &node_key[2], &node_key[1], 3, 2, -1);
	assert_true(auth_done(&x.i) && auth_done(&x.r));
}

/* A trusted node claiming another's id, whichever side it is on, and
 * whether or not the victim is connected (the state machine does not know:
 * it refuses before any slot is looked at). */
static void test_ident_other_id(void **state)
{
	struct run x;

	make_ids();
	/* Node 3 claims to be node 1 towards node 2. */
	handshake(&x, &node_key[2], &node_key[1], 1, 2, -1);
	assert_int_equal(x.err_r, -EKEYREJECTED);
	assert_non_null(strstr(x.r.error, "another node id"));
	/* Node 3, answering, claims to be node 1 to the node that dials it. */
	handshake(&x, &node_key[1], &node_key[2], 2, 1, -1);
	assert_int_equal(x.err_i, -EKEYREJECTED);
	assert_non_null(strstr(x.i.error, "another node id"));
}

/* Signatures are bound to the handshake: an IDENT recorded from node 1 and
 * replayed by someone claiming node 1 against fresh nonces is refused for
 * its signature, though its key is the right one. */
static void test_ident_replayed(void **state)
{
	struct net_msg out[AUTH_MAX_OUT], in;
	struct auth_hs r;
	struct run x;
	uint8_t buf[256];

	make_ids();
	handshake(&x, &node_key[0], &node_key[1], 1, 2, -1);
	assert_true(auth_done(&x.r));
	assert_int_equal(x.ident_i.type, NET_MSG_IDENT);
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &node_key[1], 2, -1), 0);
	assert_int_equal(auth_step(&r, &x.hello_i, out), 3);
	assert_int_equal(out[1].type, NET_MSG_IDENT);
	wire(&x.ident_i, &in, buf);
	assert_int_equal(auth_step(&r, &in, out), -EACCES);
	assert_non_null(strstr(r.error, "signature"));
	/* Without an IDENT first, AUTH alone is out of order. */
	assert_int_equal(auth_init(&r, AUTH_RESPONDER, &node_key[1], 2, -1), 0);
	assert_int_equal(auth_step(&r, &x.hello_i, out), 3);
	assert_int_equal(auth_step(&r, &x.auth_i, out), -EPROTO);
}

/* One node with --trust, one without: refused both ways. */
static void test_ident_mismatch(void **state)
{
	struct run x;

	make_ids();
	handshake(&x, &key_a, &node_key[1], 1, 2, -1);
	assert_int_equal(x.err_i, -EPROTONOSUPPORT);
	assert_non_null(strstr(x.i.error, "--trust"));
	handshake(&x, &node_key[0], &key_a, 1, 2, -1);
	assert_int_equal(x.err_i, -EPROTONOSUPPORT);
	assert_non_null(strstr(x.i.error, "--trust"));
}

/* Before JOIN a joiner answers under the joiner id; the coordinator
 * accepts it only with the key of the node it is about to make it. */
static void test_ident_joiner(void **state)
{
	struct run x;

	make_ids();
	for (unsigned k = 0; k < 4; k++)
		ids[k].joiner_id = 63;
	handshake(&x, &node_key[0], &node_key[1], 1, 63, -1);
	assert_int_equal(x.err_i, -EKEYREJECTED);	/* no joiner expected */
	ids[0].joiner_as = 2;
	handshake(&x, &node_key[0], &node_key[1], 1, 63, -1);
	assert_true(auth_done(&x.i) && auth_done(&x.r));
	ids[0].joiner_as = 3;
	handshake(&x, &node_key[0], &node_key[1], 1, 63, -1);
	assert_int_equal(x.err_i, -EKEYREJECTED);
	assert_non_null(strstr(x.i.error, "another node id"));
	for (unsigned k = 0; k < 4; k++)
		ids[k].joiner_id = -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_forms),
		cmocka_unit_test(test_insecure_mismatch),
		cmocka_unit_test(test_link_keys),
		cmocka_unit_test(test_key_refused),
		cmocka_unit_test(test_key_files),
		cmocka_unit_test(test_right_key),
		cmocka_unit_test(test_wrong_key_responder),
		cmocka_unit_test(test_wrong_key_initiator),
		cmocka_unit_test(test_replayed_initiator),
		cmocka_unit_test(test_replayed_responder),
		cmocka_unit_test(test_reflected),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_ident_files),
		cmocka_unit_test(test_trust_refused),
		cmocka_unit_test(test_ident_right),
		cmocka_unit_test(test_ident_untrusted),
		cmocka_unit_test(test_ident_other_id),
		cmocka_unit_test(test_ident_replayed),
		cmocka_unit_test(test_ident_mismatch),
		cmocka_unit_test(test_ident_joiner),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
