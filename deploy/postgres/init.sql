-- First start of the compose PostgreSQL: Rasa's tracker store gets its own database next to the desk's.
CREATE DATABASE rasa OWNER helpdesk;
