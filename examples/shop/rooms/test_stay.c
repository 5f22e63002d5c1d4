/* test_stay.c: unit test of stay.c: date parsing and formatting against the
 * C library's own calendar (timegm), every rejection reason, stays, rooms. */
#include "stay.h"
#include "check.h"

#include <string.h>
#include <time.h>

static int parses(const char *s)
{
    int32_t d;
    char err[128];
    return stay_date_parse("check_in", s, &d, err, sizeof err) == 0;
}

int main(void)
{
    char buf[STAY_DATE_SIZE], err[256];
    int32_t d, in, out;

    TEST_SECTION("every day 1970..2200 round-trips and matches timegm");
    for (int32_t day = 0; day < 84000; day++) {
        time_t t = (time_t)day * 86400;
        struct tm tm;
        char want[32];
        gmtime_r(&t, &tm);
        strftime(want, sizeof want, "%Y-%m-%d", &tm);
        stay_date_format(day, buf);
        if (strcmp(buf, want) != 0) {
            CHECK(strcmp(buf, want) == 0);
            fprintf(stderr, "day %d: %s != %s\n", (int)day, buf, want);
            break;
        }
        if (stay_date_parse("d", buf, &d, err, sizeof err) != 0 || d != day) {
            CHECK(!"round trip");
            fprintf(stderr, "day %d: %s parsed as %d (%s)\n", (int)day, buf, (int)d, err);
            break;
        }
    }
    CHECK(stay_date_parse("d", "1970-01-01", &d, err, sizeof err) == 0 && d == 0);
    CHECK(stay_date_parse("d", "1969-12-31", &d, err, sizeof err) == 0 && d == -1);
    CHECK(stay_date_parse("d", "1000-01-01", &d, err, sizeof err) == 0);
    stay_date_format(d, buf);
    CHECK(strcmp(buf, "1000-01-01") == 0);
    CHECK(stay_date_parse("d", "9999-12-31", &d, err, sizeof err) == 0);
    stay_date_format(d, buf);
    CHECK(strcmp(buf, "9999-12-31") == 0);

    TEST_SECTION("impossible and malformed dates are refused, naming the field");
    CHECK(parses("2024-02-29"));
    CHECK(parses("2000-02-29"));
    CHECK(!parses("2023-02-29"));
    CHECK(!parses("1900-02-29"));
    CHECK(!parses("2027-02-30"));
    CHECK(!parses("2027-04-31"));
    CHECK(!parses("2027-13-01"));
    CHECK(!parses("2027-00-10"));
    CHECK(!parses("2027-01-00"));
    CHECK(!parses("2027-01-32"));
    CHECK(!parses("0999-01-01"));
    CHECK(stay_date_parse("check_in", "0999-01-01", &d, err, sizeof err) == -1);
    CHECK(strstr(err, "year must be 1000..9999") != NULL);
    CHECK(!parses("2027-1-10"));
    CHECK(!parses("2027-01-10 "));
    CHECK(!parses(" 2027-01-10"));
    CHECK(!parses("2027/01/10"));
    CHECK(!parses("2027-01-1x"));
    CHECK(!parses("+027-01-10"));
    CHECK(!parses(""));
    CHECK(!parses("10-01-2027"));
    CHECK(stay_date_parse("check_out", "2027-02-30", &d, err, sizeof err) == -1);
    CHECK(strstr(err, "check_out") != NULL && strstr(err, "2027-02-30") != NULL);
    CHECK(stay_date_parse("check_in", NULL, &d, err, sizeof err) == -1);
    CHECK(strstr(err, "check_in is required") != NULL);

    TEST_SECTION("stays: 1..30 nights, check_out after check_in");
    CHECK(stay_parse("2027-01-10", "2027-01-12", &in, &out, err, sizeof err) == 2);
    CHECK(out - in == 2);
    CHECK(stay_parse("2027-12-31", "2028-01-01", &in, &out, err, sizeof err) == 1);
    CHECK(stay_parse("2028-02-28", "2028-03-01", &in, &out, err, sizeof err) == 2);
    CHECK(stay_parse("2027-01-01", "2027-01-31", &in, &out, err, sizeof err) == 30);
    CHECK(stay_parse("2027-01-01", "2027-02-01", &in, &out, err, sizeof err) == -1);
    CHECK(strstr(err, "31 nights") != NULL);
    CHECK(stay_parse("2027-01-10", "2027-01-10", &in, &out, err, sizeof err) == -1);
    CHECK(strstr(err, "check_out") != NULL);
    CHECK(stay_parse("2027-01-12", "2027-01-10", &in, &out, err, sizeof err) == -1);
    CHECK(stay_parse("2027-01-10", "2027-02-30", &in, &out, err, sizeof err) == -1);
    CHECK(strstr(err, "check_out: 2027-02-30") != NULL);

    TEST_SECTION("rooms r1..r10");
    CHECK(stay_room_known("r1"));
    CHECK(stay_room_known("r10"));
    CHECK(stay_room_known("r7"));
    CHECK(!stay_room_known("r0"));
    CHECK(!stay_room_known("r11"));
    CHECK(!stay_room_known("r01"));
    CHECK(!stay_room_known("R1"));
    CHECK(!stay_room_known("r"));
    CHECK(!stay_room_known(""));
    CHECK(!stay_room_known(NULL));
    CHECK(!stay_room_known("r1x"));
    CHECK(!stay_room_known("r1000000000000"));

    return check_report("test_stay");
}
