/* kb_bench.c - end-to-end latency of the Kitchen Bus over MQTT/TCP.
 *
 * One POS sends orders at a fixed rate (open loop: send times are planned,
 * never pushed back by slow answers) to one tenant with K kitchens, all in
 * this process, so one monotonic clock times everything:
 *
 *   --path bridge   POS -> submit topic -> kb-bridge -> retained orders/<n>
 *                   -> kitchens; the POS also times the bridge's ack.
 *   --path direct   the same publisher and kitchens straight through the
 *                   broker, publishing retained QoS 1 messages shaped like
 *                   the bridge's: the limit of the architecture. "ack" is
 *                   then the broker's PUBACK. They use outlet/bench/<tenant>/
 *                   orders/<n>, a subtree no bridge subscription covers, so
 *                   the broker does the work of one publisher and K
 *                   subscribers and nothing else; all log in with the
 *                   --direct-user account.
 *
 * Prints one JSON line. tests/bench/run.mjs starts the bus and drives it. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <mosquitto.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#define MAX_KITCHENS 64

typedef struct {
    const char *host, *path, *tenant, *pos_user, *pos_pass, *kitchen_user, *kitchen_pass;
    const char *direct_user, *direct_pass_file, *label;
    int port, kitchens;
    double rate, seconds;
} options;

typedef struct {
    int n;
    char run[16];
    double *sent;          /* [n] ms */
    double *acked;         /* [n] ms, 0 = not yet */
    double *seen;          /* [n * kitchens] ms, 0 = not yet */
    int *mid_to_index;     /* direct path: message id -> order index */
    pthread_mutex_t mid_lock;
    atomic_int acks, deliveries;
    int kitchens;
} run_state;

typedef struct {
    run_state *rs;
    int kitchen;
} kitchen_ctx;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Order numbers are "<run>-<index>"; returns the index or -1. */
static int order_index(run_state *rs, const char *s)
{
    size_t rl = strlen(rs->run);
    if (strncmp(s, rs->run, rl) != 0 || s[rl] != '-') return -1;
    int i = atoi(s + rl + 1);
    return i >= 0 && i < rs->n ? i : -1;
}

static void on_kitchen_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    (void)m;
    kitchen_ctx *k = ctx;
    if (msg->payloadlen == 0) return;
    const char *slash = strrchr(msg->topic, '/');
    int i = slash ? order_index(k->rs, slash + 1) : -1;
    if (i < 0) return;
    double *slot = &k->rs->seen[(size_t)i * (size_t)k->rs->kitchens + (size_t)k->kitchen];
    if (*slot == 0) {
        *slot = now_ms();
        atomic_fetch_add(&k->rs->deliveries, 1);
    }
}

static void on_ack_message(struct mosquitto *m, void *ctx, const struct mosquitto_message *msg)
{
    (void)m;
    run_state *rs = ctx;
    const char *p = msg->payload ? strstr(msg->payload, "\"order_number\":\"") : NULL;
    if (!p) return;
    int i = order_index(rs, p + 16);
    if (i >= 0 && rs->acked[i] == 0) {
        rs->acked[i] = now_ms();
        atomic_fetch_add(&rs->acks, 1);
    }
}

/* SUBACKs seen, from every client: sending starts once all have arrived. */
static atomic_int subacks;

static void on_suback(struct mosquitto *m, void *ctx, int mid, int qos_count, const int *granted)
{
    (void)m;
    (void)ctx;
    (void)mid;
    if (qos_count == 1 && granted[0] == 1) atomic_fetch_add(&subacks, 1);
    else fprintf(stderr, "kb-bench: a subscription was refused\n");
}

static void on_direct_puback(struct mosquitto *m, void *ctx, int mid)
{
    (void)m;
    run_state *rs = ctx;
    pthread_mutex_lock(&rs->mid_lock);
    int i = rs->mid_to_index[mid & 0xffff];
    pthread_mutex_unlock(&rs->mid_lock);
    if (i >= 0 && rs->acked[i] == 0) {
        rs->acked[i] = now_ms();
        atomic_fetch_add(&rs->acks, 1);
    }
}

static struct mosquitto *client(const char *id, const char *user, const char *pass, void *ctx,
                                const options *o)
{
    struct mosquitto *m = mosquitto_new(id, true, ctx);
    if (!m) return NULL;
    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1);
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    mosquitto_max_inflight_messages_set(m, 0);
    mosquitto_username_pw_set(m, user, pass);
    if (mosquitto_connect(m, o->host, o->port, 30) != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "kb-bench: %s cannot connect to %s:%d\n", user, o->host, o->port);
        mosquitto_destroy(m);
        return NULL;
    }
    return m;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Prints {"p50":..,"p99":..,"p999":..,"max":..,"n":..} for the latencies. */
static void print_stats(const char *name, double *v, size_t n)
{
    if (n == 0) {
        printf("\"%s\":null", name);
        return;
    }
    qsort(v, n, sizeof *v, cmp_double);
#define PCT(p) v[(size_t)((double)(n - 1) * (p))]
    printf("\"%s\":{\"p50\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,\"n\":%zu}", name, PCT(0.50), PCT(0.99),
           PCT(0.999), v[n - 1], n);
#undef PCT
}

static char *read_file(const char *path)
{
    static char buf[256];
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
    buf[n] = '\0';
    return buf;
}

static void usage(void)
{
    fprintf(stderr, "usage: kb-bench [--host H] --port P --path bridge|direct [--rate R] [--seconds S] [--kitchens K]\n"
                    "  [--tenant T] [--pos-user U --pos-pass P] [--kitchen-user U --kitchen-pass P]\n"
                    "  [--direct-user U --direct-pass-file F] [--label L]\n");
    exit(2);
}

static void parse_options(int argc, char **argv, options *o)
{
    static const struct option longs[] = {
        {"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"path", 1, 0, 'P'}, {"rate", 1, 0, 'r'},
        {"seconds", 1, 0, 's'}, {"kitchens", 1, 0, 'k'}, {"tenant", 1, 0, 't'}, {"pos-user", 1, 0, 1},
        {"pos-pass", 1, 0, 2}, {"kitchen-user", 1, 0, 3}, {"kitchen-pass", 1, 0, 4},
        {"direct-user", 1, 0, 5}, {"direct-pass-file", 1, 0, 6}, {"label", 1, 0, 7}, {0, 0, 0, 0}};
    *o = (options){.host = "127.0.0.1", .path = "bridge", .tenant = "pizza", .pos_user = "pizza-pos",
                   .pos_pass = "pizza-pos", .kitchen_user = "pizza-kitchen", .kitchen_pass = "pizza-kitchen",
                   .direct_user = "kb-bridge", .label = "latency", .kitchens = 4, .rate = 200, .seconds = 10};
    int c;
    while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
        case 'h': o->host = optarg; break;
        case 'p': o->port = atoi(optarg); break;
        case 'P': o->path = optarg; break;
        case 'r': o->rate = atof(optarg); break;
        case 's': o->seconds = atof(optarg); break;
        case 'k': o->kitchens = atoi(optarg); break;
        case 't': o->tenant = optarg; break;
        case 1: o->pos_user = optarg; break;
        case 2: o->pos_pass = optarg; break;
        case 3: o->kitchen_user = optarg; break;
        case 4: o->kitchen_pass = optarg; break;
        case 5: o->direct_user = optarg; break;
        case 6: o->direct_pass_file = optarg; break;
        case 7: o->label = optarg; break;
        default: usage();
        }
    }
    int direct = strcmp(o->path, "direct") == 0;
    if (!o->port || o->rate <= 0 || o->seconds <= 0 || o->kitchens < 1 || o->kitchens > MAX_KITCHENS ||
        (!direct && strcmp(o->path, "bridge") != 0) || (direct && !o->direct_pass_file))
        usage();
}

int main(int argc, char **argv)
{
    options o;
    parse_options(argc, argv, &o);
    int direct = strcmp(o.path, "direct") == 0;
    run_state rs = {.kitchens = o.kitchens};
    rs.n = (int)(o.rate * o.seconds);
    /* Unique per run, so a retained order of an earlier run is never mistaken for ours. */
    struct timespec id_ts;
    clock_gettime(CLOCK_REALTIME, &id_ts);
    snprintf(rs.run, sizeof rs.run, "B%lx%lx", (unsigned long)id_ts.tv_sec % 0xfffff,
             ((unsigned long)id_ts.tv_nsec ^ (unsigned long)getpid()) % 0xfffff);
    rs.sent = calloc((size_t)rs.n, sizeof(double));
    rs.acked = calloc((size_t)rs.n, sizeof(double));
    rs.seen = calloc((size_t)rs.n * (size_t)o.kitchens, sizeof(double));
    rs.mid_to_index = malloc(65536 * sizeof(int));
    if (!rs.sent || !rs.acked || !rs.seen || !rs.mid_to_index) return 1;
    memset(rs.mid_to_index, 0xff, 65536 * sizeof(int));
    pthread_mutex_init(&rs.mid_lock, NULL);
    mosquitto_lib_init();

    char topic_orders[256], topic_submit[256], topic_ack[256], id[64];
    const char *subtree = direct ? "bench" : "tenant";
    snprintf(topic_orders, sizeof topic_orders, "outlet/%s/%s/orders/+", subtree, o.tenant);
    snprintf(topic_submit, sizeof topic_submit, "outlet/tenant/%s/pos/%s/submit", o.tenant, o.pos_user);
    snprintf(topic_ack, sizeof topic_ack, "outlet/tenant/%s/pos/%s/ack", o.tenant, o.pos_user);

    const char *direct_pass = NULL;
    if (direct && !(direct_pass = read_file(o.direct_pass_file))) {
        fprintf(stderr, "kb-bench: cannot read %s\n", o.direct_pass_file);
        return 1;
    }
    kitchen_ctx kctx[MAX_KITCHENS];
    struct mosquitto *kitchens[MAX_KITCHENS] = {0};
    for (int k = 0; k < o.kitchens; k++) {
        kctx[k] = (kitchen_ctx){&rs, k};
        snprintf(id, sizeof id, "bench-k%d-%s", k, rs.run);
        kitchens[k] = direct ? client(id, o.direct_user, direct_pass, &kctx[k], &o)
                             : client(id, o.kitchen_user, o.kitchen_pass, &kctx[k], &o);
        if (!kitchens[k]) return 1;
        mosquitto_message_callback_set(kitchens[k], on_kitchen_message);
        mosquitto_subscribe_callback_set(kitchens[k], on_suback);
        mosquitto_subscribe(kitchens[k], NULL, topic_orders, 1);
        mosquitto_loop_start(kitchens[k]);
    }
    struct mosquitto *pub;
    snprintf(id, sizeof id, "bench-pub-%s", rs.run);
    if (direct) {
        pub = client(id, o.direct_user, direct_pass, &rs, &o);
        if (!pub) return 1;
        mosquitto_publish_callback_set(pub, on_direct_puback);
    } else {
        pub = client(id, o.pos_user, o.pos_pass, &rs, &o);
        if (!pub) return 1;
        mosquitto_message_callback_set(pub, on_ack_message);
        mosquitto_subscribe_callback_set(pub, on_suback);
        mosquitto_subscribe(pub, NULL, topic_ack, 1);
    }
    mosquitto_loop_start(pub);
    /* Wait (with a deadline) until every subscription is acknowledged, so no
     * order is sent before its kitchens listen. The first 2 % of orders are
     * still a warm-up, excluded from the figures. */
    int want_subacks = o.kitchens + (direct ? 0 : 1);
    for (double until = now_ms() + 10000; atomic_load(&subacks) < want_subacks;) {
        if (now_ms() > until) {
            fprintf(stderr, "kb-bench: subscriptions not acknowledged within 10 s\n");
            return 1;
        }
        struct timespec ts = {0, 1000000L};
        nanosleep(&ts, NULL);
    }

    char payload[512], topic[256];
    double start = now_ms() + 10, interval = 1000.0 / o.rate;
    for (int i = 0; i < rs.n; i++) {
        double due = start + i * interval;
        double wait = due - now_ms();
        if (wait > 0) {
            long long ns = (long long)(wait * 1e6);
            struct timespec ts = {(time_t)(ns / 1000000000LL), (long)(ns % 1000000000LL)};
            nanosleep(&ts, NULL);
        }
        char number[48];
        snprintf(number, sizeof number, "%s-%d", rs.run, i);
        int len = snprintf(payload, sizeof payload,
                           "{\"order_number\":\"%s\",\"tenant_id\":\"%s\",\"customer_name\":\"Budi\",\"table\":\"12\","
                           "\"order_type\":\"dine_in\",\"items\":[{\"name\":\"Margherita\",\"qty\":2,"
                           "\"modifiers\":[\"extra cheese\"],\"station\":\"oven\"},{\"name\":\"Iced tea\",\"qty\":1}],"
                           "\"created_at\":\"2026-11-25T10:00:00Z\"}",
                           number, o.tenant);
        rs.sent[i] = now_ms();
        if (direct) {
            snprintf(topic, sizeof topic, "outlet/bench/%s/orders/%s", o.tenant, number);
            int mid = 0;
            pthread_mutex_lock(&rs.mid_lock);
            mosquitto_publish(pub, &mid, topic, len, payload, 1, true);
            rs.mid_to_index[mid & 0xffff] = i;
            pthread_mutex_unlock(&rs.mid_lock);
        } else {
            mosquitto_publish(pub, NULL, topic_submit, len, payload, 1, false);
        }
    }
    double sent_done = now_ms();
    int want_deliveries = rs.n * o.kitchens;
    while ((atomic_load(&rs.deliveries) < want_deliveries || atomic_load(&rs.acks) < rs.n) &&
           now_ms() - sent_done < 15000) {
        struct timespec ts = {0, 5 * 1000000L};
        nanosleep(&ts, NULL);
    }
    double elapsed_s = (now_ms() - start) / 1000.0;
    for (int k = 0; k < o.kitchens; k++) {
        mosquitto_disconnect(kitchens[k]);
        mosquitto_loop_stop(kitchens[k], false);
        mosquitto_destroy(kitchens[k]);
    }
    mosquitto_disconnect(pub);
    mosquitto_loop_stop(pub, false);
    mosquitto_destroy(pub);

    int warm = rs.n / 50;
    double *deliv = malloc((size_t)want_deliveries * sizeof(double));
    double *ack = malloc((size_t)rs.n * sizeof(double));
    size_t nd = 0, na = 0;
    for (int i = warm; i < rs.n; i++) {
        for (int k = 0; k < o.kitchens; k++) {
            double t = rs.seen[(size_t)i * (size_t)o.kitchens + (size_t)k];
            if (t > 0) deliv[nd++] = t - rs.sent[i];
        }
        if (rs.acked[i] > 0) ack[na++] = rs.acked[i] - rs.sent[i];
    }
    printf("{\"scenario\":\"%s\",\"path\":\"%s\",\"transport\":\"tcp\",\"rate\":%.0f,\"orders\":%d,\"kitchens\":%d,"
           "\"delivered\":%d,\"acked\":%d,\"lost_deliveries\":%d,\"lost_acks\":%d,\"elapsed_s\":%.2f,",
           o.label, o.path, o.rate, rs.n, o.kitchens, atomic_load(&rs.deliveries), atomic_load(&rs.acks),
           want_deliveries - atomic_load(&rs.deliveries), rs.n - atomic_load(&rs.acks), elapsed_s);
    print_stats("submit_to_kitchen_ms", deliv, nd);
    printf(",");
    print_stats(direct ? "submit_to_puback_ms" : "submit_to_ack_ms", ack, na);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf(",\"client_cpu_ms\":%.0f}\n", (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
                                           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
    free(deliv);
    free(ack);
    free(rs.sent);
    free(rs.acked);
    free(rs.seen);
    free(rs.mid_to_index);
    mosquitto_lib_cleanup();
    return 0;
}
