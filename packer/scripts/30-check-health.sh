#!/bin/sh -eu
# The service answers 200 on its health URL, installed and hardened as the image will run
# it (python3 is on the image for the service anyway; no curl needed).
#   env: HEALTH_URL  e.g. http://127.0.0.1:<port>/healthz ("" skips the check)
if [ -z "${HEALTH_URL:-}" ]; then
  echo "HEALTH_URL is empty: health check skipped"
  exit 0
fi
python3 - "$HEALTH_URL" <<'PY'
import sys, time, urllib.request

url, t0 = sys.argv[1], time.monotonic()
while True:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            if answer.status == 200:
                print(f"{url}: 200 after {time.monotonic() - t0:.1f} s")
                break
            err = f"HTTP {answer.status}"
    except OSError as exc:
        err = exc
    if time.monotonic() - t0 > 120:
        sys.exit(f"{url} did not answer 200 within 120 s ({err})")
    time.sleep(1)
PY
