#include "core/kp-identify.h"

#include <string.h>

#include "core/kp-error.h"
#include "identify.pb-c.h"

KpIdentifyInfo *
kp_identify_info_new(void)
{
        return g_new0(KpIdentifyInfo, 1);
}

static GPtrArray *
copy_addrs(const GPtrArray *addrs)
{
        GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);

        for (guint i = 0; i < addrs->len; i++)
                g_ptr_array_add(out, kp_multiaddr_copy(addrs->pdata[i]));
        return out;
}

KpIdentifyInfo *
kp_identify_info_copy(const KpIdentifyInfo *info)
{
        KpIdentifyInfo *copy = kp_identify_info_new();

        copy->protocol_version = g_strdup(info->protocol_version);
        copy->agent_version = g_strdup(info->agent_version);
        if (info->public_key != NULL)
                copy->public_key = kp_public_key_copy(info->public_key);
        if (info->listen_addrs != NULL)
                copy->listen_addrs = copy_addrs(info->listen_addrs);
        if (info->observed_addr != NULL)
                copy->observed_addr = kp_multiaddr_copy(info->observed_addr);
        copy->protocols = g_strdupv(info->protocols);
        copy->n_bad_addrs = info->n_bad_addrs;
        return copy;
}

void
kp_identify_info_free(KpIdentifyInfo *info)
{
        if (info == NULL)
                return;
        g_free(info->protocol_version);
        g_free(info->agent_version);
        g_clear_pointer(&info->public_key, kp_public_key_free);
        g_clear_pointer(&info->listen_addrs, g_ptr_array_unref);
        g_clear_pointer(&info->observed_addr, kp_multiaddr_free);
        g_strfreev(info->protocols);
        g_free(info);
}

static void
replace_pointer(gpointer *into, gpointer *from, GDestroyNotify free_func)
{
        if (*from == NULL)
                return;
        if (*into != NULL)
                free_func(*into);
        *into = g_steal_pointer(from);
}

void
kp_identify_info_merge(KpIdentifyInfo *into, KpIdentifyInfo *from)
{
        replace_pointer((gpointer *)&into->protocol_version, (gpointer *)&from->protocol_version,
                        g_free);
        replace_pointer((gpointer *)&into->agent_version, (gpointer *)&from->agent_version, g_free);
        replace_pointer((gpointer *)&into->public_key, (gpointer *)&from->public_key,
                        (GDestroyNotify)kp_public_key_free);
        replace_pointer((gpointer *)&into->observed_addr, (gpointer *)&from->observed_addr,
                        (GDestroyNotify)kp_multiaddr_free);
        into->n_bad_addrs += from->n_bad_addrs;
        if (from->listen_addrs != NULL) {
                if (into->listen_addrs == NULL)
                        into->listen_addrs
                            = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
                for (guint i = 0;
                     i < from->listen_addrs->len && into->listen_addrs->len < KP_IDENTIFY_MAX_ADDRS;
                     i++)
                        g_ptr_array_add(into->listen_addrs,
                                        kp_multiaddr_copy(from->listen_addrs->pdata[i]));
        }
        if (from->protocols != NULL) {
                g_autoptr(GStrvBuilder) b = g_strv_builder_new();
                guint n = 0;

                for (gsize i = 0; into->protocols != NULL && into->protocols[i] != NULL; i++, n++)
                        g_strv_builder_add(b, into->protocols[i]);
                for (gsize i = 0; from->protocols[i] != NULL && n < KP_IDENTIFY_MAX_PROTOCOLS;
                     i++, n++)
                        g_strv_builder_add(b, from->protocols[i]);
                g_strfreev(into->protocols);
                into->protocols = g_strv_builder_end(b);
        }
}

GBytes *
kp_identify_encode(const KpIdentifyInfo *info)
{
        Identify msg = IDENTIFY__INIT;
        g_autoptr(GBytes) key = NULL;
        g_autofree ProtobufCBinaryData *addrs = NULL;
        gsize len;
        guint8 *buf;

        msg.protocolversion = info->protocol_version;
        msg.agentversion = info->agent_version;
        if (info->public_key != NULL) {
                key = kp_public_key_to_protobuf(info->public_key);
                msg.has_publickey = TRUE;
                msg.publickey.data = (guint8 *)g_bytes_get_data(key, &msg.publickey.len);
        }
        if (info->listen_addrs != NULL) {
                addrs = g_new0(ProtobufCBinaryData, info->listen_addrs->len + 1);
                for (guint i = 0; i < info->listen_addrs->len; i++)
                        addrs[i].data = (guint8 *)kp_multiaddr_get_bytes(
                            info->listen_addrs->pdata[i], &addrs[i].len);
                msg.n_listenaddrs = info->listen_addrs->len;
                msg.listenaddrs = addrs;
        }
        if (info->observed_addr != NULL) {
                msg.has_observedaddr = TRUE;
                msg.observedaddr.data
                    = (guint8 *)kp_multiaddr_get_bytes(info->observed_addr, &msg.observedaddr.len);
        }
        if (info->protocols != NULL) {
                msg.n_protocols = g_strv_length(info->protocols);
                msg.protocols = info->protocols;
        }
        len = identify__get_packed_size(&msg);
        buf = g_malloc(len);
        identify__pack(&msg, buf);
        return g_bytes_new_take(buf, len);
}

static gboolean
check_string(const char *what, const char *s, GError **error)
{
        if (s == NULL)
                return TRUE;
        if (strlen(s) > KP_IDENTIFY_MAX_STRING || !g_utf8_validate(s, -1, NULL)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "identify: %s is not UTF-8 of at most %d bytes", what,
                            KP_IDENTIFY_MAX_STRING);
                return FALSE;
        }
        return TRUE;
}

KpIdentifyInfo *
kp_identify_decode(const guint8 *buf, gsize len, GError **error)
{
        g_autoptr(KpIdentifyInfo) info = kp_identify_info_new();
        Identify *msg;

        if (len > KP_IDENTIFY_MAX_MESSAGE) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "identify: message of %" G_GSIZE_FORMAT " bytes exceeds %d", len,
                            KP_IDENTIFY_MAX_MESSAGE);
                return NULL;
        }
        msg = identify__unpack(NULL, len, buf);
        if (msg == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "identify: malformed protobuf");
                return NULL;
        }
        if (msg->n_listenaddrs > KP_IDENTIFY_MAX_ADDRS
            || msg->n_protocols > KP_IDENTIFY_MAX_PROTOCOLS) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "identify: %zu addresses and %zu protocols exceed %d and %d",
                            msg->n_listenaddrs, msg->n_protocols, KP_IDENTIFY_MAX_ADDRS,
                            KP_IDENTIFY_MAX_PROTOCOLS);
                goto fail;
        }
        if (!check_string("protocolVersion", msg->protocolversion, error)
            || !check_string("agentVersion", msg->agentversion, error))
                goto fail;
        info->protocol_version = g_strdup(msg->protocolversion);
        info->agent_version = g_strdup(msg->agentversion);
        if (msg->has_publickey) {
                info->public_key
                    = kp_public_key_from_protobuf(msg->publickey.data, msg->publickey.len, error);
                if (info->public_key == NULL) {
                        g_prefix_error(error, "identify: publicKey: ");
                        goto fail;
                }
        }
        if (msg->n_listenaddrs > 0) {
                info->listen_addrs
                    = g_ptr_array_new_with_free_func((GDestroyNotify)kp_multiaddr_free);
                for (gsize i = 0; i < msg->n_listenaddrs; i++) {
                        /* Peers advertise transports kping does not speak:
                         * drop those, keep the rest. */
                        KpMultiaddr *ma = kp_multiaddr_new_from_bytes(
                            msg->listenaddrs[i].data, msg->listenaddrs[i].len, NULL);
                        if (ma != NULL)
                                g_ptr_array_add(info->listen_addrs, ma);
                        else
                                info->n_bad_addrs++;
                }
        }
        if (msg->has_observedaddr)
                info->observed_addr = kp_multiaddr_new_from_bytes(msg->observedaddr.data,
                                                                  msg->observedaddr.len, NULL);
        if (msg->n_protocols > 0) {
                info->protocols = g_new0(char *, msg->n_protocols + 1);
                for (gsize i = 0; i < msg->n_protocols; i++) {
                        if (!check_string("protocol", msg->protocols[i], error))
                                goto fail;
                        info->protocols[i] = g_strdup(msg->protocols[i]);
                }
        }
        identify__free_unpacked(msg, NULL);
        return g_steal_pointer(&info);
fail:
        identify__free_unpacked(msg, NULL);
        return NULL;
}
