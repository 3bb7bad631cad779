/*
 * ids.h: identifiers: UUID v4, ARNs in the account and region of
 * DESIGN.md, and the EventBridge event envelope.
 *
 * Account and region come from AWS_ACCOUNT_ID and AWS_REGION (else
 * AWS_DEFAULT_REGION), defaulting to 000000000000 and us-east-1.
 *
 * Ownership: ids_account/ids_region return static strings. ids_arn and
 * ids_uuid write into the caller's buffer. struct arn points into the
 * string given to arn_parse, which must outlive it. ids_event returns a
 * new jv and consumes detail and resources.
 */
#ifndef EVKIT_IDS_H
#define EVKIT_IDS_H

#include <jv.h>
#include <stddef.h>

#include "util.h"

/* A random (version 4) UUID, lower case, into out (at least 37 bytes).
 * Randomness comes from getrandom(2). */
char *ids_uuid(char *out);

const char *ids_account(void);
const char *ids_region(void);

/* "arn:aws:SERVICE:REGION:ACCOUNT:RESOURCE", appended to b. */
void ids_arn(struct buf *b, const char *service, const char *resource);

struct arn {
	const char *partition, *service, *region, *account, *resource;
	size_t partition_len, service_len, region_len, account_len, resource_len;
};
/* Split an ARN into its six parts; 0 on success, -1 when s is not one
 * ("arn:" then five ':'-separated fields, the resource may hold ':'). */
int arn_parse(const char *s, struct arn *a);

/*
 * The name inside NAME-or-ARN for a resource of the given service and
 * type: "f" and "arn:aws:lambda:us-east-1:1:function:f" (service "lambda",
 * type "function") both give "f". Returns a new string, or NULL when the
 * ARN names another service or type, or another region or account than
 * ids_region() and ids_account().
 */
char *ids_name_from(const char *name_or_arn, const char *service, const char *type);

/*
 * An EventBridge event: {"version":"0","id":UUID,"detail-type":..,
 * "source":..,"account":..,"time":now,"region":..,"resources":[..],
 * "detail":{..}} in AWS's key order. resources may be jv_null() for [].
 */
jv ids_event(const char *source, const char *detail_type, jv detail, jv resources);

#endif
