#include <stdint.h>

#include "scale.h"

static int clamp(long v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : (int)v;
}

void scale_decide(const struct scale_policy *p, const struct scale_input *in,
                  const struct scale_sample *hist, int nhist, struct scale_decision *d)
{
	long load = in->visible + in->in_flight + (p->count_delayed ? in->delayed : 0);
	int per = p->per_worker > 0 ? p->per_worker : 1;
	long raw = (load + per - 1) / per;
	int desired = clamp(raw, p->min, p->max);
	int current = in->live + in->starting;
	d->load = load;
	d->desired = desired;
	d->start = d->retire = 0;
	d->target = current;

	if (current < p->min) {
		d->target = desired > p->min ? desired : p->min;
		d->reason = "below the minimum";
	} else if (current > p->max) {
		d->target = p->max;
		d->reason = "above the maximum";
	} else if (desired > current) {
		/* Up at once, unless the change is within the tolerance. */
		if (current > 0 && (double)(desired - current) / current <= p->tolerance) {
			d->reason = "within the tolerance";
		} else {
			d->target = desired;
			d->reason = "load rose: scale up";
		}
	} else if (desired < current) {
		/* Down only to the highest desired of the window. */
		int high = desired;
		int64_t since = in->now_ms - p->window_ms;
		/* Zero needs proof: the load was zero at the latest sample at or
		 * before the window's start, and at every sample since. */
		int64_t before_at = INT64_MIN;
		long before_load = -1;
		int zero_all_window = load == 0;
		for (int i = 0; i < nhist; i++) {
			if (hist[i].at_ms <= since) {
				if (hist[i].at_ms >= before_at) {
					before_at = hist[i].at_ms;
					before_load = hist[i].load;
				}
				continue;
			}
			if (hist[i].desired > high)
				high = hist[i].desired;
			if (hist[i].load > 0)
				zero_all_window = 0;
		}
		int target = high < current ? high : current;
		if (target == 0 && current > 0 && !(zero_all_window && before_load == 0)) {
			/* Zero only after a whole window of zero load. */
			target = 1;
		}
		if (target == current) {
			d->reason = target == 1 && desired == 0
			            ? "load is zero, but not for a whole window yet"
			            : "load fell, but rose within the scale-down window";
		} else if (current > 0 && target > 0 &&
		           (double)(current - target) / current <= p->tolerance) {
			d->reason = "within the tolerance";
		} else {
			d->target = target;
			d->reason = target == 0 ? "no load for a whole window: scale to zero"
			                        : "load fell: scale down";
		}
	} else {
		d->reason = "steady";
	}
	if (d->target > current)
		d->start = d->target - current;
	else if (d->target < current)
		d->retire = current - d->target;
}
