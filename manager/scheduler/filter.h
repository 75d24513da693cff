/* scheduler filters: which nodes may run a task, and Docker's words when none may.
 *
 * Filters run in swarmkit's order; a node is counted against the first one it fails:
 *   ready       node status READY and availability ACTIVE
 *   resources   the task's reservations (nano CPUs, memory) fit what the node has left
 *   constraints placement constraints (node.id, node.hostname, node.ip, node.role,
 *               node.platform.os/arch, node.labels.X, engine.labels.X; == and !=)
 *   platform    one of placement.platforms matches the node's (x86_64 = amd64,
 *               aarch64 = arm64)
 *   host port   a port the task publishes in host mode (endpoint ports, PublishMode HOST,
 *               published port set) is not already published by a task on the node, same
 *               protocol ("host-mode port already in use on 1 node")
 *   max replicas placement.max_replicas tasks of the service per node
 * Generic resources are not checked yet. */
#ifndef SHOAL_MANAGER_SCHEDULER_FILTER_H
#define SHOAL_MANAGER_SCHEDULER_FILTER_H

#include <stddef.h>
#include <stdint.h>

#include "proto/objects.pb-c.h"

enum sched_filter {
	SCHED_F_READY,
	SCHED_F_RESOURCES,
	SCHED_F_CONSTRAINTS,
	SCHED_F_PLATFORM,
	SCHED_F_HOST_PORT,
	SCHED_F_MAX_REPLICAS,
	SCHED_F_COUNT
};

/* What the scheduler knows of one node during a pass. */
struct sched_node {
	const Shoal__Node *n; /* borrowed from the store */
	int64_t cpu, mem;     /* nano CPUs and bytes not reserved by its tasks */
	uint64_t active;      /* tasks meant to run there (desired state <= RUNNING) */
	uint64_t svc;	      /* of those, tasks of the service being placed */
	uint32_t *ports;      /* host-mode ports published there: SCHED_PORT(protocol, port) */
	uint32_t nports, pcap;
};

/* A published host port as stored in sched_node.ports. */
#define SCHED_PORT(protocol, port) ((uint32_t) (protocol) << 16 | ((uint32_t) (port) &0xffff))

/* The ports a task publishes: its endpoint's allocated ports, else its endpoint spec's (the
 * allocator does not fill endpoint.ports yet). Sets *n; borrowed from `t`. */
Shoal__PortConfig *const *sched_task_ports(const Shoal__Task *t, size_t *n);

/* 1 if `pc` is published in host mode on a fixed port (the ones that can conflict). */
int sched_port_is_host(const Shoal__PortConfig *pc);

enum sched_op { SCHED_EQ, SCHED_NE };

/* One parsed placement constraint "key==value" / "key!=value". */
struct sched_constraint {
	char *key; /* as written; compared case-insensitively, label names exactly */
	enum sched_op op;
	char *value;
};

/* Parses `exprs[0..n)` into *out (caller frees with sched_constraints_free). Returns 0, or
 * -EINVAL with a message naming the bad expression in why[0..whylen) (as swarmkit: "constraint
 * expected one operator from ==, !=", "key 'x' is invalid", "value 'y' is invalid"). */
int sched_constraints_parse(char *const *exprs, size_t n, struct sched_constraint **out,
			    size_t *nout, char *why, size_t whylen);
void sched_constraints_free(struct sched_constraint *c, size_t n);

/* 1 if node `n` satisfies every constraint. An unknown key matches no node. */
int sched_constraints_match(const struct sched_constraint *c, size_t n, const Shoal__Node *node);

/* 1 if the node's platform matches `want` (an empty field of `want` matches anything). */
int sched_platform_match(const Shoal__Platform *want, const Shoal__Platform *node);

/* The first filter node `sn` fails for task `t` (its constraints parsed in c[0..nc)), or -1 if
 * it passes all. */
int sched_check(const struct sched_node *sn, const Shoal__Task *t, const struct sched_constraint *c,
		size_t nc);

/* Writes Docker's status error for a task no node fits, given how many nodes failed each
 * filter: "no suitable node (insufficient resources on 2 nodes; 1 node not available for new
 * tasks)" — most failed first — or "no suitable node" when there is no node at all. */
void sched_explain(const unsigned counts[SCHED_F_COUNT], char *out, size_t len);

#endif
