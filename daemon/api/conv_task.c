/* conv: tasks as the Engine API shows them (GET /tasks, /tasks/{id}).
 *
 * moby's convert.TaskFromGRPC: Labels always an object, Name only when
 * the task has one, Spec.ContainerSpec never null (the docker CLI reads the
 * image from it), Status.PortStatus always an object, states in lower
 * case. */
#include <stdio.h>
#include <string.h>

#include "daemon/api/conv.h"
#include "daemon/api/conv_int.h"

const char *conv_task_state_name(Shoal__TaskState s)
{
	switch (s) {
	case SHOAL__TASK_STATE__TASK_STATE_NEW:
		return "new";
	case SHOAL__TASK_STATE__TASK_STATE_PENDING:
		return "pending";
	case SHOAL__TASK_STATE__TASK_STATE_ASSIGNED:
		return "assigned";
	case SHOAL__TASK_STATE__TASK_STATE_ACCEPTED:
		return "accepted";
	case SHOAL__TASK_STATE__TASK_STATE_PREPARING:
		return "preparing";
	case SHOAL__TASK_STATE__TASK_STATE_READY:
		return "ready";
	case SHOAL__TASK_STATE__TASK_STATE_STARTING:
		return "starting";
	case SHOAL__TASK_STATE__TASK_STATE_RUNNING:
		return "running";
	case SHOAL__TASK_STATE__TASK_STATE_COMPLETE:
		return "complete";
	case SHOAL__TASK_STATE__TASK_STATE_SHUTDOWN:
		return "shutdown";
	case SHOAL__TASK_STATE__TASK_STATE_FAILED:
		return "failed";
	case SHOAL__TASK_STATE__TASK_STATE_REJECTED:
		return "rejected";
	case SHOAL__TASK_STATE__TASK_STATE_REMOVE:
		return "remove";
	case SHOAL__TASK_STATE__TASK_STATE_ORPHANED:
		return "orphaned";
	default:
		return "unknown";
	}
}

static json_t *status_json(const Shoal__TaskStatus *st)
{
	json_t *o = json_object(), *ps = json_object();
	char t[40];

	conv_time(st ? st->timestamp : 0, t);
	json_object_set_new(o, "Timestamp", json_string(t));
	json_object_set_new(
	    o, "State",
	    json_string(conv_task_state_name(st ? st->state : SHOAL__TASK_STATE__TASK_STATE_NEW)));
	json_object_set_new(o, "Message", json_string(st ? st->message : ""));
	if (st && st->err[0])
		json_object_set_new(o, "Err", json_string(st->err));
	if (st && st->container_status) {
		const Shoal__ContainerStatus *c = st->container_status;
		json_t *cs = json_object();
		if (c->container_id[0])
			json_object_set_new(cs, "ContainerID", json_string(c->container_id));
		if (c->pid)
			json_object_set_new(cs, "PID", json_integer(c->pid));
		if (c->exit_code)
			json_object_set_new(cs, "ExitCode", json_integer(c->exit_code));
		json_object_set_new(o, "ContainerStatus", cs);
	}
	if (st && st->port_status && st->port_status->n_ports) {
		json_t *a = json_array();
		for (size_t i = 0; i < st->port_status->n_ports; i++)
			json_array_append_new(a, conv_port_json(st->port_status->ports[i]));
		json_object_set_new(ps, "Ports", a);
	}
	json_object_set_new(o, "PortStatus", ps);
	return o;
}

static json_t *attachment_json(const Shoal__NetworkAttachment *na)
{
	json_t *o = json_object(), *net = json_object(), *a = json_array();
	const Shoal__Network *n = na->network;

	if (n) {
		conv_meta_fields(net, n->meta);
		json_t *spec = json_object();
		const Shoal__Annotations *an = n->spec ? n->spec->annotations : NULL;
		if (an && an->name[0])
			json_object_set_new(spec, "Name", json_string(an->name));
		json_object_set_new(spec, "Labels",
				    an ? conv_labels_json(an->n_labels, an->labels)
				       : json_object());
		json_object_set_new(net, "Spec", spec);
	}
	json_object_set_new(o, "Network", net);
	for (size_t i = 0; i < na->n_addresses; i++)
		json_array_append_new(a, json_string(na->addresses[i]));
	json_object_set_new(o, "Addresses", a);
	return o;
}

json_t *conv_task_json(const Shoal__Task *t)
{
	json_t *o = conv_meta_fields(json_object(), t->meta), *spec;

	if (t->annotations && t->annotations->name[0])
		json_object_set_new(o, "Name", json_string(t->annotations->name));
	json_object_set_new(o, "Labels",
			    t->annotations
				? conv_labels_json(t->annotations->n_labels, t->annotations->labels)
				: json_object());
	spec = conv_task_spec_json(t->spec);
	if (!json_object_get(spec, "ContainerSpec"))
		json_object_set_new(spec, "ContainerSpec", json_object());
	json_object_set_new(o, "Spec", spec);
	if (t->service_id[0])
		json_object_set_new(o, "ServiceID", json_string(t->service_id));
	if (t->slot)
		json_object_set_new(o, "Slot", json_integer((json_int_t) t->slot));
	if (t->node_id[0])
		json_object_set_new(o, "NodeID", json_string(t->node_id));
	json_object_set_new(o, "Status", status_json(t->status));
	json_object_set_new(o, "DesiredState", json_string(conv_task_state_name(t->desired_state)));
	if (t->n_networks) {
		json_t *a = json_array();
		for (size_t i = 0; i < t->n_networks; i++)
			json_array_append_new(a, attachment_json(t->networks[i]));
		json_object_set_new(o, "NetworksAttachments", a);
	}
	if (t->n_assigned_generic_resources) {
		json_t *a = json_array();
		for (size_t i = 0; i < t->n_assigned_generic_resources; i++) {
			const Shoal__GenericResource *g = t->assigned_generic_resources[i];
			if (g->resource_case ==
			    SHOAL__GENERIC_RESOURCE__RESOURCE_NAMED_RESOURCE_SPEC)
				json_array_append_new(
				    a, json_pack("{s:{s:s,s:s}}", "NamedResourceSpec", "Kind",
						 g->named_resource_spec->kind, "Value",
						 g->named_resource_spec->value));
			else if (g->resource_case ==
				 SHOAL__GENERIC_RESOURCE__RESOURCE_DISCRETE_RESOURCE_SPEC)
				json_array_append_new(
				    a, json_pack("{s:{s:s,s:I}}", "DiscreteResourceSpec", "Kind",
						 g->discrete_resource_spec->kind, "Value",
						 (json_int_t) g->discrete_resource_spec->value));
		}
		json_object_set_new(o, "GenericResources", a);
	}
	if (t->job_iteration)
		json_object_set_new(
		    o, "JobIteration",
		    json_pack("{s:I}", "Index", (json_int_t) t->job_iteration->index));
	return o;
}
