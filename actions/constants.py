"""Names of intents, entities and responses the actions rely on."""

INTENT_OUT_OF_SCOPE = "out_of_scope"
INTENT_CHOOSE_FAQ = "choose_faq"
INTENT_COMPLAIN = "complain"
INTENT_CRISIS = "crisis"
INTENT_BOOK = "book_appointment"

ENTITY_SERVICE = "service"
ENTITY_FAQ_ID = "faq_id"
