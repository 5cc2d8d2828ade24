"""The Rasa model's lifecycle from the admin's browser (docs/admin.md, "模型管理"): the catalog terms in the
database against those inside the model Rasa serves, a retrain in the background (a separate process:
runner.py), its checks, the reload into every running Rasa (`PUT /model`) and the way back to the previous
model. The model being served is recorded in <var>/active_model.json, which `helpdesk run` reads when it
(re)starts Rasa (active.py)."""
