/* /ipfs/id/1.0.0 and /ipfs/id/push/1.0.0 on a host: answers identify
 * requests, asks every newly established connection, and reports what peers
 * say about themselves (after checking their key against their peer id). */
#pragma once

#include "core/kp-identify.h"
#include "net/kp-host.h"

G_BEGIN_DECLS

typedef struct _KpIdentifyService KpIdentifyService;

/* @info is NULL with @error when the peer's answer was unusable. */
typedef void (*KpIdentifyFunc)(KpConnection *conn, const KpIdentifyInfo *info, const GError *error,
                               gpointer user_data);

/* Registers the handlers on @host. With @ask_new_connections, every
 * established connection is asked at once. */
KpIdentifyService *kp_identify_service_new(KpHost *host, const char *agent_version,
                                           gboolean ask_new_connections);
void kp_identify_service_free(KpIdentifyService *service);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpIdentifyService, kp_identify_service_free)

/* Called for every identify or push received. */
void kp_identify_service_set_callback(KpIdentifyService *service, KpIdentifyFunc func,
                                      gpointer user_data);
/* Asks @conn now; the answer goes to @func (not to the service callback). */
void kp_identify_service_request(KpIdentifyService *service, KpConnection *conn,
                                 KpIdentifyFunc func, gpointer user_data);
/* The message we would send to @conn. */
KpIdentifyInfo *kp_identify_service_build(KpIdentifyService *service, KpConnection *conn);

G_END_DECLS
