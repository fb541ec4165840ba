"""Keyboard shortcuts for the Record page: one small script (``st.html`` with JavaScript) that turns a key press
into a click on the page's own button, so a shortcut does exactly what the button does (and nothing when the button is
not there or disabled).

Buttons are found by their widget key (Streamlit puts ``st-key-<key>`` on the element around each keyed widget);
the ``record`` key clicks the audio recorder's own Record / Stop button, ``play`` plays or pauses the last take's
player. Key presses in text fields, select boxes and editable elements are left alone, and so are presses with
Ctrl/Alt/Meta (browser shortcuts); Enter on a focused button or link keeps its own meaning.
Streamlit is imported here; torch never is.
"""

from __future__ import annotations

import json

import streamlit as st

# key → (action, what the legend says). Actions name a selector in SHORTCUTS' script below.
KEYS: dict[str, tuple[str, str]] = {
    "r": ("record", "record / stop (hands-free: start, pause, resume)"),
    "Enter": ("next", "keep the take and go to the next phrase"),
    "x": ("redo", "re-record"),
    "ArrowLeft": ("back", "back"),
    "s": ("skip", "skip to the next unrecorded phrase"),
    "p": ("play", "play the last take"),
    "Escape": ("stop", "stop the hands-free session"),
}
LABELS = {"ArrowLeft": "←", "Enter": "Enter", "Escape": "Esc"}

_SCRIPT = """
<script>
(function () {
  const doc = document;
  const win = window;
  win.__voxRecordKeys = %(targets)s;
  if (win.__voxRecordKeysInstalled) return;
  win.__voxRecordKeysInstalled = true;
  const typing = (el) => {
    if (!el) return false;
    const tag = (el.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable
      || (el.getAttribute && el.getAttribute("role") === "combobox");
  };
  const click = (selector) => {
    const el = doc.querySelector(selector);
    if (!el || el.disabled || el.getAttribute("aria-disabled") === "true") return false;
    el.click();
    return true;
  };
  doc.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) return;
    const key = event.key.length === 1 ? event.key.toLowerCase() : event.key;
    const tag = ((event.target && event.target.tagName) || "").toLowerCase();
    if (key === "Enter" && (tag === "button" || tag === "a")) return;  // Enter on a focused button clicks it
    const target = (win.__voxRecordKeys || {})[key];
    if (!target) return;
    let done = false;
    if (target.audio) {
      const player = doc.querySelector(target.audio);
      if (player) {
        if (player.paused) { player.currentTime = 0; player.play(); } else { player.pause(); }
        done = true;
      }
    } else {
      for (const selector of target.selectors) { if (click(selector)) { done = true; break; } }
    }
    if (done) { event.preventDefault(); event.stopPropagation(); }
  }, true);
})();
</script>
"""


def _button(key: str) -> str:
    return f".st-key-{key} button"


def targets(buttons: dict[str, list[str]]) -> dict:
    """The script's table: key → CSS selectors to try in order (``buttons``: action → widget keys)."""
    out = {}
    for key, (action, _) in KEYS.items():
        if action == "record":
            sel = ['.st-key-rec_recorder [data-testid="stAudioInput"] button[aria-label="Stop recording"]',
                   '.st-key-rec_recorder [data-testid="stAudioInput"] button[aria-label="Record"]']
            out[key] = {"selectors": sel + [_button(k) for k in buttons.get(action, [])]}
        elif action == "play":
            out[key] = {"audio": ".st-key-rec_last audio"}
        elif buttons.get(action):
            out[key] = {"selectors": [_button(k) for k in buttons[action]]}
    return out


def install(buttons: dict[str, list[str]]) -> None:
    """Bind the shortcuts on this page (``buttons``: action → widget keys of the buttons that do it)."""
    st.html(_SCRIPT % {"targets": json.dumps(targets(buttons))}, unsafe_allow_javascript=True)


def legend() -> str:
    """The shortcuts as one Markdown line for the page."""
    return "Keys: " + " · ".join(f"`{LABELS.get(k, k.upper())}` {text}" for k, (_, text) in KEYS.items())


def set_session_cookie(name: str, value: str) -> None:
    """Set a browser-session cookie (no expiry: gone when the browser closes) on the studio's page."""
    st.html("<script>document.cookie = " + json.dumps(f"{name}={value}; path=/; SameSite=Strict") + ";</script>",
            unsafe_allow_javascript=True)
