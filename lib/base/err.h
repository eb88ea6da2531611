/* err.h - the one error type of the cxm engine.
 *
 * Every engine function that can fail returns a cx_err; CX_OK is zero so
 * `if (rc) ...` reads naturally. Output parameters come last and are only
 * written on success unless the function says otherwise. One place
 * (http/reply.c) maps a cx_err to an HTTP status. */
#ifndef CX_ERR_H
#define CX_ERR_H

typedef enum {
  CX_OK = 0,
  CX_ENOMEM,    /* allocation failed */
  CX_EINVAL,    /* the caller's input is invalid */
  CX_ETOOBIG,   /* input exceeds a documented limit */
  CX_EFULL,     /* a bounded queue is full: try again later */
  CX_ENOTFOUND, /* the thing asked for does not exist */
  CX_EEXIST,    /* the thing to create exists already */
  CX_EAUTH,     /* missing or wrong credentials */
  CX_EFORBIDDEN,/* credentials without the right */
  CX_EIO,       /* the operating system refused (file, socket) */
  CX_EDB,       /* the store (SQLite) failed */
  CX_ESTOPPED,  /* the component is shutting down */
  CX_EBUSY      /* a resource is held by another process */
} cx_err;

/* A short, static, human-readable description of rc. */
const char *cx_strerror(cx_err rc);

#endif
