/*
 * Writing the files users keep: reports, models, checkpoints and images.
 *
 * A regular file (or a missing one) is replaced atomically: the contents go to a temporary
 * file in the same folder, which is flushed, synced and renamed over the target. A symbolic
 * link is followed and its target is replaced, so the link stays a link. Anything else that
 * exists (a device, a FIFO or a socket) is opened and written in place, because renaming a
 * file over it would replace the node itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hop/io.h"

/* Linux gives up on symbolic-link chains longer than this (ELOOP). */
#define MAX_LINK_HOPS  40
#define MAX_TEMP_TRIES 100

static hop_status write_failed(const char *path, int errnum, hop_error *err)
{
    char reason[128] = "input/output error";
    if (errnum)
        strerror_r(errnum, reason, sizeof reason);
    return hop_error_set(err, HOP_ERR_IO, "cannot write %s: %s", path, reason);
}

/* Returns a new string: the folder part of path plus link, when link is relative. */
static char *join_link(const char *path, const char *link)
{
    const char *slash = strrchr(path, '/');
    size_t folder = link[0] == '/' || !slash ? 0 : (size_t)(slash - path) + 1;
    char *joined = malloc(folder + strlen(link) + 1);
    if (joined) {
        memcpy(joined, path, folder);
        strcpy(joined + folder, link);
    }
    return joined;
}

/*
 * Follows symbolic links from path and stores the final name in *target (malloc'd). The
 * final name may not exist yet: a dangling link resolves to the path it points at.
 */
static hop_status resolve_links(const char *path, char **target, hop_error *err)
{
    char *current = strdup(path);
    char link[PATH_MAX];
    for (int hop = 0; current && hop < MAX_LINK_HOPS; hop++) {
        struct stat st;
        if (lstat(current, &st) != 0 || !S_ISLNK(st.st_mode)) {
            *target = current;
            return HOP_OK;
        }
        ssize_t n = readlink(current, link, sizeof link - 1);
        if (n < 0) {
            free(current);
            return write_failed(path, errno, err);
        }
        link[n] = '\0';
        char *next = join_link(current, link);
        free(current);
        current = next;
    }
    if (!current)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory writing %s", path);
    free(current);
    return write_failed(path, ELOOP, err);
}

/* Runs write on stream and closes it. A failed write, flush, sync or close sets err. */
static hop_status finish_stream(FILE *stream, bool sync, const char *path, hop_file_writer write,
                                void *context, hop_error *err)
{
    errno = 0;
    hop_status status = write(stream, context, err);
    int errnum = 0;
    if (status == HOP_OK && (ferror(stream) || fflush(stream) != 0))
        errnum = errno ? errno : EIO;
    if (status == HOP_OK && !errnum && sync && fsync(fileno(stream)) != 0)
        errnum = errno;
    if (fclose(stream) != 0 && status == HOP_OK && !errnum)
        errnum = errno ? errno : EIO;
    if (status == HOP_OK && errnum)
        status = write_failed(path, errnum, err);
    return status;
}

/* Writes into an existing device, FIFO or socket in place. */
static hop_status write_in_place(const char *path, const char *target, hop_file_writer write,
                                 void *context, hop_error *err)
{
    FILE *stream = fopen(target, "wb");
    if (!stream)
        return write_failed(path, errno, err);
    return finish_stream(stream, false, path, write, context, err);
}

/* Creates target.tmp.PID.N with the old file's permissions, or 0666 minus the umask. */
static int create_temporary(const char *target, const struct stat *old, char *temp, size_t size)
{
    for (int n = 0; n < MAX_TEMP_TRIES; n++) {
        snprintf(temp, size, "%s.tmp.%ld.%d", target, (long)getpid(), n);
        int fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 && old)
            (void)fchmod(fd, old->st_mode & 07777);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

static hop_status replace_atomically(const char *path, const char *target, const struct stat *old,
                                     hop_file_writer write, void *context, hop_error *err)
{
    size_t size = strlen(target) + 48;
    char *temp = malloc(size);
    if (!temp)
        return hop_error_set(err, HOP_ERR_NOMEM, "out of memory writing %s", path);
    int fd = create_temporary(target, old, temp, size);
    FILE *stream = fd >= 0 ? fdopen(fd, "wb") : NULL;
    if (!stream) {
        hop_status status = write_failed(path, errno, err);
        if (fd >= 0) {
            close(fd);
            unlink(temp);
        }
        free(temp);
        return status;
    }

    hop_status status = finish_stream(stream, true, path, write, context, err);
    if (status == HOP_OK && rename(temp, target) != 0)
        status = write_failed(path, errno, err);
    if (status != HOP_OK) {
        unlink(temp);
        if (old && err && strlen(err->message) + 40 < sizeof err->message)
            strcat(err->message, "; the previous file is unchanged");
    }
    free(temp);
    return status;
}

hop_status hop_write_file_with(const char *path, hop_file_writer write, void *context,
                               hop_error *err)
{
    if (!path || !path[0])
        return hop_error_set(err, HOP_ERR_ARG, "the output path is empty");
    char *target = NULL;
    hop_status status = resolve_links(path, &target, err);
    if (status != HOP_OK)
        return status;

    struct stat st;
    bool exists = stat(target, &st) == 0;
    if (exists && S_ISDIR(st.st_mode))
        status = hop_error_set(err, HOP_ERR_IO,
                               "cannot write %s: it is a folder; give a file name inside it", path);
    else if (exists && !S_ISREG(st.st_mode))
        status = write_in_place(path, target, write, context, err);
    else
        status = replace_atomically(path, target, exists ? &st : NULL, write, context, err);
    free(target);
    return status;
}

typedef struct byte_span {
    const void *data;
    size_t length;
} byte_span;

static hop_status write_span(FILE *stream, void *context, hop_error *err)
{
    (void)err;
    const byte_span *span = context;
    if (span->length)
        fwrite(span->data, 1, span->length, stream);
    return HOP_OK;
}

hop_status hop_write_file_atomic(const char *path, const void *data, size_t length, hop_error *err)
{
    byte_span span = {data, length};
    return hop_write_file_with(path, write_span, &span, err);
}
