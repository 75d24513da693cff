/* The convergence display of `service create/update/scale/rollback` (docker's
 * progress.ServiceProgress): poll the service, its up-to-date tasks and the
 * nodes every 200 ms, draw one line per slot (or node) and the overall
 * count, and once every task runs wait UpdateConfig.Monitor (5 s when zero)
 * before "verify: Service ID converged".
 *
 * On a terminal the lines are redrawn in place like docker's jsonmessage
 * display (with bars when the terminal is wider than 110 columns). Off a
 * terminal docker would repeat every line each 200 ms; shoal prints a line
 * only when its text changed, slot states included.
 *
 * Unlike docker, which waits forever, the display gives up when tasks keep
 * failing: after 3 failed tasks per expected task, or at the first failure
 * when the restart condition is "none". Ctrl-C leaves the service running. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/api.h"
#include "cli/service.h"

#define MAX_BARS       20
#define LONGEST_STATE  9
#define FAILS_PER_TASK 3

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void) sig;
	interrupted = 1;
}

/* docker's numberedStates; 0 for states the display ignores. */
static int state_num(const char *s)
{
	static const char *const states[] = {
	    "new",	"allocated", "pending",	 "assigned", "accepted", "preparing", "ready",
	    "starting", "running",   "complete", "shutdown", "failed",	 "rejected"};

	for (int i = 0; i < 13; i++)
		if (!strcmp(s, states[i]))
			return i + 1;
	return 0;
}

static int terminal(const char *s)
{
	return state_num(s) > 9;
}

struct line {
	char id[64];
	char text[320];
};

struct prog {
	struct cli_ctx *ctx;
	int tty, quiet, width;
	struct line *lines;
	size_t n;
	json_t *failed; /* task IDs seen failing */
	char last_err[256];
};

static void cursor_move(FILE *f, int up)
{
	if (up > 0)
		fprintf(f, "\033[%dA", up);
	else if (up < 0)
		fprintf(f, "\033[%dB", -up);
}

/* One progress message: a line keyed by `id` (NULL for a plain message). */
static void emit(struct prog *p, const char *id, const char *text)
{
	FILE *f = p->ctx->out;
	size_t i;

	if (p->quiet)
		return;
	if (!id) {
		fprintf(f, "%s\n", text);
		fflush(f);
		return;
	}
	for (i = 0; i < p->n && strcmp(p->lines[i].id, id); i++)
		;
	if (i == p->n) {
		p->lines = xrealloc(p->lines, (p->n + 1) * sizeof(*p->lines));
		snprintf(p->lines[i].id, sizeof(p->lines[i].id), "%s", id);
		p->lines[i].text[0] = '\0';
		p->n++;
		if (p->tty) {
			fprintf(f, "%s: %s\n", id, text);
			snprintf(p->lines[i].text, sizeof(p->lines[i].text), "%s", text);
			fflush(f);
			return;
		}
	}
	if (!strcmp(p->lines[i].text, text))
		return;
	snprintf(p->lines[i].text, sizeof(p->lines[i].text), "%s", text);
	if (p->tty) {
		int diff = (int) (p->n - i);

		cursor_move(f, diff);
		fprintf(f, "\r\033[2K%s: %s\r", id, text);
		cursor_move(f, -diff);
	} else {
		/* Blank placeholders only reserve lines on a terminal. */
		const char *t = text;

		while (*t == ' ')
			t++;
		if (*t)
			fprintf(f, "%s: %s\n", id, text);
	}
	fflush(f);
}

static void overall(struct prog *p, int num, int den, int rollback)
{
	char t[96];

	snprintf(t, sizeof(t), "%s%d out of %d tasks", rollback ? "rolling back update: " : "", num,
		 den);
	emit(p, "overall progress", t);
}

/* docker's truncError: newlines become spaces, at most 75 bytes. */
static void trunc_err(const char *e, char *out, size_t n)
{
	snprintf(out, n, "%s", e);
	for (char *c = out; *c; c++)
		if (*c == '\n')
			*c = ' ';
	if (strlen(out) > 75 && n > 78)
		strcpy(out + 74, "\xe2\x80\xa6");
}

static void task_line(struct prog *p, const char *id, json_t *task)
{
	const char *err = cli_json_str(task, "Status.Err");
	const char *state = cli_json_str(task, "Status.State");
	char t[320];

	if (*err) {
		trunc_err(err, t, sizeof(t));
		emit(p, id, t);
		return;
	}
	if (terminal(cli_json_str(task, "DesiredState")) || terminal(state))
		return;
	if (p->tty && p->width > 110) {
		int pct = state_num(state) * 100 / 9 / 2;

		snprintf(t, sizeof(t), "%-*s [%.*s>%*s] ", LONGEST_STATE, state, pct,
			 "=================================================="
			 "==================================================",
			 50 - pct, "");
	} else {
		snprintf(t, sizeof(t), "%s", state);
	}
	emit(p, id, t);
}

/* tasksBySlot / tasksByNode: per key the task with the lowest desired
 * state, observed state breaking ties. Returns a new object key -> task. */
static json_t *by_key(json_t *tasks, json_t *active, int by_node)
{
	json_t *m = json_object(), *t;
	size_t i;

	json_array_foreach(tasks, i, t)
	{
		const char *ds = cli_json_str(t, "DesiredState"),
			   *st = cli_json_str(t, "Status.State");
		const char *node = cli_json_str(t, "NodeID");
		char key[80];
		json_t *old;

		if (!state_num(ds) || !state_num(st))
			continue;
		if (by_node)
			snprintf(key, sizeof(key), "%s", node);
		else
			snprintf(key, sizeof(key), "%lld", (long long) cli_json_int(t, "Slot"));
		if ((old = json_object_get(m, key))) {
			int od = state_num(cli_json_str(old, "DesiredState")), nd = state_num(ds);

			if (od < nd || (od == nd && state_num(cli_json_str(old, "Status.State")) <=
							state_num(st)))
				continue;
		}
		if (!by_node && *node && !json_object_get(active, node))
			continue;
		json_object_set(m, key, t);
	}
	return m;
}

static int cmp_slot(const void *a, const void *b)
{
	long long x = atoll(*(const char *const *) a), y = atoll(*(const char *const *) b);

	return x < y ? -1 : x > y;
}

struct updater {
	int initialized, done;
	json_t *slot_map; /* slot -> display number */
};

/* Returns 1 when converged. */
static int update(struct prog *p, struct updater *u, json_t *svc, json_t *tasks, json_t *active,
		  int rollback, int *expected)
{
	int global = json_is_object(cli_json_path(svc, "Spec.Mode.Global"));
	json_t *m = by_key(tasks, active, global), *t;
	const char **keys = xcalloc(json_object_size(m) + 1, sizeof(*keys));
	size_t nk = 0;
	const char *key;
	int total, running = 0;

	json_object_foreach(m, key, t) keys[nk++] = key;
	qsort(keys, nk, sizeof(*keys),
	      global ? (int (*)(const void *, const void *)) strcmp : cmp_slot);
	total = global ? (int) nk : (int) cli_json_int(svc, "Spec.Mode.Replicated.Replicas");
	*expected = total;
	if (!u->initialized) {
		if (global && total == 0) {
			emit(p, "overall progress", "waiting for new tasks");
			goto out;
		}
		overall(p, 0, total, rollback);
		if (!global && total <= MAX_BARS)
			for (int i = 1; i <= total; i++) {
				char id[48];

				snprintf(id, sizeof(id), "%d/%d", i, total);
				emit(p, id, " ");
			}
		u->initialized = 1;
	}
	if (u->done)
		for (size_t i = 0; i < nk; i++)
			if (strcmp(cli_json_str(json_object_get(m, keys[i]), "Status.State"),
				   "running"))
				u->done = 0;
	for (size_t i = 0; i < nk; i++) {
		char id[64];

		t = json_object_get(m, keys[i]);
		if (global && !json_object_get(active, keys[i]))
			continue;
		if (!terminal(cli_json_str(t, "DesiredState")) &&
		    !strcmp(cli_json_str(t, "Status.State"), "running"))
			running++;
		if (u->done || total > MAX_BARS)
			continue;
		if (global) {
			snprintf(id, sizeof(id), "%.12s", keys[i]);
		} else {
			json_t *mapped = json_object_get(u->slot_map, keys[i]);

			if (!mapped)
				json_object_set_new(
				    u->slot_map, keys[i],
				    mapped = json_integer(
					(json_int_t) json_object_size(u->slot_map) + 1));
			if (json_integer_value(mapped) > total)
				continue;
			snprintf(id, sizeof(id), "%lld/%d", (long long) json_integer_value(mapped),
				 total);
		}
		task_line(p, id, t);
	}
	if (!u->done) {
		overall(p, running, total, rollback);
		if (running == total)
			u->done = 1;
	}
out:
	free(keys);
	json_decref(m);
	return u->initialized && running == total;
}

/* Records failed tasks; returns 1 when shoal should stop waiting. */
static int keeps_failing(struct prog *p, json_t *svc, json_t *tasks, int expected)
{
	int none = !strcmp(cli_json_str(svc, "Spec.TaskTemplate.RestartPolicy.Condition"), "none");
	json_t *t;
	size_t i;

	json_array_foreach(tasks, i, t)
	{
		const char *st = cli_json_str(t, "Status.State");

		if (strcmp(st, "failed") && strcmp(st, "rejected"))
			continue;
		json_object_set_new(p->failed, cli_json_str(t, "ID"), json_true());
		if (*cli_json_str(t, "Status.Err"))
			snprintf(p->last_err, sizeof(p->last_err), "%s",
				 cli_json_str(t, "Status.Err"));
	}
	if (!json_object_size(p->failed))
		return 0;
	return none ||
	       (int) json_object_size(p->failed) >= FAILS_PER_TASK * (expected > 0 ? expected : 1);
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int poll_once(struct cli_ctx *ctx, const char *id, const char *tq, json_t **svc,
		     json_t **tasks, json_t **active)
{
	CLI_AUTO_JSON json_t *nodes = NULL;
	json_t *n;
	size_t i;
	int rc;

	if ((rc = cli_svc_get(ctx, id, 0, svc)) ||
	    (rc = cli_api(ctx, "GET", "/tasks", tq, NULL, tasks)) ||
	    (rc = cli_api(ctx, "GET", "/nodes", NULL, NULL, &nodes)))
		return rc;
	*active = json_object();
	json_array_foreach(nodes, i, n) if (strcmp(cli_json_str(n, "Status.State"), "down"))
	    json_object_set_new(*active, cli_json_str(n, "ID"), json_true());
	return 0;
}

static int wait_loop(struct prog *p, const char *id)
{
	struct cli_ctx *ctx = p->ctx;
	struct updater u = {0, 0, json_object()};
	int64_t monitor = 5000000000LL, converged_at = 0;
	int converged = 0, rollback = 0, rc = 0, expected = 0;
	char message[512] = "", tq[512];
	CLI_AUTO_BUF struct buf q = BUF_INIT;
	CLI_AUTO_FREE char *fj = NULL;
	struct cli_strv f = {0};

	cli_strv_push(&f, "_up-to-date=true");
	{
		CLI_AUTO_FREE char *sf = NULL;

		if (asprintf(&sf, "service=%s", id) < 0)
			abort();
		cli_strv_push(&f, sf);
	}
	fj = cli_api_filters(&f);
	cli_strv_free(&f);
	cli_http_query_add(&q, "filters", fj);
	snprintf(tq, sizeof(tq), "%.*s", (int) q.len, (char *) q.data);

	for (;;) {
		CLI_AUTO_JSON json_t *svc = NULL;
		CLI_AUTO_JSON json_t *tasks = NULL;
		CLI_AUTO_JSON json_t *active = NULL;
		const char *ust;
		struct timespec ts = {0, CLI_SVC_POLL_MS * 1000000L};

		if ((rc = poll_once(ctx, id, tq, &svc, &tasks, &active)))
			break;
		if (cli_json_int(svc, "Spec.UpdateConfig.Monitor"))
			monitor = cli_json_int(svc, "Spec.UpdateConfig.Monitor");
		if (!json_is_object(cli_json_path(svc, "Spec.Mode.Global")) &&
		    !json_is_integer(cli_json_path(svc, "Spec.Mode.Replicated.Replicas"))) {
			rc = cli_errorf(ctx, -ENOSYS,
					"progress display for job services is not implemented yet; "
					"use `%s service ps %s`",
					CLI_NAME, id);
			break;
		}
		ust = cli_json_str(svc, "UpdateStatus.State");
		if (!strcmp(ust, "updating")) {
			rollback = 0;
		} else if (!strcmp(ust, "completed") && !converged) {
			break;
		} else if (!strcmp(ust, "paused") || !strcmp(ust, "rollback_paused")) {
			rc = cli_errorf(ctx, -EIO, "service %s paused: %s",
					ust[0] == 'p' ? "update" : "rollback",
					cli_json_str(svc, "UpdateStatus.Message"));
			break;
		} else if (!strcmp(ust, "rollback_started")) {
			if (!rollback && *cli_json_str(svc, "UpdateStatus.Message"))
				emit(p, "rollback", cli_json_str(svc, "UpdateStatus.Message"));
			rollback = 1;
		} else if (!strcmp(ust, "rollback_completed")) {
			if (!converged)
				snprintf(message, sizeof(message), "%s",
					 cli_json_str(svc, "UpdateStatus.Message"));
			rollback = 1;
		}
		if (converged && mono_ns() - converged_at >= monitor) {
			char t[160];

			snprintf(t, sizeof(t), "Service %s converged", id);
			emit(p, "verify", t);
			if (*message)
				emit(p, "rollback", message);
			break;
		}
		converged = update(p, &u, svc, tasks, active, rollback, &expected);
		if (converged) {
			int64_t wait;

			if (!converged_at)
				converged_at = mono_ns();
			wait = monitor - (mono_ns() - converged_at);
			if (wait >= 0) {
				char t[96];

				snprintf(t, sizeof(t),
					 "Waiting %lld seconds to verify that tasks are stable...",
					 (long long) (wait / 1000000000 + 1));
				emit(p, "verify", t);
			}
		} else {
			if (converged_at)
				emit(p, "verify", "Detected task failure");
			converged_at = 0;
			if (keeps_failing(p, svc, tasks, expected)) {
				rc = cli_errorf(ctx, -EIO,
						"service %s did not converge: %zu task(s) failed, "
						"last error: %s",
						id, json_object_size(p->failed),
						*p->last_err ? p->last_err : "(none reported)");
				break;
			}
		}
		if (!interrupted)
			nanosleep(&ts, NULL);
		if (interrupted) {
			if (!converged) {
				char t[256];

				emit(p, NULL, "Operation continuing in background.");
				snprintf(t, sizeof(t), "Use `%s service ps %s` to check progress.",
					 CLI_NAME, id);
				emit(p, NULL, t);
			}
			break;
		}
	}
	json_decref(u.slot_map);
	return rc;
}

int cli_service_wait(struct cli_ctx *ctx, const char *id, int quiet)
{
	struct prog p = {.ctx = ctx, .quiet = quiet};
	struct sigaction sa, old;
	struct winsize ws;
	int fd = fileno(ctx->out), rc;

	p.tty = fd >= 0 && isatty(fd);
	if (p.tty && ioctl(fd, TIOCGWINSZ, &ws) == 0)
		p.width = ws.ws_col;
	p.failed = json_object();
	interrupted = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigint;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old);
	rc = wait_loop(&p, id);
	sigaction(SIGINT, &old, NULL);
	free(p.lines);
	json_decref(p.failed);
	return rc;
}
