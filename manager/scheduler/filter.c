#include "manager/scheduler/filter.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/err.h"

/* ------------------------------------------------------------------------------------------ */
/* Constraints */

static char *trimmed(const char *s, size_t len)
{
	while (len && isspace((unsigned char) *s))
		s++, len--;
	while (len && isspace((unsigned char) s[len - 1]))
		len--;
	char *r = xmalloc(len + 1);
	memcpy(r, s, len);
	r[len] = 0;
	return r;
}

/* swarmkit: ^[a-z_][a-z0-9\-_.]+$ (case-insensitive). */
static int key_ok(const char *k)
{
	if (!(isalpha((unsigned char) k[0]) || k[0] == '_') || !k[1])
		return 0;
	for (const char *p = k + 1; *p; p++)
		if (!isalnum((unsigned char) *p) && !strchr("-_.", *p))
			return 0;
	return 1;
}

/* swarmkit: ^[a-z0-9:\-_\s\.\*\(\)\?\+\[\]\\\^\$\|\/]+$ (case-insensitive). */
static int value_ok(const char *v)
{
	if (!*v)
		return 0;
	for (const char *p = v; *p; p++)
		if (!isalnum((unsigned char) *p) && !isspace((unsigned char) *p) &&
		    !strchr(":-_.*()?+[]\\^$|/", *p))
			return 0;
	return 1;
}

void sched_constraints_free(struct sched_constraint *c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(c[i].key);
		free(c[i].value);
	}
	free(c);
}

int sched_constraints_parse(char *const *exprs, size_t n, struct sched_constraint **out,
			    size_t *nout, char *why, size_t whylen)
{
	struct sched_constraint *c = n ? xcalloc(n, sizeof(*c)) : NULL;

	for (size_t i = 0; i < n; i++) {
		const char *e = exprs[i], *op = strstr(e, "==");

		c[i].op = SCHED_EQ;
		if (!op) {
			op = strstr(e, "!=");
			c[i].op = SCHED_NE;
		}
		if (!op) {
			err_why(why, whylen,
				"constraint expected one operator from ==, != (in \"%s\")", e);
			sched_constraints_free(c, i);
			return -EINVAL;
		}
		c[i].key = trimmed(e, (size_t) (op - e));
		c[i].value = trimmed(op + 2, strlen(op + 2));
		if (!key_ok(c[i].key) || !value_ok(c[i].value)) {
			if (!key_ok(c[i].key))
				err_why(why, whylen, "key '%s' is invalid", c[i].key);
			else
				err_why(why, whylen, "value '%s' is invalid", c[i].value);
			sched_constraints_free(c, i + 1);
			return -EINVAL;
		}
	}
	*out = c;
	*nout = n;
	return 0;
}

static int match(const struct sched_constraint *c, const char *what)
{
	int eq = strcasecmp(c->value, what ? what : "") == 0;

	return c->op == SCHED_EQ ? eq : !eq;
}

/* Does `addr` (a node address, maybe "ip:port") equal the IP or fall in the CIDR `exp`? */
static int ip_match(const char *exp, const char *addr)
{
	char ip[64], net[64];
	const char *slash = strchr(exp, '/');
	struct in_addr a, n;
	long bits = 32;

	snprintf(ip, sizeof(ip), "%s", addr ? addr : "");
	if (strchr(ip, ':') && strchr(ip, ':') == strrchr(ip, ':'))
		*strchr(ip, ':') = 0;
	snprintf(net, sizeof(net), "%.*s", slash ? (int) (slash - exp) : (int) strlen(exp), exp);
	if (slash) {
		char *end;
		bits = strtol(slash + 1, &end, 10);
		if (*end || bits < 0 || bits > 32)
			return 0;
	}
	if (inet_pton(AF_INET, ip, &a) != 1 || inet_pton(AF_INET, net, &n) != 1)
		return strcasecmp(exp, ip) == 0;
	uint32_t mask = bits ? htonl(0xffffffffu << (32 - bits)) : 0;
	return (a.s_addr & mask) == (n.s_addr & mask);
}

static const char *label_of(Shoal__Annotations__LabelsEntry **l, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(l[i]->key, k) == 0)
			return l[i]->value;
	return "";
}

static const char *engine_label_of(const Shoal__Node *node, const char *k)
{
	const Shoal__EngineDescription *e = node->description ? node->description->engine : NULL;

	if (!e)
		return "";
	for (size_t i = 0; i < e->n_labels; i++)
		if (strcmp(e->labels[i]->key, k) == 0)
			return e->labels[i]->value;
	return "";
}

static int one(const struct sched_constraint *c, const Shoal__Node *node)
{
	const Shoal__NodeDescription *d = node->description;
	const Shoal__Platform *pl = d ? d->platform : NULL;
	const char *k = c->key;

	if (!strcasecmp(k, "node.id"))
		return match(c, node->meta->id);
	if (!strcasecmp(k, "node.hostname"))
		return match(c, d ? d->hostname : "");
	if (!strcasecmp(k, "node.ip")) {
		int in = ip_match(c->value, node->status ? node->status->addr : "");
		return c->op == SCHED_EQ ? in : !in;
	}
	if (!strcasecmp(k, "node.role"))
		return match(c, node->role == SHOAL__NODE_ROLE__NODE_ROLE_MANAGER ? "manager"
										  : "worker");
	if (!strcasecmp(k, "node.platform.os"))
		return match(c, pl ? pl->os : "");
	if (!strcasecmp(k, "node.platform.arch"))
		return match(c, pl ? pl->architecture : "");
	if (strlen(k) > 12 && !strncasecmp(k, "node.labels.", 12)) {
		const Shoal__Annotations *a = node->spec ? node->spec->annotations : NULL;
		return match(c, a ? label_of(a->labels, a->n_labels, k + 12) : "");
	}
	if (strlen(k) > 14 && !strncasecmp(k, "engine.labels.", 14))
		return match(c, engine_label_of(node, k + 14));
	return 0; /* unknown key: no node matches */
}

int sched_constraints_match(const struct sched_constraint *c, size_t n, const Shoal__Node *node)
{
	for (size_t i = 0; i < n; i++)
		if (!one(&c[i], node))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Platforms */

static const char *arch_norm(const char *a)
{
	if (!a)
		return "";
	if (!strcmp(a, "x86_64"))
		return "amd64";
	if (!strcmp(a, "aarch64"))
		return "arm64";
	return a;
}

int sched_platform_match(const Shoal__Platform *want, const Shoal__Platform *node)
{
	const char *wa = arch_norm(want->architecture), *na;

	if (!node)
		return 0;
	na = arch_norm(node->architecture);
	return (!*wa || !strcmp(wa, na)) &&
	       (!want->os || !*want->os || !strcmp(want->os, node->os));
}

/* ------------------------------------------------------------------------------------------ */
/* The pipeline */

Shoal__PortConfig *const *sched_task_ports(const Shoal__Task *t, size_t *n)
{
	const Shoal__Endpoint *e = t->endpoint;

	*n = 0;
	if (!e)
		return NULL;
	if (e->n_ports) {
		*n = e->n_ports;
		return e->ports;
	}
	if (e->spec) {
		*n = e->spec->n_ports;
		return e->spec->ports;
	}
	return NULL;
}

int sched_port_is_host(const Shoal__PortConfig *pc)
{
	return pc->publish_mode == SHOAL__PORT_CONFIG__PUBLISH_MODE__HOST && pc->published_port;
}

static int host_port_taken(const struct sched_node *sn, const Shoal__Task *t)
{
	size_t n;
	Shoal__PortConfig *const *pc = sched_task_ports(t, &n);

	for (size_t i = 0; i < n; i++) {
		uint32_t want;

		if (!sched_port_is_host(pc[i]))
			continue;
		want = SCHED_PORT(pc[i]->protocol, pc[i]->published_port);
		for (uint32_t j = 0; j < sn->nports; j++)
			if (sn->ports[j] == want)
				return 1;
	}
	return 0;
}

int sched_check(const struct sched_node *sn, const Shoal__Task *t, const struct sched_constraint *c,
		size_t nc)
{
	const Shoal__Node *n = sn->n;
	const Shoal__TaskSpec *spec = t->spec;
	const Shoal__Resources *r = spec && spec->resources ? spec->resources->reservations : NULL;
	const Shoal__Placement *pl = spec ? spec->placement : NULL;

	if (!n->status || n->status->state != SHOAL__NODE_STATE__NODE_STATE_READY ||
	    (n->spec &&
	     n->spec->availability != SHOAL__NODE_AVAILABILITY__NODE_AVAILABILITY_ACTIVE))
		return SCHED_F_READY;
	if (r && ((r->nano_cpus > 0 && r->nano_cpus > sn->cpu) ||
		  (r->memory_bytes > 0 && r->memory_bytes > sn->mem)))
		return SCHED_F_RESOURCES;
	if (nc && !sched_constraints_match(c, nc, n))
		return SCHED_F_CONSTRAINTS;
	if (pl && pl->n_platforms) {
		const Shoal__Platform *np = n->description ? n->description->platform : NULL;
		size_t i;

		for (i = 0; i < pl->n_platforms; i++)
			if (sched_platform_match(pl->platforms[i], np))
				break;
		if (i == pl->n_platforms)
			return SCHED_F_PLATFORM;
	}
	if (sn->nports && host_port_taken(sn, t))
		return SCHED_F_HOST_PORT;
	if (pl && pl->max_replicas && sn->svc >= pl->max_replicas)
		return SCHED_F_MAX_REPLICAS;
	return -1;
}

static int explain_one(enum sched_filter f, unsigned n, char *out, size_t len)
{
	const char *s = n == 1 ? "" : "s";

	switch (f) {
	case SCHED_F_READY:
		return snprintf(out, len, "%u node%s not available for new tasks", n, s);
	case SCHED_F_RESOURCES:
		return snprintf(out, len, "insufficient resources on %u node%s", n, s);
	case SCHED_F_CONSTRAINTS:
		return snprintf(out, len, "scheduling constraints not satisfied on %u node%s", n,
				s);
	case SCHED_F_PLATFORM:
		return snprintf(out, len, "unsupported platform on %u node%s", n, s);
	case SCHED_F_HOST_PORT:
		return snprintf(out, len, "host-mode port already in use on %u node%s", n, s);
	case SCHED_F_MAX_REPLICAS:
		return snprintf(out, len, "max replicas per node limit exceed");
	default:
		return snprintf(out, len, "%u node%s filtered out", n, s);
	}
}

void sched_explain(const unsigned counts[SCHED_F_COUNT], char *out, size_t len)
{
	int order[SCHED_F_COUNT], n = 0;
	size_t at;

	for (int f = 0; f < SCHED_F_COUNT; f++)
		if (counts[f])
			order[n++] = f;
	/* Most failures first; equal counts keep the filters' order (stable insertion sort). */
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && counts[order[j]] > counts[order[j - 1]]; j--) {
			int x = order[j];
			order[j] = order[j - 1];
			order[j - 1] = x;
		}
	if (!n) {
		snprintf(out, len, "no suitable node");
		return;
	}
	at = (size_t) snprintf(out, len, "no suitable node (");
	for (int i = 0; i < n && at < len; i++) {
		if (i)
			at += (size_t) snprintf(out + at, len - at, "; ");
		if (at < len)
			at += (size_t) explain_one(order[i], counts[order[i]], out + at, len - at);
	}
	if (at < len)
		snprintf(out + at, len - at, ")");
}
