#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "clock.h"
#include "util.h"

static int virt_init, virt;
static int64_t virt_now;

static int64_t real_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void init(void)
{
	if (virt_init)
		return;
	virt_init = 1;
	const char *e = getenv("EVKIT_NOW");
	if (!e || !*e)
		return;
	int64_t ms;
	if (e[0] == '@') {
		char *end;
		double s = strtod(e + 1, &end);
		if (end == e + 1 || *end || !isfinite(s)) {
			fprintf(stderr, "%s: EVKIT_NOW: '%s' is not @SECONDS or RFC 3339; using the real clock\n", cli_prog_name, e);
			return;
		}
		ms = (int64_t)llround(s * 1000);
	} else if (clock_parse(e, &ms) != 0) {
		fprintf(stderr, "%s: EVKIT_NOW: '%s' is not @SECONDS or RFC 3339; using the real clock\n", cli_prog_name, e);
		return;
	}
	virt = 1;
	virt_now = ms;
}

int64_t clock_now_ms(void)
{
	init();
	return virt ? virt_now : real_now();
}

int clock_is_virtual(void)
{
	init();
	return virt;
}

void clock_freeze(void)
{
	init();
	if (!virt) {
		virt_now = real_now();
		virt = 1;
	}
}

void clock_advance(int64_t ms)
{
	init();
	if (virt && ms > 0)
		virt_now += ms;
}

int64_t clock_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_sleep_ms(int64_t ms)
{
	init();
	if (ms <= 0)
		return;
	if (virt) {
		virt_now += ms;
		return;
	}
	struct timespec ts = { (time_t)(ms / 1000), (long)(ms % 1000) * 1000000L };
	/* A stop signal (SIGINT, SIGTERM) ends the sleep early. */
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !cli_stopping())
		;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian), valid for any year. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

char *clock_format(int64_t ms, int millis, char *out, size_t size)
{
	int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
	int frac = (int)(ms - secs * 1000);
	int64_t days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
	int64_t sod = secs - days * 86400;
	int64_t y;
	int m, d;
	civil_from_days(days, &y, &m, &d);
	if (millis)
		snprintf(out, size, "%04lld-%02d-%02dT%02d:%02d:%02d.%03dZ", (long long)y, m, d,
		         (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), frac);
	else
		snprintf(out, size, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
		         (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60));
	return out;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return 0;
}

static int leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int clock_parse(const char *s, int64_t *ms)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	const char *p = s;
	int y, mo, d, h, mi, se, frac = 0;
	if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' ||
	    digits(&p, 2, &d))
		return -1;
	if (*p != 'T' && *p != 't' && *p != ' ')
		return -1;
	p++;
	if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' ||
	    digits(&p, 2, &se))
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || se > 60)
		return -1;
	if (d > mdays[mo - 1] + (mo == 2 && leap(y)))
		return -1;
	if (*p == '.') {
		p++;
		int n = 0;
		while (*p >= '0' && *p <= '9') {
			if (n < 3)
				frac = frac * 10 + (*p - '0');
			n++;
			p++;
		}
		if (n == 0)
			return -1;
		for (; n < 3; n++)
			frac *= 10;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1, oh, om;
		p++;
		if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
			return -1;
		off = sign * (oh * 60 + om);
	} else {
		return -1;
	}
	if (*p)
		return -1;
	if (se == 60)
		se = 59; /* a leap second reads as the second before it */
	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se - off * 60;
	*ms = t * 1000 + frac;
	return 0;
}

int clock_parse_duration(const char *s, int64_t *ms)
{
	const char *p = s;
	double total = 0;
	int parts = 0;
	if (!*s)
		return -1;
	while (*p) {
		char *end;
		if (*p == '-' || *p == '+' || *p == ' ')
			return -1;
		errno = 0;
		double v = strtod(p, &end);
		if (end == p || errno || !isfinite(v) || v < 0)
			return -1;
		p = end;
		double unit;
		if (strncmp(p, "ms", 2) == 0) { unit = 1; p += 2; }
		else if (*p == 's') { unit = 1000; p++; }
		else if (*p == 'm') { unit = 60000; p++; }
		else if (*p == 'h') { unit = 3600000; p++; }
		else if (*p == 'd') { unit = 86400000; p++; }
		else if (!*p && parts == 0) unit = 1000; /* a bare number is seconds */
		else return -1;
		total += v * unit;
		parts++;
	}
	if (total > 9.2e18)
		return -1;
	*ms = (int64_t)llround(total);
	return 0;
}

char *clock_format_duration(int64_t ms, char *out, size_t size)
{
	if (ms % 1000 != 0 && ms < 1000)
		snprintf(out, size, "%lldms", (long long)ms);
	else if (ms % 1000 != 0) {
		char frac[8];
		snprintf(frac, sizeof frac, "%03d", (int)(ms % 1000));
		for (int i = 2; i > 0 && frac[i] == '0'; i--)
			frac[i] = '\0';
		snprintf(out, size, "%lld.%ss", (long long)(ms / 1000), frac);
	}
	else if (ms % 3600000 == 0 && ms)
		snprintf(out, size, "%lldh", (long long)(ms / 3600000));
	else if (ms % 60000 == 0 && ms)
		snprintf(out, size, "%lldm", (long long)(ms / 60000));
	else
		snprintf(out, size, "%llds", (long long)(ms / 1000));
	return out;
}
