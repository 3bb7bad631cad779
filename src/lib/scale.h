/*
 * scale.h: the auto scaler's decision, as a pure function of the policy,
 * the queue's load and workers now, and the recent history of decisions,
 * so that it can be tested as a table of (time, load, workers) -> decision.
 *
 * The policy (KEDA's SQS scaler, as its users wish it behaved):
 *   load     = visible + in flight (+ delayed with count_delayed)
 *   desired  = ceil(load / per_worker), clamped to [min, max]
 *   current  = live + starting workers (draining ones are on their way out)
 *   - up at once to desired, unless within the tolerance of current;
 *   - down only to the highest desired of the last window, and to zero
 *     only after the load has been zero for the whole window: at the
 *     latest sample at or before the window's start and at every one
 *     since (a history that does not reach back that far is not proof);
 *   - never below min, never above max.
 *
 * Ownership: everything is the caller's; nothing is kept.
 */
#ifndef EVKIT_SCALE_H
#define EVKIT_SCALE_H

#include <stdint.h>

struct scale_policy {
	int min, max, per_worker;
	double tolerance;          /* 0.1: changes within 10% are skipped */
	int64_t window_ms;         /* --scale-down-window */
	int count_delayed;
};

struct scale_sample {          /* one earlier run */
	int64_t at_ms;
	long load;
	int desired;
};

struct scale_input {
	int64_t now_ms;
	long visible, in_flight, delayed;
	int live, starting, draining;
};

struct scale_decision {
	long load;
	int desired;               /* from the load alone, clamped */
	int target;                /* what the workers should number after this run */
	int start, retire;         /* how many to start, to mark draining */
	const char *reason;        /* static text */
};

/* hist: the earlier runs, reaching back at least one window before the
 * current window's start (two windows from now), in any order. */
void scale_decide(const struct scale_policy *p, const struct scale_input *in,
                  const struct scale_sample *hist, int nhist, struct scale_decision *d);

#endif
