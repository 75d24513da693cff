/* conv internals shared by the service and task converters. */
#ifndef SHOAL_DAEMON_API_CONV_INT_H
#define SHOAL_DAEMON_API_CONV_INT_H

#include <jansson.h>

#include "proto/objects.pb-c.h"

/* Docker's names for shoal's enums, indexed by the enum value,
 * NULL-terminated (conv_service.c). */
extern const char *const conv_mount_types[];	    /* Shoal__Mount__Type */
extern const char *const conv_propagations[];	    /* Shoal__Mount__Propagation */
extern const char *const conv_restart_conditions[]; /* Shoal__RestartPolicy__Condition */
extern const char *const conv_failure_actions[];    /* Shoal__UpdateConfig__FailureAction */
extern const char *const conv_update_orders[];	    /* Shoal__UpdateConfig__Order */
extern const char *const conv_endpoint_modes[];	    /* Shoal__EndpointSpec__Mode */
extern const char *const conv_protocols[];	    /* Shoal__PortConfig__Protocol */
extern const char *const conv_publish_modes[];	    /* Shoal__PortConfig__PublishMode */

/* {ID, Version, CreatedAt, UpdatedAt} of `m` set into `o`; returns o. */
json_t *conv_meta_fields(json_t *o, const Shoal__Meta *m);
/* A TaskSpec as Docker's TaskTemplate. New reference. */
json_t *conv_task_spec_json(const Shoal__TaskSpec *t);
/* A PortConfig as Docker's {Name, Protocol, TargetPort, PublishedPort,
 * PublishMode}. New reference. */
json_t *conv_port_json(const Shoal__PortConfig *p);

#endif
