
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_JSON_H_INCLUDED_
#define _NGX_EVBUS_JSON_H_INCLUDED_


#include <stddef.h>


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


#endif /* _NGX_EVBUS_JSON_H_INCLUDED_ */
