#!/usr/bin/env bash
# The main job end to end: set up, train the example model, build its Lambda image, run it
# locally under the Lambda Runtime Interface Emulator, and send it held-out digits.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --demo
LIT=${LIT_VENV:-$PWD/.venv}/bin/lit
PY=${LIT_VENV:-$PWD/.venv}/bin/python
PORT=${LIT_PORT:-9000}

printf '\033[1m==> lit build images/digits\033[0m\n'
"$LIT" build images/digits -q
printf '\033[1m==> lit run images/digits --port %s\033[0m\n' "$PORT"
"$LIT" run images/digits --port "$PORT"
trap '"$LIT" stop images/digits >/dev/null' EXIT

printf '\033[1m==> lit invoke images/digits --image images/digits/heldout/0000.png\033[0m\n'
"$LIT" invoke images/digits --image images/digits/heldout/0000.png

printf '\033[1m==> 20 held-out digits through the local Lambda\033[0m\n'
"$PY" - "$LIT" <<'PYEOF'
import json, subprocess, sys
lit = sys.argv[1]
labels = json.load(open("images/digits/heldout/labels.json"))["labels"]
right = 0
for name in sorted(labels)[:20]:
    out = subprocess.run([lit, "invoke", "images/digits", "--image", f"images/digits/heldout/{name}", "--json"],
                         capture_output=True, text=True, check=True)
    result = json.loads(out.stdout)
    top = result["payload"]["predictions"][0][0]
    right += int(top["label"]) == labels[name]
    print(f"{name}: predicted {top['label']} ({top['probability']:.3f}), true {labels[name]}, "
          f"{result['report'].get('duration_ms', 0):.1f} ms")
print(f"{right}/20 correct")
PYEOF
