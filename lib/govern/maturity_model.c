/* maturity_model.c - the CX maturity model as data (maturity.h,
 * docs/maturity.md): the ten components of the seed literature, each with
 * observable statements and a next step per level, the five levels and
 * the answer scale. Statement ids are the keys of an assessment's answers
 * and are kept forever: add statements at a component's end, never
 * renumber. */
#include "maturity.h"

const char *const gv_maturity_scale[5] = {
    "Not true",
    "True in a few places",
    "True in about half of the organisation",
    "Mostly true",
    "True everywhere, consistently",
};

/* from: equal bands of 0.80 over 1.00..5.00 (docs/maturity.md) */
const gv_maturity_level gv_maturity_levels[GV_MATURITY_LEVELS] = {
    {"initiate", "Initiate",
     "Customer experience is not yet managed. Feedback is gathered now and then, if at all, and handled by "
     "individuals who care; there is no shared definition of the experience, no owner and no regular measure. "
     "Improvements happen by chance or after an escalation.",
     100},
    {"develop", "Develop",
     "The organisation has started. A first CX measure (usually NPS or CSAT) exists, a few enthusiasts or a "
     "small team drive it and one or two journeys are mapped. The work is project by project and local; "
     "results are reported but seldom acted on systematically.",
     180},
    {"practice", "Practice",
     "CX is practised across several departments with shared methods: surveys at the key touchpoints, "
     "journey maps, a closed loop for detractors, KPIs with owners. It is still driven by the CX team rather "
     "than built into how every department plans and works.",
     260},
    {"optimize", "Optimize",
     "CX is part of management. Targets sit in plans and personal goals, root causes are fixed across "
     "departments, decisions are checked for their effect on customers and changes are measured before and "
     "after. Feedback is joined to behaviour, and the experience improves continuously.",
     340},
    {"differentiate", "Differentiate",
     "The customer experience is a deliberate competitive advantage. Every employee knows the customer "
     "promise and acts on it; the organisation anticipates needs from its data, designs new experiences with "
     "its customers, and its CX results are visibly ahead of its peers and tied to financial outcomes.",
     420},
};

const gv_maturity_component gv_maturity_model[GV_MATURITY_COMPONENTS] = {
    {"culture", "Culture", "How the whole organisation thinks and acts about customers, day to day.", 5,
     {{"culture_1", "Every detractor is contacted by a person within 48 hours of their answer."},
      {"culture_2", "Employees outside customer-facing teams hear real customer stories (verbatims, calls) at "
                    "least once a month."},
      {"culture_3", "When a decision is taken, its effect on customers is asked about and written down with it."},
      {"culture_4", "Staff are recognised for solving customers' problems, not only for meeting efficiency "
                    "targets."},
      {"culture_5", "Front-line staff may fix a customer's problem up to a set amount without asking for "
                    "approval."}},
     {"Read one customer verbatim aloud at the start of a weekly team meeting, and have someone call back "
      "every detractor of one survey.",
      "Make calling back detractors a rule for every survey, with a 48-hour target, and share one customer "
      "story company-wide each month.",
      "Give front-line staff a budget to fix problems on the spot, and recognise the call-backs that turned "
      "detractors into promoters.",
      "Add \"how does this affect customers?\" to every decision template and review the answers once the "
      "outcome is known.",
      "Keep it alive: rotate every employee, executives included, through customer contact each year and "
      "publish the recovery rate."}},
    {"leadership", "Leadership",
     "What the executives do, not what they say: their time, money and attention for customers.", 4,
     {{"leadership_1", "The executive team reviews CX KPIs (NPS, CSAT, complaints) in its regular meeting at "
                       "least monthly."},
      {"leadership_2", "A named executive is accountable for the customer experience across departments."},
      {"leadership_3", "Executives listen to customers directly (calls, visits, verbatims) at least once a "
                       "quarter."},
      {"leadership_4", "CX improvements have their own budget line, decided in the yearly planning."}},
     {"Put NPS or CSAT and the top customer complaint on the executive meeting's agenda once a month.",
      "Name one executive accountable for CX across departments, with a seat where budgets are decided.",
      "Have each executive spend half a day a quarter listening to customers and say what they will change.",
      "Fund CX improvements from a yearly budget line decided on their expected effect on retention and cost "
      "to serve.",
      "Tie part of executive pay to CX outcomes and to the measured results of the improvement initiatives."}},
    {"people", "People and HR",
     "Hiring, training, goals and pay that make customer-centred behaviour normal.", 4,
     {{"people_1", "Job descriptions and hiring interviews include customer-orientation criteria."},
      {"people_2", "Every new employee gets CX training in their first month, including how their role "
                   "touches customers."},
      {"people_3", "Individual or team goals include at least one customer measure."},
      {"people_4", "Employee engagement (eNPS) is measured at least twice a year and read beside the CX of the "
                   "same teams."}},
     {"Add one customer-orientation question to every hiring interview and a CX session to onboarding.",
      "Give every team one customer measure in its goals, and run an eNPS survey twice a year.",
      "Read eNPS beside the CX of the same teams, and coach the teams where both are low.",
      "Build CX skills (journey mapping, root-cause analysis) into career paths and performance reviews.",
      "Make customer outcomes a promotion criterion and let the best front-line staff train the others."}},
    {"change", "Change management", "How CX changes are planned, explained and made to stick.", 3,
     {{"change_1", "Each CX change has a sponsor, a plan and a message to the people it affects before it "
                   "starts."},
      {"change_2", "Changes are measured before and after on the KPI they were meant to move."},
      {"change_3", "Lessons from changes that did not work are written down and shared."}},
     {"For the next CX change, name a sponsor and tell the staff it affects what changes and why before it "
      "starts.",
      "Use one template for CX changes: sponsor, plan, communication, and the KPI it should move.",
      "Measure every CX change before and after on its KPI, and stop the changes that do not move it.",
      "Hold a short retrospective after each change and share what was learnt across departments.",
      "Try big changes as pilots or A/B tests first, so that the organisation changes on evidence as a "
      "routine."}},
    {"strategy", "Strategy", "A CX vision and strategy that is written, shared and tied to the business strategy.",
     4,
     {{"strategy_1", "A written CX vision says which experience we promise to which customers."},
      {"strategy_2", "The CX strategy names the target segments and the journeys that matter most to them."},
      {"strategy_3", "CX goals are in the company's strategic plan with a financial case (retention, share of "
                     "wallet, cost to serve)."},
      {"strategy_4", "Employees can say in one sentence what the customer promise is."}},
     {"Write a one-page CX vision: which customers, what promise, and why it matters to the business.",
      "Name the target segments and the three journeys that matter most to them, with a goal for each.",
      "Put the CX goals, with their financial case, into the company's strategic plan.",
      "Review the CX strategy every year against the results of the journeys and segments it named.",
      "Design the brand promise and the experience together, and track the experience against competitors."}},
    {"governance", "Governance", "Who owns what: roles, KPIs and targets, decision rights, and the record of it.",
     5,
     {{"governance_1", "Each CX KPI has a named owner and a target."},
      {"governance_2", "A cross-functional CX council with decision rights meets at least monthly."},
      {"governance_3", "Every key journey and touchpoint has a named owner."},
      {"governance_4", "Changes to the CX programme (surveys, rules, targets) are on record: who, what and "
                       "when."},
      {"governance_5", "Customer data is held under a written policy for consent, access and retention, and "
                       "the policy is followed."}},
     {"Give each CX KPI you already measure a named owner and a target.",
      "Hold a monthly cross-functional CX meeting that reviews the KPIs against their targets and decides "
      "actions.",
      "Name an owner for each key journey and touchpoint, and keep a record of changes to surveys, rules and "
      "targets.",
      "Give the CX council decision rights over fixes across departments, and check the audit log every "
      "quarter.",
      "Publish your CX commitments and performance to customers, and audit the governance every year."}},
    {"process", "Process alignment", "Operations designed around the customer's journey rather than the org chart.",
     4,
     {{"process_1", "Surveys are sent automatically after key events (purchase, delivery, support contact)."},
      {"process_2", "Complaints and low scores open a case with an owner, a due time and a required root cause."},
      {"process_3", "Hand-offs between departments along the key journeys are documented with their service "
                    "levels."},
      {"process_4", "The root causes of complaints are reviewed monthly and lead to process changes."}},
     {"Send a survey automatically after one key event (an order or a support contact) instead of by hand.",
      "Open a case with an owner and a due time for every detractor and every low CSAT.",
      "Require a root cause on every resolved case and review the top root causes every month.",
      "Redesign the hand-offs behind the top root causes and agree service levels between departments.",
      "Let journey data trigger proactive service: reach out before the customer has to complain."}},
    {"design", "CX design and implementation", "Designing experiences on purpose, from research to roll-out.", 4,
     {{"design_1", "The key journeys are mapped from the customer's point of view: stages, touchpoints, "
                   "emotions and pain points."},
      {"design_2", "Segments or personas built from data guide design decisions."},
      {"design_3", "New products and services are tested with customers before launch."},
      {"design_4", "Future-state journey maps exist for the journeys being redesigned, with owners and dates."}},
     {"Map one key journey with customers and front-line staff: stages, touchpoints, emotions, pain points.",
      "Build segments or personas from data, and map the key journey of each.",
      "Bind the journey map's touchpoints to live data (events and feedback) and review them monthly.",
      "Draw future-state maps for the journeys you redesign, with owners and dates, and test the changes with "
      "customers first.",
      "Create new experiences together with customers and measure each redesign against the current state."}},
    {"insight", "Insight and knowledge",
     "Listening to customers, understanding them, and turning it into knowledge people use.", 5,
     {{"insight_1", "Customer feedback is collected continuously at the key touchpoints, not only in a yearly "
                    "study."},
      {"insight_2", "NPS or CSAT is reported per touchpoint and journey, with the number of answers and a "
                    "confidence interval."},
      {"insight_3", "Verbatims are analysed for themes and sentiment, and the top themes are shared monthly."},
      {"insight_4", "Feedback is linked to behaviour (purchases, churn) to show which touchpoints drive "
                    "loyalty."},
      {"insight_5", "Insights reach the people who can act on them within a week."}},
     {"Collect NPS or CSAT continuously at one key touchpoint and read the verbatims every week.",
      "Measure at every key touchpoint and report the score of each with its number of answers.",
      "Analyse the verbatims for themes and sentiment, and send the top themes to their owners every month.",
      "Link feedback to behaviour (repeat purchase, churn) with a key-driver analysis to decide where to "
      "invest.",
      "Predict the customers at risk from their feedback and behaviour, and act before they leave."}},
    {"technology", "Technology",
     "Systems and data that give one view of the customer and let people act on it.", 4,
     {{"technology_1", "Events from every channel (web, app, shop, contact centre) arrive in one customer "
                       "record."},
      {"technology_2", "Anyone who serves a customer can see that customer's history and latest feedback."},
      {"technology_3", "Surveys, cases and alerts are triggered by the systems, not sent by hand."},
      {"technology_4", "CX dashboards update at least daily without manual work."}},
     {"Send the events of your main channel (web or app) to one customer record through the tracking API.",
      "Connect the other channels (shop, contact centre) and unify each customer's identities across them.",
      "Trigger surveys, cases and alerts from events instead of by hand.",
      "Show each customer's history and latest feedback to everyone who serves them.",
      "Personalise the experience in real time from the unified profile and the predictions."}},
};
