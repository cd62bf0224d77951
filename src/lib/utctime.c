/* See LICENSE file for copyright and license details. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "utctime.h"

/* Read exactly n digits at *p into *v; advance *p.  Returns 0 or -1. */
static int
digits(const char **p, int n, int *v)
{
	int i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if ((*p)[i] < '0' || (*p)[i] > '9')
			return -1;
		*v = *v * 10 + ((*p)[i] - '0');
	}
	*p += n;
	return 0;
}

static int
days_in_month(int y, int m)
{
	static const int days[] = {31, 28, 31, 30, 31, 30,
				   31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return days[m - 1];
}

/* Parse "YYYY-MM-DD" at *p into tm; advance.  Returns 0 or -1. */
static int
date_part(const char **p, struct tm *tm)
{
	int y, m, d;

	if (digits(p, 4, &y) < 0 || **p != '-')
		return -1;
	(*p)++;
	if (digits(p, 2, &m) < 0 || **p != '-')
		return -1;
	(*p)++;
	if (digits(p, 2, &d) < 0)
		return -1;
	if (y < 1970 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m))
		return -1;
	tm->tm_year = y - 1900;
	tm->tm_mon = m - 1;
	tm->tm_mday = d;
	return 0;
}

int
utc_check_date(const char *s, const char **why)
{
	struct tm tm;
	const char *p = s;

	*why = "is not a date (YYYY-MM-DD)";
	memset(&tm, 0, sizeof(tm));
	if (date_part(&p, &tm) < 0 || *p != '\0')
		return -1;
	return 0;
}

long
utc_day_number(const char *s)
{
	struct tm tm;
	const char *p = s;

	long y, m, era, yoe, doy, doe;

	memset(&tm, 0, sizeof(tm));
	if (date_part(&p, &tm) < 0 || *p != '\0')
		return -1;
	/* Howard Hinnant's days_from_civil: plain arithmetic, no timegm, as
	 * matchers call this for every candidate. */
	y = tm.tm_year + 1900L;
	m = tm.tm_mon + 1L;
	y -= m <= 2;
	era = y / 400; /* y >= 1969 here */
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + tm.tm_mday - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

int
utc_normalize(const char *s, char out[UTC_TEXT_MAX], const char **why)
{
	struct tm tm;
	const char *p = s, *frac = NULL;
	int h, mi, se, oh = 0, om = 0, sign = 0, nfrac = 0;
	time_t t;

	*why = "is not a timestamp with an offset";
	memset(&tm, 0, sizeof(tm));
	if (date_part(&p, &tm) < 0 || (*p != 'T' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0 ||
	    *p++ != ':' || digits(&p, 2, &se) < 0)
		return -1;
	if (h > 23 || mi > 59 || se > 59)
		return -1;
	if (*p == '.') {
		frac = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		nfrac = (int)(p - frac);
		if (nfrac == 0 || nfrac > 9)
			return -1;
	}
	if (*p == ' ')
		p++;
	if (*p == 'Z' && p[1] == '\0') {
		p++;
	} else if (*p == '+' || *p == '-') {
		sign = *p++ == '-' ? -1 : 1;
		if (digits(&p, 2, &oh) < 0)
			return -1;
		if (*p == ':')
			p++;
		if (*p != '\0' && digits(&p, 2, &om) < 0)
			return -1;
		if (oh > 23 || om > 59)
			return -1;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = se;
	t = timegm(&tm);
	t -= (time_t)sign * (oh * 3600 + om * 60);
	if (gmtime_r(&t, &tm) == NULL)
		return -1;
	if (tm.tm_year + 1900 > 9999 ||
	    strftime(out, UTC_TEXT_MAX, "%Y-%m-%dT%H:%M:%S", &tm) != 19)
		return -1;
	if (nfrac > 0) {
		out[19] = '.';
		memcpy(out + 20, frac, (size_t)nfrac);
	}
	out[19 + (nfrac ? nfrac + 1 : 0)] = 'Z';
	out[20 + (nfrac ? nfrac + 1 : 0)] = '\0';
	return 0;
}

int
utc_to_time(const char *s, time_t *t)
{
	char utc[UTC_TEXT_MAX];
	const char *why;
	struct tm tm;

	if (utc_normalize(s, utc, &why) < 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(utc, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*t = timegm(&tm);
	return 0;
}

void
utc_from_time(time_t t, char buf[UTC_TEXT_MAX])
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, UTC_TEXT_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

long
utc_duration(const char *s)
{
	char *end;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	if (errno != 0 || end == s || n < 0 || n > 10L * 365 * 86400)
		return -1;
	switch (*end) {
	case '\0':
	case 's':
		break;
	case 'm':
		n *= 60;
		break;
	case 'h':
		n *= 3600;
		break;
	case 'd':
		n *= 86400;
		break;
	default:
		return -1;
	}
	if (*end != '\0' && end[1] != '\0')
		return -1;
	return n;
}
