"""Names shared by the bot, the actions, the knowledge base and the desk: one home for each.

Intent, entity, slot and form names must match domain.yml (tests/knowledge_base/test_names.py checks
both ways for the ones listed in `DOMAIN_INTENTS`, `ENTITIES` and `SLOTS`); button payloads are built
from them. The desk's own payloads (`/cancel_handoff`, `/skip_comment`, `/rate{...}`) never reach Rasa:
the gateway answers them. Conversation ids are `<channel>:<id>` (`web:uuid`, `tg:123`, `wx:openid`);
`channel_of` reads the channel back. Plain strings only: this module imports nothing of Rasa.
"""

from __future__ import annotations

# -- intents (domain.yml `intents:`) ---------------------------------------------------------------
INTENT_GREET = "greet"
INTENT_GOODBYE = "goodbye"
INTENT_THANKS = "thanks"
INTENT_AFFIRM = "affirm"
INTENT_DENY = "deny"
INTENT_BOT_CHALLENGE = "bot_challenge"
INTENT_HELP = "help"
INTENT_FAQ = "faq"
INTENT_CHOOSE_FAQ = "choose_faq"
INTENT_SERVICE_INFO = "service_info"
INTENT_BOOK = "book_appointment"
INTENT_CANCEL = "cancel_appointment"
INTENT_LIST = "list_appointments"
INTENT_RESCHEDULE = "reschedule_appointment"
INTENT_CHOOSE_TIME = "choose_time"
INTENT_INFORM_CONTACT = "inform_contact"
INTENT_UPDATE_CONTACT = "update_contact"
INTENT_REQUEST_HUMAN = "request_human"
INTENT_COMPLAIN = "complain"
INTENT_CRISIS = "crisis"
INTENT_OUT_OF_SCOPE = "out_of_scope"
# Rasa's own: the FallbackClassifier's intent (config.yml), not listed in the domain
INTENT_NLU_FALLBACK = "nlu_fallback"

DOMAIN_INTENTS = frozenset(
    {
        INTENT_GREET,
        INTENT_GOODBYE,
        INTENT_THANKS,
        INTENT_AFFIRM,
        INTENT_DENY,
        INTENT_BOT_CHALLENGE,
        INTENT_HELP,
        INTENT_FAQ,
        INTENT_CHOOSE_FAQ,
        INTENT_SERVICE_INFO,
        INTENT_BOOK,
        INTENT_CANCEL,
        INTENT_LIST,
        INTENT_RESCHEDULE,
        INTENT_CHOOSE_TIME,
        INTENT_INFORM_CONTACT,
        INTENT_UPDATE_CONTACT,
        INTENT_REQUEST_HUMAN,
        INTENT_COMPLAIN,
        INTENT_CRISIS,
        INTENT_OUT_OF_SCOPE,
    }
)

# -- entities (domain.yml `entities:`) -------------------------------------------------------------
ENTITY_SERVICE = "service"
ENTITY_FAQ_ID = "faq_id"
ENTITY_TIME = "time"
ENTITY_CODE = "booking_code"

ENTITIES = frozenset({ENTITY_SERVICE, ENTITY_FAQ_ID, ENTITY_TIME, ENTITY_CODE})

# -- the appointment form and the slots (domain.yml `forms:` and `slots:`) -------------------------
FORM_APPOINTMENT = "appointment_form"
SLOT_FAQ_GIVE_UPS = "faq_give_ups"
SLOT_APPOINTMENT_OP = "appointment_op"  # book | reschedule | cancel | None (nothing to do)
SLOT_BOOKING_SERVICE = "booking_service"
SLOT_BOOKING_CODE = "booking_code"
SLOT_BOOKING_TIME = "booking_time"  # ISO start of a free slot
SLOT_BOOKING_OFFER = "booking_offer"  # what the time question shows next: {"kind", "options": [ISO...], ...}
SLOT_CONTACT_NAME = "contact_name"  # contact slots hold Fernet tokens, never clear text
SLOT_CONTACT_STUDENT_NUMBER = "contact_student_number"
SLOT_CONTACT_PHONE = "contact_phone"
SLOT_BOOKING_CONFIRM = "booking_confirm"
# Rasa's own: the slot a form is asking for (not declared in the domain)
SLOT_REQUESTED = "requested_slot"

SLOTS = frozenset(
    {
        SLOT_FAQ_GIVE_UPS,
        SLOT_APPOINTMENT_OP,
        SLOT_BOOKING_SERVICE,
        SLOT_BOOKING_CODE,
        SLOT_BOOKING_TIME,
        SLOT_BOOKING_OFFER,
        SLOT_CONTACT_NAME,
        SLOT_CONTACT_STUDENT_NUMBER,
        SLOT_CONTACT_PHONE,
        SLOT_BOOKING_CONFIRM,
    }
)

# -- button payloads -------------------------------------------------------------------------------
PAYLOAD_REQUEST_HUMAN = f"/{INTENT_REQUEST_HUMAN}"
PAYLOAD_BOOK = f"/{INTENT_BOOK}"
PAYLOAD_HELP = f"/{INTENT_HELP}"
# The desk's own (the gateway answers them; Rasa never sees them)
PAYLOAD_CANCEL_HANDOFF = "/cancel_handoff"
PAYLOAD_SKIP_COMMENT = "/skip_comment"
PAYLOAD_RATE = "/rate"  # followed by {"score": N}

# -- channels --------------------------------------------------------------------------------------
CHANNEL_WEB = "web"
CHANNEL_TELEGRAM = "tg"
CHANNEL_WECHAT = "wx"
CHANNELS = (CHANNEL_WEB, CHANNEL_TELEGRAM, CHANNEL_WECHAT)


def channel_of(conversation_id: str) -> str:
    """The channel of a conversation id: `web:uuid` -> `web`, `tg:123` -> `tg` (the whole id without a colon)."""
    return conversation_id.split(":", 1)[0]
