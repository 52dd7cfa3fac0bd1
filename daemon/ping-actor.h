/* kping::PingActor: answers kping::Ping {seq} with {seq, total}, where total
 * is the persistent count of every ping ever answered, this one included. */
#pragma once

#include "actor/kp-actor-messaging.h"
#include "counter-store.h"

typedef struct _KpingdPingActor KpingdPingActor;

KpingdPingActor *kpingd_ping_actor_new(KpActorServer *server, KpingdCounterStore *store,
                                       KpingdDurability durability);
guint64 kpingd_ping_actor_get_seq(KpingdPingActor *actor);
void kpingd_ping_actor_free(KpingdPingActor *actor);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpingdPingActor, kpingd_ping_actor_free)
