/* bench_sched: the scheduler alone. A store built directly (no Raft) holds N ready nodes and
 * one service's M tasks in state PENDING; the bench times
 *   - plan:  sched_plan_make() over all M tasks (the placement decision: node set, task group,
 *            filters, spread heap), reported as placements per second;
 *   - batch: turning the decisions into task updates, SCHED_BATCH_MAX per batch, as the
 *            scheduler's pass does (store lookup, deep copy into an orch_batch);
 *   - apply: store_apply_batch() of those batches (what every manager does per Raft entry);
 * and, as the baseline in the same run, the naive placement: for each task a scan of every
 * node with the same filters (O(nodes) per task), on a prefix of the tasks, extrapolated.
 *
 * Usage: bench_sched [TASKS NODES]...   (default: 100000 1000 1000000 10000) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/buf.h"
#include "common/id.h"
#include "manager/orchestrator/batch.h"
#include "manager/scheduler/plan.h"
#include "manager/scheduler/sched.h"
#include "manager/store/store.h"

#define ST(x) SHOAL__TASK_STATE__TASK_STATE_##x

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double) ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t idx;

static void apply(struct store *st, struct orch_batch *b)
{
	struct store_result res;

	if (!orch_batch_len(b))
		return;
	b->b.timestamp = orch_now_ns();
	if (store_apply_batch(st, &b->b, ++idx, &res) != 0 || res.err) {
		fprintf(stderr, "bench_sched: apply failed: %s\n", res.msg);
		exit(1);
	}
	orch_batch_reset(b);
}

static void add_nodes(struct store *st, size_t n)
{
	struct orch_batch b;

	orch_batch_init(&b);
	for (size_t i = 0; i < n; i++) {
		Shoal__Node node = SHOAL__NODE__INIT;
		Shoal__Meta meta = SHOAL__META__INIT;
		Shoal__NodeSpec spec = SHOAL__NODE_SPEC__INIT;
		Shoal__NodeStatus status = SHOAL__NODE_STATUS__INIT;
		Shoal__NodeDescription desc = SHOAL__NODE_DESCRIPTION__INIT;
		Shoal__Platform pl = SHOAL__PLATFORM__INIT;
		Shoal__Resources res = SHOAL__RESOURCES__INIT;
		char id[ID_LEN + 1], host[32];

		id_new(id);
		snprintf(host, sizeof(host), "node-%zu", i);
		meta.id = id;
		node.meta = &meta;
		node.spec = &spec;
		status.state = SHOAL__NODE_STATE__NODE_STATE_READY;
		status.addr = "10.0.0.1";
		node.status = &status;
		desc.hostname = host;
		pl.architecture = "x86_64";
		pl.os = "linux";
		desc.platform = &pl;
		res.nano_cpus = 64000000000LL;
		res.memory_bytes = 256LL << 30;
		desc.resources = &res;
		node.description = &desc;
		orch_batch_add(&b, SHOAL__STORE_ACTION__KIND__CREATE,
			       SHOAL__STORE_ACTION__TARGET_NODE, &node.base);
		if (orch_batch_len(&b) == SCHED_BATCH_MAX)
			apply(st, &b);
	}
	apply(st, &b);
}

/* M pending tasks of one service, as the orchestrator and allocator leave them. */
static void add_tasks(struct store *st, const char *svc, size_t m)
{
	struct orch_batch b;
	Shoal__TaskSpec spec = SHOAL__TASK_SPEC__INIT;
	Shoal__ContainerSpec cs = SHOAL__CONTAINER_SPEC__INIT;
	Shoal__ResourceRequirements rr = SHOAL__RESOURCE_REQUIREMENTS__INIT;
	Shoal__Resources res = SHOAL__RESOURCES__INIT;
	Shoal__Annotations sann = SHOAL__ANNOTATIONS__INIT;

	cs.image = "docker.io/library/busybox:latest";
	spec.container = &cs;
	res.nano_cpus = 1000000;
	res.memory_bytes = 1 << 20;
	rr.reservations = &res;
	spec.resources = &rr;
	sann.name = "bench";
	orch_batch_init(&b);
	for (size_t i = 0; i < m; i++) {
		Shoal__Task t = SHOAL__TASK__INIT;
		Shoal__Meta meta = SHOAL__META__INIT;
		Shoal__TaskStatus status = SHOAL__TASK_STATUS__INIT;
		Shoal__Annotations ann = SHOAL__ANNOTATIONS__INIT;
		char id[ID_LEN + 1], name[64];

		id_new(id);
		meta.id = id;
		t.meta = &meta;
		t.spec = &spec;
		t.spec_version = 1;
		t.service_id = (char *) svc;
		t.slot = i + 1;
		snprintf(name, sizeof(name), "bench.%zu.%s", i + 1, id);
		ann.name = name;
		t.annotations = &ann;
		t.service_annotations = &sann;
		status.state = ST(PENDING);
		status.message = "pending task scheduling";
		t.status = &status;
		t.desired_state = ST(RUNNING);
		orch_batch_create_task(&b, &t);
		if (orch_batch_len(&b) == SCHED_BATCH_MAX)
			apply(st, &b);
	}
	apply(st, &b);
}

struct list {
	const Shoal__Task **t;
	size_t n;
};

static int collect(const void *obj, void *arg)
{
	struct list *l = arg;

	l->t[l->n++] = obj;
	return 0;
}

/* The baseline: every node scanned for every task, same filters and order. */
static double naive(const struct store *st, const Shoal__Task *const *tasks, size_t n)
{
	struct sched_nodeset ns = {0};
	double t0;

	sched_nodeset_load(&ns, st);
	sched_nodeset_count_service(&ns, st, tasks[0]->service_id);
	t0 = now_s();
	for (size_t i = 0; i < n; i++) {
		struct sched_node *best = NULL;

		for (size_t j = 0; j < ns.n; j++) {
			struct sched_node *sn = &ns.nodes[j];

			if (sched_check(sn, tasks[i], NULL, 0) >= 0)
				continue;
			if (!best || sn->svc < best->svc ||
			    (sn->svc == best->svc && sn->active < best->active))
				best = sn;
		}
		if (best)
			sched_nodeset_assign(best, tasks[i]);
	}
	t0 = now_s() - t0;
	sched_nodeset_free(&ns);
	return t0;
}

struct decided {
	char task[ID_LEN + 1], node[ID_LEN + 1];
};

static void run(size_t m, size_t nn)
{
	struct store *st = store_new();
	struct list l = {xmalloc(m * sizeof(*l.t)), 0};
	struct decided *d = xmalloc(m * sizeof(*d));
	struct sched_plan p;
	struct orch_batch b;
	char svc[ID_LEN + 1];
	double t0, t_setup, t_plan, t_batch = 0, t_apply = 0, t_naive;
	size_t placed = 0, batches = 0, naive_n = m < 20000 ? m : 20000, packed = 0;
	unsigned *per = xcalloc(nn, sizeof(*per)), lo = ~0u, hi = 0;

	idx = 0;
	id_new(svc);
	t0 = now_s();
	add_nodes(st, nn);
	add_tasks(st, svc, m);
	t_setup = now_s() - t0;
	store_tasks_by_service(st, svc, collect, &l);

	t_naive = naive(st, l.t, naive_n);

	t0 = now_s();
	sched_plan_make(&p, st, l.t, l.n);
	t_plan = now_s() - t0;
	for (size_t i = 0; i < p.n; i++) {
		const char *node = sched_plan_node_id(&p, &p.d[i]);

		snprintf(d[i].task, sizeof(d[i].task), "%s", p.d[i].t->meta->id);
		snprintf(d[i].node, sizeof(d[i].node), "%s", node ? node : "");
		if (node) {
			placed++;
			per[p.d[i].node]++;
		}
	}
	sched_plan_free(&p);
	for (size_t i = 0; i < nn; i++) {
		lo = per[i] < lo ? per[i] : lo;
		hi = per[i] > hi ? per[i] : hi;
	}

	/* What the pass does with the decisions: one batch per proposal, then the apply. */
	orch_batch_init(&b);
	for (size_t i = 0; i < m;) {
		int64_t ts = orch_now_ns();

		t0 = now_s();
		for (; i < m && orch_batch_len(&b) < SCHED_BATCH_MAX; i++) {
			const Shoal__Task *t = store_get_task(st, d[i].task);
			Shoal__Task copy = *t;
			Shoal__TaskStatus status = *t->status;

			if (!d[i].node[0])
				continue;
			copy.node_id = d[i].node;
			status.state = ST(ASSIGNED);
			status.message = "scheduled";
			status.err = "";
			status.timestamp = ts;
			copy.status = &status;
			orch_batch_update_task(&b, &copy);
		}
		t_batch += now_s() - t0;
		if (!batches)
			packed = protobuf_c_message_get_packed_size(&b.b.base);
		batches++;
		t0 = now_s();
		apply(st, &b);
		t_apply += now_s() - t0;
	}

	printf("%zu tasks on %zu nodes (setup %.2f s)\n", m, nn, t_setup);
	printf("  plan (decision)      %8.3f s  %10.0f placements/s  placed %zu, per node "
	       "min %u max %u\n",
	       t_plan, placed / t_plan, placed, lo, hi);
	printf("  batch building       %8.3f s  %10.0f tasks/s  (%zu batches of <= %d, first "
	       "%.1f KiB packed, %.2f KiB/task)\n",
	       t_batch, m / t_batch, batches, SCHED_BATCH_MAX, packed / 1024.0,
	       packed / 1024.0 / (m < SCHED_BATCH_MAX ? m : SCHED_BATCH_MAX));
	printf("  store apply          %8.3f s  %10.0f tasks/s\n", t_apply, m / t_apply);
	printf("  plan + batch + apply %8.3f s  %10.0f placements/s\n", t_plan + t_batch + t_apply,
	       m / (t_plan + t_batch + t_apply));
	printf("  baseline: naive O(nodes) scan per task, %zu tasks: %.3f s, %.0f placements/s "
	       "(plan is %.0fx faster)\n",
	       naive_n, t_naive, naive_n / t_naive, (placed / t_plan) / (naive_n / t_naive));
	printf("  target >= 200000 placements/s (plan): %s; swarmkit's benchmark: 100k on 1k "
	       "nodes in 6.2 s (~16k/s)\n",
	       placed / t_plan >= 200000 ? "met" : "NOT met");
	fflush(stdout);
	orch_batch_reset(&b);
	free(per);
	free(d);
	free(l.t);
	store_free(st);
}

int main(int argc, char **argv)
{
	if (argc > 1 && (argc - 1) % 2) {
		fprintf(stderr, "usage: %s [TASKS NODES]...\n", argv[0]);
		return 2;
	}
	if (argc == 1) {
		run(100000, 1000);
		run(1000000, 10000);
		return 0;
	}
	for (int i = 1; i + 1 < argc; i += 2) {
		long m = strtol(argv[i], NULL, 10), n = strtol(argv[i + 1], NULL, 10);

		if (m <= 0 || n <= 0) {
			fprintf(stderr, "bench_sched: TASKS and NODES must be positive numbers\n");
			return 2;
		}
		run((size_t) m, (size_t) n);
	}
	return 0;
}
