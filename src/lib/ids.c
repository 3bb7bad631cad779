#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "clock.h"
#include "ids.h"

char *ids_uuid(char *out)
{
	unsigned char r[16];
	size_t got = 0;
	while (got < sizeof r) {
		ssize_t n = getrandom(r + got, sizeof r - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "evkit: getrandom: %s\n", strerror(errno));
			exit(1);
		}
		got += (size_t)n;
	}
	r[6] = (unsigned char)((r[6] & 0x0f) | 0x40);
	r[8] = (unsigned char)((r[8] & 0x3f) | 0x80);
	static const char hex[] = "0123456789abcdef";
	char *p = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*p++ = '-';
		*p++ = hex[r[i] >> 4];
		*p++ = hex[r[i] & 15];
	}
	*p = '\0';
	return out;
}

const char *ids_account(void)
{
	const char *a = getenv("AWS_ACCOUNT_ID");
	return a && *a ? a : "000000000000";
}

const char *ids_region(void)
{
	const char *r = getenv("AWS_REGION");
	if (!r || !*r)
		r = getenv("AWS_DEFAULT_REGION");
	return r && *r ? r : "us-east-1";
}

void ids_arn(struct buf *b, const char *service, const char *resource)
{
	buf_printf(b, "arn:aws:%s:%s:%s:%s", service, ids_region(), ids_account(), resource);
}

int arn_parse(const char *s, struct arn *a)
{
	if (strncmp(s, "arn:", 4) != 0)
		return -1;
	const char *f[5];
	size_t len[5];
	const char *p = s + 4;
	for (int i = 0; i < 4; i++) {
		const char *c = strchr(p, ':');
		if (!c)
			return -1;
		f[i] = p;
		len[i] = (size_t)(c - p);
		p = c + 1;
	}
	f[4] = p;
	len[4] = strlen(p);
	if (!len[0] || !len[1] || !len[4])
		return -1;
	a->partition = f[0]; a->partition_len = len[0];
	a->service = f[1]; a->service_len = len[1];
	a->region = f[2]; a->region_len = len[2];
	a->account = f[3]; a->account_len = len[3];
	a->resource = f[4]; a->resource_len = len[4];
	return 0;
}

char *ids_name_from(const char *name_or_arn, const char *service, const char *type)
{
	struct arn a;
	if (arn_parse(name_or_arn, &a) != 0)
		return xstrdup(name_or_arn);
	if (a.service_len != strlen(service) || memcmp(a.service, service, a.service_len))
		return NULL;
	/* A resource of another region or account is not one of ours. */
	if ((a.region_len && (a.region_len != strlen(ids_region()) ||
	                      memcmp(a.region, ids_region(), a.region_len))) ||
	    (a.account_len && (a.account_len != strlen(ids_account()) ||
	                       memcmp(a.account, ids_account(), a.account_len))))
		return NULL;
	size_t tl = strlen(type);
	/* "function:NAME" (lambda) or "stateMachine:NAME"; some services use
	 * "TYPE/NAME" (events rule/NAME). A qualifier after the name
	 * (":$LATEST", ":alias") is not part of it. */
	if (a.resource_len <= tl + 1 || memcmp(a.resource, type, tl) != 0 ||
	    (a.resource[tl] != ':' && a.resource[tl] != '/'))
		return NULL;
	const char *n = a.resource + tl + 1;
	size_t nl = strcspn(n, ":");
	if (nl == 0)
		return NULL;
	return xstrndup(n, nl);
}

jv ids_event(const char *source, const char *detail_type, jv detail, jv resources)
{
	char id[40], now[40];
	ids_uuid(id);
	clock_format(clock_now_ms(), 0, now, sizeof now);
	if (jv_get_kind(resources) != JV_KIND_ARRAY) {
		jv_free(resources);
		resources = jv_array();
	}
	jv e = jv_object();
	e = jv_object_set(e, jv_string("version"), jv_string("0"));
	e = jv_object_set(e, jv_string("id"), jv_string(id));
	e = jv_object_set(e, jv_string("detail-type"), jv_string(detail_type));
	e = jv_object_set(e, jv_string("source"), jv_string(source));
	e = jv_object_set(e, jv_string("account"), jv_string(ids_account()));
	e = jv_object_set(e, jv_string("time"), jv_string(now));
	e = jv_object_set(e, jv_string("region"), jv_string(ids_region()));
	e = jv_object_set(e, jv_string("resources"), resources);
	e = jv_object_set(e, jv_string("detail"), detail);
	return e;
}
