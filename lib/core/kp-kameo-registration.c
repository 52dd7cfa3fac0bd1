#include "core/kp-kameo-registration.h"

#include <string.h>

#include "core/kp-error.h"

void
kp_kameo_registration_free(KpKameoRegistration *reg)
{
        if (reg == NULL)
                return;
        g_free(reg->remote_id);
        g_free(reg);
}

GBytes *
kp_kameo_registration_encode(guint64 actor_seq, const KpPeerId *peer_id, const char *remote_id)
{
        GByteArray *out = g_byte_array_new();
        guint8 seq[8];

        for (guint i = 0; i < 8; i++)
                seq[i] = (guint8)(actor_seq >> (8 * i));
        g_byte_array_append(out, &peer_id->len, 1);
        g_byte_array_append(out, seq, sizeof seq);
        g_byte_array_append(out, peer_id->bytes, peer_id->len);
        g_byte_array_append(out, (const guint8 *)remote_id, strlen(remote_id));
        return g_byte_array_free_to_bytes(out);
}

KpKameoRegistration *
kp_kameo_registration_decode(const guint8 *buf, gsize len, GError **error)
{
        g_autoptr(KpKameoRegistration) reg = g_new0(KpKameoRegistration, 1);
        g_autoptr(GError) local = NULL;
        gsize id_len, rest;

        if (len > KP_KAMEO_REGISTRATION_MAX) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "kameo registration: %" G_GSIZE_FORMAT " bytes exceed limit %d", len,
                            KP_KAMEO_REGISTRATION_MAX);
                return NULL;
        }
        if (len < 9) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                            "kameo registration: %" G_GSIZE_FORMAT " bytes, need at least 9", len);
                return NULL;
        }
        id_len = buf[0];
        for (guint i = 0; i < 8; i++)
                reg->actor_seq |= (guint64)buf[1 + i] << (8 * i);
        if (len - 9 < id_len) {
                g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                            "kameo registration: peer id of %" G_GSIZE_FORMAT
                            " bytes runs past the end",
                            id_len);
                return NULL;
        }
        if (!kp_peer_id_from_bytes(buf + 9, id_len, &reg->peer_id, &local)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo registration: bad peer id: %s", local->message);
                return NULL;
        }
        rest = len - 9 - id_len;
        if (!g_utf8_validate((const char *)buf + 9 + id_len, rest, NULL)
            || memchr(buf + 9 + id_len, 0, rest) != NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "kameo registration: remote_id is not UTF-8");
                return NULL;
        }
        reg->remote_id = g_strndup((const char *)buf + 9 + id_len, rest);
        return g_steal_pointer(&reg);
}

char *
kp_kameo_meta_key(const char *name, const KpPeerId *peer_id)
{
        g_autofree char *peer = kp_peer_id_to_string(peer_id);

        return g_strconcat(name, KP_KAMEO_META_INFIX, peer, NULL);
}

gboolean
kp_kameo_meta_key_parse(const guint8 *key, gsize len, char **ret_name, KpPeerId *ret_peer_id)
{
        const gsize infix = strlen(KP_KAMEO_META_INFIX);
        g_autofree char *peer = NULL;
        KpPeerId id;

        if (memchr(key, 0, len) != NULL)
                return FALSE;
        /* The peer id has no ':' in it, so the last infix is the separator. */
        for (gsize i = len >= infix ? len - infix + 1 : 0; i-- > 1;) {
                if (memcmp(key + i, KP_KAMEO_META_INFIX, infix) != 0)
                        continue;
                peer = g_strndup((const char *)key + i + infix, len - i - infix);
                if (!kp_peer_id_parse(peer, &id, NULL))
                        return FALSE;
                if (!g_utf8_validate((const char *)key, i, NULL))
                        return FALSE;
                if (ret_name != NULL)
                        *ret_name = g_strndup((const char *)key, i);
                if (ret_peer_id != NULL)
                        *ret_peer_id = id;
                return TRUE;
        }
        return FALSE;
}
