
/*
 * Copyright (C) ngx_evbus authors
 */


#ifndef _NGX_EVBUS_VERSION_H_INCLUDED_
#define _NGX_EVBUS_VERSION_H_INCLUDED_


/*
 * The one version string: the Debian package (debian/changelog) and
 * CHANGELOG.md must carry the same; "make deb" checks it.
 */

#define NGX_EVBUS_VERSION      "1.0.0"
#define NGX_EVBUS_VER          "evbus/" NGX_EVBUS_VERSION


#endif /* _NGX_EVBUS_VERSION_H_INCLUDED_ */
