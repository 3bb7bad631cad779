/*
 * scaler.h: the state the auto scaler keeps and reads: a lock so that one
 * run acts at a time, the history of its decisions, and the workers of a
 * queue classified as live, starting, draining or dead.
 *
 * Ownership: arrays returned are the caller's (scaler_free_workers, free).
 */
#ifndef EVKIT_SCALER_H
#define EVKIT_SCALER_H

#include <jv.h>
#include <stdint.h>

#include "scale.h"
#include "state.h"

/*
 * Take the lock name for holder, waiting up to wait_ms for another
 * holder's; a lock older than ttl_ms (a run that died) is taken over.
 * EK_OK and *got 1 or 0 (still held by another), or a state error.
 */
int scaler_lock(struct state *st, const char *name, const char *holder, int64_t ttl_ms,
                int64_t wait_ms, int *got);
void scaler_unlock(struct state *st, const char *name, const char *holder);

/* The decisions of the queue since since_ms (new array in *out). */
int scaler_history(struct state *st, const char *queue, int64_t since_ms,
                   struct scale_sample **out, int *n);
/* Record one; forget those before prune_ms. */
int scaler_record(struct state *st, const char *queue, const struct scale_sample *s,
                  int64_t prune_ms);

enum sw_state { SW_LIVE, SW_STARTING, SW_DRAINING, SW_DEAD };

struct sworker {
	char *id, *host, *log;
	long pid;
	int64_t started_ms, last_seen_ms;
	long in_flight, handled, failed;
	int starting, draining;
	enum sw_state state;
};

const char *scaler_state_name(enum sw_state s);
/*
 * The workers of queue, classified at now_ms: dead when the last call home
 * (or, for one still starting, its start) is alive_ms old or more, or when
 * its process on this host no longer exists; draining; starting; else
 * live.
 */
int scaler_workers(struct state *st, const char *queue, int64_t now_ms, int64_t alive_ms,
                   struct sworker **out, int *n);
void scaler_free_workers(struct sworker *w, int n);
/* Drop a dead worker: its row goes, and the messages it held in flight
 * become visible now. *released counts them. */
int scaler_bury(struct state *st, const char *id, long *released);
/* Record a worker the scaler just started, not yet registered. */
int scaler_add_starting(struct state *st, const char *id, const char *queue, long pid,
                        const char *host, const char *log);
/* A worker's registry line for `autoscale status`. */
jv scaler_worker_json(const struct sworker *w);

#endif
