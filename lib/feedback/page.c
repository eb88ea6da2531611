/* page.c - the respondent page's markup: pages of questions, converting a
 * posted page into answers, the thank-you and notice pages (feedback.h,
 * docs/respondent-page.md).
 *
 * The HTML works without JavaScript and carries none: every question is a
 * fieldset with a legend, every control has a label, required questions
 * say so in words, and an error sits next to its question (named by
 * aria-describedby) with a summary at the top (role=alert). Every text
 * written, the survey's included, goes through esc(). */
#include "feedback_int.h"
#include "../base/util.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ---- the page's own words, by language (English when missing) ---- */

enum {
  T_NEXT, T_SEND, T_REQUIRED, T_OPTIONAL, T_PROBLEM, T_THANKS_TITLE, T_THANKS_TEXT, T_PAGE_OF, T_NPS_LOW,
  T_NPS_HIGH, T_ANSWERED, T_CHANGE, T_ERR_REQUIRED, T_ERR_NUMBER, T_ERR_OPTION, T_ERR_LONG, T_ERR_TWICE,
  T_ERR_UNKNOWN, T_ERR_ONE, T_ERR_SAVE, T_ERR_INTRO,
  T_NOTICE, /* title and text per notice follow, in feedback_notice order */
  T_COUNT = T_NOTICE + 2 * (FEEDBACK_NOTICE_METHOD + 1)
};

static const char *const en[T_COUNT] = {
    [T_NEXT] = "Next", [T_SEND] = "Send", [T_REQUIRED] = "(required)", [T_OPTIONAL] = "(optional)",
    [T_PROBLEM] = "There is a problem", [T_THANKS_TITLE] = "Thank you",
    [T_THANKS_TEXT] = "Thank you for your answers.", [T_PAGE_OF] = "Page %d of %d",
    [T_NPS_LOW] = "0 = not at all likely", [T_NPS_HIGH] = "10 = extremely likely",
    [T_ANSWERED] = "You have answered this survey already. Sending it again replaces your earlier answers.",
    [T_CHANGE] = "Change my answers", [T_ERR_REQUIRED] = "Please answer this question.",
    [T_ERR_NUMBER] = "Please choose a number from %d to %d.", [T_ERR_OPTION] = "Please choose one of the options.",
    [T_ERR_LONG] = "Please shorten your answer to at most %d characters; it has %zu.",
    [T_ERR_TWICE] = "This question takes one answer only.",
    [T_ERR_UNKNOWN] = "The form held an answer this page does not ask for (%s). Please answer the questions below.",
    [T_ERR_ONE] = "Please answer at least one question.",
    [T_ERR_SAVE] = "This answer could not be taken: %s", [T_ERR_INTRO] = "Please check:",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_FOUND] = "Survey not found",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_FOUND + 1] = "There is no survey at this address. Please check the link you were given.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_OPEN] = "This survey is not open yet",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_OPEN + 1] = "It does not take answers yet. Please come back later.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_CLOSED] = "This survey is closed",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_CLOSED + 1] = "It no longer takes answers. Thank you for your interest.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_FORGED] = "This link does not work",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_FORGED + 1] = "It may have been cut short or changed on the way. Please open it again from the message you received.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_EXPIRED] = "This link has expired",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_EXPIRED + 1] = "Personal links work for a limited time. Please ask for a new one.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_BAD_FORM] = "Your answers could not be read",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_BAD_FORM + 1] = "The form arrived damaged, so nothing was saved. Please go back and send it again.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_TOO_LARGE] = "Your answers are too long",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_TOO_LARGE + 1] = "Nothing was saved. Please go back, shorten your answers and send them again.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_UNAVAILABLE] = "Please try again",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_UNAVAILABLE + 1] = "Your answers could not be saved just now, so nothing was stored. Please try again in a moment.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_METHOD] = "Not here",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_METHOD + 1] = "This address takes a survey's form only. Please open the survey's link.",
};

static const char *const de[T_COUNT] = {
    [T_NEXT] = "Weiter", [T_SEND] = "Absenden", [T_REQUIRED] = "(Pflichtfrage)", [T_OPTIONAL] = "(freiwillig)",
    [T_PROBLEM] = "Bitte prüfen Sie Ihre Angaben", [T_THANKS_TITLE] = "Vielen Dank",
    [T_THANKS_TEXT] = "Vielen Dank für Ihre Antworten.", [T_PAGE_OF] = "Seite %d von %d",
    [T_NPS_LOW] = "0 = sehr unwahrscheinlich", [T_NPS_HIGH] = "10 = sehr wahrscheinlich",
    [T_ANSWERED] = "Sie haben diese Umfrage bereits beantwortet. Wenn Sie erneut absenden, ersetzt das Ihre früheren Antworten.",
    [T_CHANGE] = "Antworten ändern", [T_ERR_REQUIRED] = "Bitte beantworten Sie diese Frage.",
    [T_ERR_NUMBER] = "Bitte wählen Sie eine Zahl von %d bis %d.", [T_ERR_OPTION] = "Bitte wählen Sie eine der Möglichkeiten.",
    [T_ERR_LONG] = "Bitte kürzen Sie Ihre Antwort auf höchstens %d Zeichen; sie hat %zu.",
    [T_ERR_ONE] = "Bitte beantworten Sie mindestens eine Frage.", [T_ERR_INTRO] = "Bitte prüfen:",
    [T_ERR_TWICE] = "Diese Frage nimmt nur eine Antwort.",
    [T_ERR_UNKNOWN] = "Das Formular enthielt eine Antwort, nach der diese Seite nicht fragt (%s). Bitte beantworten Sie die Fragen unten.",
    [T_ERR_SAVE] = "Diese Antwort konnte nicht übernommen werden: %s",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_FOUND] = "Umfrage nicht gefunden",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_FOUND + 1] = "Unter dieser Adresse gibt es keine Umfrage. Bitte prüfen Sie den Link, den Sie erhalten haben.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_OPEN] = "Diese Umfrage ist noch nicht geöffnet",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_OPEN + 1] = "Sie nimmt noch keine Antworten an. Bitte versuchen Sie es später noch einmal.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_FORGED] = "Dieser Link funktioniert nicht",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_FORGED + 1] = "Er wurde vielleicht gekürzt oder unterwegs verändert. Bitte öffnen Sie ihn noch einmal aus der Nachricht, die Sie erhalten haben.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_EXPIRED] = "Dieser Link ist abgelaufen",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_EXPIRED + 1] = "Persönliche Links gelten nur eine Zeit lang. Bitte fragen Sie nach einem neuen.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_BAD_FORM] = "Ihre Antworten konnten nicht gelesen werden",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_BAD_FORM + 1] = "Das Formular kam beschädigt an, daher wurde nichts gespeichert. Bitte gehen Sie zurück und senden Sie es noch einmal.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_TOO_LARGE] = "Ihre Antworten sind zu lang",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_TOO_LARGE + 1] = "Es wurde nichts gespeichert. Bitte gehen Sie zurück, kürzen Sie Ihre Antworten und senden Sie sie noch einmal.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_UNAVAILABLE] = "Bitte versuchen Sie es noch einmal",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_UNAVAILABLE + 1] = "Ihre Antworten konnten gerade nicht gespeichert werden; es wurde nichts gespeichert. Bitte versuchen Sie es gleich noch einmal.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_METHOD] = "Nicht hier",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_METHOD + 1] = "Diese Adresse nimmt nur das Formular einer Umfrage an. Bitte öffnen Sie den Link der Umfrage.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_CLOSED] = "Diese Umfrage ist beendet",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_CLOSED + 1] = "Sie nimmt keine Antworten mehr an. Vielen Dank für Ihr Interesse.",
};

static const char *const fr[T_COUNT] = {
    [T_NEXT] = "Suivant", [T_SEND] = "Envoyer", [T_REQUIRED] = "(obligatoire)", [T_OPTIONAL] = "(facultatif)",
    [T_PROBLEM] = "Veuillez vérifier vos réponses", [T_THANKS_TITLE] = "Merci",
    [T_THANKS_TEXT] = "Merci pour vos réponses.", [T_PAGE_OF] = "Page %d sur %d",
    [T_NPS_LOW] = "0 = pas du tout probable", [T_NPS_HIGH] = "10 = extrêmement probable",
    [T_CHANGE] = "Modifier mes réponses", [T_ERR_REQUIRED] = "Veuillez répondre à cette question.",
    [T_ERR_NUMBER] = "Veuillez choisir un nombre de %d à %d.", [T_ERR_OPTION] = "Veuillez choisir une des options.",
    [T_ERR_ONE] = "Veuillez répondre à au moins une question.", [T_ERR_INTRO] = "Veuillez vérifier :",
    [T_ANSWERED] = "Vous avez déjà répondu à cette enquête. Un nouvel envoi remplace vos réponses précédentes.",
    [T_ERR_LONG] = "Veuillez raccourcir votre réponse à %d caractères au plus ; elle en a %zu.",
    [T_ERR_TWICE] = "Cette question n'accepte qu'une réponse.",
    [T_ERR_UNKNOWN] = "Le formulaire contenait une réponse que cette page ne demande pas (%s). Veuillez répondre aux questions ci-dessous.",
    [T_ERR_SAVE] = "Cette réponse n'a pas pu être prise en compte : %s",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_FOUND] = "Enquête introuvable",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_FOUND + 1] = "Il n'y a pas d'enquête à cette adresse. Veuillez vérifier le lien reçu.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_OPEN] = "Cette enquête n'est pas encore ouverte",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_NOT_OPEN + 1] = "Elle n'accepte pas encore de réponses. Veuillez revenir plus tard.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_FORGED] = "Ce lien ne fonctionne pas",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_FORGED + 1] = "Il a peut-être été coupé ou modifié en chemin. Veuillez l'ouvrir à nouveau depuis le message reçu.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_EXPIRED] = "Ce lien a expiré",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_EXPIRED + 1] = "Les liens personnels ne sont valables qu'un temps. Veuillez en demander un nouveau.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_BAD_FORM] = "Vos réponses n'ont pas pu être lues",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_BAD_FORM + 1] = "Le formulaire est arrivé endommagé ; rien n'a été enregistré. Veuillez revenir en arrière et l'envoyer à nouveau.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_TOO_LARGE] = "Vos réponses sont trop longues",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_TOO_LARGE + 1] = "Rien n'a été enregistré. Veuillez revenir en arrière, raccourcir vos réponses et les envoyer à nouveau.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_UNAVAILABLE] = "Veuillez réessayer",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_UNAVAILABLE + 1] = "Vos réponses n'ont pas pu être enregistrées pour l'instant ; rien n'a été stocké. Veuillez réessayer dans un moment.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_METHOD] = "Pas ici",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_METHOD + 1] = "Cette adresse n'accepte que le formulaire d'une enquête. Veuillez ouvrir le lien de l'enquête.",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_CLOSED] = "Cette enquête est terminée",
    [T_NOTICE + 2 * FEEDBACK_NOTICE_CLOSED + 1] = "Elle n'accepte plus de réponses. Merci de votre intérêt.",
};

/* The table of lang's base (de-AT: de), English otherwise. Returns the
 * language the word is in through *in (for lang attributes). */
static const char *word(const char *lang, int t) {
  const char *const *tab = NULL;
  if (lang && !strncmp(lang, "de", 2) && (!lang[2] || lang[2] == '-')) tab = de;
  else if (lang && !strncmp(lang, "fr", 2) && (!lang[2] || lang[2] == '-')) tab = fr;
  return tab && tab[t] ? tab[t] : en[t];
}

/* ---- writing HTML ---- */

static cx_err esc_n(cx_buf *b, const char *s, size_t n) {
  cx_err rc = CX_OK;
  size_t run = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const char *e = NULL;
    switch (s[i]) {
    case '&': e = "&amp;"; break;
    case '<': e = "&lt;"; break;
    case '>': e = "&gt;"; break;
    case '"': e = "&quot;"; break;
    case '\'': e = "&#39;"; break;
    default: continue;
    }
    rc = cx_buf_append(b, s + run, i - run);
    if (!rc) rc = cx_buf_puts(b, e);
    run = i + 1;
  }
  if (!rc) rc = cx_buf_append(b, s + run, n - run);
  return rc;
}

static cx_err esc(cx_buf *b, const char *s) { return s ? esc_n(b, s, strlen(s)) : CX_OK; }

/* Plain text with its line breaks kept as <br>. */
static cx_err esc_lines(cx_buf *b, const char *s) {
  cx_err rc = CX_OK;
  while (s && *s && !rc) {
    const char *nl = strchr(s, '\n');
    size_t n = nl ? (size_t)(nl - s) : strlen(s);
    rc = esc_n(b, s, n);
    if (!rc && nl) rc = cx_buf_puts(b, "<br>");
    s = nl ? nl + 1 : s + n;
  }
  return rc;
}

static const char CSS[] =
    "*{box-sizing:border-box}"
    "html{-webkit-text-size-adjust:100%}"
    "body{margin:0;background:#f3f4f6;color:#1a1a1a;font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif}"
    "main{max-width:42rem;margin:0 auto;padding:1rem;background:#fff;min-height:100vh}"
    "@media(min-width:44rem){main{margin:1.5rem auto;min-height:0;border-radius:.75rem;padding:2rem;"
    "box-shadow:0 1px 3px rgba(0,0,0,.15)}}"
    "h1{font-size:1.5rem;line-height:1.25;margin:.25rem 0 1rem}"
    "p{margin:.5rem 0}"
    ".progress{color:#4b5563;font-size:.9375rem}"
    "fieldset{border:0;margin:0 0 1.75rem;padding:0;min-width:0}"
    "legend{font-weight:600;font-size:1.125rem;padding:0;margin-bottom:.5rem}"
    ".req,.opt-note{font-weight:400;color:#374151;font-size:.9375rem}"
    ".hint{color:#4b5563;font-size:.9375rem;margin:.25rem 0 .5rem}"
    ".err{color:#b00020;font-weight:600;margin:.25rem 0 .5rem}"
    ".invalid{border-left:4px solid #b00020;padding-left:.75rem}"
    ".scale{display:grid;grid-template-columns:repeat(var(--n),minmax(0,1fr));gap:.375rem}"
    "@media(max-width:30rem){.scale.wide{grid-template-columns:repeat(6,minmax(0,1fr))}}"
    ".scale label{display:flex;flex-direction:column;align-items:center;justify-content:center;gap:.125rem;"
    "min-height:3.25rem;border:1px solid #6b7280;border-radius:.5rem;cursor:pointer;font-weight:600;background:#fff}"
    ".scale input{margin:0;width:1.125rem;height:1.125rem;accent-color:#0b57d0}"
    ".choices label{display:flex;align-items:center;gap:.75rem;min-height:3rem;padding:.5rem .75rem;"
    "border:1px solid #6b7280;border-radius:.5rem;margin-bottom:.5rem;cursor:pointer;background:#fff}"
    ".choices input{margin:0;width:1.25rem;height:1.25rem;flex:none;accent-color:#0b57d0}"
    "label:has(input:checked){border-color:#0b57d0;background:#e8f0fe;box-shadow:inset 0 0 0 1px #0b57d0}"
    "label:focus-within{outline:3px solid #0b57d0;outline-offset:2px}"
    "textarea{display:block;width:100%;min-height:8rem;padding:.625rem;font:inherit;color:inherit;"
    "border:1px solid #6b7280;border-radius:.5rem}"
    "textarea:focus{outline:3px solid #0b57d0;outline-offset:2px}"
    "button,.button{display:inline-block;min-height:3rem;min-width:8rem;padding:.75rem 1.5rem;font:inherit;font-weight:600;"
    "color:#fff;background:#0b57d0;border:0;border-radius:.5rem;cursor:pointer;text-decoration:none;text-align:center}"
    "button:hover,.button:hover{background:#0842a0}"
    "button:focus-visible,.button:focus-visible,a:focus-visible{outline:3px solid #1a1a1a;outline-offset:3px}"
    "a{color:#0b57d0}"
    ".summary{border:3px solid #b00020;border-radius:.5rem;padding:.75rem 1rem;margin-bottom:1.5rem}"
    ".summary:focus{outline:3px solid #1a1a1a}"
    ".summary h2{font-size:1.125rem;margin:0 0 .5rem;color:#b00020}"
    ".summary ul{margin:0;padding-left:1.25rem}"
    ".note{background:#eef2ff;border-radius:.5rem;padding:.75rem 1rem}";

static cx_err head(cx_buf *b, const char *lang, const char *title) {
  cx_err rc = cx_buf_puts(b, "<!doctype html>\n<html lang=\"");
  if (!rc) rc = esc(b, lang && *lang ? lang : "en");
  if (!rc) rc = cx_buf_puts(b, "\"><head><meta charset=\"utf-8\">"
                               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                               "<meta name=\"referrer\" content=\"no-referrer\"><link rel=\"icon\" href=\"data:,\"><title>");
  if (!rc) rc = esc(b, title);
  if (!rc) rc = cx_buf_printf(b, "</title><style>%s</style></head><body><main>", CSS);
  return rc;
}

static cx_err foot(cx_buf *b) { return cx_buf_puts(b, "</main></body></html>\n"); }

/* ---- pages ---- */

typedef struct {
  const feedback_survey *s;
  size_t start, at; /* the current page's first question; the question read */
  int cut;
} page_walk;

static int index_of(const feedback_survey *s, const char *id) {
  for (size_t i = 0; i < s->nq; i++)
    if (!strcmp(s->q[i].id, id)) return (int)i;
  return -1;
}

static cx_err reads_same_page(void *ctx, const char *root, const char *const *parts, size_t nparts) {
  page_walk *w = ctx;
  if (strcmp(root, "answers") || !nparts) return CX_OK;
  int j = index_of(w->s, parts[0]);
  if (j >= 0 && (size_t)j >= w->start && (size_t)j < w->at) w->cut = 1;
  return CX_OK;
}

/* pg[i]: the page of question i; returns the number of pages. */
static int layout(const feedback_survey *s, int pg[FEEDBACK_MAX_QUESTIONS]) {
  page_walk w = {.s = s};
  int p = 0;
  for (size_t i = 0; i < s->nq; i++) {
    if (i && s->q[i].show_if) {
      w.at = i, w.cut = 0;
      rules_each_path(s->q[i].show_if, reads_same_page, &w);
      if (w.cut) p++, w.start = i;
    }
    pg[i] = p;
  }
  return s->nq ? p + 1 : 0;
}

int feedback_page_count(const feedback_survey *s) {
  int pg[FEEDBACK_MAX_QUESTIONS];
  return layout(s, pg);
}

static int next_page(const feedback_survey *s, const int *pg, int npages, int from, const cJSON *answers) {
  for (int p = from < 0 ? 0 : from; p < npages; p++)
    for (size_t i = 0; i < s->nq; i++)
      if (pg[i] == p && fb_shown(s, i, answers)) return p;
  return -1;
}

int feedback_page_next(const feedback_survey *s, int from, const cJSON *answers) {
  int pg[FEEDBACK_MAX_QUESTIONS], n = layout(s, pg);
  return next_page(s, pg, n, from, answers);
}

int feedback_page_resume(const feedback_survey *s, const cJSON *answers) {
  int pg[FEEDBACK_MAX_QUESTIONS], n = layout(s, pg), last = -1;
  for (size_t i = 0; i < s->nq; i++)
    if (cJSON_GetObjectItemCaseSensitive(answers, s->q[i].id) && pg[i] > last) last = pg[i];
  return next_page(s, pg, n, last + 1, answers);
}

const char *feedback_survey_status(const feedback_survey *s) { return fb_status_name[s->status]; }

/* 1 when a localised member v has a text in lang. */
static int has_lang(const cJSON *v, const char *lang) {
  return cJSON_IsObject(v) && cJSON_GetObjectItemCaseSensitive(v, lang);
}

const char *feedback_page_lang(const feedback_survey *s, const char *wanted, char out[16]) {
  snprintf(out, 16, "%s", s->language);
  if (!wanted || !*wanted || strlen(wanted) > 10) return out;
  char base[4] = {0};
  if (strlen(wanted) > 2 && wanted[2] == '-') memcpy(base, wanted, 2);
  const char *tries[2] = {wanted, base[0] ? base : NULL};
  for (int t = 0; t < 2 && tries[t]; t++) {
    if (!strcmp(tries[t], s->language)) {
      snprintf(out, 16, "%s", tries[t]);
      return out;
    }
    int found = has_lang(cJSON_GetObjectItem(s->doc, "title"), tries[t]);
    for (size_t i = 0; i < s->nq && !found; i++) found = has_lang(cJSON_GetObjectItem(s->q[i].json, "text"), tries[t]);
    if (found) {
      snprintf(out, 16, "%s", tries[t]);
      return out;
    }
  }
  return out;
}

static const char *title_of(const feedback_survey *s, const char *lang) {
  const char *t = fb_text(s, cJSON_GetObjectItem(s->doc, "title"), lang);
  return t ? t : s->name;
}

static const char *error_at(const feedback_page_errors *e, const char *qid) {
  for (size_t i = 0; e && i < e->n; i++)
    if (!strcmp(e->at[i].question, qid)) return e->at[i].message;
  return NULL;
}

static int chosen(const cJSON *a, const char *opt) {
  if (cJSON_IsString(a)) return !strcmp(a->valuestring, opt);
  for (const cJSON *x = cJSON_IsArray(a) ? a->child : NULL; x; x = x->next)
    if (cJSON_IsString(x) && !strcmp(x->valuestring, opt)) return 1;
  return 0;
}

static cx_err question(cx_buf *b, const feedback_survey *s, size_t i, const feedback_page_view *v) {
  const fb_question *q = &s->q[i];
  const char *lang = v->lang, *err = error_at(v->errors, q->id);
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(v->answers, q->id);
  const char *desc = fb_text(s, cJSON_GetObjectItem(q->json, "description"), lang);
  int hint = desc || q->type == Q_NPS;
  char described[2 * FB_MAX_ID + 16] = "";
  if (err) snprintf(described, sizeof described, "f-%s-err", q->id);
  if (hint) snprintf(described + strlen(described), sizeof described - strlen(described), "%sf-%s-hint", err ? " " : "", q->id);
  cx_err rc = cx_buf_printf(b, "<fieldset id=\"f-%s\"%s", q->id, err ? " class=\"invalid\"" : "");
  if (!rc && described[0]) rc = cx_buf_printf(b, " aria-describedby=\"%s\"", described);
  if (!rc) rc = cx_buf_printf(b, "><legend id=\"f-%s-legend\">", q->id);
  if (!rc) rc = esc(b, fb_text(s, cJSON_GetObjectItem(q->json, "text"), lang));
  if (!rc) rc = cx_buf_printf(b, " <span class=\"%s\">", q->required ? "req" : "opt-note");
  if (!rc) rc = esc(b, word(lang, q->required ? T_REQUIRED : T_OPTIONAL));
  if (!rc) rc = cx_buf_puts(b, "</span></legend>");
  if (!rc && hint) {
    rc = cx_buf_printf(b, "<p class=\"hint\" id=\"f-%s-hint\">", q->id);
    if (!rc && desc) rc = esc_lines(b, desc);
    if (!rc && q->type == Q_NPS) {
      rc = cx_buf_puts(b, desc ? "<br>" : "");
      if (!rc) rc = esc(b, word(lang, T_NPS_LOW));
      if (!rc) rc = cx_buf_puts(b, " · ");
      if (!rc) rc = esc(b, word(lang, T_NPS_HIGH));
    }
    if (!rc) rc = cx_buf_puts(b, "</p>");
  }
  if (!rc && err) {
    rc = cx_buf_printf(b, "<p class=\"err\" id=\"f-%s-err\">", q->id);
    if (!rc) rc = esc(b, err);
    if (!rc) rc = cx_buf_puts(b, "</p>");
  }
  const char *inv = err ? " aria-invalid=\"true\"" : "";
  if (rc) return rc;
  switch (q->type) {
  case Q_NPS: case Q_CSAT: case Q_CES: case Q_RATING: {
    int n = q->max - q->min + 1;
    rc = cx_buf_printf(b, "<div class=\"scale%s\" style=\"--n:%d\">", n > 7 ? " wide" : "", n);
    for (int k = q->min; k <= q->max && !rc; k++)
      rc = cx_buf_printf(b, "<label for=\"f-%s-%d\"><input type=\"radio\" name=\"%s\" value=\"%d\" id=\"f-%s-%d\"%s%s>"
                            "<span>%d</span></label>",
                         q->id, k, q->id, k, q->id, k, cJSON_IsNumber(a) && a->valuedouble == k ? " checked" : "", inv, k);
    if (!rc) rc = cx_buf_puts(b, "</div>");
    break;
  }
  case Q_CHOICE: {
    rc = cx_buf_puts(b, "<div class=\"choices\">");
    const cJSON *opts = cJSON_GetObjectItem(q->json, "options");
    size_t k = 0;
    for (const cJSON *o = opts ? opts->child : NULL; o && !rc; o = o->next, k++) {
      const char *oid = cJSON_GetObjectItem(o, "id")->valuestring;
      rc = cx_buf_printf(b, "<label for=\"f-%s-%zu\"><input type=\"%s\" name=\"%s\" value=\"%s\" id=\"f-%s-%zu\"%s%s><span>",
                         q->id, k, q->multiple ? "checkbox" : "radio", q->id, oid, q->id, k,
                         chosen(a, oid) ? " checked" : "", inv);
      if (!rc) rc = esc(b, fb_text(s, cJSON_GetObjectItem(o, "text"), lang));
      if (!rc) rc = cx_buf_puts(b, "</span></label>");
    }
    if (!rc) rc = cx_buf_puts(b, "</div>");
    break;
  }
  default: {
    const char *ph = fb_text(s, cJSON_GetObjectItem(q->json, "placeholder"), lang);
    rc = cx_buf_printf(b, "<textarea name=\"%s\" id=\"f-%s-0\" rows=\"5\" aria-labelledby=\"f-%s-legend\"%s", q->id, q->id,
                       q->id, inv);
    if (!rc && ph) rc = cx_buf_puts(b, " placeholder=\"");
    if (!rc && ph) rc = esc(b, ph);
    if (!rc && ph) rc = cx_buf_puts(b, "\"");
    if (!rc) rc = cx_buf_puts(b, ">");
    if (!rc && cJSON_IsString(a)) rc = esc(b, a->valuestring);
    if (!rc) rc = cx_buf_puts(b, "</textarea>");
  }
  }
  if (!rc) rc = cx_buf_puts(b, "</fieldset>");
  return rc;
}

cx_err feedback_page_html(const feedback_survey *s, const feedback_page_view *v, cx_buf *b) {
  int pg[FEEDBACK_MAX_QUESTIONS], npages = layout(s, pg);
  const char *lang = v->lang;
  const char *title = title_of(s, lang);
  const feedback_page_errors *e = v->errors;
  int bad = e && (e->n || e->form[0]);
  cx_err rc = head(b, lang, title);
  if (!rc && bad) { /* the summary first, focused, each entry leading to its question */
    rc = cx_buf_puts(b, "<div class=\"summary\" role=\"alert\" tabindex=\"-1\" autofocus id=\"summary\"><h2>");
    if (!rc) rc = esc(b, word(lang, T_PROBLEM));
    if (!rc) rc = cx_buf_puts(b, "</h2>");
    if (!rc && e->form[0]) rc = cx_buf_puts(b, "<p>");
    if (!rc && e->form[0]) rc = esc(b, e->form);
    if (!rc && e->form[0]) rc = cx_buf_puts(b, "</p>");
    if (!rc && e->n) rc = cx_buf_puts(b, "<ul>");
    for (size_t i = 0; i < e->n && !rc; i++) {
      int qi = index_of(s, e->at[i].question);
      /* to the question's first control (a scale's starts at its min) */
      rc = cx_buf_printf(b, "<li><a href=\"#f-%s-%d\">", e->at[i].question,
                         qi >= 0 && s->q[qi].type <= Q_RATING ? s->q[qi].min : 0);
      if (!rc && qi >= 0) rc = esc(b, fb_text(s, cJSON_GetObjectItem(s->q[qi].json, "text"), lang));
      if (!rc) rc = cx_buf_puts(b, ": ");
      if (!rc) rc = esc(b, e->at[i].message);
      if (!rc) rc = cx_buf_puts(b, "</a></li>");
    }
    if (!rc && e->n) rc = cx_buf_puts(b, "</ul>");
    if (!rc) rc = cx_buf_puts(b, "</div>");
  }
  if (!rc) rc = cx_buf_puts(b, "<h1>");
  if (!rc) rc = esc(b, title);
  if (!rc) rc = cx_buf_puts(b, "</h1>");
  if (!rc && npages > 1) {
    rc = cx_buf_puts(b, "<p class=\"progress\">");
    char t[64];
    snprintf(t, sizeof t, word(lang, T_PAGE_OF), v->page + 1, npages);
    if (!rc) rc = esc(b, t);
    if (!rc) rc = cx_buf_puts(b, "</p>");
  }
  const char *intro = fb_text(s, cJSON_GetObjectItem(s->doc, "intro"), lang);
  if (!rc && intro && v->page == 0) {
    rc = cx_buf_puts(b, "<p>");
    if (!rc) rc = esc_lines(b, intro);
    if (!rc) rc = cx_buf_puts(b, "</p>");
  }
  if (!rc && v->answered) {
    rc = cx_buf_puts(b, "<p class=\"note\">");
    if (!rc) rc = esc(b, word(lang, T_ANSWERED));
    if (!rc) rc = cx_buf_puts(b, "</p>");
  }
  if (!rc) rc = cx_buf_puts(b, "<form method=\"post\" action=\"");
  if (!rc) rc = esc(b, v->action);
  if (!rc) rc = cx_buf_printf(b, "\" accept-charset=\"UTF-8\" novalidate><input type=\"hidden\" name=\"page\" value=\"%d\">",
                              v->page);
  if (!rc && v->token) rc = cx_buf_puts(b, "<input type=\"hidden\" name=\"t\" value=\"");
  if (!rc && v->token) rc = esc(b, v->token);
  if (!rc && v->token) rc = cx_buf_puts(b, "\">");
  if (!rc) rc = cx_buf_puts(b, "<input type=\"hidden\" name=\"lang\" value=\"");
  if (!rc) rc = esc(b, lang);
  if (!rc) rc = cx_buf_puts(b, "\">");
  for (size_t i = 0; i < s->nq && !rc; i++)
    if (pg[i] == v->page && fb_shown(s, i, v->answers)) rc = question(b, s, i, v);
  /* the last page sends; another one (if any question there is shown) goes on */
  int last = next_page(s, pg, npages, v->page + 1, v->answers) < 0;
  if (!rc) rc = cx_buf_puts(b, "<button type=\"submit\">");
  if (!rc) rc = esc(b, word(lang, last ? T_SEND : T_NEXT));
  if (!rc) rc = cx_buf_puts(b, "</button></form>");
  if (!rc) rc = foot(b);
  return rc;
}

cx_err feedback_page_thanks(const feedback_survey *s, const char *lang, const char *again_url, cx_buf *b) {
  const char *t = fb_text(s, cJSON_GetObjectItem(s->doc, "thanks"), lang);
  cx_err rc = head(b, lang, word(lang, T_THANKS_TITLE));
  if (!rc) rc = cx_buf_puts(b, "<h1>");
  if (!rc) rc = esc(b, word(lang, T_THANKS_TITLE));
  if (!rc) rc = cx_buf_puts(b, "</h1><p>");
  if (!rc) rc = esc_lines(b, t ? t : word(lang, T_THANKS_TEXT));
  if (!rc) rc = cx_buf_puts(b, "</p>");
  if (!rc && again_url) {
    rc = cx_buf_puts(b, "<p><a href=\"");
    if (!rc) rc = esc(b, again_url);
    if (!rc) rc = cx_buf_puts(b, "\">");
    if (!rc) rc = esc(b, word(lang, T_CHANGE));
    if (!rc) rc = cx_buf_puts(b, "</a></p>");
  }
  if (!rc) rc = foot(b);
  return rc;
}

cx_err feedback_page_notice(feedback_notice what, const char *lang, const char *detail, cx_buf *b) {
  int t = T_NOTICE + 2 * (int)what;
  cx_err rc = head(b, lang, word(lang, t));
  if (!rc) rc = cx_buf_puts(b, "<h1>");
  if (!rc) rc = esc(b, word(lang, t));
  if (!rc) rc = cx_buf_puts(b, "</h1><p>");
  if (!rc) rc = esc(b, word(lang, t + 1));
  if (!rc) rc = cx_buf_puts(b, "</p>");
  if (!rc && detail && *detail) {
    rc = cx_buf_puts(b, "<p class=\"hint\">");
    if (!rc) rc = esc(b, detail);
    if (!rc) rc = cx_buf_puts(b, "</p>");
  }
  if (!rc) rc = foot(b);
  return rc;
}

/* ---- reading a posted page ---- */

static void field_error(feedback_page_errors *e, const char *qid, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void field_error(feedback_page_errors *e, const char *qid, const char *fmt, ...) {
  if (error_at(e, qid) || e->n >= FEEDBACK_MAX_QUESTIONS) return; /* the first one per question */
  snprintf(e->at[e->n].question, sizeof e->at[e->n].question, "%s", qid);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(e->at[e->n].message, sizeof e->at[e->n].message, fmt, ap);
  va_end(ap);
  e->n++;
}

static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static int is_option(const fb_question *q, const char *o) {
  for (size_t i = 0; i < q->nopt; i++)
    if (!strcmp(q->opt[i], o)) return 1;
  return 0;
}

static int blank(const char *s) {
  for (; *s; s++)
    if (!strchr(" \t\r\n", *s)) return 0;
  return 1;
}

/* One posted field of question q into posted; a problem into e. */
static cx_err read_field(const fb_question *q, const char *lang, const char *value, cJSON *posted,
                         feedback_page_errors *e) {
  cJSON *have = cJSON_GetObjectItemCaseSensitive(posted, q->id);
  int multi = q->type == Q_CHOICE && q->multiple;
  if (have && !multi) {
    field_error(e, q->id, "%s", word(lang, T_ERR_TWICE));
    return CX_OK;
  }
  cJSON *v = NULL;
  switch (q->type) {
  case Q_NPS: case Q_CSAT: case Q_CES: case Q_RATING: {
    int64_t n;
    size_t len = strlen(value);
    if (len > 3 || cx_parse_i64(value, len, &n) || n < q->min || n > q->max) {
      field_error(e, q->id, word(lang, T_ERR_NUMBER), q->min, q->max);
      return CX_OK;
    }
    v = cJSON_CreateNumber((double)n);
    break;
  }
  case Q_CHOICE:
    if (!is_option(q, value)) {
      field_error(e, q->id, "%s", word(lang, T_ERR_OPTION));
      return CX_OK;
    }
    if (multi) {
      if (!have && !(have = cJSON_AddArrayToObject(posted, q->id))) return CX_ENOMEM;
      for (const cJSON *x = have->child; x; x = x->next)
        if (!strcmp(x->valuestring, value)) {
          field_error(e, q->id, "%s", word(lang, T_ERR_TWICE));
          return CX_OK;
        }
      cJSON *s = cJSON_CreateString(value);
      if (!s || !cJSON_AddItemToArray(have, s)) {
        cJSON_Delete(s);
        return CX_ENOMEM;
      }
      return CX_OK;
    }
    v = cJSON_CreateString(value);
    break;
  default: {
    size_t n = utf8_chars(value);
    if (n > FEEDBACK_MAX_TEXT) field_error(e, q->id, word(lang, T_ERR_LONG), FEEDBACK_MAX_TEXT, n);
    if (blank(value)) return CX_OK; /* no answer; kept as typed is no use */
    v = cJSON_CreateString(value);
  }
  }
  if (!v || !cJSON_AddItemToObject(posted, q->id, v)) {
    cJSON_Delete(v);
    return CX_ENOMEM;
  }
  return CX_OK;
}

cx_err feedback_page_read(const feedback_survey *s, const char *lang, int page, const feedback_field *fields,
                          size_t n, const cJSON *kept, cJSON **answers, feedback_page_errors *errs) {
  memset(errs, 0, sizeof *errs);
  *answers = NULL;
  int pg[FEEDBACK_MAX_QUESTIONS];
  layout(s, pg);
  cJSON *posted = cJSON_CreateObject();
  cJSON *merged = kept ? cJSON_Duplicate(kept, 1) : cJSON_CreateObject();
  cx_err rc = posted && cJSON_IsObject(merged) ? CX_OK : CX_ENOMEM;
  for (size_t i = 0; i < n && !rc; i++) {
    int qi = index_of(s, fields[i].key);
    if (qi < 0 || pg[qi] != page) {
      if (!errs->form[0]) {
        char shown[48];
        snprintf(shown, sizeof shown, "%.40s", fields[i].key);
        snprintf(errs->form, sizeof errs->form, word(lang, T_ERR_UNKNOWN), shown);
      }
      continue;
    }
    rc = read_field(&s->q[qi], lang, fields[i].value, posted, errs);
  }
  /* this page's answers are the posted ones, in the survey's order */
  for (size_t i = 0; i < s->nq && !rc; i++) {
    if (pg[i] != page) continue;
    cJSON_DeleteItemFromObjectCaseSensitive(merged, s->q[i].id);
    cJSON *a = cJSON_DetachItemFromObjectCaseSensitive(posted, s->q[i].id);
    if (a) cJSON_AddItemToObject(merged, s->q[i].id, a);
  }
  /* an answer whose question an earlier answer now hides goes */
  for (size_t i = 0; i < s->nq && !rc; i++)
    if (!fb_shown(s, i, merged)) cJSON_DeleteItemFromObjectCaseSensitive(merged, s->q[i].id);
  for (size_t i = 0; i < s->nq && !rc; i++)
    if (pg[i] == page && s->q[i].required && fb_shown(s, i, merged) &&
        !cJSON_GetObjectItemCaseSensitive(merged, s->q[i].id))
      field_error(errs, s->q[i].id, "%s", word(lang, T_ERR_REQUIRED));
  cJSON_Delete(posted);
  if (rc) {
    cJSON_Delete(merged);
    return rc;
  }
  *answers = merged;
  return errs->n || errs->form[0] ? CX_EINVAL : CX_OK;
}

void feedback_page_refusal(const feedback_survey *s, const char *lang, const analytics_error *err,
                           feedback_page_errors *errs) {
  const char *f = err->field;
  if (!strncmp(f, "answers.", 8) && index_of(s, f + 8) >= 0) {
    int qi = index_of(s, f + 8);
    const fb_question *q = &s->q[qi];
    if (!strcmp(err->code, "missing_answer")) field_error(errs, q->id, "%s", word(lang, T_ERR_REQUIRED));
    else if (q->type <= Q_RATING) field_error(errs, q->id, word(lang, T_ERR_NUMBER), q->min, q->max);
    else if (q->type == Q_CHOICE) field_error(errs, q->id, "%s", word(lang, T_ERR_OPTION));
    else field_error(errs, q->id, word(lang, T_ERR_SAVE), err->message);
  } else if (!strcmp(err->code, "missing_answer")) {
    snprintf(errs->form, sizeof errs->form, "%s", word(lang, T_ERR_ONE));
  } else {
    snprintf(errs->form, sizeof errs->form, word(lang, T_ERR_SAVE), err->message);
  }
}
