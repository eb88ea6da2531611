/* govern_int.h - private to the govern module. */
#ifndef CX_GOVERN_INT_H
#define CX_GOVERN_INT_H
#include "govern.h"
#include <pthread.h>
#include <semaphore.h>

#define GV_MAX_CREDS 100000 /* live tokens and sessions held in memory */
#define GV_LOCK_SLOTS 1024  /* e-mails and addresses tracked for lockout */
#define GV_NAME_MAX 100     /* bytes of a unit's or user's name */
#define GV_EMAIL_MAX 254

typedef struct {
  int64_t id, parent; /* parent 0: at the top */
  char name[GV_NAME_MAX + 1];
} gv_unit;

/* A live credential: a token or session that is neither revoked nor
 * expired (at load) and whose user is enabled. */
typedef struct {
  char hash[65];
  int64_t id, user_id, unit_id, expires_at; /* expires_at 0: never */
  gv_role role;
  int session;
  char actor[130];
} gv_cred;

/* Failed sign-ins of one key ("e:<email>" or "a:<address>"). */
typedef struct {
  char key[GV_EMAIL_MAX + 4];
  int64_t first_at, locked_until, last_at;
  int failures;
} gv_lock;

struct govern {
  store *st;
  pthread_rwlock_t lock; /* guards units and creds */
  gv_unit *units;        /* owned; sorted by id */
  size_t nunits;
  gv_cred *creds; /* owned */
  size_t ncreds;
  pthread_mutex_t lock_mu; /* guards locks */
  gv_lock locks[GV_LOCK_SLOTS];
  sem_t hashing; /* argon2id runs at once (64 MiB each) */
  char dummy_hash[128]; /* verified against for an unknown e-mail */
};

/* govern.c: reloads units and credentials from the store (after a commit). */
cx_err gv_reload(govern *g);
/* people.c: a user's JSON (no secret) from a reader connection. */
cx_err gv_user_json_db(sqlite3 *db, int64_t id, cx_buf *out);

#endif
