#define G_LOG_DOMAIN "kpingd"

#include "ping-actor.h"

#include "log.h"

struct _KpingdPingActor {
        KpActorServer *server;
        KpingdCounterStore *store;
        KpingdDurability durability;
        guint64 seq;
};

typedef struct {
        KpActorRequest *request;
        guint64 ping_seq;
} KpingdPendingPong;

static void
reply_pong(KpActorRequest *request, guint64 ping_seq, guint64 total)
{
        g_autoptr(GBytes) pong = kp_kameo_pong_encode(ping_seq, total);

        kp_actor_request_reply(request, pong);
}

static void
on_durable_increment(GObject *source, GAsyncResult *result, gpointer user_data)
{
        KpingdPendingPong *p = user_data;
        g_autoptr(GError) error = NULL;
        guint64 total = 0;

        if (kpingd_counter_store_increment_finish(KPINGD_COUNTER_STORE(source), result, &total,
                                                  &error)) {
                reply_pong(p->request, p->ping_seq, total);
        } else {
                /* No total may be reported that is not on disk. */
                g_critical("cannot store the ping total: %s", error->message);
                kp_actor_request_fail(p->request, KP_KAMEO_SEND_ERROR_ACTOR_STOPPED, NULL);
        }
        g_free(p);
}

static void
on_ping(KpActorRequest *request, guint64 actor_seq, const guint8 *payload, gsize len,
        gpointer user_data)
{
        KpingdPingActor *actor = user_data;
        g_autoptr(GError) error = NULL;
        guint64 ping_seq = 0;

        if (!kp_kameo_ping_decode(payload, len, &ping_seq, &error)) {
                kp_actor_request_fail(request, KP_KAMEO_SEND_ERROR_DESERIALIZE_MESSAGE,
                                      error->message);
                return;
        }
        if (actor->durability == KPINGD_DURABILITY_STRICT) {
                KpingdPendingPong *p = g_new0(KpingdPendingPong, 1);
                p->request = request;
                p->ping_seq = ping_seq;
                kpingd_counter_store_increment_async(actor->store, on_durable_increment, p);
                return;
        }
        reply_pong(request, ping_seq, kpingd_counter_store_increment(actor->store));
}

KpingdPingActor *
kpingd_ping_actor_new(KpActorServer *server, KpingdCounterStore *store, KpingdDurability durability)
{
        KpingdPingActor *actor = g_new0(KpingdPingActor, 1);

        actor->server = server;
        actor->store = g_object_ref(store);
        actor->durability = durability;
        actor->seq = kp_actor_server_spawn(server, KP_KAMEO_PING_ACTOR_REMOTE_ID);
        kp_actor_server_add_handler(server, KP_KAMEO_PING_ACTOR_REMOTE_ID,
                                    KP_KAMEO_PING_MESSAGE_REMOTE_ID, on_ping, actor);
        return actor;
}

guint64
kpingd_ping_actor_get_seq(KpingdPingActor *actor)
{
        return actor->seq;
}

void
kpingd_ping_actor_free(KpingdPingActor *actor)
{
        if (actor == NULL)
                return;
        kp_actor_server_stop(actor->server, actor->seq);
        g_object_unref(actor->store);
        g_free(actor);
}
