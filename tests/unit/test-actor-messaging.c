/* The kameo responder and requester over a real loopback connection: a
 * handler's reply, and kameo 0.19's answers for an unknown message, an
 * actor that is not running and an actor of another type, in any order. */
#include "actor/kp-actor-messaging.h"
#include "core/kp-error.h"
#include "kp-test-util.h"

#include <string.h>

#define ECHO_TYPE  "test::Echo"
#define OTHER_TYPE "test::Other"
#define MSG        "test::Msg"
#define SHOUT      "test::Shout"

typedef struct {
        gboolean done;
        KpKameoResponse *response;
        GError *error;
} Reply;

/* Replies with the payload behind the handler's prefix. */
static void
on_message(KpActorRequest *request, guint64 actor_seq, const guint8 *payload, gsize len,
           gpointer user_data)
{
        const char *prefix = user_data;
        g_autoptr(GByteArray) reply = g_byte_array_new();

        g_byte_array_append(reply, (const guint8 *)prefix, (guint)strlen(prefix));
        g_byte_array_append(reply, payload, (guint)len);
        kp_actor_request_reply(request, g_byte_array_free_to_bytes(g_steal_pointer(&reply)));
}

static void
on_reply(KpKameoResponse *response, const GError *error, gpointer user_data)
{
        Reply *r = user_data;

        r->done = TRUE;
        r->response = response;
        r->error = error != NULL ? g_error_copy(error) : NULL;
}

/* One ask; the answer, asserted to have come. */
static KpKameoResponse *
ask(KpConnection *conn, const KpPeerId *server, guint64 seq, const char *actor_type,
    const char *message)
{
        g_autoptr(GBytes) payload = g_bytes_new_static("hi", 2);
        KpKameoRequest req = {
                .kind = KP_KAMEO_REQUEST_ASK,
                .actor_seq = seq,
                .actor_peer = *server,
                .actor_remote_id = (char *)actor_type,
                .message_remote_id = (char *)message,
                .payload = payload,
        };
        Reply r = { 0 };
        gint64 deadline = g_get_monotonic_time() + 5 * G_USEC_PER_SEC;

        kp_actor_ask(conn, &req, 5000, on_reply, &r);
        /* never called from inside kp_actor_ask() */
        g_assert_false(r.done);
        while (!r.done && g_get_monotonic_time() < deadline)
                g_main_context_iteration(NULL, TRUE);
        g_assert_true(r.done);
        g_assert_no_error(r.error);
        g_assert_nonnull(r.response);
        return r.response;
}

static void
assert_reply(KpKameoResponse *resp, const char *want)
{
        g_assert_true(resp->ok);
        g_assert_cmpmem(g_bytes_get_data(resp->reply, NULL), g_bytes_get_size(resp->reply), want,
                        strlen(want));
        kp_kameo_response_free(resp);
}

static void
assert_refused(KpKameoResponse *resp, KpKameoSendError want)
{
        g_assert_false(resp->ok);
        g_assert_cmpstr(kp_kameo_send_error_to_string(resp->error), ==,
                        kp_kameo_send_error_to_string(want));
        kp_kameo_response_free(resp);
}

static void
test_actor_messaging_answers(void)
{
        g_autoptr(KpKeypair) server_key = kp_keypair_generate();
        g_autoptr(KpKeypair) client_key = kp_keypair_generate();
        g_autoptr(KpHost) server = kp_host_new(server_key);
        g_autoptr(KpHost) client = kp_host_new(client_key);
        KpActorServer *actors = kp_actor_server_new(server);
        guint64 echo = kp_actor_server_spawn(actors, ECHO_TYPE);
        guint64 other = kp_actor_server_spawn(actors, OTHER_TYPE);
        guint16 port = kp_test_listen_loopback(server);
        g_autoptr(KpMultiaddr) target = kp_test_server_target(server, port);
        g_autoptr(KpConnection) conn = NULL;
        const KpPeerId *id = kp_host_get_peer_id(server);
        KpKameoResponse *resp;

        kp_actor_server_add_handler(actors, ECHO_TYPE, MSG, on_message, (gpointer) "");
        kp_actor_server_add_handler(actors, ECHO_TYPE, SHOUT, on_message, (gpointer) "!");
        kp_actor_server_add_handler(actors, OTHER_TYPE, MSG, on_message, (gpointer) "o:");
        conn = kp_test_dial(client, target);

        /* twice each way, so that a remembered handler is both reused and
         * replaced by the next pair */
        for (guint round = 0; round < 2; round++) {
                assert_reply(ask(conn, id, echo, ECHO_TYPE, MSG), "hi");
                assert_reply(ask(conn, id, echo, ECHO_TYPE, MSG), "hi");
                assert_reply(ask(conn, id, echo, ECHO_TYPE, SHOUT), "!hi");
                assert_reply(ask(conn, id, echo, ECHO_TYPE, MSG), "hi");
                assert_reply(ask(conn, id, other, OTHER_TYPE, MSG), "o:hi");

                resp = ask(conn, id, echo, ECHO_TYPE, "test::Nothing");
                g_assert_cmpstr(resp->actor_remote_id, ==, ECHO_TYPE);
                g_assert_cmpstr(resp->message_remote_id, ==, "test::Nothing");
                assert_refused(resp, KP_KAMEO_SEND_ERROR_UNKNOWN_MESSAGE);
                assert_refused(ask(conn, id, echo + 100, ECHO_TYPE, MSG),
                               KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING);
                assert_refused(ask(conn, id, other, ECHO_TYPE, MSG),
                               KP_KAMEO_SEND_ERROR_BAD_ACTOR_TYPE);
                /* an actor the server runs, asked of it under another peer id */
                assert_refused(ask(conn, kp_host_get_peer_id(client), echo, ECHO_TYPE, MSG),
                               KP_KAMEO_SEND_ERROR_ACTOR_NOT_RUNNING);
        }
        g_assert_cmpuint(kp_actor_server_get_n_answered(actors), ==, 10);
        g_assert_cmpuint(kp_actor_server_get_n_failed(actors), ==, 8);
        /* each refusal logged with the requester's peer id and the answer */
        {
                g_autofree char *peer = kp_peer_id_to_string(kp_host_get_peer_id(client));

                g_assert_cmpuint(kp_test_captured_log()->len, ==, 8);
                g_assert_cmpuint(kp_test_count_log_lines(peer, "UnknownMessage"), ==, 2);
                g_assert_cmpuint(kp_test_count_log_lines(peer, "ActorNotRunning"), ==, 4);
                g_assert_cmpuint(kp_test_count_log_lines(peer, "BadActorType"), ==, 2);
        }

        /* a handler replaced for the pair last used answers from then on */
        kp_actor_server_add_handler(actors, ECHO_TYPE, SHOUT, on_message, (gpointer) "?");
        assert_reply(ask(conn, id, echo, ECHO_TYPE, SHOUT), "?hi");

        g_clear_pointer(&conn, kp_connection_unref);
        g_clear_pointer(&client, kp_host_free);
        kp_actor_server_free(actors);
        g_clear_pointer(&server, kp_host_free);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        kp_test_capture_log("GLIB_DOMAIN", "kp-actor");
        g_test_add_func("/actor-messaging/answers", test_actor_messaging_answers);
        return g_test_run();
}
