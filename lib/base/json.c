#include "json.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cx_err write_number(cx_buf *b, double d) {
  if (!isfinite(d)) return cx_buf_puts(b, "null"); /* as cJSON does */
  if (d == floor(d) && fabs(d) < 9007199254740992.0) {
    char tmp[24];
    int64_t v = (int64_t)d;
    uint64_t u = v < 0 ? (uint64_t)(-v) : (uint64_t)v;
    size_t k = sizeof tmp;
    do {
      tmp[--k] = (char)('0' + u % 10);
      u /= 10;
    } while (u);
    if (v < 0) tmp[--k] = '-';
    return cx_buf_append(b, tmp + k, sizeof tmp - k);
  }
  /* most numbers in events are short decimals (prices, ratings): when
   * m / 10^k == d for an integer m and k <= 6, "m with k decimals" is the
   * shortest text that reads back exactly (IEEE division is correctly
   * rounded, as strtod is), and it needs no printf */
  static const double pow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  double a = fabs(d);
  if (a < 1e9) {
    for (int k = 1; k <= 6; k++) {
      double m = nearbyint(a * pow10[k]);
      if (m / pow10[k] != a) continue;
      char tmp[40];
      size_t n = sizeof tmp;
      uint64_t u = (uint64_t)m;
      for (int i = 0; i < k; i++) {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
      }
      tmp[--n] = '.';
      do {
        tmp[--n] = (char)('0' + u % 10);
        u /= 10;
      } while (u);
      if (d < 0) tmp[--n] = '-';
      return cx_buf_append(b, tmp + n, sizeof tmp - n);
    }
  }
  /* shortest of 15 or 17 significant digits that reads back exactly */
  char tmp[32];
  snprintf(tmp, sizeof tmp, "%.15g", d);
  if (strtod(tmp, NULL) != d) snprintf(tmp, sizeof tmp, "%.17g", d);
  return cx_buf_puts(b, tmp);
}

cx_err cx_json_write(cx_buf *b, const cJSON *v) {
  cx_err rc = CX_OK;
  switch (v->type & 0xFF) {
  case cJSON_NULL: return cx_buf_append(b, "null", 4);
  case cJSON_False: return cx_buf_append(b, "false", 5);
  case cJSON_True: return cx_buf_append(b, "true", 4);
  case cJSON_Number: return write_number(b, v->valuedouble);
  case cJSON_String:
    return v->valuestring ? cx_buf_json_str(b, v->valuestring, strlen(v->valuestring))
                          : cx_buf_append(b, "\"\"", 2);
  case cJSON_Raw: return v->valuestring ? cx_buf_puts(b, v->valuestring) : cx_buf_puts(b, "null");
  case cJSON_Array:
  case cJSON_Object: {
    int obj = (v->type & 0xFF) == cJSON_Object;
    if ((rc = cx_buf_append(b, obj ? "{" : "[", 1))) return rc;
    for (const cJSON *c = v->child; c; c = c->next) {
      if (c != v->child && (rc = cx_buf_append(b, ",", 1))) return rc;
      if (obj) {
        const char *k = c->string ? c->string : "";
        if ((rc = cx_buf_json_str(b, k, strlen(k))) || (rc = cx_buf_append(b, ":", 1))) return rc;
      }
      if ((rc = cx_json_write(b, c))) return rc;
    }
    return cx_buf_append(b, obj ? "}" : "]", 1);
  }
  default: return CX_EINVAL;
  }
}
