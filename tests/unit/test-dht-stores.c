/* The record store (validation rule, expiry, republish, limits) and the
 * provider store. */
#include <string.h>

#include "core/kp-error.h"
#include "core/kp-kameo-registration.h"
#include "dht/kp-provider-store.h"
#include "dht/kp-record-store.h"
#include "kp-test-peers.h"
#include "kp-test-util.h"

static GBytes *
str_bytes(const char *s)
{
        return g_bytes_new(s, strlen(s));
}

static void
test_record_validate(void)
{
        KpPeerId alice, bob;
        g_autofree char *meta = NULL;
        g_autoptr(GBytes) reg = NULL;
        g_autofree guint8 *huge = g_malloc0(KP_RECORD_MAX_VALUE + 1);
        g_autoptr(GError) error = NULL;
        gsize rlen;
        const guint8 *r;

        kp_test_peer_id(1, &alice);
        kp_test_peer_id(2, &bob);
        meta = kp_kameo_meta_key("ping", &alice);
        reg = kp_kameo_registration_encode(7, &alice, "kping::PingActor");
        r = g_bytes_get_data(reg, &rlen);

        g_assert_true(
            kp_record_validate((const guint8 *)meta, strlen(meta), r, rlen, &alice, &error));
        g_assert_no_error(error);
        g_assert_true(kp_record_validate((const guint8 *)"/kping/x", 8, (const guint8 *)"v", 1,
                                         &bob, &error));
        g_assert_no_error(error);

        /* bob may not write alice's registration */
        g_assert_false(
            kp_record_validate((const guint8 *)meta, strlen(meta), r, rlen, &bob, &error));
        kp_test_assert_error(error, KP_ERROR_PERMISSION, "record key names peer 12D3KooW");
        g_clear_error(&error);
        g_assert_false(kp_record_validate((const guint8 *)meta, strlen(meta),
                                          (const guint8 *)"junk", 4, &alice, &error));
        kp_test_assert_error(error, KP_ERROR_INVALID, "record value: kameo registration");
        g_clear_error(&error);
        /* alice may not register an actor of bob's under her key either */
        {
                g_autoptr(GBytes) bobs = kp_kameo_registration_encode(7, &bob, "kping::PingActor");
                gsize blen;
                const guint8 *b = g_bytes_get_data(bobs, &blen);
                g_assert_false(kp_record_validate((const guint8 *)meta, strlen(meta), b, blen,
                                                  &alice, &error));
                kp_test_assert_error(error, KP_ERROR_PERMISSION, "registration under 12D3KooW");
                g_clear_error(&error);
        }
        g_assert_false(kp_record_validate((const guint8 *)"/pk/abc", 7, (const guint8 *)"v", 1,
                                          &alice, &error));
        kp_test_assert_error(error, KP_ERROR_UNSUPPORTED, "neither \"<name>:meta:<peer id>\"");
        g_clear_error(&error);
        /* the bare namespace is not a key in it */
        g_assert_false(kp_record_validate((const guint8 *)"/kping/", 7, (const guint8 *)"v", 1,
                                          &alice, &error));
        kp_test_assert_error(error, KP_ERROR_UNSUPPORTED, "under /kping/");
        g_clear_error(&error);
        g_assert_true(kp_record_validate((const guint8 *)"/kping/x", 8, huge, KP_RECORD_MAX_VALUE,
                                         &alice, NULL));
        g_assert_false(kp_record_validate((const guint8 *)"/kping/x", 8, huge,
                                          KP_RECORD_MAX_VALUE + 1, &alice, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "65537-byte value exceeds limits");
}

static void
test_record_expiry(void)
{
        KpPeerId self, bob;
        g_autoptr(KpRecordStore) store = NULL;
        g_autoptr(GBytes) k1 = str_bytes("/kping/a");
        g_autoptr(GBytes) k2 = str_bytes("/kping/b");
        g_autoptr(GBytes) k3 = str_bytes("/kping/c");
        g_autoptr(GBytes) v = str_bytes("value");
        g_autoptr(GBytes) v2 = str_bytes("newer");
        g_autoptr(GPtrArray) due = NULL;
        const KpStoredRecord *r;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(2, &bob);
        store = kp_record_store_new(&self);
        g_assert_true(kp_record_store_put(store, k1, v, &bob, 0, 1000, NULL));
        g_assert_true(kp_record_store_put(store, k2, v, &bob, 60 * 1000, 1000, NULL));
        g_assert_true(kp_record_store_put(store, k3, v, &self, 0, 1000, NULL));
        g_assert_cmpuint(kp_record_store_size(store), ==, 3);
        g_assert_cmpuint(kp_record_store_bytes(store), ==, 3 * (8 + 5));
        r = kp_record_store_get(store, (const guint8 *)"/kping/a", 8, 2000);
        g_assert_nonnull(r);
        g_assert_true(g_bytes_equal(r->value, v));
        g_assert_false(r->local);
        /* a shorter ttl asked by the sender is honoured */
        g_assert_nonnull(kp_record_store_get(store, (const guint8 *)"/kping/b", 8, 60999));
        g_assert_null(kp_record_store_get(store, (const guint8 *)"/kping/b", 8, 61000));
        g_assert_cmpuint(kp_record_store_expire(store, 61000), ==, 1);
        /* the default ttl, to the millisecond */
        g_assert_nonnull(
            kp_record_store_get(store, (const guint8 *)"/kping/a", 8, 1000 + KP_RECORD_TTL_MS - 1));
        g_assert_null(
            kp_record_store_get(store, (const guint8 *)"/kping/a", 8, 1000 + KP_RECORD_TTL_MS));
        /* our own records do not expire; they come up for republishing */
        g_assert_cmpuint(kp_record_store_expire(store, 1000 + KP_RECORD_TTL_MS), ==, 1);
        g_assert_nonnull(kp_record_store_get(store, (const guint8 *)"/kping/c", 8, G_MAXINT64 - 1));
        due = kp_record_store_take_due(store, 1000 + KP_RECORD_REPUBLISH_MS - 1);
        g_assert_cmpuint(due->len, ==, 0);
        g_clear_pointer(&due, g_ptr_array_unref);
        due = kp_record_store_take_due(store, 1000 + KP_RECORD_REPUBLISH_MS);
        g_assert_cmpuint(due->len, ==, 1);
        g_clear_pointer(&due, g_ptr_array_unref);
        due = kp_record_store_take_due(store, 1000 + KP_RECORD_REPUBLISH_MS);
        g_assert_cmpuint(due->len, ==, 0);
        /* a copy coming back from the network does not replace ours */
        g_assert_true(kp_record_store_put(store, k3, v2, &bob, 0, 5000, NULL));
        r = kp_record_store_get(store, (const guint8 *)"/kping/c", 8, 5000);
        g_assert_true(r->local);
        g_assert_true(g_bytes_equal(r->value, v));
        g_assert_cmpuint(kp_record_store_bytes(store), ==, 8 + 5);
        g_assert_true(kp_record_store_remove(store, (const guint8 *)"/kping/c", 8));
        g_assert_cmpuint(kp_record_store_bytes(store), ==, 0);
}

static void
test_record_limits(void)
{
        KpPeerId self, bob;
        g_autoptr(KpRecordStore) store = NULL;
        g_autoptr(GBytes) small = str_bytes("v");
        g_autoptr(GBytes) big
            = g_bytes_new_take(g_malloc0(KP_RECORD_MAX_VALUE), KP_RECORD_MAX_VALUE);
        g_autoptr(GError) error = NULL;
        guint n = 0;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(2, &bob);
        store = kp_record_store_new(&self);
        /* per peer */
        for (guint i = 0; i < KP_RECORD_STORE_MAX_PER_PEER; i++) {
                g_autofree char *k = g_strdup_printf("/kping/bob/%u", i);
                g_autoptr(GBytes) key = str_bytes(k);
                g_assert_true(kp_record_store_put(store, key, small, &bob, 0, 0, NULL));
        }
        {
                g_autoptr(GBytes) key = str_bytes("/kping/bob/one-more");
                g_autoptr(GBytes) again = str_bytes("/kping/bob/0");
                g_assert_false(kp_record_store_put(store, key, small, &bob, 0, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "64 records of this peer");
                g_clear_error(&error);
                /* replacing one of its own is fine */
                g_assert_true(kp_record_store_put(store, again, small, &bob, 0, 0, &error));
                g_assert_no_error(error);
        }
        /* total count: 64 peers of 64 records each fill it */
        for (guint p = 100; kp_record_store_size(store) < KP_RECORD_STORE_MAX_RECORDS; p++) {
                KpPeerId id;
                kp_test_peer_id(p, &id);
                for (guint i = 0; i < KP_RECORD_STORE_MAX_PER_PEER
                                  && kp_record_store_size(store) < KP_RECORD_STORE_MAX_RECORDS;
                     i++) {
                        g_autofree char *k = g_strdup_printf("/kping/%u/%u", p, i);
                        g_autoptr(GBytes) key = str_bytes(k);
                        g_assert_true(kp_record_store_put(store, key, small, &id, 0, 0, NULL));
                        n++;
                }
        }
        {
                g_autoptr(GBytes) key = str_bytes("/kping/overflow");
                g_assert_false(kp_record_store_put(store, key, small, &self, 0, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "holds 4096 records already");
                g_clear_error(&error);
        }
        /* total bytes: a fresh store of 64 KiB values from several peers */
        g_clear_pointer(&store, kp_record_store_free);
        store = kp_record_store_new(&self);
        for (guint i = 0;; i++) {
                KpPeerId id;
                g_autofree char *k = g_strdup_printf("/kping/big/%u", i);
                g_autoptr(GBytes) key = str_bytes(k);
                kp_test_peer_id(1000 + i / KP_RECORD_STORE_MAX_PER_PEER, &id);
                if (!kp_record_store_put(store, key, big, &id, 0, 0, &error))
                        break;
        }
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "would exceed 16777216 bytes");
        g_assert_cmpuint(kp_record_store_bytes(store), <=, KP_RECORD_STORE_MAX_BYTES);
        g_assert_cmpuint(kp_record_store_bytes(store) + KP_RECORD_MAX_VALUE + 16, >,
                         KP_RECORD_STORE_MAX_BYTES);
        g_assert_cmpuint(n, >, 0);
}

static void
test_providers(void)
{
        KpPeerId self, bob, carol;
        g_autoptr(KpProviderStore) store = NULL;
        g_autoptr(GBytes) key = str_bytes("ping");
        g_autoptr(KpKadPeer) pb = NULL;
        g_autoptr(KpKadPeer) pc = NULL;
        g_autoptr(KpKadPeer) me = NULL;
        g_autoptr(GPtrArray) got = NULL;
        g_autoptr(GPtrArray) due = NULL;
        g_autoptr(KpMultiaddr) ma = kp_multiaddr_new_from_string("/ip4/127.0.0.1/tcp/9", NULL);
        g_autoptr(GError) error = NULL;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(2, &bob);
        kp_test_peer_id(3, &carol);
        store = kp_provider_store_new(&self);
        pb = kp_kad_peer_new(&bob);
        kp_kad_peer_add_addr(pb, ma);
        pc = kp_kad_peer_new(&carol);
        me = kp_kad_peer_new(&self);
        g_assert_true(kp_provider_store_add(store, key, pb, 0, NULL));
        g_assert_true(kp_provider_store_add(store, key, pc, 1000, NULL));
        g_assert_true(kp_provider_store_add(store, key, me, 0, NULL));
        g_assert_true(kp_provider_store_add(store, key, pb, 2000, NULL)); /* refresh */
        g_assert_cmpuint(kp_provider_store_n_providers(store), ==, 3);
        got = kp_provider_store_get(store, (const guint8 *)"ping", 4, 3000);
        g_assert_cmpuint(got->len, ==, 3);
        g_assert_true(kp_peer_id_equal(&((KpKadPeer *)got->pdata[2])->id, &bob));
        g_assert_cmpuint(((KpKadPeer *)got->pdata[2])->addrs->len, ==, 1);
        g_clear_pointer(&got, g_ptr_array_unref);
        /* carol expires first, bob (refreshed) later, we never */
        got = kp_provider_store_get(store, (const guint8 *)"ping", 4, 1000 + KP_PROVIDER_TTL_MS);
        g_assert_cmpuint(got->len, ==, 2);
        g_assert_cmpuint(kp_provider_store_expire(store, 2000 + KP_PROVIDER_TTL_MS), ==, 2);
        g_assert_cmpuint(kp_provider_store_n_providers(store), ==, 1);
        g_assert_cmpuint(kp_provider_store_n_keys(store), ==, 1);
        due = kp_provider_store_take_due(store, KP_PROVIDER_REPUBLISH_MS);
        g_assert_cmpuint(due->len, ==, 1);
        g_assert_true(g_bytes_equal(due->pdata[0], key));
        g_clear_pointer(&due, g_ptr_array_unref);
        due = kp_provider_store_take_due(store, KP_PROVIDER_REPUBLISH_MS);
        g_assert_cmpuint(due->len, ==, 0);
        /* limits: providers per key */
        for (guint i = 0; i < KP_PROVIDER_STORE_MAX_PER_KEY - 1; i++) {
                KpPeerId id;
                g_autoptr(KpKadPeer) p = NULL;
                kp_test_peer_id(100 + i, &id);
                p = kp_kad_peer_new(&id);
                g_assert_true(kp_provider_store_add(store, key, p, 0, NULL));
        }
        g_assert_false(kp_provider_store_add(store, key, pb, 0, &error));
        kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "64 providers of this key");
        g_clear_error(&error);
        /* keys per peer */
        for (guint i = 0; i < KP_PROVIDER_STORE_MAX_PER_PEER; i++) {
                g_autofree char *k = g_strdup_printf("key-%u", i);
                g_autoptr(GBytes) kb = str_bytes(k);
                g_assert_true(kp_provider_store_add(store, kb, pc, 0, NULL));
        }
        {
                g_autoptr(GBytes) kb = str_bytes("one-more");
                g_autoptr(GBytes) huge
                    = g_bytes_new_take(g_malloc0(KP_PROVIDER_MAX_KEY + 1), KP_PROVIDER_MAX_KEY + 1);
                g_assert_false(kp_provider_store_add(store, kb, pc, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "256 keys of this peer");
                g_clear_error(&error);
                g_assert_false(kp_provider_store_add(store, huge, pb, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "key of 1025 bytes");
        }
}

/* Configured limits, at the boundary: exactly the limit is stored, one
 * more refused with the limit's name; our own records are not per peer. */
static void
test_record_limits_configured(void)
{
        KpPeerId self, bob, carol;
        g_autoptr(KpRecordStore) store = NULL;
        g_autoptr(GBytes) v = str_bytes("v");
        g_autoptr(GError) error = NULL;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(2, &bob);
        kp_test_peer_id(3, &carol);
        store = kp_record_store_new(&self);
        kp_record_store_set_limits(store, 3, 2);
        for (guint i = 0; i < 2; i++) {
                g_autofree char *k = g_strdup_printf("/kping/bob/%u", i);
                g_autoptr(GBytes) key = str_bytes(k);
                g_assert_true(kp_record_store_put(store, key, v, &bob, 0, 0, &error));
                g_assert_no_error(error);
        }
        {
                g_autoptr(GBytes) key = str_bytes("/kping/bob/2");
                g_autoptr(GBytes) c1 = str_bytes("/kping/carol/1");
                g_autoptr(GBytes) c2 = str_bytes("/kping/carol/2");
                g_autoptr(GBytes) mine = str_bytes("/kping/self/1");
                g_assert_false(kp_record_store_put(store, key, v, &bob, 0, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                                     "2 records of this peer already (MaxDhtRecordsPerPeer)");
                g_clear_error(&error);
                g_assert_true(kp_record_store_put(store, c1, v, &carol, 0, 0, &error));
                g_assert_no_error(error);
                g_assert_false(kp_record_store_put(store, c2, v, &carol, 0, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                                     "holds 3 records already (MaxDhtRecords)");
                g_clear_error(&error);
                g_assert_false(kp_record_store_put(store, mine, v, &self, 0, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE, "(MaxDhtRecords)");
                g_clear_error(&error);
        }
        g_assert_cmpuint(kp_record_store_size(store), ==, 3);
        /* the bounds themselves are accepted */
        kp_record_store_set_limits(store, KP_RECORD_STORE_LIMIT_MAX, KP_RECORD_STORE_LIMIT_MIN);
        kp_record_store_set_limits(store, KP_RECORD_STORE_LIMIT_MIN, KP_RECORD_STORE_LIMIT_MAX);
}

static void
test_provider_limits_configured(void)
{
        KpPeerId self, bob, carol;
        g_autoptr(KpProviderStore) store = NULL;
        g_autoptr(KpKadPeer) pb = NULL;
        g_autoptr(KpKadPeer) pc = NULL;
        g_autoptr(GError) error = NULL;

        kp_test_peer_id(0, &self);
        kp_test_peer_id(2, &bob);
        kp_test_peer_id(3, &carol);
        pb = kp_kad_peer_new(&bob);
        pc = kp_kad_peer_new(&carol);
        store = kp_provider_store_new(&self);
        kp_provider_store_set_limits(store, 3, 2);
        for (guint i = 0; i < 2; i++) {
                g_autofree char *k = g_strdup_printf("key-%u", i);
                g_autoptr(GBytes) kb = str_bytes(k);
                g_assert_true(kp_provider_store_add(store, kb, pb, 0, &error));
                g_assert_no_error(error);
        }
        {
                g_autoptr(GBytes) k2 = str_bytes("key-2");
                g_autoptr(GBytes) k3 = str_bytes("key-3");
                g_assert_false(kp_provider_store_add(store, k2, pb, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                                     "2 keys of this peer already (MaxDhtProvidersPerPeer)");
                g_clear_error(&error);
                g_assert_true(kp_provider_store_add(store, k2, pc, 0, &error));
                g_assert_no_error(error);
                g_assert_false(kp_provider_store_add(store, k3, pc, 0, &error));
                kp_test_assert_error(error, KP_ERROR_TOO_LARGE,
                                     "holds 3 providers already (MaxDhtProviders)");
                g_clear_error(&error);
        }
        g_assert_cmpuint(kp_provider_store_n_providers(store), ==, 3);
        kp_provider_store_set_limits(store, KP_PROVIDER_STORE_LIMIT_MAX,
                                     KP_PROVIDER_STORE_LIMIT_MIN);
        kp_provider_store_set_limits(store, KP_PROVIDER_STORE_LIMIT_MIN,
                                     KP_PROVIDER_STORE_LIMIT_MAX);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
        g_test_add_func("/record-store/validate", test_record_validate);
        g_test_add_func("/record-store/expiry", test_record_expiry);
        g_test_add_func("/record-store/limits", test_record_limits);
        g_test_add_func("/record-store/limits-configured", test_record_limits_configured);
        g_test_add_func("/provider-store/providers", test_providers);
        g_test_add_func("/provider-store/limits-configured", test_provider_limits_configured);
        return g_test_run();
}
