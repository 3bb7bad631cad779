/* clock.h: RFC 3339 both ways, durations, and a clock tests can move. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "unit.h"

static int64_t T(const char *s)
{
	int64_t ms = -1;
	if (clock_parse(s, &ms) != 0)
		return -999;
	return ms;
}

static void rfc3339(void)
{
	char out[40];
	CHECK_INT(T("1970-01-01T00:00:00Z"), 0);
	CHECK_INT(T("2026-12-04T20:32:09Z"), 1796416329000LL);
	CHECK_INT(T("2026-12-04T20:32:09.5Z"), 1796416329500LL);
	CHECK_INT(T("2026-12-04t22:32:09+02:00"), 1796416329000LL);
	CHECK_INT(T("2026-12-04T20:02:09-00:30"), 1796416329000LL);
	CHECK_INT(T("2024-02-29T00:00:00Z"), 1709164800000LL);  /* leap day */
	CHECK_INT(T("2023-02-29T00:00:00Z"), -999);
	CHECK_INT(T("2026-13-01T00:00:00Z"), -999);
	CHECK_INT(T("2026-12-04T24:00:00Z"), -999);
	CHECK_INT(T("2026-12-04T20:32:09"), -999);              /* no zone */
	CHECK_INT(T("2026-12-04T20:32:09Zjunk"), -999);
	CHECK_INT(T("2026-12-04"), -999);
	CHECK_INT(T(""), -999);
	CHECK_STR(clock_format(1796416329000LL, 0, out, sizeof out), "2026-12-04T20:32:09Z");
	CHECK_STR(clock_format(1796416329007LL, 1, out, sizeof out), "2026-12-04T20:32:09.007Z");
	CHECK_STR(clock_format(-1, 1, out, sizeof out), "1969-12-31T23:59:59.999Z");
	CHECK_INT(T(clock_format(951782400123LL, 1, out, sizeof out)), 951782400123LL);
}

static int64_t D(const char *s)
{
	int64_t ms = -1;
	if (clock_parse_duration(s, &ms) != 0)
		return -999;
	return ms;
}

static void durations(void)
{
	char out[32];
	CHECK_INT(D("500ms"), 500);
	CHECK_INT(D("30s"), 30000);
	CHECK_INT(D("5m"), 300000);
	CHECK_INT(D("2h"), 7200000);
	CHECK_INT(D("1h30m"), 5400000);
	CHECK_INT(D("1d"), 86400000);
	CHECK_INT(D("2.5"), 2500);   /* a bare number is seconds */
	CHECK_INT(D("0.25s"), 250);
	CHECK_INT(D(""), -999);
	CHECK_INT(D("-1s"), -999);
	CHECK_INT(D("5x"), -999);
	CHECK_INT(D("s"), -999);
	CHECK_INT(D("1h 2m"), -999);
	CHECK_INT(D("1e30h"), -999);
	CHECK_INT(D("3 4"), -999);
	CHECK_STR(clock_format_duration(250, out, sizeof out), "250ms");
	CHECK_STR(clock_format_duration(1500, out, sizeof out), "1.5s");
	CHECK_STR(clock_format_duration(120000, out, sizeof out), "2m");
	CHECK_STR(clock_format_duration(7200000, out, sizeof out), "2h");
	CHECK_STR(clock_format_duration(61250, out, sizeof out), "61.25s");
}

static void movable(void)
{
	/* EVKIT_NOW is read on first use: set it before. */
	setenv("EVKIT_NOW", "2026-01-01T00:00:00Z", 1);
	CHECK(clock_is_virtual());
	CHECK_INT(clock_now_ms(), 1767225600000LL);
	clock_sleep_ms(90000);        /* no real sleep: the clock moves */
	CHECK_INT(clock_now_ms(), 1767225690000LL);
	clock_advance(10);
	CHECK_INT(clock_now_ms(), 1767225690010LL);
	CHECK(clock_mono_ms() > 0);
}

int main(void)
{
	RUN(rfc3339);
	RUN(durations);
	RUN(movable);
	return UNIT_DONE();
}
