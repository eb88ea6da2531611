/* vocab.c - the word lists of lib/text that are not VADER's data files:
 * VADER's boosters, negations and special cases (from its published
 * algorithm), cxm's customer-service vocabulary, the stop words and the
 * theme catalogue. Written by hand; docs/sentiment-and-themes.md lists them
 * for users. The service vocabulary and the themes were written from
 * customer-service knowledge before any accuracy was measured: nothing
 * here was fitted to a data set. */
#include "text_int.h"

#define B_INCR 0.293
#define B_DECR -0.293

/* VADER's intensifiers (positive) and dampeners (negative), added to the
 * valence of the sentiment word they precede. */
const text_weighted text_boosters[] = {
    {"absolutely", B_INCR},    {"amazingly", B_INCR},     {"awfully", B_INCR},
    {"completely", B_INCR},    {"considerable", B_INCR},  {"considerably", B_INCR},
    {"decidedly", B_INCR},     {"deeply", B_INCR},        {"effing", B_INCR},
    {"enormous", B_INCR},      {"enormously", B_INCR},    {"entirely", B_INCR},
    {"especially", B_INCR},    {"exceptional", B_INCR},   {"exceptionally", B_INCR},
    {"extreme", B_INCR},       {"extremely", B_INCR},     {"fabulously", B_INCR},
    {"flipping", B_INCR},      {"flippin", B_INCR},       {"frackin", B_INCR},
    {"fracking", B_INCR},      {"fricking", B_INCR},      {"frickin", B_INCR},
    {"frigging", B_INCR},      {"friggin", B_INCR},       {"fully", B_INCR},
    {"fuckin", B_INCR},        {"fucking", B_INCR},       {"fuggin", B_INCR},
    {"fugging", B_INCR},       {"greatly", B_INCR},       {"hella", B_INCR},
    {"highly", B_INCR},        {"hugely", B_INCR},        {"incredible", B_INCR},
    {"incredibly", B_INCR},    {"intensely", B_INCR},     {"major", B_INCR},
    {"majorly", B_INCR},       {"more", B_INCR},          {"most", B_INCR},
    {"particularly", B_INCR},  {"purely", B_INCR},        {"quite", B_INCR},
    {"really", B_INCR},        {"remarkably", B_INCR},    {"so", B_INCR},
    {"substantially", B_INCR}, {"thoroughly", B_INCR},    {"total", B_INCR},
    {"totally", B_INCR},       {"tremendous", B_INCR},    {"tremendously", B_INCR},
    {"uber", B_INCR},          {"unbelievably", B_INCR},  {"unusually", B_INCR},
    {"utter", B_INCR},         {"utterly", B_INCR},       {"very", B_INCR},
    {"almost", B_DECR},        {"barely", B_DECR},        {"hardly", B_DECR},
    {"just enough", B_DECR},   {"kind of", B_DECR},       {"kinda", B_DECR},
    {"kindof", B_DECR},        {"kind-of", B_DECR},       {"less", B_DECR},
    {"little", B_DECR},        {"marginal", B_DECR},      {"marginally", B_DECR},
    {"occasional", B_DECR},    {"occasionally", B_DECR},  {"partly", B_DECR},
    {"scarce", B_DECR},        {"scarcely", B_DECR},      {"slight", B_DECR},
    {"slightly", B_DECR},      {"somewhat", B_DECR},      {"sort of", B_DECR},
    {"sorta", B_DECR},         {"sortof", B_DECR},        {"sort-of", B_DECR},
    {NULL, 0}};

/* VADER's negations; any word containing "n't" negates too. */
const char *const text_negations[] = {
    "aint",    "arent",   "cannot",  "cant",     "couldnt", "darent",  "didnt",   "doesnt",
    "ain't",   "aren't",  "can't",   "couldn't", "daren't", "didn't",  "doesn't", "dont",
    "hadnt",   "hasnt",   "havent",  "isnt",     "mightnt", "mustnt",  "neither", "don't",
    "hadn't",  "hasn't",  "haven't", "isn't",    "mightn't", "mustn't", "neednt", "needn't",
    "never",   "none",    "nope",    "nor",      "not",     "nothing", "nowhere", "oughtnt",
    "shant",   "shouldnt", "uhuh",   "wasnt",    "werent",  "oughtn't", "shan't", "shouldn't",
    "uh-uh",   "wasn't",  "weren't", "without",  "wont",    "wouldnt", "won't",   "wouldn't",
    "rarely",  "seldom",  "despite", NULL};

/* Multi-word expressions with a valence on VADER's scale (-4..+4): VADER's
 * special cases, then cxm's customer-service vocabulary. A "*" stands for
 * any one word ("waited * hours": "waited two hours", "waited 3 hours").
 * A single word here replaces VADER's valence for it. The longest
 * expression that matches wins; it is then one item for negation,
 * intensifiers and "but" ("not resolved", "very quick response"). */
const text_weighted text_phrases[] = {
    /* VADER's special cases */
    {"the shit", 3},
    {"the bomb", 3},
    {"bad ass", 1.5},
    {"bus stop", 0},
    {"yeah right", -2},
    {"kiss of death", -1.5},
    {"to die for", 3},
    {"beating heart", 3.1},
    {"broken heart", -2.9},
    /* waiting and holding */
    {"on hold", -1.8},
    {"waited", -0.8},
    {"waiting", -0.6},
    {"still waiting", -2.2},
    {"waited * hours", -2.2},
    {"waited * * hours", -2.2},
    {"waited * minutes", -1.6},
    {"waited * * minutes", -1.6},
    {"waited * days", -2.4},
    {"waited * weeks", -2.4},
    {"waited forever", -2.4},
    {"waiting forever", -2.4},
    {"took forever", -2.2},
    {"takes forever", -2.2},
    {"long wait", -1.8},
    {"long queue", -1.6},
    {"long line", -1.2},
    /* being passed around, not called back */
    {"transferred", -1.2},
    {"transferred * times", -2.4},
    {"transferred around", -2.0},
    {"passed around", -1.8},
    {"bounced around", -1.8},
    {"no one called back", -2.6},
    {"nobody called back", -2.6},
    {"never called back", -2.6},
    {"never got back", -2.4},
    {"never heard back", -2.4},
    {"never responded", -2.4},
    {"no response", -2.0},
    {"no reply", -2.0},
    {"no answer", -1.5},
    {"no one answered", -2.2},
    {"nobody answered", -2.2},
    {"hung up", -2.0},
    {"hung up on me", -2.6},
    /* money */
    {"refund", -0.4},
    {"refunds", -0.4},
    {"refunded", 0.6},
    {"no refund", -2.2},
    {"still no refund", -2.6},
    {"money back", -0.8},
    {"want my money back", -2.4},
    {"charged twice", -2.2},
    {"double charged", -2.2},
    {"overcharged", -2.2},
    {"hidden fees", -2.0},
    {"hidden fee", -2.0},
    /* problems solved */
    {"resolved", 1.6},
    {"unresolved", -1.6},
    {"sorted out", 1.2},
    {"fixed the problem", 1.8},
    {"fixed the issue", 1.8},
    {"solved the problem", 1.8},
    {"problem solved", 1.8},
    {"issue resolved", 1.8},
    {"above and beyond", 2.8},
    {"no issues", 1.4},
    {"no problems", 1.4},
    {"no complaints", 1.6},
    /* speed */
    {"quick response", 2.0},
    {"fast response", 2.0},
    {"quick reply", 1.8},
    {"prompt response", 2.0},
    {"responded quickly", 2.0},
    {"quick delivery", 2.0},
    {"fast delivery", 2.0},
    {"fast shipping", 2.0},
    {"quick shipping", 1.8},
    {"arrived early", 1.6},
    {"arrived on time", 1.4},
    {"on time", 0.8},
    {"ahead of schedule", 1.6},
    /* deliveries that go wrong */
    {"arrived late", -1.8},
    {"late delivery", -1.8},
    {"delivered late", -1.8},
    {"never arrived", -2.6},
    {"never received", -2.6},
    {"never showed up", -2.4},
    {"did not arrive", -2.4},
    {"didn't arrive", -2.4},
    {"has not arrived", -2.2},
    {"hasn't arrived", -2.2},
    {"have not received", -2.2},
    {"haven't received", -2.2},
    {"did not receive", -2.4},
    {"didn't receive", -2.4},
    {"lost package", -2.0},
    {"lost my package", -2.2},
    {"wrong item", -2.0},
    {"wrong size", -1.4},
    {"wrong order", -2.0},
    {"missing item", -2.0},
    {"missing items", -2.0},
    {"out of stock", -1.4},
    {"sold out", -0.8},
    {"back order", -1.0},
    {"backordered", -1.0},
    {"cancelled my order", -1.8},
    {"canceled my order", -1.8},
    /* products that fail or do what they should */
    {"stopped working", -2.4},
    {"doesn't work", -2.2},
    {"does not work", -2.2},
    {"didn't work", -2.2},
    {"did not work", -2.2},
    {"not working", -2.2},
    {"won't work", -2.2},
    {"fell apart", -2.2},
    {"waste of money", -2.6},
    {"waste of time", -2.4},
    {"works fine", 1.6},
    {"works as advertised", 1.6},
    {"as described", 1.0},
    {"as advertised", 1.0},
    {"never again", -2.2},
    {"do not buy", -2.4},
    {"don't buy", -2.4},
    {"returned it", -1.2},
    {"sent it back", -1.4},
    {"send it back", -1.2},
    /* ratings written out */
    {"5 stars", 2.0},
    {"five stars", 2.0},
    {"1 star", -2.0},
    {"one star", -2.0},
    {"zero stars", -2.4},
    {"0 stars", -2.4},
    {"thumbs up", 1.8},
    {"thumbs down", -1.8},
    {"customer service", 0},
    {NULL, 0}};

/* Short English stop words: never part of a key phrase. */
const char *const text_stop_words[] = {
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "even",
    "ever", "every", "few", "for", "from", "further", "get", "got", "had", "has", "have",
    "having", "he", "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if",
    "in", "into", "is", "it", "it's", "its", "itself", "just", "let", "me", "my", "myself", "no",
    "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our", "ours",
    "ourselves", "out", "over", "own", "same", "she", "should", "since", "so", "some", "still",
    "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then", "there",
    "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "upon",
    "us", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom",
    "why", "will", "with", "would", "yet", "you", "your", "yours", "yourself", "yourselves",
    "i'm", "i've", "i'd", "i'll", "you're", "you've", "he's", "she's", "we're", "we've",
    "they're", "they've", "that's", "there's", "what's", "let's", "isn't", "aren't", "wasn't",
    "weren't", "don't", "doesn't", "didn't", "won't", "wouldn't", "can't", "cannot", "couldn't",
    "shouldn't", "haven't", "hasn't", "hadn't", "im", "ive", "dont", "didnt", "doesnt", "cant",
    "wont", "isnt", "wasnt", "really", "much", "many", "more", "most", "lot", "lots", "thing",
    "things", "way", "well", "make", "made", "go", "went", "gone", "going", "come", "came",
    "take", "took", "said", "say", "says", "like", "know", "think", "see", "want", "wanted",
    "need", "needed", "use", "used", "using", "time", "times", "day", "days", "again", "back",
    "never", "always", "another", "anything", "something", "nothing", "everything", "someone",
    "anyone", "everyone", "etc", "yes", "ok", "okay", "via", "per", "may", "might", "must",
    "shall", "am", "pm", NULL};

/* The theme catalogue: a name and words or phrases, "|"-separated, each
 * stemmed (Snowball English) when the model is built, so that "delivered",
 * "deliveries" and "delivery" all count. A phrase matches consecutive
 * words. */
const text_theme_def text_theme_defs[] = {
    {"Delivery",
     "delivery|deliver|deliveries|shipping|ship|shipment|shipped|courier|parcel|package|arrive|"
     "arrival|dispatch|dispatched|tracking|postage|postman|delivery driver|late delivery|"
     "on time|transit|fedex|ups|usps|dhl"},
    {"Price & value",
     "price|pricing|priced|expensive|cheap|cheaper|cost|costs|value|money|worth|overpriced|"
     "affordable|deal|discount|bargain|pricey|inexpensive|value for money"},
    {"Customer support",
     "support|customer service|customer support|agent|representative|rep|helpdesk|help desk|"
     "call center|call centre|service desk|live chat|chat|ticket|complaint|service"},
    {"Wait time",
     "wait|waited|waiting|queue|on hold|hold|forever|delay|delayed|response time|hours|minutes|"
     "took long|too long|slow"},
    {"Product quality",
     "quality|broken|broke|break|defect|defective|durable|durability|material|sturdy|flimsy|"
     "faulty|damaged|damage|fell apart|stopped working|works|battery|build quality|cheaply made"},
    {"Website & app",
     "website|web site|site|app|application|online|login|log in|page|interface|crash|crashes|"
     "bug|buggy|password|account|browser|update"},
    {"Checkout & payment",
     "checkout|check out|payment|pay|paid|card|credit card|paypal|transaction|basket|cart|"
     "declined|coupon|promo code|voucher"},
    {"Billing & refunds",
     "bill|billing|billed|invoice|charge|charged|overcharged|refund|refunded|reimburse|"
     "money back|fee|fees|subscription|cancel|cancellation"},
    {"Staff friendliness",
     "friendly|unfriendly|rude|polite|staff|employee|employees|waiter|waitress|server|cashier|"
     "helpful|unhelpful|courteous|attitude|manager|manners|welcoming"},
    {"Returns",
     "return|returns|returned|exchange|send back|sent back|replacement|replace|rma|"
     "return label|warranty"},
    {"Stock & availability",
     "stock|out of stock|in stock|available|availability|unavailable|sold out|backorder|"
     "back order|inventory|restock"},
    {"Communication",
     "communication|communicate|inform|informed|update|updates|notify|notification|email|"
     "e-mail|call back|called back|respond|response|reply|replied|contact|heard back|follow up"},
    {"Ease of use",
     "easy|easier|simple|intuitive|confusing|complicated|setup|set up|instructions|manual|"
     "user friendly|difficult|hard to use|easy to use"},
    {"Store & location",
     "store|shop|location|parking|branch|clean|dirty|atmosphere|ambiance|ambience|decor|"
     "restroom|seating|place"},
    {NULL, NULL}};
