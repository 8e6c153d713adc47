/* The page-coherence protocol of src/dsm (dsm.h) as a Promela model, with
 * eviction, checked by spin (tests/model/check.sh): 3 nodes, 2 pages,
 * node 0 home of page 0, node 1 of page 1, node 2 home of nothing (CPUs
 * only). Each function below mirrors the C function of the same name in
 * src/dsm/node.c (participant) or src/dsm/dir.c (home); each "assert(0)"
 * is a dsm__proto_error there, which the machine must never reach.
 *
 * Checked in every reachable state (the monitor): one writer or many
 * readers, and every mapped copy holds the latest write (no lost write).
 * Checked when nothing can move any more (timeout): every access the
 * vCPUs started completed, every request was answered, no transaction is
 * left at a home, every link is empty, and each page's current contents
 * are held by someone.
 *
 * What the model leaves out: the never-written (ZERO) optimisation (pages
 * start held Shared by their homes, version 0, contents 0), dsm_preload,
 * statistics and the hold window (a caller's policy). Messages between
 * two nodes travel on one FIFO channel per ordered pair, as on one TCP
 * connection; a node's requests and DONEs to itself go through a local
 * queue drained at the end of each step, its DATA and GRANT to itself are
 * applied at once, as in dsm__send().
 *
 * -DBROKEN: the home throws written-back contents away instead of
 * keeping them (take_copy does nothing); spin must find the lost write. */

#define N 3
#define P 2
#define QL 8		/* messages a link can hold */
/* Accesses each node's vCPU starts, and evictions each node may do.
 * With these bounds the check takes seconds (1.1 million states); OPS2=2
 * gives node 2, which homes nothing, a second access, so that it can
 * fetch, evict, fetch again and evict again before its first EVICT_ACK
 * (the second-eviction race): that passes too, with 21 million states
 * in 4 minutes and 1 GB (DSM_MODEL_ARGS=-DOPS2=2 check.sh). */
#ifndef OPS
#define OPS 1
#endif
#ifndef OPS2
#define OPS2 OPS
#endif
#ifndef EVS
#define EVS 2
#endif

#define HOME(p) (p)
#define BIT(n) (1 << (n))
#define IX(n, p) ((n) * P + (p))

/* states */
#define I 0
#define S 1
#define E 2
/* pending requests */
#define PR 1
#define PW 2

mtype = { READ_REQ, WRITE_REQ, FWD_READ, FWD_WRITE, INV, INV_ACK, DATA,
	  GRANT, DONE, EVICT, EVICT_ACK, FWD_NACK };

/* type, page, version, requester, contents, exclusive */
chan link[N * N] = [QL] of { mtype, byte, byte, byte, byte, bool };

/* each node's copy of each page */
byte st[N * P], ver[N * P], val[N * P], pend[N * P], evc[N * P];
bool wantw[N * P];
/* the guest: each node's vCPU access in progress (0, PR, PW) */
byte acc[N * P];
byte ops_left[N], ev_left[N];
byte truth[P];

/* directory at the home */
byte cs[P], dver[P];
bool dex[P];
/* the one transaction per busy page, and its queue */
bool busy[P], tdone[P], tnack[P], tfsent[P], tfev[P];
mtype tkind[P];
byte treq[P], twait[P], tsrc[P], tfwd[P];
mtype qt[P * N];
byte qf[P * N], qh[P], ql[P];
#define WSRC_NONE 0
#define WSRC_HOME 1
#define WSRC_FWD 2

/* each node's queue to itself */
mtype sq_t[N * 4];
byte sq_p[N * 4], sq_v[N * 4], sq_n[N];

#define lowest(set, out) \
	if :: (set) & 1 -> out = 0 :: else -> if :: (set) & 2 -> out = 1 :: else -> out = 2 fi fi

/* The vCPU's access, done if the copy allows it: at the start and the
 * moment the page is mapped (the plane's hold window lets a woken vCPU
 * use its page before it moves on; without it the model would also have
 * to explore pages stolen before use, forever). */
inline use(p) {
	if
	:: acc[IX(me, p)] == PW && st[IX(me, p)] == E ->
		assert(val[IX(me, p)] == truth[p]);
		truth[p]++;
		val[IX(me, p)] = truth[p];
		acc[IX(me, p)] = 0
	:: acc[IX(me, p)] == PR && st[IX(me, p)] != I ->
		assert(val[IX(me, p)] == truth[p]);
		acc[IX(me, p)] = 0
	:: else -> skip
	fi
}

inline self_push(t, p, v) {
	assert(sq_n[me] < 4);
	sq_t[me * 4 + sq_n[me]] = t;
	sq_p[me * 4 + sq_n[me]] = p;
	sq_v[me * 4 + sq_n[me]] = v;
	sq_n[me]++
}

/* part_data for DATA the home sends itself: the contents come with it,
 * no DONE (it is the home), an upgrade waiting goes to the local queue. */
inline part_data_self(p, v, x, ex) {
	assert(pend[IX(me, p)] == (ex -> PW : PR) && st[IX(me, p)] == I);
	st[IX(me, p)] = (ex -> E : S);
	ver[IX(me, p)] = v;
	val[IX(me, p)] = x;
	pend[IX(me, p)] = 0;
	if
	:: wantw[IX(me, p)] && !ex -> pend[IX(me, p)] = PW; self_push(WRITE_REQ, p, 0)
	:: else -> skip
	fi;
	wantw[IX(me, p)] = false;
	use(p)
}

inline part_grant(p, v) {
	assert(pend[IX(me, p)] == PW && st[IX(me, p)] == S && ver[IX(me, p)] + 1 == v);
	st[IX(me, p)] = E;
	ver[IX(me, p)] = v;
	pend[IX(me, p)] = 0;
	wantw[IX(me, p)] = false;
	use(p)
}

/* dsm__send: to a peer on its link; requests and DONEs to itself into
 * the local queue. Its DATA and GRANT to itself are applied where they
 * are made (part_data_self, part_grant), as dsm__send does. */
inline send(to, t, p, v, r, x, ex) {
	if
	:: to == me -> self_push(t, p, v)
	:: else -> assert(nfull(link[me * N + to])); link[me * N + to]!t, p, v, r, x, ex
	fi
}

inline request(p, w) {
	if
	:: w -> pend[IX(me, p)] = PW; wantw[IX(me, p)] = false;
		send(HOME(p), WRITE_REQ, p, 0, me, 0, false)
	:: else -> pend[IX(me, p)] = PR; send(HOME(p), READ_REQ, p, 0, me, 0, false)
	fi
}

inline local_downgrade(p) {
	if :: st[IX(me, p)] == E -> st[IX(me, p)] = S :: else -> skip fi
}

inline local_drop(p) {
	st[IX(me, p)] = I;
	val[IX(me, p)] = 255
}

/* ---- home side (dir.c) ---- */

inline finish_write(p) {
	hc = treq[p] != me && (cs[p] & BIT(me));
	cs[p] = BIT(treq[p]);
	dex[p] = true;
	dver[p]++;
	if
	:: tsrc[p] == WSRC_NONE ->
		if :: hc -> local_drop(p) :: else -> skip fi;
		if
		:: treq[p] == me -> part_grant(p, dver[p])
		:: else -> send(treq[p], GRANT, p, dver[p], treq[p], 0, false)
		fi
	:: tsrc[p] == WSRC_HOME ->
		local_downgrade(p);
		send(treq[p], DATA, p, dver[p], treq[p], val[IX(me, p)], true);
		local_drop(p)
	:: tsrc[p] == WSRC_FWD ->
		tdone[p] = true;
		tfsent[p] = true;
		send(tfwd[p], FWD_WRITE, p, dver[p], treq[p], 0, false)
	fi
}

inline start_read(p) {
	if
	:: cs[p] & BIT(me) ->
		local_downgrade(p);
		dex[p] = false;
		cs[p] = cs[p] | BIT(treq[p]);
		send(treq[p], DATA, p, dver[p], treq[p], val[IX(me, p)], false)
	:: !(cs[p] & BIT(me)) && cs[p] == 0 -> assert(0)	/* written page held by nobody */
	:: !(cs[p] & BIT(me)) && cs[p] != 0 ->
		lowest(cs[p], tg);
		dex[p] = false;
		cs[p] = cs[p] | BIT(treq[p]);
		tdone[p] = true;
		tfwd[p] = tg;
		tfsent[p] = true;
		send(tg, FWD_READ, p, dver[p], treq[p], 0, false)
	fi
}

inline start_write(p) {
	if
	:: cs[p] & BIT(treq[p]) -> tsrc[p] = WSRC_NONE
	:: else ->
		if
		:: cs[p] & BIT(me) -> tsrc[p] = WSRC_HOME
		:: !(cs[p] & BIT(me)) && cs[p] != 0 -> tsrc[p] = WSRC_FWD; lowest(cs[p], tg); tfwd[p] = tg
		:: !(cs[p] & BIT(me)) && cs[p] == 0 -> assert(0)
		fi
	fi;
	inv = cs[p] & ~BIT(treq[p]) & ~BIT(me);
	if :: tsrc[p] == WSRC_FWD -> inv = inv & ~BIT(tfwd[p]) :: else -> skip fi;
	twait[p] = inv;
	k = 0;
	do
	:: k < N && (inv & BIT(k)) -> send(k, INV, p, dver[p], treq[p], 0, false); k++
	:: k < N && !(inv & BIT(k)) -> k++
	:: k == N -> break
	od;
	if :: twait[p] == 0 -> finish_write(p) :: else -> skip fi
}

/* the home's own read, made needless by a write-back it took */
inline local_read_done(p) {
	pend[IX(me, p)] = 0;
	if
	:: wantw[IX(me, p)] -> wantw[IX(me, p)] = false; request(p, true)
	:: else -> skip
	fi;
	use(p)
}

inline start(p, t, from) {
	tkind[p] = t;
	treq[p] = from;
	twait[p] = 0;
	tdone[p] = false;
	tnack[p] = false;
	tfsent[p] = false;
	tfev[p] = false;
	if
	:: t == READ_REQ ->
		if
		:: from == me && (cs[p] & BIT(me)) -> local_read_done(p)
		:: else -> assert(!(cs[p] & BIT(from))); start_read(p)
		fi
	:: t == WRITE_REQ ->
		assert(!(dex[p] && cs[p] == BIT(from)));
		start_write(p)
	fi
}

#define IN_FLIGHT(p) (twait[p] != 0 || tdone[p] || tnack[p])

inline run_q(p) {
	do
	:: IN_FLIGHT(p) -> break
	:: !IN_FLIGHT(p) && ql[p] == 0 -> busy[p] = false; break
	:: !IN_FLIGHT(p) && ql[p] > 0 ->
		qtype = qt[p * N + qh[p]];
		qfrom = qf[p * N + qh[p]];
		qh[p] = (qh[p] + 1) % N;
		ql[p]--;
		start(p, qtype, qfrom)
	od
}

/* Queued, and started by run_q at the end of the step (dsm__dir_request
 * starts it at once; nothing else happens in that step before). */
inline dir_request(p, t, from) {
	k = 0;
	do
	:: k < ql[p] -> assert(qf[p * N + (qh[p] + k) % N] != from); k++
	:: k >= ql[p] -> break
	od;
	assert(!(busy[p] && (twait[p] != 0 || tdone[p]) && treq[p] == from));
	assert(ql[p] < N);
	qt[p * N + (qh[p] + ql[p]) % N] = t;
	qf[p * N + (qh[p] + ql[p]) % N] = from;
	ql[p]++;
	busy[p] = true
}

inline dir_inv_ack(p, from, v) {
	assert(busy[p] && (twait[p] & BIT(from)) && v == dver[p]);
	twait[p] = twait[p] & ~BIT(from);
	if :: twait[p] == 0 -> finish_write(p) :: else -> skip fi
}

inline dir_done(p, from, v) {
	assert(busy[p] && tdone[p] && treq[p] == from && v == dver[p]);
	tdone[p] = false
}

inline take_copy(p, x) {
#ifndef BROKEN
	st[IX(me, p)] = S;
	ver[IX(me, p)] = dver[p];
	val[IX(me, p)] = x;
	cs[p] = cs[p] | BIT(me);
	use(p)
#else
	skip
#endif
}

inline dir_evict(p, a, v, x) {
	if
	:: !(cs[p] & BIT(a)) ->
		/* the owner a FWD_WRITE is on its way to */
		assert(busy[p] && tkind[p] == WRITE_REQ && tsrc[p] == WSRC_FWD &&
		       tfwd[p] == a && tfsent[p] && tdone[p] && v + 1 == dver[p]);
		if
		:: treq[p] == me -> part_data_self(p, dver[p], x, true)
		:: else -> send(treq[p], DATA, p, dver[p], treq[p], x, true)
		fi;
		tdone[p] = false;
		tnack[p] = true
	:: else ->
		assert(v == dver[p]);
		cs[p] = cs[p] & ~BIT(a);
		dex[p] = false;
		if
		:: busy[p] && tkind[p] == WRITE_REQ && (twait[p] != 0 || tdone[p]) ->
			if
			:: twait[p] & BIT(a) ->
				twait[p] = twait[p] & ~BIT(a);
				if :: twait[p] == 0 -> finish_write(p) :: else -> skip fi
			:: !(twait[p] & BIT(a)) && tsrc[p] == WSRC_FWD && tfwd[p] == a && !tfsent[p] ->
				take_copy(p, x);
				tsrc[p] = (treq[p] == me -> WSRC_NONE : WSRC_HOME)
			:: else -> assert(0)	/* EVICT the write did not expect */
			fi
		:: busy[p] && tkind[p] == READ_REQ && tdone[p] && tfwd[p] == a && tfsent[p] && treq[p] == me ->
			/* it did not serve: the EVICT's contents are our read */
			part_data_self(p, dver[p], x, false);
			tdone[p] = false;
			tnack[p] = true
		:: else ->
			if
			:: busy[p] && tkind[p] == READ_REQ && tdone[p] && tfwd[p] == a && tfsent[p] ->
				tfev[p] = true
			:: else -> skip
			fi;
			if
			:: st[IX(me, p)] == I && !(busy[p] && treq[p] == me) -> take_copy(p, x)
			:: else -> skip
			fi
		fi
	fi;
	send(a, EVICT_ACK, p, v, a, 0, false)
}

inline dir_nack(p, from) {
	assert(busy[p] && tfwd[p] == from && tfsent[p]);
	if
	:: tnack[p] -> tnack[p] = false
	:: !tnack[p] && tkind[p] == READ_REQ && tfev[p] && tdone[p] && (cs[p] & BIT(me)) ->
		send(treq[p], DATA, p, dver[p], treq[p], val[IX(me, p)], false);
		tdone[p] = false
	:: else -> assert(0)
	fi
}

/* ---- participant side (node.c) ---- */

inline part_data(p, v, x, ex, from) {
	assert(pend[IX(me, p)] == (ex -> PW : PR) && st[IX(me, p)] == I);
	st[IX(me, p)] = (ex -> E : S);
	ver[IX(me, p)] = v;
	val[IX(me, p)] = x;
	pend[IX(me, p)] = 0;
	if
	:: from != HOME(p) -> send(HOME(p), DONE, p, v, me, 0, false)
	:: else -> skip
	fi;
	if
	:: wantw[IX(me, p)] && !ex -> request(p, true)
	:: else -> skip
	fi;
	wantw[IX(me, p)] = false;
	use(p)
}

inline part_inv(p, v, from) {
	if
	:: evc[IX(me, p)] > 0 -> skip	/* stale: our EVICT is the ack */
	:: else ->
		assert(st[IX(me, p)] == S && ver[IX(me, p)] == v);
		local_drop(p);
		send(from, INV_ACK, p, v, 0, 0, false)
	fi
}

inline part_fwd(p, w, v, r, from) {
	if
	:: evc[IX(me, p)] > 0 -> send(from, FWD_NACK, p, v, r, 0, false)
	:: else ->
		assert(st[IX(me, p)] != I && ver[IX(me, p)] + w == v);
		local_downgrade(p);
		send(r, DATA, p, v, r, val[IX(me, p)], w);
		if :: w -> local_drop(p) :: else -> skip fi
	fi
}

/* dsm_evict */
inline evict(p) {
	if
	:: st[IX(me, p)] == E -> local_downgrade(p);
		send(HOME(p), EVICT, p, ver[IX(me, p)], me, val[IX(me, p)], true)
	:: st[IX(me, p)] == S ->
		send(HOME(p), EVICT, p, ver[IX(me, p)], me, val[IX(me, p)], false)
	fi;
	local_drop(p);
	evc[IX(me, p)]++
}

/* dsm_fault, from the vCPU's access */
inline fault(p, w) {
	if
	:: st[IX(me, p)] == E || (st[IX(me, p)] == S && !w) -> skip	/* spurious */
	:: else ->
		if
		:: pend[IX(me, p)] != 0 ->
			if :: w && pend[IX(me, p)] == PR -> wantw[IX(me, p)] = true :: else -> skip fi
		:: else -> request(p, w)
		fi
	fi
}

inline drain_self() {
	k2 = 0;
	do
	:: k2 < sq_n[me] ->
		if
		:: sq_t[me * 4 + k2] == READ_REQ || sq_t[me * 4 + k2] == WRITE_REQ ->
			dir_request(sq_p[me * 4 + k2], sq_t[me * 4 + k2], me)
		:: sq_t[me * 4 + k2] == DONE ->
			dir_done(sq_p[me * 4 + k2], me, sq_v[me * 4 + k2])
		:: else -> assert(0)
		fi;
		k2++
	:: k2 >= sq_n[me] -> break
	od;
	sq_n[me] = 0
}

/* The end of a step on page p: what the node sent itself is taken, and
 * the home starts what is queued (which may send it more). */
inline step_end(p) {
	do
	:: sq_n[me] > 0 -> drain_self()
	:: sq_n[me] == 0 && busy[p] && HOME(p) == me && !IN_FLIGHT(p) -> run_q(p)
	:: else -> break
	od
}

inline receive(from) {
	link[from * N + me]?mt, mp, mv, mr, mx, mex;
	if
	:: mt == READ_REQ || mt == WRITE_REQ -> dir_request(mp, mt, from)
	:: mt == INV_ACK -> dir_inv_ack(mp, from, mv)
	:: mt == DONE -> dir_done(mp, from, mv)
	:: mt == EVICT -> dir_evict(mp, from, mv, mx)
	:: mt == FWD_NACK -> dir_nack(mp, from)
	:: mt == INV -> part_inv(mp, mv, from)
	:: mt == FWD_READ -> part_fwd(mp, false, mv, mr, from)
	:: mt == FWD_WRITE -> part_fwd(mp, true, mv, mr, from)
	:: mt == DATA -> part_data(mp, mv, mx, mex, from)
	:: mt == GRANT -> part_grant(mp, mv)
	:: mt == EVICT_ACK -> assert(evc[IX(me, mp)] > 0); evc[IX(me, mp)]--
	fi
}

/* The vCPU starts an access: done at once if the copy allows it, a
 * fault (dsm_fault) otherwise. */
inline access(p) {
	use(p);
	if
	:: acc[IX(me, p)] != 0 -> fault(p, acc[IX(me, p)] == PW)
	:: else -> skip
	fi
}

/* One writer or many readers, and no copy older than the latest write:
 * checked at the end of every step (every state a step leaves behind;
 * the states inside an atomic step are not visible to anyone). */
inline check_invariants() {
	ip = 0;
	do
	:: ip < P ->
		iw = 0; ir = 0; in = 0;
		do
		:: in < N ->
			if :: st[in * P + ip] == E -> iw++ :: st[in * P + ip] == S -> ir++ :: else -> skip fi;
			assert(st[in * P + ip] == I || val[in * P + ip] == truth[ip]);
			/* a vCPU never waits on a page that allows its access */
			assert(!(acc[in * P + ip] == PR && st[in * P + ip] != I) &&
			       !(acc[in * P + ip] == PW && st[in * P + ip] == E));
			in++
		:: in >= N -> break
		od;
		assert(iw <= 1 && !(iw == 1 && ir > 0));
		ip++
	:: ip >= P -> break
	od
}

proctype Node(byte me) {
	mtype mt, qtype;
	byte mp, mv, mr, mx, p, k, k2, tg, inv, qfrom, from, act;
	bool mex, hc;
	byte ip, iw, ir, in;

	do
	/* One step: a message, an access started, or an eviction; then what
	 * the step queued is run, and the invariants checked. */
	:: atomic {
		if
		:: nempty(link[0 * N + me]) && me != 0 -> from = 0; act = 0
		:: nempty(link[1 * N + me]) && me != 1 -> from = 1; act = 0
		:: nempty(link[2 * N + me]) && me != 2 -> from = 2; act = 0
		:: ops_left[me] > 0 -> ops_left[me]--; act = 1
		/* make room: evict a copy of another node's page */
		:: ev_left[me] > 0 && HOME(0) != me && st[IX(me, 0)] != I &&
		   pend[IX(me, 0)] == 0 -> ev_left[me]--; p = 0; act = 2
		:: ev_left[me] > 0 && HOME(1) != me && st[IX(me, 1)] != I &&
		   pend[IX(me, 1)] == 0 -> ev_left[me]--; p = 1; act = 2
		fi;
		if
		:: act == 0 -> receive(from); p = mp
		:: act == 1 ->
			if :: p = 0 :: p = 1 fi;
			if
			:: acc[IX(me, p)] == 0 -> if :: acc[IX(me, p)] = PR :: acc[IX(me, p)] = PW fi;
				access(p)
			:: else -> skip
			fi
		:: act == 2 -> evict(p)
		fi;
		step_end(p);
		check_invariants()
	   }
	:: timeout -> break
	od;
	/* Nothing can move: everything asked for was answered. */
	k = 0;
	do
	:: k < N * N -> assert(empty(link[k])); k++
	:: k >= N * N -> break
	od;
	k = 0;
	do
	:: k < N * P -> assert(acc[k] == 0 && pend[k] == 0 && evc[k] == 0); k++
	:: k >= N * P -> break
	od;
	assert(!busy[0] && !busy[1]);
	assert(cs[0] != 0 && cs[1] != 0)
}

init {
	byte n;

	atomic {
		n = 0;
		do
		:: n < N -> ops_left[n] = (n == 2 -> OPS2 : OPS); ev_left[n] = EVS; n++
		:: n >= N -> break
		od;
		/* every page held Shared by its home, version 0, contents 0 */
		st[IX(0, 0)] = S; val[IX(0, 0)] = 0; cs[0] = BIT(0);
		st[IX(1, 1)] = S; val[IX(1, 1)] = 0; cs[1] = BIT(1);
		n = 0;
		do
		:: n < N * P -> if :: st[n] == I -> val[n] = 255 :: else -> skip fi; n++
		:: n >= N * P -> break
		od;
		run Node(0); run Node(1); run Node(2)
	}
}
