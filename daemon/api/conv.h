/* conv: Docker Engine API JSON <-> shoal's protobuf objects.
 *
 * Field names and shapes follow Docker's API v1.41 so the docker CLI can
 * read what we write and post back what it read. Parsers are defensive:
 * every type error names the field path ("Spec.Role: expected string"). */
#ifndef SHOAL_DAEMON_API_CONV_H
#define SHOAL_DAEMON_API_CONV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/control.pb-c.h"
#include "proto/objects.pb-c.h"

/* Go's time.RFC3339Nano ("2016-08-18T10:44:24.496525531Z", trailing zeros
 * trimmed); 0 becomes Go's zero time "0001-01-01T00:00:00Z". */
void conv_time(int64_t unix_nanos, char out[40]);

/* Node as GET /nodes/{id} returns it. New reference. */
json_t *conv_node_json(const Shoal__Node *n);
/* Parses a NodeSpec ({Name, Labels, Role, Availability}) into `out` (an
 * initialized message; strings and labels are malloc'd, free with
 * shoal__node_spec__free_unpacked semantics). Returns 0 or -EINVAL with
 * `err` naming the field. */
int conv_node_spec(json_t *spec, Shoal__NodeSpec *out, char *err, size_t errlen);

/* Swarm as GET /swarm returns it (JoinTokens included when `tokens`). */
json_t *conv_cluster_json(const Shoal__Cluster *c, int tokens);
/* Parses a swarm Spec into `out`, starting from its current values (fields
 * absent from the JSON keep them). Returns 0 or -EINVAL. */
int conv_cluster_spec(json_t *spec, Shoal__ClusterSpec *out, char *err, size_t errlen);

/* Parses Docker's ServiceSpec JSON (API v1.41: Name, Labels, TaskTemplate,
 * Mode, UpdateConfig, RollbackConfig, Networks, EndpointSpec, all their
 * fields that shoal models; unknown fields are ignored). Returns a new
 * spec (free with shoal__service_spec__free_unpacked), or NULL with `err`
 * naming the field path and what was wrong. Only JSON-only defaults are
 * applied (a Replicated mode without Replicas means 1); the rest is
 * ctl_service_spec_defaults' job. */
Shoal__ServiceSpec *conv_service_spec(json_t *spec, char *err, size_t errlen);
/* A ServiceSpec in Docker's shape: Go's omitempty fields left out when
 * zero, absent sections left out, so posting it back stores the same
 * spec. New reference. */
json_t *conv_service_spec_json(const Shoal__ServiceSpec *s);
/* A Service as GET /services/{id} returns it; ServiceStatus only when
 * `status` is not NULL. New reference. */
json_t *conv_service_json(const Shoal__Service *s, const Shoal__ServiceStatus *status);
/* A random "adjective_fish" name for a service created without one (moby
 * names such services from its namesgenerator). */
void conv_service_random_name(char *out, size_t cap);

/* A Task as GET /tasks/{id} returns it. New reference. */
json_t *conv_task_json(const Shoal__Task *t);
/* Docker's lower-case task state name ("running"). */
const char *conv_task_state_name(Shoal__TaskState s);

/* Labels map (protobuf map entries) <-> JSON object. */
json_t *conv_labels_json(size_t n, Shoal__Annotations__LabelsEntry **labels);
/* Replaces a's labels with the JSON object `obj` (absent: unchanged; null:
 * none). Returns 0 or -EINVAL naming the field under `path`. */
int conv_labels(json_t *obj, const char *path, Shoal__Annotations *a, char *err, size_t errlen);

/* Enum names as Docker spells them. */
const char *conv_role_name(Shoal__NodeRole r);
const char *conv_availability_name(Shoal__NodeAvailability a);
const char *conv_node_state_name(Shoal__NodeState s);
const char *conv_reachability_name(Shoal__Reachability r);

#endif
