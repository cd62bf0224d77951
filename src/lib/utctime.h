/* See LICENSE file for copyright and license details. */
#ifndef TILLROLL_UTCTIME_H
#define TILLROLL_UTCTIME_H

/*
 * Time is UTC.  Shopify writes timestamps with the shop's offset
 * ("2022-07-12T10:01:39+02:00"), its admin CSV with a space and a bare
 * offset ("2025-06-30 23:32:39 -0400"), GraphQL with "Z"; all become
 * "2022-07-12T08:01:39Z".  Fractional seconds, when given, are kept digit
 * for digit.  Nothing allocates, nothing prints, no time zone database and
 * no global state is used (timegm, gmtime_r only).
 */

#include <stdint.h>
#include <time.h>

/* "YYYY-MM-DDTHH:MM:SS" + up to 9 fraction digits + "Z" + NUL. */
#define UTC_TEXT_MAX 32

/*
 * Parse s, a timestamp with an explicit offset: "T" or " " between date and
 * time, optional ".fraction", then "Z", "+HH:MM", "+HHMM" or "+HH" (with an
 * optional space before the offset).  Write the same instant in UTC as
 * RFC 3339 into out.  Returns 0, or -1 with *why set ("is not a timestamp
 * with an offset").  A timestamp without offset is refused, since guessing
 * the zone would silently move money between days.
 */
int utc_normalize(const char *s, char out[UTC_TEXT_MAX], const char **why);

/* Check that s is a real calendar date "YYYY-MM-DD".  Returns 0 or -1. */
int utc_check_date(const char *s, const char **why);

/*
 * Days from 1970-01-01 to the date s "YYYY-MM-DD" (as utc_check_date
 * accepts it); -1 when s is not such a date.
 */
long utc_day_number(const char *s);

/*
 * The instant of a timestamp with an offset (as utc_normalize reads it),
 * in seconds since the epoch, into *t.  Fractions of a second are
 * dropped.  Returns 0 or -1.
 */
int utc_to_time(const char *s, time_t *t);

/* Write the instant t as "YYYY-MM-DDTHH:MM:SSZ" into buf. */
void utc_from_time(time_t t, char buf[UTC_TEXT_MAX]);

/*
 * A duration "90", "90s", "30m", "1h" or "2d" in seconds, at most ten
 * years; -1 when malformed.
 */
long utc_duration(const char *s);

#endif
