#include "net/kp-identity.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/kp-error.h"

/* Attempts at a fresh temp file name before giving up. */
#define KP_IDENTITY_TEMP_ATTEMPTS 16

static void set_io_error(GError **error, int errsv, const char *fmt, ...) G_GNUC_PRINTF(3, 4);

static void
set_io_error(GError **error, int errsv, const char *fmt, ...)
{
        g_autofree char *what = NULL;
        va_list args;

        va_start(args, fmt);
        what = g_strdup_vprintf(fmt, args);
        va_end(args);
        g_set_error(error, KP_ERROR,
                    errsv == EACCES || errsv == EPERM ? KP_ERROR_PERMISSION : KP_ERROR_IO, "%s: %s",
                    what, g_strerror(errsv));
}

static gboolean
check_key_file_stat(const char *path, const struct stat *st, GError **error)
{
        mode_t mode = st->st_mode & 07777;

        if (!S_ISREG(st->st_mode)) {
                g_set_error(error, KP_ERROR, KP_ERROR_INVALID,
                            "identity key %s is not a regular file", path);
                return FALSE;
        }
        if (st->st_uid != geteuid()) {
                g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                            "identity key %s is owned by uid %u, not by the running user (uid %u); "
                            "run: chown %u %s",
                            path, (guint)st->st_uid, (guint)geteuid(), (guint)geteuid(), path);
                return FALSE;
        }
        if ((mode & (S_IRGRP | S_IROTH)) != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                            "identity key %s is readable by group or others (mode %04o); run: "
                            "chmod 600 %s",
                            path, (guint)mode, path);
                return FALSE;
        }
        if ((mode & (S_IRWXG | S_IRWXO)) != 0) {
                g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                            "identity key %s is writable or executable by group or others (mode "
                            "%04o); run: chmod 600 %s",
                            path, (guint)mode, path);
                return FALSE;
        }
        return TRUE;
}

/* Reads at most KP_KEY_PROTOBUF_MAX bytes from @fd into @buf. */
static gssize
read_key_bytes(int fd, const char *path, guint8 *buf, gsize size, GError **error)
{
        gsize total = 0;

        while (total < size) {
                gssize n = read(fd, buf + total, size - total);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        set_io_error(error, errno, "cannot read identity key %s", path);
                        return -1;
                }
                if (n == 0)
                        break;
                total += (gsize)n;
        }
        return (gssize)total;
}

static KpKeypair *
load_from_fd(int fd, const char *path, GError **error)
{
        struct stat st;
        /* One byte over the limit tells "too large" from "exactly the limit". */
        guint8 buf[KP_KEY_PROTOBUF_MAX + 1];
        gssize len;
        KpKeypair *keypair;
        g_autoptr(GError) error_local = NULL;

        if (fstat(fd, &st) != 0) {
                set_io_error(error, errno, "cannot stat identity key %s", path);
                return NULL;
        }
        if (!check_key_file_stat(path, &st, error))
                return NULL;
        len = read_key_bytes(fd, path, buf, sizeof buf, error);
        if (len < 0)
                return NULL;
        if ((gsize)len > KP_KEY_PROTOBUF_MAX) {
                sodium_memzero(buf, sizeof buf);
                g_set_error(error, KP_ERROR, KP_ERROR_TOO_LARGE,
                            "identity key %s is larger than %d bytes; it is not a libp2p "
                            "PrivateKey (move it away to create a new identity)",
                            path, KP_KEY_PROTOBUF_MAX);
                return NULL;
        }
        keypair = kp_keypair_from_private_key_protobuf(buf, (gsize)len, &error_local);
        sodium_memzero(buf, sizeof buf);
        if (keypair == NULL) {
                g_set_error(error, KP_ERROR, error_local->code,
                            "identity key %s is unusable: %s (it is left as it is; move it away "
                            "to create a new identity)",
                            path, error_local->message);
                return NULL;
        }
        return keypair;
}

KpKeypair *
kp_identity_load(const char *path, GError **error)
{
        int fd;
        KpKeypair *keypair;

        g_return_val_if_fail(path != NULL, NULL);

        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
                int errsv = errno;
                if (errsv == ENOENT)
                        g_set_error(error, KP_ERROR, KP_ERROR_NOT_FOUND,
                                    "identity key %s does not exist", path);
                else if (errsv == ELOOP)
                        g_set_error(error, KP_ERROR, KP_ERROR_PERMISSION,
                                    "identity key %s is a symbolic link; refusing to follow it",
                                    path);
                else
                        set_io_error(error, errsv, "cannot open identity key %s", path);
                return NULL;
        }
        keypair = load_from_fd(fd, path, error);
        close(fd);
        return keypair;
}

static gboolean
write_all(int fd, const guint8 *data, gsize len)
{
        while (len > 0) {
                gssize n = write(fd, data, len);
                if (n < 0) {
                        if (errno == EINTR)
                                continue;
                        return FALSE;
                }
                data += n;
                len -= (gsize)n;
        }
        return TRUE;
}

static gboolean
fsync_dir(const char *dir, GError **error)
{
        int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

        if (fd < 0 || fsync(fd) != 0) {
                set_io_error(error, errno, "cannot sync directory %s", dir);
                if (fd >= 0)
                        close(fd);
                return FALSE;
        }
        close(fd);
        return TRUE;
}

/* Creates a temp file next to the key, mode 0600, that did not exist before. */
static int
create_temp_file(const char *state_dir, char **ret_path, GError **error)
{
        for (guint i = 0; i < KP_IDENTITY_TEMP_ATTEMPTS; i++) {
                g_autofree char *path = g_strdup_printf("%s/.%s.tmp-%08x", state_dir,
                                                        KP_IDENTITY_FILENAME, g_random_int());
                int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                              KP_IDENTITY_FILE_MODE);
                if (fd >= 0) {
                        *ret_path = g_steal_pointer(&path);
                        return fd;
                }
                if (errno != EEXIST) {
                        set_io_error(error, errno, "cannot create a temp file in %s", state_dir);
                        return -1;
                }
        }
        g_set_error(error, KP_ERROR, KP_ERROR_IO,
                    "cannot create a temp file in %s: %u names already taken", state_dir,
                    (guint)KP_IDENTITY_TEMP_ATTEMPTS);
        return -1;
}

/* Moves @tmp to @path unless @path exists. FALSE with errno EEXIST when it
 * does: another process created the identity first. */
static gboolean
rename_noreplace(const char *tmp, const char *path)
{
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
                return TRUE;
        if (errno != EINVAL && errno != ENOSYS)
                return FALSE;
        /* file systems without RENAME_NOREPLACE: link() never replaces */
        if (link(tmp, path) != 0)
                return FALSE;
        unlink(tmp);
        return TRUE;
}

/* TRUE with *ret_raced set when another process created the key meanwhile. */
static gboolean
create_key_file(const char *state_dir, const char *path, const KpKeypair *keypair,
                gboolean *ret_raced, GError **error)
{
        g_autofree char *tmp = NULL;
        g_autoptr(GBytes) secret = kp_keypair_to_private_key_protobuf(keypair);
        gsize len;
        const guint8 *data = g_bytes_get_data(secret, &len);
        int fd;

        fd = create_temp_file(state_dir, &tmp, error);
        if (fd < 0)
                return FALSE;
        if (!write_all(fd, data, len) || fsync(fd) != 0) {
                set_io_error(error, errno, "cannot write %s", tmp);
                close(fd);
                unlink(tmp);
                return FALSE;
        }
        if (close(fd) != 0) {
                set_io_error(error, errno, "cannot write %s", tmp);
                unlink(tmp);
                return FALSE;
        }
        if (!rename_noreplace(tmp, path)) {
                int errsv = errno;
                unlink(tmp);
                if (errsv == EEXIST) {
                        *ret_raced = TRUE;
                        return TRUE;
                }
                set_io_error(error, errsv, "cannot move the new identity key into %s", path);
                return FALSE;
        }
        *ret_raced = FALSE;
        return fsync_dir(state_dir, error);
}

KpKeypair *
kp_identity_load_or_create(const char *state_dir, gboolean *ret_created, GError **error)
{
        g_autofree char *path = NULL;
        g_autoptr(KpKeypair) keypair = NULL;
        g_autoptr(GError) error_local = NULL;
        gboolean raced = FALSE;

        g_return_val_if_fail(state_dir != NULL, NULL);

        if (g_mkdir_with_parents(state_dir, KP_IDENTITY_DIR_MODE) != 0) {
                set_io_error(error, errno, "cannot create state directory %s", state_dir);
                return NULL;
        }
        path = g_build_filename(state_dir, KP_IDENTITY_FILENAME, NULL);
        keypair = kp_identity_load(path, &error_local);
        if (keypair != NULL) {
                if (ret_created != NULL)
                        *ret_created = FALSE;
                return g_steal_pointer(&keypair);
        }
        if (!g_error_matches(error_local, KP_ERROR, KP_ERROR_NOT_FOUND)) {
                g_propagate_error(error, g_steal_pointer(&error_local));
                return NULL;
        }

        keypair = kp_keypair_generate();
        if (!create_key_file(state_dir, path, keypair, &raced, error))
                return NULL;
        if (raced) {
                g_clear_pointer(&keypair, kp_keypair_free);
                keypair = kp_identity_load(path, error);
                if (keypair == NULL)
                        return NULL;
        }
        if (ret_created != NULL)
                *ret_created = !raced;
        return g_steal_pointer(&keypair);
}
