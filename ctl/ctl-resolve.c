/* kpingctl resolve: find an actor through the DHT, entering it through the
 * given peer, with the registry lookup of lib/actor (GET_PROVIDERS(name), then
 * GET_VALUE("{name}:meta:{provider}") and the kameo registration in it). */
#define G_LOG_DOMAIN "kpingctl"

#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo-registration.h"
#include "ctl.h"
#include "actor/kp-actor-registry.h"
#include "dht/kp-dht.h"

typedef struct {
        GAsyncResult *result;
} ResolveWait;

static void
on_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
        ResolveWait *w = user_data;

        w->result = g_object_ref(result);
}

static GAsyncResult *
wait_result(ResolveWait *w)
{
        while (w->result == NULL)
                g_main_context_iteration(NULL, TRUE);
        return w->result;
}

static void
print_human(const char *actor, GPtrArray *found, gint64 resolve_us)
{
        printf("Actor '%s': %u registration%s (%.3f ms)\n", actor, found->len,
               found->len == 1 ? "" : "s", resolve_us / 1000.0);
        for (guint i = 0; i < found->len; i++) {
                KpActorLocation *f = found->pdata[i];
                g_autofree char *peer = kp_peer_id_to_string(&f->registration->peer_id);
                printf("Peer ID: %s\n", peer);
                printf("  Actor sequence id: %" G_GUINT64_FORMAT "\n", f->registration->actor_seq);
                printf("  Remote id: %s\n", f->registration->remote_id);
                printf("  Addresses:\n");
                for (guint j = 0; j < f->addrs->len; j++) {
                        g_autoptr(KpMultiaddr) full = kp_multiaddr_encapsulate_p2p(
                            f->addrs->pdata[j], &f->registration->peer_id, NULL);
                        g_autofree char *a = full != NULL ? kp_multiaddr_to_string(full) : NULL;
                        if (a != NULL)
                                printf("    %s\n", a);
                }
        }
}

static void
print_json(const char *actor, GPtrArray *found, gint64 resolve_us, const KpDhtStats *stats)
{
        json_object *obj = json_object_new_object();
        json_object *list = json_object_new_array();

        json_object_object_add(obj, "type", json_object_new_string("resolve"));
        json_object_object_add(obj, "actor", json_object_new_string(actor));
        for (guint i = 0; i < found->len; i++) {
                KpActorLocation *f = found->pdata[i];
                json_object *o = json_object_new_object();
                json_object *addrs = json_object_new_array();
                g_autofree char *peer = kp_peer_id_to_string(&f->registration->peer_id);
                json_object_object_add(o, "peer_id", json_object_new_string(peer));
                json_object_object_add(o, "actor_seq",
                                       json_object_new_uint64(f->registration->actor_seq));
                json_object_object_add(o, "remote_id",
                                       json_object_new_string(f->registration->remote_id));
                for (guint j = 0; j < f->addrs->len; j++) {
                        g_autoptr(KpMultiaddr) full = kp_multiaddr_encapsulate_p2p(
                            f->addrs->pdata[j], &f->registration->peer_id, NULL);
                        g_autofree char *a = full != NULL ? kp_multiaddr_to_string(full) : NULL;
                        if (a != NULL)
                                json_object_array_add(addrs, json_object_new_string(a));
                }
                json_object_object_add(o, "addrs", addrs);
                json_object_array_add(list, o);
        }
        json_object_object_add(obj, "registrations", list);
        json_object_object_add(obj, "resolve_us", json_object_new_int64(resolve_us));
        json_object_object_add(obj, "hops", json_object_new_int(stats->hops));
        json_object_object_add(obj, "requests", json_object_new_int(stats->n_requests));
        printf("%s\n", json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
        json_object_put(obj);
}

int
kp_ctl_resolve(int argc, char **argv)
{
        g_autoptr(GOptionContext) ctx = NULL;
        g_autoptr(GError) error = NULL;
        g_autoptr(KpMultiaddr) target = NULL;
        g_autoptr(KpConnection) conn = NULL;
        g_auto(KpCtlNode) node = { 0 };
        g_autoptr(KpDht) dht = NULL;
        g_autoptr(GPtrArray) addrs
            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
        g_autoptr(GPtrArray) found = NULL;
        g_autofree char *actor = NULL;
        g_auto(GStrv) protocols = NULL;
        gboolean json = FALSE, all = FALSE;
        ResolveWait w = { NULL };
        KpDhtConfig config = { 0 };
        KpDhtStats stats = { 0 };
        KpPeerId target_id;
        gint64 start_us;
        const GOptionEntry entries[] = {
                { "actor", 0, 0, G_OPTION_ARG_STRING, &actor, "Actor name (default ping)", "NAME" },
                { "json", 0, 0, G_OPTION_ARG_NONE, &json, "One JSON object", NULL },
                { "all", 0, 0, G_OPTION_ARG_NONE, &all,
                  "Collect every provider instead of stopping at the first", NULL },
                { "kad-protocol", 0, 0, G_OPTION_ARG_STRING_ARRAY, &protocols,
                  "Kademlia protocol id (default /kameo/registry/1.0.0)", "ID" },
                { NULL },
        };

        ctx = g_option_context_new("MULTIADDR - find an actor through the DHT, via that peer");
        g_option_context_add_main_entries(ctx, entries, NULL);
        if (!g_option_context_parse(ctx, &argc, &argv, &error))
                return kp_ctl_fail(error);
        if (argc != 2) {
                g_set_error(&error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                            "expected one MULTIADDR (see kpingctl resolve --help)");
                return kp_ctl_fail(error);
        }
        if (actor == NULL)
                actor = g_strdup("ping");
        target = kp_ctl_parse_target(argv[1], &error);
        if (target == NULL)
                return kp_ctl_fail(error);
        kp_multiaddr_get_peer_id(target, &target_id, NULL);
        kp_ctl_node_init(&node);
        conn = kp_ctl_dial_sync(&node, target, &error);
        if (conn == NULL)
                return kp_ctl_fail(error);

        start_us = g_get_monotonic_time();
        config.protocols = (const char *const *)protocols;
        config.client_mode = TRUE;
        dht = kp_dht_new(node.host, &config);
        g_ptr_array_add(addrs, kp_multiaddr_without_p2p(target));
        kp_dht_add_peer(dht, &target_id, addrs);

        kp_actor_find_registrations_async(dht, actor, all, 0, NULL, on_done, &w);
        found = kp_actor_find_registrations_finish(dht, wait_result(&w), &stats, &error);
        g_clear_object(&w.result);
        if (found == NULL)
                return kp_ctl_fail(error);
        if (json)
                print_json(actor, found, g_get_monotonic_time() - start_us, &stats);
        else
                print_human(actor, found, g_get_monotonic_time() - start_us);
        return KP_CTL_EXIT_OK;
}
