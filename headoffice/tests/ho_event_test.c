/* ho_event_test.c - the head-office consumer's reading of topics and
 * events, and the seen documents it writes (pure). */
#include <string.h>

#include "check.h"
#include "ho_event.h"

static int parse(const char *topic, const char *payload, ho_event *e)
{
    char err[200];
    return ho_event_parse(topic, payload, strlen(payload), e, err, sizeof err);
}

int main(void)
{
    ho_event e;
    CHECK(parse("kitchen-bus/outlets/mall-1/outlet/tenant/pizza/events",
                "{\"event\":\"created\",\"order_number\":\"A-1\",\"status\":\"new\",\"seq\":17,\"created_seq\":17,"
                "\"at\":\"2026-12-03T10:00:00.000Z\",\"order\":{}}", &e) == 0);
    CHECK(strcmp(e.outlet, "mall-1") == 0 && strcmp(e.tenant, "pizza") == 0 && e.seq == 17 && e.created_seq == 17);
    CHECK(strcmp(e.event, "created") == 0 && strcmp(e.status, "new") == 0 && !e.replay && e.at[0]);
    CHECK(parse("kitchen-bus/outlets/mall-1/replay/pizza",
                "{\"event\":\"status\",\"order_number\":\"A-1\",\"status\":\"ready\",\"seq\":18,\"created_seq\":17,\"at\":\"x\"}",
                &e) == 0);
    CHECK(e.replay && e.seq == 18 && e.created_seq == 17 && e.at[0] == '\0'); /* a bad time is unknown, not an error */
    /* A bridge before contract 1.4: no created_seq on a change. */
    CHECK(parse("kitchen-bus/outlets/o/outlet/tenant/t/events",
                "{\"event\":\"closed\",\"order_number\":\"A-1\",\"status\":\"served\",\"seq\":19}", &e) == 0);
    CHECK(e.created_seq == 0);
    static const char *const bad_topics[] = {
        "kitchen-bus/outlets/o/outlet/tenant/t/events/x", "kitchen-bus/outlets//outlet/tenant/t/events",
        "kitchen-bus/outlets/O/outlet/tenant/t/events", "kitchen-bus/outlets/o/outlet/tenant/+/events",
        "kitchen-bus/outlets/o/seen/t", "kitchen-bus/outlets/o/replay/t/x", "other/o/outlet/tenant/t/events"};
    for (size_t i = 0; i < sizeof bad_topics / sizeof *bad_topics; i++)
        CHECK(parse(bad_topics[i], "{\"event\":\"created\",\"order_number\":\"A\",\"status\":\"new\",\"seq\":1}", &e) != 0);
    static const char *const bad_docs[] = {
        "", "[]", "{\"seq\":1}", "{\"event\":\"created\",\"order_number\":\"A\",\"status\":\"new\"}",
        "{\"event\":\"created\",\"order_number\":\"A\",\"status\":\"new\",\"seq\":0}",
        "{\"event\":\"created\",\"order_number\":\"A\",\"status\":\"new\",\"seq\":1.5}",
        "{\"event\":\"created\",\"order_number\":\"A\",\"status\":\"new\",\"seq\":\"1\"}",
        "{\"event\":\"created\",\"order_number\":\"A\",\"status\":\"new\",\"seq\":1} trailing"};
    for (size_t i = 0; i < sizeof bad_docs / sizeof *bad_docs; i++)
        CHECK(parse("kitchen-bus/outlets/o/outlet/tenant/t/events", bad_docs[i], &e) != 0);
    char buf[HO_TOPIC_MAX];
    CHECK(ho_seen_topic(buf, sizeof buf, "mall-1", "pizza") == 0 && strcmp(buf, "kitchen-bus/outlets/mall-1/seen/pizza") == 0);
    CHECK(ho_seen_doc(buf, sizeof buf, 42) == 0 && strcmp(buf, "{\"seq\":42}") == 0);
    CHECK(ho_seen_doc(buf, 5, 42) != 0);
    return check_report();
}
