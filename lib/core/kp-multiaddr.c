#include "core/kp-multiaddr.h"

#include <arpa/inet.h>
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-multibase.h"
#include "core/kp-varint.h"

/* Value sizes in the binary form: a fixed number of bytes, or a varint
 * length prefix. */
#define SIZE_VARIABLE (-1)

typedef struct {
        guint64 code;
        const char *name;
        gint size;
} Protocol;

static const Protocol protocols[] = {
        { KP_MULTIADDR_PROTO_IP4, "ip4", 4 },
        { KP_MULTIADDR_PROTO_TCP, "tcp", 2 },
        { KP_MULTIADDR_PROTO_IP6, "ip6", 16 },
        { KP_MULTIADDR_PROTO_DNS, "dns", SIZE_VARIABLE },
        { KP_MULTIADDR_PROTO_DNS4, "dns4", SIZE_VARIABLE },
        { KP_MULTIADDR_PROTO_DNS6, "dns6", SIZE_VARIABLE },
        { KP_MULTIADDR_PROTO_DNSADDR, "dnsaddr", SIZE_VARIABLE },
        { KP_MULTIADDR_PROTO_UDP, "udp", 2 },
        { KP_MULTIADDR_PROTO_P2P, "p2p", SIZE_VARIABLE },
        { KP_MULTIADDR_PROTO_QUIC, "quic", 0 },
        { KP_MULTIADDR_PROTO_QUIC_V1, "quic-v1", 0 },
};

typedef struct {
        guint64 code;
        gsize offset; /* of the value, after any length prefix */
        gsize len;
} Component;

struct _KpMultiaddr {
        guint8 *bytes;
        gsize len;
        guint n_components;
        Component components[KP_MULTIADDR_MAX_COMPONENTS];
};

static const Protocol *
protocol_by_code(guint64 code)
{
        for (gsize i = 0; i < G_N_ELEMENTS(protocols); i++) {
                if (protocols[i].code == code)
                        return &protocols[i];
        }
        return NULL;
}

static const Protocol *
protocol_by_name(const char *name, gsize len)
{
        /* The protocol table keeps "ipfs" as an alias of p2p; it is only
         * ever printed as "p2p". */
        if (len == 4 && memcmp(name, "ipfs", 4) == 0)
                return protocol_by_code(KP_MULTIADDR_PROTO_P2P);
        for (gsize i = 0; i < G_N_ELEMENTS(protocols); i++) {
                if (strlen(protocols[i].name) == len && memcmp(protocols[i].name, name, len) == 0)
                        return &protocols[i];
        }
        return NULL;
}

const char *
kp_multiaddr_protocol_name(guint64 code)
{
        const Protocol *p = protocol_by_code(code);

        return p != NULL ? p->name : NULL;
}

static gboolean
is_dns(guint64 code)
{
        return code == KP_MULTIADDR_PROTO_DNS || code == KP_MULTIADDR_PROTO_DNS4
               || code == KP_MULTIADDR_PROTO_DNS6 || code == KP_MULTIADDR_PROTO_DNSADDR;
}

/* Checks a value of a variable-size protocol, as found in the binary form. */
static gboolean
validate_variable_value(const Protocol *proto, const guint8 *value, gsize len, GError **error)
{
        if (is_dns(proto->code)) {
                if (len == 0) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty %s name",
                                    proto->name);
                        return FALSE;
                }
                if (len > KP_MULTIADDR_MAX_DNS_NAME) {
                        g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                                    "%s name of %" G_GSIZE_FORMAT " bytes exceeds %d", proto->name,
                                    len, KP_MULTIADDR_MAX_DNS_NAME);
                        return FALSE;
                }
                /* With an explicit length g_utf8_validate_len() also refuses
                 * NUL, which the text form could not carry. */
                if (!g_utf8_validate_len((const char *)value, len, NULL)) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "%s name is not valid UTF-8",
                                    proto->name);
                        return FALSE;
                }
                if (memchr(value, '/', len) != NULL) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "%s name contains '/'",
                                    proto->name);
                        return FALSE;
                }
                return TRUE;
        }
        if (proto->code == KP_MULTIADDR_PROTO_P2P) {
                KpPeerId id;

                if (!kp_peer_id_from_bytes(value, len, &id, error)) {
                        g_prefix_error(error, "p2p value: ");
                        return FALSE;
                }
                return TRUE;
        }
        g_assert_not_reached();
}

/* Fills @components from @buf; messages carry no "invalid multiaddr" prefix. */
static gboolean
parse_bytes(const guint8 *buf, gsize len, Component *components, guint *ret_n, GError **error)
{
        gsize pos = 0;
        guint n = 0;

        if (len == 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty multiaddr");
                return FALSE;
        }
        if (len > KP_MULTIADDR_MAX_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "%" G_GSIZE_FORMAT " bytes exceed %d", len, KP_MULTIADDR_MAX_BYTES);
                return FALSE;
        }
        while (pos < len) {
                const Protocol *proto;
                guint64 code, value_len;

                if (n == KP_MULTIADDR_MAX_COMPONENTS) {
                        g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "more than %d components",
                                    KP_MULTIADDR_MAX_COMPONENTS);
                        return FALSE;
                }
                if (!kp_varint_read(buf, len, &pos, &code, error)) {
                        g_prefix_error(error, "protocol code at offset %" G_GSIZE_FORMAT ": ", pos);
                        return FALSE;
                }
                proto = protocol_by_code(code);
                if (proto == NULL) {
                        g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                                    "unknown protocol code 0x%" G_GINT64_MODIFIER "x", code);
                        return FALSE;
                }
                if (proto->size == SIZE_VARIABLE) {
                        if (!kp_varint_read(buf, len, &pos, &value_len, error)) {
                                g_prefix_error(error, "length of %s value: ", proto->name);
                                return FALSE;
                        }
                } else {
                        value_len = (guint64)proto->size;
                }
                if (value_len > len - pos) {
                        g_set_error(error, KP_ERROR, KP_ERROR_TRUNCATED,
                                    "truncated value of %s (%" G_GUINT64_FORMAT
                                    " bytes needed, %" G_GSIZE_FORMAT " left)",
                                    proto->name, value_len, len - pos);
                        return FALSE;
                }
                if (proto->size == SIZE_VARIABLE
                    && !validate_variable_value(proto, buf + pos, (gsize)value_len, error))
                        return FALSE;
                components[n].code = code;
                components[n].offset = pos;
                components[n].len = (gsize)value_len;
                n++;
                pos += (gsize)value_len;
        }
        *ret_n = n;
        return TRUE;
}

static KpMultiaddr *
multiaddr_new_take(guint8 *bytes, gsize len, GError **error)
{
        g_autofree guint8 *owned = bytes;
        KpMultiaddr *ma = g_new0(KpMultiaddr, 1);

        if (!parse_bytes(owned, len, ma->components, &ma->n_components, error)) {
                g_free(ma);
                return NULL;
        }
        ma->bytes = g_steal_pointer(&owned);
        ma->len = len;
        return ma;
}

KpMultiaddr *
kp_multiaddr_new_from_bytes(const guint8 *buf, gsize len, GError **error)
{
        KpMultiaddr *ma;

        g_return_val_if_fail(buf != NULL || len == 0, NULL);
        ma = multiaddr_new_take(g_memdup2(buf, len), len, error);
        if (ma == NULL)
                g_prefix_error(error, "invalid multiaddr bytes: ");
        return ma;
}

/* Input echoed in a message: escaped, so that the message stays printable
 * UTF-8 whatever the input was, and cut short, so that hostile input cannot
 * flood a log line. */
#define QUOTE_MAX 128

static char *
quote_value(const char *value)
{
        g_autofree char *head = NULL;
        g_autofree char *escaped = NULL;

        if (strlen(value) <= QUOTE_MAX)
                return g_strescape(value, NULL);
        head = g_strndup(value, QUOTE_MAX);
        escaped = g_strescape(head, NULL);
        return g_strconcat(escaped, "...", NULL);
}

static gboolean
parse_port(const char *value, guint8 out[2], GError **error)
{
        guint32 port = 0;
        gboolean too_large = FALSE;

        for (const char *p = value; *p != '\0'; p++) {
                if (!g_ascii_isdigit(*p)) {
                        g_autofree char *quoted = quote_value(value);
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "port \"%s\" is not valid",
                                    quoted);
                        return FALSE;
                }
                /* Keep reading after an overflow so that "99999x" is
                 * reported as not a number rather than out of range. */
                port = port * 10 + (guint32)(*p - '0');
                if (port > G_MAXUINT16) {
                        too_large = TRUE;
                        port = G_MAXUINT16 + 1;
                }
        }
        if (too_large) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "port %s out of range", value);
                return FALSE;
        }
        out[0] = (guint8)(port >> 8);
        out[1] = (guint8)port;
        return TRUE;
}

/* Appends the binary value (with its length prefix) of @proto given as @value
 * in text form. Messages carry no "invalid multiaddr" prefix. */
static gboolean
append_text_value(GByteArray *out, const Protocol *proto, const char *value, GError **error)
{
        guint8 addr[16];
        gsize len;

        if (value[0] == '\0') {
                if (is_dns(proto->code))
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty %s name",
                                    proto->name);
                else
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "missing value for %s",
                                    proto->name);
                return FALSE;
        }
        switch (proto->code) {
        case KP_MULTIADDR_PROTO_IP4:
        case KP_MULTIADDR_PROTO_IP6:
                if (inet_pton(proto->code == KP_MULTIADDR_PROTO_IP4 ? AF_INET : AF_INET6, value,
                              addr)
                    != 1) {
                        g_autofree char *quoted = quote_value(value);
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                    "%s address \"%s\" is not valid", proto->name, quoted);
                        return FALSE;
                }
                g_byte_array_append(out, addr, (guint)proto->size);
                return TRUE;
        case KP_MULTIADDR_PROTO_TCP:
        case KP_MULTIADDR_PROTO_UDP:
                if (!parse_port(value, addr, error))
                        return FALSE;
                g_byte_array_append(out, addr, 2);
                return TRUE;
        case KP_MULTIADDR_PROTO_P2P: {
                KpPeerId id;

                if (!kp_peer_id_parse(value, &id, error)) {
                        g_autofree char *quoted = quote_value(value);
                        g_prefix_error(error, "p2p value \"%s\": ", quoted);
                        return FALSE;
                }
                kp_varint_append(out, id.len);
                g_byte_array_append(out, id.bytes, id.len);
                return TRUE;
        }
        default:
                break;
        }
        g_assert(is_dns(proto->code));
        len = strlen(value);
        if (!validate_variable_value(proto, (const guint8 *)value, len, error))
                return FALSE;
        kp_varint_append(out, len);
        g_byte_array_append(out, (const guint8 *)value, (guint)len);
        return TRUE;
}

static gboolean
append_text_component(GByteArray *out, guint *n, const Protocol *proto, const char *value,
                      GError **error)
{
        if (*n == KP_MULTIADDR_MAX_COMPONENTS) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "more than %d components",
                            KP_MULTIADDR_MAX_COMPONENTS);
                return FALSE;
        }
        kp_varint_append(out, proto->code);
        if (proto->size != 0 && !append_text_value(out, proto, value, error))
                return FALSE;
        (*n)++;
        if (out->len > KP_MULTIADDR_MAX_BYTES) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE, "binary form exceeds %d bytes",
                            KP_MULTIADDR_MAX_BYTES);
                return FALSE;
        }
        return TRUE;
}

static GByteArray *
parse_text(const char *text, GError **error)
{
        g_autoptr(GByteArray) out = g_byte_array_new();
        gsize len = strlen(text);
        const char *p, *end;
        guint n = 0;

        if (text[0] != '/') {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "must start with \"/\"");
                return NULL;
        }
        /* One trailing '/' is tolerated, as go- and js-multiaddr do. */
        end = text + len;
        if (len > 1 && end[-1] == '/')
                end--;
        p = text + 1;
        if (p >= end) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty multiaddr");
                return NULL;
        }
        while (p < end) {
                const char *name_end = memchr(p, '/', (gsize)(end - p));
                const Protocol *proto;
                g_autofree char *value = NULL;

                if (name_end == NULL)
                        name_end = end;
                if (name_end == p) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty protocol name");
                        return NULL;
                }
                proto = protocol_by_name(p, (gsize)(name_end - p));
                if (proto == NULL) {
                        g_autofree char *name = g_strndup(p, (gsize)(name_end - p));
                        g_autofree char *quoted = quote_value(name);
                        g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                                    "unknown protocol \"%s\"", quoted);
                        return NULL;
                }
                p = name_end < end ? name_end + 1 : end;
                if (proto->size != 0) {
                        const char *value_end;

                        if (name_end == end) {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "missing value for %s", proto->name);
                                return NULL;
                        }
                        value_end = memchr(p, '/', (gsize)(end - p));
                        if (value_end == NULL)
                                value_end = end;
                        value = g_strndup(p, (gsize)(value_end - p));
                        p = value_end < end ? value_end + 1 : end;
                        /* "/tcp/1//" is "/tcp/1/" once the tolerated slash
                         * is gone: a separator, then an empty name. */
                        if (value_end < end && p == end) {
                                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                                            "empty protocol name");
                                return NULL;
                        }
                } else if (name_end < end && p == end) {
                        g_set_error(error, KP_ERROR, KP_ERROR_INVALID, "empty protocol name");
                        return NULL;
                }
                if (!append_text_component(out, &n, proto, value, error))
                        return NULL;
        }
        return g_steal_pointer(&out);
}

static void
prefix_text_error(GError **error, const char *text)
{
        g_autofree char *shown = NULL;

        if (error == NULL || *error == NULL)
                return;
        shown = quote_value(text);
        g_prefix_error(error, "invalid multiaddr \"%s\": ", shown);
}

KpMultiaddr *
kp_multiaddr_new_from_string(const char *text, GError **error)
{
        g_autoptr(GByteArray) bytes = NULL;
        gsize len;
        KpMultiaddr *ma;

        g_return_val_if_fail(text != NULL, NULL);
        len = strlen(text);
        if (len > KP_MULTIADDR_MAX_TEXT) {
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "text of %" G_GSIZE_FORMAT " bytes exceeds %d", len,
                            KP_MULTIADDR_MAX_TEXT);
                prefix_text_error(error, text);
                return NULL;
        }
        bytes = parse_text(text, error);
        if (bytes == NULL) {
                prefix_text_error(error, text);
                return NULL;
        }
        len = bytes->len;
        ma = multiaddr_new_take(g_byte_array_steal(g_steal_pointer(&bytes), NULL), len, error);
        if (ma == NULL)
                prefix_text_error(error, text);
        return ma;
}

KpMultiaddr *
kp_multiaddr_new_tcp(KpMultiaddrHostKind kind, const char *host, guint16 port, GError **error)
{
        g_autoptr(GByteArray) out = g_byte_array_new();
        const Protocol *host_proto = protocol_by_code((guint64)kind);
        guint8 port_be[2] = { (guint8)(port >> 8), (guint8)port };
        gsize len;
        KpMultiaddr *ma;

        g_return_val_if_fail(host != NULL, NULL);
        g_return_val_if_fail(host_proto != NULL && host_proto->size != 0, NULL);
        if (strchr(host, '/') != NULL) {
                g_autofree char *quoted = quote_value(host);
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "invalid multiaddr host \"%s\": contains '/'", quoted);
                return NULL;
        }
        kp_varint_append(out, host_proto->code);
        if (!append_text_value(out, host_proto, host, error)) {
                g_prefix_error(error, "invalid multiaddr host: ");
                return NULL;
        }
        kp_varint_append(out, KP_MULTIADDR_PROTO_TCP);
        g_byte_array_append(out, port_be, 2);
        len = out->len;
        ma = multiaddr_new_take(g_byte_array_steal(g_steal_pointer(&out), NULL), len, error);
        if (ma == NULL)
                g_prefix_error(error, "invalid multiaddr bytes: ");
        return ma;
}

KpMultiaddr *
kp_multiaddr_copy(const KpMultiaddr *ma)
{
        KpMultiaddr *copy;

        g_return_val_if_fail(ma != NULL, NULL);
        copy = g_memdup2(ma, sizeof *ma);
        copy->bytes = g_memdup2(ma->bytes, ma->len);
        return copy;
}

void
kp_multiaddr_free(KpMultiaddr *ma)
{
        if (ma == NULL)
                return;
        g_free(ma->bytes);
        g_free(ma);
}

static void
append_component_text(GString *s, const KpMultiaddr *ma, const Component *c)
{
        const Protocol *proto = protocol_by_code(c->code);
        const guint8 *value = ma->bytes + c->offset;
        char addr[INET6_ADDRSTRLEN];

        g_string_append_c(s, '/');
        g_string_append(s, proto->name);
        switch (c->code) {
        case KP_MULTIADDR_PROTO_IP4:
        case KP_MULTIADDR_PROTO_IP6:
                if (inet_ntop(c->code == KP_MULTIADDR_PROTO_IP4 ? AF_INET : AF_INET6, value, addr,
                              sizeof addr)
                    == NULL)
                        g_assert_not_reached();
                g_string_append_printf(s, "/%s", addr);
                break;
        case KP_MULTIADDR_PROTO_TCP:
        case KP_MULTIADDR_PROTO_UDP:
                g_string_append_printf(s, "/%u", ((guint)value[0] << 8) | value[1]);
                break;
        case KP_MULTIADDR_PROTO_P2P: {
                g_autofree char *id = kp_base58btc_encode(value, c->len);
                g_string_append_printf(s, "/%s", id);
                break;
        }
        case KP_MULTIADDR_PROTO_QUIC:
        case KP_MULTIADDR_PROTO_QUIC_V1:
                break;
        default:
                g_assert(is_dns(c->code));
                g_string_append_c(s, '/');
                g_string_append_len(s, (const char *)value, (gssize)c->len);
                break;
        }
}

char *
kp_multiaddr_to_string(const KpMultiaddr *ma)
{
        GString *s;

        g_return_val_if_fail(ma != NULL, NULL);
        s = g_string_new(NULL);
        for (guint i = 0; i < ma->n_components; i++)
                append_component_text(s, ma, &ma->components[i]);
        return g_string_free(s, FALSE);
}

const guint8 *
kp_multiaddr_get_bytes(const KpMultiaddr *ma, gsize *ret_len)
{
        g_return_val_if_fail(ma != NULL, NULL);
        if (ret_len != NULL)
                *ret_len = ma->len;
        return ma->bytes;
}

gboolean
kp_multiaddr_equal(const KpMultiaddr *a, const KpMultiaddr *b)
{
        g_return_val_if_fail(a != NULL && b != NULL, FALSE);
        return a->len == b->len && memcmp(a->bytes, b->bytes, a->len) == 0;
}

guint
kp_multiaddr_hash(const KpMultiaddr *ma)
{
        guint h = 5381;

        g_return_val_if_fail(ma != NULL, 0);
        for (gsize i = 0; i < ma->len; i++)
                h = h * 33 + ma->bytes[i];
        return h;
}

guint
kp_multiaddr_get_n_components(const KpMultiaddr *ma)
{
        g_return_val_if_fail(ma != NULL, 0);
        return ma->n_components;
}

void
kp_multiaddr_get_component(const KpMultiaddr *ma, guint i, guint64 *ret_code,
                           const guint8 **ret_value, gsize *ret_value_len)
{
        const Component *c;

        g_return_if_fail(ma != NULL);
        g_return_if_fail(i < ma->n_components);
        c = &ma->components[i];
        if (ret_code != NULL)
                *ret_code = c->code;
        if (ret_value != NULL)
                *ret_value = ma->bytes + c->offset;
        if (ret_value_len != NULL)
                *ret_value_len = c->len;
}

static const Component *
trailing_p2p(const KpMultiaddr *ma)
{
        const Component *last = &ma->components[ma->n_components - 1];

        return last->code == KP_MULTIADDR_PROTO_P2P ? last : NULL;
}

gboolean
kp_multiaddr_get_peer_id(const KpMultiaddr *ma, KpPeerId *ret_id, GError **error)
{
        const Component *c;

        g_return_val_if_fail(ma != NULL, FALSE);
        c = trailing_p2p(ma);
        if (c == NULL) {
                g_set_error(error, KP_ERROR, KP_ERROR_NOT_FOUND,
                            "multiaddr has no trailing /p2p component");
                return FALSE;
        }
        /* Parsing bounded the value to KP_PEER_ID_MAX_BYTES. */
        if (ret_id != NULL) {
                memset(ret_id, 0, sizeof *ret_id);
                ret_id->len = (guint8)c->len;
                memcpy(ret_id->bytes, ma->bytes + c->offset, c->len);
        }
        return TRUE;
}

gboolean
kp_multiaddr_get_tcp_endpoint(const KpMultiaddr *ma, char **ret_host, guint16 *ret_port,
                              KpMultiaddrHostKind *ret_kind, GError **error)
{
        const Component *host, *tcp;
        const guint8 *value;
        char addr[INET6_ADDRSTRLEN];
        guint n;

        g_return_val_if_fail(ma != NULL, FALSE);
        n = ma->n_components;
        if (trailing_p2p(ma) != NULL)
                n--;
        host = &ma->components[0];
        tcp = &ma->components[1];
        if (n != 2 || tcp->code != KP_MULTIADDR_PROTO_TCP
            || (host->code != KP_MULTIADDR_PROTO_IP4 && host->code != KP_MULTIADDR_PROTO_IP6
                && host->code != KP_MULTIADDR_PROTO_DNS && host->code != KP_MULTIADDR_PROTO_DNS4
                && host->code != KP_MULTIADDR_PROTO_DNS6)) {
                g_autofree char *text = kp_multiaddr_to_string(ma);
                g_set_error(error, KP_ERROR, KP_ERROR_UNSUPPORTED,
                            "multiaddr \"%s\" is not a TCP address "
                            "(/ip4, /ip6, /dns, /dns4 or /dns6, then /tcp, then optionally /p2p)",
                            text);
                return FALSE;
        }
        value = ma->bytes + host->offset;
        if (ret_host != NULL) {
                if (host->code == KP_MULTIADDR_PROTO_IP4 || host->code == KP_MULTIADDR_PROTO_IP6) {
                        if (inet_ntop(host->code == KP_MULTIADDR_PROTO_IP4 ? AF_INET : AF_INET6,
                                      value, addr, sizeof addr)
                            == NULL)
                                g_assert_not_reached();
                        *ret_host = g_strdup(addr);
                } else {
                        *ret_host = g_strndup((const char *)value, host->len);
                }
        }
        if (ret_port != NULL) {
                value = ma->bytes + tcp->offset;
                *ret_port = (guint16)(((guint)value[0] << 8) | value[1]);
        }
        if (ret_kind != NULL)
                *ret_kind = (KpMultiaddrHostKind)host->code;
        return TRUE;
}

KpMultiaddr *
kp_multiaddr_encapsulate_p2p(const KpMultiaddr *ma, const KpPeerId *id, GError **error)
{
        g_autoptr(GByteArray) out = NULL;
        const Component *c;
        gsize len;
        KpMultiaddr *result;

        g_return_val_if_fail(ma != NULL, NULL);
        g_return_val_if_fail(id != NULL, NULL);
        c = trailing_p2p(ma);
        if (c != NULL) {
                if (c->len == id->len && memcmp(ma->bytes + c->offset, id->bytes, c->len) == 0)
                        return kp_multiaddr_copy(ma);
                g_set_error(error, KP_ERROR, KP_ERROR_PEER_ID_MISMATCH,
                            "multiaddr already ends in another /p2p peer id");
                return NULL;
        }
        out = g_byte_array_sized_new((guint)(ma->len + 3 + id->len));
        g_byte_array_append(out, ma->bytes, (guint)ma->len);
        kp_varint_append(out, KP_MULTIADDR_PROTO_P2P);
        kp_varint_append(out, id->len);
        g_byte_array_append(out, id->bytes, MIN(id->len, KP_PEER_ID_MAX_BYTES));
        len = out->len;
        result = multiaddr_new_take(g_byte_array_steal(g_steal_pointer(&out), NULL), len, error);
        if (result == NULL)
                g_prefix_error(error, "cannot append /p2p: ");
        return result;
}

KpMultiaddr *
kp_multiaddr_without_p2p(const KpMultiaddr *ma)
{
        const Component *c;
        gsize len;

        g_return_val_if_fail(ma != NULL, NULL);
        c = trailing_p2p(ma);
        if (c == NULL)
                return kp_multiaddr_copy(ma);
        if (ma->n_components == 1)
                return NULL;
        /* The component starts where the previous value ends. */
        len = ma->components[ma->n_components - 2].offset
              + ma->components[ma->n_components - 2].len;
        return multiaddr_new_take(g_memdup2(ma->bytes, len), len, NULL);
}
