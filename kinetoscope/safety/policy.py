"""The prompt policy stage: an operator-editable YAML policy, checked before any job is queued.

``check_prompt(text, policy) -> Decision(allowed, category, rule, reason)``;
``enforce`` raises ``PolicyRefusal`` (the studio turns it into an OpenAI-shaped
error with code ``moderation_blocked``). The policy file format is described
at the top of ``default_policy.yaml``. A refusal's ``reason`` and ``category``
come from the policy, never from the prompt, so they are safe to log.
"""

from __future__ import annotations

import importlib
import os
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import yaml

DEFAULT_POLICY = Path(__file__).with_name("default_policy.yaml")
POLICY_KEYS = {"version", "extends", "record_text", "classifier", "classifier_fail", "upload_classifier", "categories", "allow"}
CATEGORY_KEYS = {"reason", "terms", "patterns", "combos", "examples", "enabled"}
LEET = str.maketrans({"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b"})  # "1" is read both as i and as l
LEET_SYMBOLS = ((re.compile(r"@|\$|\+|€(?=[a-z])|(?<=[a-z])[@$+€]"), {"@": "a", "$": "s", "+": "t", "€": "e"}),
                (re.compile(r"(?<=[a-z0-9])[!|](?=[a-z0-9])"), {"!": "i", "|": "l"}))  # p@rn, $ex, k!d (not "wow!")
INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")  # soft hyphen, zero-width characters, direction marks
SPLIT_LETTERS = re.compile(r"(?<![a-z])(?:[a-z][\W_]{1,3}){2,}[a-z](?![a-z])")  # p.o.r.n, p o r n, s-e-x


class PolicyError(ValueError):
    """A policy file that cannot be used: names the file and the bad entry."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    category: str | None = None
    rule: str | None = None  # which rule matched, e.g. "gore/terms/gore" (from the policy, not the prompt)
    reason: str | None = None  # short, non-sensitive: the category's reason

    def __bool__(self) -> bool:
        return self.allowed


class PolicyRefusal(Exception):
    """A prompt (or upload) the policy refuses. ``code`` is what the OpenAI-shaped error carries."""

    code = "moderation_blocked"

    def __init__(self, decision: Decision, param: str = "prompt"):
        self.decision, self.param = decision, param
        self.category, self.reason = decision.category, decision.reason
        super().__init__(f"This request was refused by the content policy ({decision.reason}; category {decision.category}).")

    def to_openai_error(self) -> dict:
        return {"error": {"message": str(self), "type": "invalid_request_error", "param": self.param, "code": self.code}}


# --- normalisation ---------------------------------------------------------------------------------
def _squeeze(word: str) -> str:
    """Runs of one letter become one letter: pooorn -> porn, kill -> kil (terms are squeezed alike)."""
    return re.sub(r"(.)\1+", r"\1", word)


def _variants(text: str) -> list[tuple[str, list[str]]]:
    """(normalised text, the words that were glued from split letters) for "1" read as i and as l."""
    text = INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()
    text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    for pattern, table in LEET_SYMBOLS:
        text = pattern.sub(lambda m: table.get(m.group(), m.group()), text)
    out = []
    for one in ("i", "l"):
        t = text.translate(LEET).replace("1", one)
        glued = []

        def glue(m):
            glued.append(_squeeze(re.sub(r"[\W_]", "", m.group())))
            return glued[-1]

        t = " ".join(re.findall(r"[a-z]+", SPLIT_LETTERS.sub(glue, t)))
        if all(t != o[0] for o in out):
            out.append((t, glued))
    return out


def normalise(text: str) -> list[str]:
    """Variants of ``text`` as matching sees it: lower case, no accents, leetspeak undone ("1" read as i and as l),
    letters split by spaces or punctuation joined. Words are separated by single spaces."""
    return [t for t, _ in _variants(text)]


def _words(text: str) -> list[str]:
    return [_squeeze(w) for w in text.split()]


# --- compiled policy -------------------------------------------------------------------------------
@dataclass
class Category:
    name: str
    reason: str
    terms: list[tuple[tuple[str, ...], bool, str]] = field(default_factory=list)  # (squeezed words, prefix?, as written)
    patterns: list[tuple[re.Pattern, str]] = field(default_factory=list)
    combos: list[list[set[str]]] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


@dataclass
class Policy:
    categories: list[Category]
    allow: list[tuple[str, ...]]
    classifier: str | None = None
    classifier_fail: str = "closed"
    upload_classifier: str | None = None
    record_text: bool = False
    source: str = "default"


def _term(text: str) -> tuple[tuple[str, ...], bool, str]:
    prefix = text.endswith("*")
    words = tuple(_words(normalise(text.rstrip("*"))[0]))
    return words, prefix, text


def _merge(base: dict, extra: dict) -> dict:
    out = {**base, **{k: v for k, v in extra.items() if k not in ("categories", "allow", "extends")}}
    cats = {k: dict(v or {}) for k, v in (base.get("categories") or {}).items()}
    for name, cat in (extra.get("categories") or {}).items():
        merged = cats.setdefault(name, {})
        for k, v in (cat or {}).items():
            merged[k] = merged.get(k, []) + list(v) if isinstance(v, list) else v
    out["categories"] = cats
    out["allow"] = list(base.get("allow") or []) + list(extra.get("allow") or [])
    return out


def _read(path: Path) -> dict:
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise PolicyError(f"{path}: cannot read the policy ({e})") from None
    if not isinstance(raw, dict):
        raise PolicyError(f"{path}: a policy is a mapping with 'categories' (see {DEFAULT_POLICY})")
    unknown = set(raw) - POLICY_KEYS
    if unknown:
        raise PolicyError(f"{path}: unknown key {sorted(unknown)[0]!r}; allowed: {', '.join(sorted(POLICY_KEYS))}")
    if raw.get("extends") not in (None, "default"):
        raise PolicyError(f"{path}: extends {raw['extends']!r} is not allowed; use 'extends: default' or leave it out")
    return _merge(_read(DEFAULT_POLICY), raw) if raw.get("extends") == "default" else raw


def compile_policy(raw: dict, source: str = "<dict>") -> Policy:
    cats = []
    for name, c in (raw.get("categories") or {}).items():
        c = c or {}
        unknown = set(c) - CATEGORY_KEYS
        if unknown:
            raise PolicyError(f"{source}: category {name!r}: unknown key {sorted(unknown)[0]!r}; "
                              f"allowed: {', '.join(sorted(CATEGORY_KEYS))}")
        if c.get("enabled", True) is False:
            continue
        cat = Category(name, str(c.get("reason") or name.replace("_", " ")), examples=list(c.get("examples") or []))
        cat.terms = [_term(str(t)) for t in c.get("terms") or []]
        for i, pattern in enumerate(c.get("patterns") or []):
            try:
                cat.patterns.append((re.compile(str(pattern)), f"{name}/patterns/{i}"))
            except re.error as e:
                raise PolicyError(f"{source}: category {name!r}: pattern {pattern!r} is not a valid regular expression ({e})") from None
        for combo in c.get("combos") or []:
            if not isinstance(combo, list) or len(combo) < 2 or not all(isinstance(g, list) for g in combo):
                raise PolicyError(f"{source}: category {name!r}: a combo is a list of 2 or more word lists")
            cat.combos.append([{" ".join(_words(normalise(str(w))[0])) for w in group} for group in combo])
        cats.append(cat)
    if raw.get("classifier_fail", "closed") not in ("open", "closed"):
        raise PolicyError(f"{source}: classifier_fail {raw['classifier_fail']!r} is not allowed; use open or closed")
    return Policy(cats, [tuple(_words(normalise(str(a))[0])) for a in raw.get("allow") or []],
                  raw.get("classifier"), raw.get("classifier_fail", "closed"), raw.get("upload_classifier"),
                  bool(raw.get("record_text", False)), source)


def load_policy(path: str | os.PathLike | None = None) -> Policy:
    """The policy at ``path``, else $KINETOSCOPE_POLICY, else the shipped default."""
    path = path or os.environ.get("KINETOSCOPE_POLICY") or DEFAULT_POLICY
    return _load(str(Path(path).resolve()), Path(path).stat().st_mtime_ns if Path(path).is_file() else 0)


@lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> Policy:  # the mtime in the key reloads an edited file
    if not Path(path).is_file():
        raise PolicyError(f"{path}: no such policy file")
    return compile_policy(_read(Path(path)), path)


# --- checking --------------------------------------------------------------------------------------
def _remove_allowed(words: list[str], allow) -> list[str]:
    words = list(words)
    for phrase in allow:
        n = len(phrase)
        for i in range(len(words) - n + 1):
            if tuple(words[i:i + n]) == phrase:
                words[i:i + n] = ["|"] * n  # a barrier: no phrase matches across it
    return words


def _has(words: list[str], term: tuple[str, ...], prefix: bool) -> bool:
    n = len(term)
    for i in range(len(words) - n + 1):
        window = words[i:i + n]
        if window[:-1] == list(term[:-1]) and (window[-1].startswith(term[-1]) if prefix else window[-1] == term[-1]):
            return True
    return False


def _joined_pairs(words: list[str]) -> list[str]:
    """Neighbouring words glued together ("po rn" -> "porn"), for single-word terms only."""
    return [_squeeze(a + b) for a, b in zip(words, words[1:]) if "|" not in (a, b)]


def _match_category(cat: Category, words: list[str], text: str, glued: list[str]) -> str | None:
    """The rule of ``cat`` that matches: words (squeezed, allowed phrases barred), the text for patterns, and the
    words glued from split letters, in which terms are also looked for inside ("underagesex")."""
    pairs = _joined_pairs(words)
    for term, prefix, written in cat.terms:
        if _has(words, term, prefix) or any(_squeeze("".join(term)) in g for g in glued) or (len(term) == 1 and any(
                p.startswith(term[0]) if prefix else p == term[0] for p in pairs)):
            return f"{cat.name}/terms/{written}"
    for pattern, rule in cat.patterns:
        if pattern.search(text):
            return rule
    present = {" ".join(words[i:i + n]) for n in (1, 2, 3) for i in range(len(words) - n + 1)}
    for i, combo in enumerate(cat.combos):
        if all(group & present or any(w.replace(" ", "") in g for w in group for g in glued) for group in combo):
            return f"{cat.name}/combos/{i}"
    return None


def _call(spec: str, *args):
    module, _, name = spec.partition(":")
    if not name:
        raise PolicyError(f"classifier {spec!r} must be 'package.module:function'")
    return getattr(importlib.import_module(module), name)(*args)


def _classifier_decision(policy: Policy, spec: str, *args) -> Decision:
    try:
        verdict = _call(spec, *args)
    except Exception as e:  # noqa: BLE001 - an operator's classifier may fail in any way
        if policy.classifier_fail == "open":
            return Decision(True)
        return Decision(False, "classifier_error", "classifier", f"the content classifier failed ({type(e).__name__})")
    if not verdict:
        return Decision(True)
    if isinstance(verdict, Decision):
        return verdict
    category = str(verdict)
    reason = next((c.reason for c in policy.categories if c.name == category), category.replace("_", " "))
    return Decision(False, category, "classifier", reason)


def check_prompt(text: str, policy: Policy | None = None) -> Decision:
    """Allowed, or the first category (in file order) whose terms, patterns or combos match; then the classifier."""
    policy = policy or load_policy()
    for variant, glued in _variants(text or ""):
        raw = variant.split()
        words = _remove_allowed([_squeeze(w) for w in raw], policy.allow)
        plain = " ".join("|" if w == "|" else r for w, r in zip(words, raw))  # patterns see the unsqueezed words
        glued = [g for g in glued if not any("".join(a) == g for a in policy.allow)]
        for cat in policy.categories:
            rule = _match_category(cat, words, plain, glued)
            if rule:
                return Decision(False, cat.name, rule, cat.reason)
    if policy.classifier:
        return _classifier_decision(policy, policy.classifier, text)
    return Decision(True)


def check_upload(frames, policy: Policy | None = None, filename: str = "") -> Decision:
    """An uploaded image/video (frames (T, H, W, 3) uint8): the operator's ``upload_classifier``, if any."""
    policy = policy or load_policy()
    if not policy.upload_classifier:
        return Decision(True)
    return _classifier_decision(policy, policy.upload_classifier, frames, filename)


def enforce(text: str, policy: Policy | None = None, param: str = "prompt") -> Decision:
    """``check_prompt``, raising PolicyRefusal when refused."""
    decision = check_prompt(text, policy)
    if not decision.allowed:
        raise PolicyRefusal(decision, param)
    return decision
