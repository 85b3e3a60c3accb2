/*
 * os_posix.c — the operating-system calls the core needs, behind one small
 * interface: durable sync (of files, directories, whole filesystems),
 * preallocation, positional writes, sendfile, recursive removal and clocks.  The only file with platform #ifdefs (Linux and macOS).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#if defined(__linux__)
#include <sys/sendfile.h>
#elif defined(__APPLE__)
#include <sys/socket.h>
#endif

#include "storage.h"

int sc_os_datasync(int fd) {
#if defined(__APPLE__)
    /* fsync on macOS does not reach the platter; F_FULLFSYNC does. */
    if (fcntl(fd, F_FULLFSYNC) == 0) return 0;
    if (fsync(fd) == 0) return 0;
#else
    if (fdatasync(fd) == 0) return 0;
#endif
    return errno;
}

int sc_os_fsync(int fd) {
#if defined(__APPLE__)
    return sc_os_datasync(fd);
#else
    return fsync(fd) == 0 ? 0 : errno;
#endif
}

int sc_os_preallocate(int fd, uint64_t size) {
#if defined(__linux__)
    /* Reserve real blocks so a later store through a mapping cannot meet a
     * full disk (which would be SIGBUS, not an error code). */
    int rc = posix_fallocate(fd, 0, (off_t)size);
    if (rc == 0) return 0;
    if (rc != EOPNOTSUPP && rc != EINVAL) return rc;
#endif
    struct stat st;
    if (fstat(fd, &st) != 0) return errno;
    if ((uint64_t)st.st_size >= size) return 0;
    return ftruncate(fd, (off_t)size) == 0 ? 0 : errno;
}

int sc_os_pwritev_all(int fd, struct iovec *iov, int iovcnt, uint64_t position) {
#ifdef IOV_MAX
    const int iov_max = IOV_MAX;
#else
    const int iov_max = 1024;
#endif
    while (iovcnt > 0) {
        int n = iovcnt < iov_max ? iovcnt : iov_max;
        ssize_t w = pwritev(fd, iov, n, (off_t)position);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        position += (uint64_t)w;
        size_t left = (size_t)w;
        while (iovcnt > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0 && left > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int sc_os_sendfile(int out_fd, int in_fd, uint64_t position, uint64_t length, uint64_t *sent) {
    *sent = 0;
#if defined(__linux__)
    while (length > 0) {
        off_t off = (off_t)position;
        size_t chunk = length > 0x7ffff000u ? 0x7ffff000u : (size_t)length;
        ssize_t n = sendfile(out_fd, in_fd, &off, chunk);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN && *sent > 0) return 0;
            return errno;
        }
        if (n == 0) return 0; /* file shorter than asked: nothing more to send */
        *sent += (uint64_t)n;
        position += (uint64_t)n;
        length -= (uint64_t)n;
    }
    return 0;
#elif defined(__APPLE__)
    while (length > 0) {
        off_t len = (off_t)length;
        int rc = sendfile(in_fd, out_fd, (off_t)position, &len, NULL, 0);
        *sent += (uint64_t)len;
        position += (uint64_t)len;
        length -= (uint64_t)len;
        if (rc != 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN && *sent > 0) return 0;
            return errno;
        }
        if (len == 0) return 0;
    }
    return 0;
#else
    (void)out_fd; (void)in_fd; (void)position; (void)length;
    return ENOSYS;
#endif
}

int64_t sc_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int sc_os_fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return errno;
    int rc = sc_os_fsync(fd);
    close(fd);
    return rc;
}

int sc_os_pwrite_all(int fd, const void *buf, size_t len, uint64_t position) {
    const uint8_t *p = buf;
    while (len > 0) {
        ssize_t w = pwrite(fd, p, len, (off_t)position);
        if (w < 0) {
            if (errno == EINTR) continue;
            return errno;
        }
        if (w == 0) return EIO;
        p += w;
        len -= (size_t)w;
        position += (uint64_t)w;
    }
    return 0;
}

/* Remove path: a file, or a directory and everything in it. */
int sc_os_remove_tree(const char *path) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : errno;
    if (!S_ISDIR(st.st_mode)) return unlink(path) == 0 ? 0 : errno;
    DIR *d = opendir(path);
    if (!d) return errno;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        char *child = sc_path_join(path, e->d_name);
        if (!child) {
            rc = ENOMEM;
            break;
        }
        int r = sc_os_remove_tree(child);
        if (r && !rc) rc = r;
        free(child);
    }
    closedir(d);
    if (!rc && rmdir(path) != 0) rc = errno;
    return rc;
}

/* Flush everything dirty on the filesystem holding dir, in one call where the
 * platform has one (Linux syncfs); 1 if it did, 0 if the caller must sync
 * file by file. */
int sc_os_syncfs(const char *dir, int *err) {
    *err = 0;
#if defined(__linux__)
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        *err = errno;
        return 1;
    }
    if (syncfs(fd) != 0) *err = errno;
    close(fd);
    return 1;
#else
    (void)dir;
    return 0;
#endif
}

void sc_deadline_after_ns(struct timespec *ts, uint64_t ns) {
    clock_gettime(CLOCK_REALTIME, ts);
    uint64_t total = (uint64_t)ts->tv_nsec + ns % 1000000000u;
    ts->tv_sec += (time_t)(ns / 1000000000u + total / 1000000000u);
    ts->tv_nsec = (long)(total % 1000000000u);
}

uint64_t sc_mono_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
