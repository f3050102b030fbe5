#!/usr/bin/env bash
# Drive dflash-tui in a real terminal (tmux) on a tiny real model pair: type a prompt, watch it
# stream, stop it with Esc, quit, restart, and check the conversation came back.
# Screens are saved as text in OUT_DIR. CI runs this through tests/e2e/test_tmux_script.py.
#   usage: scripts/tmux_e2e.sh [OUT_DIR]
#   DFLASH_TUI_CMD overrides the command that starts the app (default: python -m dflash_tui.cli).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-$(mktemp -d)}
mkdir -p "$out"
work=$(mktemp -d)
session="dflash-e2e"
socket="dflash-e2e-$$"  # a private tmux server: no user config, no other sessions, a fixed 100x30 size
export DFLASH_TUI_HOME="$work/home"
unset COLUMNS LINES  # inherited values (pytest sets them) would override the pane's real size
tm() { tmux -L "$socket" -f /dev/null "$@"; }
trap 'tm kill-server 2>/dev/null || true; rm -rf "$work"' EXIT

python - "$work" <<'PY'
import sys
from pathlib import Path
from dflash_tui.settings import Settings, save_settings
from dflash_tui.synthetic import build_draft, build_target

work = Path(sys.argv[1])
build_target(work / "target", "qwen3")
build_draft(work / "draft", work / "target")
settings = Settings()
settings.generation.max_tokens = 5000  # Esc, not the limit, ends the reply
settings.generation.auto_block = False  # a random draft: pin DFlash so its stats show
save_settings(settings)
PY

capture() { tm capture-pane -p -t "$session" > "$out/$1.txt"; }
app_exited() { [ "$(tm display-message -p -t "$session" '#{pane_dead}')" = 1 ]; }

wait_for() {  # wait_for TEXT SCREEN_NAME [SECONDS]
  for _ in $(seq 1 "${3:-60}"); do
    capture "$2"
    grep -qF -- "$1" "$out/$2.txt" && return 0
    if app_exited; then
      echo "tmux e2e: the app exited while waiting for '$1'; its last screen:" >&2
      cat "$out/$2.txt" >&2
      return 1
    fi
    sleep 1
  done
  echo "tmux e2e: timed out waiting for '$1'; screen:" >&2
  cat "$out/$2.txt" >&2
  return 1
}

start_app() {  # the pane stays after the app exits, so a crash's traceback can be read
  tm kill-session -t "$session" 2>/dev/null || true
  tm new-session -d -s "$session" -x 100 -y 30
  tm set-option -t "$session" remain-on-exit on
  tm respawn-pane -k -t "$session" \
    "${DFLASH_TUI_CMD:-python -m dflash_tui.cli} --target '$work/target' --draft '$work/draft'"
}

wait_gone() {
  for _ in $(seq 1 20); do app_exited && return 0; sleep 0.5; done
  echo "tmux e2e: the app did not quit on Ctrl+Q" >&2
  return 1
}

start_app
wait_for "/draft · DFlash b16" "1-ready"
tm send-keys -t "$session" "hello from tmux" Enter
wait_for "generating (Esc stops)" "2-streaming"
sleep 2
tm send-keys -t "$session" Escape
wait_for "■ stopped" "3-stopped"
tm send-keys -t "$session" C-q
wait_gone

start_app
wait_for "hello from tmux" "4-restarted"
wait_for "■ stopped" "4-restarted"
tm send-keys -t "$session" C-q
wait_gone
echo "tmux e2e: OK (screens in $out)"
