/* Server ticket keys (ticket_keys.c), on a clock the test passes: a key
 * seals for an hour, then opens tickets for their 2-hour lifetime only. */
#include "testlib.h"
#include "ticket_keys.h"

#define HOUR 3600
#define LIFETIME 7200

static int same(const ns_ticket_key *a, const ns_ticket_key *b)
{
    return memcmp(a, b, sizeof *a) == 0;
}

static void test_keys_rotate_hourly_and_open_tickets_for_their_lifetime(void)
{
    ns_ticket_keys *k = ns_ticket_keys_new(LIFETIME);
    CHECK(k != NULL);
    ns_ticket_key a, b, c, got;
    int64_t t0 = 1000;
    CHECK_EQ(ns_ticket_keys_get(k, t0, NULL, &a), 1);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR - 1, NULL, &got), 1);
    CHECK(same(&got, &a));
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR - 1, a.name, &got), 1);
    /* An hour on: a new key seals; the old one still opens, asking for renewal. */
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR, NULL, &b), 1);
    CHECK(!same(&a, &b) && memcmp(a.name, b.name, sizeof a.name) != 0);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR, a.name, &got), 2);
    CHECK(same(&got, &a));
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR, b.name, &got), 1);
    CHECK(same(&got, &b));
    /* a sealed its last ticket at t0 + HOUR; that ticket lives 2 hours. */
    CHECK_EQ(ns_ticket_keys_get(k, t0 + 2 * HOUR, NULL, &c), 1);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR + LIFETIME - 1, a.name, &got), 2);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR + LIFETIME, a.name, &got), 0);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + HOUR + LIFETIME, b.name, &got), 2);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + 2 * HOUR + LIFETIME, b.name, &got), 0);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + 2 * HOUR + LIFETIME, c.name, &got), 2);
    /* Unused since: c's last ticket has expired too, and a new key seals. */
    CHECK_EQ(ns_ticket_keys_get(k, t0 + 3 * HOUR + LIFETIME, c.name, &got), 0);
    uint8_t unknown[16] = {0};
    CHECK_EQ(ns_ticket_keys_get(k, t0 + 3 * HOUR + LIFETIME, unknown, &got), 0);
    CHECK_EQ(ns_ticket_keys_get(k, t0 + 3 * HOUR + LIFETIME, NULL, &got), 1);
    CHECK(!same(&got, &c));
    ns_ticket_keys_free(k);
}

static const ns_test tests[] = {
    TEST(test_keys_rotate_hourly_and_open_tickets_for_their_lifetime),
};
NS_TEST_MAIN(tests)
