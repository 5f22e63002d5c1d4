/* stay.h: dates, stays and the room list shared by shop-reservations and
 * shop-rooms (docs/shop.md). A date is a day number (days since 1970-01-01,
 * proleptic Gregorian); a stay is [check_in, check_out): the nights are
 * check_in .. check_out - 1. Text dates are strictly YYYY-MM-DD.
 *
 * Everything here is pure: no I/O, no allocation. Errors are written to a
 * caller's err buffer as a sentence naming the field, for the HTTP 400
 * body or the log. */
#ifndef SHOP_STAY_H
#define SHOP_STAY_H

#include <stddef.h>
#include <stdint.h>

#define STAY_MAX_NIGHTS 30
#define STAY_DATE_LEN 10      /* "YYYY-MM-DD" */
#define STAY_DATE_SIZE 11     /* with its NUL */
#define STAY_ROOMS 10         /* r1 .. r10 */
#define STAY_ROOM_CAPACITY 3  /* rooms per night, each room id */

/* Parses "YYYY-MM-DD" (exactly 10 characters, years 1000..9999, a real
 * calendar date) into *day. Returns 0, or -1 with a reason in err naming
 * field (e.g. "check_in: 2027-02-30 is not a date"). s may be NULL (missing). */
int stay_date_parse(const char *field, const char *s, int32_t *day, char *err, size_t errlen);

/* Writes day as "YYYY-MM-DD" into out (STAY_DATE_SIZE bytes). */
void stay_date_format(int32_t day, char *out);

/* Checks a stay given as text: both dates parse, check_out after check_in,
 * at most STAY_MAX_NIGHTS nights. On success fills *in, *out (day numbers)
 * and returns the number of nights (>= 1); else -1 with a reason in err. */
int stay_parse(const char *check_in, const char *check_out, int32_t *in, int32_t *out, char *err,
               size_t errlen);

/* 1 if id names a room of the shop (r1 .. r10), else 0. */
int stay_room_known(const char *id);

#endif
