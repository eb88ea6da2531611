/* migrations.c - the versioned schema. Append new steps; never edit one
 * that has shipped. PRAGMA user_version holds the number applied. */
#include "store_int.h"

const char *const store_migrations[] = {
    /* 1: the foundation */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE sources(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  key_hash TEXT UNIQUE, created_at INTEGER NOT NULL);"
    "CREATE TABLE tokens(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    "  token_hash TEXT NOT NULL UNIQUE, scope TEXT NOT NULL, created_at INTEGER NOT NULL);"
    "CREATE TABLE customers(id INTEGER PRIMARY KEY, merged_into INTEGER,"
    "  created_at INTEGER NOT NULL);"
    /* type: 1 user_id, 2 anonymous_id, 3 email */
    "CREATE TABLE identities(type INTEGER NOT NULL, value TEXT NOT NULL,"
    "  customer_id INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  PRIMARY KEY(type, value)) WITHOUT ROWID;"
    "CREATE INDEX identities_customer ON identities(customer_id);"
    "CREATE TABLE traits(customer_id INTEGER NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY(customer_id, key)) WITHOUT ROWID;"
    /* the append-only event log: no index but the rowid (seq). Narrow rows
     * (what start-up and analytics scan); the message text lives apart in
     * event_bodies under the same seq, read only to show an event */
    "CREATE TABLE events(seq INTEGER PRIMARY KEY, mid_hash INTEGER NOT NULL,"
    "  type INTEGER NOT NULL, customer_id INTEGER NOT NULL, source_id INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL, received_at INTEGER NOT NULL, name TEXT);"
    "CREATE TABLE event_bodies(seq INTEGER PRIMARY KEY, body TEXT NOT NULL);"
    "CREATE TABLE merges(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
    "  from_id INTEGER NOT NULL, into_id INTEGER NOT NULL, reason TEXT NOT NULL,"
    "  message_id TEXT);"
    "CREATE TABLE accounts(id TEXT PRIMARY KEY, created_at INTEGER NOT NULL);"
    "CREATE TABLE account_traits(account_id TEXT NOT NULL, key TEXT NOT NULL,"
    "  value TEXT NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY(account_id, key)) WITHOUT ROWID;"
    "CREATE TABLE memberships(account_id TEXT NOT NULL, customer_id INTEGER NOT NULL,"
    "  ts INTEGER NOT NULL, PRIMARY KEY(account_id, customer_id)) WITHOUT ROWID;"
    "CREATE INDEX memberships_customer ON memberships(customer_id);",
    /* 2: segments and personas (persona: a JSON object or NULL), and each
     * segment's size per UTC day */
    "CREATE TABLE segments(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  rule TEXT NOT NULL, description TEXT NOT NULL DEFAULT '', persona TEXT,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE segment_sizes(segment_id INTEGER NOT NULL, day INTEGER NOT NULL,"
    "  size INTEGER NOT NULL, PRIMARY KEY(segment_id, day)) WITHOUT ROWID;",
    /* 3: journey maps; every saved version of a map's document is kept */
    "CREATE TABLE journey_maps(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  state TEXT NOT NULL, version INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE journey_map_versions(map_id INTEGER NOT NULL, version INTEGER NOT NULL,"
    "  doc TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(map_id, version)) WITHOUT ROWID;",
    /* 4: surveys, every saved version of each, and their responses: one
     * row per response (answers as JSON; the event it came in as at seq);
     * link: the personal link it answered, whose later answer replaces it */
    "CREATE TABLE surveys(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  kind TEXT NOT NULL, status TEXT NOT NULL, version INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE survey_versions(survey_id INTEGER NOT NULL, version INTEGER NOT NULL,"
    "  doc TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY(survey_id, version)) WITHOUT ROWID;"
    "CREATE TABLE responses(id INTEGER PRIMARY KEY, survey_id INTEGER NOT NULL,"
    "  version INTEGER NOT NULL, customer_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  submitted_at INTEGER NOT NULL, received_at INTEGER NOT NULL, complete INTEGER NOT NULL,"
    "  channel TEXT, touchpoint TEXT, unit TEXT, agent TEXT, language TEXT, link TEXT,"
    "  replaced_by INTEGER, answers TEXT NOT NULL, scores TEXT NOT NULL);"
    "CREATE INDEX responses_survey ON responses(survey_id, id);"
    "CREATE INDEX responses_link ON responses(link) WHERE link IS NOT NULL;",
    /* 5: verbatims: each text answer with its sentiment, themes (bit i:
     * theme i of lib/text's catalogue, which only grows at its end) and key
     * phrases ("key\tshown\n"…); nps: the response's NPS answer */
    "CREATE TABLE verbatims(id INTEGER PRIMARY KEY, response_id INTEGER NOT NULL, question TEXT NOT NULL,"
    "  survey_id INTEGER NOT NULL, customer_id INTEGER NOT NULL, submitted_at INTEGER NOT NULL, nps INTEGER,"
    "  channel TEXT, score REAL NOT NULL, label INTEGER NOT NULL, themes INTEGER NOT NULL,"
    "  phrases TEXT NOT NULL, text TEXT NOT NULL);"
    "CREATE INDEX verbatims_response ON verbatims(response_id);",
    /* 6: outbox: deliveries of mail and webhooks (lib/outbox). payload: a
     * mail's parts as JSON (composed when sent), a webhook's JSON body */
    "CREATE TABLE outbox(id INTEGER PRIMARY KEY, kind TEXT NOT NULL, recipient TEXT NOT NULL,"
    "  subject TEXT NOT NULL, payload TEXT NOT NULL, ref TEXT, status TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at INTEGER, last_error TEXT,"
    "  created_at INTEGER NOT NULL, sent_at INTEGER);"
    "CREATE INDEX outbox_due ON outbox(status, next_attempt_at);"
    "CREATE INDEX outbox_ref ON outbox(ref);",
    /* 7: survey distribution (lib/feedback/distribute.c, docs/distribution.md).
     * distributions: a mailing (kind 'distribution') or a trigger (kind
     * 'trigger': event, delay_ms, rule, last_seq = the log read so far);
     * spec: the request as saved (JSON); skipped: a mailing's skip counts
     * (JSON). invitations: one per customer mailed or scheduled; status
     * scheduled|sent|skipped|cancelled; token: the personal link (reminders
     * reuse it); outbox_id/reminder_id: the mails' deliveries.
     * survey_optouts: e-mail addresses that unsubscribed from surveys */
    "CREATE TABLE distributions(id INTEGER PRIMARY KEY, survey_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    "  name TEXT NOT NULL, subject TEXT NOT NULL, body TEXT NOT NULL, reminder_ms INTEGER,"
    "  expires_ms INTEGER NOT NULL, spec TEXT NOT NULL, skipped TEXT NOT NULL DEFAULT '{}',"
    "  event TEXT, delay_ms INTEGER, rule TEXT, last_seq INTEGER, deleted INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX distributions_survey ON distributions(survey_id, id);"
    "CREATE TABLE invitations(id INTEGER PRIMARY KEY, survey_id INTEGER NOT NULL,"
    "  distribution_id INTEGER NOT NULL, customer_id INTEGER NOT NULL, email TEXT, link TEXT, token TEXT,"
    "  status TEXT NOT NULL, skip_reason TEXT, outbox_id INTEGER, reminder_id INTEGER, event_seq INTEGER,"
    "  due_at INTEGER, sent_at INTEGER, reminded_at INTEGER, created_at INTEGER NOT NULL);"
    "CREATE INDEX invitations_distribution ON invitations(distribution_id, id);"
    "CREATE INDEX invitations_customer ON invitations(customer_id, sent_at);"
    "CREATE INDEX invitations_link ON invitations(link) WHERE link IS NOT NULL;"
    "CREATE INDEX invitations_due ON invitations(status, due_at);"
    "CREATE TABLE survey_optouts(email TEXT PRIMARY KEY, link TEXT, created_at INTEGER NOT NULL) WITHOUT ROWID;",
    /* 8: a verbatim's rating: the first CSAT or CES answer of its response
     * (for surveys without NPS), and which of the two it is */
    "ALTER TABLE verbatims ADD COLUMN rating INTEGER; ALTER TABLE verbatims ADD COLUMN rating_type TEXT;",
    /* 9: people and access (lib/govern, docs/access.md). units: the
     * organisation tree (parent_id NULL at the top; names unique, since
     * responses and cases name their unit). users: pw_hash an argon2id
     * string; role admin|cx_lead|analyst|agent|viewer. tokens gain the
     * user they act for, their role (at most the user's), kind api|session,
     * expiry and revocation; the admin token of cxm init has no user.
     * audit: append-only; hash = BLAKE2b-256 over the previous row's hash
     * and this row's fields (docs/audit.md) */
    "CREATE TABLE units(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, parent_id INTEGER,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX units_parent ON units(parent_id);"
    "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL,"
    "  pw_hash TEXT NOT NULL, role TEXT NOT NULL, unit_id INTEGER, disabled INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX users_unit ON users(unit_id);"
    "ALTER TABLE tokens ADD COLUMN kind TEXT NOT NULL DEFAULT 'api';"
    "ALTER TABLE tokens ADD COLUMN user_id INTEGER;"
    "ALTER TABLE tokens ADD COLUMN role TEXT;"
    "ALTER TABLE tokens ADD COLUMN expires_at INTEGER;"
    "ALTER TABLE tokens ADD COLUMN revoked_at INTEGER;"
    "UPDATE tokens SET role = CASE scope WHEN 'admin' THEN 'admin' ELSE 'viewer' END;"
    "CREATE TABLE audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL, actor TEXT NOT NULL,"
    "  action TEXT NOT NULL, target TEXT NOT NULL, before TEXT, after TEXT, hash TEXT NOT NULL);",
    /* 10: the closed loop (lib/cases, docs/cases.md). cases: status
     * new|open|waiting|resolved|closed; times in ms (NULL: not yet);
     * nps: the opening response's NPS answer (recovery rate); follow-up:
     * the survey asked for on close. case_rules: cursor = the last
     * responses.id read (each response opens at most one case per rule:
     * UNIQUE(rule_id, response_id)). case_routing: the round robin's last
     * owner per unit. root_causes: a tree, a default one seeded here */
    "CREATE TABLE sla_policies(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE,"
    "  first_response_s INTEGER NOT NULL, resolution_s INTEGER NOT NULL, is_default INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "INSERT INTO sla_policies(name, first_response_s, resolution_s, is_default, created_at, updated_at)"
    "  VALUES('Standard', 86400, 432000, 1, 0, 0);"
    "CREATE TABLE root_causes(id INTEGER PRIMARY KEY, name TEXT NOT NULL, parent_id INTEGER,"
    "  created_at INTEGER NOT NULL);"
    "CREATE INDEX root_causes_parent ON root_causes(parent_id);"
    "INSERT INTO root_causes(id, name, parent_id, created_at) VALUES"
    "  (1, 'Product', NULL, 0), (2, 'Defect', 1, 0), (3, 'Missing feature', 1, 0), (4, 'Hard to use', 1, 0),"
    "  (5, 'Service', NULL, 0), (6, 'Long wait', 5, 0), (7, 'Rude or unhelpful', 5, 0),"
    "  (8, 'Not resolved first time', 5, 0), (9, 'Delivery', NULL, 0), (10, 'Late', 9, 0), (11, 'Damaged', 9, 0),"
    "  (12, 'Wrong item', 9, 0), (13, 'Billing', NULL, 0), (14, 'Wrong charge', 13, 0), (15, 'Refund delay', 13, 0),"
    "  (16, 'Communication', NULL, 0), (17, 'Unclear information', 16, 0), (18, 'No update', 16, 0),"
    "  (19, 'Other', NULL, 0);"
    "CREATE TABLE case_rules(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, rule TEXT NOT NULL,"
    "  unit_id INTEGER NOT NULL, priority TEXT NOT NULL, sla_policy_id INTEGER, follow_up_survey_id INTEGER,"
    "  enabled INTEGER NOT NULL DEFAULT 1, cursor INTEGER NOT NULL, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE TABLE cases(id INTEGER PRIMARY KEY, status TEXT NOT NULL, title TEXT NOT NULL, priority TEXT NOT NULL,"
    "  customer_id INTEGER NOT NULL, response_id INTEGER, rule_id INTEGER, unit_id INTEGER NOT NULL,"
    "  owner_id INTEGER, sla_policy_id INTEGER, nps INTEGER, opened_at INTEGER NOT NULL,"
    "  first_response_at INTEGER, resolved_at INTEGER, closed_at INTEGER,"
    "  first_response_due_at INTEGER NOT NULL, resolution_due_at INTEGER NOT NULL,"
    "  first_response_breached_at INTEGER, resolution_breached_at INTEGER, root_cause_id INTEGER,"
    "  follow_up_survey_id INTEGER, follow_up_invitation_id INTEGER, updated_at INTEGER NOT NULL);"
    "CREATE UNIQUE INDEX cases_rule_response ON cases(rule_id, response_id) WHERE rule_id IS NOT NULL;"
    "CREATE INDEX cases_unit ON cases(unit_id, id);"
    "CREATE INDEX cases_customer ON cases(customer_id);"
    /* the clocks the scheduler watches, only while they run */
    "CREATE INDEX cases_first_due ON cases(first_response_due_at)"
    "  WHERE first_response_at IS NULL AND first_response_breached_at IS NULL;"
    "CREATE INDEX cases_resolution_due ON cases(resolution_due_at)"
    "  WHERE resolved_at IS NULL AND resolution_breached_at IS NULL;"
    "CREATE TABLE case_notes(id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, user_id INTEGER, body TEXT NOT NULL);"
    "CREATE INDEX case_notes_case ON case_notes(case_id, id);"
    "CREATE TABLE case_history(id INTEGER PRIMARY KEY, case_id INTEGER NOT NULL, at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, user_id INTEGER, action TEXT NOT NULL, before TEXT, after TEXT);"
    "CREATE INDEX case_history_case ON case_history(case_id, id);"
    "CREATE TABLE case_routing(unit_id INTEGER PRIMARY KEY, last_user_id INTEGER NOT NULL);",
    /* 11: the CX maturity self-assessments (lib/govern/maturity.c,
     * docs/maturity.md): answers {statement id: 1..5} and result (scores,
     * levels, recommendations and the evidence) as JSON, saved as computed;
     * actor: the audit name of who answered */
    "CREATE TABLE maturity_assessments(id INTEGER PRIMARY KEY, created_at INTEGER NOT NULL,"
    "  actor TEXT NOT NULL, answers TEXT NOT NULL, result TEXT NOT NULL, note TEXT);"
    "CREATE INDEX maturity_assessments_created ON maturity_assessments(created_at);",
    /* 12: KPI owners and targets
     * (lib/govern/targets.c, docs/targets.md). kpi nps|csat|ces|
     * activation_rate|repeat_rate|loyalty_rate|churn_rate; scope_type
     * company|unit|touchpoint|journey|segment|survey with scope_value the
     * unit, map, segment or survey id or the touchpoint's name (NULL for
     * company); direction higher|lower; alert email|webhook|both|none.
     * status on|off|unknown with value, n and checked_at as last computed
     * by the scheduler (changed_at: when status last changed).
     * kpi_target_history: each scheduler check, for the trend and the
     * transitions */
    "CREATE TABLE kpi_targets(id INTEGER PRIMARY KEY AUTOINCREMENT, kpi TEXT NOT NULL, scope_type TEXT NOT NULL,"
    "  scope_value TEXT, owner_id INTEGER NOT NULL, target REAL NOT NULL, direction TEXT NOT NULL,"
    "  period_days INTEGER NOT NULL, min_n INTEGER NOT NULL, alert TEXT NOT NULL, webhook_url TEXT,"
    "  status TEXT NOT NULL DEFAULT 'unknown', value REAL, n INTEGER NOT NULL DEFAULT 0, checked_at INTEGER,"
    "  changed_at INTEGER, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX kpi_targets_owner ON kpi_targets(owner_id);"
    "CREATE TABLE kpi_target_history(target_id INTEGER NOT NULL, at INTEGER NOT NULL, status TEXT NOT NULL,"
    "  value REAL, n INTEGER NOT NULL, PRIMARY KEY(target_id, at)) WITHOUT ROWID;",
    /* 13: CX improvement initiatives (lib/govern/initiatives.c,
     * docs/initiatives.md). status idea|planned|in_progress|done|dropped;
     * kpi, scope_type, scope_value as in kpi_targets (NULL: no KPI);
     * reach, impact, confidence, effort: the RICE inputs (NULL: not
     * given); root_causes: a JSON array of root_causes ids; themes: a JSON
     * array of theme names; started_at, done_at: the measurement's dates */
    "CREATE TABLE initiatives(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT NOT NULL,"
    "  description TEXT NOT NULL DEFAULT '', owner_id INTEGER NOT NULL, status TEXT NOT NULL, kpi TEXT,"
    "  scope_type TEXT, scope_value TEXT, expected_change REAL, reach INTEGER, impact REAL, confidence REAL,"
    "  effort REAL, root_causes TEXT NOT NULL DEFAULT '[]', themes TEXT NOT NULL DEFAULT '[]',"
    "  measure_days INTEGER NOT NULL, started_at INTEGER, done_at INTEGER, created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX initiatives_owner ON initiatives(owner_id);",
    /* 14: the events' bodies in blocks (lib/store/bodies.c): data holds
     * the bodies of events first_seq .. first_seq + n - 1. New events are
     * written here; event_bodies keeps the rows written before. */
    "CREATE TABLE event_blocks(first_seq INTEGER PRIMARY KEY, n INTEGER NOT NULL, data BLOB NOT NULL);",
    /* 15: identities in arrival order (a rowid table), no longer keyed by
     * (type, value): new identities were inserts at random places of that
     * b-tree, so every commit rewrote pages all over it. The profile's
     * hash of every identity (lib/profile) keeps them unique, as it
     * already decided what to insert; readers go by customer_id. */
    "CREATE TABLE identities_v15(type INTEGER NOT NULL, value TEXT NOT NULL,"
    "  customer_id INTEGER NOT NULL, created_at INTEGER NOT NULL);"
    "INSERT INTO identities_v15(type, value, customer_id, created_at)"
    "  SELECT type, value, customer_id, created_at FROM identities ORDER BY created_at, customer_id, type, value;"
    "DROP TABLE identities;"
    "ALTER TABLE identities_v15 RENAME TO identities;"
    "CREATE INDEX identities_customer ON identities(customer_id);",
    /* 16: event_blocks.data may be packed with LZ4 (lib/store/bodies.c).
     * Nothing to change in the tables; the version keeps a binary that
     * does not know the packing from opening the store. */
    "SELECT 1;",
};

const int store_migration_count = (int)(sizeof store_migrations / sizeof store_migrations[0]);
