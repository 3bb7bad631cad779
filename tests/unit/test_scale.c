/* scale.h: the auto scaler's policy as a table of (time, load, workers,
 * history) -> decision. Times in seconds for readability. */
#include <string.h>

#include "scale.h"
#include "unit.h"

#define S(t) ((int64_t)(t) * 1000)

struct row {
	const char *what;
	int64_t now;              /* seconds */
	long visible, in_flight, delayed;
	int live, starting;
	int nhist;
	struct scale_sample hist[4];
	int want_target, want_start, want_retire;
};

static const struct scale_policy policy = { 0, 4, 50, 0.1, S(300), 0 };

static const struct row rows[] = {
	{ "idle queue, no workers: nothing", 1000, 0, 0, 0, 0, 0, 0, {{0}}, 0, 0, 0 },
	{ "500 messages: up at once to max 4", 1000, 500, 0, 0, 0, 0, 0, {{0}}, 4, 4, 0 },
	{ "120 messages: ceil(120/50) = 3", 1000, 120, 0, 0, 0, 0, 0, {{0}}, 3, 3, 0 },
	{ "in flight counts as load", 1000, 20, 80, 0, 1, 0, 0, {{0}}, 2, 1, 0 },
	{ "delayed does not count by default", 1000, 0, 0, 400, 0, 0, 0, {{0}}, 0, 0, 0 },
	{ "starting workers are not started twice", 1000, 200, 0, 0, 1, 3, 0, {{0}}, 4, 0, 0 },
	{ "steady", 1000, 100, 0, 0, 2, 0, 0, {{0}}, 2, 0, 0 },
	{ "down: only to the window's highest desired", 1000, 50, 0, 0, 4, 0,
	  2, {{ S(800), 200, 4 }, { S(900), 150, 3 }}, 4, 0, 0 },
	{ "down: the high one left the window", 1000, 50, 0, 0, 4, 0,
	  2, {{ S(600), 200, 4 }, { S(900), 150, 3 }}, 3, 0, 1 },
	{ "zero load, but not for a whole window: keep one", 1000, 0, 0, 0, 2, 0,
	  2, {{ S(600), 200, 4 }, { S(750), 10, 1 }}, 1, 0, 1 },
	{ "zero load for a whole window: scale to zero", 2000, 0, 0, 0, 1, 0,
	  3, {{ S(1600), 0, 0 }, { S(1700), 0, 0 }, { S(1900), 0, 0 }}, 0, 0, 1 },
	{ "zero load with no history that old: not proof", 2000, 0, 0, 0, 1, 0,
	  1, {{ S(1900), 0, 0 }}, 1, 0, 0 },
};

static void table(void)
{
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		const struct row *r = &rows[i];
		struct scale_input in = { S(r->now), r->visible, r->in_flight, r->delayed,
		                          r->live, r->starting, 0 };
		struct scale_decision d;
		scale_decide(&policy, &in, r->hist, r->nhist, &d);
		unit_test = r->what;
		CHECK_INT(d.target, r->want_target);
		CHECK_INT(d.start, r->want_start);
		CHECK_INT(d.retire, r->want_retire);
		CHECK(d.reason != NULL);
	}
}

static void tolerance_and_bounds(void)
{
	struct scale_policy p = { 2, 20, 10, 0.1, S(300), 1 };
	struct scale_decision d;
	/* 10 workers, load wants 11: within 10%, skipped. */
	struct scale_input in = { S(100), 110, 0, 0, 10, 0, 0 };
	scale_decide(&p, &in, NULL, 0, &d);
	CHECK_INT(d.target, 10);
	CHECK_STR(d.reason, "within the tolerance");
	/* ...12 is not. */
	in.visible = 120;
	scale_decide(&p, &in, NULL, 0, &d);
	CHECK_INT(d.target, 12);
	/* Below the minimum: up to min even with no load. */
	struct scale_input none = { S(100), 0, 0, 0, 0, 0, 0 };
	scale_decide(&p, &none, NULL, 0, &d);
	CHECK_INT(d.target, 2);
	CHECK_INT(d.start, 2);
	/* Delayed messages count with count_delayed. */
	struct scale_input delayed = { S(100), 0, 0, 55, 2, 0, 0 };
	scale_decide(&p, &delayed, NULL, 0, &d);
	CHECK_INT(d.desired, 6);
	CHECK_INT(d.target, 6);
	/* Never above the maximum, even if more are running. */
	struct scale_input many = { S(100), 1000, 0, 0, 25, 0, 0 };
	scale_decide(&p, &many, NULL, 0, &d);
	CHECK_INT(d.target, 20);
	CHECK_INT(d.retire, 5);
}

int main(void)
{
	RUN(table);
	RUN(tolerance_and_bounds);
	return UNIT_DONE();
}
