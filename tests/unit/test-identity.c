/* Node identity storage in a state dir. */
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/kp-error.h"
#include "core/kp-peer-id.h"
#include "net/kp-identity.h"

#include "kp-test-util.h"

typedef struct {
        char *root;      /* from g_dir_make_tmp, removed afterwards */
        char *state_dir; /* root/state, not created yet */
        char *key_path;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
        g_autoptr(GError) error = NULL;

        f->root = g_dir_make_tmp("kp-identity-XXXXXX", &error);
        g_assert_no_error(error);
        f->state_dir = g_build_filename(f->root, "state", NULL);
        f->key_path = g_build_filename(f->state_dir, KP_IDENTITY_FILENAME, NULL);
}

static void
remove_tree(const char *path)
{
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name;

        if (dir != NULL) {
                while ((name = g_dir_read_name(dir)) != NULL) {
                        g_autofree char *child = g_build_filename(path, name, NULL);
                        if (g_file_test(child, G_FILE_TEST_IS_DIR)
                            && !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
                                remove_tree(child);
                        else
                                g_unlink(child);
                }
        }
        g_rmdir(path);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
        remove_tree(f->root);
        g_free(f->root);
        g_free(f->state_dir);
        g_free(f->key_path);
}

static char *
peer_id_string(const KpKeypair *keypair)
{
        KpPeerId id;

        kp_peer_id_from_public_key(kp_keypair_get_public_key(keypair), &id);
        return kp_peer_id_to_string(&id);
}

static guint
dir_entry_count(const char *path)
{
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        guint n = 0;

        g_assert_nonnull(dir);
        while (g_dir_read_name(dir) != NULL)
                n++;
        return n;
}

/* Loads or creates the identity in @f, checks which of the two happened, and
 * returns its peer id. */
static char *
load_identity(Fixture *f, gboolean expect_created)
{
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;
        gboolean created = !expect_created;

        keypair = kp_identity_load_or_create(f->state_dir, &created, &error);
        g_assert_no_error(error);
        g_assert_cmpint(created, ==, expect_created);
        return peer_id_string(keypair);
}

static void
create_identity(Fixture *f, char **ret_peer_id)
{
        g_autofree char *peer_id = load_identity(f, TRUE);

        if (ret_peer_id != NULL)
                *ret_peer_id = g_steal_pointer(&peer_id);
}

static void
test_create_and_reload(Fixture *f, gconstpointer data)
{
        g_autofree char *first = NULL;
        g_autofree char *second = NULL;
        struct stat st;

        create_identity(f, &first);
        g_assert_true(g_str_has_prefix(first, "12D3KooW"));

        /* the state dir is created 0700, the key 0600, no temp file is left */
        g_assert_cmpint(g_stat(f->state_dir, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0700);
        g_assert_cmpint(g_stat(f->key_path, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
        g_assert_true(S_ISREG(st.st_mode));
        g_assert_cmpuint(dir_entry_count(f->state_dir), ==, 1);
        /* a libp2p PrivateKey: 08 01 12 40 <seed> <public> */
        g_assert_cmpint(st.st_size, ==, 68);

        second = load_identity(f, FALSE);
        g_assert_cmpstr(first, ==, second);
}

static void
test_existing_state_dir(Fixture *f, gconstpointer data)
{
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;
        struct stat st;

        /* an existing state dir (systemd's StateDirectory=) keeps its mode */
        g_assert_cmpint(g_mkdir(f->state_dir, 0750), ==, 0);
        g_assert_cmpint(g_chmod(f->state_dir, 0750), ==, 0);
        keypair = kp_identity_load_or_create(f->state_dir, NULL, &error);
        g_assert_no_error(error);
        g_assert_cmpint(g_stat(f->state_dir, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0750);
        g_assert_cmpint(g_stat(f->key_path, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
}

static void
test_umask_ignored(Fixture *f, gconstpointer data)
{
        mode_t old = umask(0);
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;
        struct stat st;

        keypair = kp_identity_load_or_create(f->state_dir, NULL, &error);
        umask(old);
        g_assert_no_error(error);
        g_assert_cmpint(g_stat(f->key_path, &st), ==, 0);
        g_assert_cmpuint(st.st_mode & 07777, ==, 0600);
}

static void
assert_refused(Fixture *f, gint code, const char *message)
{
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;
        gboolean created = 42;

        keypair = kp_identity_load_or_create(f->state_dir, &created, &error);
        g_assert_null(keypair);
        g_assert_cmpint(created, ==, 42);
        kp_test_assert_error(error, code, message);
}

static void
test_permissive_mode(Fixture *f, gconstpointer data)
{
        const struct {
                guint mode;
                const char *what;
        } modes[] = {
                { 0644, "readable by group or others (mode 0644)" },
                { 0640, "readable by group or others (mode 0640)" },
                { 0604, "readable by group or others (mode 0604)" },
                { 0620, "writable or executable by group or others (mode 0620)" },
                { 0602, "writable or executable by group or others (mode 0602)" },
        };

        create_identity(f, NULL);
        for (gsize i = 0; i < G_N_ELEMENTS(modes); i++) {
                g_autofree char *expected
                    = g_strdup_printf("identity key %s is %s; run: chmod 600 %s", f->key_path,
                                      modes[i].what, f->key_path);

                g_test_message("mode %04o", modes[i].mode);
                g_assert_cmpint(g_chmod(f->key_path, modes[i].mode), ==, 0);
                assert_refused(f, KP_ERROR_PERMISSION, expected);
        }
        /* 0400 is fine too */
        g_assert_cmpint(g_chmod(f->key_path, 0400), ==, 0);
        {
                g_autoptr(KpKeypair) keypair = NULL;
                g_autoptr(GError) error = NULL;

                keypair = kp_identity_load_or_create(f->state_dir, NULL, &error);
                g_assert_no_error(error);
        }
}

static void
write_key_file(Fixture *f, const guint8 *data, gsize len)
{
        g_autoptr(GError) error = NULL;

        g_assert_true(g_file_set_contents_full(f->key_path, (const char *)data, (gssize)len,
                                               G_FILE_SET_CONTENTS_CONSISTENT, 0600, &error));
        g_assert_no_error(error);
}

static void
assert_file_unchanged(Fixture *f, const guint8 *data, gsize len)
{
        g_autofree char *contents = NULL;
        gsize contents_len = 0;

        g_assert_true(g_file_get_contents(f->key_path, &contents, &contents_len, NULL));
        g_assert_cmpmem(contents, contents_len, data, len);
}

static void
test_corrupt(Fixture *f, gconstpointer data)
{
        const guint8 garbage[] = "this is not a key\n";
        g_autofree char *expected = g_strdup_printf("identity key %s is unusable", f->key_path);

        g_assert_cmpint(g_mkdir(f->state_dir, 0700), ==, 0);
        write_key_file(f, garbage, sizeof garbage - 1);
        assert_refused(f, KP_ERROR_INVALID, expected);
        assert_refused(f, KP_ERROR_INVALID, "malformed protobuf");
        assert_refused(f, KP_ERROR_INVALID, "move it away");
        /* never silently replaced */
        assert_file_unchanged(f, garbage, sizeof garbage - 1);
        g_assert_cmpuint(dir_entry_count(f->state_dir), ==, 1);
}

static void
test_truncated(Fixture *f, gconstpointer data)
{
        g_autofree char *contents = NULL;
        gsize len = 0;
        g_autofree char *expected = g_strdup_printf("identity key %s is unusable", f->key_path);

        create_identity(f, NULL);
        g_assert_true(g_file_get_contents(f->key_path, &contents, &len, NULL));
        g_assert_cmpuint(len, ==, 68);

        /* cut inside the key bytes, then down to the header, then empty */
        write_key_file(f, (const guint8 *)contents, 40);
        assert_refused(f, KP_ERROR_INVALID, expected);
        assert_file_unchanged(f, (const guint8 *)contents, 40);
        write_key_file(f, (const guint8 *)contents, 2);
        assert_refused(f, KP_ERROR_INVALID, expected);
        write_key_file(f, (const guint8 *)contents, 0);
        assert_refused(f, KP_ERROR_TRUNCATED, "is empty");
        assert_file_unchanged(f, (const guint8 *)contents, 0);
}

static void
test_wrong_key_type(Fixture *f, gconstpointer data)
{
        /* libp2p/specs peer-ids.md secp256k1 private key vector */
        const guint8 secp256k1[]
            = { 0x08, 0x02, 0x12, 0x20, 0x53, 0xda, 0xdf, 0x1d, 0x5a, 0x16, 0x4d, 0x6b,
                0x4a, 0xcd, 0xb1, 0x5e, 0x24, 0xaa, 0x4c, 0x5b, 0x1d, 0x34, 0x61, 0xbd,
                0xbd, 0x42, 0xab, 0xed, 0xb0, 0xa4, 0x40, 0x4d, 0x56, 0xce, 0xd8, 0xfb };

        g_assert_cmpint(g_mkdir(f->state_dir, 0700), ==, 0);
        write_key_file(f, secp256k1, sizeof secp256k1);
        assert_refused(f, KP_ERROR_UNSUPPORTED, "Secp256k1 keys are not supported");
}

static void
test_oversize(Fixture *f, gconstpointer data)
{
        g_autofree guint8 *big = g_malloc0(KP_KEY_PROTOBUF_MAX + 1);

        g_assert_cmpint(g_mkdir(f->state_dir, 0700), ==, 0);
        write_key_file(f, big, KP_KEY_PROTOBUF_MAX + 1);
        assert_refused(f, KP_ERROR_TOO_LARGE, "larger than 2048 bytes");
        /* at the limit it is read, and fails as a protobuf instead */
        write_key_file(f, big, KP_KEY_PROTOBUF_MAX);
        assert_refused(f, KP_ERROR_INVALID, "malformed protobuf");
}

static void
test_not_regular(Fixture *f, gconstpointer data)
{
        g_assert_cmpint(g_mkdir_with_parents(f->key_path, 0700), ==, 0);
        assert_refused(f, KP_ERROR_INVALID, "is not a regular file");
}

static void
test_symlink(Fixture *f, gconstpointer data)
{
        g_autofree char *target = g_build_filename(f->root, "elsewhere.key", NULL);

        create_identity(f, NULL);
        g_assert_cmpint(g_rename(f->key_path, target), ==, 0);
        g_assert_cmpint(symlink(target, f->key_path), ==, 0);
        assert_refused(f, KP_ERROR_PERMISSION, "is a symbolic link");
}

static void
test_state_dir_is_file(Fixture *f, gconstpointer data)
{
        g_assert_true(g_file_set_contents(f->state_dir, "x", 1, NULL));
        assert_refused(f, KP_ERROR_IO, "cannot create state directory");
}

/* The key js-libp2p wrote for the interop fixture, as a kpingd identity. */
static void
test_js_fixture(Fixture *f, gconstpointer data)
{
        const char *root = g_getenv("KP_SOURCE_ROOT");
        g_autofree char *key_file = NULL;
        g_autofree char *id_file = NULL;
        g_autofree char *contents = NULL;
        g_autofree char *expected = NULL;
        g_autofree char *got = NULL;
        g_autoptr(GError) error = NULL;
        gsize len = 0;

        if (root == NULL) {
                g_test_skip("KP_SOURCE_ROOT is not set");
                return;
        }
        key_file = g_build_filename(root, "tests", "interop", "fixtures", "js-ed25519.key", NULL);
        id_file = g_build_filename(root, "tests", "interop", "fixtures", "js-ed25519.peerid", NULL);
        g_assert_true(g_file_get_contents(key_file, &contents, &len, &error));
        g_assert_true(g_file_get_contents(id_file, &expected, NULL, &error));
        g_strchomp(expected);
        g_assert_cmpint(g_mkdir(f->state_dir, 0700), ==, 0);
        write_key_file(f, (const guint8 *)contents, len);

        got = load_identity(f, FALSE);
        g_assert_cmpstr(got, ==, expected);
}

static void
test_load_missing(Fixture *f, gconstpointer data)
{
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error = NULL;

        keypair = kp_identity_load(f->key_path, &error);
        g_assert_null(keypair);
        kp_test_assert_error(error, KP_ERROR_NOT_FOUND, f->key_path);
}

int
main(int argc, char **argv)
{
        g_test_init(&argc, &argv, NULL);
#define ADD(path, func) g_test_add(path, Fixture, NULL, fixture_setup, func, fixture_teardown)
        ADD("/identity/create-and-reload", test_create_and_reload);
        ADD("/identity/existing-state-dir", test_existing_state_dir);
        ADD("/identity/umask-ignored", test_umask_ignored);
        ADD("/identity/permissive-mode", test_permissive_mode);
        ADD("/identity/corrupt", test_corrupt);
        ADD("/identity/truncated", test_truncated);
        ADD("/identity/wrong-key-type", test_wrong_key_type);
        ADD("/identity/oversize", test_oversize);
        ADD("/identity/not-regular", test_not_regular);
        ADD("/identity/symlink", test_symlink);
        ADD("/identity/state-dir-is-file", test_state_dir_is_file);
        ADD("/identity/js-fixture", test_js_fixture);
        ADD("/identity/load-missing", test_load_missing);
#undef ADD
        return g_test_run();
}
