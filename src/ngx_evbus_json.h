
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_JSON_H_INCLUDED_
#define _NGX_EVBUS_JSON_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


/*
 * The contents of a JSON string from arbitrary bytes (no nginx types):
 * '"', '\\' and control characters are escaped, well-formed UTF-8 is
 * copied, and every byte that does not start a well-formed sequence
 * (stray continuation bytes, overlong forms, surrogates, code points past
 * U+10FFFF, truncated sequences) becomes U+FFFD, so the result is always
 * valid JSON and valid UTF-8.
 */

/* the most bytes the escaped form of len bytes can take ("\u00XX") */
#define ngx_evbus_json_escape_len(len)  ((len) * 6)

unsigned char *ngx_evbus_json_escape(unsigned char *dst,
    const unsigned char *src, size_t len);

/*
 * The length of data cut to at most max bytes (max >= 4), never ending
 * inside a UTF-8 sequence.
 */
size_t ngx_evbus_json_cut(const unsigned char *data, size_t len, size_t max);

/*
 * n in decimal, without printf (a JSON number, a header value); returns
 * the end, no NUL; at most 20 bytes
 */
unsigned char *ngx_evbus_json_uint(unsigned char *dst, uint64_t n);


#endif /* _NGX_EVBUS_JSON_H_INCLUDED_ */
