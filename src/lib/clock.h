/*
 * clock.h: the one wall clock of evkit, which tests can move, RFC 3339
 * timestamps and durations.
 *
 * Times are int64 milliseconds since the Unix epoch (UTC). The clock reads
 * the system's CLOCK_REALTIME unless EVKIT_NOW is set (evkit(7)): then it
 * starts at that instant (RFC 3339, or @SECONDS since the epoch) and stands
 * still, moving only when the program moves it (clock_advance, as
 * `sfn-run --virtual-time` does for Wait states). A test moves time between
 * two commands by running the second with a later EVKIT_NOW.
 *
 * Measuring how long a child process ran is not wall-clock business: use
 * clock_mono_ms, which always follows real time.
 */
#ifndef EVKIT_CLOCK_H
#define EVKIT_CLOCK_H

#include <stddef.h>
#include <stdint.h>

int64_t clock_now_ms(void);
/* Non-zero when EVKIT_NOW set the clock (it then moves only when told). */
int clock_is_virtual(void);
/* Make the clock virtual from now on (as if EVKIT_NOW were the current time). */
void clock_freeze(void);
void clock_advance(int64_t ms);
/* Milliseconds of a monotonic real-time clock, for timeouts. */
int64_t clock_mono_ms(void);
/* Sleep ms of real time, or advance a virtual clock without sleeping. */
void clock_sleep_ms(int64_t ms);

/* Format as RFC 3339 UTC into out (at least 32 bytes): "2026-12-04T20:32:09Z",
 * or with millis set "2026-12-04T20:32:09.123Z". Returns out. */
char *clock_format(int64_t ms, int millis, char *out, size_t size);
/* Parse RFC 3339 (date, 'T' or 't' or ' ', time, optional fraction, 'Z' or
 * an offset). Returns 0 and *ms on success, -1 when s is not one. */
int clock_parse(const char *s, int64_t *ms);

/* Parse a duration: a number with a unit (ms, s, m, h, d), several in a
 * row ("1h30m"), or a bare number of seconds ("2.5"). Returns 0 and *ms,
 * or -1 when s is not a duration (negative, empty, overflowing). */
int clock_parse_duration(const char *s, int64_t *ms);
/* "1.5s", "250ms", "2m", "1h30m" (the shortest exact form). */
char *clock_format_duration(int64_t ms, char *out, size_t size);

#endif
