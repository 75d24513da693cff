/* bench_nodesim: N simulated worker nodes in one process, one libuv loop.
 *
 * Each simulated node is a real cluster member as far as the managers can
 * tell: it joins with the worker token (the Noise join handshake of
 * common/sec/chan.h, which returns its own node certificate), then runs the
 * agent's own session code (worker/agent/session.c) with that certificate:
 * disp.register with a description (hostname simN, 64 CPUs, 256 GiB),
 * heartbeats at the dispatcher's period, the disp.assignments stream. What
 * it does not do is run containers: a new task is reported ACCEPTED at the
 * next tick and RUNNING once --delay-ms have passed (RUNNING at once with
 * the default 0), a task whose desired state goes above RUNNING is reported
 * SHUTDOWN, and a task removed from the assignments is forgotten. Reports
 * go out as one disp.status per node per tick (--tick-ms, 50).
 *
 * SIGUSR1 drops the sessions of --kill K nodes (the first K registered
 * ones not killed yet) for good, printing "killed simA simB ..." on stdout:
 * the benchmark's node-loss moment. SIGINT/SIGTERM stop everything.
 *
 * stdout carries only machine-readable lines: "ready N" once all N nodes
 * are registered, "killed ...", and with --stats a line per second
 * "stats up=U tasks=T running=R reports=P". Logs (warnings by default) go
 * to stderr. */
#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "common/buf.h"
#include "common/err.h"
#include "common/log.h"
#include "common/map.h"
#include "common/sec/chan.h"
#include "common/wire.h"
#include "worker/agent/session.h"

#define S(x)		    SHOAL__TASK_STATE__TASK_STATE_##x
#define MAX_JOINS_IN_FLIGHT 32u
#define JOIN_RETRY_MS	    500u
#define REPORT_TIMEOUT_MS   30000u

struct sim;

struct simtask {
	char *id;
	int desired;	  /* the manager's desired state */
	int reported;	  /* last state the dispatcher acknowledged */
	int sending;	  /* state in the report in flight, 0 = none */
	uint64_t arrived; /* uv_now when first assigned */
	int seen;	  /* in the COMPLETE message being applied */
};

struct simnode {
	struct sim *sim;
	int idx;
	char hostname[32];
	struct sec_identity id;
	int joined;
	int joining;
	struct agent_session *sess;
	int up;
	int killed;
	int report_inflight;
	struct map tasks; /* hash(task id) -> struct simtask* */
	Shoal__NodeDescription desc;
	Shoal__Platform platform;
	Shoal__Resources res;
	Shoal__EngineDescription engine;
};

struct sim {
	uv_loop_t *loop;
	char *managers[AGENT_MAX_MANAGERS];
	size_t n_managers;
	const char *token;
	int n;
	uint64_t tick_ms;
	uint64_t delay_ms;
	int kill_k;
	int stats;
	struct simnode *nodes;
	int next_join; /* next node index to join */
	unsigned joins_in_flight;
	int n_up;
	int ready_printed;
	int stopping;
	uint64_t reports; /* task updates acknowledged */
	uv_timer_t tick;
	uv_timer_t join_timer;
	uv_timer_t stats_timer;
	uv_signal_t sig_usr1, sig_int, sig_term;
};

static uint64_t hash_id(const char *s)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (uint8_t) *s) * 1099511628211ull;
	return h ? h : 1;
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* ------------------------------------------------------------------------ */
/* Tasks                                                                     */

static struct simtask *task_find(struct simnode *n, const char *id)
{
	struct simtask *t = map_get(&n->tasks, hash_id(id));

	return t && strcmp(t->id, id) == 0 ? t : NULL;
}

static void task_forget(struct simnode *n, struct simtask *t)
{
	map_del(&n->tasks, hash_id(t->id));
	free(t->id);
	free(t);
}

static void forget_all(struct simnode *n)
{
	uint64_t k;
	void *v;

	for (size_t i = 0; map_next(&n->tasks, &i, &k, &v);) {
		struct simtask *t = v;
		free(t->id);
		free(t);
	}
	map_free(&n->tasks);
	memset(&n->tasks, 0, sizeof(n->tasks));
}

/* The state this task should be reported in now. */
static int task_target(const struct sim *s, const struct simtask *t)
{
	if (t->desired > S(RUNNING))
		return S(SHUTDOWN);
	if (uv_now(s->loop) - t->arrived < s->delay_ms)
		return S(ACCEPTED);
	return t->desired < S(ACCEPTED) ? S(ACCEPTED) : t->desired;
}

static void put_task(struct simnode *n, const Shoal__Task *task)
{
	const char *id = task->meta ? task->meta->id : NULL;
	struct simtask *t;

	if (!id || !*id)
		return;
	t = task_find(n, id);
	if (!t) {
		if (map_get(&n->tasks, hash_id(id))) {
			log_warn("nodesim", "task id hash collision node=%s task=%s", n->hostname,
				 id);
			return;
		}
		t = xcalloc(1, sizeof(*t));
		t->id = xstrdup(id);
		t->arrived = uv_now(n->sim->loop);
		map_put(&n->tasks, hash_id(id), t);
	}
	t->desired = (int) task->desired_state;
	/* After a reconnect the manager may already hold a later state. */
	if (task->status && (int) task->status->state > t->reported)
		t->reported = (int) task->status->state;
	t->seen = 1;
}

static void on_assignments(void *arg, const Shoal__AssignmentsMessage *m)
{
	struct simnode *n = arg;
	int complete = m->type == SHOAL__ASSIGNMENTS_MESSAGE__TYPE__COMPLETE;
	uint64_t k;
	void *v;

	if (complete)
		for (size_t i = 0; map_next(&n->tasks, &i, &k, &v);)
			((struct simtask *) v)->seen = 0;
	for (size_t i = 0; i < m->n_changes; i++) {
		const Shoal__AssignmentChange *c = m->changes[i];
		const Shoal__Assignment *as = c->assignment;

		if (!as || as->item_case != SHOAL__ASSIGNMENT__ITEM_TASK || !as->task)
			continue;
		if (c->action == SHOAL__ASSIGNMENT_CHANGE__ACTION__REMOVE) {
			struct simtask *t =
			    as->task->meta ? task_find(n, as->task->meta->id) : NULL;
			if (t)
				task_forget(n, t);
		} else {
			put_task(n, as->task);
		}
	}
	if (complete) {
		struct simtask **gone = NULL;
		size_t n_gone = 0;
		for (size_t i = 0; map_next(&n->tasks, &i, &k, &v);) {
			if (((struct simtask *) v)->seen)
				continue;
			gone = xrealloc(gone, (n_gone + 1) * sizeof(*gone));
			gone[n_gone++] = v;
		}
		for (size_t i = 0; i < n_gone; i++)
			task_forget(n, gone[i]);
		free(gone);
	}
}

/* ------------------------------------------------------------------------ */
/* Status reports                                                            */

struct report {
	struct simnode *node;
	char **ids; /* owned copies: tasks may be forgotten meanwhile */
	int *states;
	size_t n;
};

static void report_done(struct rpc_call *call, int status, const char *msg, const uint8_t *body,
			size_t len)
{
	struct report *r = call->data;
	struct simnode *n = r->node;

	(void) body;
	(void) len;
	n->report_inflight = 0;
	if (status && !n->killed && !n->sim->stopping)
		log_warn("nodesim", "status report failed node=%s err=\"%s\" msg=\"%s\"",
			 n->hostname, err_str(status), msg ? msg : "");
	for (size_t i = 0; i < r->n; i++) {
		struct simtask *t = n->killed ? NULL : task_find(n, r->ids[i]);
		if (t && t->sending == r->states[i]) {
			if (status == 0 && r->states[i] > t->reported)
				t->reported = r->states[i];
			t->sending = 0;
		}
		free(r->ids[i]);
	}
	if (status == 0)
		n->sim->reports += r->n;
	free(r->ids);
	free(r->states);
	free(r);
}

static void report_node(struct simnode *n)
{
	struct sim *s = n->sim;
	Shoal__UpdateTaskStatusRequest req = SHOAL__UPDATE_TASK_STATUS_REQUEST__INIT;
	Shoal__TaskStatusUpdate *ups;
	Shoal__TaskStatusUpdate **upp;
	Shoal__TaskStatus *sts;
	struct report *r;
	size_t cap = n->tasks.len, k = 0;
	int64_t ts = now_ns();
	uint64_t key;
	void *v;
	int rv;

	if (!n->up || n->report_inflight || !cap)
		return;
	ups = xcalloc(cap, sizeof(*ups));
	upp = xcalloc(cap, sizeof(*upp));
	sts = xcalloc(cap, sizeof(*sts));
	r = xcalloc(1, sizeof(*r));
	r->node = n;
	r->ids = xcalloc(cap, sizeof(*r->ids));
	r->states = xcalloc(cap, sizeof(*r->states));
	for (size_t i = 0; map_next(&n->tasks, &i, &key, &v);) {
		struct simtask *t = v;
		int target = task_target(s, t);
		if (target <= t->reported)
			continue;
		shoal__task_status_update__init(&ups[k]);
		shoal__task_status__init(&sts[k]);
		sts[k].timestamp = ts;
		sts[k].state = (Shoal__TaskState) target;
		sts[k].message = target == S(SHUTDOWN)	? "shutdown"
				 : target == S(RUNNING) ? "started"
							: "accepted";
		ups[k].task_id = t->id;
		ups[k].status = &sts[k];
		upp[k] = &ups[k];
		t->sending = target;
		r->ids[k] = xstrdup(t->id);
		r->states[k] = target;
		k++;
	}
	r->n = k;
	if (k) {
		req.n_updates = k;
		req.updates = upp;
		rv = agent_session_report(n->sess, &req, REPORT_TIMEOUT_MS, report_done, r);
		if (rv == 0) {
			n->report_inflight = 1;
			r = NULL;
		} else {
			for (size_t i = 0; i < k; i++)
				task_find(n, r->ids[i])->sending = 0;
		}
	}
	if (r) {
		for (size_t i = 0; i < r->n; i++)
			free(r->ids[i]);
		free(r->ids);
		free(r->states);
		free(r);
	}
	free(ups);
	free(upp);
	free(sts);
}

static void tick_cb(uv_timer_t *t)
{
	struct sim *s = t->data;

	for (int i = 0; i < s->n; i++)
		report_node(&s->nodes[i]);
}

/* ------------------------------------------------------------------------ */
/* Sessions                                                                  */

static void on_state(void *arg, int connected, const char *manager)
{
	struct simnode *n = arg;
	struct sim *s = n->sim;

	(void) manager;
	if (connected == n->up)
		return;
	n->up = connected;
	s->n_up += connected ? 1 : -1;
	if (!connected)
		n->report_inflight = 0; /* its call failed with the connection */
	if (s->n_up == s->n && !s->ready_printed) {
		s->ready_printed = 1;
		printf("ready %d\n", s->n);
		fflush(stdout);
	}
}

static void start_session(struct simnode *n)
{
	struct sim *s = n->sim;
	struct agent_session_config cfg = {
	    .id = &n->id,
	    .managers = (const char *const *) s->managers,
	    .n_managers = s->n_managers,
	    .desc = &n->desc,
	    .on_state = on_state,
	    .on_assignments = on_assignments,
	    .arg = n,
	};
	int rv = agent_session_start(s->loop, &cfg, &n->sess);

	if (rv)
		log_error("nodesim", "cannot start session node=%s err=\"%s\"", n->hostname,
			  err_str(rv));
}

/* ------------------------------------------------------------------------ */
/* Joining                                                                   */

static void join_next(struct sim *s);

static void join_timer_cb(uv_timer_t *t)
{
	join_next(t->data);
}

static void join_retry(struct simnode *n, const char *why)
{
	struct sim *s = n->sim;

	log_warn("nodesim", "join failed node=%s why=\"%s\", retrying", n->hostname, why);
	n->joining = 0;
	s->joins_in_flight--;
	/* Go again later from this node: join_next picks the lowest index. */
	if (n->idx < s->next_join)
		s->next_join = n->idx;
	if (!s->stopping)
		uv_timer_start(&s->join_timer, join_timer_cb, JOIN_RETRY_MS, 0);
}

static void join_done(struct wire_conn *c, int status, const char *why, const struct sec_peer *peer,
		      struct sec_join_result *res, void *data)
{
	struct simnode *n = data;
	struct sim *s = n->sim;

	(void) peer;
	if (status || !res) {
		join_retry(n, why && *why ? why : err_str(status ? status : -SHOAL_EPROTO));
		return;
	}
	wire_close(c, 0); /* the join connection only carries the certificate */
	sec_identity_set(&n->id, res->static_priv, res->info.ca_public_key, res->info.cluster_id,
			 res->cert.data, res->cert.len);
	sodium_memzero(res->static_priv, sizeof(res->static_priv));
	buf_free(&res->cert);
	n->joined = 1;
	n->joining = 0;
	s->joins_in_flight--;
	if (!s->stopping) {
		start_session(n);
		join_next(s);
	}
}

static void join_connected(struct wire_conn *c, int status)
{
	struct simnode *n = c->data;
	struct sec_connect_config cfg = {
	    .join_token = n->sim->token,
	    .hostname = n->hostname,
	    .peer_role = SEC_ROLE_MANAGER,
	};
	int rv;

	if (status) {
		join_retry(n, err_str(status));
		return;
	}
	rv = sec_connect(c, &cfg, join_done, n);
	if (rv) {
		wire_close(c, rv);
		join_retry(n, err_str(rv));
	}
}

static void join_next(struct sim *s)
{
	while (!s->stopping && s->joins_in_flight < MAX_JOINS_IN_FLIGHT && s->next_join < s->n) {
		struct simnode *n = &s->nodes[s->next_join++];
		/* Spread the certificate signing over the managers. */
		const char *addr = s->managers[n->idx % s->n_managers];
		struct wire_conn *c;
		int rv;

		if (n->joined || n->joining)
			continue;
		n->joining = 1;
		s->joins_in_flight++;
		rv = wire_connect(s->loop, addr, join_connected, n, &c);
		if (rv) {
			join_retry(n, err_str(rv));
			return;
		}
	}
}

/* ------------------------------------------------------------------------ */
/* Signals, stats, shutdown                                                  */

static void on_usr1(uv_signal_t *h, int sig)
{
	struct sim *s = h->data;
	int killed = 0;

	(void) sig;
	printf("killed");
	for (int i = 0; i < s->n && killed < s->kill_k; i++) {
		struct simnode *n = &s->nodes[i];
		if (n->killed || !n->sess || !n->up)
			continue;
		n->killed = 1;
		on_state(n, 0, NULL);
		agent_session_stop(n->sess, NULL, NULL);
		n->sess = NULL;
		forget_all(n);
		printf(" %s", n->hostname);
		killed++;
	}
	printf("\n");
	fflush(stdout);
}

static void stats_cb(uv_timer_t *t)
{
	struct sim *s = t->data;
	size_t tasks = 0, running = 0;
	uint64_t k;
	void *v;

	for (int i = 0; i < s->n; i++) {
		struct simnode *n = &s->nodes[i];
		tasks += n->tasks.len;
		for (size_t j = 0; map_next(&n->tasks, &j, &k, &v);)
			running += ((struct simtask *) v)->reported == S(RUNNING);
	}
	printf("stats up=%d tasks=%zu running=%zu reports=%llu\n", s->n_up, tasks, running,
	       (unsigned long long) s->reports);
	fflush(stdout);
}

static void on_stop_signal(uv_signal_t *h, int sig)
{
	struct sim *s = h->data;

	(void) sig;
	if (s->stopping)
		return;
	s->stopping = 1;
	for (int i = 0; i < s->n; i++) {
		struct simnode *n = &s->nodes[i];
		if (n->sess)
			agent_session_stop(n->sess, NULL, NULL);
		n->sess = NULL;
	}
	uv_close((uv_handle_t *) &s->tick, NULL);
	uv_close((uv_handle_t *) &s->join_timer, NULL);
	uv_close((uv_handle_t *) &s->stats_timer, NULL);
	uv_close((uv_handle_t *) &s->sig_usr1, NULL);
	uv_close((uv_handle_t *) &s->sig_int, NULL);
	uv_close((uv_handle_t *) &s->sig_term, NULL);
}

/* ------------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_nodesim --managers IP:PORT[,IP:PORT...] --token SWMTKN-1-...\n"
		"                     [-n NODES] [--tick-ms MS] [--delay-ms MS] [--kill K]\n"
		"                     [--stats] [--log-level LEVEL]\n"
		"  -n          simulated nodes (default 1000)\n"
		"  --tick-ms   one batched disp.status per node per tick (default 50)\n"
		"  --delay-ms  time from assignment to RUNNING; ACCEPTED meanwhile (default 0)\n"
		"  --kill K    SIGUSR1 drops K nodes' sessions for good (default 10)\n"
		"  --stats     print a stats line per second on stdout\n");
}

static int parse_u64(const char *opt, const char *v, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	x = strtoull(v ? v : "", &end, 10);
	if (!v || !*v || *end || errno || x > max) {
		fprintf(stderr, "bench_nodesim: %s needs a number up to %llu, got \"%s\"\n", opt,
			(unsigned long long) max, v ? v : "");
		return -EINVAL;
	}
	*out = x;
	return 0;
}

static int parse_args(struct sim *s, int argc, char **argv)
{
	uint64_t x;

	s->n = 1000;
	s->tick_ms = 50;
	s->kill_k = 10;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--stats") == 0) {
			s->stats = 1;
			continue;
		}
		if (!v) {
			fprintf(stderr, "bench_nodesim: unknown option or missing value: %s\n", a);
			return -EINVAL;
		}
		i++;
		if (strcmp(a, "--managers") == 0) {
			char *copy = xstrdup(v), *save = NULL;
			for (char *p = strtok_r(copy, ",", &save); p;
			     p = strtok_r(NULL, ",", &save)) {
				struct sockaddr_in sa;
				if (wire_parse_addr(p, &sa) != 0 ||
				    s->n_managers == AGENT_MAX_MANAGERS) {
					fprintf(stderr,
						"bench_nodesim: bad manager address \"%s\"\n", p);
					free(copy);
					return -EINVAL;
				}
				s->managers[s->n_managers++] = xstrdup(p);
			}
			free(copy);
		} else if (strcmp(a, "--token") == 0) {
			s->token = v;
		} else if (strcmp(a, "-n") == 0) {
			if (parse_u64(a, v, 100000, &x))
				return -EINVAL;
			if (x == 0) {
				fprintf(stderr, "bench_nodesim: -n needs at least 1 node\n");
				return -EINVAL;
			}
			s->n = (int) x;
		} else if (strcmp(a, "--tick-ms") == 0) {
			if (parse_u64(a, v, 60000, &s->tick_ms))
				return -EINVAL;
			if (s->tick_ms == 0) {
				fprintf(stderr, "bench_nodesim: --tick-ms must be at least 1\n");
				return -EINVAL;
			}
		} else if (strcmp(a, "--delay-ms") == 0) {
			if (parse_u64(a, v, 3600000, &s->delay_ms))
				return -EINVAL;
		} else if (strcmp(a, "--kill") == 0) {
			if (parse_u64(a, v, 100000, &x))
				return -EINVAL;
			s->kill_k = (int) x;
		} else if (strcmp(a, "--log-level") == 0) {
			enum log_level lvl;
			if (log_parse_level(v, &lvl) != 0) {
				fprintf(stderr, "bench_nodesim: bad --log-level \"%s\"\n", v);
				return -EINVAL;
			}
			log_set_level(lvl);
		} else {
			fprintf(stderr, "bench_nodesim: unknown option %s\n", a);
			return -EINVAL;
		}
	}
	if (!s->n_managers || !s->token) {
		fprintf(stderr, "bench_nodesim: --managers and --token are required\n");
		return -EINVAL;
	}
	return 0;
}

static void init_node(struct sim *s, struct simnode *n, int i)
{
	n->sim = s;
	n->idx = i;
	snprintf(n->hostname, sizeof(n->hostname), "sim%d", i + 1);
	shoal__node_description__init(&n->desc);
	shoal__platform__init(&n->platform);
	shoal__resources__init(&n->res);
	shoal__engine_description__init(&n->engine);
	n->platform.architecture = "x86_64";
	n->platform.os = "linux";
	n->res.nano_cpus = 64LL * 1000000000LL;
	n->res.memory_bytes = 256LL << 30;
	n->engine.engine_version = "nodesim";
	n->desc.hostname = n->hostname;
	n->desc.platform = &n->platform;
	n->desc.resources = &n->res;
	n->desc.engine = &n->engine;
}

int main(int argc, char **argv)
{
	struct sim s = {0};
	struct rlimit rl;
	int rv;

	log_set_level(LOG_LWARN);
	if (parse_args(&s, argc, argv) != 0) {
		usage();
		return 2;
	}
	if (sodium_init() < 0) {
		fprintf(stderr, "bench_nodesim: libsodium failed to initialise\n");
		return 1;
	}
	/* Two sockets per node at most (join, then session), plus slack. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t) s.n * 2 + 64) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < (rlim_t) s.n * 2 + 64)
			fprintf(stderr,
				"bench_nodesim: open files limit %llu is low for %d nodes\n",
				(unsigned long long) rl.rlim_cur, s.n);
	}
	signal(SIGPIPE, SIG_IGN);
	s.loop = uv_default_loop();
	s.nodes = xcalloc((size_t) s.n, sizeof(*s.nodes));
	for (int i = 0; i < s.n; i++)
		init_node(&s, &s.nodes[i], i);
	uv_timer_init(s.loop, &s.tick);
	uv_timer_init(s.loop, &s.join_timer);
	uv_timer_init(s.loop, &s.stats_timer);
	s.tick.data = s.join_timer.data = s.stats_timer.data = &s;
	uv_signal_init(s.loop, &s.sig_usr1);
	uv_signal_init(s.loop, &s.sig_int);
	uv_signal_init(s.loop, &s.sig_term);
	s.sig_usr1.data = s.sig_int.data = s.sig_term.data = &s;
	uv_signal_start(&s.sig_usr1, on_usr1, SIGUSR1);
	uv_signal_start(&s.sig_int, on_stop_signal, SIGINT);
	uv_signal_start(&s.sig_term, on_stop_signal, SIGTERM);
	uv_timer_start(&s.tick, tick_cb, s.tick_ms, s.tick_ms);
	if (s.stats)
		uv_timer_start(&s.stats_timer, stats_cb, 1000, 1000);
	join_next(&s);

	rv = uv_run(s.loop, UV_RUN_DEFAULT);
	for (int i = 0; i < s.n; i++) {
		forget_all(&s.nodes[i]);
		sec_identity_wipe(&s.nodes[i].id);
	}
	free(s.nodes);
	for (size_t i = 0; i < s.n_managers; i++)
		free(s.managers[i]);
	uv_loop_close(s.loop);
	return rv < 0 ? 1 : 0;
}
