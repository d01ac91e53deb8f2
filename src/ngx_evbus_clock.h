
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_CLOCK_H_INCLUDED_
#define _NGX_EVBUS_CLOCK_H_INCLUDED_


/*
 * Device clocks are wrong: an event's timestamp is corrected by how far
 * the device's clock was off when it sent the event,
 *
 *     corrected = ingest - (sent_at - timestamp)
 *
 * clamped to ingest when it lands in the future.  No nginx types.
 */

#include <stddef.h>
#include <stdint.h>


#define NGX_EVBUS_CLOCK_NONE     INT64_MIN

/* "2026-01-01T00:00:00.000Z" */
#define NGX_EVBUS_CLOCK_TS_LEN   24


/*
 * An RFC 3339 date-time, "2026-11-26T17:00:00Z", with an optional
 * fraction (its first three digits count) and "Z" or an offset
 * ("+02:00"); "T" or "t" or a space between date and time.  Milliseconds
 * since the epoch, or NGX_EVBUS_CLOCK_NONE when it is not one (or before
 * the year 1).
 */
int64_t ngx_evbus_clock_parse(const unsigned char *s, size_t len);

/*
 * The corrected time of an event, or NGX_EVBUS_CLOCK_NONE when one of
 * the three is missing or the result is before 1970.
 */
int64_t ngx_evbus_clock_correct(int64_t ingest, int64_t sent_at,
    int64_t timestamp);

/* writes NGX_EVBUS_CLOCK_TS_LEN bytes, UTC with milliseconds */
unsigned char *ngx_evbus_clock_format(unsigned char *b, int64_t ms);


#endif /* _NGX_EVBUS_CLOCK_H_INCLUDED_ */
