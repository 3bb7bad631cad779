/*
 * registry.h: the worker registry of the SQS poller architecture. A worker
 * registers under a unique id, "calls home" (reg_heartbeat) while it runs,
 * and deregisters when it exits. A worker is alive while its last call
 * home is less than REG_ALIVE_MS old; one killed outright just stops
 * calling home. The auto scaler retires a worker by marking it draining:
 * the worker sees the mark at its next call home, finishes what it holds
 * and exits.
 *
 * Ownership: struct worker owns its strings (reg_free).
 */
#ifndef EVKIT_REGISTRY_H
#define EVKIT_REGISTRY_H

#include <jv.h>
#include <stdint.h>

#include "state.h"

#define REG_ALIVE_MS 300000  /* 5 minutes, as in the architecture */

struct worker {
	char *id, *queue, *host;
	long pid;
	int64_t started_ms, last_seen_ms;
	int draining;
	long in_flight, handled, failed;
};

void reg_free(struct worker *w);
/* Insert (or take over) the row for w->id, now alive and not draining. */
int reg_register(struct state *st, const struct worker *w);
/* Call home: last seen now, with the worker's counters. *draining gets
 * the mark (1 also when the row is gone: someone removed the worker). */
int reg_heartbeat(struct state *st, const char *id, long in_flight, long handled,
                  long failed, int *draining);
int reg_deregister(struct state *st, const char *id);
/* 1 when ID is the id of another live worker on this host, one that
 * called home (not a row the scaler made for a process still starting):
 * a worker started by a handler inherits its own worker's id, and must
 * not take that over. 0 otherwise (also when the file cannot tell). */
int reg_taken(struct state *st, const char *id);
/* Mark a worker draining: EK_OK, EK_NO when there is no such worker. */
int reg_drain(struct state *st, const char *id);
/* Every worker (of queue, when not NULL), oldest first. */
int reg_list(struct state *st, const char *queue,
             void (*each)(const struct worker *w, void *arg), void *arg);
/* {"WorkerId","Queue","Pid","Host","Started","LastSeen","Alive","Draining",
 *  "InFlight","Handled","Failed"} as of now_ms. */
jv reg_to_json(const struct worker *w, int64_t now_ms);

#endif
