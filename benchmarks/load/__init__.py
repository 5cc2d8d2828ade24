"""`make bench`: load, saturation and soak measurements of the running help desk (docs/benchmarks.md, "Load").

Run as `python -m benchmarks.load --help`. The package starts its own full stack (real Rasa, action
server and desk on loopback, a fresh seeded SQLite database, a fake Telegram Bot API), plays students
over the web chat and the Telegram webhook, and the same messages against bare Rasa's REST channel.
"""
