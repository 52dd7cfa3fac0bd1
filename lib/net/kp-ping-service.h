/* libp2p ping (/ipfs/ping/1.0.0, libp2p/specs ping/ping.md): the echo
 * handler, and a client that sends 32 random bytes and times the echo. Many
 * pings may share a stream and may be in flight at once. */
#pragma once

#include "net/kp-host.h"

G_BEGIN_DECLS

#define KP_PING_PROTOCOL     "/ipfs/ping/1.0.0"
#define KP_PING_PAYLOAD_SIZE 32
/* Echo output not yet taken by the peer: past this the stream is reset
 * rather than buffering for a peer that sends but does not read. */
#define KP_PING_MAX_ECHO_BACKLOG (64 * 1024)

void kp_ping_service_register(KpHost *host);

typedef struct _KpPingClient KpPingClient;

/* @rtt_us < 0 with @error when the stream failed; every ping in flight is
 * reported that way, in order. */
typedef void (*KpPingFunc)(KpPingClient *client, guint64 seq, gint64 rtt_us, const GError *error,
                           gpointer user_data);

KpPingClient *kp_ping_client_new(KpConnection *conn, KpPingFunc func, gpointer user_data,
                                 GError **error);
/* Sends one ping; @seq comes back in the callback. */
void kp_ping_client_send(KpPingClient *client, guint64 seq);
guint kp_ping_client_get_in_flight(KpPingClient *client);
gboolean kp_ping_client_is_open(KpPingClient *client);
void kp_ping_client_free(KpPingClient *client);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(KpPingClient, kp_ping_client_free)

G_END_DECLS
