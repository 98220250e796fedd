"""Prompt rules: blocked words and patterns, checked before anything is charged.

Why RE2 (google-re2) and not Python's ``re`` with a timer: ``re`` backtracks, so a pattern such
as ``(a+)+$`` takes exponential time on a prompt of a few dozen ``a``s, and it cannot be
interrupted (it holds the GIL; a thread cannot be killed; a subprocess per prompt is heavy).
RE2 compiles to automata and matches in time linear in the prompt, for every pattern, so no
pattern a moderator can type can hang the bot and there is no "timed out: allow or refuse?"
question. The price is syntax: no lookarounds and no backreferences, which a block list does
not need; such patterns are refused when they are added, with a message saying so. Patterns
are also capped in length and in compiled size (``max_mem``), and one that matches empty text
(and so every prompt) is refused.

Matching is on a normalized prompt: NFKC (full-width and styled letters become plain ones),
every default-ignorable code point removed (zero-width spaces, joiners, variation selectors and
the like cannot split a word), whitespace runs collapsed to one space. Words are compared on the
prompt's *skeleton* (``skeleton``): combining marks stripped (so "g̶o̶r̶e̶" and "gôre" read
"gore"), case folded, and every letter that looks like a Latin one folded to it (Cyrillic "о",
small capitals "ɢᴏʀᴇ", mathematical letters), after Unicode TR39's confusables table. Words match
whole words of the skeleton; patterns match anywhere, in any case, in the normalized prompt or in
its skeleton (a hit in either refuses). Accents therefore do not tell words apart: a rule for
"cafe" also refuses "café".

Why ``disarm`` for the confusables (TR39) table, and not a hand-written one or another package:
it ships Unicode's own confusables data (version 17, ``disarm.CONFUSABLES_VERSION``) compiled
into a maintained, typed library with a fold *to Latin* (``normalize_confusables``), and covers
the small capitals that TR39 itself leaves unmapped (ɢ, ʀ, ᴇ). ``confusable-homoglyphs`` keeps
the table only as an undirected list of pairs (no prototype to fold to) and last updated its data
in 2024; ``confusables`` ships Unicode 13 data from 2020, produces every possible spelling
(exponential on long prompts), and installs a top-level ``tests`` package that would shadow ours;
PyICU needs ICU built from source on every machine and in the image. disarm deliberately leaves
printable ASCII alone (TR39 would turn "m" into "rn"), which is what a word list wants.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import disarm
import re2

from bot.domain.moderation import PromptRule, RuleKind
from bot.errors import InvalidRequest

MAX_WORD_CHARS = 100
MAX_PATTERN_CHARS = 200
MAX_RULES_PER_GUILD = 200
# Memory RE2 may use for one compiled pattern: bounds the size of the automaton, not the time.
_PATTERN_MAX_MEM = 1 << 20
# The combined word list is one automaton over up to MAX_RULES_PER_GUILD words.
_WORDS_MAX_MEM = 8 << 20
# Letters, digits and connectors: what a whole word may not touch on either side. RE2's own \w
# and \b are ASCII-only, so "é" would count as a boundary; these classes are Unicode-aware.
_NOT_WORD_CHAR = r"[^\p{L}\p{N}\p{M}_]"

Scope = Literal["server", "global"]

log = logging.getLogger(__name__)


# Unicode's Default_Ignorable_Code_Point property (DerivedCoreProperties.txt; Python's
# unicodedata does not expose it). Stable by Unicode policy: it already covers the reserved ranges
# where future ignorables go. Characters a renderer shows as nothing, so they cannot split a word.
_DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)


_IGNORABLE = frozenset(chr(point) for low, high in _DEFAULT_IGNORABLE for point in range(low, high + 1))


def _drop_ignorable(text: str) -> str:
    # Format characters (Cf) outside the property too, such as the Arabic number signs.
    return "".join(ch for ch in text if ch not in _IGNORABLE and unicodedata.category(ch) != "Cf")


def normalize(text: str) -> str:
    """The form prompts and patterns are compared in. Never raises, for any ``str``."""
    # Lone surrogates cannot be encoded for RE2: make them "?" (prompts with one are refused at
    # validation; this keeps rule checks total for any string).
    text = text.encode("utf-8", "replace").decode("utf-8")
    # Before and after NFKC: it can turn a compatibility character into an ignorable one.
    text = _drop_ignorable(unicodedata.normalize("NFKC", _drop_ignorable(text)))
    return " ".join(text.split())


def skeleton(normalized: str) -> str:
    """What a normalized text looks like, for matching: no combining marks, case folded, look-alike
    letters folded to Latin (TR39 confusables via disarm). Applied to prompts and words alike."""
    # Case folded first: folding can spell out a mark as a letter ("ᾀ" → "ἀι", the iota subscript),
    # and a stored word is already folded, so a prompt must be folded the same way before marks go.
    decomposed = unicodedata.normalize("NFD", normalized.casefold())
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) not in ("Mn", "Me"))
    folded = disarm.normalize_confusables(bare)
    # The fold can produce characters with a compatibility or case form of their own.
    return unicodedata.normalize("NFKC", folded).casefold()


def _options(max_mem: int) -> Any:
    options = re2.Options()
    options.case_sensitive = False
    options.log_errors = False  # RE2 would print every refused pattern to stderr
    options.max_mem = max_mem
    return options


def _error_text(error: Exception) -> str:
    detail = error.args[0] if error.args else error
    return detail.decode("utf-8", "replace") if isinstance(detail, bytes) else str(detail)


def normalize_word(value: str) -> str:
    """A blocked word or phrase as stored: normalized and case-folded. Raises InvalidRequest."""
    word = normalize(value).casefold()
    if not word:
        raise InvalidRequest("The word is empty. Give the word or phrase to block.")
    if len(word) > MAX_WORD_CHARS:
        raise InvalidRequest(f"A blocked word can be at most {MAX_WORD_CHARS} characters; this one is {len(word)}.")
    if not any(ch.isalnum() for ch in word):
        raise InvalidRequest("A blocked word needs at least one letter or digit. Use a pattern for punctuation.")
    return word


def compile_pattern(value: str) -> Any:
    """Compile a moderator's pattern, or raise InvalidRequest saying what to change."""
    pattern = value.strip()
    if not pattern:
        raise InvalidRequest("The pattern is empty. Give a regular expression to block.")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise InvalidRequest(
            f"A pattern can be at most {MAX_PATTERN_CHARS} characters; this one is {len(pattern)}. "
            "Split it into several shorter patterns."
        )
    try:
        compiled = re2.compile(pattern, _options(_PATTERN_MAX_MEM))
    except re2.error as error:
        raise InvalidRequest(
            f"That is not a pattern I can use: {_error_text(error)}. Patterns use RE2 syntax "
            "(like Python's, without lookarounds such as `(?=…)` or `(?<!…)` and without backreferences)."
        ) from None
    if compiled.search("") is not None:
        raise InvalidRequest("That pattern matches empty text, so it would block every prompt. Make it more specific.")
    return compiled


def validate_rule(kind: RuleKind, value: str) -> str:
    """The value to store for a new rule (words normalized, patterns stripped)."""
    if kind is RuleKind.WORD:
        return normalize_word(value)
    compile_pattern(value)
    return value.strip()


@dataclass(frozen=True, slots=True)
class RuleHit:
    """Which rule refused a prompt. Members are told only ``scope`` and ``kind``; moderators see the rule."""

    scope: Scope
    kind: RuleKind
    value: str
    rule_id: int | None = None  # None for the global list in the config

    @property
    def member_message(self) -> str:
        if self.scope == "global":
            what = "something on the bot's global block list"
        elif self.kind is RuleKind.WORD:
            what = "a word this server has blocked"
        else:
            what = "a pattern this server has blocked"
        return (
            f"Your prompt contains {what}, so it was not sent. Rephrase the prompt and try again. Nothing was charged."
        )


@dataclass(frozen=True, slots=True)
class _Rule:
    kind: RuleKind
    value: str
    rule_id: int | None


class RuleSet:
    """One scope's compiled rules. Build once per change, match many times."""

    def __init__(self, scope: Scope, rules: Iterable[_Rule]) -> None:
        self.scope: Scope = scope
        items = list(rules)
        # Keyed by the word's skeleton: that is what the prompt's skeleton is searched for.
        self._words = {skeleton(rule.value): rule for rule in items if rule.kind is RuleKind.WORD}
        self._words.pop("", None)
        self._patterns: list[tuple[_Rule, Any]] = []
        for rule in items:
            if rule.kind is RuleKind.PATTERN:
                try:
                    self._patterns.append((rule, compile_pattern(rule.value)))
                except InvalidRequest:
                    # Checked when added; a stored pattern a newer RE2 refuses must not stop every /video.
                    log.warning("skipping a %s pattern that no longer compiles (rule %s)", scope, rule.rule_id)
        self._word_matcher: Any = None
        if self._words:
            # Longest first, so a phrase wins over a word it starts with when both are listed.
            alternatives = "|".join(re2.escape(word) for word in sorted(self._words, key=len, reverse=True))
            self._word_matcher = re2.compile(
                f"(?:^|{_NOT_WORD_CHAR})({alternatives})(?:$|{_NOT_WORD_CHAR})", _options(_WORDS_MAX_MEM)
            )

    @classmethod
    def from_rules(cls, scope: Scope, rules: Sequence[PromptRule]) -> RuleSet:
        return cls(scope, (_Rule(rule.kind, rule.value, rule.id) for rule in rules))

    @classmethod
    def from_lists(cls, scope: Scope, words: Sequence[str], patterns: Sequence[str]) -> RuleSet:
        items = [_Rule(RuleKind.WORD, normalize_word(word), None) for word in words]
        items += [_Rule(RuleKind.PATTERN, pattern.strip(), None) for pattern in patterns]
        return cls(scope, items)

    def __len__(self) -> int:
        return len(self._words) + len(self._patterns)

    def match_normalized(self, text: str, folded: str | None = None) -> RuleHit | None:
        """``text`` as ``normalize`` made it; ``folded`` its ``skeleton`` (computed if not given)."""
        folded = skeleton(text) if folded is None else folded
        if self._word_matcher is not None:
            found = self._word_matcher.search(folded)
            if found is not None:
                rule = self._words.get(found.group(1)) or next(iter(self._words.values()))
                return RuleHit(self.scope, RuleKind.WORD, rule.value, rule.rule_id)
        for rule, compiled in self._patterns:
            if compiled.search(text) is not None or compiled.search(folded) is not None:
                return RuleHit(self.scope, RuleKind.PATTERN, rule.value, rule.rule_id)
        return None


def first_hit(prompt: str, rule_sets: Iterable[RuleSet]) -> RuleHit | None:
    """The first rule that refuses ``prompt``, global rules first, or None."""
    text = normalize(prompt)
    folded = skeleton(text)
    for rule_set in rule_sets:
        hit = rule_set.match_normalized(text, folded)
        if hit is not None:
            return hit
    return None
