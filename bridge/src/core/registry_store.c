/* registry_store.c - see registry_store.h. */
#include "registry_store.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errbuf.h"

#define REGISTRY_STORE_MAX (4 * 1024 * 1024)

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int fsync_dir_of(const char *path)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", path);
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* <path>.bak: a hard link to the current file, or else a copy. */
static int keep_backup(const char *path, const char *bak)
{
    char tmp[4300];
    if (snprintf(tmp, sizeof tmp, "%s.tmp-bak", bak) >= (int)sizeof tmp) return -1;
    unlink(tmp);
    if (link(path, tmp) == 0) return rename(tmp, bak);
    size_t len;
    char err[8];
    char *text = registry_store_read(path, &len, err, sizeof err);
    if (!text) return errno == ENOENT ? 0 : -1;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
    int rc = fd < 0 || write_all(fd, text, len) || fsync(fd) ? -1 : 0;
    if (fd >= 0) close(fd);
    free(text);
    return rc ? -1 : rename(tmp, bak);
}

int registry_store_save(const char *path, const char *text, char *err, size_t errlen)
{
    char tmp[4200], bak[4200];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp ||
        snprintf(bak, sizeof bak, "%s.bak", path) >= (int)sizeof bak)
        return errbuf_set(err, errlen, "%s: path too long", path);
    struct stat st;
    int have = stat(path, &st) == 0;
    mode_t mode = have ? st.st_mode & 07777 : 0640;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return errbuf_set(err, errlen, "cannot write %s (%s)", tmp, strerror(errno));
    if (write_all(fd, text, strlen(text)) || fchmod(fd, mode) ||
        (have && geteuid() == 0 && fchown(fd, st.st_uid, st.st_gid)) || fsync(fd)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return errbuf_set(err, errlen, "cannot write %s (%s)", tmp, strerror(e));
    }
    close(fd);
    if (keep_backup(path, bak) != 0) {
        int e = errno;
        unlink(tmp);
        return errbuf_set(err, errlen, "cannot keep %s (%s)", bak, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return errbuf_set(err, errlen, "cannot replace %s (%s)", path, strerror(e));
    }
    if (fsync_dir_of(path) != 0) return errbuf_set(err, errlen, "saved %s, but cannot sync its folder (%s)", path, strerror(errno));
    return 0;
}

char *registry_store_read(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        errbuf_set(err, errlen, "cannot open %s (%s)", path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(REGISTRY_STORE_MAX + 1);
    size_t n = buf ? fread(buf, 1, REGISTRY_STORE_MAX + 1, f) : 0;
    fclose(f);
    if (!buf || n > REGISTRY_STORE_MAX) {
        free(buf);
        errbuf_set(err, errlen, buf ? "%s is too large" : "out of memory reading %s", path);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}
