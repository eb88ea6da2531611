/* store_int.h - private to the store module. */
#ifndef CX_STORE_INT_H
#define CX_STORE_INT_H
#include "store.h"
#include <pthread.h>

extern const char *const store_migrations[];
extern const int store_migration_count;

#define STORE_READERS 8

struct store {
  sqlite3 *db;
  int lock_fd;
  int version;
  /* reader pool */
  pthread_mutex_t rmu;
  pthread_cond_t rcv;
  sqlite3 *readers[STORE_READERS];
  int reader_free[STORE_READERS];
  /* writer */
  pthread_mutex_t mu;
  pthread_cond_t work; /* signalled when jobs arrive or stop begins */
  pthread_t thread;
  int running, stopping;
  store_job *head, *tail;
  store_writer_cfg cfg;
  /* syncer: makes committed groups durable (fdatasync of the WAL) while
   * the writer applies the next group */
  char wal_path[4200];
  int wal_fd;
  pthread_t sync_thread;
  pthread_cond_t sync_cv;
  store_job *unsynced_head, *unsynced_tail; /* committed, not yet on disk */
  int writer_done;
  int syncing; /* an fdatasync is under way */
  cx_err failed; /* see store_failed */
  /* checkpointer: folds the WAL into the database off the writer's path */
  sqlite3 *ckpt_db;
  pthread_t ckpt_thread;
  pthread_cond_t ckpt_cv;
  int ckpt_running;
  int wal_frames; /* the WAL's length in frames after the writer's last commit */
  store_stats stats;
};

#endif
