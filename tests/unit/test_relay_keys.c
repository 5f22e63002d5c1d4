/* test_relay_keys.c: the relay's per-key order rules (relay/keys.h): rows
 * of one key go out together only on one lane and topic; a failed row holds
 * later rows of its key (never other keys) until it is published or dead;
 * it goes again only once its key has drained; on.dead=block; tracked ids
 * are skipped until settled; busy slots. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "relay/keys.h"

#define MAIN 1
#define RETRY 2

static bool admit(sm_keys *k, int64_t id, const char *key)
{
    return sm_keys_admit(k, id, key, 3, MAIN, false, "t");
}

static void test_together(void)
{
    TEST_SECTION("rows of one key in flight together on one lane and topic");
    sm_keys k;
    sm_keys_init(&k, false);
    CHECK(!sm_keys_skip(&k, 1, "a"));
    CHECK(admit(&k, 1, "a"));
    CHECK(sm_keys_skip(&k, 1, "a")); /* tracked */
    CHECK(!sm_keys_skip(&k, 2, "a"));
    CHECK(admit(&k, 2, "a"));
    CHECK(admit(&k, 3, "b"));
    CHECK(admit(&k, 4, NULL));
    CHECK(!admit(&k, 4, NULL)); /* twice: no */
    CHECK_EQ_I64(k.inflight, 4);
    /* another topic for "a" while rows are in flight: wait, and hold the key */
    CHECK(!sm_keys_admit(&k, 5, "a", 3, MAIN, false, "other"));
    CHECK(sm_keys_skip(&k, 6, "a"));
    CHECK(!sm_keys_skip(&k, 6, "b"));
    /* another lane: the same */
    CHECK(!sm_keys_admit(&k, 7, "b", 3, RETRY, false, "t"));
    CHECK(sm_keys_skip(&k, 8, "b"));
    CHECK(!sm_keys_acked(&k, 1, "a"));
    CHECK(!sm_keys_take_wake(&k));
    CHECK(sm_keys_skip(&k, 6, "a")); /* row 2 still in flight */
    CHECK(!sm_keys_acked(&k, 2, "a"));
    CHECK(sm_keys_take_wake(&k)); /* a drained: claim again */
    CHECK(!sm_keys_skip(&k, 5, "a"));
    CHECK(sm_keys_admit(&k, 5, "a", 3, MAIN, false, "other"));
    /* acked rows stay tracked (skipped) until their mark is written */
    CHECK(sm_keys_skip(&k, 1, "a") && sm_keys_skip(&k, 2, "a"));
    sm_keys_settled(&k, 1);
    sm_keys_settled(&k, 2);
    CHECK(!sm_keys_skip(&k, 1, NULL));
    CHECK_EQ_I64(k.ids.n, 3); /* 3, 4 and 5 */
    sm_keys_release(&k);
}

static void test_failure_holds_key(void)
{
    TEST_SECTION("a failed row holds later rows of its key, never other keys");
    sm_keys k;
    sm_keys_init(&k, false);
    CHECK(admit(&k, 10, "a"));
    CHECK(admit(&k, 11, "a"));
    CHECK(admit(&k, 12, "b"));
    sm_keys_failed(&k, 10, "a", 5000);
    /* 11 is still in flight: the key drains before 10 goes again */
    CHECK(sm_keys_skip(&k, 13, "a"));
    CHECK(!sm_keys_skip(&k, 13, "b"));
    sm_keys_settled(&k, 10); /* its retry is written */
    CHECK(sm_keys_skip(&k, 10, "a")); /* head waits for the key to drain */
    /* 11 fails too (its batch failed) */
    sm_keys_failed(&k, 11, "a", 6000);
    sm_keys_settled(&k, 11);
    CHECK(sm_keys_take_wake(&k));
    CHECK(!sm_keys_skip(&k, 10, "a")); /* the head may go now */
    CHECK(sm_keys_skip(&k, 11, "a"));  /* later failed row waits */
    CHECK(sm_keys_skip(&k, 14, "a"));
    CHECK(!sm_keys_skip(&k, 9, "a")); /* an earlier row (late commit) is not held */
    /* the head goes out on the serial lane */
    CHECK(sm_keys_admit(&k, 10, "a", 3, RETRY, true, "t"));
    CHECK(sm_keys_skip(&k, 11, "a"));
    CHECK(!sm_keys_acked(&k, 10, "a"));
    sm_keys_settled(&k, 10);
    CHECK(sm_keys_take_wake(&k));
    CHECK(!sm_keys_skip(&k, 11, "a")); /* now 11 is the head */
    CHECK(sm_keys_skip(&k, 14, "a"));
    CHECK(sm_keys_admit(&k, 11, "a", 3, RETRY, true, "t"));
    /* serial: one row of the key at a time, even the next one */
    CHECK(!sm_keys_admit(&k, 14, "a", 3, RETRY, true, "t"));
    CHECK(!sm_keys_acked(&k, 11, "a"));
    sm_keys_settled(&k, 11);
    CHECK(!sm_keys_skip(&k, 14, "a"));
    CHECK(admit(&k, 14, "a"));
    CHECK(!sm_keys_acked(&k, 12, "b"));
    CHECK(!sm_keys_acked(&k, 14, "a"));
    sm_keys_settled(&k, 12);
    sm_keys_settled(&k, 14);
    CHECK_EQ_I64(k.keys.len, 0); /* nothing held: states are gone */
    CHECK_EQ_I64(k.ids.n, 0);
    sm_keys_release(&k);
}

static void test_overtake_detected(void)
{
    TEST_SECTION("a later row acknowledged while an earlier one failed is reported");
    sm_keys k;
    sm_keys_init(&k, false);
    CHECK(admit(&k, 1, "a"));
    CHECK(admit(&k, 2, "a"));
    sm_keys_failed(&k, 1, "a", 0);
    CHECK(sm_keys_acked(&k, 2, "a"));
    sm_keys_release(&k);
}

static void test_acks_seen(void)
{
    TEST_SECTION("what a consumer sees: a row acknowledged after a later row of its topic and key"
                 " is an inversion");
    sm_acks a;
    REQUIRE(sm_acks_init(&a));
    CHECK(!sm_acks_note(&a, "t", "k", 10));
    CHECK(!sm_acks_note(&a, "t", "k", 11));
    CHECK(sm_acks_note(&a, "t", "k", 5)); /* 5 lands after 11 */
    CHECK(!sm_acks_note(&a, "t", "k", 12));
    CHECK(!sm_acks_note(&a, "t", "j", 1)); /* another key */
    CHECK(!sm_acks_note(&a, "u", "k", 1)); /* another topic: another consumer's view */
    CHECK(!sm_acks_note(&a, "t", NULL, 1)); /* no key, no order */
    CHECK(!sm_acks_note(&a, "t", NULL, 0));
    /* 100,000 keys: the table forgets some, never confuses them */
    char key[32];
    int false_alarms = 0;
    for (int i = 0; i < 100000; i++) {
        snprintf(key, sizeof key, "key-%d", i);
        false_alarms += sm_acks_note(&a, "t", key, 1000000 - i);
    }
    CHECK_EQ_I64(false_alarms, 0);
    sm_acks_clear(&a);
    CHECK(!sm_acks_note(&a, "t", "k", 1)); /* forgotten (re-published on purpose) */
    sm_acks_release(&a);
}

static void test_budget_and_topics(void)
{
    TEST_SECTION("failing rows leave the in-flight budget; a topic that is not proven gets"
                 " `probe` rows in flight");
    sm_keys k;
    sm_keys_init(&k, false);
    CHECK(sm_keys_admit(&k, 1, "a", 0, 1, false, "t"));
    CHECK(sm_keys_admit(&k, 2, "b", 0, 1, false, "t"));
    CHECK(sm_keys_admit(&k, 3, "c", 0, 2, true, "t")); /* serial lane: no budget */
    CHECK_EQ_I64(k.budget, 2);
    sm_keys_failed(&k, 1, "a", 1000); /* waits for its retry: out of the budget */
    CHECK_EQ_I64(k.budget, 1);
    CHECK(sm_keys_tracked(&k, 1));
    sm_keys_settled(&k, 1);
    CHECK(!sm_keys_acked(&k, 2, "b"));
    CHECK_EQ_I64(k.budget, 1); /* acked, its mark not written yet */
    sm_keys_settled(&k, 2);
    CHECK_EQ_I64(k.budget, 0);
    CHECK(!sm_keys_acked(&k, 3, "c"));
    sm_keys_settled(&k, 3);
    CHECK_EQ_I64(k.budget, 0);
    CHECK_EQ_I64(k.ids.n, 0);
    sm_keys_release(&k);

    sm_topics t;
    sm_topics_init(&t, 2);
    CHECK(sm_topics_admit(&t, "new", 100));
    CHECK(sm_topics_admit(&t, "new", 100));
    CHECK(!sm_topics_admit(&t, "new", 100)); /* not proven: 2 in flight at most */
    CHECK(sm_topics_skip(&t, "new", 50));
    CHECK(sm_topics_skip(&t, "new", 40));
    CHECK(!sm_topics_skip(&t, "other", 41));
    CHECK_EQ_I64(sm_topics_failing_ms(&t, "new", 1100), 1000);
    sm_topics_landed(&t, "new", false, true, 1100); /* failed: room for one more */
    CHECK_EQ_I64(sm_topics_take_rewind(&t), 40);  /* the lowest skipped row */
    CHECK_EQ_I64(sm_topics_take_rewind(&t), 0);
    CHECK_EQ_I64(sm_topics_failing_ms(&t, "new", 2100), 2000); /* since its first try */
    CHECK(sm_topics_admit(&t, "new", 2100));
    sm_topics_landed(&t, "new", true, false, 2200); /* acked: proven, no cap */
    CHECK_EQ_I64(sm_topics_failing_ms(&t, "new", 2300), 0);
    for (int i = 0; i < 10; i++)
        CHECK(sm_topics_admit(&t, "new", 2300));
    CHECK(!sm_topics_skip(&t, "new", 60));
    sm_topics_landed(&t, "new", false, true, 5000); /* fails: capped again, failing from now */
    CHECK_EQ_I64(sm_topics_failing_ms(&t, "new", 6000), 1000);
    CHECK(sm_topics_skip(&t, "new", 70));
    sm_topics_landed(&t, "new", false, false, 6000); /* a transport hiccup: not charged */
    CHECK_EQ_I64(sm_topics_failing_ms(&t, "new", 7000), 2000);
    sm_topics_release(&t);
}

static void test_dead(void)
{
    TEST_SECTION("DEAD: continue releases the key, block holds it until re-queued");
    for (int block = 0; block < 2; block++) {
        sm_keys k;
        sm_keys_init(&k, block);
        CHECK(admit(&k, 1, "a"));
        sm_keys_failed(&k, 1, "a", SM_KEYS_NEVER); /* its dead letter is out */
        CHECK(sm_keys_skip(&k, 2, "a"));
        CHECK(sm_keys_skip(&k, 1, "a"));
        sm_keys_dead(&k, 1, "a");
        sm_keys_settled(&k, 1);
        CHECK(sm_keys_skip(&k, 2, "a") == (bool)block);
        CHECK(!sm_keys_skip(&k, 2, "b"));
        if (block) {
            /* the operator re-queues row 1: it may go, and releases the key */
            CHECK(!sm_keys_skip(&k, 1, "a"));
            CHECK(admit(&k, 1, "a"));
            CHECK(!sm_keys_acked(&k, 1, "a"));
            sm_keys_settled(&k, 1);
            CHECK(!sm_keys_skip(&k, 2, "a"));
        }
        CHECK_EQ_I64(k.keys.len, 0);
        sm_keys_release(&k);
    }
}

static void test_reschedule_and_null_keys(void)
{
    TEST_SECTION("NULL keys are never held; a rescheduled dead letter keeps holding");
    sm_keys k;
    sm_keys_init(&k, false);
    CHECK(admit(&k, 1, NULL));
    sm_keys_failed(&k, 1, NULL, 100);
    sm_keys_settled(&k, 1);
    CHECK(!sm_keys_skip(&k, 2, NULL));
    CHECK(!sm_keys_skip(&k, 1, NULL));
    CHECK(admit(&k, 5, "k"));
    sm_keys_failed(&k, 5, "k", SM_KEYS_NEVER);
    sm_keys_reschedule(&k, 5, "k", 100);
    sm_keys_settled(&k, 5);
    CHECK(sm_keys_skip(&k, 6, "k"));
    CHECK(!sm_keys_skip(&k, 5, "k"));
    sm_keys_release(&k);
}

static void test_busy_slots_and_growth(void)
{
    TEST_SECTION("busy slots; 100k tracked ids");
    sm_keys k;
    sm_keys_init(&k, false);
    CHECK(sm_keys_admit(&k, 1, "x", 5, MAIN, false, "t"));
    CHECK(sm_keys_admit(&k, 2, "y", 63, MAIN, false, "t"));
    CHECK(sm_keys_busy(&k) == (((uint64_t)1 << 5) | ((uint64_t)1 << 63)));
    CHECK(!sm_keys_acked(&k, 1, "x"));
    CHECK(sm_keys_busy(&k) == (((uint64_t)1 << 5) | ((uint64_t)1 << 63))); /* until settled */
    sm_keys_settled(&k, 1);
    CHECK(sm_keys_busy(&k) == (uint64_t)1 << 63);
    char key[32];
    for (int64_t id = 10; id < 100010; id++) {
        snprintf(key, sizeof key, "k%d", (int)(id % 1000));
        if (!sm_keys_admit(&k, id, key, (int)(id % 64), MAIN, false, "t")) {
            CHECK(0);
            break;
        }
    }
    CHECK_EQ_I64(k.inflight, 100001);
    int bad = 0;
    for (int64_t id = 10; id < 100010; id++) {
        snprintf(key, sizeof key, "k%d", (int)(id % 1000));
        bad += sm_keys_acked(&k, id, key);
        if (id % 2)
            sm_keys_settled(&k, id);
    }
    CHECK(bad == 0);
    for (int64_t id = 10; id < 100010; id++)
        bad += sm_keys_tracked(&k, id) != (id % 2 == 0);
    CHECK(bad == 0);
    for (int64_t id = 10; id < 100010; id += 2)
        sm_keys_settled(&k, id);
    CHECK_EQ_I64(k.ids.n, 1);
    CHECK(sm_keys_busy(&k) == (uint64_t)1 << 63);
    sm_keys_release(&k);
}

int main(void)
{
    test_together();
    test_failure_holds_key();
    test_overtake_detected();
    test_acks_seen();
    test_budget_and_topics();
    test_dead();
    test_reschedule_and_null_keys();
    test_busy_slots_and_growth();
    return check_report("test_relay_keys");
}
