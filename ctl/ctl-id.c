/* kpingctl id: what a peer says about itself through identify. */
#define G_LOG_DOMAIN "kpingctl"

#include <json-c/json.h>
#include <stdio.h>

#include "ctl.h"

typedef struct {
        gboolean done;
        KpIdentifyInfo *info;
        GError *error;
} KpIdWait;

static void
on_identified(KpConnection *conn, const KpIdentifyInfo *info, const GError *error,
              gpointer user_data)
{
        KpIdWait *w = user_data;

        w->done = TRUE;
        if (info == NULL) {
                w->error = g_error_copy(error);
                return;
        }
        w->info = kp_identify_info_copy(info);
}

static void
print_human(const char *peer, const KpIdentifyInfo *info)
{
        printf("Peer ID: %s\n", peer);
        printf("Agent: %s\n", info->agent_version != NULL ? info->agent_version : "(none)");
        printf("Protocol version: %s\n",
               info->protocol_version != NULL ? info->protocol_version : "(none)");
        printf("Protocols:\n");
        for (gsize i = 0; info->protocols != NULL && info->protocols[i] != NULL; i++)
                printf("  %s\n", info->protocols[i]);
        printf("Listen addresses:\n");
        for (guint i = 0; info->listen_addrs != NULL && i < info->listen_addrs->len; i++) {
                g_autofree char *a = kp_multiaddr_to_string(info->listen_addrs->pdata[i]);
                printf("  %s\n", a);
        }
        if (info->observed_addr != NULL) {
                g_autofree char *a = kp_multiaddr_to_string(info->observed_addr);
                printf("Observed address: %s\n", a);
        }
}

static void
print_json(const char *peer, const KpIdentifyInfo *info)
{
        json_object *obj = json_object_new_object();
        json_object *protocols = json_object_new_array();
        json_object *addrs = json_object_new_array();

        json_object_object_add(obj, "peer_id", json_object_new_string(peer));
        json_object_object_add(
            obj, "agent_version",
            info->agent_version != NULL ? json_object_new_string(info->agent_version) : NULL);
        json_object_object_add(
            obj, "protocol_version",
            info->protocol_version != NULL ? json_object_new_string(info->protocol_version) : NULL);
        for (gsize i = 0; info->protocols != NULL && info->protocols[i] != NULL; i++)
                json_object_array_add(protocols, json_object_new_string(info->protocols[i]));
        json_object_object_add(obj, "protocols", protocols);
        for (guint i = 0; info->listen_addrs != NULL && i < info->listen_addrs->len; i++) {
                g_autofree char *a = kp_multiaddr_to_string(info->listen_addrs->pdata[i]);
                json_object_array_add(addrs, json_object_new_string(a));
        }
        json_object_object_add(obj, "listen_addrs", addrs);
        if (info->observed_addr != NULL) {
                g_autofree char *a = kp_multiaddr_to_string(info->observed_addr);
                json_object_object_add(obj, "observed_addr", json_object_new_string(a));
        }
        printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        json_object_put(obj);
}

int
kp_ctl_id(int argc, char **argv)
{
        g_autoptr(GOptionContext) ctx = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpMultiaddr) target = NULL;
        g_autoptr(KpConnection) conn = NULL;
        g_auto(KpCtlNode) node = { 0 };
        g_autofree char *peer = NULL;
        gboolean json = FALSE;
        KpIdWait w = { 0 };
        int status;
        const GOptionEntry entries[] = {
                { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object", NULL },
                { NULL },
        };

        ctx = g_option_context_new("MULTIADDR - show what a peer says about itself");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error))
                return kp_ctl_fail(error);
        if (argc != 2) {
                g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "expected one MULTIADDR (see kpingctl id --help)");
                return kp_ctl_fail(error);
        }
        target = kp_ctl_parse_target(argv[1], &error);
        if (target == NULL)
                return kp_ctl_fail(error);
        kp_ctl_node_init(&node);
        conn = kp_ctl_dial_sync(&node, target, &error);
        if (conn == NULL)
                return kp_ctl_fail(error);
        kp_identify_service_request(node.identify, conn, on_identified, &w);
        /* Bounded by the connection's idle timeout and the peer closing. */
        while (!w.done)
                g_main_context_iteration(NULL, TRUE);
        if (w.info == NULL) {
                status = kp_ctl_fail(w.error);
                g_clear_error(&w.error);
                return status;
        }
        peer = kp_peer_id_to_string(kp_connection_get_remote_peer_id(conn));
        if (json)
                print_json(peer, w.info);
        else
                print_human(peer, w.info);
        kp_identify_info_free(w.info);
        return KP_CTL_EXIT_OK;
}
