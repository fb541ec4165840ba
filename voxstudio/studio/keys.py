"""Keyboard shortcuts: small scripts (``st.html`` with JavaScript) that turn a key press into a click on the page's
own button, so a shortcut does exactly what the button does (and nothing when the button is not there or disabled).
The Record page binds its takes (``install``); the Review page moves a cursor over the clip cards of the shown page
and acts on the clip under it (``install_review``).

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

# a key pressed while typing (text field, select box, editable element, a table's grid: a letter typed on a cell
# starts editing it) is the field's, never a shortcut
_TYPING_JS = """  const typing = (el) => {
    if (!el) return false;
    const tag = (el.tagName || "").toLowerCase();
    return tag === "input" || tag === "textarea" || tag === "select" || el.isContentEditable
      || (el.getAttribute && el.getAttribute("role") === "combobox")
      || !!(el.closest && el.closest('[data-testid="stDataFrame"]'));
  };
"""

_SCRIPT = """
<script>
(function () {
  const doc = document;
  const win = window;
  win.__voxRecordKeys = %(targets)s;
  if (win.__voxRecordKeysInstalled) return;
  win.__voxRecordKeysInstalled = true;
%(typing)s  const click = (selector) => {
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
    st.html(_SCRIPT % {"targets": json.dumps(targets(buttons)), "typing": _TYPING_JS}, unsafe_allow_javascript=True)


def legend() -> str:
    """The shortcuts as one Markdown line for the page."""
    return "Keys: " + " · ".join(f"`{LABELS.get(k, k.upper())}` {text}" for k, (_, text) in KEYS.items())


def set_session_cookie(name: str, value: str) -> None:
    """Set a browser-session cookie (no expiry: gone when the browser closes) on the studio's page."""
    st.html("<script>document.cookie = " + json.dumps(f"{name}={value}; path=/; SameSite=Strict") + ";</script>",
            unsafe_allow_javascript=True)


# Review: key → (action, what the legend says). The cursor lives in the page (a browser-side index over the clip
# cards, ``st-key-<REVIEW_CARD><clip id>``): it survives reruns, and when its clip leaves the page (moved to the
# trash) it lands on the clip that took its place.
REVIEW_CARD = "rev_card_"
REVIEW_KEYS: dict[str, tuple[str, str]] = {
    "j": ("next", "next clip"),
    "k": ("previous", "previous clip"),
    "p": ("play", "play / pause it"),
    "f": ("fine", "mark it fine (or undo the mark)"),
    "x": ("trash", "move it to the trash"),
    "u": ("undo", "undo the last move"),
}
# the buttons a key clicks on the clip under the cursor ({id}: its clip id), and the page's Undo
REVIEW_BUTTONS = {"fine": ["rev_keep_{id}", "rev_unkeep_{id}"], "trash": ["rev_trash_{id}"],
                  "undo": ["rev_undo_button"]}

_REVIEW_SCRIPT = """
<script>
(function () {
  const doc = document;
  const win = window;
  win.__voxReviewSetup = %(setup)s;  // this rerun's clips, in page order: the cursor's truth, not the DOM's
  if (win.__voxReviewPaint) { win.requestAnimationFrame(win.__voxReviewPaint); return; }
  const cursor = win.__voxReviewCursor = {id: null, index: -1};
  const ids = () => win.__voxReviewSetup.ids;
  const card = (id) => doc.querySelector(".st-key-" + win.__voxReviewSetup.card + id);
  const current = () => {  // the clip under the cursor; a clip that left the page hands it to the one in its place
    const list = ids();
    if (!list.length || cursor.index < 0) return null;
    let i = list.indexOf(cursor.id);
    if (i < 0) { i = Math.min(cursor.index, list.length - 1); cursor.id = list[i]; }
    cursor.index = i;
    return cursor.id;
  };
  const paint = win.__voxReviewPaint = () => {
    const here = current();
    for (const el of doc.querySelectorAll('[aria-current="true"][class*="st-key-' + win.__voxReviewSetup.card + '"]')) {
      if (el !== card(here)) { el.removeAttribute("aria-current"); el.style.outline = ""; }
    }
    const el = here && card(here);
    if (el && el.getAttribute("aria-current") !== "true") {
      el.setAttribute("aria-current", "true");
      el.style.outline = "3px solid #ff4b4b";
      el.style.outlineOffset = "2px";
    }
  };
  let queued = false;
  new MutationObserver(() => {  // a rerun redraws the cards: paint the cursor's card again
    if (queued) return;
    queued = true;
    win.requestAnimationFrame(() => { queued = false; paint(); });
  }).observe(doc.body, {childList: true, subtree: true});
%(typing)s  const click = (key) => {
    const el = doc.querySelector(".st-key-" + key + " button");
    if (!el || el.disabled || el.getAttribute("aria-disabled") === "true") return false;
    el.click();
    return true;
  };
  doc.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey || event.repeat || typing(event.target)) return;
    const action = win.__voxReviewSetup.keys[event.key.toLowerCase()];
    const list = ids();
    if (!action || !list.length || !card(list[0])) return;  // not the Review page, or no clip shown
    let done = false;
    if (action === "next" || action === "previous") {
      const here = current();
      const i = here ? list.indexOf(here) + (action === "next" ? 1 : -1) : 0;
      cursor.index = Math.max(0, Math.min(list.length - 1, i));
      cursor.id = list[cursor.index];
      paint();
      const el = card(cursor.id);
      if (el) el.scrollIntoView({block: "nearest"});
      done = true;
    } else if (action === "undo") {
      done = win.__voxReviewSetup.buttons.undo.some(click);
    } else {
      const here = current();
      const el = here && card(here);
      if (!el) return;
      if (action === "play") {
        const player = el.querySelector("audio");
        if (player) { if (player.paused) { player.play(); } else { player.pause(); } done = true; }
      } else {
        done = win.__voxReviewSetup.buttons[action].some((k) => click(k.replace("{id}", here)));
      }
    }
    if (done) { event.preventDefault(); event.stopPropagation(); }
  }, true);
})();
</script>
"""


def review_setup(clip_ids: list[str]) -> dict:
    """What the Review script reads: the clips of the shown page in order, the card key prefix, key → action,
    action → button keys."""
    return {"ids": list(clip_ids), "card": REVIEW_CARD,
            "keys": {k: action for k, (action, _) in REVIEW_KEYS.items()}, "buttons": REVIEW_BUTTONS}


def install_review(clip_ids: list[str]) -> None:
    """Bind the Review page's row keys over ``clip_ids`` (their cards keyed ``REVIEW_CARD + clip id``)."""
    st.html(_REVIEW_SCRIPT % {"setup": json.dumps(review_setup(clip_ids)), "typing": _TYPING_JS},
            unsafe_allow_javascript=True)


def review_legend() -> str:
    return "Keys: " + " · ".join(f"`{k.upper()}` {text}" for k, (_, text) in REVIEW_KEYS.items())
