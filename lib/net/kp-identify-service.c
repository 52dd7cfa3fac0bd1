#define G_LOG_DOMAIN "kp-identify"

#include "net/kp-identify-service.h"

#include "core/kp-error.h"
#include "core/kp-lp.h"

struct _KpIdentifyService {
        KpHost *host;
        char *agent_version;
        KpIdentifyFunc func;
        gpointer user_data;
};

/* One identify or push stream being read. */
typedef struct {
        KpIdentifyService *service;
        KpLpReader reader;
        KpIdentifyFunc func;
        gpointer user_data;
        KpIdentifyInfo *info; /* the messages so far, merged */
        guint n_messages;
        gboolean done;
} KpIdentifyRead;

static void
identify_read_free(KpIdentifyRead *r)
{
        kp_lp_reader_clear(&r->reader);
        g_clear_pointer(&r->info, kp_identify_info_free);
        g_free(r);
}

KpIdentifyInfo *
kp_identify_service_build(KpIdentifyService *service, KpConnection *conn)
{
        KpIdentifyInfo *info = kp_identify_info_new();
        const KpKeypair *identity = kp_host_get_identity(service->host);
        const KpPublicKey *pub = kp_keypair_get_public_key(identity);
        const KpMultiaddr *observed = kp_connection_get_remote_addr(conn);

        info->protocol_version = g_strdup(KP_IDENTIFY_PROTOCOL_VERSION);
        info->agent_version = g_strdup(service->agent_version);
        info->public_key = kp_public_key_new_ed25519(g_bytes_get_data(pub->data, NULL));
        info->listen_addrs = kp_host_get_advertised_addrs(service->host);
        if (observed != NULL)
                info->observed_addr = kp_multiaddr_copy(observed);
        info->protocols = g_strdupv((char **)kp_host_get_protocols(service->host));
        return info;
}

static void
report(KpIdentifyRead *r, KpConnection *conn, const KpIdentifyInfo *info, const GError *error)
{
        if (r->done)
                return;
        r->done = TRUE;
        if (r->func != NULL)
                r->func(conn, info, error, r->user_data);
}

/* Decodes and checks one message and folds it into what the peer said so
 * far; FALSE with @error when the peer broke a rule. */
static gboolean
handle_message(KpIdentifyRead *r, KpStream *stream, GBytes *message, GError **error)
{
        KpConnection *conn = kp_stream_get_connection(stream);
        g_autoptr(KpIdentifyInfo) info = NULL;
        gsize len;
        const guint8 *data = g_bytes_get_data(message, &len);

        if (++r->n_messages > KP_IDENTIFY_MAX_MESSAGES) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "identify: more than %d messages",
                            KP_IDENTIFY_MAX_MESSAGES);
                return FALSE;
        }
        info = kp_identify_decode(data, len, error);
        if (info == NULL)
                return FALSE;
        if (info->public_key != NULL) {
                KpPeerId claimed;
                kp_peer_id_from_public_key(info->public_key, &claimed);
                if (!kp_peer_id_equal(&claimed, kp_connection_get_remote_peer_id(conn))) {
                        g_set_error(error, KP_ERROR, KP_ERROR_PEER_ID_MISMATCH,
                                    "identify: public key is not the peer's");
                        return FALSE;
                }
        }
        if (r->info == NULL)
                r->info = g_steal_pointer(&info);
        else
                kp_identify_info_merge(r->info, info);
        return TRUE;
}

static void
on_identify_data(KpStream *stream, const guint8 *data, gsize len, gpointer user_data)
{
        KpIdentifyRead *r = user_data;

        while (len > 0 && !r->done) {
                g_autoptr(GBytes) message = NULL;
                g_autoptr(GError) error = NULL;
                gsize used = 0;

                if (!kp_lp_reader_feed(&r->reader, data, len, &used, &message, &error))
                        g_prefix_error(&error, "identify: ");
                else if (message != NULL)
                        handle_message(r, stream, message, &error);
                if (error != NULL) {
                        report(r, kp_stream_get_connection(stream), NULL, error);
                        kp_stream_reset(stream);
                        return;
                }
                data += used;
                len -= used;
        }
}

static void
on_identify_closed(KpStream *stream, const GError *error, gpointer user_data)
{
        KpIdentifyRead *r = user_data;

        if (!r->done) {
                g_autoptr(GError) eof = NULL;
                if (error == NULL)
                        error = eof = g_error_new(KP_ERROR, KP_ERROR_TRUNCATED,
                                                  "identify: stream ended without a message");
                report(r, kp_stream_get_connection(stream), NULL, error);
        }
        identify_read_free(r);
}

/* The peer said all it had: report the merged messages. */
static void
on_identify_eof(KpStream *stream, gpointer user_data)
{
        KpIdentifyRead *r = user_data;

        if (r->info != NULL && !kp_lp_reader_has_partial(&r->reader))
                report(r, kp_stream_get_connection(stream), r->info, NULL);
        kp_stream_close_write(stream);
}

static const KpStreamCallbacks read_callbacks = {
        .data = on_identify_data,
        .eof = on_identify_eof,
        .closed = on_identify_closed,
};

static KpIdentifyRead *
identify_read_new(KpIdentifyService *service, KpIdentifyFunc func, gpointer user_data)
{
        KpIdentifyRead *r = g_new0(KpIdentifyRead, 1);

        r->service = service;
        r->func = func;
        r->user_data = user_data;
        kp_lp_reader_init(&r->reader, KP_IDENTIFY_MAX_MESSAGE);
        return r;
}

void
kp_identify_service_request(KpIdentifyService *service, KpConnection *conn, KpIdentifyFunc func,
                            gpointer user_data)
{
        static const char *const protocols[] = { KP_IDENTIFY_PROTOCOL, NULL };
        KpIdentifyRead *r = identify_read_new(service, func, user_data);
        g_autoptr(GError) error = NULL;

        if (kp_connection_open_stream(conn, protocols, &read_callbacks, r, &error) == NULL) {
                report(r, conn, NULL, error);
                identify_read_free(r);
        }
}

/* Someone asks who we are: answer and close. */
static void
on_identify_stream(KpStream *stream, gpointer user_data)
{
        KpIdentifyService *service = user_data;
        g_autoptr(KpIdentifyInfo) info = NULL;
        g_autoptr(GBytes) body = NULL;
        g_autoptr(GByteArray) out = g_byte_array_new();
        gsize len;
        const guint8 *data;

        info = kp_identify_service_build(service, kp_stream_get_connection(stream));
        body = kp_identify_encode(info);
        data = g_bytes_get_data(body, &len);
        kp_lp_append(out, data, len);
        kp_stream_write(stream, out->data, out->len);
        kp_stream_close_write(stream);
}

static void
on_push_stream(KpStream *stream, gpointer user_data)
{
        KpIdentifyService *service = user_data;
        KpIdentifyRead *r = identify_read_new(service, service->func, service->user_data);

        kp_stream_set_callbacks(stream, &read_callbacks, r);
}

static void
on_connection_established(KpHost *host, KpConnection *conn, gpointer user_data)
{
        KpIdentifyService *service = user_data;

        kp_identify_service_request(service, conn, service->func, service->user_data);
}

KpIdentifyService *
kp_identify_service_new(KpHost *host, const char *agent_version, gboolean ask_new_connections)
{
        KpIdentifyService *service = g_new0(KpIdentifyService, 1);

        service->host = host;
        service->agent_version = g_strdup(agent_version);
        kp_host_set_stream_handler(host, KP_IDENTIFY_PROTOCOL, on_identify_stream, service);
        kp_host_set_stream_handler(host, KP_IDENTIFY_PUSH_PROTOCOL, on_push_stream, service);
        if (ask_new_connections) {
                const KpHostCallbacks callbacks = {
                        .connection_established = on_connection_established,
                };
                kp_host_add_callbacks(host, &callbacks, service);
        }
        return service;
}

void
kp_identify_service_set_callback(KpIdentifyService *service, KpIdentifyFunc func,
                                 gpointer user_data)
{
        service->func = func;
        service->user_data = user_data;
}

void
kp_identify_service_free(KpIdentifyService *service)
{
        if (service == NULL)
                return;
        g_free(service->agent_version);
        g_free(service);
}
