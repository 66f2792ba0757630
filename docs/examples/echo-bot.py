#!/usr/bin/env python3
"""Echo bot: answers every message with the same text. Usage: echo-bot.py [shoal args...]
e.g. echo-bot.py --data ~/bot --network devnet.network  (docs/bot-api.md)"""
import json, subprocess, sys

shoal = subprocess.Popen(["shoal", "bot", *sys.argv[1:]], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True, bufsize=1)
for line in shoal.stdout:
    event = json.loads(line)
    if event.get("event") == "ready":
        print("echo bot", event["session_id"], "is listening", file=sys.stderr, flush=True)
    elif event.get("event") == "message" and "from" in event:
        reply = {"cmd": "send", "to": event["from"], "text": "echo: " + event["text"]}
        shoal.stdin.write(json.dumps(reply) + "\n")
    elif event.get("ok") is False:
        print("error:", event["error"], file=sys.stderr, flush=True)
