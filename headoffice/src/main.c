/* main.c - kb-headoffice: every outlet's order events, from the chain's
 * clustered broker (a NATS JetStream cluster speaking MQTT 3.1.1, or EMQX,
 * HiveMQ...) into PostgreSQL, each once, and `seen` back to the outlets
 * (docs/HEADOFFICE.md).
 *
 * Settings (environment):
 *   KB_HO_BROKERS        host:port[,host:port...]  every node of the cluster (required)
 *   KB_HO_USERNAME       its broker account (default kb-headoffice)
 *   KB_HO_PASSWORD_FILE  a file holding that account's password (required; never logged)
 *   KB_HO_DATABASE       libpq conninfo or URL without a password, e.g. "host=db dbname=kb user=kb" (required)
 *   KB_HO_DATABASE_PASSWORD_FILE  a file holding its password (optional; or ~/.pgpass)
 *   KB_HO_CLIENT_ID      the persistent session's client id (default kb-headoffice)
 *   KB_HO_BATCH_MS       how long events gather before a commit (default 20)
 *
 * One thread, one loop: MQTT in, a batch per commit, `seen` out.
 * - The session is persistent (clean session off, fixed client id, QoS 1),
 *   so the cluster keeps what arrives while we are away. We connect to the
 *   nodes in turn, moving to the next after a failure.
 * - libmosquitto acknowledges a QoS 1 message when it hands it to us, before
 *   we have stored it (lib/handle_publish.c). So what is acknowledged and not
 *   yet committed is lost from the broker if we die: it comes back from the
 *   outlet's journal, because `seen` (published only after a commit) stays
 *   behind it and the outlet replays what is above `seen`
 *   (docs/UPLINK.md). A duplicate is dropped by the store.
 * - PostgreSQL down: we disconnect from the broker (nothing more is
 *   acknowledged; the cluster queues it), keep the batch, retry the commit
 *   with backoff, and reconnect once it succeeds. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mosquitto.h>

#include "clock.h"
#include "ho_event.h"
#include "ho_store.h"
#include "log.h"

#define MAX_BROKERS 8
#define BATCH_MAX 2000
#define BACKOFF_MIN_MS 250.0
#define BACKOFF_MAX_MS 5000.0

typedef struct {
    char host[128];
    int port;
} broker_addr;

typedef struct {
    broker_addr brokers[MAX_BROKERS];
    int n_brokers;
    char username[128];
    char password[256];
    char database[1024];
    char db_password[256]; /* "" if none */
    char client_id[128];
    double batch_ms;
} ho_config;

typedef struct {
    ho_config c;
    struct mosquitto *mosq;
    ho_store *store;
    int current;        /* broker index in use */
    int connected;      /* CONNACK 0 seen, not yet disconnected */
    int connecting;     /* an attempt is under way */
    double retry_at_ms; /* next connect attempt (monotonic) */
    double backoff_ms;
    int pg_down;
    double pg_retry_at_ms, pg_backoff_ms;
    ho_item *batch;
    size_t n_batch;
    double batch_since_ms;
    int publish_all_seen; /* after a connect */
} ho_app;

static volatile sig_atomic_t stop_requested;
static void on_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static int fail_config(const char *line)
{
    log_error("%s", line);
    return -1;
}

/* The first line of a secret file into dst: 0, or -1 with the reason logged
 * (never the secret). */
static int read_secret(const char *path, const char *setting, char *dst, size_t len)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        log_error("cannot read %s %s (%s)", setting, path, strerror(errno));
        return -1;
    }
    size_t n = fread(dst, 1, len - 1, f);
    fclose(f);
    dst[n] = '\0';
    dst[strcspn(dst, "\r\n")] = '\0';
    if (!dst[0]) {
        log_error("%s %s is empty: put the password in it", setting, path);
        return -1;
    }
    return 0;
}

static int read_config(ho_config *c)
{
    memset(c, 0, sizeof *c);
    const char *brokers = getenv("KB_HO_BROKERS"), *pwfile = getenv("KB_HO_PASSWORD_FILE"),
               *db = getenv("KB_HO_DATABASE");
    if (!brokers || !*brokers)
        return fail_config("KB_HO_BROKERS is not set: list the cluster's MQTT nodes, e.g. KB_HO_BROKERS=ho1:1883,ho2:1883,ho3:1883");
    char list[1024];
    snprintf(list, sizeof list, "%s", brokers);
    for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        char *colon = strrchr(tok, ':');
        char *end = NULL;
        long port = colon ? strtol(colon + 1, &end, 10) : 0;
        if (!colon || colon == tok || *end || port < 1 || port > 65535 || (size_t)(colon - tok) >= sizeof c->brokers[0].host ||
            c->n_brokers == MAX_BROKERS)
            return fail_config("KB_HO_BROKERS must be host:port[,host:port...] (at most 8), e.g. ho1:1883,ho2:1883");
        broker_addr *b = &c->brokers[c->n_brokers++];
        memcpy(b->host, tok, (size_t)(colon - tok));
        b->port = (int)port;
    }
    if (!pwfile || !*pwfile)
        return fail_config("KB_HO_PASSWORD_FILE is not set: name a file holding the broker account's password");
    if (read_secret(pwfile, "KB_HO_PASSWORD_FILE", c->password, sizeof c->password)) return -1;
    if (!db || !*db)
        return fail_config("KB_HO_DATABASE is not set: give PostgreSQL's conninfo, e.g. KB_HO_DATABASE=\"host=/run/postgresql dbname=kb\"");
    snprintf(c->database, sizeof c->database, "%s", db);
    const char *dbpw = getenv("KB_HO_DATABASE_PASSWORD_FILE");
    if (dbpw && *dbpw && read_secret(dbpw, "KB_HO_DATABASE_PASSWORD_FILE", c->db_password, sizeof c->db_password)) return -1;
    const char *user = getenv("KB_HO_USERNAME"), *id = getenv("KB_HO_CLIENT_ID"), *ms = getenv("KB_HO_BATCH_MS");
    snprintf(c->username, sizeof c->username, "%s", user && *user ? user : "kb-headoffice");
    snprintf(c->client_id, sizeof c->client_id, "%s", id && *id ? id : "kb-headoffice");
    c->batch_ms = 20;
    if (ms && *ms) {
        char *end;
        long v = strtol(ms, &end, 10);
        if (*end || v < 0 || v > 10000) return fail_config("KB_HO_BATCH_MS must be 0-10000 (milliseconds)");
        c->batch_ms = (double)v;
    }
    return 0;
}

/* ---- seen out ---- */

static void publish_seen(ho_app *a, const ho_seen *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char topic[HO_TOPIC_MAX], doc[48];
        if (ho_seen_topic(topic, sizeof topic, s[i].outlet, s[i].tenant) || ho_seen_doc(doc, sizeof doc, s[i].seen)) continue;
        mosquitto_publish(a->mosq, NULL, topic, (int)strlen(doc), doc, 1, true);
    }
}

static void publish_all_seen(ho_app *a)
{
    ho_seen *all;
    size_t n;
    char err[400];
    if (ho_store_all_seen(a->store, &all, &n, err, sizeof err) != 0) {
        log_warn("cannot read seen to publish it again: %s", err);
        return;
    }
    publish_seen(a, all, n);
    free(all);
    a->publish_all_seen = 0;
}

/* ---- MQTT in ---- */

static void on_connect(struct mosquitto *m, void *ctx, int rc)
{
    ho_app *a = ctx;
    a->connecting = 0;
    const broker_addr *b = &a->c.brokers[a->current];
    if (rc != 0) {
        log_warn("broker %s:%d refused us: %s", b->host, b->port, mosquitto_connack_string(rc));
        return;
    }
    a->connected = 1;
    a->backoff_ms = 0;
    log_info("connected to broker %s:%d as %s", b->host, b->port, a->c.username);
    int mid;
    mosquitto_subscribe(m, &mid, HO_SUB_EVENTS, 1);
    mosquitto_subscribe(m, &mid, HO_SUB_REPLAY, 1);
    a->publish_all_seen = 1;
}

static void on_disconnect(struct mosquitto *m, void *ctx, int rc)
{
    (void)m;
    ho_app *a = ctx;
    if (a->connected || rc != 0)
        log_warn("disconnected from broker %s:%d%s", a->c.brokers[a->current].host, a->c.brokers[a->current].port,
                 rc == 0 ? "" : " (connection lost)");
    a->connected = a->connecting = 0;
}

static void on_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    (void)m;
    ho_app *a = ctx;
    ho_item it;
    char err[200];
    if (ho_event_parse(msg->topic, msg->payload, (size_t)msg->payloadlen, &it.e, err, sizeof err) != 0) {
        log_warn("dropped a message on %s: %s", msg->topic, err);
        return;
    }
    it.doc = malloc((size_t)msg->payloadlen + 1);
    if (!it.doc) {
        log_error("out of memory: event %s/%s seq %lld dropped (the outlet's replay sends it again)", it.e.outlet,
                  it.e.tenant, (long long)it.e.seq);
        return;
    }
    memcpy(it.doc, msg->payload, (size_t)msg->payloadlen);
    it.doc[msg->payloadlen] = '\0';
    /* PostgreSQL's jsonb cannot hold U+0000: the same length, U+FFFD. */
    for (char *p = strstr(it.doc, "\\u0000"); p; p = strstr(p + 6, "\\u0000")) memcpy(p, "\\ufffd", 6);
    if (a->n_batch == 0) a->batch_since_ms = kb_now_ms();
    a->batch[a->n_batch++] = it;
}

static void connect_next(ho_app *a, double now)
{
    if (a->connected || a->connecting || now < a->retry_at_ms || a->pg_down) return;
    const broker_addr *b = &a->c.brokers[a->current];
    a->connecting = 1;
    int rc = mosquitto_connect_async(a->mosq, b->host, b->port, 30);
    if (rc != MOSQ_ERR_SUCCESS) {
        a->connecting = 0;
        log_warn("cannot connect to broker %s:%d (%s)", b->host, b->port, mosquitto_strerror(rc));
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        a->current = (a->current + 1) % a->c.n_brokers;
        a->backoff_ms = a->backoff_ms ? a->backoff_ms * 2 : BACKOFF_MIN_MS;
        if (a->backoff_ms > BACKOFF_MAX_MS) a->backoff_ms = BACKOFF_MAX_MS;
        a->retry_at_ms = now + a->backoff_ms;
    }
}

/* ---- the batch ---- */

static void free_batch(ho_app *a)
{
    for (size_t i = 0; i < a->n_batch; i++) free(a->batch[i].doc);
    a->n_batch = 0;
}

static void commit(ho_app *a, double now)
{
    if (!a->n_batch) return;
    if (a->pg_down && now < a->pg_retry_at_ms) return;
    ho_seen *moved;
    size_t n_moved;
    char err[400];
    if (ho_store_commit(a->store, a->batch, a->n_batch, &moved, &n_moved, err, sizeof err) != 0) {
        if (!a->pg_down) {
            log_error("%s; %zu events wait, and the broker keeps the rest (disconnecting until PostgreSQL is back)",
                      err, a->n_batch);
            if (a->connected || a->connecting) mosquitto_disconnect(a->mosq);
        }
        a->pg_down = 1;
        a->pg_backoff_ms = a->pg_backoff_ms ? a->pg_backoff_ms * 2 : BACKOFF_MIN_MS;
        if (a->pg_backoff_ms > BACKOFF_MAX_MS) a->pg_backoff_ms = BACKOFF_MAX_MS;
        a->pg_retry_at_ms = now + a->pg_backoff_ms;
        return;
    }
    if (a->pg_down) log_info("PostgreSQL is back: %zu waiting events stored; reconnecting to the broker", a->n_batch);
    a->pg_down = 0;
    a->pg_backoff_ms = 0;
    free_batch(a);
    if (a->connected) publish_seen(a, moved, n_moved);
    free(moved);
}

int main(int argc, char **argv)
{
    (void)argv;
    if (argc != 1) {
        fprintf(stderr, "usage: kb-headoffice (settings from KB_HO_* environment variables; docs/HEADOFFICE.md)\n");
        return 2;
    }
    static ho_app a;
    if (read_config(&a.c) != 0) return 2;
    char err[400];
    a.store = ho_store_open(a.c.database, a.c.db_password[0] ? a.c.db_password : NULL, err, sizeof err);
    if (!a.store) {
        log_error("%s (KB_HO_DATABASE)", err);
        return 2;
    }
    log_info("PostgreSQL schema ready");
    a.batch = calloc(BATCH_MAX, sizeof *a.batch);
    mosquitto_lib_init();
    a.mosq = mosquitto_new(a.c.client_id, false, &a);
    if (!a.batch || !a.mosq) {
        log_error("out of memory");
        return 1;
    }
    mosquitto_int_option(a.mosq, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_username_pw_set(a.mosq, a.c.username, a.c.password);
    mosquitto_connect_callback_set(a.mosq, on_connect);
    mosquitto_disconnect_callback_set(a.mosq, on_disconnect);
    mosquitto_message_callback_set(a.mosq, on_message);
    /* Never more in flight to us than one batch can hold. */
    mosquitto_max_inflight_messages_set(a.mosq, 100);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    while (!stop_requested) {
        double now = kb_now_ms();
        connect_next(&a, now);
        if (a.connected || a.connecting) {
            int rc = mosquitto_loop(a.mosq, a.n_batch ? 5 : 50, 1);
            if (rc != MOSQ_ERR_SUCCESS && (a.connected || a.connecting)) {
                log_warn("broker %s:%d: %s; trying the next node", a.c.brokers[a.current].host,
                         a.c.brokers[a.current].port, mosquitto_strerror(rc));
                a.connected = a.connecting = 0;
                a.current = (a.current + 1) % a.c.n_brokers;
                a.backoff_ms = a.backoff_ms ? a.backoff_ms * 2 : BACKOFF_MIN_MS;
                if (a.backoff_ms > BACKOFF_MAX_MS) a.backoff_ms = BACKOFF_MAX_MS;
                a.retry_at_ms = now + a.backoff_ms;
            }
        } else {
            struct timespec ts = {0, 20 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        now = kb_now_ms();
        if (a.n_batch && (a.n_batch >= BATCH_MAX - 100 || now - a.batch_since_ms >= a.c.batch_ms || a.pg_down))
            commit(&a, now);
        if (a.connected && a.publish_all_seen && !a.pg_down) publish_all_seen(&a);
    }
    log_info("stopping");
    commit(&a, kb_now_ms() + 1e9);
    if (a.connected) {
        mosquitto_disconnect(a.mosq);
        mosquitto_loop(a.mosq, 100, 1);
    }
    free_batch(&a);
    free(a.batch);
    mosquitto_destroy(a.mosq);
    mosquitto_lib_cleanup();
    ho_store_close(a.store);
    return 0;
}
