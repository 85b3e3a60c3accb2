/*
 * faultinject.c — an LD_PRELOAD shim for the fault-injection tests: after
 * fi_arm(name, nth, err, any_thread) the nth call of the named system call
 * (counted from the arming) fails with errno `err`, once, or every call from
 * the nth on with fi_arm_sticky.  Calls from other threads than the arming
 * one are counted and failed only with any_thread (so the background flusher
 * and janitor do not steal the failure meant for the call under test).
 * Anonymous mmaps (the allocator's) are never failed.  fi_fired() says
 * whether the failure happened, so a test loops nth = 1, 2, ... until the
 * call under test completes without reaching it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static char armed_name[32];
static _Atomic long countdown; /* calls left before the failing one; 0: disarmed */
static _Atomic int fired;
static int fail_errno;
static int any_thread;
static int sticky;
static pthread_t armer;

void fi_arm(const char *name, long nth, int err, int all_threads) {
    atomic_store(&countdown, 0);
    strncpy(armed_name, name, sizeof armed_name - 1);
    fail_errno = err;
    any_thread = all_threads;
    sticky = 0;
    armer = pthread_self();
    atomic_store(&fired, 0);
    atomic_store(&countdown, nth);
}

void fi_arm_sticky(const char *name, long nth, int err, int all_threads) {
    fi_arm(name, nth, err, all_threads);
    sticky = 1;
}

void fi_disarm(void) { atomic_store(&countdown, 0); }
int fi_fired(void) { return atomic_load(&fired); }

/* Whether this call of `name` is to fail. */
static int should_fail(const char *name) {
    if (atomic_load(&countdown) <= 0 || strcmp(name, armed_name) != 0) return 0;
    if (!any_thread && !pthread_equal(pthread_self(), armer)) return 0;
    if (sticky) {
        long left = atomic_load(&countdown);
        if (left > 1) {
            atomic_fetch_sub(&countdown, 1);
            return 0;
        }
        atomic_store(&fired, 1);
        return 1;
    }
    if (atomic_fetch_sub(&countdown, 1) != 1) return 0;
    atomic_store(&fired, 1);
    return 1;
}

#define REAL(name) \
    static __typeof__(&name) real_##name; \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

#define FAIL_IF(name, ret) \
    do { \
        if (should_fail(name)) { \
            errno = fail_errno; \
            return ret; \
        } \
    } while (0)

int open(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    REAL(open);
    FAIL_IF("open", -1);
    return real_open(path, flags, mode);
}

int open64(const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    REAL(open64);
    FAIL_IF("open", -1);
    return real_open64(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...) {
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = (mode_t)va_arg(ap, int);
        va_end(ap);
    }
    REAL(openat);
    FAIL_IF("openat", -1);
    return real_openat(dirfd, path, flags, mode);
}

int rename(const char *from, const char *to) {
    REAL(rename);
    FAIL_IF("rename", -1);
    return real_rename(from, to);
}

int unlink(const char *path) {
    REAL(unlink);
    FAIL_IF("unlink", -1);
    return real_unlink(path);
}

int unlinkat(int dirfd, const char *path, int flags) {
    REAL(unlinkat);
    FAIL_IF("unlink", -1);
    return real_unlinkat(dirfd, path, flags);
}

int mkdir(const char *path, mode_t mode) {
    REAL(mkdir);
    FAIL_IF("mkdir", -1);
    return real_mkdir(path, mode);
}

int ftruncate(int fd, off_t len) {
    REAL(ftruncate);
    FAIL_IF("ftruncate", -1);
    return real_ftruncate(fd, len);
}

int ftruncate64(int fd, off_t len) {
    REAL(ftruncate64);
    FAIL_IF("ftruncate", -1);
    return real_ftruncate64(fd, len);
}

int truncate(const char *path, off_t len) {
    REAL(truncate);
    FAIL_IF("truncate", -1);
    return real_truncate(path, len);
}

int truncate64(const char *path, off_t len) {
    REAL(truncate64);
    FAIL_IF("truncate", -1);
    return real_truncate64(path, len);
}

int posix_fallocate(int fd, off_t off, off_t len) {
    REAL(posix_fallocate);
    if (should_fail("fallocate")) return fail_errno; /* returns the error, errno untouched */
    return real_posix_fallocate(fd, off, len);
}

int posix_fallocate64(int fd, off_t off, off_t len) {
    REAL(posix_fallocate64);
    if (should_fail("fallocate")) return fail_errno;
    return real_posix_fallocate64(fd, off, len);
}

int fallocate(int fd, int mode, off_t off, off_t len) {
    REAL(fallocate);
    FAIL_IF("fallocate", -1);
    return real_fallocate(fd, mode, off, len);
}

int fallocate64(int fd, int mode, off_t off, off_t len) {
    REAL(fallocate64);
    FAIL_IF("fallocate", -1);
    return real_fallocate64(fd, mode, off, len);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite);
    FAIL_IF("pwrite", -1);
    return real_pwrite(fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off) {
    REAL(pwrite64);
    FAIL_IF("pwrite", -1);
    return real_pwrite64(fd, buf, n, off);
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(pwritev);
    FAIL_IF("pwritev", -1);
    return real_pwritev(fd, iov, cnt, off);
}

ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off_t off) {
    REAL(pwritev64);
    FAIL_IF("pwritev", -1);
    return real_pwritev64(fd, iov, cnt, off);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    REAL(mmap);
    if (fd >= 0 && !(flags & MAP_ANONYMOUS)) FAIL_IF("mmap", MAP_FAILED);
    return real_mmap(addr, len, prot, flags, fd, off);
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
    REAL(mmap64);
    if (fd >= 0 && !(flags & MAP_ANONYMOUS)) FAIL_IF("mmap", MAP_FAILED);
    return real_mmap64(addr, len, prot, flags, fd, off);
}

int fsync(int fd) {
    REAL(fsync);
    FAIL_IF("fsync", -1);
    return real_fsync(fd);
}

int fdatasync(int fd) {
    REAL(fdatasync);
    FAIL_IF("fdatasync", -1);
    return real_fdatasync(fd);
}

int msync(void *addr, size_t len, int flags) {
    REAL(msync);
    FAIL_IF("msync", -1);
    return real_msync(addr, len, flags);
}

int syncfs(int fd) {
    REAL(syncfs);
    FAIL_IF("syncfs", -1);
    return real_syncfs(fd);
}
