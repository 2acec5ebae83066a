/* See select_fstx.h. Written against plain POSIX + Linux syscalls so it links statically
 * with glibc or musl and runs in a busybox initramfs. */
#define _GNU_SOURCE
#include "boot/initrd/select_fstx.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define ONIX_ID_MAX 128

static int Fail(char* msg, size_t len, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, len, fmt, ap);
  va_end(ap);
  return -1;
}

/* musl 1.2.3 has no renameat2 wrapper: the raw syscall works everywhere. */
static int Renameat2(int olddir, const char* oldname, int newdir, const char* newname,
                     unsigned flags) {
  return (int)syscall(SYS_renameat2, olddir, oldname, newdir, newname, flags);
}

static int ValidId(const char* id) {
  size_t n = strlen(id);
  if (n == 0 || n >= ONIX_ID_MAX) return 0;
  if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strcmp(id, "staging") == 0) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = id[i];
    if (c == '/' || c == '+' || c <= ' ' || c == 0x7f) return 0;
  }
  return 1;
}

/* Reads <dirfd>/<path> (a .fstx file) into `out`, trimmed. 0 on success, -1 with errno. */
static int ReadId(int dirfd, const char* path, char* out, size_t out_len) {
  int fd = openat(dirfd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return -1;
  ssize_t n;
  do {
    n = read(fd, out, out_len - 1);
  } while (n < 0 && errno == EINTR);
  int err = errno;
  close(fd);
  if (n < 0) {
    errno = err;
    return -1;
  }
  out[n] = '\0';
  /* moss writes the fstx on the first line and the tree's durable token on the second. */
  char* newline = strchr(out, '\n');
  if (newline != NULL) {
    *newline = '\0';
    n = newline - out;
  }
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' ' || out[n - 1] == '\r')) out[--n] = '\0';
  if (!ValidId(out)) {
    errno = EINVAL;
    return -1;
  }
  return 0;
}

static int FsyncAt(int dirfd, const char* path) {
  int fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return -1;
  int r = fsync(fd);
  int err = errno;
  close(fd);
  errno = err;
  return r;
}

int onix_fstx_from_cmdline(const char* cmdline, char* out, size_t out_len) {
  static const char kKey[] = "moss.fstx=";
  int found = 0;
  const char* p = cmdline;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n') p++;
    const char* start = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n') p++;
    size_t len = (size_t)(p - start);
    if (len > sizeof(kKey) - 1 && strncmp(start, kKey, sizeof(kKey) - 1) == 0) {
      size_t vlen = len - (sizeof(kKey) - 1);
      if (vlen < out_len) {
        memcpy(out, start + sizeof(kKey) - 1, vlen);
        out[vlen] = '\0';
        found = 1;
      }
    }
  }
  return found;
}

int onix_select_fstx(const char* root, const char* fstx, char* msg, size_t msg_len) {
  char active[ONIX_ID_MAX], id[ONIX_ID_MAX], path[512], dir[ONIX_ID_MAX * 2];
  if (!ValidId(fstx)) return Fail(msg, msg_len, "moss.fstx='%s' is not a state id", fstx);
  int rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (rootfd < 0) return Fail(msg, msg_len, "opening root %s: %s", root, strerror(errno));
  int ret = -1;
  int archfd = -1;
  if (ReadId(rootfd, "usr/.fstx", active, sizeof(active)) != 0) {
    Fail(msg, msg_len, "reading %s/usr/.fstx (which state is active): %s", root, strerror(errno));
    goto out;
  }
  if (strcmp(active, fstx) == 0) {
    snprintf(msg, msg_len, "state %s is already active", fstx);
    ret = 0;
    goto out;
  }
  archfd = openat(rootfd, ".moss/root", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
  if (archfd < 0) {
    Fail(msg, msg_len, "state %s is not on this machine: opening %s/.moss/root: %s", fstx, root,
         strerror(errno));
    goto out;
  }
  /* The tree of `fstx`: under its own name, or (after an interrupted switch) another one. */
  dir[0] = '\0';
  snprintf(path, sizeof(path), "%s/usr/.fstx", fstx);
  if (ReadId(archfd, path, id, sizeof(id)) == 0 && strcmp(id, fstx) == 0) {
    snprintf(dir, sizeof(dir), "%s", fstx);
  } else {
    DIR* d = fdopendir(dup(archfd));
    if (d != NULL) {
      struct dirent* e;
      while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || strcmp(e->d_name, "staging") == 0) continue;
        if (strlen(e->d_name) >= ONIX_ID_MAX) continue;
        snprintf(path, sizeof(path), "%s/usr/.fstx", e->d_name);
        if (ReadId(archfd, path, id, sizeof(id)) == 0 && strcmp(id, fstx) == 0) {
          snprintf(dir, sizeof(dir), "%s", e->d_name);
          break;
        }
      }
      closedir(d);
    }
  }
  if (dir[0] == '\0') {
    Fail(msg, msg_len,
         "state %s is not on this machine: no %s/.moss/root/*/usr/.fstx names it (active: %s)",
         fstx, root, active);
    goto out;
  }
  /* The archive name the old tree will get must be free (or be this very directory). */
  if (strcmp(dir, active) != 0) {
    struct stat st;
    if (fstatat(archfd, active, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      Fail(msg, msg_len, "activating %s: %s/.moss/root/%s already exists, not replacing it", fstx,
           root, active);
      goto out;
    }
  }
  snprintf(path, sizeof(path), ".moss/root/%s/usr", dir);
  /* The commit point. */
  if (Renameat2(rootfd, "usr", rootfd, path, RENAME_EXCHANGE) != 0) {
    Fail(msg, msg_len, "activating %s: renameat2(%s/usr, %s/%s, RENAME_EXCHANGE): %s", fstx, root,
         root, path, strerror(errno));
    goto out;
  }
  if (FsyncAt(rootfd, ".") != 0 || FsyncAt(archfd, dir) != 0) {
    Fail(msg, msg_len, "activated %s but fsync of %s failed: %s", fstx, root, strerror(errno));
    goto out;
  }
  if (strcmp(dir, active) != 0) {
    if (Renameat2(archfd, dir, archfd, active, RENAME_NOREPLACE) != 0 || fsync(archfd) != 0) {
      Fail(msg, msg_len, "activated %s but renaming archive %s to %s failed: %s", fstx, dir, active,
           strerror(errno));
      goto out;
    }
  }
  snprintf(msg, msg_len, "activated state %s (previous %s archived as .moss/root/%s)", fstx, active,
           active);
  ret = 0;
out:
  if (archfd >= 0) close(archfd);
  close(rootfd);
  return ret;
}
