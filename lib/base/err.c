#include "err.h"

const char *cx_strerror(cx_err rc) {
  switch (rc) {
  case CX_OK: return "ok";
  case CX_ENOMEM: return "out of memory";
  case CX_EINVAL: return "invalid input";
  case CX_ETOOBIG: return "input too large";
  case CX_EFULL: return "queue full";
  case CX_ENOTFOUND: return "not found";
  case CX_EEXIST: return "already exists";
  case CX_EAUTH: return "not authenticated";
  case CX_EFORBIDDEN: return "forbidden";
  case CX_EIO: return "input/output error";
  case CX_EDB: return "store error";
  case CX_ESTOPPED: return "shutting down";
  case CX_EBUSY: return "busy";
  }
  return "unknown error";
}
