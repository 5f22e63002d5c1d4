/* stay.c: strict YYYY-MM-DD dates as day numbers, and stay validation.
 * Day numbers count from 0001-01-01 internally (no negative division), then
 * shift to the Unix epoch so a day number is also a plain integer that SQL
 * and JSON can carry. */
#include "stay.h"

#include <stdio.h>
#include <string.h>

/* days from 0001-01-01 to 1970-01-01 */
#define STAY_EPOCH_OFFSET 719162

static int stay_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int stay_month_days(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && stay_leap(y) ? 29 : days[m - 1];
}

/* days from 0001-01-01 to January 1st of year y */
static int32_t stay_year_start(int y)
{
    int p = y - 1;
    return (int32_t)(365 * p + p / 4 - p / 100 + p / 400);
}

static int32_t stay_days(int y, int m, int d)
{
    int32_t n = stay_year_start(y);
    for (int i = 1; i < m; i++)
        n += stay_month_days(y, i);
    return n + d - 1 - STAY_EPOCH_OFFSET;
}

static int stay_digits(const char *s, int n, int *v)
{
    int x = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    *v = x;
    return 0;
}

int stay_date_parse(const char *field, const char *s, int32_t *day, char *err, size_t errlen)
{
    int y, m, d;

    if (s == NULL) {
        snprintf(err, errlen, "%s is required (a date, YYYY-MM-DD)", field);
        return -1;
    }
    if (strlen(s) != STAY_DATE_LEN || s[4] != '-' || s[7] != '-' || stay_digits(s, 4, &y) ||
        stay_digits(s + 5, 2, &m) || stay_digits(s + 8, 2, &d)) {
        snprintf(err, errlen, "%s: \"%.40s\" is not a date in the form YYYY-MM-DD", field, s);
        return -1;
    }
    if (y < 1000) {
        snprintf(err, errlen, "%s: %s: the year must be 1000..9999", field, s);
        return -1;
    }
    if (m < 1 || m > 12 || d < 1 || d > stay_month_days(y, m)) {
        snprintf(err, errlen, "%s: %s is not a calendar date", field, s);
        return -1;
    }
    *day = stay_days(y, m, d);
    return 0;
}

void stay_date_format(int32_t day, char *out)
{
    int32_t n = day + STAY_EPOCH_OFFSET;
    int y = (int)(n / 366) + 1; /* an underestimate: at most a few years short */
    int m = 1;

    while (stay_year_start(y + 1) <= n)
        y++;
    n -= stay_year_start(y);
    while (n >= stay_month_days(y, m)) {
        n -= stay_month_days(y, m);
        m++;
    }
    int d = (int)n + 1;
    y %= 10000;
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = '\0';
}

int stay_parse(const char *check_in, const char *check_out, int32_t *in, int32_t *out, char *err,
               size_t errlen)
{
    if (stay_date_parse("check_in", check_in, in, err, errlen) ||
        stay_date_parse("check_out", check_out, out, err, errlen))
        return -1;
    if (*out <= *in) {
        snprintf(err, errlen, "check_out (%s) must be after check_in (%s)", check_out, check_in);
        return -1;
    }
    if (*out - *in > STAY_MAX_NIGHTS) {
        snprintf(err, errlen, "check_in..check_out: %d nights, at most %d allowed",
                 (int)(*out - *in), STAY_MAX_NIGHTS);
        return -1;
    }
    return (int)(*out - *in);
}

int stay_room_known(const char *id)
{
    int n = 0;

    if (id == NULL || id[0] != 'r' || id[1] < '1' || id[1] > '9')
        return 0;
    for (const char *p = id + 1; *p; p++) {
        if (*p < '0' || *p > '9' || p - id > 3)
            return 0;
        n = n * 10 + (*p - '0');
    }
    return n >= 1 && n <= STAY_ROOMS;
}
