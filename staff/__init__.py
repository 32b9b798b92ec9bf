"""The staff dashboard: the web app where reviewers and admins triage the tip queue.

Starlette + Jinja2 served by uvicorn, no JavaScript. The desk private keys live only in
server memory, inside a logged-in session (see `sessions`): the process must run as a
single worker, and a restart logs everyone out — on purpose, nothing is written to disk.
"""
