"""jsonlines.py LOG - the JSON decision lines of a daemon log: prints the
count, then whether the verdicts are 3 rejects and 2 passes, whether every
object has the documented fields, whether the passes are end-of-message
lines with one recipient, and whether the rejects name rule, reply and
sender."""
import json
import sys

objs = [json.loads(l.split(": ", 1)[1]) for l in open(sys.argv[1])
        if ": {" in l]
need = {"qid", "verdict", "stage", "client_name", "client_addr", "helo",
        "from", "rcpts", "policy", "symbols", "score", "ms"}
print(len(objs),
      sorted(o["verdict"] for o in objs) ==
      ["pass", "pass", "reject", "reject", "reject"],
      all(need <= set(o) for o in objs),
      all(o["rcpts"] == 1 and o["stage"] == "eom"
          for o in objs if o["verdict"] == "pass"),
      all(o["symbol"] == "block" and o["code"] == "550" and
          o["from"] == "a@bad.example" and o["symbols"] == ["block"]
          for o in objs if o["verdict"] == "reject"))
