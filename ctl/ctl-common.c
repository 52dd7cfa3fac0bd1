#define G_LOG_DOMAIN "kpingctl"

#include <stdio.h>

#include "core/kp-error.h"
#include "ctl.h"

static gint64 process_start_us;

gint64
kp_ctl_elapsed_us(void)
{
        return g_get_monotonic_time() - process_start_us;
}

/* Runs before main(): "process start" for the timing figures. */
__attribute__((constructor)) static void
record_process_start(void)
{
        process_start_us = g_get_monotonic_time();
}

int
kp_ctl_fail(const GError *error)
{
        fprintf(stderr, "kpingctl: %s\n", error->message);
        return KP_CTL_EXIT_ERROR;
}

KpMultiaddr *
kp_ctl_parse_target(const char *text, GError **error)
{
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string(text, error);
        KpPeerId id;

        if (ma == NULL)
                return NULL;
        if (!kp_multiaddr_get_peer_id(ma, &id, NULL)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "invalid multiaddr \"%s\": it must end in /p2p/<peer id>", text);
                return NULL;
        }
        return g_steal_pointer(&ma);
}

void
kp_ctl_node_init(KpCtlNode *node)
{
        g_autofree char *agent = g_strdup_printf("kpingctl/%s", KP_VERSION);

        node->identity = kp_keypair_generate();
        node->host = kp_host_new(node->identity);
        node->identify = kp_identify_service_new(node->host, agent, FALSE);
}

void
kp_ctl_node_clear(KpCtlNode *node)
{
        g_clear_pointer(&node->host, kp_host_free);
        g_clear_pointer(&node->identify, kp_identify_service_free);
        g_clear_pointer(&node->identity, kp_keypair_free);
}

typedef struct {
        GAsyncResult *result;
} KpCtlWait;

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpCtlWait *w = user_data;

        w->result = g_object_ref(result);
}

KpConnection *
kp_ctl_dial_sync(KpCtlNode *node, const KpMultiaddr *addr, GError **error)
{
        KpCtlWait w = { NULL };
        KpConnection *conn;

        kp_host_dial_async(node->host, addr, NULL, on_done, &w);
        while (w.result == NULL)
                g_main_context_iteration(NULL, TRUE);
        conn = kp_host_dial_finish(node->host, w.result, error);
        g_object_unref(w.result);
        return conn;
}
