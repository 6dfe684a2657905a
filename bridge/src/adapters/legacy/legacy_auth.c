/* legacy_auth.c - see legacy_auth.h.
 *
 * The exchange is two packets, so it is written out here rather than run
 * through a libmosquitto instance per check: libmosquitto's asynchronous
 * connect and its state machine would have to be driven from this loop
 * anyway, for a CONNECT and a 4-byte CONNACK. */
#include "legacy_auth.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define AUTH_CONCURRENT_MAX 32 /* more at once waits for the client to retry */
#define AUTH_TIMEOUT_S 5
#define CREDENTIAL_MAX 256

typedef struct auth_check {
    struct auth_check *next;
    legacy_auth *owner;
    struct lws *wsi;
    uint32_t conn;
    int verdict;            /* -2 none yet, else as legacy_auth_done_fn */
    unsigned char *packet;  /* the CONNECT; holds the password, so zeroed */
    size_t packet_len;
    int sent;
    unsigned char connack[4];
    size_t got;
} auth_check;

struct legacy_auth {
    const char *host;
    int port;
    struct lws_vhost *vhost;
    legacy_auth_done_fn done;
    void *done_ctx;
    auth_check *checks;
    int n_checks;
    uint32_t serial;
};

static void put_string(unsigned char **p, const char *s, size_t n)
{
    *(*p)++ = (unsigned char)(n >> 8);
    *(*p)++ = (unsigned char)(n & 0xff);
    memcpy(*p, s, n);
    *p += n;
}

/* An MQTT 3.1.1 CONNECT: clean session, username and password, no will. */
static unsigned char *connect_packet(const char *client_id, const char *user, const char *pass, size_t *len)
{
    size_t ni = strlen(client_id), nu = strlen(user), np = strlen(pass);
    size_t rest = 10 + 2 + ni + 2 + nu + 2 + np;
    unsigned char *buf = malloc(rest + 5), *p = buf;
    if (!buf) return NULL;
    *p++ = 0x10;
    for (size_t r = rest;;) { /* remaining length, 7 bits a byte */
        unsigned char byte = r % 128;
        r /= 128;
        *p++ = (unsigned char)(byte | (r ? 0x80 : 0));
        if (!r) break;
    }
    static const unsigned char header[] = {0, 4, 'M', 'Q', 'T', 'T', 4, 0xC2, 0, 10};
    memcpy(p, header, sizeof header);
    p += sizeof header;
    put_string(&p, client_id, ni);
    put_string(&p, user, nu);
    put_string(&p, pass, np);
    *len = (size_t)(p - buf);
    return buf;
}

static void forget_packet(auth_check *a)
{
    if (!a->packet) return;
    memset(a->packet, 0, a->packet_len);
    free(a->packet);
    a->packet = NULL;
}

/* Non-blocking TCP connect to the broker; the fd, or -1. */
static int open_socket(const legacy_auth *la)
{
    char port[16];
    snprintf(port, sizeof port, "%d", la->port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(la->host, port, &hints, &res) != 0) return -1;
    int fd = -1;
    for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS) {
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    return fd;
}

legacy_auth *legacy_auth_new(const char *host, int port, struct lws_vhost *vhost, legacy_auth_done_fn done, void *ctx)
{
    legacy_auth *la = calloc(1, sizeof *la);
    if (!la) return NULL;
    *la = (legacy_auth){.host = host, .port = port, .vhost = vhost, .done = done, .done_ctx = ctx};
    return la;
}

int legacy_auth_start(legacy_auth *la, uint32_t conn, const char *username, const char *password)
{
    if (la->n_checks >= AUTH_CONCURRENT_MAX || strlen(username) > CREDENTIAL_MAX ||
        strlen(password) > CREDENTIAL_MAX)
        return -1;
    auth_check *a = calloc(1, sizeof *a);
    if (!a) return -1;
    char client_id[48];
    snprintf(client_id, sizeof client_id, "kb-legacy-auth-%u", ++la->serial);
    a->owner = la;
    a->conn = conn;
    a->verdict = -2;
    a->packet = connect_packet(client_id, username, password, &a->packet_len);
    lws_sock_file_fd_type fd;
    fd.filefd = a->packet ? open_socket(la) : -1;
    a->wsi = fd.filefd < 0 ? NULL
                           : lws_adopt_descriptor_vhost(la->vhost, LWS_ADOPT_RAW_FILE_DESC, fd,
                                                        legacy_auth_protocol.name, NULL);
    if (!a->wsi) {
        if (fd.filefd >= 0) close(fd.filefd);
        forget_packet(a);
        free(a);
        return -1;
    }
    lws_set_opaque_user_data(a->wsi, a);
    lws_set_timeout(a->wsi, PENDING_TIMEOUT_USER_OK, AUTH_TIMEOUT_S);
    lws_callback_on_writable(a->wsi); /* writable = connected */
    a->next = la->checks;
    la->checks = a;
    la->n_checks++;
    return 0;
}

static void unlink_check(auth_check *a)
{
    legacy_auth *la = a->owner;
    for (auth_check **p = &la->checks; *p; p = &(*p)->next)
        if (*p == a) {
            *p = a->next;
            la->n_checks--;
            return;
        }
}

/* Sends the CONNECT once the connect completed. 0, or -1 to give up. */
static int on_writeable(auth_check *a, int fd)
{
    if (a->sent) return 0;
    int err = 0;
    socklen_t el = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) return -1;
    /* Far smaller than any socket buffer: it goes in one write. */
    ssize_t n = send(fd, a->packet, a->packet_len, MSG_NOSIGNAL);
    forget_packet(a);
    if (n < 0) return -1;
    a->sent = 1;
    return 0;
}

/* Reads the CONNACK. 1 when the verdict is in, 0 for more, -1 on error. */
static int on_readable(auth_check *a, int fd)
{
    ssize_t n = recv(fd, a->connack + a->got, sizeof a->connack - a->got, 0);
    if (n <= 0) return n < 0 && (errno == EAGAIN || errno == EINTR) ? 0 : -1;
    a->got += (size_t)n;
    if (a->got < sizeof a->connack) return 0;
    if (a->connack[0] != 0x20 || a->connack[1] != 2) return -1;
    a->verdict = a->connack[3] == 0;
    if (a->verdict) send(fd, "\xe0\x00", 2, MSG_NOSIGNAL); /* DISCONNECT: a clean goodbye */
    return 1;
}

static int auth_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)user;
    (void)in;
    (void)len;
    auth_check *a = lws_get_opaque_user_data(wsi);
    int fd = lws_get_socket_fd(wsi);
    switch (reason) {
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (!a || on_writeable(a, fd) != 0) return -1;
        break;
    case LWS_CALLBACK_RAW_RX_FILE:
        if (!a) return -1;
        switch (on_readable(a, fd)) {
        case 0: break;
        case 1: return -1; /* done: close, report below */
        default:
            a->verdict = -1;
            return -1;
        }
        break;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        if (!a) break;
        lws_set_opaque_user_data(wsi, NULL);
        unlink_check(a);
        if (a->verdict == -2) {
            log_warn("legacy login check: no answer from the broker");
            a->verdict = -1;
        }
        forget_packet(a);
        a->owner->done(a->owner->done_ctx, a->conn, a->verdict);
        free(a);
        break;
    default:
        break;
    }
    return 0;
}

void legacy_auth_free(legacy_auth *la)
{
    if (!la) return;
    while (la->checks) {
        auth_check *a = la->checks;
        la->checks = a->next;
        lws_set_opaque_user_data(a->wsi, NULL);
        forget_packet(a);
        free(a);
    }
    free(la);
}

const struct lws_protocols legacy_auth_protocol = {"kb-legacy-auth", auth_callback, 0, 0, 0, NULL, 0};
