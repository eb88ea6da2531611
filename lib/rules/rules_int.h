/* rules_int.h - the compiled form of a rule, shared by parse.c (which
 * builds it), eval.c and describe.c (which read it). */
#ifndef CX_RULES_INT_H
#define CX_RULES_INT_H
#include "rules.h"

typedef enum {
  N_LIT,   /* lit: null, bool, number, string, duration */
  N_LIST,  /* lit.u.list: literal items in the expression's item pool */
  N_PATH,  /* op: root; parts[0..nparts) */
  N_NOW,
  N_FIRST_SEEN,
  N_LAST_SEEN,
  N_NOT,   /* kid[0] */
  N_NEG,   /* kid[0] */
  N_AND,   /* kid[0], kid[1] */
  N_OR,
  N_CMP,   /* op: OP_EQ..OP_GE */
  N_IN,
  N_ARITH, /* op: OP_ADD..OP_MOD */
  N_CALL   /* op: function; kid[0..nargs) */
} rules_node_kind;

enum { OP_EQ, OP_NE, OP_LT, OP_LE, OP_GT, OP_GE, OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD };
enum { ROOT_TRAITS, ROOT_EVENT, ROOT_CUSTOMER, ROOT_RESPONSE, ROOT_ANSWERS, ROOT_COUNT };
enum { F_COUNT, F_SUM, F_DAYS_SINCE, F_HAS, F_LOWER, F_CONTAINS, F_STARTS_WITH, F_ENDS_WITH };

typedef struct {
  uint8_t kind, op, nargs;
  uint8_t types;    /* static type mask: bit (1 << rules_type) per possible type */
  uint32_t pos;     /* the operator, or the start of a primary */
  uint32_t start;   /* first byte of the whole subexpression */
  int32_t kid[3];
  rules_value lit;
  const char *const *parts;
  uint32_t nparts;
} rules_node;

/* One allocation: this header, then the arrays, then the string pool, each
 * sized from the source length, which bounds them all. */
struct rules_expr {
  rules_node *nodes;
  uint32_t nnodes, cap_nodes;
  int32_t root;
  rules_value *items;
  size_t nitems, cap_items;
  const char **parts;
  size_t nparts, cap_parts;
  char *pool;
  size_t npool, cap_pool;
};

extern const char *const rules_op_text[];   /* "==", ..., "%" */
extern const char *const rules_root_name[]; /* "traits", "event", "customer", "response", "answers" */
extern const char *const rules_fn_name[];

#endif
